"""Open data on the public site (``/donnees/``): the registers as JSON, CSV and a DCAT catalogue.

What is published is exactly what the site publishes, made from the public records of
the build (:class:`~dote.model.Territory`), never from register files again and never
from the confidential overlay:

- ``donnees/territoire.json`` and ``.csv``: every published activity of every member;
- ``donnees/membres/<membre>.json`` and ``.csv``: one member's;
- ``donnees/catalogue.jsonld`` (DCAT-AP) and ``donnees/catalogue.csv`` (the SCDL
  "catalogue simplifié" columns): the list of those datasets, with absolute addresses,
  hence only when ``site_url`` is set (:func:`catalogue_refusal`);
- the page ``/donnees/`` (what is offered, the licence, the files and their sizes) and
  the data dictionary ``/donnees/dictionnaire/``, generated from the JSON Schemas.

In the JSON files each activity is written back in the registers' own format
(:func:`activity_data`), resolved (a model's fields included) and reduced to what its
member publishes: it validates against ``activite.schema.json`` (in partial mode for a
member that publishes "au choix"). The DPIA screening and the label, computed by the
engine, sit beside it in keys of their own, with the same reserve as the member page:
the screening's reasons and the label's details of an activity whose member publishes
only some fields are not published.

An internal build (with the confidential overlay) writes no data file: its records carry
what members do not publish.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jinja2
import orjson

from dote import workers
from dote.confidential import PUBLIC
from dote.dpia import Screening, as_data
from dote.label import Evaluation, MemberResult
from dote.model import Activity, LegalBasis, Member, Person, Territory, Transfer, activity_summaries
from dote.render import PROCESSORS_URL, GeneratedPage, label_context, relative_url
from dote.schema import KINDS, SHARED, annotation, compiled_schemas, published_schemas, schema_chain
from dote.tabular import csv_text
from dote.vocabulary import Term, Vocabularies
from dote.watch_site import site_base

DATA_URL = "donnees/"
DICTIONARY_URL = f"{DATA_URL}dictionnaire/"
TERRITORY_JSON = f"{DATA_URL}territoire.json"
TERRITORY_CSV = f"{DATA_URL}territoire.csv"
CATALOGUE_JSONLD = f"{DATA_URL}catalogue.jsonld"
CATALOGUE_CSV = f"{DATA_URL}catalogue.csv"
#: The version of the open-data files' own structure (the keys around each activity).
#: 2 added ``sous_traitants`` (the processors the published activities name).
FORMAT_VERSION = 2
FORMAT_NAME = "maison-dote-donnees-ouvertes"
#: The licence when the Maison names none (the schema requires one: a safety net).
DEFAULT_LICENCE = "licence-ouverte-2.0"
#: The key of the data page's fingerprint: the whole territory.
FINGERPRINT = "*"
#: A list in a CSV cell.
LIST_SEPARATOR = " ; "


def member_json_path(member_id: str) -> str:
    return f"{DATA_URL}membres/{member_id}.json"


def member_csv_path(member_id: str) -> str:
    return f"{DATA_URL}membres/{member_id}.csv"


def catalogue_refusal(site_url: str) -> str:
    """Why the catalogue is not written (in French), or ``""`` when it is."""
    if site_base(site_url):
        return ""
    return (
        "dote : données ouvertes : le catalogue (catalogue.jsonld, catalogue.csv) n'est pas écrit, car ses "
        "liens de téléchargement doivent être des adresses complètes : indiquez l'adresse publique du site "
        "dans mkdocs.yml (par exemple « site_url: https://rgpd.exemple.fr/ ») ; les fichiers de données "
        "sont publiés quand même"
    )


# --- an activity in the registers' format ---------------------------------------------------


def _person(person: Person) -> dict[str, Any]:
    found: dict[str, Any] = {"nom": person.name}
    for key, value in (
        ("courriel", person.email),
        ("adresse", person.address),
        ("telephone", person.phone),
        ("numero_designation", person.designation),
    ):
        if value:
            found[key] = value
    return found


def _codes(terms: Iterable[Term]) -> list[str]:
    return [t.code for t in terms]


def _transfer(transfer: Transfer) -> dict[str, Any]:
    found: dict[str, Any] = {"pays": transfer.country.code, "destinataire": transfer.recipient}
    if transfer.safeguard is not None:
        found["garantie"] = transfer.safeguard.code
    if transfer.details:
        found["precisions"] = transfer.details
    return found


def _without_empty(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` without its empty values (``""``, ``None``, ``[]``, ``{}``); ``False`` and 0 stay."""
    return {k: v for k, v in data.items() if v is not None and v != "" and v != [] and v != {}}


def _basis(a: Activity, basis: LegalBasis | None) -> dict[str, Any] | None:
    """A legal basis in the registers' format (no GDPR code under the police directive)."""
    if basis is None:
        return None
    return _without_empty(
        {
            "code": None if a.police_directive else basis.basis.code,
            "reference": basis.reference,
            "precisions": basis.details,
            "hors_missions_publiques": True if basis.outside_public_tasks else None,
        }
    )


def _volume(a: Activity) -> Any:
    """``volume`` as the register wrote it: a number of persons, or the scale's details."""
    if a.records_per_year is None and a.population_share is None and a.extent is None:
        return a.volume
    return _without_empty(
        {
            "personnes": a.volume,
            "enregistrements_par_an": a.records_per_year,
            "part_population": a.population_share,
            "etendue": a.extent.code if a.extent else None,
        }
    )


