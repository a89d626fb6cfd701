"""Reading register files: strict YAML that keeps the file, line and column of every value.

The loader accepts a deliberately small YAML: one document per file, no anchors or
aliases (so no alias bombs), no tags, no duplicate keys, UTF-8 only, a bounded size and
depth. Plain scalars follow the YAML 1.2 core schema (only ``true``/``false`` are
booleans, so the country code ``NO`` stays a string) and dates stay strings (the schema
checks them). Every failure is a :class:`~dote.problems.Problem`, never an exception.

Most files take a fast path: the Rust parser ``ryaml`` reads the data, and the positions
are found by the strict loader only if something asks for them (:func:`load_bytes`).
"""

from __future__ import annotations

import errno
import functools
import importlib.metadata
import os
import posixpath
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from dote.files import system_reason
from dote.problems import Position, Problem

try:  # libyaml is much faster; the pure-Python parser gives the same nodes.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_fast_loads: Callable[[str], Any] | None
try:  # A Rust parser (libyaml's grammar, YAML 1.2 scalars): the fast path, see _fast_data.
    from ryaml._ryaml import loads as _fast_loads  # what ryaml.loads is (and is typed as)
except ImportError:  # pragma: no cover - the strict path alone gives the same results
    _fast_loads = None
if not _BaseLoader.__name__.startswith("C"):  # pragma: no cover
    _fast_loads = None  # the fast path reads as libyaml does, not as PyYAML's own scanner

_RESOLVER = yaml.resolver.Resolver()


@functools.lru_cache(maxsize=1 << 16)
def _implicit_tag(kind: str, value: str | None, implicit: tuple[bool, bool]) -> str:
    """PyYAML's tag for an untagged node; the same words recur across a territory's files."""
    tag: str = _RESOLVER.resolve(_NODE_KINDS[kind], value, implicit)  # type: ignore[no-untyped-call]
    return tag


_NODE_KINDS: dict[str, type[yaml.Node]] = {
    kind.__name__: kind for kind in (yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode)
}


class _Loader(_BaseLoader):
    def resolve(self, kind: type[yaml.Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        return _implicit_tag(kind.__name__, value, implicit)


@functools.lru_cache(maxsize=1 << 14)
def _real_folder(folder: Path) -> Path:
    return folder.resolve(strict=True)


@functools.lru_cache(maxsize=1 << 14)
def _folder_within(folder: str, within: Path) -> tuple[str, bool]:
    """The real path of ``folder``, and whether it is really in ``within``."""
    real = _real_folder(Path(folder))
    return str(real), real.is_relative_to(_real_folder(within))


def forget_folders() -> None:
    """Resolve folders afresh: called at the start of every read of a territory (a folder
    replaced by a link between two builds of ``dote serve`` is then seen as a link)."""
    _real_folder.cache_clear()
    _folder_within.cache_clear()


MAX_BYTES = 1024 * 1024
MAX_DEPTH = 40
MAX_NODES = 200_000

JsonPath = tuple[str | int, ...]

_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+)$")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_STANDARD_TAGS = {
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
}


@dataclass(frozen=True)
class Document:
    """One register file: its plain data and where each value and key was written.

    ``values`` and ``keys`` map a path to its line and column. A file read by the fast
    path (see :func:`load_bytes`) gets them lazily: they are found by the strict loader
    the first time a position other than the document's own is asked for.
    """

    path: Path
    name: str
    data: Any
    values: Mapping[JsonPath, tuple[int, int]] = field(default_factory=dict, repr=False)
    keys: Mapping[JsonPath, tuple[int, int]] = field(default_factory=dict, repr=False)

    def position(self, path: JsonPath = ()) -> Position:
        """Where the value at ``path`` starts, or its closest written ancestor."""
        return self._lookup(self.values, path)

    def key_position(self, path: JsonPath) -> Position:
        """Where the key of the entry at ``path`` is written (falls back to the value)."""
        if path in self.keys:
            line, col = self.keys[path]
            return Position(self.name, line, col)
        return self.position(path)

    def _lookup(self, table: Mapping[JsonPath, tuple[int, int]], path: JsonPath) -> Position:
        for end in range(len(path), -1, -1):
            found = table.get(path[:end])
            if found:
                return Position(self.name, *found)
        return Position(self.name, 1, 1)


