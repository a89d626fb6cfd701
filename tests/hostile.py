"""Hostile register content, and the search for live markup in a built site.

:func:`plant_payload` rewrites a territory so that every string of every register file
that validation lets through carries :data:`PAYLOAD` (script tags, event attributes,
``javascript:``/``data:`` links, a Jinja expression, quotes that close attributes…).
:func:`live_markup` then reads every file of the built site and lists what became live
markup instead of text. :func:`browser_check` opens the site in a headless Chromium and
reports any execution of the payload.

Every payload calls ``dotexss()`` (:data:`MARKER`): a page where it runs, or a file where
it sits inside a script or an event attribute, is a defect.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import gzip
import http.server
import io
import json
import os
import re
import sys
import threading
import zipfile
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

import pypdf
import pytest
import yaml
from lxml import etree

from dote.load import JsonPath, load_file
from dote.pipeline import run
from dote.problems import Problem

MARKER = "dotexss"
#: What the Jinja expression of the payload evaluates to; the payload never contains it.
JINJA_TOKEN = "dotexssjinjaeval"
#: One line, appended to every string: each piece tries another way to become live markup
#: (the bare marker word first, so that the site's search finds it).
PAYLOAD = (
    " dotexss <script>dotexss()</script> <img src=x onerror=dotexss()>"
    " [clic](javascript:dotexss()) [d](data:text/html,<script>dotexss()</script>)"
    " {{ 'dotexssjin' ~ 'jaeval' }} {% raw %}"
    " \" onmouseover=\"dotexss() ' onfocus='dotexss()"
    " </title><script>dotexss()</script> ]]> | cellule |"
    ' {: onclick="dotexss()"}'
)
assert JINJA_TOKEN not in PAYLOAD and "\n" not in PAYLOAD

#: Replacements tried, in this order, for a URL that refuses the suffix (validation checks URLs).
HOSTILE_URLS = (
    'https://x.example/)[clic](javascript:dotexss())"onmouseover="dotexss()',
    "https://x.example/)[clic](javascript:dotexss())'onmouseover='dotexss()",
    "javascript:dotexss()",
)
#: The same for an e-mail address, should its pattern ever let quotes or « < » through.
HOSTILE_EMAILS = (
    "\"onmouseover=\"dotexss()'onfocus='dotexss()<img/src=x/onerror=dotexss()>@x.example",
    "dotexss'onmouseover='dotexss()@x.example",
)

KINDS = ("maison", "label", "membre", "activite", "modele", "version", "sous-traitant", "formations")


def file_kind(name: str) -> str | None:
    """The kind of a register file from its name relative to the territory, or ``None``."""
    parts = PurePosixPath(name).parts
    if len(parts) < 2 or parts[0] != "registers" or not name.endswith(".yml"):
        return None
    rest = parts[1:]
    if rest == ("maison.yml",):
        return "maison"
    if rest == ("label.yml",):
        return "label"
    if rest == ("formations.yml",):
        return "formations"
    if len(rest) == 3 and rest[0] == "members":
        return "membre" if rest[2] == "member.yml" else "activite"
    if len(rest) == 2 and rest[0] == "models":
        return "modele"
    if len(rest) == 3 and rest[:2] == ("models", "versions"):
        return "version"
    if len(rest) == 2 and rest[0] == "processors":
        return "sous-traitant"
    return None


def dotted(path: JsonPath) -> str:
    """``("categories_donnees", 0, "description")`` → ``categories_donnees[].description``."""
    text = ""
    for part in path:
        text += "[]" if isinstance(part, int) else ("." if text else "") + part
    return text


# --- planting ------------------------------------------------------------------------


@dataclass
class Leaf:
    """One string of a register file and the hostile values it can take, in order."""

    file: str
    kind: str
    path: JsonPath
    original: str
    candidates: tuple[str, ...]
    index: int = 0  # the candidate in place; len(candidates) means reverted to the original

    @property
    def value(self) -> str:
        return self.candidates[self.index] if self.mutated else self.original

    @property
    def mutated(self) -> bool:
        return self.index < len(self.candidates)

    @property
    def how(self) -> str:
        """``suffix`` (original + PAYLOAD), ``url``, ``email`` or ``original``."""
        if not self.mutated:
            return "original"
        if self.index == 0:
            return "suffix"
        return "email" if "@x.example" in self.value else "url"


@dataclass
class _RegisterFile:
    path: Path
    root: Path
    name: str
    kind: str
    header: str | None
    data: Any

    def write(self, leaves: Collection[Leaf]) -> None:
        for leaf in leaves:
            node = self.data
            for part in leaf.path[:-1]:
                node = node[part]
            node[leaf.path[-1]] = leaf.value
        text = yaml.safe_dump(self.data, allow_unicode=True, sort_keys=False, width=10**6)
        self.path.write_text((self.header or "") + text, encoding="utf-8")
        doc, problems = load_file(self.path, self.name, within=self.root)  # what dote reads is what was meant
        assert doc is not None and doc.data == self.data, (self.name, problems)


@dataclass
class Planting:
    """What :func:`plant` did: every string leaf with the value it kept, and the runs it took."""

    leaves: list[Leaf]
    runs: int = 0
    notes: list[str] = field(default_factory=list)

    def accepted(self, how: Collection[str] = ("suffix", "url", "email")) -> dict[str, list[str]]:
        """Per file kind, the dotted paths of the fields holding a hostile value (sorted, unique)."""
        found: dict[str, set[str]] = {}
        for leaf in self.leaves:
            if leaf.how in how:
                found.setdefault(leaf.kind, set()).add(dotted(leaf.path))
        return {kind: sorted(found[kind]) for kind in KINDS if kind in found}

    def counts(self) -> dict[str, tuple[int, int]]:
        """Per file kind: (hostile leaves, all string leaves)."""
        result: dict[str, tuple[int, int]] = {}
        for leaf in self.leaves:
            kept, total = result.get(leaf.kind, (0, 0))
            result[leaf.kind] = (kept + leaf.mutated, total + 1)
        return result


def _looks_like_email(text: str) -> bool:
    return re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text) is not None


def _candidates(original: str) -> tuple[str, ...]:
    found = [original + PAYLOAD]
    if original.startswith("http"):
        found += HOSTILE_URLS
    if _looks_like_email(original):
        found += HOSTILE_EMAILS
    return tuple(found)


def _string_leaves(data: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _string_leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _string_leaves(value, (*path, i))


def _read_registers(root: Path) -> list[_RegisterFile]:
    files = []
    for path in sorted((root / "registers").rglob("*.yml")):
        name = path.relative_to(root).as_posix()
        kind = file_kind(name)
        if kind is None:
            continue
        doc, problems = load_file(path, name, within=root)
        assert doc is not None, problems
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        header = first + "\n" if first.startswith("#") else None
        files.append(_RegisterFile(path, root, name, kind, header, doc.data))
    return files


class _Planter:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = {f.name: f for f in _read_registers(root)}
        self.leaves = [
            Leaf(f.name, f.kind, path, text, _candidates(text))
            for f in self.files.values()
            for path, text in _string_leaves(f.data)
        ]
        self.by_file: dict[str, list[Leaf]] = {}
        for leaf in self.leaves:
            self.by_file.setdefault(leaf.file, []).append(leaf)
        self.runs = 0
        self.notes: list[str] = []
        self._cache: dict[str, tuple[dict[tuple[int, int], JsonPath], dict[tuple[int, int], JsonPath]]] = {}

    def write(self, names: Collection[str]) -> None:
        for name in names:
            self._cache.pop(name, None)
            self.files[name].write(self.by_file.get(name, []))

    def errors(self) -> list[Problem]:
        self.runs += 1
        assert self.runs < 2000, "plant: too many validation runs"
        result = run(self.root)
        errors = list(result.errors)
        assert errors or result.ok, "invalid territory without an error"
        return errors

    def _positions(
        self, name: str
    ) -> tuple[dict[tuple[int, int], JsonPath], dict[tuple[int, int], JsonPath]]:
        """Where each value and each key of a file starts, now."""
        if name not in self._cache:
            doc = load_file(self.files[name].path, name, within=self.root)[0] if name in self.files else None
            self._cache[name] = (
                ({pos: p for p, pos in doc.values.items()}, {pos: p for p, pos in doc.keys.items()})
                if doc is not None
                else ({}, {})
            )
        return self._cache[name]

    def _where(self, error: Problem) -> tuple[str, JsonPath | None, bool]:
        """The file of an error and the path of the value (or key) it points at, if any."""
        values, keys = self._positions(error.position.file)
        at = (error.position.line, error.position.column)
        if at in values:
            return error.position.file, values[at], False
        if at in keys:
            return error.position.file, keys[at], True
        return error.position.file, None, False

    def _identity(self, error: Problem) -> tuple[object, ...]:
        """An error that stays the same error while other values change (positions shift)."""
        name, path, is_key = self._where(error)
        return (name, is_key, path) if path is not None else (name, error.message)

    def plant(self) -> Planting:
        assert not self.errors(), "the territory must be valid before planting"
        self.write(self.files)
        while errors := self.errors():
            culprits = set()
            for error in errors:
                name, path, is_key = self._where(error)
                leaf = next(
                    (
                        leaf
                        for leaf in self.by_file.get(name, [])
                        if not is_key and leaf.path == path and leaf.mutated
                    ),
                    None,
                )
                if leaf is not None and id(leaf) not in culprits:  # one step per run, even if two errors
                    culprits.add(id(leaf))
                    leaf.index += 1
            if culprits:
                self.write({leaf.file for leaf in self.leaves if id(leaf) in culprits})
                continue
            # Only errors that point at no hostile value (a block, a file, another file):
            # find by bisection a value whose reversal removes the first one.
            self._bisect(errors[0])
        return Planting(self.leaves, self.runs, self.notes)

    def _present(self, identity: tuple[object, ...]) -> bool:
        return any(self._identity(e) == identity for e in self.errors())

    def _set(self, leaves: Collection[Leaf], index: Callable[[Leaf], int]) -> None:
        for leaf in leaves:
            leaf.index = index(leaf)
        self.write({leaf.file for leaf in leaves})

    def _bisect(self, error: Problem) -> None:
        identity = self._identity(error)
        mutated = [leaf for leaf in self.leaves if leaf.mutated]
        saved = {id(leaf): leaf.index for leaf in mutated}
        restore: Callable[[Leaf], int] = lambda leaf: saved[id(leaf)]  # noqa: E731
        revert: Callable[[Leaf], int] = lambda leaf: len(leaf.candidates)  # noqa: E731
        same_file = [leaf for leaf in mutated if leaf.file == error.position.file]
        for pool in (same_file, mutated):
            if not pool:
                continue
            self._set(pool, revert)
            gone = not self._present(identity)
            self._set(pool, restore)
            if gone:
                break
        else:
            raise AssertionError(f"an error that no hostile value explains: {error.text()}")
        while len(pool) > 1:
            half = len(pool) // 2
            for part in (pool[:half], pool[half:]):
                self._set(part, revert)
                gone = not self._present(identity)
                self._set(part, restore)
                if gone:
                    pool = part
                    break
            else:  # only both halves together cause it: give up the first half
                self._set(pool[:half], revert)
                self.notes.append(f"{len(pool[:half])} values reverted together for: {error.text()}")
                return
        leaf = pool[0]
        self.notes.append(f"{leaf.file}:{dotted(leaf.path)} reverted (bisection) for: {error.text()}")
        self._set([leaf], lambda leaf: leaf.index + 1)


def plant(root: Path) -> Planting:
    """Put the payload into every string leaf of every register file of ``root`` that validates."""
    return _Planter(root).plant()


def plant_payload(root: Path) -> dict[str, list[str]]:
    """Plant the payload (see :func:`plant`); per file kind, the dotted paths that accepted it."""
    return plant(root).accepted()


# --- the legal watch ------------------------------------------------------------------------

#: The source of the hostile watch items (its folder under watch/elements/).
WATCH_SOURCE = "source-hostile"
#: What a feed could put in a summary's HTML: sanitised when the item is read.
HOSTILE_SUMMARY_HTML = (
    "<p>Résumé" + PAYLOAD.replace("<", "&lt;") + "</p>"
    '<script>dotexss()</script><img src=x onerror="dotexss()">'
    '<a href="javascript:dotexss()" onclick="dotexss()">lien</a>'
    '<iframe srcdoc="<script>dotexss()</script>"></iframe><svg onload="dotexss()"></svg>'
    '<p style="background:url(javascript:dotexss())" onmouseover="dotexss()">suite</p>'
)


@dataclass(frozen=True)
class HostileWatch:
    """The published watch items :func:`plant_watch` wrote: their titles, comments, and where."""

    titles: tuple[str, ...]
    comments: tuple[str, ...]
    member: str  # a member page listing them
    site_url: str


def plant_watch(root: Path) -> HostileWatch:
    """Give ``root`` a hostile watch source and published items carrying the payload.

    Title, comment, summary (text and HTML), source name and publisher carry :data:`PAYLOAD`;
    the link is a hostile URL the schema accepts. The items share the themes of the first
    activity that has some and name its member and activity, so that member pages list them.
    ``mkdocs.yml`` gets a ``site_url`` if it has none: the feeds are written only with one.
    """
    result = run(root)
    assert result.ok and result.territory is not None, [p.text() for p in result.errors]
    activity = next(a for a in result.territory.activities if a.themes)
    themes = [t.code for t in activity.themes]
    folder = root / "watch"
    sources_path = folder / "sources.yml"
    sources = (
        yaml.safe_load(sources_path.read_text(encoding="utf-8"))
        if sources_path.is_file()
        else {"version_schema": 1, "sources": []}
    )
    sources["sources"].append(
        {
            "id": WATCH_SOURCE,
            "nom": "Source" + PAYLOAD,
            "editeur": "Éditeur" + PAYLOAD,
            "langue": "fr",
            "thematiques": themes,
            "precisions": "Précisions" + PAYLOAD,
        }
    )
    sources_path.parent.mkdir(parents=True, exist_ok=True)
    sources_path.write_text(yaml.safe_dump(sources, allow_unicode=True, sort_keys=False), encoding="utf-8")
    titles, comments = [], []
    # Links the schema accepts (no space, quote or angle bracket) but that try to end a link.
    urls = [u for u in HOSTILE_URLS if re.fullmatch(r"https?://[^\s<>\"]+", u)]
    urls.append("https://x.example/?q=')(javascript:dotexss())&r=`dotexss()`#'onfocus='dotexss()")
    for n, url in enumerate(urls[:2]):
        title = f"Veille {n}{PAYLOAD}"
        comment = f"Commentaire {n}{PAYLOAD}\n\nDeuxième paragraphe{PAYLOAD}"
        item = {
            "version_schema": 1,
            "statut": "publie",
            "commentaire": comment,
            "thematiques": themes,
            "concerne": {
                "membres": [activity.member_id],
                "activites": [f"{activity.member_id}/{activity.id}"],
            },
            "source": WATCH_SOURCE,
            "id": f"hostile-{n}{PAYLOAD}",
            "titre": title,
            "lien": url,
            "date": f"2026-0{n + 1}-15",
            "date_origine": "flux",
            "resume": "Résumé" + PAYLOAD,
            "resume_html": HOSTILE_SUMMARY_HTML,
        }
        path = folder / "elements" / WATCH_SOURCE / f"hostile-{n}.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            yaml.safe_dump(item, allow_unicode=True, sort_keys=False, width=10**6), encoding="utf-8"
        )
        titles.append(title)
        comments.append(comment)
    config = root / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    match = re.search(r"(?m)^site_url:\s*(\S+)", text)
    site_url = match[1] if match else "https://hostile.example/"
    if not match:
        config.write_text(f"site_url: {site_url}\n" + text, encoding="utf-8")
    checked = run(root)
    assert checked.ok, [p.text() for p in checked.errors]
    assert len([i for i in checked.watch.published() if i.source == WATCH_SOURCE]) == len(titles)
    return HostileWatch(tuple(titles), tuple(comments), activity.member_id, site_url)


# --- static check of a built site ----------------------------------------------------------

#: Event attributes the theme itself writes, as (tag, attribute): none today (Material 9.x
#: and the dote templates attach their handlers from scripts). Any other ``on…`` attribute
#: in the output is reported, whether or not it carries the marker.
THEME_EVENT_ATTRIBUTES: frozenset[tuple[str, str]] = frozenset()
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "xlink:href", "poster", "data", "background", "cite", "ping"}
)
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:")
EMBEDDING = frozenset({"img", "iframe", "object", "embed", "svg", "math"})
#: Attributes that are only ever text for the reader: the payload escaped inside them is
#: not live (had it closed the attribute, the parser would show the attributes it added).
TEXT_ATTRIBUTES = frozenset({"alt", "title", "aria-label", "aria-description", "aria-roledescription"})


_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def _scheme_of(url: str) -> str:
    """The scheme a browser would see: surrounding spaces/controls dropped, tabs and newlines removed."""
    text = re.sub(r"[\t\n\r]", "", url.strip(_C0_AND_SPACE))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", text)
    return match.group(1).lower() + ":" if match else ""


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Scanner(HTMLParser):
    """Reports live markup in one HTML/SVG/XML document (or fragment)."""

    def __init__(self, where: str, found: list[str], same_site: Collection[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.where = where
        self.found = found
        self.same_site = same_site
        self.script: list[str] | None = None
        self.script_tag = ""

    def _report(self, why: str, snippet: str) -> None:
        self.found.append(f"{self.where}:{self.getpos()[0]}: {why} — {_short(snippet)}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)
        if tag == "script":
            self.script, self.script_tag = [], self.get_starttag_text() or ""

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self.script is not None:
            text = "".join(self.script)
            if MARKER in text:
                self._report("script element running the payload", self.script_tag + text)
            self.script = None

    def handle_data(self, data: str) -> None:
        if self.script is not None:
            self.script.append(data)
        if JINJA_TOKEN in data:
            self._report("Jinja expression evaluated", data)

    def _element(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        snippet = self.get_starttag_text() or f"<{tag}>"
        for name, raw in attrs:
            value = raw or ""
            if JINJA_TOKEN in value:
                self._report("Jinja expression evaluated", snippet)
            if name.startswith("on"):
                if MARKER in value:
                    self._report(f"event attribute {name} running the payload", snippet)
                elif (tag, name) not in THEME_EVENT_ATTRIBUTES:
                    self._report(f"event attribute {name}", snippet)
            if name in URL_ATTRIBUTES and _scheme_of(value) in DANGEROUS_SCHEMES:
                self._report(f"{_scheme_of(value)} URL in {name}", snippet)
            if (
                tag in EMBEDDING
                and MARKER in value
                and name not in TEXT_ATTRIBUTES
                and not name.startswith("on")
            ):
                self._report(f"<{tag}> with the payload in {name}", snippet)
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            url = urlsplit((attributes["src"] or "").strip())
            if (url.scheme or url.netloc) and not (
                url.scheme in ("http", "https", "") and url.netloc in self.same_site
            ):
                self._report("script from another site", snippet)
        if tag == "meta" and (attributes.get("http-equiv") or "").lower() == "refresh":
            target = re.sub(r"^[^;]*;\s*url\s*=\s*", "", attributes.get("content") or "", flags=re.I)
            if _scheme_of(target.strip("'\"")) in DANGEROUS_SCHEMES:
                self._report("refresh to a dangerous URL", snippet)


def _scan_markup(text: str, where: str, found: list[str], same_site: Collection[str]) -> None:
    scanner = _Scanner(where, found, same_site)
    scanner.feed(text)
    scanner.close()
    if scanner.script is not None:  # a script left open at the end of the text
        scanner.handle_endtag("script")


def _walk_json(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _walk_json(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _walk_json(value, f"{path}[{i}]")


def _scan_json(data: Any, where: str, found: list[str], same_site: Collection[str]) -> None:
    for path, text in _walk_json(data):
        if JINJA_TOKEN in text:
            found.append(f"{where} {path}: Jinja expression evaluated — {_short(text)}")
        elif "<" in text:
            _scan_markup(text, f"{where} {path}", found, same_site)


def _scan_file(name: str, raw: bytes, found: list[str], same_site: Collection[str]) -> None:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".gz":
        try:
            inner = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            found.append(f"{name}: unreadable gzip file — {err}")
            return
        _scan_file(name[: -len(".gz")], inner, found, same_site)
        return
    if raw[:2] == b"\x1f\x8b":  # Pagefind's index files: gzip, the fragments' JSON behind a signature
        try:
            inner = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            found.append(f"{name}: unreadable gzip file — {err}")
            return
        # Pagefind's fragments hold the pages' text (not HTML), which its interface escapes
        # when it shows results: the browser check searches the marker to prove it.
        if JINJA_TOKEN.encode() in inner:
            found.append(f"{name}: Jinja expression evaluated")
        return
    if suffix in (".docx", ".odt"):
        _scan_office(name, raw, found)
        return
    if suffix == ".pdf":
        _scan_pdf(name, raw, found)
        return
    text = raw.decode("utf-8", errors="replace")
    if JINJA_TOKEN in text:
        found.append(f"{name}: Jinja expression evaluated — {_short(_around(text, JINJA_TOKEN))}")
    if name.startswith(OPEN_DATA) and suffix in (".json", ".jsonld", ".csv"):
        _scan_open_data(name, text, suffix, found)
        return
    if suffix in (".html", ".htm", ".svg", ".xml"):
        _scan_markup(text, name, found, same_site)
    elif suffix == ".json":
        try:
            _scan_json(json.loads(text), name, found, same_site)
        except ValueError as err:
            found.append(f"{name}: invalid JSON — {err}")
    elif suffix in (".js", ".map", ".mjs") and MARKER in text:
        data = _json_in_script(text)
        if data is None:
            found.append(f"{name}: payload inside a script — {_short(_around(text, MARKER))}")
        else:  # a data file written as a script (the search index of the offline plugin)
            _scan_json(data, name, found, same_site)
    elif suffix == ".css" and MARKER in text:
        found.append(f"{name}: payload inside a style sheet — {_short(_around(text, MARKER))}")


def _scan_office(name: str, raw: bytes, found: list[str]) -> None:
    """A DOCX or ODT download: well-formed XML parts, the payload only ever as text.

    Text set by the writer is escaped: markup of the payload never becomes an element or
    an attribute; no element outside a namespace, no ``javascript:`` or ``data:`` link.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as err:
        found.append(f"{name}: not a zip archive — {err}")
        return
    with archive:
        for part in archive.namelist():
            if not part.endswith((".xml", ".rels")):
                continue
            data = archive.read(part)
            if JINJA_TOKEN.encode() in data:
                found.append(f"{name}/{part}: Jinja expression evaluated")
            try:
                root = etree.fromstring(data)
            except etree.XMLSyntaxError as err:
                found.append(f"{name}/{part}: invalid XML — {err}")
                continue
            for element in root.iter():
                if not isinstance(element.tag, str):
                    continue
                if not element.tag.startswith("{"):
                    found.append(f"{name}/{part}: element outside any namespace <{element.tag}>")
                for attribute, value in element.attrib.items():
                    if value.strip().lower().startswith(("javascript:", "data:")) or MARKER in str(attribute):
                        found.append(f"{name}/{part}: live attribute {attribute}={_short(value)}")


