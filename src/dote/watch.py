"""The legal and technical watch (veille): its sources, its items and their files.

``watch/sources.yml`` lists the sources (feeds, and sources followed by hand). Each item
is one reviewable YAML file, ``watch/elements/SOURCE/FILE.yml``: written by
``dote watch fetch`` (:mod:`dote.watch_fetch`) from a feed, or by an editor for a source
with no feed. An editor publishes an item by setting its ``statut`` to ``publie`` and
writing a comment and themes; only published items reach the site.

This module owns the files: reading and checking them (:func:`load_watch`), and writing
them atomically (:class:`ItemStore`), so that fetching and building share one format.
Everything in an item comes from outside and is untrusted: the summary's HTML is
sanitised with ``nh3`` when it is stored and again when it is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import nh3
import yaml

from dote.files import write_atomic
from dote.load import Document, load_file
from dote.problems import Position, Problem
from dote.schema import validate_document
from dote.vocabulary import slugify

WATCH = "watch"
SOURCES_FILE = "sources.yml"
ITEMS = "elements"
STATE_FILE = "etat.json"

STATUSES = ("a-trier", "publie", "ecarte")
PUBLISHED = "publie"
TO_REVIEW = "a-trier"

#: The HTML a summary may keep: text structure and links, nothing that runs or loads.
ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "cite",
        "code",
        "dd",
        "dl",
        "dt",
        "em",
        "i",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "strong",
        "sub",
        "sup",
        "u",
        "ul",
    }
)
_SAFE_SCHEMES = ("http://", "https://", "mailto:")

Outcome = Literal["nouveau", "mis-a-jour", "inchange"]


@dataclass(frozen=True)
class WatchSource:
    """One followed source: a feed, or (``flux`` empty) a source followed by hand."""

    id: str
    nom: str
    editeur: str
    langue: str
    thematiques: tuple[str, ...]
    flux: str = ""
    precisions: str = ""


@dataclass(frozen=True)
class WatchItem:
    """One item of the watch, as its file says (summary HTML sanitised again)."""

    file: str
    source: str
    id: str
    titre: str
    date: dt.date
    statut: str
    lien: str = ""
    date_origine: str = "flux"
    commentaire: str = ""
    thematiques: tuple[str, ...] = ()
    membres: tuple[str, ...] = ()
    activites: tuple[str, ...] = ()
    resume: str = ""
    resume_html: str = ""
    #: Where each ``concerne`` entry is written (``("membres", 0)`` → position), for errors.
    places: Mapping[tuple[str, int], Position] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def anchor(self) -> str:
        """A stable HTML id for the item on the watch page."""
        return "veille-" + hashlib.sha256(f"{self.source}\0{self.id}".encode()).hexdigest()[:12]

    @property
    def published(self) -> bool:
        return self.statut == PUBLISHED


@dataclass(frozen=True)
class Watch:
    """The territory's watch: its sources by id and all its items."""

    sources: Mapping[str, WatchSource] = field(default_factory=dict)
    items: tuple[WatchItem, ...] = ()

    def published(self) -> list[WatchItem]:
        """The items that reach the site, newest first (ties by title)."""
        chosen = [i for i in self.items if i.published]
        return sorted(chosen, key=lambda i: (-i.date.toordinal(), i.titre.casefold(), i.file))

    def to_review(self) -> list[WatchItem]:
        """The items waiting for an editor, newest first."""
        chosen = [i for i in self.items if i.statut == TO_REVIEW]
        return sorted(chosen, key=lambda i: (-i.date.toordinal(), i.titre.casefold(), i.file))


# --- sanitising ------------------------------------------------------------------------


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        return value if value.strip().lower().startswith(_SAFE_SCHEMES) else None
    return value