_Value = TypeVar("_Value")


class ByName(Mapping[str, _Value]):
    """A mapping whose keys are those of :attr:`names` (each key's file name): iterating over
    it, counting or naming its values makes none of them (subclasses make them)."""

    __slots__ = ("names",)

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, key: object) -> bool:
        return key in self.names


class DocumentsOnDemand(ByName[Document]):
    """Documents by id, made when one of them is first read (all at once, by ``make``).

    Their ids and file names (relative to the territory) are known beforehand: iterating over
    the ids, counting them or naming the files (:func:`document_names`) makes nothing. A warm
    build recognises an unchanged member folder as a whole
    (:meth:`dote.cache.DocumentCache.recognise_folder`) and never reads its documents unless
    something asks for their data.
    """

    __slots__ = ("_made", "_make")

    def __init__(self, names: Mapping[str, str], make: Callable[[], Mapping[str, Document]]) -> None:
        super().__init__(names)
        self._make: Callable[[], Mapping[str, Document]] | None = make
        self._made: Mapping[str, Document] | None = None

    def __getitem__(self, key: str) -> Document:
        if self._made is None:
            assert self._make is not None
            self._made, self._make = self._make(), None
        return self._made[key]

    def __eq__(self, other: object) -> bool:
        return dict(self.items()) == (dict(other.items()) if isinstance(other, Mapping) else other)

    __hash__ = None  # type: ignore[assignment]  # a mapping, compared by content


def folder_of(docs: Mapping[str, Document]) -> str:
    """The folder (relative to the territory) of a member's documents, without making them;
    what is kept per member is kept under it."""
    return posixpath.dirname(next(iter(document_names(docs).values())))


def document_names(docs: Mapping[str, Document]) -> Mapping[str, str]:
    """Each document's file name by id, without making documents made on demand."""
    if isinstance(docs, DocumentsOnDemand):
        return docs.names
    return {key: doc.name for key, doc in docs.items()}


def lazy_document(
    path: Path, name: str, data: Any, raw: bytes | Callable[[], bytes], root: tuple[int, int] | None = None
) -> Document:
    """The document of ``raw``, whose data is ``data`` (as :func:`load_bytes` reads it).

    Its positions are found from ``raw`` when first asked for: a file whose positions
    no problem needs never pays for them (the cache and the worker processes keep and
    send the data alone). ``raw`` may be what reads the bytes then (a file the cache
    recognised by its status, not read: :func:`reader_of`). ``root`` is where the
    document's value starts (every record asks for it); without it, it is found from
    ``raw`` without parsing, which is only right for a text the fast path took (see
    :func:`_root_of`).
    """
    source = _Source(raw, path, name, root)
    return Document(path, name, data, _Positions(source, False), _Positions(source, True))


class _Source:
    """The bytes of a document read without positions, and its positions once needed."""

    __slots__ = ("_name", "_path", "_raw", "_root", "_tables")

    def __init__(
        self, raw: bytes | Callable[[], bytes], path: Path, name: str, root: tuple[int, int] | None
    ) -> None:
        self._raw = raw
        self._path = path
        self._name = name
        self._root = root
        self._tables: tuple[Mapping[JsonPath, tuple[int, int]], Mapping[JsonPath, tuple[int, int]]] | None
        self._tables = None

    def tables(self) -> tuple[Mapping[JsonPath, tuple[int, int]], Mapping[JsonPath, tuple[int, int]]]:
        """Value and key positions, by the strict loader (what it would have given at once)."""
        if self._tables is None:
            text, _ = _text_of(self._bytes(), self._name)
            doc = _strict(text, self._path, self._name)[0] if text is not None else None
            self._tables = (doc.values, doc.keys) if doc is not None else ({}, {})
        return self._tables

    def root(self) -> tuple[int, int]:
        if self._root is None:
            self._root = _root_of(self._bytes())
        return self._root

    def _bytes(self) -> bytes:
        if not isinstance(self._raw, bytes):
            self._raw = self._raw()
        return self._raw


