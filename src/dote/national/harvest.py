"""Harvesting the Maisons (``dote national``): their catalogue and open data, checked and kept.

For each Maison of the configuration, :func:`run` reads ``donnees/catalogue.jsonld``
(DCAT-AP) from its site (or, for tests and offline use, from a built site's folder),
finds the territory's dataset (``dct:identifier`` "territoire") and its JSON
distribution, which must be on the Maison's own site, then reads that JSON. Both with
one shared :mod:`httpx` client: a timeout per request and a deadline per exchange, a
cap on each body, redirects followed only within the Maison's own origin, an honest
User-Agent, and conditional requests (the ETag and Last-Modified of the last answer are
kept in ``etat.json``; a 304 keeps the stored files: status ``inchange``).

Maisons are harvested a few at a time, each independently: a failure is its own
(``injoignable`` for the network or HTTP, ``refuse`` for what it published) and is said
in French; the others go on. An unreachable Maison keeps its last good files, which are
still read (the national site dates them).

What is received is untrusted and checked against the published schemas
(:func:`check_territory`): the format's name and version (1 is read, and reported as
older; a newer one is read for what validates, with a warning), every activity against
``activite.schema.json`` (partial mode for a member publishing "au choix"), every page
address under the Maison's own site. An invalid member or activity is removed and
reported as an ``erreur`` :class:`~dote.national.model.Issue`, never silently dropped.
Once checked, a Maison's data is held in memory reduced to what the national site reads
(:data:`~dote.national.model.SHOWN_ACTIVITY_KEYS`); the kept files hold every byte received.

A Maison whose data holds a field the schemas mark non-public (``x-visibilite``) is
refused as a whole: nothing of this harvest is used, **and its earlier harvest is
deleted too** (a Maison that leaked must not stay on the national site, even dated,
until it publishes clean data again).

The harvest folder (reviewable files, e.g. in a pull request):
``<moisson>/<maison>/catalogue.jsonld`` and ``territoire.json`` exactly as received
(written atomically, only once checked), and ``<moisson>/etat.json`` (sorted keys,
indented, UTC ISO dates). :func:`read` rebuilds the same :class:`Harvest` from these
files alone, checking them again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import httpx

from dote.cache import content_key, engine_fingerprint
from dote.cache import enabled as cache_enabled
from dote.confidential import non_public_keys
from dote.files import write_atomic, write_atomic_bytes
from dote.load import Document
from dote.national.config import site_address
from dote.national.model import (
    SHOWN_ACTIVITY_KEYS,
    Harvest,
    Issue,
    MaisonHarvest,
    MaisonSource,
    NationalConfig,
)
from dote.opendata import CATALOGUE_JSONLD, FORMAT_NAME, FORMAT_VERSION
from dote.schema import validate_document

STATE_FILE = "etat.json"
CATALOGUE_FILE = "catalogue.jsonld"
TERRITORY_FILE = "territoire.json"
#: The largest catalogue and dataset read (more is refused).
MAX_CATALOGUE_BYTES = 2 * 1024 * 1024
MAX_DATASET_BYTES = 512 * 1024 * 1024
#: Maisons harvested at the same time.
CONCURRENCY = 4
MAX_REDIRECTS = 5
#: An exchange (headers and body) may take this many times the per-request timeout: the
#: catalogue is small; the dataset may be large (hundreds of MB for a big territory).
CATALOGUE_TIME_FACTOR = 3
DATASET_TIME_FACTOR = 30
_REDIRECTS = (301, 302, 303, 307, 308)
_JSON_MEDIA_TYPES = ("application/json", "http://www.iana.org/assignments/media-types/application/json")
_NOT_IN_URL = re.compile(r"[\s<>\"\\^`{|}\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
#: Path segments a browser resolves as "this folder" or "the parent" (percent-encoded dots too).
_DOT_SEGMENTS = frozenset({".", "..", "%2e", "%2e%2e", ".%2e", "%2e."})
_SLUG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def user_agent(site_url: str = "") -> str:
    """``maison-dote/VERSION (+URL; vue nationale)``: who harvests, and where to ask."""
    try:
        release = version("maison-dote")
    except PackageNotFoundError:  # pragma: no cover - the package is installed
        release = "dev"
    contact = f"+{site_url}; " if site_url.startswith(("https://", "http://")) else ""
    return f"maison-dote/{release} ({contact}vue nationale des Maisons DOTE)"


# --- French text ---------------------------------------------------------------------------


def date_fr(when: dt.datetime) -> str:
    """« le 1er décembre 2026 à 10 h 42 UTC »."""
    from dote.fragments import date_fr as day_fr  # the sites' one way of writing a day

    when = when.astimezone(dt.UTC)
    return f"le {day_fr(when.date())} à {when.hour} h {when.minute:02d} UTC"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n <= 1 else many}"


def summary(maison: MaisonHarvest) -> str:
    """One French line about a Maison's harvest, for the command line."""
    ident = maison.source.id
    if maison.status == "refuse":
        return f"{ident} : refusée ({maison.reason}) ; rien n'est repris"
    counts = ""
    if maison.territory is not None:
        members = maison.territory.get("membres", [])
        activities = sum(len(m.get("activites", [])) for m in members)
        counts = (
            f", {_plural(len(members), 'membre', 'membres')}, {_plural(activities, 'activité', 'activités')}"
            f" (format {maison.format_version})"
        )
    errors = sum(1 for i in maison.issues if i.severity == "erreur")
    warnings = len(maison.issues) - errors
    notes = ""
    if errors or warnings:
        parts = []
        if errors:
            parts.append(_plural(errors, "élément refusé", "éléments refusés"))
        if warnings:
            parts.append(_plural(warnings, "avertissement", "avertissements"))
        notes = " ; " + ", ".join(parts)
    if maison.status == "a-jour":
        return f"{ident} : à jour{counts}{notes}"
    if maison.status == "inchange":
        return f"{ident} : inchangée depuis la dernière moisson{counts}{notes}"
    line = f"{ident} : injoignable ({maison.reason})"
    if maison.last_success is not None and maison.territory is not None:
        return f"{line} — dernière moisson réussie {date_fr(maison.last_success)}, reprise{counts}{notes}"
    return f"{line} — jamais moissonnée avec succès : absente du site national"