def activity_data(activity: Activity) -> dict[str, Any]:
    """An activity's public record written back in the registers' format (French keys, codes).

    The inverse of :meth:`dote.model.Converter.activity` on the resolved content: what a
    model gives is included, ``retirer`` has been applied, and a field its member does not
    publish is absent (the record never had it). Confidential fields have no place in the
    record: they cannot appear here.
    """
    a = activity
    categories = []
    for c in a.categories:
        category: dict[str, Any] = {"code": c.kind.code}
        if c.details:
            category["precisions"] = c.details
        if c.retention is not None:
            r = c.retention
            category["conservation"] = _without_empty(
                {
                    "duree": r.duration,
                    "criteres": r.criteria,
                    "depart": r.start,
                    "phases": [
                        _without_empty(
                            {
                                "phase": p.phase.code,
                                "duree": p.duration,
                                "criteres": p.criteria,
                                "depart": p.start,
                                "precisions": p.details,
                            }
                        )
                        for p in r.phases
                    ],
                    "sort_final": r.final_fate.code if r.final_fate else None,
                    "reference": r.reference,
                    "precisions": r.details,
                }
            )
        categories.append(category)
    dpia = None
    if a.dpia is not None:
        d = a.dpia
        dpia = _without_empty(
            {
                "criteres": _codes(d.criteria),
                "liste_cnil": _codes(d.cnil_types),
                "criteres_ecartes": [
                    {"code": x.term.code, "justification": x.justification} for x in d.criteria_set_aside
                ],
                "liste_cnil_ecartes": [
                    {"code": x.term.code, "justification": x.justification} for x in d.cnil_types_set_aside
                ],
                "exemption": d.exemption.code if d.exemption else None,
                "statut": d.status.code if d.status else None,
                "date": d.date.isoformat() if d.date else None,
                "resume": d.summary,
                "lien": d.link,
            }
        )
    transfers: Any = None
    if a.transfers is not None:
        transfers = [_transfer(t) for t in a.transfers] if a.transfers else "aucun"
    data: dict[str, Any] = {
        "version_schema": 1,
        "nom": a.name,
        "statut": a.status.code if a.status else None,
        "modele": str(a.model) if a.model else None,
        "description": a.description,
        "role": a.role.code,
        "responsables_conjoints": [_person(p) for p in a.joint_controllers],
        "pour_le_compte_de": [c if isinstance(c, str) else _person(c) for c in a.controllers_served],
        "service": a.department,
        "finalites": _without_empty(
            {
                "principale": a.purpose,
                "secondaires": [
                    {"libelle": p.purpose, "base_legale": _basis(a, p.basis)} if p.own else p.purpose
                    for p in a.purposes_with_bases
                    if not p.main
                ],
                "types": _codes(a.purpose_kinds),
            }
        ),
        "base_legale": _basis(a, a.legal_basis),
        "cadre": a.framework.code if a.framework is not None and a.police_directive else None,
        "prospection": {
            "canaux": _codes(a.prospecting.channels),
            "clients_produits_analogues": a.prospecting.similar_products_customers,
            **({"professionnels": True} if a.prospecting.professionals else {}),
        }
        if a.prospecting is not None
        else None,
        "conditions_sensibles": [
            _without_empty({"code": c.condition.code, "reference": c.reference}) for c in a.conditions
        ],
        "autorisations": [
            _without_empty(
                {
                    "nature": x.nature.code,
                    "reference": x.reference,
                    "date": x.date.isoformat() if x.date else None,
                    "duree_validite": x.validity,
                    "precisions": x.details,
                }
            )
            for x in a.authorisations
        ],
        "personnes_concernees": _codes(a.subjects),
        "personnes_precisions": a.subjects_details,
        "categories_donnees": categories,
        "sources": _codes(a.sources),
        "sources_precisions": a.sources_details,
        "collecte_obligatoire": a.mandatory_collection,
        "destinataires": _without_empty(
            {
                "internes": list(a.recipients.internal),
                "externes": list(a.recipients.external),
                "sous_traitants": list(a.recipients.processors),
            }
        ),
        "transferts": transfers,
        "outils": list(a.tools),
        "volume": _volume(a),
        "moyens": _codes(a.means),
        "surveillance": _codes(a.monitoring),
        "croisement_donnees": a.combined_data,
        "exclusion": a.exclusion,
        "usage_innovant": a.innovative,
        "droits": _without_empty(
            {"non_applicables": _codes(a.rights_not_applicable), "precisions": a.rights_details}
        ),
        "decision_automatisee": a.automated_decision,
        "profilage": a.profiling,
        "traitement_algorithmique": algorithm_data(a),
        "aipd": dpia,
        "mention_information": a.information_notice,
        "thematiques": _codes(a.themes),
        "dates": _without_empty(
            {
                "creation": a.dates.created.isoformat() if a.dates.created else None,
                "mise_a_jour": a.dates.updated.isoformat() if a.dates.updated else None,
                "revue": a.dates.reviewed.isoformat() if a.dates.reviewed else None,
                "prochaine_revue": a.dates.next_review.isoformat() if a.dates.next_review else None,
            }
        ),
    }
    found = _without_empty(data)
    if a.dpia is not None:
        found["aipd"] = dpia or {}  # declared, even empty: the record says so
    return found


def algorithm_data(a: Activity) -> dict[str, Any]:
    """The ``traitement_algorithmique`` block in the registers' format (CRPA art. L311-3-1, L312-1-3)."""
    return _without_empty(
        {
            "decisions_individuelles": a.algorithm_individual_decisions,
            "decisions": a.algorithm_decisions,
            "mention": a.algorithm_mention,
            "contribution": a.algorithm_contribution,
            "donnees": a.algorithm_data,
            "parametres": [
                _without_empty({"libelle": p.label, "ponderation": p.weighting})
                for p in a.algorithm_parameters
            ],
            "operations": a.algorithm_operations,
            "regles": a.algorithm_rules,
            "lien": a.algorithm_link,
        }
    )


# --- what the engine computes about an activity and a member ------------------------------------


def screening_data(screening: Screening, activity: Activity) -> dict[str, Any]:
    """The DPIA screening of an activity; its reasons only where the site shows them."""
    found: dict[str, Any] = {"verdict": screening.verdict, "libelle": screening.label}
    if activity.withheld:
        found["motifs_publies"] = False  # as on the member page: the member's choice
        return found
    data = as_data(screening, activity)
    found["enonce"] = data["enonce"]
    found["motifs_publies"] = True
    found["motifs"] = data["raisons"]
    found["criteres_cepd"] = data["criteres_cepd"]
    found["types_liste_cnil"] = data["types_liste_cnil"]
    found["dispense"] = data["dispense"]
    return found