# Lines of spaces or a comment, then the spaces before the first written character.
_BEFORE_ROOT = re.compile(rb"(?:\xef\xbb\xbf)?(?:[ ]*(?:#[^\n]*)?\r?\n)*([ ]*)")


def _root_of(raw: bytes) -> tuple[int, int]:
    """Where the value of a text the fast path took starts, without parsing it: its first
    character that is neither a space nor in a comment. (Elsewhere the root may be after a
    document marker or a directive, or a tab or another break may come first.)"""
    match = _BEFORE_ROOT.match(raw)
    assert match is not None  # everything in the expression is optional
    return raw.count(b"\n", 0, match.start(1)) + 1, len(match[1]) + 1


class _Positions(Mapping[JsonPath, tuple[int, int]]):
    """A document's value or key positions, found when first needed (see :func:`lazy_document`)."""

    __slots__ = ("_keys", "_source")

    def __init__(self, source: _Source, keys: bool) -> None:
        self._source = source
        self._keys = keys

    def _table(self) -> Mapping[JsonPath, tuple[int, int]]:
        return self._source.tables()[self._keys]

    def __getitem__(self, path: JsonPath) -> tuple[int, int]:
        if not path and not self._keys:
            return self._source.root()  # every record asks where its file starts
        return self._table()[path]

    def __iter__(self) -> Iterator[JsonPath]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)!r})"


class _Refused(Exception):
    """Internal: a construct the loader refuses, with its node."""

    def __init__(self, node: yaml.Node, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.node = node
        self.message = message
        self.hint = hint


def load_file(path: Path, name: str, *, within: Path) -> tuple[Document | None, list[Problem]]:
    """Read one register file; return its document, or ``None`` and the problems.

    See :func:`read_source` for what is refused before reading, :func:`load_bytes` for
    the parsing.
    """
    raw, problems = read_source(path, name, within=within)
    if raw is None:
        return None, problems
    return load_bytes(raw, path, name)


def read_source(path: Path, name: str, *, within: Path) -> tuple[bytes | None, list[Problem]]:
    """The bytes of one register file, or ``None`` and why it was not read.

    ``within`` is the folder the file must really be in (the territory, or the
    confidential overlay): a symbolic link that leads out of it is refused without
    being opened, so no outside file is published or quoted in an error. The size is
    checked before the file is read.
    """
    raw, problems, _ = read_source_with_status(path, name, within=within)
    return raw, problems


def read_source_with_status(
    path: Path, name: str, *, within: Path
) -> tuple[bytes | None, list[Problem], os.stat_result | None]:
    """:func:`read_source`, with the file's status taken before it was read (``None`` for a
    file reached through a symbolic link, or not read): what :func:`unchanged_status`
    compares with in a later build."""
    try:
        # A link is followed to its target; a file that is no link is where its folder really is.
        linked = os.path.islink(path)
        if linked:
            target = path.resolve(strict=True)
            inside = target.is_relative_to(_real_folder(within))
            real = str(target)
        else:
            folder, inside = _folder_within(os.path.dirname(path), within)
            real = os.path.join(folder, path.name)
        if not inside:
            return (
                None,
                [
                    Problem(
                        Position(name),
                        "lien symbolique vers un fichier hors du territoire : refusé (son contenu n'est pas lu)",
                        "remplacez le lien par le fichier lui-même, dans le dépôt",
                    )
                ],
                None,
            )
        descriptor = os.open(real, os.O_RDONLY | _O_BINARY)
        try:
            found = os.fstat(descriptor)
            size = found.st_size
            if size > MAX_BYTES:
                return None, [_too_large(name, size)], None
            regular = stat.S_ISREG(found.st_mode)
            raw = _read_at_most(descriptor, MAX_BYTES + 1, size, regular)
            return raw, [], found if regular and not linked else None
        finally:
            os.close(descriptor)
    except (OSError, RuntimeError) as err:  # RuntimeError: pathlib's word for a loop of symbolic links
        refusal = err if isinstance(err, OSError) else OSError(errno.ELOOP, str(err))
        return None, [Problem(Position(name), f"fichier illisible : {system_reason(refusal)}")], None


def unchanged_status(path: Path, *, within: Path) -> os.stat_result | None:
    """The status of the register file at ``path`` if it may be recognised by it alone: a
    regular file (no symbolic link) really in ``within``; else ``None``, and the file is
    to be read (:func:`read_source` says why it is refused, if it is)."""
    try:
        found = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode) or not _folder_within(os.path.dirname(path), within)[1]:
        return None
    return found


