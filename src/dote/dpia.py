"""DPIA (AIPD) screening from the facts a register states.

A pure function of an :class:`~dote.model.Activity`, its :class:`~dote.model.Member` (type
and staff) and the Maison's :class:`DpiaPolicy` (``registers/label.yml``). The law it applies
is data, in the vocabularies: the EDPB's nine criteria (``criteres-aipd``), the CNIL list of
processing that always requires a DPIA (``liste-cnil-aipd``, délibération n° 2018-327) and
the list of exempt processing (``exemptions-aipd``, délibération n° 2019-118). Each criterion
and each CNIL type says, in its ``faits`` attribute, which facts meet it: a list of
conditions, any of which suffices; a condition holds when all its facts do. Each exemption
says which purposes it covers and under which conditions.

The facts are what the register states: data categories, persons, sources, purposes'
nature, means (cameras, geolocation, biometrics…), monitoring, scale, profiling, automated
decisions, exclusion, combined datasets, innovative use. Declarations (``aipd.criteres``,
``aipd.liste_cnil``, ``aipd.exemption``) may add; a derived criterion or type is removed only
by a written justification (``aipd.criteres_ecartes``, ``aipd.liste_cnil_ecartes``), which
the site publishes next to the verdict.

The rules, in order:

1. a CNIL-list type (derived or declared) → required;
2. an exemption whose conditions hold (derived from the purposes, or declared) → exempt,
   and the verdict says so without listing criteria;
3. two EDPB criteria or more → required; exactly one → the policy's choice (WP248's
   reading by default: to be assessed); none → not required.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dote.model import Activity, Member, SetAside
from dote.vocabulary import Term, Vocabularies, load_vocabularies

Verdict = Literal["requis", "recommande", "non-requis", "exempte"]

VERDICT_LABELS: dict[str, str] = {
    "requis": "AIPD requise",
    "recommande": "AIPD à évaluer",
    "non-requis": "AIPD non requise",
    "exempte": "AIPD dispensée",
}

_NATURES = {
    "sensible": "données sensibles (art. 9) : ",
    "penale": "données d'infraction (art. 10) : ",
    "nir": "",
}

#: Where each list fact comes from: the register's field, and the vocabulary of its values.
_LIST_FACTS: dict[str, tuple[str, str]] = {
    "moyens": ("moyens", "moyens-traitement"),
    "surveillance": ("surveillance", "lieux-surveillance"),
    "categories": ("categories_donnees", "categories-donnees"),
    "natures": ("categories_donnees", ""),
    "personnes": ("personnes_concernees", "personnes-concernees"),
    "sources": ("sources", "sources-donnees"),
    "types_finalites": ("finalites.types", "types-finalites"),
}
_BOOL_FACTS = (
    "profilage",
    "decision_automatisee",
    "croisement_donnees",
    "exclusion",
    "usage_innovant",
    "personnes_vulnerables",
    "grande_echelle",
)


@dataclass(frozen=True, slots=True)
class DpiaPolicy:
    """The Maison's reading where the law leaves a choice (``aipd`` in ``registers/label.yml``).

    ``one_criterion``: what one EDPB criterion leads to. WP248 (rév. 01, III.B.a): a
    processing meeting two criteria requires a DPIA in most cases; with one, it may — so
    « recommande » (to be assessed) by default, « requis » for a stricter Maison.
    ``large_scale_*``: the thresholds from which the scale counts as large (WP243 rév. 01,
    point 2.1.3, gives factors, not numbers); ``None`` disables a threshold.
    """

    one_criterion: Literal["recommande", "requis"] = "recommande"
    large_scale_persons: int | None = 10_000
    large_scale_records: int | None = 100_000
    large_scale_share: float | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | None) -> DpiaPolicy:
        """The policy of a valid ``aipd`` block of ``registers/label.yml``; defaults filled in."""
        data = data or {}
        scale = data.get("grande_echelle") or {}
        default = cls()
        return cls(
            "requis" if data.get("un_critere") == "requise" else "recommande",
            scale.get("personnes", default.large_scale_persons),
            scale.get("enregistrements_par_an", default.large_scale_records),
            scale.get("part_population", default.large_scale_share),
        )


DEFAULT_POLICY = DpiaPolicy()

#: The fact a declared EDPB criterion stands for, when the Regulation's own cases are checked.
_DECLARED_FLAGS = {
    "grande-echelle": "grande_echelle",
    "evaluation-notation": "profilage",
    "decision-automatisee": "decision_automatisee",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One EDPB criterion or CNIL type the activity meets, or that the register set aside."""

    criterion: Term
    declared: bool
    derived_from: str = ""  # French: the facts it follows from ("" if only declared)
    set_aside: str = ""  # the register's written justification, when it removes a derived one

    @property
    def met(self) -> bool:
        return not self.set_aside

    @property
    def origin(self) -> str:
        """« déclaré », « déduit », or both: how the screening knows it."""
        if self.declared and self.derived_from:
            return "declare-et-deduit"
        return "declare" if self.declared else "deduit"