def label_data(
    result: MemberResult, evaluation: Evaluation, shown: frozenset[str], *, dated: bool = True
) -> dict[str, Any]:
    """A member's label: its level and each criterion it misses, as its page shows them.

    Not ``dated``: its date is null, for :func:`with_date` to put in (see DATE_MARK)."""
    unmet: list[dict[str, Any]] = []
    for criterion in result.unmet:
        failures: list[dict[str, Any]] = []
        for failure in result.failures_of(criterion.id):
            if not failure.activity_id:
                failures.append({"activite": None, "details": list(failure.details)})
            elif failure.activity_id in shown:
                failures.append({"activite": failure.activity_id, "details": list(failure.details)})
            else:
                failures.append({"activite": None, "detail_publie": False})
        unmet.append({"id": criterion.id, "titre": criterion.title, "echecs": failures})
    return {
        "titre": evaluation.policy.title,
        "date_evaluation": evaluation.reference_date.isoformat() if dated else None,
        "niveau": result.level.id if result.level else None,
        "niveau_libelle": result.level_title,
        "criteres_non_remplis": unmet,
    }


def member_identity(member: Member) -> dict[str, Any]:
    """A member's public identity: only fields of the public register."""
    return _without_empty(
        {
            "identifiant": member.id,
            "nom": member.name,
            "type": member.kind.code,
            "type_libelle": member.kind.label,
            "secteur": member.sector,
            "siren": member.siren,
            "code_insee": member.insee_code,
            "commune": member.town,
            "rattachement": member.parent_id,
            "site": member.website,
            "publication": member.publication,
        }
    )


# --- CSV ------------------------------------------------------------------------------------

#: The columns of the CSV files: one row per published activity.
COLUMNS = (
    "Identifiant du membre",
    "Membre",
    "Type de membre",
    "SIREN du membre",
    "Commune",
    "Publication du membre",
    "Niveau du label (membre)",
    "Identifiant de l'activité",
    "Activité",
    "Description",
    "Statut de la fiche",
    "Rôle du membre",
    "Modèle",
    "Service",
    "Finalité principale",
    "Finalités secondaires",
    "Base légale",
    "Référence de la base légale",
    "Cadre juridique",
    "Bases légales des finalités secondaires",
    "Canaux de prospection",
    "Conditions des données sensibles",
    "Autorisations préalables",
    "Personnes concernées",
    "Catégories de données",
    "Données sensibles",
    "Durées de conservation",
    "Sources des données",
    "Destinataires internes",
    "Destinataires externes",
    "Sous-traitants",
    "Transferts hors UE",
    "Outils",
    "Nombre de personnes",
    "Enregistrements par an",
    "Nature du traitement",
    "Moyens employés",
    "Surveillance",
    "Droits non applicables",
    "Décision automatisée",
    "Profilage",
    "Décisions individuelles fondées sur un algorithme",
    "Algorithme : décisions concernées",
    "Algorithme : mention portée sur les décisions",
    "Algorithme : contribution à la décision",
    "Algorithme : données et sources",
    "Algorithme : paramètres et pondération",
    "Algorithme : opérations",
    "Algorithme : règles principales",
    "Algorithme : règles publiées",
    "Thématiques",
    "Mention d'information",
    "Création",
    "Mise à jour",
    "Dernière revue",
    "Prochaine revue",
    "État de l'AIPD",
    "Dépistage AIPD",
    "Raisons du dépistage",
    "Critères du label non remplis (activité)",
    "Page",
)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("oui" if value else "non")


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _labels(terms: Iterable[Term]) -> str:
    return LIST_SEPARATOR.join(t.label for t in terms)


def activity_row(
    activity: Activity,
    member: Member,
    level: str,
    screening: Screening,
    unmet: Sequence[str],
    page: str,
) -> dict[str, str]:
    """One CSV row: French labels, lists joined with " ; " (the cells are neutralised by csv_text)."""
    a = activity
    retention = []
    for c in a.categories:
        if c.retention is not None:
            r = c.retention
            how = r.duration_text or r.criteria
            if r.phases:
                total = r.total_duration_text
                how = r.phases_text + (f" ({total} au total)" if total and len(r.phases) > 1 else "")
            if how:
                retention.append(f"{c.kind.label} : {how}")
    if a.transfers is None:
        transfers = ""
    elif not a.transfers:
        transfers = "aucun"
    else:
        transfers = LIST_SEPARATOR.join(f"{t.country.label} ({t.recipient})" for t in a.transfers)
    return {
        "Identifiant du membre": member.id,
        "Membre": member.name,
        "Type de membre": member.kind.label,
        "SIREN du membre": member.siren,
        "Commune": member.town,
        "Publication du membre": "partielle (au choix du membre)" if a.withheld else "complète",
        "Niveau du label (membre)": level,
        "Identifiant de l'activité": a.id,
        "Activité": a.name,
        "Description": a.description,
        "Statut de la fiche": a.status.label if a.status else "",
        "Rôle du membre": a.role.label,
        "Modèle": str(a.model) if a.model else "",
        "Service": a.department,
        "Finalité principale": a.purpose,
        "Finalités secondaires": LIST_SEPARATOR.join(a.secondary_purposes),
        "Base légale": a.legal_basis.basis.label if a.legal_basis else "",
        "Référence de la base légale": a.legal_basis.reference if a.legal_basis else "",
        "Cadre juridique": a.framework.label if a.framework is not None else "",
        "Bases légales des finalités secondaires": LIST_SEPARATOR.join(
            f"{p.purpose} : {p.basis.basis.label}" + (f" ({p.basis.reference})" if p.basis.reference else "")
            for p in a.purposes_with_bases
            if p.own and p.basis is not None
        ),
        "Canaux de prospection": _labels(a.prospecting.channels) if a.prospecting else "",
        "Conditions des données sensibles": _labels(c.condition for c in a.conditions),
        "Autorisations préalables": LIST_SEPARATOR.join(
            f"{x.nature.label} : {x.reference}"
            + (f" du {x.date.isoformat()}" if x.date else "")
            + (f", jusqu'au {x.expires.isoformat()}" if x.expires else "")
            for x in a.authorisations
        ),
        "Personnes concernées": _labels(a.subjects),
        "Catégories de données": _labels(c.kind for c in a.categories),
        "Données sensibles": _labels(c.kind for c in a.sensitive_categories),
        "Durées de conservation": LIST_SEPARATOR.join(retention),
        "Sources des données": _labels(a.sources),
        "Destinataires internes": LIST_SEPARATOR.join(a.recipients.internal),
        "Destinataires externes": LIST_SEPARATOR.join(a.recipients.external),
        "Sous-traitants": LIST_SEPARATOR.join(a.recipients.processors),
        "Transferts hors UE": transfers,
        "Outils": LIST_SEPARATOR.join(a.tools),
        "Nombre de personnes": str(a.volume) if a.volume is not None else "",
        "Enregistrements par an": str(a.records_per_year) if a.records_per_year is not None else "",
        "Nature du traitement": _labels(a.purpose_kinds),
        "Moyens employés": _labels(a.means),
        "Surveillance": _labels(a.monitoring),
        "Droits non applicables": _labels(a.rights_not_applicable),
        "Décision automatisée": _yes_no(a.automated_decision),
        "Profilage": _yes_no(a.profiling),
        "Décisions individuelles fondées sur un algorithme": "oui"
        if a.algorithmic_decisions
        else _yes_no(a.algorithm_individual_decisions),
        "Algorithme : décisions concernées": a.algorithm_decisions,
        "Algorithme : mention portée sur les décisions": a.algorithm_mention,
        "Algorithme : contribution à la décision": a.algorithm_contribution,
        "Algorithme : données et sources": a.algorithm_data,
        "Algorithme : paramètres et pondération": LIST_SEPARATOR.join(
            p.label + (f" ({p.weighting})" if p.weighting else "") for p in a.algorithm_parameters
        ),
        "Algorithme : opérations": a.algorithm_operations,
        "Algorithme : règles principales": a.algorithm_rules,
        "Algorithme : règles publiées": a.algorithm_link,
        "Thématiques": _labels(a.themes),
        "Mention d'information": a.information_notice,
        "Création": _date(a.dates.created),
        "Mise à jour": _date(a.dates.updated),
        "Dernière revue": _date(a.dates.reviewed),
        "Prochaine revue": _date(a.dates.next_review),
        "État de l'AIPD": a.dpia.status.label if a.dpia and a.dpia.status else "",
        "Dépistage AIPD": screening.label,
        "Raisons du dépistage": "" if a.withheld else LIST_SEPARATOR.join(screening.reasons),
        "Critères du label non remplis (activité)": LIST_SEPARATOR.join(unmet),
        "Page": page,
    }


