"""Reading register files: strict YAML that keeps the file, line and column of every value.

The loader accepts a deliberately small YAML: one document per file, no anchors or
aliases (so no alias bombs), no tags, no duplicate keys, UTF-8 only, a bounded size and
depth. Plain scalars follow the YAML 1.2 core schema (only ``true``/``false`` are
booleans, so the country code ``NO`` stays a string) and dates stay strings (the schema
checks them). Every failure is a :class:`~dote.problems.Problem`, never an exception.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dote.problems import Position, Problem

try:  # libyaml is much faster; the pure-Python parser gives the same nodes.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

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


def forget_folders() -> None:
    """Resolve folders afresh: called at the start of every read of a territory (a folder
    replaced by a link between two builds of ``dote serve`` is then seen as a link)."""
    _real_folder.cache_clear()


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
    """One register file: its plain data and where each value and key was written."""

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
    try:
        # A link is followed to its target; a file that is no link is where its folder really is.
        real = path.resolve(strict=True) if path.is_symlink() else _real_folder(path.parent) / path.name
        if not real.is_relative_to(_real_folder(within)):
            return None, [
                Problem(
                    Position(name),
                    "lien symbolique vers un fichier hors du territoire : refusé (son contenu n'est pas lu)",
                    "remplacez le lien par le fichier lui-même, dans le dépôt",
                )
            ]
        with real.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > MAX_BYTES:
                return None, [_too_large(name, size)]
            return stream.read(MAX_BYTES + 1), []
    except (OSError, RuntimeError) as err:  # RuntimeError: a loop of symbolic links
        return None, [Problem(Position(name), f"fichier illisible : {getattr(err, 'strerror', None) or err}")]


def _too_large(name: str, size: int) -> Problem:
    return Problem(
        Position(name),
        f"fichier trop volumineux ({-(-size // 1024)} Ko ; au plus {MAX_BYTES // 1024} Ko)",
        "un fichier décrit une seule chose : découpez-le",
    )


def load_bytes(raw: bytes, path: Path, name: str) -> tuple[Document | None, list[Problem]]:
    """Parse register bytes (see :func:`load_file`)."""
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
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        return None, [Problem(Position(name), "fichier vide : aucune donnée à lire")]
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