@dataclass(frozen=True, slots=True)
class Screening:
    """The result of screening one activity, with its reasons in French."""

    verdict: Verdict
    reasons: tuple[str, ...]
    findings: tuple[Finding, ...] = ()  # EDPB criteria, met or set aside
    cnil: tuple[Finding, ...] = ()  # CNIL 2018-327 types, met or set aside
    exemption: Term | None = None  # the exemption that applies, if any
    exemption_derived: bool = False
    set_aside: tuple[Finding, ...] = field(default=())  # what the register removed, with why

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self.verdict]

    @property
    def required(self) -> bool:
        return self.verdict == "requis"

    @property
    def criteria(self) -> tuple[Term, ...]:
        return tuple(f.criterion for f in self.findings if f.met)

    @property
    def cnil_types(self) -> tuple[Term, ...]:
        return tuple(f.criterion for f in self.cnil if f.met)


# --- the facts ------------------------------------------------------------------------


def _vulnerable(activity: Activity) -> list[Term]:
    """The persons vulnerable towards the controller (WP248, criterion 7).

    ``vulnerable: true``: always (children, patients, aid applicants…); ``vulnerable:
    employeur``: staff, towards their employer — the controller, also when the member is its
    processor (the DPIA is the controller's, Art. 35(1)). A client's staff processed on the
    member's own account is « personnel-clients », not vulnerable towards it.
    """
    return [s for s in activity.subjects if s.attr("vulnerable") in (True, "employeur")]


def _large_scale(activity: Activity, policy: DpiaPolicy) -> str:
    """Why the scale is large under the policy's thresholds (French), or ``""``."""
    from dote.fragments import number_fr

    why = []
    if policy.large_scale_persons is not None and (activity.volume or 0) >= policy.large_scale_persons:
        why.append(
            f"{number_fr(activity.volume or 0)} personnes (seuil de la Maison : "
            f"{number_fr(policy.large_scale_persons)})"
        )
    records = activity.records_per_year
    if policy.large_scale_records is not None and (records or 0) >= policy.large_scale_records:
        why.append(
            f"{number_fr(records or 0)} enregistrements par an (seuil de la Maison : "
            f"{number_fr(policy.large_scale_records)})"
        )
    share = activity.population_share
    if policy.large_scale_share is not None and share is not None and share >= policy.large_scale_share:
        why.append(f"{share:g} % de la population (seuil de la Maison : {policy.large_scale_share:g} %)")
    return " ; ".join(why)


_Condition = tuple[tuple[str, tuple[str, ...], frozenset[str] | None], ...]
#: Each term's ``faits``, compiled once: (fact, wanted codes in order, as a set — None for a flag).
_COMPILED: dict[tuple[str, str], tuple[object, tuple[_Condition, ...]]] = {}
_NOTHING: frozenset[str] = frozenset()


_COMPILED_VOCABULARIES: dict[int, tuple[object, tuple[tuple[Term, tuple[_Condition, ...]], ...]]] = {}


