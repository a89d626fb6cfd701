"""JSON Schemas of the format, and their errors translated for editors.

The schema files in ``dote/schemas/`` are the single source of truth of the format.
A field whose values come from a vocabulary says so with ``x-vocabulaire``; the schemas
are *compiled* by injecting that vocabulary's codes as an ``enum``, both for validation
and for the copies published to editors' IDEs. ``x-erreur`` holds the French sentence
shown when a pattern, format or alternative fails; ``x-visibilite`` marks what may be
published.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import referencing
from jsonschema.exceptions import ValidationError

from dote.load import Document, JsonPath
from dote.problems import Problem
from dote.vocabulary import Vocabularies, load_vocabularies

#: File kinds and the schema file of each.
KINDS = {
    "maison": "maison.schema.json",
    "membre": "membre.schema.json",
    "activite": "activite.schema.json",
    "modele": "modele.schema.json",
    "sous-traitant": "sous-traitant.schema.json",
    "label": "label.schema.json",
    "veille-sources": "veille-sources.schema.json",
    "veille-element": "veille-element.schema.json",
    "formations": "formations.schema.json",
    "demandes": "demandes.schema.json",
    "violations": "violations.schema.json",
    "audit": "audit.schema.json",
    "audit-reponses": "audit-reponses.schema.json",
    "actions": "actions.schema.json",
}
SHARED = "commun.schema.json"

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _raw_schemas() -> dict[str, Any]:
    folder = resources.files("dote.schemas")
    return {
        name: json.loads(folder.joinpath(name).read_text(encoding="utf-8"))
        for name in [*KINDS.values(), SHARED]
    }


def _inject_vocabularies(node: Any, vocabularies: Vocabularies) -> None:
    if isinstance(node, dict):
        name = node.get("x-vocabulaire")
        if name is not None:
            node["enum"] = list(vocabularies[name].terms)
        for value in node.values():
            _inject_vocabularies(value, vocabularies)
    elif isinstance(node, list):
        for value in node:
            _inject_vocabularies(value, vocabularies)


@cache
def compiled_schemas() -> Mapping[str, Any]:
    """Every schema file, with vocabulary codes injected as ``enum`` (by file name)."""
    schemas = copy.deepcopy(_raw_schemas())
    _inject_vocabularies(schemas, load_vocabularies())
    return schemas


def published_schemas() -> dict[str, str]:
    """The schemas as JSON text, ready to be written for editors' IDEs (``schemas/``, the site).

    They are the compiled schemas with what an editor needs to explain and check a file
    the way ``dote validate`` does (French labels and messages, partial mode for a file
    that extends a model): see :mod:`dote.editor_schemas`.
    """
    from dote.editor_schemas import editor_schemas  # it builds on this module

    return {
        name: json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
        for name, schema in sorted(editor_schemas().items())
    }


def _date_format(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _DATE.match(instance):
        return False
    try:
        dt.date.fromisoformat(instance)
    except ValueError:
        return False
    return True


@cache
def _validators() -> Mapping[str, jsonschema.Draft202012Validator]:
    schemas = compiled_schemas()
    registry: referencing.Registry[Any] = referencing.Registry().with_resources(
        (name, referencing.Resource.from_contents(schema)) for name, schema in schemas.items()
    )
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date")(_date_format)
    return {
        kind: jsonschema.Draft202012Validator(schemas[file], registry=registry, format_checker=checker)
        for kind, file in KINDS.items()
    }


def schema_chain(schema: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """A schema node and the nodes its ``$ref`` chain points to (for titles and keys)."""
    schemas = compiled_schemas()
    seen = 0
    node: Mapping[str, Any] | None = schema
    while node is not None and seen < 10:
        yield node
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return
        file, _, pointer = ref.partition("#")
        target: Any = schemas.get(file) if file else schemas[SHARED]
        for part in filter(None, pointer.split("/")):
            target = target.get(part) if isinstance(target, Mapping) else None
        node = target if isinstance(target, Mapping) else None
        seen += 1


def known_keys(schema: Mapping[str, Any]) -> list[str]:
    """The keys a schema node accepts, following ``$ref`` (for "did you mean")."""
    keys: list[str] = []
    for node in schema_chain(schema):
        keys.extend(k for k in node.get("properties", {}) if k not in keys)
    return keys


def _pattern_allowed(schema: Mapping[str, Any], key: str) -> bool:
    """Whether a key is accepted by a ``patternProperties`` of the node (``x_`` extensions)."""
    return any(
        re.search(pattern, key)
        for node in schema_chain(schema)
        for pattern in node.get("patternProperties", {})
    )


def annotation(schema: Mapping[str, Any], name: str) -> Any:
    """A keyword's value on a schema node or along its ``$ref`` chain (``x-erreur``, ``x-visibilite``…)."""
    for node in schema_chain(schema):
        if name in node:
            return node[name]
    return None


