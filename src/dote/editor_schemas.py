"""The schemas published for editors' IDEs, derived from the engine's compiled schemas.

``dote validate`` reads ``x-`` annotations that an editor knows nothing of; this module
turns them into the keywords that ``yaml-language-server`` (the engine of Red Hat's YAML
extension for VS Code) reads, so that the editor explains and checks a file the way the
validator does:

- each vocabulary code comes with its French label (``enumDescriptions``,
  ``markdownEnumDescriptions``), shown by completion and hover;
- each key has a ``description`` (its title, and what is expected, when the format gives
  no description), shown by completion and hover;
- the French sentences (``x-erreur``) become the messages of a failed pattern or format
  (``patternErrorMessage``), of a constant and of an alternative (``errorMessage``), and a
  value of the wrong type gets a French sentence too;
- ``format: date`` becomes a pattern of existing dates (the server's own date format
  accepts 2025-02-30, ``dote validate`` does not);
- a file that extends a model (``modele:``) is checked in *partial mode*, as
  :func:`dote.schema.validate_document` checks it: a missing field is not an error,
  except those of :data:`dote.schema.ALWAYS_REQUIRED`. The shared definitions get a
  ``_partiel`` twin without those requirements, and the root schema of an activity and of
  a model chooses between the two with ``if``/``then``/``else`` on ``modele``. (The
  editor cannot know which member a file belongs to: an activity of a member publishing
  "au choix", which ``dote validate`` also checks in partial mode, is checked in full
  unless it extends a model.)

The engine never reads these copies: its own schemas stay the single source of truth.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from dote.schema import (
    ALWAYS_REQUIRED,
    KINDS,
    PARTIAL,
    SHARED,
    annotation,
    compiled_schemas,
)
from dote.schema import definition_name as _definition
from dote.schema import relax as _relax
from dote.schema import relaxed_definitions as _relaxed_definitions
from dote.vocabulary import Vocabularies, load_vocabularies

#: The key that makes a file an extension of a model (and its check partial).
EXTENDS = "modele"
#: File kinds whose files may extend a model.
EXTENDING_KINDS = ("activite", "modele")

#: An existing date AAAA-MM-JJ (years 0001 to 9999, leap years included), as ``dote`` checks it.
DATE_PATTERN = (
    "^(?!0000)(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    "|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)$"
)
#: What a value of the wrong type should have been (``errorMessage`` of a typed leaf).
_TYPE_MESSAGES = {
    "string": "un texte est attendu (entre guillemets s'il ressemble à un nombre ou à true/false)",
    "boolean": "true ou false est attendu, sans guillemets (oui et non sont lus comme du texte)",
    "integer": "un nombre entier est attendu",
    "number": "un nombre est attendu",
    "array": "une liste est attendue : [a, b] ou une ligne « - élément » par élément",
}
#: Keywords whose failure the server reports with ``errorMessage``: a node carrying one of
#: them keeps the server's own message, so that a French sentence never says the wrong thing.
_OWN_MESSAGES = frozenset(
    {
        "properties",
        "patternProperties",
        "additionalProperties",
        "unevaluatedProperties",
        "required",
        "contains",
        "prefixItems",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "if",
        "not",
    }
)
#: Short hints of what a key holds, for keys the format only titles.
_SHAPE_HINTS = {
    "string": "un texte",
    "boolean": "true ou false",
    "integer": "un nombre entier",
    "number": "un nombre",
    "object": "un bloc de clés",
}


def editor_schemas() -> dict[str, Any]:
    """Every schema file as published for editors (by file name), see the module's docstring."""
    schemas = copy.deepcopy(dict(compiled_schemas()))
    vocabularies = load_vocabularies()
    for schema in schemas.values():
        _annotate(schema, vocabularies)
    definitions = schemas[SHARED]["$defs"]
    twins = _relaxed_definitions(definitions)
    for kind in EXTENDING_KINDS:
        schemas[KINDS[kind]] = _partial_on_extension(schemas[KINDS[kind]], set(twins))
    # Only the twins that partial mode reaches (a new transfer is checked in full).
    needed: set[str] = set()
    pending = [schemas[KINDS[kind]] for kind in EXTENDING_KINDS]
    while pending:
        for name in _partial_references(pending.pop()):
            if name not in needed:
                needed.add(name)
                pending.append(twins[name])
    for name in sorted(needed):
        definitions[name + PARTIAL] = twins[name]
    return schemas


