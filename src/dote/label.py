"""The DOTE label: a member's level, computed from its register by published criteria.

The Maison's policy (``registers/label.yml``) lists criteria and levels; this module
holds the *rules* those criteria name. Each rule is implemented once, as a function
registered under its French name with the scope it applies to and the parameters it
accepts. :func:`check_policy` turns a bad policy into problems at validation time;
:func:`evaluate` computes, for a reference date given by the caller, every activity's
and every member's unmet criteria and the member's level.

Levels are cumulative: a level requires its own criteria and those of every level
before it. A member-scoped criterion is checked once on the member; an activity-scoped
one on each activity, and the member meets it when all its activities do.
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import functools
import marshal
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dote import notices
from dote.audit import ActionPlan
from dote.dpia import Finding, Screening, screen
from dote.load import Document
from dote.model import Activity, Member, Territory, activity_ids
from dote.problems import Position, Problem
from dote.vocabulary import Term, Vocabularies, load_vocabularies

Scope = Literal["activite", "membre"]
ParamKind = Literal["mois", "entier", "booleen", "codes"]

SCOPE_LABELS = {"activite": "chaque activité", "membre": "le membre"}
_TO = {"activite": "à chaque activité", "membre": "au membre"}
SEVERITY_LABELS = {"elevee": "élevée", "moyenne": "moyenne", "faible": "faible"}
DEFAULT_COLOURS = ("#8a4b08", "#1b5e20", "#0d47a1", "#4a148c", "#263238")
NO_LEVEL = "Non labellisé"


# --- rules ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter a rule accepts: its kind, default, and (for codes) its vocabulary."""

    kind: ParamKind
    default: Any
    description: str
    vocabulary: str = ""


#: The first and the last day a window can hold (see :class:`DateWindow`), as ordinals.
FIRST_DAY = dt.date.min.toordinal()
AFTER_LAST_DAY = dt.date.max.toordinal() + 1


@dataclass(slots=True)
class DateWindow:
    """The days on which a result made on ``today`` stays the same: from ``start`` to before
    ``end`` (ordinals). Every comparison of a date with the reference date goes through
    :meth:`past` or :meth:`after` (a label rule's through :meth:`Subject.past`), which narrow
    the window; a result that uses the date otherwise calls :meth:`this_day_only`. A member's
    label (and what shows it), checks and records to review can then be kept for the days of
    their windows instead of being made again every day (see dote.pipeline, dote.validate's
    check_members, dote.review.compute)."""

    today: dt.date
    start: int = FIRST_DAY
    end: int = AFTER_LAST_DAY

    def past(self, due: dt.date) -> bool:
        """Whether ``due`` is before the reference date; the answer changes between ``due``
        and the day after, so the window ends or starts there."""
        before = due < self.today
        if before:
            self.start = max(self.start, due.toordinal() + 1)
        else:
            self.end = min(self.end, due.toordinal() + 1)
        return before

    def after(self, day: dt.date) -> bool:
        """Whether ``day`` is after the reference date; the answer changes on ``day``."""
        later = day > self.today
        if later:
            self.end = min(self.end, day.toordinal())
        else:
            self.start = max(self.start, day.toordinal())
        return later

    def this_day_only(self) -> None:
        """The result depends on the reference date itself: it holds that day only."""
        self.start = max(self.start, self.today.toordinal())
        self.end = min(self.end, self.today.toordinal() + 1)

    def kept(self, value: Any) -> tuple[int, int, Any]:
        """``value`` as kept between builds, with the days it holds (see :func:`held`)."""
        return (self.start, self.end, value)


def held(kept: Any, day: dt.date) -> tuple[int, int, Any] | None:
    """What :meth:`DateWindow.kept` gave, when ``day`` is one of its days (else None)."""
    if isinstance(kept, tuple) and len(kept) == 3 and kept[0] <= day.toordinal() < kept[1]:
        return kept
    return None


@dataclass(frozen=True, slots=True)
class Subject:
    """What a rule looks at: a member, one of its activities (or none), and context.

    A rule compares a date with the reference date only through :meth:`past` (or says it
    uses the date otherwise with :meth:`this_day_only`), never by reading ``today`` itself:
    the ``window`` of the member's result must know every day its answer would change."""

    member: Member
    activity: Activity | None
    territory: Territory
    screening: Screening | None
    today: dt.date
    #: The members' action plans (confidential overlay), or None when it was not read.
    plans: Mapping[str, ActionPlan] | None = None
    #: The days the member's result holds, narrowed by each rule (see DateWindow).
    window: DateWindow | None = None

    @property
    def the_activity(self) -> Activity:
        assert self.activity is not None, "activity rule applied to a member"
        return self.activity

    def past(self, due: dt.date) -> bool:
        """Whether ``due`` is before the reference date (recorded in the window)."""
        if self.window is not None:
            return self.window.past(due)
        return due < self.today

    def this_day_only(self) -> None:
        """The rule's answer depends on the reference date itself: valid that day only."""
        if self.window is not None:
            self.window.this_day_only()