def _compiled(vocabulary: Iterable[Term]) -> tuple[tuple[Term, tuple[_Condition, ...]], ...]:
    """A vocabulary's terms with their compiled conditions (cached while the vocabulary lives)."""
    cached = _COMPILED_VOCABULARIES.get(id(vocabulary))
    if cached is None or cached[0] is not vocabulary:
        cached = (vocabulary, tuple((t, _conditions(t)) for t in vocabulary))
        _COMPILED_VOCABULARIES[id(vocabulary)] = cached
    return cached[1]


def _conditions(term: Term) -> tuple[_Condition, ...]:
    raw = term.attr("faits")
    key = (term.vocabulary, term.code)
    cached = _COMPILED.get(key)
    if cached is None or cached[0] is not raw:
        compiled = tuple(
            tuple(
                (fact, (), None) if wanted is True else (fact, tuple(wanted), frozenset(wanted))
                for fact, wanted in condition.items()
            )
            for condition in raw or ()
        )
        cached = _COMPILED[key] = (raw, compiled)
    return cached[1]


@dataclass(frozen=True, slots=True)
class Facts:
    """What the register states that the screening reads: sets of codes, and true flags."""

    activity: Activity
    lists: Mapping[str, frozenset[str]]
    flags: Mapping[str, str]  # fact → French: the field and what it says

    def _names(self, fact: str, codes: Sequence[str]) -> str:
        a = self.activity
        if fact == "natures":
            return ", ".join(
                _NATURES[n] + ", ".join(c.kind.label for c in a.categories if c.nature == n) for n in codes
            )
        terms: Sequence[Term] = {
            "moyens": a.means,
            "surveillance": a.monitoring,
            "categories": tuple(c.kind for c in a.categories),
            "personnes": a.subjects,
            "sources": a.sources,
            "types_finalites": a.purpose_kinds,
        }[fact]
        labels = {t.code: t.label for t in terms}
        return ", ".join(labels.get(code, code) for code in codes)

    def _explain(self, condition: _Condition) -> str:
        parts = []
        for fact, wanted, _ in condition:
            if not wanted:
                parts.append(self.flags[fact])
                continue
            present = self.lists.get(fact, _NOTHING)
            hit = [code for code in wanted if code in present]
            parts.append(f"« {_LIST_FACTS[fact][0]} » : {self._names(fact, hit)}")
        return " et ".join(parts)

    def _met(self, condition: _Condition) -> bool:
        for fact, _, wanted in condition:
            if wanted is None:
                if fact not in self.flags:
                    return False
            elif wanted.isdisjoint(self.lists.get(fact, _NOTHING)):
                return False
        return True

    def derive(self, term: Term, conditions: tuple[_Condition, ...] | None = None) -> str:
        """The facts that meet a criterion or a CNIL type (its ``faits``), or ``""``."""
        for condition in _conditions(term) if conditions is None else conditions:
            if self._met(condition):
                return self._explain(condition)
        return ""


def facts(activity: Activity, policy: DpiaPolicy = DEFAULT_POLICY) -> Facts:
    """The facts of an activity, as the vocabularies' conditions read them."""
    lists: dict[str, frozenset[str]] = {
        "moyens": frozenset(t.code for t in activity.means),
        "surveillance": frozenset(t.code for t in activity.monitoring),
        "categories": frozenset(c.kind.code for c in activity.categories),
        "natures": frozenset(c.nature for c in activity.categories),
        "personnes": frozenset(t.code for t in activity.subjects),
        "sources": frozenset(t.code for t in activity.sources),
        "types_finalites": frozenset(t.code for t in activity.purpose_kinds),
    }
    flags: dict[str, str] = {}
    if activity.profiling:
        flags["profilage"] = "« profilage » : oui"
    if activity.automated_decision:
        flags["decision_automatisee"] = "« decision_automatisee » : oui"
    if activity.combined_data:
        flags["croisement_donnees"] = "« croisement_donnees » : oui"
    if activity.exclusion:
        flags["exclusion"] = "« exclusion » : oui"
    if activity.innovative:
        flags["usage_innovant"] = "« usage_innovant » : oui"
    vulnerable = _vulnerable(activity)
    if vulnerable:
        names = ", ".join(
            s.label + (" (face à leur employeur)" if s.attr("vulnerable") == "employeur" else "")
            for s in vulnerable
        )
        flags["personnes_vulnerables"] = f"« personnes_concernees » : {names}"
    if scale := _large_scale(activity, policy):
        flags["grande_echelle"] = f"« volume » : {scale}"
    return Facts(activity, lists, flags)