def clean_html(html: str) -> str:
    """Untrusted HTML reduced to text structure and absolute http(s)/mailto links.

    No script, style, event handler, frame, form, image (no tracking pixel) nor relative
    link survives; links get ``rel="noopener noreferrer nofollow"``.
    """
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={"a": {"href", "title"}, "abbr": {"title"}},
        url_schemes={"http", "https", "mailto"},
        attribute_filter=_keep_attribute,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


def plain_text(html: str) -> str:
    """The text of untrusted HTML, tags removed, whitespace collapsed."""
    import html as html_module

    bare = nh3.clean(html, tags=set(), strip_comments=True)
    return " ".join(html_module.unescape(bare).split())


# --- reading and checking --------------------------------------------------------------


def _problem(name: str, message: str, hint: str = "", line: int = 1, column: int = 1) -> Problem:
    return Problem(Position(name, line, column), message, hint)


def load_watch(root: Path) -> tuple[Watch, list[Problem]]:
    """The watch of the territory at ``root``, and every problem of its files.

    No ``watch/`` folder, or no ``watch/sources.yml``, is an empty watch. A file with
    problems is left out (its problems say why); the others are kept.
    """
    folder = root / WATCH
    problems: list[Problem] = []
    sources_path = folder / SOURCES_FILE
    if not sources_path.is_file():
        items_folder = folder / ITEMS
        if items_folder.is_dir() and any(items_folder.rglob("*.yml")):
            problems.append(
                _problem(
                    f"{WATCH}/{SOURCES_FILE}",
                    "des éléments de veille existent mais watch/sources.yml est absent",
                    "déclarez-y les sources de la veille",
                )
            )
        return Watch(), problems
    sources, found = _load_sources(sources_path, root)
    problems += found
    items: list[WatchItem] = []
    seen: dict[tuple[str, str], str] = {}
    for path in _item_files(folder / ITEMS):
        name = path.relative_to(root).as_posix()
        doc, found = load_file(path, name, within=root)
        problems += found
        if doc is None:
            continue
        found = validate_document(doc, "veille-element")
        if found:
            problems += found
            continue
        item, found = _item(doc, path, sources)
        problems += found
        if item is None:
            continue
        key = (item.source, item.id)
        if key in seen:
            problems.append(
                _problem(
                    name,
                    f"élément en double : même identifiant que {seen[key]}",
                    "gardez un seul des deux fichiers",
                )
            )
            continue
        seen[key] = name
        items.append(item)
    return Watch(sources=sources, items=tuple(items)), problems


def _item_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and not p.name.startswith(".")
    )


def _load_sources(path: Path, root: Path) -> tuple[dict[str, WatchSource], list[Problem]]:
    name = path.relative_to(root).as_posix()
    doc, problems = load_file(path, name, within=root)
    if doc is None:
        return {}, problems
    problems = validate_document(doc, "veille-sources")
    if problems:
        return {}, problems
    sources: dict[str, WatchSource] = {}
    for index, entry in enumerate(doc.data["sources"]):
        ident = entry["id"]
        if ident in sources:
            line, column = doc.values.get(("sources", index, "id"), (1, 1))
            problems.append(_problem(name, f"source « {ident} » déclarée deux fois", "", line, column))
            continue
        sources[ident] = WatchSource(
            id=ident,
            nom=entry["nom"],
            editeur=entry["editeur"],
            langue=entry["langue"],
            thematiques=tuple(entry.get("thematiques", ())),
            flux=entry.get("flux", ""),
            precisions=entry.get("precisions", ""),
        )
    return sources, problems