Check = Callable[[Subject, Mapping[str, Any]], list[str]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A check the engine knows by name; returns French details of each failure."""

    name: str
    scope: Scope
    description: str
    check: Check
    parameters: Mapping[str, Param] = field(default_factory=dict)
    #: A rule that reads the confidential overlay: without it (the public site), it is not
    #: evaluated, neither failed nor met (see MemberResult.unevaluated).
    needs_overlay: bool = False


def _rules(*rules: Rule) -> Mapping[str, Rule]:
    return {r.name: r for r in rules}


@functools.lru_cache(maxsize=1 << 14)  # the same review dates recur across a territory
def months_later(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` months later (clamped to the month's last day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _too_old(last: dt.date | None, months: int, s: Subject, what: str) -> list[str]:
    # Imported here: dote.render imports this module. The reasons are read by citizens on
    # the site, so their dates are written in French words (« 12 avril 2023 »).
    from dote.fragments import date_fr

    if last is None:
        return [f"{what} : aucune date indiquée"]
    if s.past(months_later(last, months)):
        return [f"{what} le {date_fr(last)}, il y a plus de {months} mois"]
    return []


def _register_kept(s: Subject, p: Mapping[str, Any]) -> list[str]:
    wanted = int(p["activites_minimum"])
    count = len(s.member.activities)
    return [] if count >= wanted else [f"{count} activité(s) décrite(s), au moins {wanted} attendue(s)"]


def _dpo_designated(s: Subject, p: Mapping[str, Any]) -> list[str]:
    return [] if s.member.dpo is not None else ["aucun délégué à la protection des données désigné"]


def _training(s: Subject, p: Mapping[str, Any]) -> list[str]:
    """The latest training: declared in the member's file, or attended (the Maison's calendar)."""
    dates = [d for d in (s.member.training_last, s.member.training_attended) if d is not None]
    return _too_old(max(dates) if dates else None, int(p["age_maximum_mois"]), s, "dernière formation")


def _article_30_fields(s: Subject, p: Mapping[str, Any]) -> list[str]:
    a = s.the_activity
    missing = [
        name
        for name, present in (
            ("finalité principale", bool(a.purpose)),
            ("personnes concernées", bool(a.subjects)),
            ("catégories de données", bool(a.categories)),
            ("destinataires", bool(a.recipients)),
            ("transferts hors UE (ou « aucun »)", a.transfers is not None),
        )
        if not present
    ]
    return ["champs manquants : " + ", ".join(missing)] if missing else []


def _legal_basis(s: Subject, p: Mapping[str, Any]) -> list[str]:
    """Every purpose rests on an established basis: the main one, and each with its own."""
    a = s.the_activity
    if a.legal_basis is None:
        return ["base légale non renseignée"]
    found = []
    for purpose in a.purposes_with_bases:
        basis = purpose.basis
        if basis is None or not basis.basis.attr("provisoire") or not (purpose.main or purpose.own):
            continue  # a secondary purpose without a basis of its own shares the main one
        where = "" if purpose.main else f" pour la finalité « {purpose.purpose} »"
        found.append(
            f"base légale encore « {basis.basis.label} »{where} (RGPD, art. 6(1) : il en faut une parmi six)"
        )
    return found


def _sensitive_conditions(s: Subject, p: Mapping[str, Any]) -> list[str]:
    a = s.the_activity
    sensitive = [c.kind.label for c in a.categories if c.nature in ("sensible", "penale")]
    if sensitive and not a.conditions:
        return [
            "données sensibles ou d'infraction sans l'exception qui en permet le traitement "
            "(RGPD, art. 9(2) pour les données sensibles, art. 10 pour les infractions) : "
            + ", ".join(sensitive)
        ]
    return []


def _retention(s: Subject, p: Mapping[str, Any]) -> list[str]:
    found = []
    for c in s.the_activity.categories:
        if c.retention is None:
            found.append(f"« {c.kind.label} » : durée de conservation non renseignée")
        elif p["sort_final_requis"] and c.retention.final_fate is None:
            found.append(f"« {c.kind.label} » : sort final non renseigné")
    return found


def _transfers(s: Subject, p: Mapping[str, Any]) -> list[str]:
    a = s.the_activity
    found = []
    if a.transfers is None:
        found.append("transferts non renseignés (écrivez « transferts: aucun » s'il n'y en a pas)")
    for t in a.transfers_outside_eea:
        if t.safeguard is None:
            found.append(
                f"transfert vers {t.country.label} ({t.recipient}) sans garantie "
                "(RGPD, chapitre V : décision d'adéquation, clauses contractuelles types…)"
            )
    for pid in a.recipients.processors:
        processor = s.territory.processors.get(pid)
        if processor is None:
            continue
        for t in processor.transfers or ():
            if t.leaves_eea and t.safeguard is None:
                found.append(
                    f"sous-traitant « {processor.name} » : transfert vers {t.country.label} sans garantie"
                )
        documented = {t.country.code for t in processor.transfers or ()}
        for h in processor.hosting:
            if h.country.attr("zone") == "pays-tiers" and h.country.code not in documented:
                found.append(
                    f"sous-traitant « {processor.name} » hébergé hors de l'UE ({h.country.label}) "
                    "sans transfert documenté"
                )
    return found


def _dpia_done(s: Subject, p: Mapping[str, Any]) -> list[str]:
    if s.screening is None or not s.screening.required:
        return []
    if s.the_activity.role.code == "sous-traitant":
        return []  # the controller's duty (Art. 35(1)); the processor assists (Art. 28(3)(f))
    dpia = s.the_activity.dpia
    status = dpia.status if dpia else None
    if status is not None and status.code in p["statuts_acceptes"]:
        return []
    screening = s.screening
    if screening.cnil_types:
        numbers = ", ".join(f"n° {t.attr('numero')}" for t in screening.cnil_types)
        why = f"le traitement figure sur la liste de la CNIL, type {numbers}"
    else:
        count = len(screening.criteria)
        why = (
            f"{count} critères du CEPD sont remplis"
            if count > 1
            else "un critère du CEPD est rempli et la politique de la Maison en requiert une dès un critère"
        )
    if status is None or status.code == "non-requise":
        state = "elle n'est pas réalisée" + (" (le registre la dit non requise)" if status else "")
    else:
        state = f"elle est seulement {status.label.lower()}"
    return [f"analyse d'impact (AIPD, RGPD art. 35) requise car {why} ; {state}"]


def _dpia_summary(s: Subject, p: Mapping[str, Any]) -> list[str]:
    dpia = s.the_activity.dpia
    if dpia and dpia.status and dpia.status.code == "realisee" and not (dpia.summary or dpia.link):
        return ["analyse d'impact (AIPD) réalisée, mais sans résumé public pour les habitants"]
    return []


def _notice(s: Subject, p: Mapping[str, Any]) -> list[str]:
    """A notice exists: the member gives its address, or the Maison can write it from the register."""
    notice = s.the_activity.information_notice
    if not notice:
        return ["mention d'information non renseignée"]
    if notice == "absente":
        return ["pas encore de mention d'information"]
    if notice == "generee" and (missing := notices.gaps(s.member, s.the_activity)):
        return ["mention d'information impossible à établir : il manque " + ", ".join(missing)]
    return []


def _processor_contracts(s: Subject, p: Mapping[str, Any]) -> list[str]:
    found = []
    for pid in s.the_activity.recipients.processors:
        processor = s.territory.processors.get(pid)
        if processor is None:
            continue
        status = processor.contract_status
        if status is None or status.code not in p["statuts_acceptes"]:
            state = status.label.lower() if status else "non renseigné"
            found.append(
                f"sous-traitant « {processor.name} » : contrat de sous-traitance (RGPD, art. 28) {state}"
            )
    return found


def _validated(s: Subject, p: Mapping[str, Any]) -> list[str]:
    status = s.the_activity.status
    if status is None:
        return ["statut de la fiche non renseigné"]
    return [] if status.code in p["statuts_acceptes"] else [f"fiche au statut « {status.label} »"]


def _reviewed(s: Subject, p: Mapping[str, Any]) -> list[str]:
    return _too_old(s.the_activity.dates.reviewed, int(p["age_maximum_mois"]), s, "dernière revue")


def _priority_actions(s: Subject, p: Mapping[str, Any]) -> list[str]:
    """No high-priority action of the member's plan is overdue (the plan is in the overlay)."""
    from dote.fragments import date_fr

    plan = (s.plans or {}).get(s.member.id)
    if plan is None:
        return []
    s.this_day_only()
    return [
        f"action « {a.what} » (priorité haute) en retard : échéance le {date_fr(a.due)}"
        for a in plan.overdue(s.today, ("haute",))
    ]