# --- criteria, CNIL types, exemptions -------------------------------------------------------


def _found(
    vocabulary: Sequence[Term] | Any,
    declared: Sequence[Term],
    aside: Sequence[SetAside],
    known: Facts,
) -> tuple[Finding, ...]:
    """Each term of a vocabulary met by the facts or declared, in the vocabulary's order."""
    declared_codes = {t.code for t in declared}
    removed = {s.term.code: s.justification for s in aside}
    found = []
    for term, conditions in _compiled(vocabulary):
        derived = known.derive(term, conditions)
        is_declared = term.code in declared_codes
        if not (derived or is_declared):
            continue
        # A declaration adds and is never removed; a derivation is removed only with a reason.
        reason = removed.get(term.code, "") if derived and not is_declared else ""
        found.append(Finding(term, is_declared, derived, reason))
    return tuple(found)


def findings(
    activity: Activity, vocabularies: Vocabularies | None = None, policy: DpiaPolicy = DEFAULT_POLICY
) -> tuple[Finding, ...]:
    """The EDPB criteria the activity meets (or that it sets aside), in the vocabulary's order."""
    vocabularies = vocabularies or load_vocabularies()
    dpia = activity.dpia
    return _found(
        vocabularies["criteres-aipd"],
        dpia.criteria if dpia else (),
        dpia.criteria_set_aside if dpia else (),
        facts(activity, policy),
    )


def _exemption_obstacles(exemption: Term, activity: Activity, member: Member | None) -> list[str]:
    """Why an exemption does not apply to the activity (empty when it does), in French."""
    obstacles = []
    if activity.role.code == "sous-traitant" and (
        exemption.attr("effectif_maximum") is not None or exemption.attr("types_membres")
    ):
        # Its conditions are the controller's (its staff, its kind), not the processor's.
        obstacles.append(
            "ses conditions portent sur le responsable du traitement, que le membre sert comme "
            "sous-traitant : c'est à ce responsable de l'établir"
        )
        return obstacles
    covered = set(exemption.attr("types_finalites") or ())
    outside = [t.label for t in activity.purpose_kinds if t.code not in covered]
    if outside:
        obstacles.append("le traitement a aussi pour finalité : " + ", ".join(outside))
    kinds = exemption.attr("types_membres")
    if kinds and member is not None and member.kind.code not in kinds:
        obstacles.append(f"elle ne vaut pas pour un membre de type « {member.kind.label} »")
    maximum = exemption.attr("effectif_maximum")
    if maximum is not None:
        staff = member.staff if member else None
        if staff is None:
            obstacles.append(f"l'effectif du membre n'est pas renseigné (au plus {maximum} exigé)")
        elif staff > int(maximum):
            obstacles.append(f"l'effectif du membre ({staff}) dépasse {maximum}")
    if exemption.attr("sans_profilage") and activity.profiling:
        obstacles.append("le traitement comporte un profilage")
    if exemption.attr("sans_donnees_sensibles"):
        sensitive = [c.kind.label for c in activity.categories if c.nature in ("sensible", "penale")]
        if sensitive:
            obstacles.append("le traitement porte sur des données sensibles : " + ", ".join(sensitive))
    excluded = set(exemption.attr("categories_exclues") or ())
    for category in activity.categories:
        if category.kind.code in excluded:
            obstacles.append(f"le traitement porte sur la catégorie « {category.kind.label} »")
    excluded_means = set(exemption.attr("moyens_exclus") or ())
    for means in activity.means:
        if means.code in excluded_means:
            obstacles.append(f"le traitement emploie : {means.label}")
    return obstacles


def _derived_exemption(activity: Activity, vocabularies: Vocabularies) -> Term | None:
    """The exemption whose purposes cover all of the activity's (its conditions not yet checked)."""
    kinds = {t.code for t in activity.purpose_kinds}
    if not kinds:
        return None
    for exemption in vocabularies["exemptions-aipd"]:
        if kinds <= set(exemption.attr("types_finalites") or ()):
            return exemption
    return None


