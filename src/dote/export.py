"""The authority's register: a member's complete Article 30 record, for the CNIL on request.

Unlike the public site, this register includes the security measures (Art. 30(1)(g)),
read from the confidential overlay: it is an internal output, never published. One row
per activity, with the columns of the CNIL's register template, as CSV (for a
spreadsheet) or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from dote.model import Activity, DataCategory, Member, Territory
from dote.tabular import csv_text

COLUMNS = (
    "Identifiant",
    "Activité",
    "Responsable de traitement",
    "Responsables conjoints",
    "Délégué à la protection des données",
    "Service",
    "Statut de la fiche",
    "Finalité principale",
    "Finalités secondaires",
    "Base légale",
    "Conditions des données sensibles",
    "Catégories de personnes",
    "Catégories de données",
    "Durées de conservation",
    "Destinataires",
    "Sous-traitants",
    "Transferts hors UE",
    "Mesures de sécurité",
    "AIPD",
    "Dernière revue",
)


def _join(items: Iterable[str], sep: str = " ; ") -> str:
    return sep.join(i for i in items if i)


def _category(c: DataCategory) -> str:
    text = c.kind.label + (f" ({c.details})" if c.details else "")
    return text + {"sensible": " [art. 9]", "penale": " [art. 10]", "nir": " [NIR]"}.get(c.nature, "")


def _retention(c: DataCategory) -> str:
    r = c.retention
    if r is None:
        return f"{c.kind.label} : non renseignée"
    parts = [
        r.duration_text or r.criteria,
        f"à compter de : {r.start}" if r.start else "",
        f"sort final : {r.final_fate.label}" if r.final_fate else "",
        r.reference,
    ]
    return f"{c.kind.label} : " + _join(parts, ", ")


def activity_row(territory: Territory, member: Member, a: Activity) -> dict[str, str]:
    """One activity as the authority reads it (French column names)."""
    dpo = member.dpo
    processors = [territory.processors[p].name for p in a.recipients.processors if p in territory.processors]
    if a.transfers is None:
        transfers = "non renseigné"
    else:
        transfers = (
            _join(
                f"{t.country.label} : {t.recipient}" + (f" ({t.safeguard.label})" if t.safeguard else "")
                for t in a.transfers
            )
            or "aucun"
        )
    derived = territory.processors_outside_eea(a)
    if derived:
        transfers += " ; par les sous-traitants : " + _join(
            f"{p.name} ({', '.join(c.label for c in p.countries_outside_eea)})" for p in derived
        )
    security = a.internal.security_measures if a.internal else ()
    return {
        "Identifiant": a.id,
        "Activité": a.name,
        "Responsable de traitement": _join(
            [member.name, member.address, member.siren and f"SIREN {member.siren}"], ", "
        ),
        "Responsables conjoints": _join(p.name for p in a.joint_controllers),
        "Délégué à la protection des données": _join([dpo.name, dpo.email, dpo.address], ", ") if dpo else "",
        "Service": a.department,
        "Statut de la fiche": a.status.label if a.status else "",
        "Finalité principale": a.purpose,
        "Finalités secondaires": _join(a.secondary_purposes),
        "Base légale": _join(
            [a.legal_basis.basis.label, a.legal_basis.basis.reference, a.legal_basis.reference], ", "
        )
        if a.legal_basis
        else "",
        "Conditions des données sensibles": _join(c.condition.label for c in a.conditions),
        "Catégories de personnes": _join([_join((s.label for s in a.subjects), ", "), a.subjects_details]),
        "Catégories de données": _join(_category(c) for c in a.categories),
        "Durées de conservation": _join(_retention(c) for c in a.categories),
        "Destinataires": _join([*a.recipients.internal, *a.recipients.external]),
        "Sous-traitants": _join(processors),
        "Transferts hors UE": transfers,
        "Mesures de sécurité": _join(f"{heading} : {text}" for heading, text in security)
        or "non renseignées",
        "AIPD": (a.dpia.status.label + (f" le {a.dpia.date.isoformat()}" if a.dpia.date else ""))
        if a.dpia and a.dpia.status
        else "",
        "Dernière revue": a.dates.reviewed.isoformat() if a.dates.reviewed else "",
    }


def authority_register(territory: Territory, member: Member) -> list[dict[str, str]]:
    return [activity_row(territory, member, a) for a in member.activities]


def to_csv(rows: list[dict[str, str]]) -> str:
    """CSV as French spreadsheets open it (see :func:`dote.tabular.csv_text`)."""
    return csv_text(COLUMNS, rows)


def to_json(member: Member, rows: list[dict[str, str]]) -> str:
    return (
        json.dumps({"membre": member.id, "nom": member.name, "activites": rows}, ensure_ascii=False, indent=2)
        + "\n"
    )