def folder_statuses(folder: Path, names: Iterable[str], *, within: Path) -> list[os.stat_result] | None:
    """The statuses of the files ``names`` of ``folder`` if they may be recognised by them
    alone (see :func:`unchanged_status`: regular files, the folder really in ``within``);
    else ``None``."""
    text = os.fspath(folder)
    if not _folder_within(text, within)[1]:
        return None
    found = []
    try:
        # Relative to the open folder where the system allows it: one path walk, not one per file.
        descriptor = os.open(text, os.O_RDONLY | _O_DIRECTORY) if _STAT_IN_FOLDER else None
    except OSError:
        return None
    try:
        for name in names:
            if descriptor is not None:
                status = os.stat(name, dir_fd=descriptor, follow_symlinks=False)
            else:
                status = os.lstat(os.path.join(text, name))
            if not stat.S_ISREG(status.st_mode):
                return None
            found.append(status)
    except OSError:
        return None
    finally:
        if descriptor is not None:
            os.close(descriptor)
    return found


_O_DIRECTORY: int = getattr(os, "O_DIRECTORY", 0)
_STAT_IN_FOLDER = (
    os.stat in os.supports_dir_fd and os.stat in os.supports_follow_symlinks and _O_DIRECTORY != 0
)


def reader_of(path: Path, name: str, within: Path) -> Callable[[], bytes]:
    """What reads the bytes of a register file recognised by its status, when they are
    needed after all (the positions of a value a problem names): nothing if it is gone."""

    def read() -> bytes:
        return read_source(path, name, within=within)[0] or b""

    return read


_O_BINARY: int = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def _read_at_most(descriptor: int, limit: int, expected: int, regular: bool = False) -> bytes:
    """Up to ``limit`` bytes of an open file, to its end (``expected``: its size a moment ago;
    ``regular``: a regular file, whose short read is its end)."""
    wanted = min(expected + 1, limit)
    data = os.read(descriptor, wanted)  # not a buffer of ``limit`` bytes for each file
    if regular and len(data) < wanted:  # no second call to find the end
        return data
    while len(data) < limit:
        more = os.read(descriptor, limit - len(data))
        if not more:
            break
        data += more
    return data


def _too_large(name: str, size: int) -> Problem:
    return Problem(
        Position(name),
        f"fichier trop volumineux ({-(-size // 1024)} Ko ; au plus {MAX_BYTES // 1024} Ko)",
        "un fichier décrit une seule chose : découpez-le",
    )