def exemption_reference(exemption: Term, vocabularies: Vocabularies | None = None) -> str:
    """« délibération n° 2019-118, type n° 3 »: where an exemption is in the CNIL's list."""
    vocabularies = vocabularies or load_vocabularies()
    reference = vocabularies["exemptions-aipd"].reference.removeprefix("CNIL, ")
    reference = reference.split(" du ")[0]
    return f"{reference}, type n° {exemption.attr('numero')}"


def _origin(f: Finding) -> str:
    if f.declared and f.derived_from:
        return f"déclaré, et déduit des faits — {f.derived_from}"
    if f.declared:
        return "déclaré par le registre"
    return f"déduit des faits — {f.derived_from}"


def _listed(found: Sequence[Finding], numbered: bool = False) -> str:
    parts = []
    for f in found:
        number = f"n° {f.criterion.attr('numero')} " if numbered else ""
        parts.append(f"{number}« {f.criterion.label} » ({_origin(f)})")
    return " ; ".join(parts)


def _set_aside_sentences(found: Sequence[Finding], what: str) -> list[str]:
    return [
        f"{what} « {f.criterion.label} », déduit des faits ({f.derived_from}), est écarté par le "
        "registre, avec une justification écrite publiée à côté du verdict."
        for f in found
        if f.set_aside
    ]


def _pointless_set_asides(
    activity: Activity, criteria: Sequence[Finding], cnil: Sequence[Finding]
) -> list[str]:
    """Set-asides that remove nothing: the criterion is not derived, or is declared."""
    if not activity.dpia:
        return []
    derived = {f.criterion.code for f in (*criteria, *cnil) if f.derived_from and not f.declared}
    return [
        f"« {s.term.label} » est écarté par le registre, mais ce n'est pas un critère déduit des "
        "faits (ou il est aussi déclaré) : l'écart est sans effet."
        for s in (*activity.dpia.criteria_set_aside, *activity.dpia.cnil_types_set_aside)
        if s.term.code not in derived
    ]