def _partial_references(node: Any) -> set[str]:
    """The shared definitions whose relaxed twin a schema node refers to."""
    found: set[str] = set()

    def visit(child: dict[str, Any]) -> None:
        name = _definition(str(child.get("$ref", "")))
        if name.endswith(PARTIAL):
            found.add(name.removesuffix(PARTIAL))

    _walk(node, visit)
    return found


# --- explanations: labels, descriptions, French messages ---------------------------


#: Keywords whose value maps names to schemas, and keywords whose value is data, not schemas.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_DATA = frozenset(
    {"enum", "const", "examples", "default", "required", "enumDescriptions", "markdownEnumDescriptions"}
)


def _walk(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    """Call ``visit`` on every schema node (not on a map of properties, nor on values)."""
    if isinstance(node, list):
        for value in node:
            _walk(value, visit)
    elif isinstance(node, dict):
        visit(node)
        for key, value in node.items():
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                for schema in value.values():
                    _walk(schema, visit)
            elif key not in _DATA:
                _walk(value, visit)


def _annotate(schema: dict[str, Any], vocabularies: Vocabularies) -> None:
    def visit(node: dict[str, Any]) -> None:
        _date_pattern(node)
        _type_message(node)
        _vocabulary_labels(node, vocabularies)
        _error_sentences(node)
        for child in (node.get("properties") or {}).values():
            if isinstance(child, dict):
                _describe_key(child, vocabularies)

    _walk(schema, visit)


def _date_pattern(node: dict[str, Any]) -> None:
    """``format: date`` as a pattern: the server's date format accepts 2025-02-30, ``dote`` does not."""
    if node.get("format") == "date":
        del node["format"]
        node["pattern"] = DATE_PATTERN


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _type_message(node: dict[str, Any]) -> None:
    kind = node.get("type")
    if isinstance(kind, str) and kind in _TYPE_MESSAGES and not _OWN_MESSAGES & node.keys():
        node.setdefault("errorMessage", _sentence(_TYPE_MESSAGES[kind]))


def _vocabulary_labels(node: dict[str, Any], vocabularies: Vocabularies) -> None:
    name = node.get("x-vocabulaire")
    if name is None or "enum" not in node:
        return
    vocabulary = vocabularies[name]
    terms = [vocabulary[code] for code in node["enum"]]
    node["enumDescriptions"] = [
        term.label + (f" — {term.description}" if term.description else "") for term in terms
    ]
    node["markdownEnumDescriptions"] = [
        f"**{_markdown(term.label)}**"
        + (f" — {_markdown(term.description)}" if term.description else "")
        + (f" *({_markdown(term.reference)})*" if term.reference else "")
        for term in terms
    ]
    if len(terms) <= 10:
        codes = ", ".join(term.code for term in terms)
        node["errorMessage"] = f"Code attendu du vocabulaire « {vocabulary.title} » : {codes}"
    else:
        node["errorMessage"] = (
            f"Code attendu du vocabulaire « {vocabulary.title} » : "
            "la complétion (Ctrl+Espace) propose les codes et leur libellé"
        )


def _markdown(text: str) -> str:
    """Plain text made safe inside Markdown (the server shows labels as Markdown)."""
    for char in "\\`*_[]<>#|":
        text = text.replace(char, "\\" + char)
    return text


def _error_sentences(node: dict[str, Any]) -> None:
    sentence = node.get("x-erreur")
    if not isinstance(sentence, str):
        return
    message = _sentence(sentence)
    if "pattern" in node or "format" in node:
        node["patternErrorMessage"] = message
    if "const" in node or ("enum" in node and "x-vocabulaire" not in node):
        node["errorMessage"] = message
    for keyword in ("anyOf", "oneOf"):
        for branch in node.get(keyword) or ():
            # A branch about the value's shape (a constant, a list, a required key) says the
            # alternative's sentence; a branch with keys or a reference keeps its own messages.
            if isinstance(branch, dict) and not {"$ref", "properties", "patternProperties"} & branch.keys():
                branch["errorMessage"] = message


def _describe_key(node: dict[str, Any], vocabularies: Vocabularies) -> None:
    """A description for a key that has only a title: completion shows no title."""
    if annotation(node, "description") is not None:
        return
    title = annotation(node, "title")
    if not isinstance(title, str):
        return
    hint = _shape_hint(node, vocabularies)
    node["description"] = f"{title} : {hint}." if hint else f"{title}."


def _shape_hint(node: Mapping[str, Any], vocabularies: Vocabularies) -> str:
    items = annotation(node, "items")
    vocabulary = annotation(node, "x-vocabulaire")
    if vocabulary:
        return f"un code du vocabulaire « {vocabularies[vocabulary].title} »"
    sentence = annotation(node, "x-erreur")
    if isinstance(sentence, str) and (annotation(node, "pattern") or annotation(node, "format")):
        return sentence
    kind = annotation(node, "type")
    if kind == "array" and isinstance(items, Mapping):
        inner = annotation(items, "x-vocabulaire")
        if inner:
            return f"une liste de codes du vocabulaire « {vocabularies[inner].title} »"
        if annotation(items, "type") == "string":
            return "une liste de textes, une ligne « - texte » par élément"
        return "une liste"
    return _SHAPE_HINTS.get(kind, "") if isinstance(kind, str) else ""


# --- partial mode: a file that extends a model --------------------------------------


def _partial_on_extension(schema: Mapping[str, Any], relaxed: set[str]) -> dict[str, Any]:
    """A root schema that checks its file in full, or in partial mode when it has ``modele``.

    The engine's root is ``$ref`` to the shared fields plus its own keys, ``required``,
    and possibly ``if: {not: {required: [modele]}}, then: {...}`` for what only a complete
    file must state. The editor's root keeps what holds in both modes, and moves the rest
    into ``if: {required: [modele]}, then: <partial>, else: <complete>``.
    """
    root = dict(schema)
    complete: dict[str, Any] = {}
    condition = root.pop("if", None)
    if condition is not None:
        if condition != {"not": {"required": [EXTENDS]}} or "else" in root:
            raise ValueError(f"unexpected condition in the schema of {root.get('title')!r}: {condition!r}")
        complete.update(root.pop("then"))
    moved: dict[str, Any] = {key: root.pop(key) for key in ("$ref", "properties") if key in root}
    if moved.keys() & complete.keys():
        raise ValueError(f"unexpected keywords in the condition of {root.get('title')!r}")
    partial = _relax(moved, relaxed)
    complete.update(copy.deepcopy(moved))
    required = list(root.pop("required", []))
    if always := [key for key in required if key in ALWAYS_REQUIRED]:
        root["required"] = always
    if extra := [key for key in required if key not in ALWAYS_REQUIRED]:
        complete["required"] = [*extra, *(k for k in complete.get("required", []) if k not in extra)]
    if "properties" in moved and partial["properties"] == moved["properties"]:
        # The root's own keys hold in both modes: they stay at the root.
        root["properties"] = partial.pop("properties")
        del complete["properties"]
    root.update({"if": {"required": [EXTENDS]}, "then": partial, "else": complete})
    order = ["$schema", "title", "description", "type", "properties", "required", "if", "then", "else"]
    return {
        key: root[key] for key in sorted(root, key=lambda k: order.index(k) if k in order else len(order))
    }
