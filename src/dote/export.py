"""The authority's register: a member's complete Article 30 record, for the CNIL on request.

Unlike the public site, this register includes the security measures (RGPD, art. 30,
paragraphe 1, point g, and paragraphe 2, point d), read from the confidential overlay: it
is an internal output, never published. A member keeps two kinds of records
(RGPD, art. 30):

- as a controller (``role: responsable`` or ``responsable-conjoint``), the record of
  paragraph 1: purposes, data subjects, data, recipients, transfers, time limits,
  security measures;
- as a processor (``role: sous-traitant``), the record of paragraph 2: each controller
  it acts for (``pour_le_compte_de``), the categories of processing carried out on
  their behalf, transfers and security measures; no legal basis (it is each
  controller's).

One row per activity, with :data:`COLUMNS` as headings, as CSV (for a spreadsheet) or
JSON; :func:`export_bytes` also writes the CNIL's model as a workbook (ODS, XLSX) or a
document (ODT, DOCX), see :mod:`dote.cnil_model`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from dote.model import Activity, DataCategory, LegalBasis, Member, Person, Territory
from dote.tabular import csv_text

# The headings of the "Registre" sheet and of the CSV, in order: the single source of the
# register's headings (the importer reads a workbook's "Registre" sheet by these names).
COLUMNS = (
    "Identifiant",
    "Activité",
    "Rôle",
    "Responsable de traitement",
    "Pour le compte de",
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

# What the "Rôle" column says for each ``role`` code, before the article reference.
ROLE_LABELS = {
    "responsable": "Responsable de traitement",
    "responsable-conjoint": "Responsable conjoint",
    "sous-traitant": "Sous-traitant",
}
ARTICLE_CONTROLLER = "RGPD, art. 30, paragraphe 1"
ARTICLE_PROCESSOR = "RGPD, art. 30, paragraphe 2"
NOT_APPLICABLE_PROCESSOR = "sans objet (sous-traitant, art. 30.2)"

FORMATS = ("csv", "json", "ods", "xlsx", "odt", "docx")


class ExportError(Exception):
    """An export that could not be written; the message is French, for the command line."""


def is_processor(a: Activity) -> bool:
    """Whether the member keeps this activity as a processor (RGPD, art. 30, paragraphe 2)."""
    return a.role.code == "sous-traitant"


def article(a: Activity) -> str:
    return ARTICLE_PROCESSOR if is_processor(a) else ARTICLE_CONTROLLER


def role_text(a: Activity) -> str:
    """The "Rôle" cell: ``Sous-traitant (RGPD, art. 30, paragraphe 2)``."""
    return f"{ROLE_LABELS.get(a.role.code, a.role.label)} ({article(a)})"


def role_code(text: str) -> str | None:
    """The ``role`` code of a "Rôle" cell written by :func:`role_text` (for an importer)."""
    label = text.split(" (", 1)[0].strip().lower()
    return next((code for code, known in ROLE_LABELS.items() if known.lower() == label), None)


def _join(items: Iterable[str], sep: str = " ; ") -> str:
    return sep.join(i for i in items if i)


def _category(c: DataCategory) -> str:
    text = c.kind.label + (f" ({c.details})" if c.details else "")
    return text + {"sensible": " [art. 9]", "penale": " [art. 10]", "nir": " [NIR]"}.get(c.nature, "")


def _retention(c: DataCategory) -> str:
    r = c.retention
    if r is None:
        return f"{c.kind.label} : non renseignée"
    if r.phases:
        total = r.total_duration_text
        how = r.phases_text + (f" ({total} au total)" if total and len(r.phases) > 1 else "")
        return f"{c.kind.label} : " + _join(
            [how, f"sort final : {r.final_fate.label}" if r.final_fate else "", r.reference], ", "
        )
    parts = [
        r.duration_text or r.criteria,
        f"à compter de : {r.start}" if r.start else "",
        f"sort final : {r.final_fate.label}" if r.final_fate else "",
        r.reference,
    ]
    return f"{c.kind.label} : " + _join(parts, ", ")


def authorisations_text(a: Activity) -> str:
    """The prior authorisations (prefect, CNIL, decree…): nature, reference, date, end of validity."""
    return _join(
        _join(
            [
                f"{x.nature.label} : {x.reference}",
                f"du {x.date.isoformat()}" if x.date else "",
                f"valable jusqu'au {x.expires.isoformat()}" if x.expires else "",
                x.details,
            ],
            ", ",
        )
        for x in a.authorisations
    )


def member_identity(member: Member) -> str:
    """Name and contact details of the organisation: name, address, SIREN."""
    return _join([member.name, member.address, member.siren and f"SIREN {member.siren}"], ", ")


def person_identity(p: Person) -> str:
    return _join([p.name, p.email, p.address, p.phone], ", ")


def dpo_identity(member: Member) -> str:
    dpo = member.dpo
    return _join([dpo.name, dpo.email, dpo.address], ", ") if dpo else ""


def controllers_served(territory: Territory, a: Activity) -> list[tuple[str, str]]:
    """Each controller a processor activity acts for: (name, name and contact details).

    A member of the territory is named by its identifier in the register and described
    from its own file; another controller is written in full in the register.
    """
    found: list[tuple[str, str]] = []
    for c in a.controllers_served:
        if isinstance(c, Person):
            found.append((c.name, person_identity(c)))
        elif c in territory.members_by_id:
            served = territory.members_by_id[c]
            found.append((served.name, member_identity(served)))
        else:  # validation reports an unknown member; the register still shows what was written
            found.append((c, c))
    return found


def transfers_text(territory: Territory, a: Activity) -> str:
    if a.transfers is None:
        text = "non renseigné"
    else:
        text = (
            _join(
                f"{t.country.label} : {t.recipient}" + (f" ({t.safeguard.label})" if t.safeguard else "")
                for t in a.transfers
            )
            or "aucun"
        )
    derived = territory.processors_outside_eea(a)
    if derived:
        text += " ; par les sous-traitants : " + _join(
            f"{p.name} ({', '.join(c.label for c in p.countries_outside_eea)})" for p in derived
        )
    return text


def security_text(a: Activity) -> str:
    security = a.internal.security_measures if a.internal else ()
    return _join(f"{heading} : {text}" for heading, text in security) or "non renseignées"


def legal_basis_text(a: Activity) -> str:
    """The legal basis as the authority reads it: the framework when it is not the GDPR,
    the main purpose's basis, each secondary purpose's own basis, and a public body's
    legitimate interests outside its public tasks."""
    if a.legal_basis is None:
        return ""

    def one(b: LegalBasis) -> str:
        outside = "hors des missions de service public (RGPD, art. 6(1), dernier alinéa)"
        return _join(
            [b.basis.label, b.basis.reference, b.reference, outside if b.outside_public_tasks else ""], ", "
        )

    text = one(a.legal_basis)
    own = [f"{p.purpose} : {one(p.basis)}" for p in a.purposes_with_bases if p.own and p.basis is not None]
    if own:
        text = _join([f"{a.purpose} : {text}", *own])
    if a.police_directive:
        text = (
            "Directive (UE) 2016/680, loi Informatique et Libertés, titre III (art. 87 et suivants) : " + text
        )
    return text


def activity_row(territory: Territory, member: Member, a: Activity) -> dict[str, str]:
    """One activity as the authority reads it (French column names, :data:`COLUMNS`).

    A processor activity (RGPD, art. 30, paragraphe 2) names as "Responsable de
    traitement" each controller it acts for, with their contact details, lists them in
    "Pour le compte de", and has no legal basis: the legal basis is each controller's.
    """
    processors = [territory.processors[p].name for p in a.recipients.processors if p in territory.processors]
    served = controllers_served(territory, a)
    if is_processor(a):
        controller = _join(identity for _, identity in served) or "non renseigné"
        on_behalf = _join(name for name, _ in served) or "non renseigné"
        legal_basis = NOT_APPLICABLE_PROCESSOR
    else:
        controller = member_identity(member)
        on_behalf = ""
        legal_basis = legal_basis_text(a)
    return {
        "Identifiant": a.id,
        "Activité": a.name,
        "Rôle": role_text(a),
        "Responsable de traitement": controller,
        "Pour le compte de": on_behalf,
        "Responsables conjoints": _join(p.name for p in a.joint_controllers),
        "Délégué à la protection des données": dpo_identity(member),
        "Service": a.department,
        "Statut de la fiche": a.status.label if a.status else "",
        "Finalité principale": a.purpose,
        "Finalités secondaires": _join(a.secondary_purposes),
        "Base légale": legal_basis,
        "Conditions des données sensibles": _join(c.condition.label for c in a.conditions),
        "Catégories de personnes": _join([_join((s.label for s in a.subjects), ", "), a.subjects_details]),
        "Catégories de données": _join(_category(c) for c in a.categories),
        "Durées de conservation": _join(_retention(c) for c in a.categories),
        "Destinataires": _join([*a.recipients.internal, *a.recipients.external]),
        "Sous-traitants": _join(processors),
        "Transferts hors UE": transfers_text(territory, a),
        "Mesures de sécurité": security_text(a),
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


def export_bytes(territory: Territory, member: Member, fmt: str, *, today: dt.date | None = None) -> bytes:
    """The member's register for the authority, as the bytes of a file in format ``fmt``.

    ``fmt`` is one of :data:`FORMATS`. Nothing is written to disk here: the caller writes
    the bytes (atomically). Raises :class:`ExportError` (French message) when a document
    cannot be made.
    """
    if fmt not in FORMATS:
        raise ExportError(f"format d'export inconnu : « {fmt} » (formats : {', '.join(FORMATS)})")
    if fmt == "csv":
        return to_csv(authority_register(territory, member)).encode("utf-8")
    if fmt == "json":
        return to_json(member, authority_register(territory, member)).encode("utf-8")
    from dote import cnil_model

    day = today or dt.date.today()
    if fmt == "xlsx":
        return cnil_model.workbook_xlsx(territory, member, day)
    if fmt == "ods":
        return cnil_model.workbook_ods(territory, member, day)
    return cnil_model.document(territory, member, fmt, day)