def load_bytes(raw: bytes, path: Path, name: str) -> tuple[Document | None, list[Problem]]:
    """Parse register bytes (see :func:`load_file`).

    When the Rust parser ``ryaml`` is installed, a text in which nothing could make it
    read otherwise than the strict loader (see :func:`_fast_data`) takes a fast path: its
    positions are found only when asked for (:func:`lazy_document`). Every other text,
    and every text the fast parser refuses, is read by the strict loader, which says in
    French what is wrong and where. Both give the same data for the same text.
    """
    text, problems = _text_of(raw, name)
    if text is None:
        return None, problems
    if _fast_loads is not None:
        fast, data = _fast_data(text)
        if fast:
            return lazy_document(path, name, data, raw), []
    return _strict(text, path, name)


def _text_of(raw: bytes, name: str) -> tuple[str | None, list[Problem]]:
    """The text of register bytes, or why there is none: too large, not UTF-8, empty."""
    if len(raw) > MAX_BYTES:
        return None, [_too_large(name, len(raw))]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        line_start = raw.rfind(b"\n", 0, err.start) + 1
        # Columns count characters, as everywhere else: decode what precedes on the line.
        column = len(raw[line_start : err.start].decode("utf-8", errors="replace")) + 1
        return None, [
            Problem(
                Position(name, line, column),
                f"octet 0x{raw[err.start]:02X} invalide : le fichier doit être encodé en UTF-8",
                "réenregistrez le fichier en UTF-8 dans votre éditeur",
            )
        ]
    if not _has_content(text):
        return None, [Problem(Position(name), "fichier vide : aucune donnée à lire")]
    return text, []


_NON_SPACE = re.compile(r"\S").search
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]").search  # str.splitlines' breaks


def _has_content(text: str) -> bool:
    """Whether a line of ``text`` (as str.splitlines cuts it) holds more than spaces or a comment."""
    at = 0
    while (found := _NON_SPACE(text, at)) is not None:
        if text[found.start()] != "#":
            return True
        end = _LINE_BREAK(text, found.start())
        if end is None:
            return False
        at = end.end()
    return False