_MONTHS = Param("mois", 12, "âge maximal, en mois")

#: Every rule the engine implements, by the name a policy uses.
RULES: Mapping[str, Rule] = _rules(
    Rule(
        "registre-tenu",
        "membre",
        "Le membre décrit au moins un nombre donné d'activités.",
        _register_kept,
        {"activites_minimum": Param("entier", 1, "nombre minimal d'activités")},
    ),
    Rule("dpo-designe", "membre", "Un délégué à la protection des données est désigné.", _dpo_designated),
    Rule(
        "formation-recente",
        "membre",
        "Le personnel a suivi une formation récente.",
        _training,
        {"age_maximum_mois": _MONTHS},
    ),
    Rule(
        "champs-article-30",
        "activite",
        "Les champs obligatoires de l'article 30 sont remplis.",
        _article_30_fields,
    ),
    Rule(
        "base-legale-etablie",
        "activite",
        "Une base légale définitive est indiquée (pas « à déterminer »).",
        _legal_basis,
    ),
    Rule(
        "conditions-donnees-sensibles",
        "activite",
        "Les données sensibles ou pénales ont leur condition (art. 9(2), art. 10).",
        _sensitive_conditions,
    ),
    Rule(
        "conservation-definie",
        "activite",
        "Chaque catégorie de données a sa durée de conservation.",
        _retention,
        {"sort_final_requis": Param("booleen", True, "le sort final doit être indiqué")},
    ),
    Rule(
        "transferts-encadres",
        "activite",
        "Les transferts hors UE sont indiqués, avec leur garantie.",
        _transfers,
    ),
    Rule(
        "aipd-realisee",
        "activite",
        "L'AIPD est réalisée quand le dépistage la dit requise.",
        _dpia_done,
        {"statuts_acceptes": Param("codes", ["realisee"], "états d'AIPD acceptés", "statuts-aipd")},
    ),
    Rule(
        "aipd-resume-public",
        "activite",
        "Une AIPD réalisée a un résumé public.",
        _dpia_summary,
    ),
    Rule("mention-information", "activite", "Une mention d'information existe.", _notice),
    Rule(
        "contrats-sous-traitants",
        "activite",
        "Chaque sous-traitant est lié par un contrat (art. 28).",
        _processor_contracts,
        {"statuts_acceptes": Param("codes", ["signe"], "états de contrat acceptés", "statuts-contrat")},
    ),
    Rule(
        "activite-validee",
        "activite",
        "La fiche est validée par le DPO.",
        _validated,
        {"statuts_acceptes": Param("codes", ["valide"], "statuts acceptés", "statuts-activite")},
    ),
    Rule(
        "actions-prioritaires-a-jour",
        "membre",
        "Aucune action prioritaire du plan d'actions n'est en retard (évaluée avec le dépôt confidentiel "
        "seulement).",
        _priority_actions,
        needs_overlay=True,
    ),
    Rule(
        "revue-recente",
        "activite",
        "La fiche a été revue récemment.",
        _reviewed,
        {"age_maximum_mois": _MONTHS},
    ),
)