def screen(
    activity: Activity,
    member: Member | None = None,
    vocabularies: Vocabularies | None = None,
    policy: DpiaPolicy = DEFAULT_POLICY,
) -> Screening:
    """Screen one activity: CNIL lists, then the EDPB criteria, from its facts."""
    vocabularies = vocabularies or load_vocabularies()
    known = facts(activity, policy)
    dpia = activity.dpia
    criteria = _found(
        vocabularies["criteres-aipd"],
        dpia.criteria if dpia else (),
        dpia.criteria_set_aside if dpia else (),
        known,
    )
    cnil = _found(
        vocabularies["liste-cnil-aipd"],
        dpia.cnil_types if dpia else (),
        dpia.cnil_types_set_aside if dpia else (),
        known,
    )
    met = [f for f in criteria if f.met]
    listed = [f for f in cnil if f.met]
    set_aside = tuple(f for f in (*cnil, *criteria) if f.set_aside)
    notes = [
        *_set_aside_sentences(cnil, "Le type de la liste de la CNIL"),
        *_set_aside_sentences(criteria, "Le critère du CEPD"),
        *_pointless_set_asides(activity, criteria, cnil),
    ]

    if activity.role.code == "sous-traitant":
        notes.append(
            "Le membre agit comme sous-traitant : l'AIPD incombe au responsable du traitement "
            "(RGPD, art. 35(1)), que le sous-traitant aide (art. 28(3)(f)) ; le dépistage se fait "
            "de son point de vue."
        )

    def result(
        verdict: Verdict, reasons: list[str], exemption: Term | None = None, derived: bool = False
    ) -> Screening:
        return Screening(verdict, tuple(reasons + notes), criteria, cnil, exemption, derived, set_aside)

    count = len(met)
    plural = "s" if count > 1 else ""
    criteria_sentence = f"{count} critère{plural} du CEPD rempli{plural} : {_listed(met)}." if met else ""
    if listed:
        reference = vocabularies["liste-cnil-aipd"].reference
        reasons = [
            f"Le traitement relève de la liste des traitements pour lesquels une AIPD est toujours "
            f"requise ({reference}) : type{'s' if len(listed) > 1 else ''} {_listed(listed, True)}."
        ]
        return result("requis", reasons + ([criteria_sentence] if criteria_sentence else []))

    # The Regulation's own cases (art. 35(3)): they imply two criteria, and no exemption
    # list (art. 35(5)) can set them aside.
    # A criterion the register declares stands for its fact here (a declared « grande
    # échelle » with Art. 9 data is Art. 35(3)(b)).
    flags = dict(known.flags)
    for f in met:
        if f.declared and f.criterion.code in _DECLARED_FLAGS:
            flag = _DECLARED_FLAGS[f.criterion.code]
            flags.setdefault(flag, f"critère « {f.criterion.label} » déclaré")
    regulation = Facts(activity, known.lists, flags)
    article = [
        f"art. 35(3)({t.attr('lettre')}) du RGPD : {t.label[0].lower()}{t.label[1:]} ({why})"
        for t, conditions in _compiled(vocabularies["cas-article-35-3"])
        if (why := regulation.derive(t, conditions))
    ]
    declared_exemption = dpia.exemption if dpia else None
    derived_exemption = _derived_exemption(activity, vocabularies)
    exemption = declared_exemption or derived_exemption
    reasons = []
    if exemption is not None:
        obstacles = _exemption_obstacles(exemption, activity, member)
        obstacles += [f"le règlement exige lui-même une AIPD, {case}" for case in article]
        if declared_exemption is not None and not activity.purpose_kinds:
            obstacles = [o for o in obstacles if not o.startswith("le traitement a aussi")]
        if not obstacles:
            how = "déclarée par le registre" if declared_exemption else "déduite de la nature de la finalité"
            reasons.append(
                f"Le traitement relève de la liste des traitements dispensés d'AIPD "
                f"({exemption_reference(exemption, vocabularies)}) : « {exemption.label} » ({how}). "
                "La dispense prévaut sur les critères du CEPD."
            )
            return result("exempte", reasons, exemption, declared_exemption is None)
        reasons.append(
            f"La dispense « {exemption.label} » ({exemption_reference(exemption, vocabularies)}) ne "
            "s'applique pas : " + " ; ".join(obstacles) + "."
        )
    if criteria_sentence:
        reasons.insert(0, criteria_sentence)
    if article and exemption is None:
        reasons.append("Le règlement exige lui-même une AIPD : " + " ; ".join(article) + ".")

    if count >= 2:
        reasons.append(
            "Deux critères du CEPD ou plus sont remplis : une AIPD est requise "
            "(RGPD, art. 35(1) ; lignes directrices WP248 rév. 01)."
        )
        return result("requis", reasons)
    if count == 1 and policy.one_criterion == "requis":
        reasons.append(
            "Un critère du CEPD est rempli et la politique de la Maison requiert alors une AIPD "
            "(registers/label.yml, « aipd : un_critere »)."
        )
        return result("requis", reasons)
    if count == 1:
        reasons.append(
            "Un seul critère du CEPD est rempli : l'AIPD n'est pas obligatoire dans la plupart des "
            "cas, mais le responsable doit évaluer si le risque reste élevé et justifier son choix "
            "(lignes directrices WP248 rév. 01)."
        )
        return result("recommande", reasons)
    reasons.append(
        "Aucun critère du CEPD n'est rempli et le traitement ne figure pas sur la liste de la CNIL : "
        "une AIPD n'est pas requise."
    )
    return result("non-requis", reasons)


# --- one public statement -------------------------------------------------------------------