def _strict(text: str, path: Path, name: str) -> tuple[Document | None, list[Problem]]:
    """The strict loader: libyaml's nodes, checked and built with their positions."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        return None, [_syntax_problem(err, name, text)]
    except yaml.reader.ReaderError as err:
        # libyaml counts bytes of the UTF-8 text, the pure-Python reader characters.
        offset = err.position
        if _BaseLoader.__name__.startswith("C"):
            offset = len(text.encode("utf-8")[: err.position].decode("utf-8", errors="replace"))
        before = text[:offset]
        line, column = before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1
        code = err.character if isinstance(err.character, int) else ord(str(err.character)[:1] or "?")
        return None, [
            Problem(
                Position(name, line, column),
                f"caractère de contrôle interdit dans le fichier (U+{code:04X})",
                "supprimez ce caractère invisible, souvent venu d'un copier-coller",
            )
        ]
    except yaml.YAMLError as err:  # pragma: no cover - unmarked errors are rare
        return None, [Problem(Position(name), f"syntaxe YAML invalide : {err}")]
    if node is None:
        return None, [Problem(Position(name), "fichier vide : aucune donnée à lire")]
    builder = _Builder()
    try:
        data = builder.build(node, (), 0)
    except _Refused as refused:
        mark = refused.node.start_mark
        return None, [Problem(Position(name, mark.line + 1, mark.column + 1), refused.message, refused.hint)]
    return Document(path, name, data, builder.values, builder.keys), []


# --- the fast path -------------------------------------------------------------------
#
# ryaml is serde_yaml over unsafe-libyaml, a translation of the libyaml that composes
# the strict loader's nodes: both see the same structure and the same text in every
# quoted or block scalar. They differ in what the strict loader refuses (anchors,
# aliases, tags, merge keys, several documents, keys that are not text, depth and size
# beyond the limits) and in how a few plain scalars resolve (YAML 1.2 core schema there;
# here, a number needs both PyYAML's YAML 1.1 resolver and _INT or _FLOAT). A text goes
# to the strict loader whenever it contains any of these, or something that might be
# one: the screen below is deliberately coarse, and _fits checks what only the data
# shows. tests/test_fast_loading.py compares the two paths on every form listed here.

# Plain scalars the two read differently, or not worth the doubt (whole scalars only).
_DOUBTFUL_SCALARS = (
    r"[-+]?0[xXoObB][0-9A-Za-z_]*"  # hexadecimal, octal, binary: numbers for ryaml only
    r"|[-+]?\.(?:[iI][nN][fF]|[nN][aA][nN])"  # .inf, .nan: numbers for ryaml only
    r"|[-+]?0[0-9_]+"  # leading zeros: a number here (0123), text for ryaml
    r"|[-+]?(?:[0-9][0-9._]*|\.[0-9][0-9._]*)[eE][-+]?[0-9_]+"  # exponents (1e5 is text here)
    r"|[-+]\.[0-9][0-9_]*"  # -.5: text here
    r"|[-+]?[0-9]{16,}[0-9._]*"  # long numbers: integer and float limits differ
    r"|[-+]?[0-9.]+_[0-9._]*"  # 1_000
    r"|="  # the YAML 1.1 "value" key, refused here
)

# A tab, a control character, NEL, a line or paragraph separator, a BOM inside the text.
_ODD_CHARACTERS = r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]"
_LONE_CR = r"\r(?!\n)"  # an old Mac line break
_MARKERS = r"^(?:---|\.\.\.|%)"  # document markers, directives
_INDICATORS = r"(?:^|[-?:\[{,\r])[ ]*[!&*]"  # a tag, anchor or alias where a node may start
# A doubtful plain scalar: where a node may start (a line's start, after "- ", "? ", ": ",
# a flow bracket or comma, or the ":" of a JSON-like key), up to where a plain scalar may
# end. A multi-line plain scalar holds a space, so it is never doubtful as a whole.
_SCALAR_START = r"(?:^[ ]*|[-?:][ ]+|[\[{,][ ]*|[\"'\]}]:)"
_SCALAR_END = r"(?=[ ]*(?:$|[\r\n#,\]}]|:(?:[\s,\[\]{}]|$)))"
_DOUBTFUL = f"(?:{_DOUBTFUL_SCALARS}){_SCALAR_END}"

#: Whatever sends a text to the strict loader. :func:`_doubtful` finds the same, faster.
_UNSAFE = re.compile(
    "|".join((_ODD_CHARACTERS, _LONE_CR, _MARKERS, "<<", _INDICATORS, _SCALAR_START + _DOUBTFUL)),
    re.MULTILINE,
)

# The parts of _UNSAFE, each behind a quick search that finds at least what it finds (a
# character class first, which the regular expression engine scans for at C speed).
_ODD_OR_CR = re.compile(_ODD_CHARACTERS[:-1] + r"\r]").search
_ODD_SEARCH = re.compile(f"{_ODD_CHARACTERS}|{_LONE_CR}").search
_INDICATOR_SEARCH = re.compile(_INDICATORS, re.MULTILINE).search
# A character that may start a doubtful scalar, after one that may come before it.
_MAYBE_DOUBTFUL = re.compile(r"[-+.0-9=](?<![^\n \[{,:].)(?<![-+](?![.0-9]))").finditer
_DOUBTFUL_AT = re.compile(_DOUBTFUL).match
_DOUBTFUL_SEARCH = re.compile(_SCALAR_START + _DOUBTFUL, re.MULTILINE).search


def _doubtful(text: str) -> bool:
    """Whether ``_UNSAFE`` matches ``text`` (a few times faster than asking it)."""
    if (
        (_ODD_OR_CR(text) and _ODD_SEARCH(text))
        or text.startswith(("---", "...", "%"))
        or "\n---" in text
        or "\n..." in text
        or "\n%" in text
        or "<<" in text
        or (("!" in text or "&" in text or "*" in text) and _INDICATOR_SEARCH(text))
    ):
        return True
    for candidate in _MAYBE_DOUBTFUL(text):
        if _DOUBTFUL_AT(text, candidate.start()):
            return _DOUBTFUL_SEARCH(text) is not None
    return False


def _fast_data(text: str) -> tuple[bool, Any]:
    """``(True, data)`` when ryaml reads ``text`` as the strict loader would, else ``(False, None)``."""
    if _fast_loads is None or _doubtful(text):
        return False, None
    try:
        data = _fast_loads(text)
    except Exception:  # any refusal: the strict loader says why, in French
        return False, None
    return (True, data) if _fits(data) else (False, None)


def fast_parser() -> str:
    """Which fast parser reads register files (``""`` when none: the strict loader reads all)."""
    if _fast_loads is None:
        return ""
    try:
        return f"ryaml {importlib.metadata.version('ryaml')}"
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a copy without metadata
        return "ryaml"


_SCALAR_TYPES = frozenset((str, int, float, bool, type(None)))


def _fits(data: Any) -> bool:
    """Whether the strict loader would accept this data: text keys, at most MAX_DEPTH
    levels and MAX_NODES values (the screen of :func:`_fast_data` saw the rest)."""
    kind = data.__class__
    if kind is dict or kind is list:
        return 0 <= _values_below(data, 0) < MAX_NODES  # and the document itself
    return kind in _SCALAR_TYPES


def _values_below(container: Any, depth: int) -> int:
    """How many values a container at ``depth`` holds, at any depth; -1 if one is refused."""
    count = len(container)
    if count and depth >= MAX_DEPTH:
        return -1
    if container.__class__ is dict:
        for key in container:
            if key.__class__ is not str:
                return -1
        children: Iterable[Any] = container.values()
    else:
        children = container
    for child in children:
        kind = child.__class__
        if kind is dict or kind is list:
            below = _values_below(child, depth + 1)
            if below < 0:
                return -1
            count += below
        elif kind not in _SCALAR_TYPES:
            return -1
    return count


class _Builder:
    """Turns a composed node tree into plain data, recording positions on the way."""

    def __init__(self) -> None:
        self.values: dict[JsonPath, tuple[int, int]] = {}
        self.keys: dict[JsonPath, tuple[int, int]] = {}
        self.seen: set[int] = set()

    def build(self, node: yaml.Node, path: JsonPath, depth: int) -> Any:
        if id(node) in self.seen:
            raise _Refused(
                node,
                "les ancres et alias YAML (& et *) ne sont pas acceptés",
                "recopiez la valeur au lieu d'y faire référence",
            )
        self.seen.add(id(node))
        if len(self.seen) > MAX_NODES:
            raise _Refused(node, f"document trop grand (plus de {MAX_NODES} valeurs)")
        if depth > MAX_DEPTH:
            raise _Refused(node, f"imbrication trop profonde (plus de {MAX_DEPTH} niveaux)")
        if node.tag not in _STANDARD_TAGS:
            raise _Refused(
                node,
                f"étiquette YAML « {node.tag} » non acceptée",
                "retirez l'étiquette commençant par ! ; les registres n'en utilisent pas",
            )
        self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return _scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: JsonPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(key_node, "la clé de fusion YAML « << » n'est pas acceptée")
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_node, "une clé doit être un simple mot, pas une liste ou un bloc")
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_seen:
                raise _Refused(
                    key_node,
                    f"clé « {key} » en double (déjà écrite ligne {first_seen[key]})",
                    "une clé ne peut apparaître qu'une fois : fusionnez les deux valeurs",
                )
            first_seen[key] = line
            self.keys[(*path, key)] = (line, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result


def _scalar(node: yaml.ScalarNode) -> Any:
    value: str = node.value
    if node.style or node.tag == "tag:yaml.org,2002:str":
        return value  # quoted or block scalars (or plain ones YAML itself calls text)
    if value in _NULLS:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    return value


# libyaml's English problems, in the French an editor reads; the hint says what to do.
_SYNTAX_MESSAGES: tuple[tuple[str, str, str], ...] = (
    ("found a tab character", "tabulation interdite en YAML", "indentez avec des espaces"),
    (
        "mapping values are not allowed",
        "deux-points inattendu",
        "si le texte contient « : », mettez-le entre guillemets ; sinon vérifiez l'indentation",
    ),
    (
        "could not find expected ':'",
        "« : » attendu après une clé",
        "une ligne est peut-être mal indentée, ou un texte sur plusieurs lignes n'est pas entre guillemets",
    ),
    ("did not find expected key", "indentation incohérente : une clé était attendue ici", ""),
    (
        "did not find expected '-' indicator",
        "indentation incohérente dans une liste : un « - » était attendu ici",
        "",
    ),
    (
        "block sequence entries are not allowed",
        "un élément de liste « - » n'est pas permis ici",
        "vérifiez l'indentation de la ligne",
    ),
    ("expected <block end>", "indentation incohérente", "alignez cette ligne sur ses voisines"),
    (
        "exceeded maximum nesting depth",
        f"imbrication trop profonde (plus de {MAX_DEPTH} niveaux)",
        "",
    ),
    (
        "found unexpected end of stream",
        "fin de fichier inattendue",
        "un guillemet, un crochet ou une accolade n'est pas fermé",
    ),
    ("did not find expected node content", "valeur attendue à cet endroit", ""),
    (
        "expected a single document",
        "un seul document YAML par fichier",
        "supprimez les séparateurs « --- » en trop",
    ),
    (
        "found unknown escape character",
        "séquence d'échappement inconnue dans un texte entre guillemets doubles",
        "utilisez des guillemets simples ou doublez la barre oblique inverse",
    ),
    (
        "found undefined alias",
        "les ancres et alias YAML (& et *) ne sont pas acceptés",
        "recopiez la valeur au lieu d'y faire référence",
    ),
    ("special characters are not allowed", "caractère de contrôle interdit dans le fichier", ""),
    ("control characters are not allowed", "caractère de contrôle interdit dans le fichier", ""),
    (
        "that cannot start any token",
        "ce caractère ne peut pas commencer une valeur",
        "mettez la valeur entre guillemets",
    ),
    (
        "did not find expected ',' or ']'",
        "liste entre crochets mal fermée",
        "séparez les éléments par des virgules et fermez avec « ] » ; un élément contenant une virgule va entre guillemets",
    ),
    (
        "did not find expected ',' or '}'",
        "bloc entre accolades mal fermé",
        "séparez les entrées par des virgules et fermez avec « } » ; un texte contenant une virgule va entre guillemets",
    ),
)


# Where the opening of an unclosed construct is the place to look, not where the reader gave up.
_AT_CONTEXT = (
    "while scanning a simple key",
    "while scanning a quoted scalar",
    "while parsing a flow sequence",
    "while parsing a flow mapping",
    "while scanning a block scalar",
)


def _syntax_problem(err: yaml.MarkedYAMLError, name: str, text: str) -> Problem:
    use_context = err.context_mark is not None and any(c in (err.context or "") for c in _AT_CONTEXT)
    mark = err.context_mark if use_context else (err.problem_mark or err.context_mark)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    detail = f"{err.context or ''} {err.problem or ''}".strip()
    lines = text.splitlines()
    if 0 < line <= len(lines) and lines[line - 1][column - 1 : column] == "\t":
        return Problem(
            Position(name, line, column),
            "syntaxe YAML invalide : tabulation interdite en YAML",
            "indentez avec des espaces",
        )
    for needle, message, hint in _SYNTAX_MESSAGES:
        if needle in detail:
            return Problem(Position(name, line, column), f"syntaxe YAML invalide : {message}", hint)
    return Problem(
        Position(name, line, column),
        "syntaxe YAML invalide",
        f"détail du lecteur YAML : {detail}" if detail else "",
    )
