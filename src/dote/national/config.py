"""The national configuration file (``national.yml``): the Maisons to harvest, and where.

It is read with the registers' strict YAML loader (:func:`dote.load.load_file`: one
document, no anchors, no tags, positions kept) and checked against :data:`SCHEMA`, a
small JSON Schema kept here rather than in ``dote/schemas/`` (that folder holds the
registers' format, published to editors and to every Maison's site; this file is the
national view's own). Every problem is a :class:`~dote.problems.Problem` with the file,
line and column, in French; :func:`load` raises :class:`ConfigError` carrying them all.

Example::

    version_schema: 1
    nom: Registre national des Maisons DOTE
    site_url: https://national.example.org/   # optional
    moisson: moisson                           # optional, relative to this file
    delai: 20                                  # optional, seconds per request
    maisons:
      - id: val-exemple
        nom: Maison DOTE du Val d'Exemple      # optional
        site: https://dote.example.org/
      - id: autre
        dossier: ../autre/site                 # a built site's folder (tests, offline use)
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

import jsonschema

from dote.load import Document, load_file
from dote.national.model import MaisonSource, NationalConfig
from dote.problems import Position, Problem, sort_problems
from dote.schema import _translate
from dote.vocabulary import load_vocabularies

#: The harvest folder when the file names none (beside the file).
DEFAULT_HARVEST_DIR = "moisson"
DEFAULT_TIMEOUT = 20.0

_SLUG = "^[a-z0-9]+(-[a-z0-9]+)*$"
_TEXT = {"type": "string", "minLength": 1}

#: The configuration's JSON Schema (draft 2020-12), with the project's French annotations
#: (``title``, ``x-erreur``) read by :func:`dote.schema._translate`. Addresses and folders
#: are checked after it (:func:`site_address`, the folder's existence).
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Configuration de la vue nationale des Maisons DOTE",
    "type": "object",
    "required": ["version_schema", "nom", "maisons"],
    "properties": {
        "version_schema": {
            "title": "Version du format de ce fichier",
            "const": 1,
            "x-erreur": "la seule version de ce format est 1",
        },
        "nom": {"title": "Nom du site national", **_TEXT},
        "site_url": {"title": "Adresse publique du site national", **_TEXT},
        "moisson": {"title": "Dossier de la moisson (relatif à ce fichier)", **_TEXT},
        "delai": {"title": "Délai par requête, en secondes", "type": "number"},
        "editeur": {
            "title": "Éditeur du site national (nommé par ses pages légales)",
            "type": "object",
            "required": ["nom", "contact"],
            "properties": {
                "nom": {"title": "Nom de l'éditeur", **_TEXT},
                "contact": {"title": "Adresse électronique ou page de contact de l'éditeur", **_TEXT},
            },
            "additionalProperties": False,
        },
        "maisons": {
            "title": "Les Maisons DOTE moissonnées",
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {
                        "title": "Identifiant de la Maison",
                        "type": "string",
                        "pattern": _SLUG,
                        "x-erreur": "identifiant attendu : minuscules, chiffres et tirets (par exemple "
                        "« val-exemple »)",
                    },
                    "nom": {"title": "Nom de la Maison", **_TEXT},
                    "site": {"title": "Adresse du site de la Maison", **_TEXT},
                    "dossier": {"title": "Dossier d'un site construit (relatif à ce fichier)", **_TEXT},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}

_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
_NOT_IN_URL = re.compile(r"[\s<>\"\\^`{|}\x00-\x1f\x7f]")


class ConfigError(Exception):
    """The configuration file cannot be used: its problems, in reading order (French)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sort_problems(problems)
        super().__init__("\n".join(p.text() for p in self.problems))


def site_address(value: str) -> tuple[str, str]:
    """``value`` as a site's base address (``http(s)://host[:port]/path/``), or ``("", why)``.

    Only an absolute http or https address with a host, without user name, query or
    fragment, is accepted; it is returned ending with ``/``.
    """
    if _NOT_IN_URL.search(value):
        return "", "l'adresse contient un espace ou un caractère interdit"
    try:
        parts = urllib.parse.urlsplit(value)
        port = parts.port
    except ValueError:
        return "", "adresse illisible"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return (
            "",
            "adresse complète attendue, commençant par https:// ou http:// et suivie d'un nom de serveur",
        )
    if parts.username is not None or parts.password is not None:
        return "", "l'adresse ne doit pas contenir d'identifiant ni de mot de passe"
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        return "", "l'adresse d'un site ne doit contenir ni « ? » ni « # »"
    host = parts.hostname.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    path = parts.path or "/"
    if not path.endswith("/"):
        path += "/"
    return f"{parts.scheme.lower()}://{netloc}{path}", ""