# --- the policy ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    rule: str
    title: str
    explanation: str
    scope: Scope
    severity: str
    parameters: Mapping[str, Any]
    position: Position

    @property
    def scope_label(self) -> str:
        return SCOPE_LABELS[self.scope]

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS.get(self.severity, self.severity)

    @property
    def parameters_text(self) -> str:
        """The parameters in French, for the label page (« âge maximal, en mois : 12 »)."""
        rule = RULES[self.rule]
        parts = []
        for name, value in self.parameters.items():
            spec = rule.parameters[name]
            if isinstance(value, bool):
                shown = "oui" if value else "non"
            elif isinstance(value, list):
                vocabulary = load_vocabularies()[spec.vocabulary]
                shown = ", ".join(vocabulary[str(v)].label for v in value)
            else:
                shown = str(value)
            parts.append(f"{spec.description} : {shown}")
        return " ; ".join(parts)


@dataclass(frozen=True, slots=True)
class Level:
    id: str
    title: str
    rank: int  # 1 for the first level
    criteria: tuple[str, ...]  # the criteria this level adds
    description: str = ""
    colour: str = ""


@dataclass(frozen=True)
class Policy:
    """The Maison's label policy, read from a valid ``registers/label.yml``."""

    title: str
    description: str
    criteria: Mapping[str, Criterion]
    levels: tuple[Level, ...]

    def required(self, level: Level) -> tuple[str, ...]:
        """Every criterion a level requires, its own and those of the levels before it."""
        return tuple(c for lv in self.levels[: level.rank] for c in lv.criteria)

    def level_of(self, criterion_id: str) -> Level | None:
        """The first level that requires a criterion."""
        return next((lv for lv in self.levels if criterion_id in lv.criteria), None)