def statement(screening: Screening, activity: Activity, vocabularies: Vocabularies | None = None) -> str:
    """The screening and the declared status, reconciled into one public sentence.

    « AIPD requise — réalisée le 12 mars 2024 », « AIPD requise — non réalisée », « AIPD non
    requise », « AIPD dispensée (délibération n° 2019-118, type n° 3) ».
    """
    from dote.fragments import date_fr

    if screening.verdict == "exempte" and screening.exemption is not None:
        return f"AIPD dispensée ({exemption_reference(screening.exemption, vocabularies)})"
    d = activity.dpia
    status = d.status.code if d and d.status else ""
    date: dt.date | None = d.date if d else None
    if status == "realisee":
        state = f"réalisée le {date_fr(date)}" if date else "réalisée"
    elif status == "en-cours":
        state = "en cours"
    elif status == "prevue":
        state = f"prévue le {date_fr(date)}" if date else "prévue"
    elif activity.role.code == "sous-traitant":
        state = "à la charge du responsable du traitement"
    elif status == "non-requise" and screening.verdict == "recommande":
        state = "jugée non nécessaire par le membre"
    else:
        state = "non réalisée"
    if screening.verdict == "non-requis":
        return "AIPD non requise" + (f" — {state}" if status == "realisee" else "")
    return f"{screening.label} — {state}"


# --- as data --------------------------------------------------------------------------------


def _finding_data(f: Finding) -> dict[str, Any]:
    found: dict[str, Any] = {
        "code": f.criterion.code,
        "numero": f.criterion.attr("numero"),
        "libelle": f.criterion.label,
        "origine": f.origin,
        "declare": f.declared,
        "deduit_de": f.derived_from,
    }
    if f.set_aside:
        found["ecarte"] = f.set_aside
    return found


def as_data(
    screening: Screening, activity: Activity, vocabularies: Vocabularies | None = None
) -> dict[str, Any]:
    """One activity's screening as JSON-ready data (``dote aipd``, ``dote label``, open data)."""
    exemption = screening.exemption
    return {
        "verdict": screening.verdict,
        "libelle": screening.label,
        "enonce": statement(screening, activity, vocabularies),
        "etat_declare": activity.dpia.status.code if activity.dpia and activity.dpia.status else None,
        "criteres_cepd": [_finding_data(f) for f in screening.findings],
        "types_liste_cnil": [_finding_data(f) for f in screening.cnil],
        "dispense": {
            "code": exemption.code,
            "numero": exemption.attr("numero"),
            "libelle": exemption.label,
            "reference": exemption_reference(exemption, vocabularies),
            "origine": "deduit" if screening.exemption_derived else "declare",
        }
        if exemption is not None
        else None,
        "raisons": list(screening.reasons),
    }


# --- the rules, in words (the editors' guide) -----------------------------------------------

_FLAG_WORDS = {
    "profilage": "profilage",
    "decision_automatisee": "décision entièrement automatisée",
    "croisement_donnees": "croisement de données",
    "exclusion": "exclusion d'un droit, d'un service ou d'un contrat",
    "usage_innovant": "usage innovant",
    "personnes_vulnerables": "personnes vulnérables face au responsable",
    "grande_echelle": "grande échelle (seuils de la Maison)",
}
_NATURE_WORDS = {"sensible": "données sensibles (art. 9)", "penale": "infractions (art. 10)", "nir": "NIR"}


def describe_condition(condition: Mapping[str, Any], vocabularies: Vocabularies | None = None) -> str:
    """One condition of a vocabulary's ``faits``, in French: « moyens : Caméras ou Drones, et profilage »."""
    vocabularies = vocabularies or load_vocabularies()
    parts = []
    for fact, wanted in condition.items():
        if wanted is True:
            parts.append(_FLAG_WORDS.get(fact, fact))
            continue
        source, vocabulary = _LIST_FACTS[fact]
        if vocabulary:
            terms = vocabularies[vocabulary].terms
            names = [terms[c].label if c in terms else c for c in wanted]
        else:
            names = [_NATURE_WORDS.get(c, c) for c in wanted]
        parts.append(f"« {source} » : " + " ou ".join(names))
    return ", et ".join(parts)