_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


def contact_address(value: str) -> tuple[str, str]:
    """``value`` as a link target: ``mailto:`` for an e-mail address, else an http(s) page; or ``("", why)``."""
    value = value.strip()
    if _EMAIL.match(value):
        return "mailto:" + value, ""
    _, why = site_address(value)
    if why:
        return "", "une adresse électronique (nom@exemple.fr) ou une page web (https://…) est attendue"
    return value, ""  # valid: kept as written (site_address would add a slash to a page's path)


def load(path: Path) -> NationalConfig:
    """The configuration in ``path``; raises :class:`ConfigError` with every problem found."""
    name = str(path)
    absolute = Path(path).absolute()
    doc, problems = load_file(absolute, name, within=absolute.parent)
    if doc is None:
        raise ConfigError(problems or [Problem(Position(name), "fichier illisible")])
    if not isinstance(doc.data, dict):
        raise ConfigError(
            [Problem(doc.position(), "le fichier doit être un bloc de clés (version_schema, nom, maisons…)")]
        )
    vocabularies = load_vocabularies()
    for error in _VALIDATOR.iter_errors(doc.data):
        problems.extend(_translate(error, doc, vocabularies))
    if problems:
        raise ConfigError(problems)
    return _config(doc, absolute)


def _config(doc: Document, path: Path) -> NationalConfig:
    data: dict[str, Any] = doc.data
    problems: list[Problem] = []
    base = path.parent
    site_url = ""
    if "site_url" in data:
        site_url, why = site_address(data["site_url"])
        if why:
            problems.append(Problem(doc.position(("site_url",)), f"« site_url » : {why}"))
    timeout = DEFAULT_TIMEOUT
    if "delai" in data:
        timeout = float(data["delai"])
        if not 0 < timeout <= 3600:
            problems.append(
                Problem(
                    doc.position(("delai",)), "« delai » : un nombre de secondes entre 0 et 3600 est attendu"
                )
            )
    publisher = contact = ""
    if "editeur" in data:
        publisher = data["editeur"]["nom"]
        contact, why = contact_address(data["editeur"]["contact"])
        if why:
            problems.append(Problem(doc.position(("editeur", "contact")), f"« contact » : {why}"))
    maisons: list[MaisonSource] = []
    seen_ids: dict[str, int] = {}
    seen_sites: dict[str, str] = {}
    for index, entry in enumerate(data["maisons"]):
        at = doc.position(("maisons", index))
        ident = entry["id"]
        id_at = doc.position(("maisons", index, "id"))
        if ident in seen_ids:
            problems.append(
                Problem(
                    id_at,
                    f"identifiant de Maison « {ident} » en double (déjà utilisé ligne {seen_ids[ident]})",
                    "chaque Maison a son propre identifiant : il nomme son dossier de moisson",
                )
            )
        else:
            seen_ids[ident] = id_at.line
        has_site, has_folder = "site" in entry, "dossier" in entry
        if has_site == has_folder:
            problems.append(
                Problem(
                    at,
                    f"Maison « {ident} » : indiquez soit « site » (l'adresse de son site), soit « dossier » "
                    "(un site construit, sur ce disque), et un seul des deux",
                )
            )
            continue
        if has_site:
            site, why = site_address(entry["site"])
            if why:
                problems.append(Problem(doc.position(("maisons", index, "site")), f"« site » : {why}"))
                continue
            if site in seen_sites:
                problems.append(
                    Problem(
                        doc.position(("maisons", index, "site")),
                        f"Maison « {ident} » : même site que la Maison « {seen_sites[site]} » ({site})",
                    )
                )
            seen_sites.setdefault(site, ident)
            maisons.append(MaisonSource(ident, entry.get("nom", ""), site=site))
        else:
            folder = Path(os.path.normpath(base / entry["dossier"]))
            if not folder.is_dir():
                problems.append(
                    Problem(
                        doc.position(("maisons", index, "dossier")),
                        f"« dossier » : dossier introuvable ({folder})",
                        "indiquez le dossier d'un site construit par dote build, relatif à ce fichier",
                    )
                )
                continue
            maisons.append(MaisonSource(ident, entry.get("nom", ""), folder=folder))
    if problems:
        raise ConfigError(problems)
    return NationalConfig(
        path=path,
        name=data["nom"],
        maisons=tuple(maisons),
        harvest_dir=Path(os.path.normpath(base / data.get("moisson", DEFAULT_HARVEST_DIR))),
        site_url=site_url,
        timeout=timeout,
        publisher=publisher,
        contact=contact,
    )