def check_policy(doc: Document) -> list[Problem]:
    """Problems of a schema-valid policy: unknown rules, bad parameters, unknown criteria."""
    problems: list[Problem] = []
    data = doc.data
    seen: dict[str, int] = {}
    for i, item in enumerate(data.get("criteres") or ()):
        ident = item["id"]
        if ident in seen:
            problems.append(
                Problem(
                    doc.position(("criteres", i, "id")),
                    f"critère « {ident} » défini deux fois (déjà au critère n° {seen[ident] + 1})",
                    "donnez un identifiant distinct à chaque critère",
                )
            )
        seen.setdefault(ident, i)
        rule = RULES.get(item["regle"])
        if rule is None:
            close = difflib.get_close_matches(item["regle"], list(RULES), n=3, cutoff=0.5)
            hint = (
                ("règles proches : " + ", ".join(close)) if close else "règles connues : " + ", ".join(RULES)
            )
            problems.append(
                Problem(doc.position(("criteres", i, "regle")), f"règle « {item['regle']} » inconnue", hint)
            )
            continue
        if item["portee"] != rule.scope:
            problems.append(
                Problem(
                    doc.position(("criteres", i, "portee")),
                    f"la règle « {rule.name} » s'applique {_TO[rule.scope]}, pas {_TO[item['portee']]}",
                    f"écrivez « portee: {rule.scope} »",
                )
            )
        problems.extend(_check_parameters(doc, i, rule, item.get("parametres") or {}))
        if rule.needs_overlay:
            problems.append(
                Problem(
                    doc.position(("criteres", i, "regle")),
                    f"la règle « {rule.name} » lit le dépôt confidentiel : le site public ne l'évalue pas "
                    "(ni remplie ni manquée), seuls « dote label --overlay » et le site interne l'évaluent",
                    "un niveau qui l'exige serait attribué sur le site public sans qu'elle soit vérifiée : "
                    "gardez-la hors des niveaux publics, ou acceptez cet écart entre le site et l'évaluation interne",
                    "avertissement",
                )
            )
    levels: set[str] = set()
    for i, level in enumerate(data.get("niveaux") or ()):
        if level["id"] in levels:
            problems.append(
                Problem(doc.position(("niveaux", i, "id")), f"niveau « {level['id']} » défini deux fois")
            )
        levels.add(level["id"])
        for j, ref in enumerate(level["criteres"]):
            if ref not in seen:
                close = difflib.get_close_matches(ref, list(seen), n=3, cutoff=0.5)
                problems.append(
                    Problem(
                        doc.position(("niveaux", i, "criteres", j)),
                        f"le niveau « {level['id']} » exige le critère « {ref} », qui n'est pas défini",
                        ("critères proches : " + ", ".join(close))
                        if close
                        else "définissez-le dans « criteres » ou retirez-le du niveau",
                    )
                )
    required = [ref for level in data.get("niveaux") or () for ref in level["criteres"]]
    for ident, i in seen.items():
        if required.count(ident) > 1:
            problems.append(
                Problem(
                    doc.position(("criteres", i, "id")),
                    f"le critère « {ident} » est exigé par plusieurs niveaux",
                    "les niveaux sont cumulatifs : citez-le seulement au premier niveau qui l'exige",
                )
            )
        elif ident not in required:
            problems.append(
                Problem(
                    doc.position(("criteres", i, "id")),
                    f"le critère « {ident} » n'est exigé par aucun niveau",
                    "ajoutez-le aux « criteres » d'un niveau, ou supprimez-le",
                    "avertissement",
                )
            )
    return problems