# --- addresses -------------------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    port = parts.port
    scheme = parts.scheme.lower()
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def under(url: object, base: str) -> bool:
    """Whether ``url`` is an http(s) address on ``base``'s origin and under its path.

    A fragment or a query is allowed (an activity's page is ``…/registres/membre/#activite``);
    a user name, a space or a control character is not.
    """
    if not isinstance(url, str) or not base or len(url) > 2000 or _NOT_IN_URL.search(url):
        return False
    if url.startswith(base) and base.endswith("/"):
        # The common case, without parsing (a large territory has 100,000 pages to check):
        # ``base`` is normalised and ends its authority with a slash, so the origin is the
        # same and no user name can follow; only the rest of the path is left to check.
        rest = url[len(base) :].split("#", 1)[0].split("?", 1)[0]
        return not _DOT_SEGMENTS.intersection(rest.lower().split("/"))
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.username is not None or parts.password is not None or _origin(url) != _origin(base):
            return False
        path = parts.path or "/"
    except ValueError:
        return False
    base_path = urllib.parse.urlsplit(base).path
    return path.startswith(base_path) and not _DOT_SEGMENTS.intersection(path.lower().split("/")[1:])


# --- checking what a Maison publishes ----------------------------------------------------------


class Refused(Exception):
    """What a Maison published is refused as a whole (French ``reason``)."""

    def __init__(self, reason: str, *, leaked: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.leaked = leaked


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _printable(text: str) -> str:
    """``text`` without control characters (it is printed on a terminal and kept in etat.json)."""
    return _CONTROL.sub("?", text)


def _ident(value: object) -> str:
    """An identifier as published, shown in a message (cut, printable, never trusted as markup)."""
    text = _printable(value if isinstance(value, str) else repr(value))
    return text if len(text) <= 80 else text[:79] + "…"


def _is_slug(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 200 and set(value) <= _SLUG_CHARS


def dataset_url(catalogue: object, base: str) -> str:
    """The territory dataset's JSON download address from a DCAT JSON-LD catalogue.

    Raises :class:`Refused` when the catalogue has none, or when it is not on the
    Maison's site (``base``: same origin, under its path).
    """
    if not isinstance(catalogue, dict):
        raise Refused("catalogue illisible : un objet JSON-LD est attendu")
    datasets = catalogue.get("dcat:dataset")
    if isinstance(datasets, dict):
        datasets = [datasets]
    if not isinstance(datasets, list):
        raise Refused("catalogue sans jeu de données (dcat:dataset)")
    for dataset in datasets:
        if not isinstance(dataset, dict) or _value(dataset.get("dct:identifier")) != "territoire":
            continue
        distributions = dataset.get("dcat:distribution")
        if isinstance(distributions, dict):
            distributions = [distributions]
        for distribution in distributions if isinstance(distributions, list) else []:
            if not isinstance(distribution, dict):
                continue
            if _value(distribution.get("dcat:mediaType")) not in _JSON_MEDIA_TYPES:
                continue
            url = _value(distribution.get("dcat:downloadURL"))
            if not url:
                raise Refused(
                    "catalogue : la distribution JSON du territoire n'a pas d'adresse (dcat:downloadURL)"
                )
            if not under(url, base):
                raise Refused(
                    f"catalogue : les données du territoire sont annoncées hors du site de la Maison "
                    f"({_ident(url)}, site {base}) : elles ne sont pas lues"
                )
            return url
        raise Refused("catalogue : le jeu de données « territoire » n'a pas de distribution JSON")
    raise Refused("catalogue : pas de jeu de données « territoire »")


def _value(node: object) -> str:
    """A JSON-LD value: a text, or the ``@id`` / ``@value`` of an object."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        return _text(node.get("@id")) or _text(node.get("@value"))
    return ""


def _leak(data: object, kind: str) -> str:
    """The first key of ``data`` that the schemas mark non-public for ``kind``, or ""."""
    if not isinstance(data, dict):
        return ""
    hidden = non_public_keys(kind)
    return next((str(k) for k in data if k in hidden), "")


def _find_leak(territory: dict[str, Any]) -> str:
    """A French sentence naming the first non-public field found, or ""."""
    for member in territory.get("membres") or []:
        if not isinstance(member, dict):
            continue
        identity = member.get("membre")
        member_id = _ident(identity.get("identifiant")) if isinstance(identity, dict) else "?"
        key = _leak(identity, "membre")
        if key:
            return f"publie un champ non public « {key} » (membre {member_id}) : rien n'est repris"
        for entry in member.get("activites") or []:
            if not isinstance(entry, dict):
                continue
            key = _leak(entry.get("activite"), "activite")
            if key:
                return (
                    f"publie un champ non public « {key} » (membre {member_id}, activité "
                    f"{_ident(entry.get('identifiant'))}) : rien n'est repris"
                )
    processors = territory.get("sous_traitants")
    for processor in processors if isinstance(processors, list) else []:
        key = _leak(processor, "sous-traitant")
        if key:
            return (
                f"publie un champ non public « {key} » (sous-traitant "
                f"{_ident(processor.get('identifiant'))}) : rien n'est repris"
            )
    return ""


def check_territory(raw: bytes, base: str) -> tuple[dict[str, Any], int, list[Issue]]:
    """The territory JSON ``raw`` of the Maison whose site is ``base``, checked.

    Returns the data with every invalid member, activity or processor removed, its
    ``version_format`` and the issues found. Raises :class:`Refused` when the whole is
    refused (not JSON, another format, a non-public field).
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise Refused("données du territoire illisibles : ce n'est pas du JSON valide") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise Refused(f"données du territoire dans un autre format que « {FORMAT_NAME} »")
    format_version = data.get("version_format")
    if not isinstance(format_version, int) or isinstance(format_version, bool) or format_version < 1:
        raise Refused("données du territoire sans version de format (version_format) valide")
    if not isinstance(data.get("membres"), list):
        raise Refused("données du territoire sans liste de membres (membres)")
    leak = _find_leak(data)
    if leak:
        raise Refused(leak, leaked=True)
    issues: list[Issue] = []
    if format_version < FORMAT_VERSION:
        issues.append(
            Issue(
                "avertissement",
                f"format de données ouvertes ancien (version {format_version}, cet outil lit la version "
                f"{FORMAT_VERSION}) : il manque les noms des sous-traitants et leurs transferts hors de l'UE ; "
                "les sous-traitants sont montrés par leur identifiant et seuls les transferts déclarés "
                "par les activités sont comptés",
            )
        )
    elif format_version > FORMAT_VERSION:
        issues.append(
            Issue(
                "avertissement",
                f"format plus récent que cet outil (version {format_version}, cet outil lit la version "
                f"{FORMAT_VERSION}) : seul ce qui est valide pour la version {FORMAT_VERSION} est repris ; "
                "mettez à jour Maison DOTE",
            )
        )
    clean = {k: v for k, v in data.items() if k not in ("membres", "sous_traitants", "maison")}
    maison = data.get("maison")
    clean["maison"] = (
        {k: v for k, v in maison.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(maison, dict)
        else {}
    )
    clean["sous_traitants"] = _processors(data.get("sous_traitants"), format_version, base, issues)
    members: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, member in enumerate(data["membres"]):
        kept = _member(member, index, base, seen, issues)
        if kept is not None:
            members.append(kept)
    clean["membres"] = members
    return clean, format_version, issues


#: Where checked territories are kept, beside the harvest folder (safe to delete).
CHECK_CACHE = Path(".cache") / "dote-national"


class _CheckCache:
    """The result of :func:`check_territory` kept by the bytes checked, the site and the engine.

    A Maison that answers « not modified » (or a run with ``--hors-ligne``) gives the same
    bytes again: their reduced data and issues are read back instead of parsing and
    validating the whole file again. Entries not used by a run are removed at its end; a
    damaged entry is ignored. ``DOTE_CACHE=0`` turns it off.
    """

    def __init__(self, harvest_dir: Path) -> None:
        self.folder = harvest_dir.parent / CHECK_CACHE if cache_enabled() else None
        self.used: set[str] = set()
        self.lock = threading.Lock()

    def check(self, raw: bytes, base: str) -> tuple[dict[str, Any], int, list[Issue]]:
        if self.folder is None:
            return check_territory(raw, base)
        key = content_key(engine_fingerprint(), base, raw)
        with self.lock:
            self.used.add(key)
        path = self.folder / f"{key}.json"
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            stored = json.loads(path.read_bytes())
            issues = [Issue(**issue) for issue in stored["problemes"]]
            return stored["territoire"], int(stored["version_format"]), issues
        territory, version, issues = check_territory(raw, base)  # a refusal is not kept
        text = json.dumps(
            {
                "territoire": territory,
                "version_format": version,
                "problemes": [
                    {"severity": i.severity, "message": i.message, "member": i.member, "activity": i.activity}
                    for i in issues
                ],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomic_bytes(path, text.encode("utf-8"))
        return territory, version, issues

    def prune(self) -> None:
        """Remove the entries this run did not use."""
        if self.folder is None or not self.folder.is_dir():
            return
        for entry in self.folder.glob("*.json"):
            if entry.stem not in self.used:
                with contextlib.suppress(OSError):
                    entry.unlink()


def _processors(value: object, format_version: int, base: str, issues: list[Issue]) -> list[dict[str, Any]]:
    if value is None and format_version < 2:
        return []
    if not isinstance(value, list):
        issues.append(Issue("erreur", "liste des sous-traitants (sous_traitants) illisible : non reprise"))
        return []
    kept: list[dict[str, Any]] = []
    for entry in value:
        if (
            not isinstance(entry, dict)
            or not _is_slug(entry.get("identifiant"))
            or not isinstance(entry.get("nom"), str)
            or not isinstance(entry.get("pays_hors_ue", []), list)
            or not all(isinstance(c, str) for c in entry.get("pays_hors_ue", []))
            or not isinstance(entry.get("siren", ""), str)
        ):
            ident = _ident(entry.get("identifiant")) if isinstance(entry, dict) else "?"
            issues.append(Issue("erreur", f"sous-traitant {ident} mal décrit : non repris"))
            continue
        if not under(entry.get("page"), base):
            issues.append(
                Issue(
                    "erreur",
                    f"sous-traitant {entry['identifiant']} : sa page n'est pas sur le site de la Maison : "
                    "non repris",
                )
            )
            continue
        kept.append(entry)
    return kept


def _member(
    member: object, index: int, base: str, seen: set[str], issues: list[Issue]
) -> dict[str, Any] | None:
    identity = member.get("membre") if isinstance(member, dict) else None
    if (
        not isinstance(member, dict)
        or not isinstance(identity, dict)
        or not _is_slug(identity.get("identifiant"))
    ):
        issues.append(Issue("erreur", f"membre n° {index + 1} sans identité lisible : non repris"))
        return None
    member_id: str = identity["identifiant"]
    if member_id in seen:
        issues.append(Issue("erreur", "membre en double : seul le premier est repris", member=member_id))
        return None
    if not isinstance(identity.get("nom"), str) or not identity["nom"].strip():
        issues.append(Issue("erreur", "membre sans nom : non repris", member=member_id))
        return None
    if not under(identity.get("page"), base):
        issues.append(
            Issue(
                "erreur",
                "la page du membre n'est pas sur le site de la Maison : le membre et ses activités ne sont "
                "pas repris",
                member=member_id,
            )
        )
        return None
    activities = member.get("activites")
    if not isinstance(activities, list):
        issues.append(Issue("erreur", "liste des activités illisible : membre non repris", member=member_id))
        return None
    seen.add(member_id)
    partial = identity.get("publication") == "choix"
    kept: list[dict[str, Any]] = []
    activity_ids: set[str] = set()
    for position, entry in enumerate(activities):
        activity = _activity(entry, position, member_id, partial, base, activity_ids, issues)
        if activity is not None:
            kept.append(activity)
    label = member.get("label")
    return {
        "membre": identity,
        "label": {k: label[k] for k in ("niveau", "niveau_libelle") if k in label}
        if isinstance(label, dict)
        else None,
        "activites": kept,
    }


def _activity(
    entry: object,
    position: int,
    member_id: str,
    partial: bool,
    base: str,
    seen: set[str],
    issues: list[Issue],
) -> dict[str, Any] | None:
    if not isinstance(entry, dict) or not _is_slug(entry.get("identifiant")):
        issues.append(
            Issue(
                "erreur",
                f"activité n° {position + 1} sans identifiant lisible : non reprise",
                member=member_id,
            )
        )
        return None
    activity_id: str = entry["identifiant"]
    if activity_id in seen:
        issues.append(
            Issue("erreur", "activité en double : seule la première est reprise", member_id, activity_id)
        )
        return None
    if not under(entry.get("page"), base):
        issues.append(
            Issue(
                "erreur",
                "la page de l'activité n'est pas sur le site de la Maison : activité non reprise",
                member_id,
                activity_id,
            )
        )
        return None
    record = entry.get("activite")
    if not isinstance(record, dict):
        issues.append(
            Issue("erreur", "fiche de l'activité absente : activité non reprise", member_id, activity_id)
        )
        return None
    doc = Document(Path(f"{member_id}/{activity_id}.json"), f"{member_id}/{activity_id}", record)
    problems = validate_document(doc, "activite", partial=partial)
    if problems:
        more = (
            f" (et {_plural(len(problems) - 1, 'autre problème', 'autres problèmes')})"
            if len(problems) > 1
            else ""
        )
        issues.append(
            Issue(
                "erreur",
                f"fiche non conforme au schéma des activités : {_printable(problems[0].message)}{more} ; "
                "activité non reprise",
                member_id,
                activity_id,
            )
        )
        return None
    seen.add(activity_id)
    return _shown_activity(entry, record)


def _shown_activity(entry: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """A checked activity reduced to what the national site reads (:data:`SHOWN_ACTIVITY_KEYS`)."""
    shown = {k: v for k, v in record.items() if k in SHOWN_ACTIVITY_KEYS}
    if isinstance(categories := shown.get("categories_donnees"), list):
        shown["categories_donnees"] = [{"code": c.get("code")} for c in categories if isinstance(c, dict)]
    for key, kept in (("base_legale", "code"), ("aipd", "statut")):
        if isinstance(value := shown.get(key), dict):
            shown[key] = {kept: value[kept]} if kept in value else {}
    screening = entry.get("depistage_aipd")
    return {
        "identifiant": entry["identifiant"],
        "page": entry["page"],
        "activite": shown,
        "depistage_aipd": {k: screening[k] for k in ("verdict", "libelle") if k in screening}
        if isinstance(screening, dict)
        else None,
    }


# --- HTTP ------------------------------------------------------------------------------------


class Unreachable(Exception):
    """No usable answer from a Maison (network, HTTP): French ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Answer:
    """A response read to its end (or a 304), with what conditional requests need."""

    status: int
    url: str
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""


def _network_reason(error: httpx.HTTPError, timeout: float) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"délai dépassé : pas de réponse en {timeout:g} s"
    if isinstance(error, httpx.ConnectError):
        return "connexion impossible : serveur injoignable ou nom inconnu"
    if isinstance(error, httpx.RemoteProtocolError):
        return "réponse HTTP invalide ou interrompue"
    if isinstance(error, httpx.DecodingError):
        return "réponse compressée illisible"
    return f"erreur réseau ({type(error).__name__})"


def _status_reason(status: int, what: str) -> str:
    reasons = {401: "authentification demandée", 403: "accès refusé", 404: f"{what} introuvable"}
    reason = reasons.get(status) or ("erreur du serveur" if status >= 500 else "réponse inattendue")
    if status == 404 and what == "catalogue":
        # The usual cause: the Maison builds its site without site_url (opendata.catalogue_refusal).
        reason += (
            " (une Maison ne publie son catalogue que si l'adresse de son site, « site_url », est "
            "indiquée dans son mkdocs.yml)"
        )
    return f"HTTP {status} : {reason}"


def fetch(
    client: httpx.Client,
    url: str,
    base: str,
    *,
    timeout: float,
    limit: int,
    factor: int,
    what: str,
    etag: str = "",
    last_modified: str = "",
) -> Answer:
    """GET ``url`` (conditionally), following redirects only within ``base``'s origin.

    Raises :class:`Unreachable` (French reason) on a network error, an HTTP error, a
    redirect elsewhere, a body larger than ``limit`` or an exchange longer than
    ``factor`` × ``timeout``.
    """
    headers = {"Accept": "application/ld+json, application/json;q=0.9, */*;q=0.1"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + timeout * factor
    current = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            with client.stream("GET", current, headers=headers, follow_redirects=False) as response:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location", "")
                    target = urllib.parse.urljoin(current, location)
                    if not location or _origin(target) != _origin(base):
                        hint = ""
                        if target.startswith("https://") and base.startswith("http://"):
                            hint = " : le site est passé en https, indiquez son adresse en https:// dans la configuration"
                        raise Unreachable(
                            f"redirection hors du site de la Maison refusée ({_ident(target)}){hint}"
                        )
                    current = target
                    continue
                answer = Answer(
                    response.status_code,
                    current,
                    etag=response.headers.get("etag", ""),
                    last_modified=response.headers.get("last-modified", ""),
                )
                if response.status_code == 304:
                    return answer
                if response.status_code != 200:
                    raise Unreachable(_status_reason(response.status_code, what))
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise Unreachable(_too_large(what, limit))
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise Unreachable(_too_large(what, limit))
                    if time.monotonic() > deadline:
                        raise Unreachable(f"délai dépassé : {what} non reçu en {timeout * factor:g} s")
                    chunks.append(chunk)
                answer.body = b"".join(chunks)
                return answer
        raise Unreachable("trop de redirections")
    except httpx.HTTPError as error:
        raise Unreachable(_network_reason(error, timeout)) from None
    except httpx.InvalidURL:
        raise Unreachable("adresse invalide") from None


def _too_large(what: str, limit: int) -> str:
    return f"{what} trop volumineux (plus de {limit // (1024 * 1024)} Mio)"


# --- the state file ---------------------------------------------------------------------------


def _iso(when: dt.datetime | None) -> str | None:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds") if when is not None else None


def _when(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


@dataclass
class _Record:
    """One Maison's entry of ``etat.json``."""

    status: str = "injoignable"
    attempted: dt.datetime | None = None
    last_success: dt.datetime | None = None
    reason: str = ""
    catalogue_url: str = ""
    dataset_url: str = ""
    catalogue_etag: str = ""
    catalogue_last_modified: str = ""
    dataset_etag: str = ""
    dataset_last_modified: str = ""
    source: str = ""
    issues: list[Issue] = field(default_factory=list)
    format_version: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "statut": self.status,
            "source": self.source,
            "tentative": _iso(self.attempted),
            "derniere_reussite": _iso(self.last_success),
            "motif": self.reason,
            "version_format": self.format_version,
            "catalogue": {
                "url": self.catalogue_url,
                "etag": self.catalogue_etag,
                "last_modified": self.catalogue_last_modified,
            },
            "donnees": {
                "url": self.dataset_url,
                "etag": self.dataset_etag,
                "last_modified": self.dataset_last_modified,
            },
            "problemes": [
                {"gravite": i.severity, "message": i.message, "membre": i.member, "activite": i.activity}
                for i in self.issues
            ],
        }

    @classmethod
    def from_json(cls, data: object) -> _Record:
        """An entry as written by :meth:`to_json`; a value of the wrong type is forgotten."""
        if not isinstance(data, dict):
            return cls()
        catalogue: dict[str, Any] = data["catalogue"] if isinstance(data.get("catalogue"), dict) else {}
        dataset: dict[str, Any] = data["donnees"] if isinstance(data.get("donnees"), dict) else {}
        status = data.get("statut")
        version_ = data.get("version_format")
        return cls(
            status=status if status in ("a-jour", "inchange", "injoignable", "refuse") else "injoignable",
            attempted=_when(data.get("tentative")),
            last_success=_when(data.get("derniere_reussite")),
            reason=_text(data.get("motif")),
            catalogue_url=_text(catalogue.get("url")),
            dataset_url=_text(dataset.get("url")),
            catalogue_etag=_text(catalogue.get("etag")),
            catalogue_last_modified=_text(catalogue.get("last_modified")),
            dataset_etag=_text(dataset.get("etag")),
            dataset_last_modified=_text(dataset.get("last_modified")),
            source=_text(data.get("source")),
            format_version=version_ if isinstance(version_, int) and not isinstance(version_, bool) else None,
        )


def _load_state(folder: Path) -> tuple[dt.datetime | None, dict[str, _Record]]:
    try:
        data = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, {}
    if not isinstance(data, dict):
        return None, {}
    maisons = data.get("maisons")
    records = {str(k): _Record.from_json(v) for k, v in maisons.items()} if isinstance(maisons, dict) else {}
    return _when(data.get("moisson")), records


def _write_state(folder: Path, when: dt.datetime, records: Mapping[str, _Record]) -> None:
    data = {"moisson": _iso(when), "maisons": {k: records[k].to_json() for k in records}}
    write_atomic(folder / STATE_FILE, json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


# --- one Maison --------------------------------------------------------------------------------


def _source_text(source: MaisonSource) -> str:
    return source.site or (str(source.folder) if source.folder else "")


def _site_of(source: MaisonSource, catalogue: object, site: str = "") -> str:
    """The Maison's site: ``site``, else the configured one, else (a folder) the one its catalogue
    declares."""
    if site or source.site:
        return site or source.site
    declared = _value(catalogue.get("@id")) if isinstance(catalogue, dict) else ""
    suffix = CATALOGUE_JSONLD
    if not declared.endswith(suffix):
        raise Refused("catalogue sans adresse propre (@id) se terminant par " + suffix)
    site, why = site_address(declared[: -len(suffix)])
    if why:
        raise Refused(f"catalogue : adresse du site illisible ({why})")
    return site


def _parse_catalogue(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise Refused("catalogue illisible : ce n'est pas du JSON valide") from None


def _read_local(path: Path, limit: int, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise Unreachable(_too_large(what, limit))
        return path.read_bytes()
    except FileNotFoundError:
        raise Unreachable(f"{what} introuvable ({path})") from None
    except OSError as error:
        raise Unreachable(f"{what} illisible ({error.strerror or error})") from None


def _stored(folder: Path, name: str) -> bytes | None:
    try:
        return (folder / name).read_bytes()
    except OSError:
        return None


def _from_files(
    source: MaisonSource, folder: Path, record: _Record, checks: _CheckCache
) -> tuple[dict[str, Any], int, list[Issue]] | None:
    """The last good harvest kept in ``folder``, checked again; None when there is none.

    Its pages are checked against the site the files came from (``record.source``: the
    configuration may have changed since). Raises :class:`Refused` when the kept files no
    longer pass the checks.
    """
    catalogue_raw, territory_raw = _stored(folder, CATALOGUE_FILE), _stored(folder, TERRITORY_FILE)
    if catalogue_raw is None or territory_raw is None:
        return None
    origin = record.source if record.source.startswith(("http://", "https://")) else ""
    base = _site_of(source, _parse_catalogue(catalogue_raw), origin)
    return checks.check(territory_raw, base)


def _forget(folder: Path) -> None:
    """Delete a Maison's kept files (it leaked a non-public field)."""
    for name in (CATALOGUE_FILE, TERRITORY_FILE):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()


def _fetch_kept(
    client: httpx.Client,
    url: str,
    base: str,
    timeout: float,
    kept: bytes | None,
    validators: tuple[str, str],
    limit: int,
    factor: int,
    what: str,
) -> tuple[bytes, bool, tuple[str, str]]:
    """``url``'s body, asked conditionally when a copy is ``kept`` from the same address.

    Returns the bytes (the kept copy on a 304), whether the kept copy was current, and the
    answer's ETag and Last-Modified.
    """
    etag, last_modified = validators if kept is not None else ("", "")
    answer = fetch(
        client,
        url,
        base,
        timeout=timeout,
        limit=limit,
        factor=factor,
        what=what,
        etag=etag,
        last_modified=last_modified,
    )
    if answer.status == 304 and kept is not None:
        return kept, True, (answer.etag, answer.last_modified)
    return answer.body, False, (answer.etag, answer.last_modified)


def _harvest_one(
    client: httpx.Client | None,
    source: MaisonSource,
    previous: _Record,
    harvest_dir: Path,
    now: dt.datetime,
    timeout: float,
    checks: _CheckCache,
) -> tuple[MaisonHarvest, _Record]:
    folder = harvest_dir / source.id
    record = replace(previous, attempted=now, issues=[])
    result = MaisonHarvest(source=source, status="injoignable", attempted=now)
    try:
        if source.folder is not None:
            catalogue_path = source.folder / CATALOGUE_JSONLD
            record.catalogue_url = catalogue_path.as_uri()
            catalogue_raw = _read_local(catalogue_path, MAX_CATALOGUE_BYTES, "catalogue")
            catalogue = _parse_catalogue(catalogue_raw)
            base = _site_of(source, catalogue)
            url = dataset_url(catalogue, base)
            record.dataset_url = url
            relative = urllib.parse.unquote(
                urllib.parse.urlsplit(url).path[len(urllib.parse.urlsplit(base).path) :]
            )
            local = Path(os.path.normpath(source.folder / relative))
            if not local.is_relative_to(source.folder):
                raise Refused("catalogue : données du territoire hors du dossier du site")
            territory_raw = _read_local(local, MAX_DATASET_BYTES, "données du territoire")
            unchanged = catalogue_raw == _stored(folder, CATALOGUE_FILE) and territory_raw == _stored(
                folder, TERRITORY_FILE
            )
        else:
            assert client is not None
            base = source.site
            catalogue_url = base + CATALOGUE_JSONLD
            record.catalogue_url = catalogue_url  # what was tried, even if it fails
            stored_catalogue = _stored(folder, CATALOGUE_FILE)
            catalogue_raw, catalogue_unchanged, validators = _fetch_kept(
                client,
                catalogue_url,
                base,
                timeout,
                stored_catalogue if previous.catalogue_url == catalogue_url else None,
                (previous.catalogue_etag, previous.catalogue_last_modified),
                MAX_CATALOGUE_BYTES,
                CATALOGUE_TIME_FACTOR,
                "catalogue",
            )
            if not catalogue_unchanged:
                record.catalogue_etag, record.catalogue_last_modified = validators
            url = dataset_url(_parse_catalogue(catalogue_raw), base)
            territory_raw, unchanged, validators = _fetch_kept(
                client,
                url,
                base,
                timeout,
                _stored(folder, TERRITORY_FILE) if previous.dataset_url == url else None,
                (previous.dataset_etag, previous.dataset_last_modified),
                MAX_DATASET_BYTES,
                DATASET_TIME_FACTOR,
                "données du territoire",
            )
            record.dataset_url = url
            if not unchanged:
                record.dataset_etag, record.dataset_last_modified = validators
            # A catalogue that changed while the data did not is still kept as received.
            unchanged = unchanged and catalogue_raw == stored_catalogue
        territory, format_version, issues = checks.check(territory_raw, base)
    except Unreachable as failure:
        record.status, record.reason = "injoignable", failure.reason
        result.reason = failure.reason
        try:
            kept = _from_files(source, folder, previous, checks)
        except Refused:
            kept = None  # kept files that no longer pass are not shown
        if kept is not None:
            result.territory, result.format_version, result.issues = kept
            result.older_format = kept[1] < FORMAT_VERSION
        result.last_success = record.last_success
        record.issues = result.issues
        record.format_version = result.format_version
        return result, record
    except Refused as refusal:
        record.status, record.reason = "refuse", refusal.reason
        if refusal.leaked:
            _forget(folder)
            record.catalogue_etag = record.catalogue_last_modified = ""
            record.dataset_etag = record.dataset_last_modified = ""
        record.format_version, record.source = None, _source_text(source)
        result.status, result.reason, result.last_success = "refuse", refusal.reason, record.last_success
        result.issues = [Issue("erreur", refusal.reason)]
        record.issues = result.issues
        return result, record
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic_bytes(folder / CATALOGUE_FILE, catalogue_raw)
    write_atomic_bytes(folder / TERRITORY_FILE, territory_raw)
    status = "inchange" if unchanged else "a-jour"
    record.status, record.reason, record.last_success = status, "", now
    record.source = _source_text(source)
    record.format_version, record.issues = format_version, issues
    result.status, result.last_success = status, now
    result.territory, result.format_version, result.issues = territory, format_version, issues
    result.older_format = format_version < FORMAT_VERSION
    return result, record


def _guarded(
    client: httpx.Client | None,
    source: MaisonSource,
    previous: _Record,
    harvest_dir: Path,
    now: dt.datetime,
    timeout: float,
    checks: _CheckCache,
) -> tuple[MaisonHarvest, _Record]:
    """:func:`_harvest_one`, with any unexpected failure kept to its own Maison."""
    try:
        result, record = _harvest_one(client, source, previous, harvest_dir, now, timeout, checks)
    except Exception as error:  # one Maison never stops the others
        reason = f"erreur inattendue pendant la moisson ({type(error).__name__})"
        record = replace(previous, attempted=now, status="injoignable", reason=reason, issues=[])
        result = MaisonHarvest(source, "injoignable", now, previous.last_success, reason)
    result.catalogue_url, result.dataset_url = record.catalogue_url, record.dataset_url
    return result, record


# --- the whole harvest ---------------------------------------------------------------------------


def run(
    config: NationalConfig,
    *,
    now: dt.datetime | None = None,
    client: httpx.Client | None = None,
    timeout: float | None = None,
) -> Harvest:
    """Harvest every Maison of ``config``; write the harvest folder; the result in config order.

    ``client`` (for tests) replaces the shared client made here; ``timeout`` replaces the
    configuration's ``delai``.
    """
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    delay = timeout if timeout is not None else config.timeout
    folder = config.harvest_dir
    folder.mkdir(parents=True, exist_ok=True)
    _, previous = _load_state(folder)
    checks = _CheckCache(folder)
    owned = client is None and any(m.site for m in config.maisons)
    shared = client
    if owned:
        shared = httpx.Client(
            headers={"User-Agent": user_agent(config.site_url)},
            timeout=httpx.Timeout(delay),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=CONCURRENCY * 2),
        )
    try:
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            futures = [
                pool.submit(
                    _guarded, shared, source, previous.get(source.id, _Record()), folder, when, delay, checks
                )
                for source in config.maisons
            ]
            done = [future.result() for future in futures]
    finally:
        if owned and shared is not None:
            shared.close()
    records = {source.id: record for source, (_, record) in zip(config.maisons, done, strict=True)}
    _write_state(folder, when, records)
    checks.prune()
    return Harvest([maison for maison, _ in done], when)


def read(config: NationalConfig) -> Harvest:
    """The last harvest, rebuilt from the harvest folder alone (no network), checked again.

    A Maison of the configuration that the folder does not know is ``injoignable``
    (never harvested), without data.
    """
    when, records = _load_state(config.harvest_dir)
    checks = _CheckCache(config.harvest_dir)
    maisons: list[MaisonHarvest] = []
    for source in config.maisons:
        record = records.get(source.id)
        if record is None:
            maisons.append(MaisonHarvest(source, "injoignable", reason="pas encore moissonnée"))
            continue
        result = MaisonHarvest(
            source,
            record.status,
            attempted=record.attempted,
            last_success=record.last_success,
            reason=record.reason,
            catalogue_url=record.catalogue_url,
            dataset_url=record.dataset_url,
        )
        if record.status == "refuse":
            result.issues = [Issue("erreur", record.reason)]
        else:
            try:
                kept = _from_files(source, config.harvest_dir / source.id, record, checks)
            except Refused as refusal:
                result.status, result.reason = "refuse", refusal.reason
                result.issues = [Issue("erreur", refusal.reason)]
                kept = None
            if kept is not None:
                result.territory, result.format_version, result.issues = kept
                result.older_format = kept[1] < FORMAT_VERSION
        maisons.append(result)
    checks.prune()
    return Harvest(maisons, when or dt.datetime.now(dt.UTC))