# --- the datasets -----------------------------------------------------------------------------


#: orjson refuses what the standard library refuses too (dates, dataclasses), not convert them.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


#: A member's texts as kept between builds name its label's date so (:func:`label_data` not
#: ``dated``): kept for the days its label stays the same, the date is put in when written.
#: Only the object's own key can give these bytes: in a JSON string every quote is escaped.
DATE_MARK = b'"date_evaluation":null'


def with_date(core: bytes, evaluation: Evaluation | None) -> bytes:
    """A member's JSON object (see :meth:`OpenData._member_texts`) with its label's date."""
    if evaluation is None:
        return core
    day = evaluation.reference_date.isoformat().encode()
    return core.replace(DATE_MARK, b'"date_evaluation":"' + day + b'"', 1)


def _json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON; ``<``, ``>`` and ``&`` written as ``\\u`` escapes (the same text once
    parsed), so that no browser or embedding page ever reads markup in a data file.

    Encoded by orjson (several times faster than the standard library, which takes over for
    what orjson cannot write: integers beyond 64 bits)."""
    try:
        raw = orjson.dumps(data, option=_ORJSON_OPTIONS)
    except TypeError:
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def _json(data: Any) -> str:
    """:func:`_json_bytes`, as text."""
    return _json_bytes(data).decode("utf-8")


@dataclass(frozen=True)
class DataFile:
    """One data file: its size, and its bytes in memory or in a file of the build's store."""

    size: int
    content: bytes | None = None
    path: Path | None = None

    def read(self) -> bytes:
        if self.content is not None:
            return self.content
        assert self.path is not None
        return self.path.read_bytes()


class FileWriter(Protocol):
    """A file of the store written piece by piece (see :class:`dote.cache.StoreWriter`)."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> tuple[Path, int]: ...

    def discard(self) -> None: ...


class FileStore(Protocol):
    """Where a build writes its data files as soon as they are made (see :class:`dote.cache.FileStore`)."""

    def put(self, data: bytes) -> Path | None: ...

    def writer(self) -> FileWriter | None: ...


class _MemoryWriter:
    """A file written piece by piece, kept in memory (a build without a file store)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def discard(self) -> None:
        self.parts.clear()


@dataclass(frozen=True)
class Dataset:
    """One dataset of the catalogue: its files (by path in the site) and what describes it."""

    id: str
    title: str
    description: str
    files: Mapping[str, DataFile]  # path → content, JSON first
    modified: dt.date
    member_id: str = ""
    keywords: tuple[str, ...] = ()


class MemberCache(Protocol):
    """Where a build keeps each member's open-data texts (UTF-8) between builds."""

    def has(self, member_id: str) -> bool: ...

    def get(self, member_id: str) -> bytes | None: ...

    def put(self, member_id: str, texts: bytes) -> None: ...


#: From this many members to compute, forked workers share the work (see :mod:`dote.workers`).
PARALLEL_FROM = 100
#: What forked workers compute from: set just before forking, read in the workers' copy.
_FORKED: tuple[OpenData, Callable[[Activity], Screening]] | None = None


def _forked_member_texts(member_id: str) -> bytes:
    assert _FORKED is not None
    data, screen_of = _FORKED
    member = data.territory.members_by_id[member_id]
    texts = data._member_texts(member, screen_of)
    if data.along is not None:
        data.along(member)
    return texts