def _check_parameters(doc: Document, index: int, rule: Rule, params: Mapping[str, Any]) -> list[Problem]:
    problems = []
    vocabularies = load_vocabularies()
    for name, value in params.items():
        at = doc.position(("criteres", index, "parametres", name))
        spec = rule.parameters.get(name)
        if spec is None:
            known = ", ".join(rule.parameters) or "aucun"
            problems.append(
                Problem(
                    doc.key_position(("criteres", index, "parametres", name)),
                    f"paramètre « {name} » inconnu pour la règle « {rule.name} »",
                    f"paramètres possibles : {known}",
                )
            )
            continue
        if spec.kind in ("mois", "entier"):
            minimum = 1 if spec.kind == "mois" else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                unit = (
                    "un nombre de mois (entier, au moins 1)"
                    if spec.kind == "mois"
                    else "un nombre entier positif"
                )
                problems.append(
                    Problem(
                        at,
                        f"paramètre « {name} » : {unit} attendu, pas « {value} »",
                        f"exemple : {name}: {spec.default}",
                    )
                )
        elif spec.kind == "booleen":
            if not isinstance(value, bool):
                problems.append(Problem(at, f"paramètre « {name} » : true ou false attendu, pas « {value} »"))
        else:
            vocabulary = vocabularies[spec.vocabulary]
            if not isinstance(value, list) or not value:
                problems.append(
                    Problem(
                        at,
                        f"paramètre « {name} » : une liste de codes attendue",
                        "codes possibles : " + ", ".join(vocabulary.terms),
                    )
                )
                continue
            for j, code in enumerate(value):
                if not isinstance(code, str) or code not in vocabulary:
                    problems.append(
                        Problem(
                            doc.position(("criteres", index, "parametres", name, j)),
                            f"paramètre « {name} » : code « {code} » inconnu (vocabulaire « {vocabulary.title} »)",
                            "codes possibles : " + ", ".join(vocabulary.terms),
                        )
                    )
    return problems


def parse_policy(doc: Document) -> Policy:
    """The policy of a document that passed :func:`check_policy`; defaults filled in."""
    data = doc.data
    criteria: dict[str, Criterion] = {}
    for i, item in enumerate(data["criteres"]):
        rule = RULES[item["regle"]]
        params = {name: spec.default for name, spec in rule.parameters.items()}
        params.update(item.get("parametres") or {})
        criteria[item["id"]] = Criterion(
            id=item["id"],
            rule=rule.name,
            title=item["titre"],
            explanation=item["explication"],
            scope=rule.scope,
            severity=item["gravite"],
            parameters=params,
            position=doc.position(("criteres", i)),
        )
    levels = tuple(
        Level(
            id=lv["id"],
            title=lv["titre"],
            rank=n,
            criteria=tuple(lv["criteres"]),
            description=lv.get("description", ""),
            colour=lv.get("couleur") or DEFAULT_COLOURS[(n - 1) % len(DEFAULT_COLOURS)],
        )
        for n, lv in enumerate(data["niveaux"], start=1)
    )
    return Policy(data["titre"], data.get("description", ""), criteria, levels)


# --- evaluation ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    """One criterion not met, where (the activity's or member's file) and why."""

    criterion: Criterion
    position: Position
    details: tuple[str, ...]
    activity_id: str = ""
    activity_name: str = ""

    def text(self) -> str:
        """``FILE:LINE:COL: critère « id » non rempli : explication (détails)``."""
        p = self.position
        line = f"{p.file}:{p.line}:{p.column}: critère « {self.criterion.id} » non rempli : {self.criterion.explanation}"
        if self.details:
            line += " (" + " ; ".join(self.details) + ")"
        return line


@dataclass(frozen=True)
class ActivityResult:
    activity: Activity
    screening: Screening
    failures: tuple[Failure, ...]
    level: Level | None  # the highest level whose activity criteria it meets


@dataclass(frozen=True)
class MemberResult:
    member: Member
    level: Level | None
    next_level: Level | None
    failures: tuple[Failure, ...]  # every failure, member and activities, in policy order
    activities: Mapping[str, ActivityResult]
    #: Criteria whose rule needs the confidential overlay, which was not read: neither met nor
    #: failed (they do not stop a level either: see check_policy's warning).
    unevaluated: tuple[Criterion, ...] = ()

    @property
    def level_title(self) -> str:
        return self.level.title if self.level else NO_LEVEL

    @property
    def unmet(self) -> tuple[Criterion, ...]:
        """Each unmet criterion once, in the order of the policy."""
        return tuple({f.criterion.id: f.criterion for f in self.failures}.values())

    def failures_of(self, criterion_id: str) -> tuple[Failure, ...]:
        return tuple(f for f in self.failures if f.criterion.id == criterion_id)


@dataclass(frozen=True)
class Evaluation:
    """The label of every member of a territory, at a reference date."""

    policy: Policy
    reference_date: dt.date
    members: Mapping[str, MemberResult]
    #: Each member's :class:`DateWindow` as text, when its result was kept (dote.pipeline): what
    #: is made from its result alone (its page, its open data) is kept for those days.
    windows: Mapping[str, str] = field(default_factory=dict, compare=False)

    def member(self, member_id: str) -> MemberResult:
        return self.members[member_id]

    def activity(self, member_id: str, activity_id: str) -> ActivityResult:
        return self.members[member_id].activities[activity_id]


def _reached(policy: Policy, failed: set[str]) -> Level | None:
    reached = None
    for level in policy.levels:
        if any(c in failed for c in level.criteria):
            break
        reached = level
    return reached