def _item(
    doc: Document, path: Path, sources: Mapping[str, WatchSource]
) -> tuple[WatchItem | None, list[Problem]]:
    data = doc.data
    problems: list[Problem] = []
    source = data["source"]
    if sources and source not in sources:
        problems.append(
            Problem(
                doc.position(("source",)),
                f"source inconnue « {source} »",
                "déclarez-la dans watch/sources.yml",
            )
        )
    elif path.parent.name != source:
        problems.append(
            Problem(
                doc.position(("source",)),
                f"cet élément de la source « {source} » est rangé dans le dossier « {path.parent.name} »",
                f"déplacez-le dans watch/{ITEMS}/{source}/",
            )
        )
    if data["statut"] == PUBLISHED:
        if not str(data.get("commentaire", "")).strip():
            problems.append(
                Problem(
                    doc.key_position(("statut",)),
                    "un élément publié doit avoir un commentaire",
                    "expliquez en quelques phrases ce qu'il change pour les membres (champ commentaire)",
                )
            )
        if not data.get("thematiques"):
            problems.append(
                Problem(
                    doc.key_position(("statut",)),
                    "un élément publié doit avoir au moins une thématique",
                    "les thématiques relient l'élément aux activités qu'il concerne",
                )
            )
    if problems:
        return None, problems
    concerned = data.get("concerne") or {}
    places = {
        (kind, index): doc.position(("concerne", kind, index))
        for kind in ("membres", "activites")
        for index in range(len(concerned.get(kind, ())))
    }
    return (
        WatchItem(
            file=doc.name,
            source=source,
            id=str(data.get("id") or "fichier:" + doc.name),
            titre=data["titre"],
            date=dt.date.fromisoformat(data["date"]),
            statut=data["statut"],
            lien=data.get("lien", ""),
            date_origine=data.get("date_origine", "saisie"),
            commentaire=str(data.get("commentaire", "")).strip(),
            thematiques=tuple(data.get("thematiques", ())),
            membres=tuple(concerned.get("membres", ())),
            activites=tuple(concerned.get("activites", ())),
            resume=str(data.get("resume", "")),
            resume_html=clean_html(str(data.get("resume_html", ""))),
            places=places,
        ),
        [],
    )


def check_watch_references(watch: Watch, members: Iterable[str], activities: Iterable[str]) -> list[Problem]:
    """Members and activities named by items (``concerne``) must exist in the registers."""
    known = {"membres": set(members), "activites": set(activities)}
    hints = {
        "membres": ("membre inconnu", "écrivez l'identifiant d'un membre"),
        "activites": ("activité inconnue", "écrivez « membre/activité », par exemple valmont/etat-civil"),
    }
    problems: list[Problem] = []
    for item in watch.items:
        for kind, names in (("membres", item.membres), ("activites", item.activites)):
            for index, name in enumerate(names):
                if name not in known[kind]:
                    what, hint = hints[kind]
                    position = item.places.get((kind, index), Position(item.file))
                    problems.append(Problem(position, f"{what} « {name} »", hint))
    return problems


# --- writing ---------------------------------------------------------------------------


_HEADER = (
    "# yaml-language-server: $schema=../../../schemas/veille-element.schema.json\n"
    "# Élément de veille récupéré par « dote watch fetch ». Pour le publier : statut « publie »,\n"
    "# un commentaire et au moins une thématique. La récupération suivante met à jour titre,\n"
    "# lien et résumé si la source les change, et garde statut, commentaire, thématiques et\n"
    "# membres ou activités concernés. Les commentaires YAML ajoutés ici ne sont pas conservés.\n"
)
_EDITOR_KEYS = ("statut", "commentaire", "thematiques", "concerne")
_FEED_KEYS = ("titre", "lien", "resume", "resume_html")


def item_text(data: Mapping[str, Any]) -> str:
    """The YAML text of an item file (fields in a fixed, readable order)."""
    order = (
        "version_schema",
        *_EDITOR_KEYS,
        "source",
        "id",
        *_FEED_KEYS[:2],
        "date",
        "date_origine",
        "recupere_le",
        "mis_a_jour_le",
        *_FEED_KEYS[2:],
    )
    ordered = {k: data[k] for k in order if k in data and data[k] not in (None, "")}
    ordered.update({k: v for k, v in data.items() if k not in ordered and v not in (None, "")})
    body = yaml.safe_dump(ordered, allow_unicode=True, sort_keys=False, width=100, default_flow_style=None)
    return _HEADER + body