@dataclass
class OpenData:
    """The open data of one build: datasets, catalogue and the pages that present them."""

    territory: Territory
    label: Evaluation | None
    site_url: str
    today: dt.date
    internal: bool = False
    #: A build cache for each member's files (the plugin keys it by the member's content
    #: fingerprints): what :meth:`_member_texts` gave for an unchanged member.
    cache: MemberCache | None = None
    #: Where the files are written as they are made, so that a large territory's files
    #: (hundreds of megabytes) are not held in memory until MkDocs writes the site.
    store: FileStore | None = None
    datasets: list[Dataset] = field(default_factory=list)
    catalogue: dict[str, bytes] = field(default_factory=dict)
    #: False: the datasets are made later, by :meth:`build` (the plugin may make them in a
    #: forked process, see :meth:`adopt`).
    build_now: bool = True
    #: Other work on each member whose texts forked workers make (a clean build), done there
    #: while its records are at hand: the plugin keeps the member's dashboard figures
    #: (dashboard.figures_keeper), which the dashboard then reads back.
    along: Callable[[Member], None] | None = None

    def __post_init__(self) -> None:
        self.base = site_base(self.site_url)
        vocabularies = self.territory.vocabularies
        licences = vocabularies["licences"]
        publication = self.territory.maison.raw.get("publication") or {}
        self.licence_given = bool(publication.get("licence")) if isinstance(publication, Mapping) else False
        self.licence = self.territory.maison.licence if self.licence_given else licences[DEFAULT_LICENCE]
        if not self.internal and self.build_now:
            self._build()

    def build(self) -> None:
        """Make the datasets and the catalogue (see ``build_now``; none in an internal build)."""
        if not self.internal:
            self._build()

    def adopt(self, made: tuple[list[Dataset], dict[str, bytes]]) -> None:
        """Take the datasets and catalogue that :meth:`build` made in a forked copy of this object."""
        self.datasets[:], self.catalogue = made

    # --- addresses ---

    def absolute(self, path: str) -> str:
        """``path`` of the site as an absolute address (with ``site_url``), else as it is."""
        return f"{self.base}{path}" if self.base else path

    def licence_data(self) -> dict[str, str]:
        return {
            "code": self.licence.code,
            "libelle": self.licence.label,
            "url": str(self.licence.attr("url", "")),
        }

    # --- building ---

    def _header(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "version_format": FORMAT_VERSION,
            "licence": self.licence_data(),
            "produit_le": self.today.isoformat(),
            "schema_activite": self.absolute("schemas/activite.schema.json"),
            "dictionnaire": self.absolute(DICTIONARY_URL),
        }

    def _processors_data(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The processors named by published activities (``sous_traitants``), sorted by id.

        Only public fields of a processor (``x-visibilite`` of sous-traitant.schema.json):
        its name, SIREN, the countries outside the EEA where it hosts or sends data, and
        the address of its page.
        """
        found: list[dict[str, Any]] = []
        processors = self.territory.processors
        for pid in sorted(set(ids)):
            processor = processors.get(pid)
            if processor is None:
                continue
            entry: dict[str, Any] = {"identifiant": processor.id, "nom": processor.name}
            if processor.siren:
                entry["siren"] = processor.siren
            entry["pays_hors_ue"] = [c.code for c in processor.countries_outside_eea]
            entry["page"] = self.absolute(f"{PROCESSORS_URL}{processor.id}/")
            found.append(entry)
        return found

    def _member_texts(self, member: Member, screen_of: Callable[[Activity], Screening]) -> bytes:
        """A member's JSON object (without the files' header) and CSV, joined by a NUL character.

        One string, so that a build cache can keep it (:attr:`memo`); JSON text never holds a
        raw NUL, so the first one separates the two. The label's date is left to
        :func:`with_date` (see DATE_MARK)."""
        evaluation = self.label
        result = evaluation.members.get(member.id) if evaluation is not None else None
        shown = frozenset(a.id for a in member.activities if not a.withheld)
        level = result.level_title if result is not None else ""
        activities = []
        rows = []
        for activity in member.activities:
            screening = screen_of(activity)  # the label's, else computed: as on the page
            failures = (
                result.activities[activity.id].failures
                if result is not None and activity.id in result.activities
                else ()
            )
            page = self.absolute(f"registres/{member.id}/#{activity.id}")
            entry: dict[str, Any] = {
                "identifiant": activity.id,
                "page": page,
                "activite": activity_data(activity),
                "depistage_aipd": screening_data(screening, activity),
            }
            if result is not None:
                entry["label"] = {
                    "criteres_non_remplis": [
                        {"id": f.criterion.id, "titre": f.criterion.title}
                        | ({} if activity.withheld else {"details": list(f.details)})
                        for f in failures
                    ]
                }
            activities.append(entry)
            rows.append(
                activity_row(activity, member, level, screening, [f.criterion.title for f in failures], page)
            )
        core: dict[str, Any] = {
            "membre": member_identity(member) | {"page": self.absolute(f"registres/{member.id}/")},
            "label": label_data(result, evaluation, shown, dated=False)
            if result is not None and evaluation
            else None,
            "activites_non_publiees": member.unlisted_activities,
            "activites": activities,
        }
        return _json_bytes(core) + b"\0" + csv_text(COLUMNS, rows).encode("utf-8")

    def to_compute(self) -> list[str]:
        """The ids of the members whose texts are not in the cache, in order."""
        cache = self.cache
        return [m.id for m in self.territory.members if cache is None or not cache.has(m.id)]

    def _texts_of_members(self, screen_of: Callable[[Activity], Screening]) -> Iterator[tuple[Member, bytes]]:
        """Each member's texts, in order: from the cache, else computed (by forked workers when
        many), given one after the other so that they are not all held at once."""
        global _FORKED
        missing = self.to_compute()
        computed: Iterator[bytes]
        if len(missing) >= PARALLEL_FROM and workers.available():
            _FORKED = (self, screen_of)
            computed = workers.imap_forked(_forked_member_texts, missing, chunk=16)
        else:
            members = self.territory.members_by_id
            computed = (self._member_texts(members[member_id], screen_of) for member_id in missing)
        try:
            waiting = set(missing)
            for member in self.territory.members:
                if member.id in waiting:
                    texts = next(computed)
                else:
                    assert self.cache is not None
                    kept = self.cache.get(member.id)
                    if kept is not None:
                        yield member, kept
                        continue
                    texts = self._member_texts(member, screen_of)  # its entry was damaged
                if self.cache is not None:
                    self.cache.put(member.id, texts)
                yield member, texts
        finally:
            _FORKED = None

    def _build(self) -> None:
        territory = self.territory
        screen_of = label_context(territory, self.label, "", self.site_url)["screening"]
        header = self._header()
        # "{…" without its closing brace: a member's keys follow.
        header_text = _json(header)[:-1].encode("utf-8")
        csv_head = csv_text(COLUMNS, []).encode("utf-8")
        # The processors every published activity names: known first, for the territory's file
        # is written as the members come (a processor's file may change: computed at every build).
        summaries = {member.id: activity_summaries(member) for member in territory.members}
        named_by = {
            member_id: {pid for s in found for pid in s.processors} for member_id, found in summaries.items()
        }
        maison = territory.maison
        whole = _json(
            header
            | {
                "maison": _without_empty(
                    {
                        "nom": maison.name,
                        "territoire": maison.territory,
                        "siren": maison.siren,
                        "site": maison.website,
                    }
                )
            }
        )[:-1]
        every_named = set().union(*named_by.values())
        all_processors = _json({"sous_traitants": self._processors_data(every_named)})[1:-1]
        territory_json = self._writer()
        territory_csv = self._writer()
        try:
            territory_json.write(f'{whole},{all_processors},"membres":['.encode())
            territory_csv.write(csv_head)
            newest_overall: dt.date | None = None
            for n, (member, texts) in enumerate(self._texts_of_members(screen_of)):
                core_text, member_csv = texts.split(b"\0", 1)
                core_text = with_date(core_text, self.label)
                processors_text = _json({"sous_traitants": self._processors_data(named_by[member.id])})[1:-1]
                territory_json.write(b"," + core_text if n else core_text)
                # The territory's CSV: the members' rows one after the other, under one header.
                territory_csv.write(member_csv.removeprefix(csv_head))
                newest = max((s.newest for s in summaries[member.id] if s.newest is not None), default=None)
                if newest is not None and (newest_overall is None or newest > newest_overall):
                    newest_overall = newest
                self.datasets.append(
                    Dataset(
                        id=f"membre-{member.id}",
                        title=f"Registre des activités de traitement : {member.name}",
                        description=(
                            f"Les activités de traitement de données personnelles que {member.name} publie "
                            "(RGPD, art. 30), avec le dépistage d'analyse d'impact et le label calculés par la Maison."
                        ),
                        files={
                            member_json_path(member.id): self._file(
                                header_text + b"," + processors_text.encode("utf-8") + b"," + core_text[1:]
                            ),
                            member_csv_path(member.id): self._file(member_csv),
                        },
                        modified=newest or self.today,
                        member_id=member.id,
                        keywords=("RGPD", "registre des traitements", member.kind.label),
                    )
                )
            territory_json.write(b"]}")
            territory_files = {
                TERRITORY_JSON: self._close(territory_json),
                TERRITORY_CSV: self._close(territory_csv),
            }
        except BaseException:
            # A full disk, an interrupted build: no temporary file left in the store.
            territory_json.discard()
            territory_csv.discard()
            raise
        self.datasets.insert(
            0,
            Dataset(
                id="territoire",
                title=f"Registres des activités de traitement : {maison.name}",
                description=(
                    f"Toutes les activités de traitement de données personnelles publiées par les membres de "
                    f"{maison.name} ({maison.territory}), avec le dépistage d'analyse d'impact et le label "
                    "calculés par la Maison."
                ),
                files=territory_files,
                modified=newest_overall or self.today,
                keywords=("RGPD", "registre des traitements", "données personnelles"),
            ),
        )
        if self.base:
            self.catalogue = {
                CATALOGUE_JSONLD: _json(self.catalogue_jsonld()).encode("utf-8"),
                CATALOGUE_CSV: self.catalogue_csv().encode("utf-8"),
            }

    def _file(self, data: bytes) -> DataFile:
        path = self.store.put(data) if self.store is not None else None
        return DataFile(len(data), None if path is not None else data, path)

    def _writer(self) -> FileWriter | _MemoryWriter:
        """A file written piece by piece: into the store, else in memory."""
        writer = self.store.writer() if self.store is not None else None
        return writer if writer is not None else _MemoryWriter()

    def _close(self, writer: FileWriter | _MemoryWriter) -> DataFile:
        if isinstance(writer, _MemoryWriter):
            data = b"".join(writer.parts)
            return DataFile(len(data), data)
        path, size = writer.close()
        return DataFile(size, path=path)

    def data_files(self) -> dict[str, DataFile]:
        """Every data file, by path in the site (none in an internal build)."""
        found: dict[str, DataFile] = {}
        for dataset in self.datasets:
            found.update(dataset.files)
        found.update((path, DataFile(len(content), content)) for path, content in self.catalogue.items())
        return found

    def files(self) -> dict[str, bytes]:
        """Every data file's bytes, by path in the site (none in an internal build)."""
        return {path: file.read() for path, file in self.data_files().items()}

    # --- the catalogue ---

    def catalogue_jsonld(self) -> dict[str, Any]:
        """The catalogue as DCAT-AP in JSON-LD (absolute addresses: needs ``site_url``)."""
        maison = self.territory.maison
        publisher = {"@type": "foaf:Agent", "foaf:name": maison.name}
        licence = {"@id": self.licence_data()["url"]} if self.licence.attr("url") else None
        schema = {"@id": self.absolute("schemas/activite.schema.json")}

        def text(value: str) -> dict[str, str]:
            return {"@value": value, "@language": "fr"}

        def date(value: dt.date) -> dict[str, str]:
            return {"@value": value.isoformat(), "@type": "xsd:date"}

        datasets = []
        for dataset in self.datasets:
            distributions = []
            for path, file in dataset.files.items():
                kind = _FORMATS[path.rsplit(".", 1)[1]]
                distribution: dict[str, Any] = {
                    "@id": self.absolute(path),
                    "@type": "dcat:Distribution",
                    "dct:title": text(f"{dataset.title} ({kind.name})"),
                    "dcat:downloadURL": {"@id": self.absolute(path)},
                    "dcat:accessURL": {"@id": self.absolute(DATA_URL)},
                    "dcat:mediaType": {"@id": kind.media_type_uri},
                    "dct:format": {"@id": kind.format_uri},
                    "dcat:byteSize": {"@value": str(file.size), "@type": "xsd:nonNegativeInteger"},
                    "dct:modified": date(dataset.modified),
                    "dct:conformsTo": schema
                    if kind.name == "JSON"
                    else {"@id": self.absolute(DICTIONARY_URL)},
                }
                if licence:
                    distribution["dct:license"] = licence
                distributions.append(distribution)
            entry: dict[str, Any] = {
                "@id": self.absolute(f"{DATA_URL}#{dataset.id}"),
                "@type": "dcat:Dataset",
                "dct:identifier": dataset.id,
                "dct:title": text(dataset.title),
                "dct:description": text(dataset.description),
                "dct:modified": date(dataset.modified),
                "dct:publisher": publisher,
                "dct:language": {"@id": _LANGUAGE},
                "dcat:keyword": [text(k) for k in dataset.keywords],
                "dcat:landingPage": {
                    "@id": self.absolute(f"registres/{dataset.member_id}/" if dataset.member_id else DATA_URL)
                },
                "dcat:distribution": distributions,
            }
            if licence:
                entry["dct:license"] = licence
            datasets.append(entry)
        catalogue: dict[str, Any] = {
            "@context": _CONTEXT,
            "@id": self.absolute(CATALOGUE_JSONLD),
            "@type": "dcat:Catalog",
            "dct:title": text(f"Données ouvertes de {maison.name}"),
            "dct:description": text(
                f"Les registres des activités de traitement publiés par les membres de {maison.name}."
            ),
            "dct:publisher": publisher,
            "dct:language": {"@id": _LANGUAGE},
            "dct:modified": date(max((d.modified for d in self.datasets), default=self.today)),
            "foaf:homepage": {"@id": self.absolute(DATA_URL)},
            "dcat:dataset": datasets,
        }
        if licence:
            catalogue["dct:license"] = licence
        return catalogue

    def catalogue_csv(self) -> str:
        """The catalogue with the columns of the SCDL "catalogue simplifié".

        Column names from the schema's documentation, version 0.1.2
        (https://schema.data.gouv.fr/scdl/catalogue/0.1.2/documentation.html, OpenDataFrance):
        COLL_NOM … URL, in that order. Written like every CSV of the project (semicolons, BOM).
        """
        maison = self.territory.maison
        rows = []
        for dataset in self.datasets:
            member = self.territory.members_by_id.get(dataset.member_id) if dataset.member_id else None
            formats = ",".join(_FORMATS[p.rsplit(".", 1)[1]].name.lower() for p in dataset.files)
            rows.append(
                {
                    "COLL_NOM": maison.name,
                    "COLL_SIRET": maison.siren,
                    "ID": dataset.id,
                    "TITRE": dataset.title,
                    "DESCRIPTION": dataset.description,
                    "THEME": "Société",
                    "PRODUCTEUR_NOM": member.name if member else maison.name,
                    "PRODUCTEUR_SIRET": member.siren if member else maison.siren,
                    "COUV_SPAT_MAILLE": "commune" if member and member.town else "intercommunalité",
                    "COUV_SPAT_NOM": (member.town if member and member.town else maison.territory),
                    "COUV_TEMP_DEBUT": "",
                    "COUV_TEMP_FIN": "",
                    "DATE_PUBL": self.today.isoformat(),
                    "FREQ_MAJ": "ponctuelle",
                    "DATE_MAJ": dataset.modified.isoformat(),
                    "MOTS_CLES": LIST_SEPARATOR.join(dataset.keywords),
                    "LICENCE": self.licence.label,
                    "NOMBRE_RESSOURCES": str(len(dataset.files)),
                    "FORMAT_RESSOURCES": formats,
                    "URL": self.absolute(
                        f"registres/{dataset.member_id}/" if dataset.member_id else DATA_URL
                    ),
                }
            )
        return csv_text(SCDL_CATALOGUE_COLUMNS, rows)

    # --- the pages ---

    def pages(self, env: jinja2.Environment) -> list[GeneratedPage]:
        def render(url: str) -> str:
            def href(path: str) -> str:
                return (
                    relative_url(url, path).rstrip("/") if not path.endswith("/") else relative_url(url, path)
                )

            return env.get_template("donnees.html").render(
                territory=self.territory,
                data=self,
                datasets=self.datasets,
                members=self.territory.members_by_id,
                sizes=lambda dataset: [
                    (path, _FORMATS[path.rsplit(".", 1)[1]].name, size_fr(file.size))
                    for path, file in dataset.files.items()
                ],
                catalogue=[(path, size_fr(len(content))) for path, content in self.catalogue.items()],
                catalogue_refusal=catalogue_refusal(self.site_url),
                schemas=sorted(published_schemas()),
                href=href,
                href_dictionary=relative_url(url, DICTIONARY_URL),
                licence_url=str(self.licence.attr("url", "")),
                newest=max((d.modified for d in self.datasets), default=None),
            )

        def render_dictionary(url: str) -> str:
            return env.get_template("donnees-dictionnaire.html").render(
                territory=self.territory,
                kinds=dictionary(),
                vocabularies=used_vocabularies(self.territory.vocabularies),
                columns=COLUMNS,
                catalogue_columns=SCDL_CATALOGUE_COLUMNS,
                href_data=relative_url(url, DATA_URL),
                href_schema=lambda name: relative_url(url, f"schemas/{name}").rstrip("/"),
            )

        return [
            GeneratedPage(f"{DATA_URL}index.md", DATA_URL, "Données ouvertes", render, FINGERPRINT),
            GeneratedPage(
                f"{DICTIONARY_URL}index.md", DICTIONARY_URL, "Dictionnaire des données", render_dictionary, ""
            ),
        ]