def evaluate_member(
    member: Member,
    territory: Territory,
    policy: Policy,
    today: dt.date,
    plans: Mapping[str, ActionPlan] | None = None,
    window: DateWindow | None = None,
) -> MemberResult:
    """The level of one member and every criterion it misses.

    ``plans``: the action plans of the confidential overlay, or None when it was not read
    (then the rules that need it are not evaluated). ``window`` (made for ``today``) is
    narrowed to the days on which the result stays the same.
    """
    vocabularies = territory.vocabularies
    ordered = [policy.criteria[c] for lv in policy.levels for c in lv.criteria if c in policy.criteria]
    activity_criteria = [c for c in ordered if c.scope == "activite"]
    results: dict[str, ActivityResult] = {}
    activity_failures: list[Failure] = []
    for activity in member.activities:
        screening = screen(activity, member, vocabularies, territory.dpia_policy)
        subject = Subject(member, activity, territory, screening, today, None, window)
        found = tuple(
            Failure(c, activity.position, tuple(details), activity.id, activity.name)
            for c in activity_criteria
            if (details := RULES[c.rule].check(subject, c.parameters))
        )
        activity_failures.extend(found)
        results[activity.id] = ActivityResult(
            activity, screening, found, _reached(policy, {f.criterion.id for f in found})
        )
    subject = Subject(member, None, territory, None, today, plans, window)
    failures: list[Failure] = []
    unevaluated: list[Criterion] = []
    for c in ordered:
        if c.scope == "membre" and RULES[c.rule].needs_overlay and plans is None:
            unevaluated.append(c)
        elif c.scope == "membre":
            details = RULES[c.rule].check(subject, c.parameters)
            if details:
                failures.append(Failure(c, member.position, tuple(details)))
        else:
            failures.extend(f for f in activity_failures if f.criterion.id == c.id)
    level = _reached(policy, {f.criterion.id for f in failures})
    rank = level.rank if level else 0
    next_level = policy.levels[rank] if rank < len(policy.levels) else None
    return MemberResult(member, level, next_level, tuple(failures), results, tuple(unevaluated))


def evaluate(
    territory: Territory,
    policy: Policy,
    reference_date: dt.date,
    *,
    plans: Mapping[str, ActionPlan] | None = None,
) -> Evaluation:
    """Evaluate every member of a territory against the policy, as of ``reference_date``.

    ``plans``: the members' action plans when the confidential overlay was read, else None.
    """
    return Evaluation(
        policy,
        reference_date,
        {m.id: evaluate_member(m, territory, policy, reference_date, plans) for m in territory.members},
    )


# --- a member's result kept between builds (dote.pipeline) ------------------------------------
#
# A member's result depends on its records, the territory's shared files, the policy and the
# date; the pipeline keeps it under a key of those (see dote.pipeline) as plain values
# (marshal-able: strings, numbers, tuples), and makes the objects again around the records of
# the build that reads it back. Records, terms, criteria and levels are not kept: they are
# found again by id, so what is read back is equal to what would be computed.


def _term_data(term: Term | None) -> tuple[str, str] | None:
    return None if term is None else (term.vocabulary, term.code)


def _finding_data(f: Finding) -> tuple[Any, ...]:
    return (_term_data(f.criterion), f.declared, f.derived_from, f.set_aside)


def _failure_data(f: Failure) -> tuple[Any, ...]:
    p = f.position
    return (f.criterion.id, (p.file, p.line, p.column), f.details, f.activity_id, f.activity_name)


def member_data(result: MemberResult) -> tuple[Any, ...]:
    """A member's result as plain values (made again by :meth:`ResultReader.member`)."""

    def screening(s: Screening) -> tuple[Any, ...]:
        return (
            s.verdict,
            s.reasons,
            tuple(_finding_data(f) for f in s.findings),
            tuple(_finding_data(f) for f in s.cnil),
            _term_data(s.exemption),
            s.exemption_derived,
            tuple(_finding_data(f) for f in s.set_aside),
        )

    activities = tuple(
        (
            activity_id,
            screening(r.screening),
            tuple(_failure_data(f) for f in r.failures),
            r.level.id if r.level else None,
        )
        for activity_id, r in result.activities.items()
    )
    return (
        result.level.id if result.level else None,
        result.next_level.id if result.next_level else None,
        tuple(_failure_data(f) for f in result.failures),
        tuple(a[0] for a in activities),
        tuple(a[3] for a in activities),
        # The activities' part, the largest, as bytes: read back only when a page shows it.
        marshal.dumps(activities),
        tuple(c.id for c in result.unevaluated),
    )