#: Keys a file must always state itself, even when it extends a model.
ALWAYS_REQUIRED = frozenset({"version_schema", "nom", "statut", "version"})


# --- partial mode: a file that extends a model, or whose member publishes "au choix" ---

#: Suffix of the relaxed twin of a shared definition (partial mode).
PARTIAL = "_partiel"


def _is_requirement(branch: Any) -> bool:
    """A branch of an alternative that only requires keys (``{"required": [...]}``)."""
    return (
        isinstance(branch, dict) and "required" in branch and not branch.keys() - {"required", "errorMessage"}
    )


def relax(node: Any, relaxed: set[str]) -> Any:
    """A copy of a schema node checked as ``validate_document(partial=True)`` checks it.

    A ``required`` keeps only :data:`ALWAYS_REQUIRED` keys, an alternative made only of
    requirements (a duration *or* criteria) disappears, and a reference to a shared
    definition points to its relaxed twin. An alternative's branches stay as they are: the
    validator reports a missing key there even in partial mode (a new transfer without its
    country). A condition (``if``) and values (``enum``, ``const``) are copied unchanged.
    """
    if isinstance(node, list):
        return [relax(value, relaxed) for value in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("if", "enum", "const", "examples"):
            result[key] = copy.deepcopy(value)
        elif key == "required":
            kept = [k for k in value if k in ALWAYS_REQUIRED]
            if kept:
                result[key] = kept
        elif key == "anyOf":
            # (a oneOf of requirements stays: two branches met would still be an error)
            if not all(_is_requirement(branch) for branch in value):
                result[key] = copy.deepcopy(value)
        elif key == "$ref" and isinstance(value, str) and definition_name(value) in relaxed:
            result[key] = value + PARTIAL
        elif key in ("properties", "patternProperties", "$defs"):
            result[key] = {name: relax(schema, relaxed) for name, schema in value.items()}
        else:
            result[key] = relax(value, relaxed)
    return result


def definition_name(ref: str) -> str:
    """The name of the shared definition a reference points to, or ""."""
    file, _, pointer = ref.partition("#")
    if file not in ("", SHARED) or not pointer.startswith("/$defs/"):
        return ""
    return pointer.removeprefix("/$defs/")


def relaxed_definitions(definitions: Mapping[str, Any]) -> dict[str, Any]:
    """The relaxed twin of every shared definition that partial mode changes (to a fixed point)."""
    relaxed: set[str] = set()
    while True:
        twins = {name: relax(value, relaxed) for name, value in definitions.items()}
        changed = {name for name, twin in twins.items() if twin != definitions[name]}
        if changed == relaxed:
            return {name: twins[name] for name in changed}
        relaxed = changed


#: Where the compiled validator files the schemas (a name, never fetched: see _no_retrieval).
_BASE_URI = "https://schemas.dote.invalid/"


def _no_retrieval(uri: str) -> Any:
    raise ValueError(f"schema {uri} is not one of the format's files")


@cache
def _fast_validators() -> Mapping[tuple[str, bool], Any]:
    """Compiled validators (jsonschema-rs) by kind and mode: the fast path of validation.

    They only say whether a document is valid. The partial mode's schemas are relaxed as
    :func:`relax` says, so that a document they accept gets no problem from the detailed
    validator either (tests/test_schema.py checks both agree).
    """
    import jsonschema_rs

    schemas = copy.deepcopy(dict(compiled_schemas()))
    twins = relaxed_definitions(schemas[SHARED]["$defs"])
    schemas[SHARED]["$defs"].update({name + PARTIAL: twin for name, twin in twins.items()})
    registry = jsonschema_rs.Registry(
        [(_BASE_URI + name, schema) for name, schema in schemas.items()], retriever=_no_retrieval
    )
    validators: dict[tuple[str, bool], Any] = {}
    for kind, file in KINDS.items():
        for partial, root in ((False, schemas[file]), (True, relax(schemas[file], set(twins)))):
            validators[kind, partial] = jsonschema_rs.Draft202012Validator(
                root,
                formats={"date": _date_format},
                validate_formats=True,
                registry=registry,
                base_uri=_BASE_URI + file,
                retriever=_no_retrieval,
            )
    return validators


def validate_document(doc: Document, kind: str, *, partial: bool = False) -> list[Problem]:
    """Check one document against the schema of its kind; French problems, never raises.

    ``partial`` is for a file that extends a model and states only what differs: a
    missing field is then not an error here (the resolved content is checked in full).
    A compiled validator answers first; the detailed one runs only to explain a failure.
    """
    if _fast_validators()[kind, partial].is_valid(doc.data):
        return []
    return explain_document(doc, kind, partial=partial)


def explain_document(doc: Document, kind: str, *, partial: bool = False) -> list[Problem]:
    """The detailed validator alone: every schema problem of a document, in French."""
    validator = _validators()[kind]
    problems: list[Problem] = []
    for error in validator.iter_errors(doc.data):
        if partial and _about_missing_fields(error):
            continue
        problems.extend(_translate(error, doc, load_vocabularies()))
    return problems


def _about_missing_fields(error: ValidationError) -> bool:
    if error.validator == "required":
        return not (set(error.validator_value) - set(error.instance)) & ALWAYS_REQUIRED  # type: ignore[arg-type]
    if error.validator in ("anyOf", "oneOf"):
        return bool(error.context) and all(sub.validator == "required" for sub in error.context or ())
    return False


# --- translating jsonschema errors -------------------------------------------------

_TYPE_WANTED = {
    "string": "un texte attendu",
    "integer": "un nombre entier attendu",
    "number": "un nombre attendu",
    "boolean": "true ou false attendu",
    "array": "une liste attendue",
    "object": "un bloc de clés (clé: valeur) attendu",
    "null": "une valeur vide attendue",
}


def _describe(value: object) -> str:
    if value is None:
        return "vide"
    if isinstance(value, bool):
        return f"le booléen {str(value).lower()}"
    if isinstance(value, int | float):
        return f"le nombre {value}"
    if isinstance(value, str):
        return f"le texte « {_short(value)} »"
    if isinstance(value, list):
        return "une liste"
    return "un bloc de clés"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field(path: JsonPath) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "document"


def _label(path: JsonPath) -> str:
    """How a value is named: « key », « key » (élément n), « code » (categories_donnees, élément 2)."""
    name = f"« {_field(path)} »"
    if path and isinstance(path[-1], int):
        return name + f" (élément {path[-1] + 1})"
    for i in range(len(path) - 1, 0, -1):
        part, container = path[i], path[i - 1]
        if isinstance(part, int) and isinstance(container, str):
            return name + f" ({container}, élément {part + 1})"
    return name


def _translate(error: ValidationError, doc: Document, vocab: Vocabularies) -> list[Problem]:
    path: JsonPath = tuple(error.absolute_path)
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    at = doc.position(path)
    instance: Any = error.instance
    expected: Any = error.validator_value
    custom = annotation(schema, "x-erreur")

    if keyword == "required":
        missing = [k for k in expected if k not in instance]
        return [
            Problem(
                at,
                f"champ obligatoire « {key} » manquant dans {_label(path) if path else 'le fichier'}",
                custom or "",
            )
            for key in missing
        ]
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        allowed = known_keys(schema)
        problems = []
        for key in instance:
            if key in allowed or _pattern_allowed(schema, key):
                continue
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            if close:
                hint = f"vouliez-vous dire « {close[0]} » ?"
            elif len(allowed) <= 12:
                hint = "clés possibles : " + ", ".join(allowed)
            else:
                hint = "voir le guide de l'éditeur ; les ajouts propres au territoire commencent par x_"
            problems.append(Problem(doc.key_position((*path, key)), f"clé inconnue « {key} »", hint))
        return problems
    if keyword == "type":
        wanted = expected if isinstance(expected, list) else [expected]
        expected_text = " ou ".join(_TYPE_WANTED.get(str(t), f"{t} attendu") for t in wanted)
        hint = ""
        if instance is None:
            hint = "complétez la valeur ou supprimez la clé"
        elif "string" in wanted and isinstance(instance, int | float | bool):
            hint = "mettez la valeur entre guillemets"
        elif "array" in wanted and not isinstance(instance, list):
            hint = "une liste s'écrit [a, b] ou avec une ligne « - élément » par élément"
        return [
            Problem(
                at,
                f"{_label(path)} : {expected_text}, mais la valeur est {_describe(instance)}",
                hint,
            )
        ]
    if keyword == "enum":
        vocabulary_name = annotation(schema, "x-vocabulaire")
        if vocabulary_name and not isinstance(instance, str):
            return []  # the type error at the same place says it better
        if vocabulary_name:
            vocabulary = vocab[vocabulary_name]
            closest = vocabulary.closest(str(instance))
            if closest:
                hint = "codes proches : " + ", ".join(closest)
            elif len(vocabulary.terms) <= 10:
                hint = "codes possibles : " + ", ".join(vocabulary.terms)
            else:
                hint = (
                    f"la liste des codes est dans le vocabulaire « {vocabulary.name} » (guide de l'éditeur)"
                )
            return [
                Problem(
                    at,
                    f"code « {_short(str(instance))} » inconnu pour {_label(path)} "
                    f"(vocabulaire « {vocabulary.title} »)",
                    hint,
                )
            ]
        if custom:
            return [Problem(at, f"{_label(path)} : {custom}")]
        choices = ", ".join(f"« {c} »" for c in expected)
        shown = f"« {_short(str(instance))} »" if isinstance(instance, str) else _describe(instance)
        return [Problem(at, f"{_label(path)} : valeur {shown} non prévue ; valeurs possibles : {choices}")]
    if keyword in ("pattern", "format", "const") and custom:
        return [Problem(at, f"{_label(path)} : {custom} ; la valeur est {_describe(instance)}")]
    if keyword in ("anyOf", "oneOf"):
        deeper = _deeper_branch(error, path)
        if deeper:
            return [p for sub in deeper for p in _translate(sub, doc, vocab)]
        message = custom or "valeur non conforme au format attendu"
        return [Problem(at, f"{_label(path)} : {message}")]
    if keyword == "minLength":
        return [Problem(at, f"{_label(path)} : texte vide", "complétez la valeur ou supprimez la clé")]
    if keyword == "minItems":
        return [Problem(at, f"{_label(path)} : liste vide, au moins un élément est attendu")]
    if keyword == "minProperties":
        return [Problem(at, f"{_label(path)} : bloc vide", "complétez-le ou supprimez la clé")]
    if keyword == "uniqueItems":
        return [Problem(at, f"{_label(path)} : un élément apparaît deux fois dans la liste")]
    if keyword == "minimum":
        return [Problem(at, f"{_label(path)} : la valeur doit être au moins {expected}")]
    return [Problem(at, f"{_label(path)} : valeur non conforme ({error.message})")]


def _deeper_branch(error: ValidationError, path: JsonPath) -> list[ValidationError]:
    """In an alternative, the errors of the one branch the value was meant for, if any.

    A branch "fits" when the value has its shape: none of its errors is about the value
    itself being of another type or form. When exactly one branch fits, its errors say
    what to fix (an unknown key inside a DPO contact, a transfer without a country);
    otherwise the alternative's own sentence (``x-erreur``) is clearer.
    """
    branches: dict[object, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    shape = {"type", "const", "enum", "pattern", "format"}
    fitting = [
        subs
        for subs in branches.values()
        if subs and not any(len(sub.absolute_path) == len(path) and sub.validator in shape for sub in subs)
    ]
    if len(fitting) == 1 and not all(
        sub.validator == "required" and len(sub.absolute_path) == len(path) for sub in fitting[0]
    ):
        return fitting[0]
    return []