def size_fr(size: int) -> str:
    """A file size in French: « 812 octets », « 12,3 ko », « 4,1 Mo »."""
    if size < 1000:
        return f"{size} octets"
    if size < 1_000_000:
        return f"{size / 1000:.1f} ko".replace(".", ",")
    return f"{size / 1_000_000:.1f} Mo".replace(".", ",")


@dataclass(frozen=True)
class _Format:
    name: str
    media_type_uri: str
    format_uri: str


_FORMATS = {
    "json": _Format(
        "JSON",
        "http://www.iana.org/assignments/media-types/application/json",
        "http://publications.europa.eu/resource/authority/file-type/JSON",
    ),
    "csv": _Format(
        "CSV",
        "http://www.iana.org/assignments/media-types/text/csv",
        "http://publications.europa.eu/resource/authority/file-type/CSV",
    ),
}
_LANGUAGE = "http://publications.europa.eu/resource/authority/language/FRA"
_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

#: The columns of the SCDL "catalogue simplifié" (schema.data.gouv.fr/scdl/catalogue, 0.1.2).
SCDL_CATALOGUE_COLUMNS = (
    "COLL_NOM",
    "COLL_SIRET",
    "ID",
    "TITRE",
    "DESCRIPTION",
    "THEME",
    "PRODUCTEUR_NOM",
    "PRODUCTEUR_SIRET",
    "COUV_SPAT_MAILLE",
    "COUV_SPAT_NOM",
    "COUV_TEMP_DEBUT",
    "COUV_TEMP_FIN",
    "DATE_PUBL",
    "FREQ_MAJ",
    "DATE_MAJ",
    "MOTS_CLES",
    "LICENCE",
    "NOMBRE_RESSOURCES",
    "FORMAT_RESSOURCES",
    "URL",
)