class _ActivityResults(Mapping[str, ActivityResult]):
    """A kept member's results by activity, around its records once they are read (the
    records of a member whose result is kept may never be needed: see model.LazyMember)."""

    __slots__ = ("_ids", "_made", "_member", "_parts")

    def __init__(
        self,
        member: Member,
        ids: frozenset[str],
        parts: Callable[[], dict[str, tuple[Screening, tuple[Failure, ...], Level | None]]],
    ) -> None:
        self._member = member
        self._ids = ids
        self._parts = parts  # what each result holds besides its record, made when first read
        self._made: dict[str, ActivityResult] | None = None

    def _results(self) -> dict[str, ActivityResult]:
        if self._made is None:
            parts = self._parts()
            self._made = {a.id: ActivityResult(a, *parts[a.id]) for a in self._member.activities}
        return self._made

    def __getitem__(self, activity_id: str) -> ActivityResult:
        return self._results()[activity_id]

    def __iter__(self) -> Iterator[str]:
        return iter(activity_ids(self._member))

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, activity_id: object) -> bool:
        return activity_id in self._ids


class ResultReader:
    """Makes members' results again from :func:`member_data` (see :meth:`member`); equal
    findings and places are made once for all the members it reads (they are immutable)."""

    def __init__(self, policy: Policy, vocabularies: Vocabularies) -> None:
        self.policy = policy
        self.vocabularies = vocabularies
        self._levels = {lv.id: lv for lv in policy.levels}
        self._terms: dict[Any, Term | None] = {None: None}
        self._findings: dict[Any, Finding] = {}
        self._places: dict[Any, Position] = {}

    def _term(self, ref: Any) -> Term | None:
        found = self._terms.get(ref, False)
        if found is False:
            found = self._terms[ref] = self.vocabularies[ref[0]][ref[1]]
        return found  # type: ignore[return-value]

    def _findings_of(self, items: Any) -> tuple[Finding, ...]:
        made = []
        for item in items:
            found = self._findings.get(item)
            if found is None:
                term, declared, derived, aside = item
                found = self._findings[item] = Finding(self._term(term), declared, derived, aside)  # type: ignore[arg-type]
            made.append(found)
        return tuple(made)

    def _failures_of(self, items: Any) -> tuple[Failure, ...]:
        made = []
        for criterion, where, details, activity_id, name in items:
            place = self._places.get(where)
            if place is None:
                place = self._places[where] = Position(*where)
            made.append(Failure(self.policy.criteria[criterion], place, tuple(details), activity_id, name))
        return tuple(made)

    def member(self, data: Any, member: Member) -> MemberResult | None:
        """The result kept as ``data``, around ``member``'s records; ``None`` when it does not
        fit them (no data, another policy, other activities): the caller evaluates instead."""
        if data is None:
            return None
        try:
            levels = self._levels
            level, next_level, member_failures, ids, reached, activities, unevaluated = data
            if tuple(ids) != activity_ids(member) or any(r and r not in levels for r in reached):
                return None
            if not isinstance(activities, bytes):
                return None
            return MemberResult(
                member,
                levels[level] if level else None,
                levels[next_level] if next_level else None,
                self._failures_of(member_failures),
                _ActivityResults(member, frozenset(ids), functools.partial(self._activities, activities)),
                tuple(self.policy.criteria[c] for c in unevaluated),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def _activities(
        self, activities: bytes
    ) -> dict[str, tuple[Screening, tuple[Failure, ...], Level | None]]:
        """The per-activity part of a kept result (made when first read: a page or a table
        that shows it is made again)."""
        results = {}
        for activity_id, screening_data, failed, reached in marshal.loads(activities):
            verdict, reasons, found, cnil, exemption, derived, aside = screening_data
            screening = Screening(
                verdict,
                tuple(reasons),
                self._findings_of(found),
                self._findings_of(cnil),
                self._term(exemption),
                derived,
                self._findings_of(aside),
            )
            results[activity_id] = (
                screening,
                self._failures_of(failed),
                self._levels[reached] if reached else None,
            )
        return results


def level_counts(evaluation: Evaluation) -> dict[str, int]:
    """How many members reach each level (by level title; « Non labellisé » for none)."""
    counts = {lv.title: 0 for lv in evaluation.policy.levels}
    counts[NO_LEVEL] = 0
    for result in evaluation.members.values():
        counts[result.level_title] += 1
    return counts


def failures_by_level(result: MemberResult, policy: Policy) -> Iterable[tuple[Level, tuple[Failure, ...]]]:
    """A member's failures grouped by the level that first requires each criterion."""
    for level in policy.levels:
        found = tuple(f for f in result.failures if f.criterion.id in level.criteria)
        if found:
            yield level, found