def describe_exemption(exemption: Term, vocabularies: Vocabularies | None = None) -> str:
    """An exemption's purposes and conditions, in French."""
    vocabularies = vocabularies or load_vocabularies()
    kinds = vocabularies["types-finalites"].terms
    members = vocabularies["types-membres"].terms
    parts = [
        "« finalites.types » : uniquement "
        + " ou ".join(kinds[c].label if c in kinds else c for c in exemption.attr("types_finalites") or ())
    ]
    if exemption.attr("types_membres"):
        parts.append("membre : " + " ou ".join(members[c].label for c in exemption.attr("types_membres")))
    if exemption.attr("effectif_maximum") is not None:
        parts.append(f"effectif du membre d'au plus {exemption.attr('effectif_maximum')}")
    if exemption.attr("sans_profilage"):
        parts.append("sans profilage")
    if exemption.attr("sans_donnees_sensibles"):
        parts.append("sans données sensibles ni d'infraction")
    categories = vocabularies["categories-donnees"].terms
    for code in exemption.attr("categories_exclues") or ():
        parts.append(f"sans la catégorie « {categories[code].label} »")
    means = vocabularies["moyens-traitement"].terms
    for code in exemption.attr("moyens_exclus") or ():
        parts.append(f"sans « {means[code].label} »")
    return " ; ".join(parts)


def rules_markdown(vocabularies: Vocabularies | None = None, policy: DpiaPolicy = DEFAULT_POLICY) -> str:
    """The screening's rules as Markdown tables, for the editors' guide (``{{ regles_aipd() }}``)."""
    from dote.fragments import number_fr
    from dote.safe import markdown_text as md

    vocabularies = vocabularies or load_vocabularies()

    def facts_of(term: Term) -> str:
        conditions = term.attr("faits") or ()
        return " ; ou ".join(md(describe_condition(c, vocabularies)) for c in conditions) or "—"

    lines = [
        f"**Critères du CEPD** ({md(vocabularies['criteres-aipd'].reference)}) :",
        "",
        "| N° | Critère | Déduit des faits |",
        "|---|---|---|",
    ]
    lines += [
        f"| {t.attr('numero')} | {md(t.label)} (`{t.code}`) | {facts_of(t)} |"
        for t in vocabularies["criteres-aipd"]
    ]
    lines += [
        "",
        f"**Traitements pour lesquels une AIPD est toujours requise** ({md(vocabularies['liste-cnil-aipd'].reference)}) :",
        "",
        "| N° | Type | Déduit des faits |",
        "|---|---|---|",
    ]
    lines += [
        f"| {t.attr('numero')} | {md(t.label)} (`{t.code}`) | {facts_of(t)} |"
        for t in vocabularies["liste-cnil-aipd"]
    ]
    lines += [
        "",
        "**Cas où le règlement exige lui-même une AIPD** (RGPD, art. 35(3)) : aucune dispense ne les écarte.",
        "",
        "| Cas | Déduit des faits |",
        "|---|---|",
    ]
    lines += [
        f"| art. 35(3)({t.attr('lettre')}) : {md(t.label)} | {facts_of(t)} |"
        for t in vocabularies["cas-article-35-3"]
    ]
    lines += [
        "",
        f"**Traitements dispensés d'AIPD** ({md(vocabularies['exemptions-aipd'].reference)}) :",
        "",
        "| N° | Type | Conditions |",
        "|---|---|---|",
    ]
    lines += [
        f"| {t.attr('numero')} | {md(t.label)} (`{t.code}`) | {md(describe_exemption(t, vocabularies))} |"
        for t in vocabularies["exemptions-aipd"]
    ]
    one = "requise" if policy.one_criterion == "requis" else "à évaluer"
    thresholds = [
        f"{number_fr(policy.large_scale_persons)} personnes"
        if policy.large_scale_persons is not None
        else "",
        f"{number_fr(policy.large_scale_records)} enregistrements par an"
        if policy.large_scale_records is not None
        else "",
        f"{policy.large_scale_share:g} % de la population" if policy.large_scale_share is not None else "",
    ]
    lines += [
        "",
        f"**Politique de ce territoire** (registers/label.yml, bloc `aipd`) : un seul critère du CEPD rend "
        f"l'AIPD {one} ; la grande échelle commence à "
        # Formatted, not added: « str + Markup » would escape the str (Markup.__radd__).
        f"{md(' ou '.join(t for t in thresholds if t) or 'aucun seuil fixé')}.",
    ]
    return "\n".join(lines)