# --- the data dictionary --------------------------------------------------------------------------

#: The file kinds the dictionary documents, in order, with their French name.
DICTIONARY_KINDS = (
    ("activite", "Activité de traitement (registers/members/<membre>/<activité>.yml)"),
    ("membre", "Membre (registers/members/<membre>/member.yml)"),
    ("modele", "Modèle de traitement (registers/models/<modèle>.yml)"),
    ("sous-traitant", "Sous-traitant (registers/processors/<sous-traitant>.yml)"),
    ("maison", "Maison (registers/maison.yml)"),
)

_VISIBILITY_LABELS = {
    PUBLIC: "publié",
    "membres": "non publié (réservé aux membres)",
    "confidentiel": "non publié (confidentiel)",
}

_REF_TYPES = {
    "date": "date (AAAA-MM-JJ)",
    "url": "adresse web",
    "courriel": "adresse électronique",
    "telephone": "numéro de téléphone",
    "siren": "numéro SIREN (9 chiffres)",
    "identifiant": "identifiant (minuscules et tirets)",
}
_TYPES = {
    "string": "texte",
    "integer": "nombre entier",
    "number": "nombre",
    "boolean": "booléen (true ou false)",
    "object": "bloc de champs",
    "array": "liste",
}


@dataclass(frozen=True)
class FieldDoc:
    """One field of a file kind, as the dictionary shows it (documentation only, never data)."""

    name: str  # dotted path: categories_donnees[].conservation.duree
    title: str
    description: str
    type: str
    vocabulary: str  # a vocabulary's name, or ""
    values: tuple[str, ...]  # the values of a closed list without vocabulary
    visibility: str
    depth: int