def _scan_pdf(name: str, raw: bytes, found: list[str]) -> None:
    """A PDF download: no script, no action, the Jinja expression not evaluated."""
    for live in (b"/JavaScript", b"/JS ", b"/Launch", b"/OpenAction"):
        if live in raw:
            found.append(f"{name}: PDF with {live.decode().strip()}")
    text = "".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(raw)).pages)
    if JINJA_TOKEN in text:
        found.append(f"{name}: Jinja expression evaluated")


#: The open-data files (``donnees/``): data for reuse, read by no page of the site. Their
#: strings are the registers' text as written (markup included, as text): they are checked
#: for what would make them dangerous as files instead (see :func:`_scan_open_data`).
OPEN_DATA = "donnees/"
#: What a spreadsheet runs as a formula at the start of a cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _scan_open_data(name: str, text: str, suffix: str, found: list[str]) -> None:
    """An open-data file: valid JSON with no raw ``<`` (so no browser sniffs markup in it),
    or CSV whose cells never start like a formula."""
    if suffix in (".json", ".jsonld"):
        try:
            json.loads(text)
        except ValueError as err:
            found.append(f"{name}: invalid JSON — {err}")
        if "<" in text:
            found.append(f"{name}: raw « < » in a data file — {_short(_around(text, '<'))}")
        return
    for number, row in enumerate(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"), 1):
        for cell in row:
            if cell.startswith(FORMULA_STARTS):
                found.append(f"{name}:{number}: cell starting like a formula — {_short(cell)}")


def _json_in_script(text: str) -> Any:
    """The object or array of ``var name = {...};`` (or of a whole JSON file), else ``None``."""
    match = re.match(r"\s*(?:(?:var|let|const)\s+[\w$]+\s*=\s*)?", text)
    assert match is not None
    try:
        data, end = json.JSONDecoder().raw_decode(text, match.end())
    except ValueError:
        return None
    whole = re.fullmatch(r"\s*;?\s*", text[end:]) is not None
    return data if whole and isinstance(data, dict | list) else None


def _around(text: str, needle: str, width: int = 80) -> str:
    at = text.find(needle)
    return text[max(0, at - width) : at + len(needle) + width]


def live_markup(site: Path, same_site: Collection[str] = ()) -> list[str]:
    """Every place of a built site where the payload (or a theme) put live markup.

    One line per finding: ``FILE:LINE: REASON — SNIPPET`` (JSON: ``FILE PATH:LINE: …``).

    ``same_site`` lists host names whose scripts count as the site's own.
    """
    found: list[str] = []
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        _scan_file(path.relative_to(site).as_posix(), path.read_bytes(), found, same_site)
    return found


# --- browser check ---------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces with the request filter below: no host name resolves but localhost.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


def needs(what: str) -> NoReturn:
    """A missing browser or axe: a failure in CI, a skip on a developer's machine."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} : requis en intégration continue")
    pytest.skip(what)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (for a module-scoped fixture)."""
    if not CHROMIUM.exists():
        needs(f"Chromium absent ({CHROMIUM})")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        yield launched
        launched.close()


_INIT_SCRIPT = (
    "window.dotexss = () => { window.__xss = (window.__xss || 0) + 1 };"
    # What the page's Content-Security-Policy refused: the site's own code needing more, or
    # an injection it stopped; either is a defect.
    "document.addEventListener('securitypolicyviolation', (e) => {"
    " (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')) })"
)
#: Fires mouseover, mouseenter, focus and focusin on every element (not bubbling: an injected
#: handler sits on the element itself, and the theme's delegated handlers stay quiet), and on
#: any element with an ``on…`` attribute, the events it names and a few more, clicks included
#: (clicks and submissions never navigate). Returns the elements whose URL would run code.
_FIRE_EVENTS = """() => {
  const stop = (e) => e.preventDefault();
  const kinds = ['click', 'submit'];
  for (const kind of kinds) window.addEventListener(kind, stop, true);
  const fire = (el, type) => {
    const init = {bubbles: false, cancelable: true};
    const event = /^(mouse|click|dblclick|contextmenu)/.test(type) ? new MouseEvent(type, init)
      : /^(focus|blur)/.test(type) ? new FocusEvent(type, init) : new Event(type, init);
    try { el.dispatchEvent(event); } catch (e) {}
  };
  const extra = ['click', 'dblclick', 'mousedown', 'mouseup', 'mousemove', 'mouseout', 'error',
                 'load', 'input', 'change', 'toggle', 'animationstart', 'transitionend', 'blur'];
  const live = [];
  for (const el of document.querySelectorAll('*')) {
    for (const type of ['mouseover', 'mouseenter', 'focus', 'focusin']) fire(el, type);
    const named = el.getAttributeNames().filter((n) => n.startsWith('on')).map((n) => n.slice(2));
    if (named.length) for (const type of new Set([...named, ...extra])) fire(el, type);
    for (const name of ['href', 'src', 'action', 'formaction', 'xlink:href', 'data']) {
      const value = el.getAttribute(name);
      if (value === null) continue;
      let protocol = '';
      try { protocol = new URL(value, document.baseURI).protocol; } catch (e) { continue; }
      // Pagefind's own search form submits nowhere: the one script URL the theme writes.
      const pagefindForm = el.classList.contains('pagefind-ui__form') && value === 'javascript:void(0);';
      if (!pagefindForm && (protocol === 'javascript:' || protocol === 'vbscript:'
          || (protocol === 'data:' && value.includes('dotexss')))) {
        live.push(el.outerHTML.slice(0, 200));
      }
    }
  }
  for (const kind of kinds) window.removeEventListener(kind, stop, true);
  return live;
}"""


#: Search files (Material's index and worker, Pagefind's bundle): searched apart, once.
_SEARCH_FILES = re.compile(r"/search/search_index\.js(on)?$|/assets/javascripts/workers/|/pagefind/")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser left a page: not an error
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (a free port) from a thread; yields the base URL."""
    server = _Server(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@dataclass
class BrowserReport:
    """What the headless browser saw: one line per execution or live link, and counts."""

    violations: list[str] = field(default_factory=list)
    pages: int = 0
    searched: bool = False  # the site has a search index, and the marker was typed into it
    search_results: int = 0
    blocked: set[str] = field(default_factory=set)  # requests to anything but 127.0.0.1, refused


def browser_check(site: Path, chromium: Path = CHROMIUM, tabs: int = 3) -> BrowserReport:
    """Open every page of ``site`` in headless Chromium, fire events everywhere, search the marker.

    Pages are visited by ``tabs`` tabs at once; nothing but 127.0.0.1 is reachable.
    """
    return asyncio.run(_browser_check(site, chromium, tabs))


async def _browser_check(site: Path, chromium: Path, tabs: int) -> BrowserReport:
    from playwright.async_api import Dialog, Page, Route, async_playwright

    report = BrowserReport()
    queue = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))

    searching = False

    async def only_local(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname != "127.0.0.1":
            report.blocked.add(route.request.url)
            await route.abort()
        elif not searching and _SEARCH_FILES.search(url.path):
            await route.abort()  # indexing the whole site on every page costs seconds: search apart
        else:
            await route.continue_()

    async def new_page(where: list[str]) -> Page:
        page = await context.new_page()

        async def on_dialog(dialog: Dialog) -> None:
            report.violations.append(f"{where[0]}: dialog {dialog.type} — {dialog.message!r}")
            await dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    async def check(page: Page, name: str) -> None:
        live = await page.evaluate(_FIRE_EVENTS)
        await page.wait_for_timeout(50)
        count = await page.evaluate("() => window.__xss || 0")
        if count:
            report.violations.append(f"{name}: dotexss() ran — {count} time(s)")
        refused = await page.evaluate("() => window.__csp || []")
        report.violations.extend(f"{name}: refused by the Content-Security-Policy — {r}" for r in refused)
        report.violations.extend(f"{name}: live link — {unquote(snippet)}" for snippet in live)

    async def visit_all() -> None:
        where = [""]
        page = await new_page(where)
        while queue:
            where[0] = name = queue.pop(0)
            await page.goto(base + name, wait_until="load")
            await check(page, name)
            report.pages += 1
        await page.close()

    async def search() -> None:
        where = [f"search « {MARKER} » (recherche/index.html)"]
        page = await new_page(where)
        await page.goto(base + "recherche/index.html", wait_until="load")
        query = page.locator("input.pagefind-ui__search-input")
        await query.click()
        await query.press_sequentially(MARKER, delay=30)
        results = page.locator(".pagefind-ui__result")
        with contextlib.suppress(PlaywrightTimeout):
            await results.first.wait_for(state="attached", timeout=15_000)
        await page.wait_for_timeout(300)
        report.search_results = await results.count()
        await check(page, where[0])
        await page.close()

    from playwright.async_api import TimeoutError as PlaywrightTimeout

    with serve(site) as base:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium), headless=True, args=list(CHROMIUM_ARGS)
            )
            try:
                context = await browser.new_context(
                    viewport={"width": 1280, "height": 900}, service_workers="block"
                )
                await context.add_init_script(_INIT_SCRIPT)
                await context.route("**/*", only_local)
                await asyncio.gather(*(visit_all() for _ in range(tabs)))
                if (site / "pagefind").is_dir():
                    searching = report.searched = True
                    await search()
            finally:
                await browser.close()
    return report