@dataclass(frozen=True)
class FeedEntry:
    """What a feed says of one entry, normalised (see :mod:`dote.watch_fetch`)."""

    id: str
    titre: str
    lien: str = ""
    date: dt.date | None = None
    resume: str = ""
    resume_html: str = ""


class ItemStore:
    """The item files of one source, to add new entries and update known ones.

    An entry is known by its id, or (feeds change their GUIDs) by its link. A file of the
    source that cannot be read makes the store refuse to write (:attr:`problems`): an
    entry it holds could otherwise be added twice.
    """

    def __init__(self, root: Path, source: WatchSource) -> None:
        self.root = root
        self.source = source
        self.folder = root / WATCH / ITEMS / source.id
        self.problems: list[Problem] = []
        self._by_id: dict[str, Path] = {}
        self._by_link: dict[str, Path] = {}
        self._data: dict[Path, dict[str, Any]] = {}
        for path in _item_files(self.folder):
            name = path.relative_to(root).as_posix()
            doc, found = load_file(path, name, within=root)
            if doc is None or not isinstance(doc.data, dict):
                self.problems += found or [_problem(name, "élément de veille illisible")]
                continue
            data = dict(doc.data)
            self._data[path] = data
            if data.get("id"):
                self._by_id[str(data["id"])] = path
            if data.get("lien"):
                self._by_link.setdefault(str(data["lien"]), path)

    def __len__(self) -> int:
        return len(self._data)

    def upsert(self, entry: FeedEntry, today: dt.date) -> Outcome:
        """Add ``entry`` as a new item file, or update the file that already holds it."""
        if self.problems:
            raise RuntimeError("ItemStore refuses to write: some item files could not be read")
        path = self._by_id.get(entry.id) or (self._by_link.get(entry.lien) if entry.lien else None)
        if path is None:
            return self._add(entry, today)
        data = self._data[path]
        fresh = {
            "titre": entry.titre,
            "lien": entry.lien,
            "resume": entry.resume,
            "resume_html": clean_html(entry.resume_html),
        }
        changed = {k: v for k, v in fresh.items() if (data.get(k) or "") != (v or "")}
        if entry.date and data.get("date_origine") == "flux" and data.get("date") != entry.date.isoformat():
            changed["date"] = entry.date.isoformat()
        if data.get("id") != entry.id:
            changed["id"] = entry.id
        if not changed:
            return "inchange"
        data.update(changed)
        data["mis_a_jour_le"] = today.isoformat()
        write_atomic(path, item_text(data))
        self._index(path, data)
        return "mis-a-jour"

    def _add(self, entry: FeedEntry, today: dt.date) -> Outcome:
        date = entry.date or today
        data: dict[str, Any] = {
            "version_schema": 1,
            "statut": TO_REVIEW,
            "thematiques": list(self.source.thematiques),
            "source": self.source.id,
            "id": entry.id,
            "titre": entry.titre,
            "lien": entry.lien,
            "date": date.isoformat(),
            "date_origine": "flux" if entry.date else "premiere-recuperation",
            "recupere_le": today.isoformat(),
            "resume": entry.resume,
            "resume_html": clean_html(entry.resume_html),
        }
        stem = f"{date.isoformat()}-{slugify(entry.titre)[:60].rstrip('-') or 'element'}"
        path = self.folder / f"{stem}.yml"
        counter = 2
        while path.exists() or path in self._data:
            path = self.folder / f"{stem}-{counter}.yml"
            counter += 1
        write_atomic(path, item_text(data))
        self._index(path, data)
        return "nouveau"

    def _index(self, path: Path, data: dict[str, Any]) -> None:
        self._data[path] = data
        self._by_id[str(data["id"])] = path
        if data.get("lien"):
            self._by_link.setdefault(str(data["lien"]), path)