def _type_of(node: Mapping[str, Any]) -> str:
    for step in schema_chain(node):
        ref = step.get("$ref")
        if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in _REF_TYPES:
            return _REF_TYPES[ref.rsplit("/", 1)[-1]]
        if "type" in step:
            kind = step["type"]
            if kind == "array":
                items = step.get("items")
                inner = _type_of(items) if isinstance(items, Mapping) else ""
                return f"liste ({inner})" if inner else "liste"
            return _TYPES.get(str(kind), str(kind))
        if "anyOf" in step:
            kinds = [_type_of(b) if "const" not in b else f"« {b['const']} »" for b in step["anyOf"]]
            return " ou ".join(dict.fromkeys(k for k in kinds if k))
        if "const" in step:
            return f"valeur fixe « {step['const']} »"
        if "enum" in step:
            return "code"
    return ""


def _closed_list(node: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The vocabulary of a field (or of its list's items), or the values of its enum."""
    vocabulary = annotation(node, "x-vocabulaire")
    if vocabulary:
        return str(vocabulary), ()
    for step in schema_chain(node):
        items = step.get("items")
        if isinstance(items, Mapping):
            inner = annotation(items, "x-vocabulaire")
            if inner:
                return str(inner), ()
        if "enum" in step:
            return "", tuple(str(v) for v in step["enum"])
        for branch in step.get("anyOf", ()):
            if isinstance(branch, Mapping) and "enum" in branch:
                return "", tuple(str(v) for v in branch["enum"])
    return "", ()


def _properties(node: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for step in schema_chain(node):
        for key, value in step.get("properties", {}).items():
            found.setdefault(key, value)
    return found


def _walk(
    node: Mapping[str, Any], prefix: str, visibility: str, depth: int, skip: frozenset[str]
) -> Iterable[FieldDoc]:
    for key, prop in _properties(node).items():
        name = f"{prefix}{key}"
        shown = annotation(prop, "x-visibilite") or visibility
        vocabulary, values = _closed_list(prop)
        yield FieldDoc(
            name=name,
            title=str(annotation(prop, "title") or ""),
            description=str(annotation(prop, "description") or ""),
            type=_type_of(prop),
            vocabulary=vocabulary,
            values=values,
            visibility=_VISIBILITY_LABELS.get(str(shown), str(shown)),
            depth=depth,
        )
        if key in skip:
            continue
        children = _properties(prop)
        if children:
            yield from _walk(prop, f"{name}.", shown, depth + 1, frozenset())
            continue
        for step in schema_chain(prop):
            items = step.get("items")
            if isinstance(items, Mapping) and _properties(items):
                yield from _walk(items, f"{name}[].", shown, depth + 1, frozenset())
                break
            # Items that are a text or a block (a secondary purpose with its own legal basis).
            blocks = [
                b
                for n in (schema_chain(items) if isinstance(items, Mapping) else ())
                for b in n.get("anyOf", ())
                if isinstance(b, Mapping) and _properties(b)
            ]
            if blocks:
                yield from _walk(blocks[0], f"{name}[].", shown, depth + 1, frozenset())
                break
            branches = [b for b in step.get("anyOf", ()) if isinstance(b, Mapping)]
            objects = [
                inner
                for b in branches
                for inner in [b.get("items", b)]
                if isinstance(inner, Mapping) and _properties(inner)
            ]
            if objects:
                suffix = "[]." if any("items" in b for b in branches) else "."
                yield from _walk(objects[0], f"{name}{suffix}", shown, depth + 1, frozenset())
                break


def dictionary() -> list[tuple[str, str, list[FieldDoc]]]:
    """Every documented file kind: ``(kind, French title, fields)``, from the compiled schemas."""
    schemas = compiled_schemas()
    found = []
    for kind, title in DICTIONARY_KINDS:
        # ``retirer`` edits a model's lists: resolved activities never carry it.
        fields = list(_walk(schemas[KINDS[kind]], "", PUBLIC, 0, frozenset({"retirer"})))
        found.append((kind, title, fields))
    return found


def used_vocabularies(vocabularies: Vocabularies) -> list[Any]:
    """The vocabularies the documented schemas name, in the order of their names."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, Mapping):
            if "x-vocabulaire" in node:
                names.add(str(node["x-vocabulaire"]))
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    schemas = compiled_schemas()
    for kind, _ in DICTIONARY_KINDS:
        visit(schemas[KINDS[kind]])
    visit(schemas[SHARED])
    return [vocabularies[name] for name in sorted(names) if name in vocabularies]
