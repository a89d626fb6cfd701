"""DPIA (AIPD) screening: does an activity require a data protection impact assessment?

A pure function of an :class:`~dote.model.Activity` and its :class:`~dote.model.Member`
(for the staff count). The law it applies is data, in the vocabularies: the EDPB's nine
criteria (``criteres-aipd``), the CNIL list of processing that always requires a DPIA
(``liste-cnil-aipd``, délibération n° 2018-327) and the list of exempt processing
(``exemptions-aipd``, délibération n° 2019-118), whose conditions are term attributes.

The rules, in order:

1. a declared type of the CNIL list → required;
2. a declared exemption whose conditions hold → exempt;
3. two EDPB criteria or more → required; exactly one → recommended; none → not required.

Criteria the editor forgot are derived from the data (Art. 9/10/NIR categories,
vulnerable data subjects, automated decision, profiling), and the reasons say which
criteria were declared and which were derived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dote.model import Activity, Member
from dote.vocabulary import Term, Vocabularies, load_vocabularies

Verdict = Literal["requis", "recommande", "non-requis", "exempte"]

VERDICT_LABELS: dict[str, str] = {
    "requis": "AIPD requise",
    "recommande": "AIPD recommandée",
    "non-requis": "AIPD non requise",
    "exempte": "Dispense d'AIPD",
}

_NATURES = {"sensible": "art. 9", "penale": "art. 10"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One EDPB criterion met by the activity, and whether the editor declared it."""

    criterion: Term
    declared: bool
    derived_from: str = ""  # French: what in the data implies it ("" if only declared)


@dataclass(frozen=True, slots=True)
class Screening:
    """The result of screening one activity, with its reasons in French."""

    verdict: Verdict
    reasons: tuple[str, ...]
    findings: tuple[Finding, ...] = ()
    cnil_types: tuple[Term, ...] = ()
    exemption: Term | None = None  # the exemption that applies, if any

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self.verdict]

    @property
    def required(self) -> bool:
        return self.verdict == "requis"

    @property
    def criteria(self) -> tuple[Term, ...]:
        return tuple(f.criterion for f in self.findings)


def _derived(activity: Activity, vocabularies: Vocabularies) -> dict[str, str]:
    """EDPB criteria implied by the data, with the French reason of each."""
    criteria: dict[str, str] = {}
    sensitive = [
        f"{c.kind.label} ({_NATURES[c.nature]})" if c.nature in _NATURES else c.kind.label
        for c in activity.sensitive_categories
    ]
    if sensitive:
        criteria["donnees-sensibles"] = "catégories de données : " + ", ".join(sensitive)
    vulnerable = [s.label for s in activity.subjects if s.attr("vulnerable")]
    if vulnerable:
        criteria["personnes-vulnerables"] = "personnes concernées : " + ", ".join(vulnerable)
    if activity.automated_decision:
        criteria["decision-automatisee"] = "décision entièrement automatisée déclarée"
    if activity.profiling:
        criteria["evaluation-notation"] = "profilage déclaré"
    known = vocabularies["criteres-aipd"].terms
    return {code: why for code, why in criteria.items() if code in known}


def findings(activity: Activity, vocabularies: Vocabularies | None = None) -> tuple[Finding, ...]:
    """The EDPB criteria the activity meets, declared or derived, in the vocabulary's order."""
    vocabularies = vocabularies or load_vocabularies()
    declared = {t.code for t in activity.dpia.criteria} if activity.dpia else set()
    derived = _derived(activity, vocabularies)
    return tuple(
        Finding(term, term.code in declared, derived.get(term.code, ""))
        for term in vocabularies["criteres-aipd"]
        if term.code in declared or term.code in derived
    )


def _exemption_obstacles(
    exemption: Term, activity: Activity, member: Member | None, met: tuple[Finding, ...]
) -> list[str]:
    """Why a declared exemption does not apply (empty when it does), in French."""
    obstacles = []
    maximum = exemption.attr("effectif_maximum")
    if maximum is not None:
        staff = member.staff if member else None
        if staff is None:
            obstacles.append(f"l'effectif du membre n'est pas renseigné (au plus {maximum} exigé)")
        elif staff > int(maximum):
            obstacles.append(f"l'effectif du membre ({staff}) dépasse {maximum}")
    if exemption.attr("sans_profilage") and activity.profiling:
        obstacles.append("le traitement comporte un profilage")
    excluded = set(exemption.attr("criteres_exclus") or ())
    for finding in met:
        if finding.criterion.code in excluded:
            obstacles.append(f"le critère « {finding.criterion.label} » est rempli")
    excluded_categories = set(exemption.attr("categories_exclues") or ())
    for category in activity.categories:
        if category.kind.code in excluded_categories:
            obstacles.append(f"le traitement porte sur la catégorie « {category.kind.label} »")
    return obstacles


def _criteria_sentence(met: tuple[Finding, ...]) -> str:
    parts = []
    for f in met:
        if f.declared and f.derived_from:
            origin = f"déclaré, et déduit des données : {f.derived_from}"
        elif f.declared:
            origin = "déclaré"
        else:
            origin = f"non déclaré, déduit des données : {f.derived_from}"
        parts.append(f"« {f.criterion.label} » ({origin})")
    return " ; ".join(parts)


def screen(
    activity: Activity, member: Member | None = None, vocabularies: Vocabularies | None = None
) -> Screening:
    """Screen one activity against the CNIL lists and the EDPB criteria."""
    vocabularies = vocabularies or load_vocabularies()
    met = findings(activity, vocabularies)
    dpia = activity.dpia
    cnil = dpia.cnil_types if dpia else ()
    reasons: list[str] = []
    count = len(met)
    if met:
        plural = "s" if count > 1 else ""
        reasons.append(f"{count} critère{plural} du CEPD rempli{plural} : {_criteria_sentence(met)}.")

    if cnil:
        listed = ", ".join(f"« {t.label} »" for t in cnil)
        reference = vocabularies["liste-cnil-aipd"].reference
        reasons.insert(
            0,
            f"Le traitement relève de la liste des traitements pour lesquels une AIPD est "
            f"toujours requise ({reference}) : {listed}.",
        )
        return Screening("requis", tuple(reasons), met, cnil)

    exemption = dpia.exemption if dpia else None
    if exemption is not None:
        obstacles = _exemption_obstacles(exemption, activity, member, met)
        reference = vocabularies["exemptions-aipd"].reference
        if not obstacles:
            reasons.insert(
                0,
                f"Le traitement relève de la liste des traitements dispensés d'AIPD ({reference}) : "
                f"« {exemption.label} ».",
            )
            return Screening("exempte", tuple(reasons), met, exemption=exemption)
        reasons.append(
            f"La dispense « {exemption.label} » ({reference}) ne s'applique pas : "
            + " ; ".join(obstacles)
            + "."
        )

    if count >= 2:
        reasons.append(
            "Deux critères du CEPD ou plus sont remplis : une AIPD est requise "
            "(RGPD, art. 35 ; lignes directrices WP248)."
        )
        return Screening("requis", tuple(reasons), met)
    if count == 1:
        reasons.append(
            "Un seul critère du CEPD est rempli : l'AIPD n'est pas obligatoire, mais elle est "
            "recommandée si le risque pour les personnes reste élevé ; le choix de ne pas la "
            "mener doit être justifié."
        )
        return Screening("recommande", tuple(reasons), met)
    reasons.append(
        "Aucun critère du CEPD n'est rempli et le traitement ne figure pas sur la liste de la CNIL : "
        "une AIPD n'est pas requise."
    )
    return Screening("non-requis", tuple(reasons), met)
