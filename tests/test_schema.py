"""The schemas and vocabularies: one source of truth, published to editors' IDEs in French."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import yaml

from dote.editor_schemas import editor_schemas
from dote.load import Document, load_file
from dote.schema import (
    KINDS,
    SHARED,
    compiled_schemas,
    known_keys,
    published_schemas,
    validate_document,
)
from dote.vocabulary import load_vocabularies

SCHEMA_FILES = sorted([*KINDS.values(), SHARED])
SKELETON = Path(str(resources.files("dote") / "skeleton" / "registers"))
VOCABULARY_FILES = sorted(
    (e for e in resources.files("dote.vocabularies").iterdir() if e.name.endswith(".yml")),
    key=lambda e: e.name,
)
#: Codes are ASCII kebab-case; a segment may carry a dotted version number, as licence
#: identifiers do (licence-ouverte-2.0, cc-by-4.0).
KEBAB_CODE = re.compile(r"^[a-z0-9]+(?:\.[0-9]+)*(?:-[a-z0-9]+(?:\.[0-9]+)*)*$")
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


def raw_schema(file: str) -> dict[str, Any]:
    text = resources.files("dote.schemas").joinpath(file).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def nodes(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object in a schema document, with its JSON pointer."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from nodes(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from nodes(value, f"{where}/{i}")


def resolve(ref: str, file: str) -> tuple[str, Any]:
    """The file and node a ``$ref`` written in ``file`` points to (``None`` if nothing)."""
    target_file, _, pointer = ref.partition("#")
    target_file = target_file or file
    target: Any = compiled_schemas().get(target_file)
    for part in filter(None, pointer.split("/")):
        target = target.get(part) if isinstance(target, Mapping) else None
    return target_file, target


def ref_chain(node: Mapping[str, Any], file: str) -> Iterator[Mapping[str, Any]]:
    seen = 0
    current: Any = node
    while isinstance(current, Mapping) and seen < 10:
        yield current
        ref = current.get("$ref")
        if not isinstance(ref, str):
            return
        file, current = resolve(ref, file)
        seen += 1


# --- vocabularies in the schemas ---------------------------------------------------


def vocabulary_nodes() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for file in SCHEMA_FILES:
        for where, node in nodes(compiled_schemas()[file]):
            if "x-vocabulaire" in node:
                yield file, where, node


def test_every_vocabulary_named_in_a_schema_exists() -> None:
    vocabularies = load_vocabularies()
    names = {node["x-vocabulaire"] for _, _, node in vocabulary_nodes()}
    assert names, "no x-vocabulaire found"
    assert sorted(names - set(vocabularies)) == []


def test_compiled_schemas_carry_the_vocabulary_codes_as_enum() -> None:
    vocabularies = load_vocabularies()
    for file, where, node in vocabulary_nodes():
        assert node["enum"] == list(vocabularies[node["x-vocabulaire"]].terms), f"{file}{where}"


def test_compiled_enums_examples() -> None:
    common = compiled_schemas()[SHARED]["$defs"]
    assert {"FR", "NO", "US"} <= set(common["pays"]["enum"])
    sort_final = common["conservation"]["properties"]["sort_final"]["enum"]
    assert "destruction" in sort_final
    assert "sante" in common["categorie_donnees"]["properties"]["code"]["enum"]


def test_source_schemas_do_not_repeat_the_codes() -> None:
    """The codes live in the vocabulary files only: a hand-written enum would drift."""
    repeated = [
        f"{file}{where}"
        for file in SCHEMA_FILES
        for where, node in nodes(raw_schema(file))
        if "x-vocabulaire" in node and "enum" in node
    ]
    assert repeated == []


def test_every_ref_points_to_a_schema_node() -> None:
    broken = [
        f"{file}{where}: {node['$ref']}"
        for file in SCHEMA_FILES
        for where, node in nodes(compiled_schemas()[file])
        if isinstance(node.get("$ref"), str) and not isinstance(resolve(node["$ref"], file)[1], Mapping)
    ]
    assert broken == []


def test_visibility_annotations_use_known_levels() -> None:
    levels = {
        node["x-visibilite"]
        for file in SCHEMA_FILES
        for _, node in nodes(raw_schema(file))
        if "x-visibilite" in node
    }
    assert levels <= {"confidentiel", "membres"}


# --- published schemas -------------------------------------------------------------


def test_published_schemas_are_every_schema_file() -> None:
    assert sorted(published_schemas()) == SCHEMA_FILES


@pytest.mark.parametrize("file", SCHEMA_FILES)
def test_published_schema_is_valid_2020_12_json_schema(file: str) -> None:
    text = published_schemas()[file]
    schema = json.loads(text)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == editor_schemas()[file]  # the editors' copies (see dote.editor_schemas)
    assert text.endswith("}\n")
    assert "\\u00e9" not in text, "French text must stay readable (ensure_ascii=False)"


def ide_validator(kind: str) -> jsonschema.Draft202012Validator:
    """A validator built from the published texts only, resolving references between files
    relative to where they are published, as an editor's IDE does."""
    base = "https://maison.example/schemas/"
    registry: referencing.Registry[Any] = referencing.Registry().with_resources(
        (base + file, referencing.Resource.from_contents(json.loads(text)))
        for file, text in published_schemas().items()
    )
    return jsonschema.Draft202012Validator({"$ref": base + KINDS[kind]}, registry=registry)


@pytest.mark.parametrize(
    ("kind", "rel"),
    [
        ("maison", "maison.yml"),
        ("membre", "members/exemple/member.yml"),
        ("activite", "members/exemple/listes-electorales.yml"),
    ],
)
def test_the_ide_accepts_the_skeleton_and_rejects_a_wrong_code(kind: str, rel: str) -> None:
    data = skeleton_data(rel)
    validator = ide_validator(kind)
    assert [e.message for e in validator.iter_errors(data)] == []
    assert not validator.is_valid({**data, "version_schema": 2})


def skeleton_data(rel: str) -> dict[str, Any]:
    doc, problems = load_file(SKELETON / rel, rel, within=SKELETON)
    assert problems == [] and doc is not None
    data: dict[str, Any] = doc.data
    for key in ("nom", "territoire"):  # placeholders that dote init fills in
        if isinstance(data.get(key), str) and data[key].startswith("$"):
            data[key] = "Exemple"
    return data


def dote_accepts(kind: str, data: dict[str, Any]) -> bool:
    doc = Document(Path("f.yml"), "f.yml", data)
    return not [p for p in validate_document(doc, kind) if p.is_error]


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        pytest.param(
            "maison",
            {
                "publication": {
                    "licence": "cc-by-4.0",
                    "directeur_publication": "Présidente",
                    "hebergeur": {"nom": "Hébergeur", "adresse": "Adresse", "x_contrat": "C-12"},
                }
            },
            id="maison-hebergeur",
        ),
        pytest.param(
            "modele",
            {"version": 2, "journal": [{"version": 2, "resume": "Durées revues", "x_ticket": "#42"}]},
            id="modele-journal",
        ),
        pytest.param("maison", {"x_logo": "logo.svg"}, id="maison-racine"),
    ],
)
def test_dote_and_the_ide_agree_on_x_extensions(kind: str, data: dict[str, Any]) -> None:
    """An ``x_`` key accepted by ``dote validate`` must not be underlined in the IDE, and
    the other way round (closed blocks without ``patternProperties: {"^x_": …}``)."""
    base = {
        "maison": skeleton_data("maison.yml"),
        "modele": {"version_schema": 1, "nom": "Modèle", "version": 1, "finalites": {"principale": "But"}},
    }[kind]
    instance = {**base, **data}
    ide = [e.message for e in ide_validator(kind).iter_errors(instance)]
    assert dote_accepts(kind, instance) == (ide == []), ide


# --- French titles -----------------------------------------------------------------


def untitled_properties(file: str) -> list[str]:
    missing = []
    for where, node in nodes(compiled_schemas()[file]):
        properties = node.get("properties")
        if not isinstance(properties, dict) or where.endswith("/properties"):
            continue  # a property literally named "properties" is not a properties map
        for key, sub in properties.items():
            if not any(isinstance(n.get("title"), str) and n["title"].strip() for n in ref_chain(sub, file)):
                missing.append(f"{where}/properties/{key}")
    return missing


@pytest.mark.parametrize("file", SCHEMA_FILES)
def test_every_property_has_a_french_title(file: str) -> None:
    """IDE tooltips and the editor's guide show the title: every field needs one, on the
    property itself or on the definition its ``$ref`` points to."""
    assert untitled_properties(file) == []


def test_the_title_check_follows_refs() -> None:
    titled_by_ref = compiled_schemas()[SHARED]["$defs"]["transfert"]["properties"]["pays"]
    assert "title" not in titled_by_ref
    assert "#/$defs/transfert/properties/pays" not in " ".join(untitled_properties(SHARED))


# --- known_keys --------------------------------------------------------------------


def test_known_keys_follow_refs() -> None:
    activity = compiled_schemas()[KINDS["activite"]]
    keys = known_keys(activity)
    assert {"modele", "statut"} <= set(keys)  # its own properties
    assert {"nom", "finalites", "categories_donnees", "transferts"} <= set(keys)  # from $ref traitement
    assert len(keys) == len(set(keys))


def test_known_keys_of_a_bare_ref() -> None:
    contact = {"$ref": "commun.schema.json#/$defs/contact"}
    assert known_keys(contact) == ["courriel", "adresse", "telephone", "formulaire"]
    assert known_keys({"$ref": "#/$defs/contact"}) == known_keys(contact)


def test_known_keys_of_a_schema_without_properties() -> None:
    assert known_keys({"type": "string"}) == []


# --- vocabulary files --------------------------------------------------------------


def vocabulary_file(entry: Any) -> dict[str, Any]:
    # safe_load is YAML 1.1, like the vocabulary loader: an unquoted NO would be False.
    data: dict[str, Any] = yaml.safe_load(entry.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("entry", VOCABULARY_FILES, ids=[e.name for e in VOCABULARY_FILES])
def test_vocabulary_file(entry: Any) -> None:
    data = vocabulary_file(entry)
    name = entry.name.removesuffix(".yml")
    assert data["nom"] == name
    assert isinstance(data["titre"], str) and data["titre"].strip()
    entries = data["entrees"]
    assert entries
    codes = [e["code"] for e in entries]
    assert [c for c in codes if not isinstance(c, str)] == [], "quote codes that YAML 1.1 reads otherwise"
    assert len(codes) == len(set(codes)), sorted({c for c in codes if codes.count(c) > 1})
    pattern = COUNTRY_CODE if name == "pays" else KEBAB_CODE
    assert [c for c in codes if not pattern.match(c)] == []
    for e in entries:
        label = e.get("libelle")
        assert isinstance(label, str) and label.strip() == label and label, e
        assert label != e["code"], f"{e['code']}: the label is what citizens read, not the code"


@pytest.mark.parametrize("entry", VOCABULARY_FILES, ids=[e.name for e in VOCABULARY_FILES])
def test_vocabulary_entries_have_no_empty_field(entry: Any) -> None:
    """An unquoted comma inside ``{…}`` silently cuts a label and adds an empty field
    (``label_en: Environment, water and waste`` → label_en « Environment »)."""
    empty = [
        f"{e['code']}: {key!r}"
        for e in vocabulary_file(entry)["entrees"]
        for key, value in e.items()
        if value is None or value == ""
    ]
    assert empty == []


def test_country_codes_with_yaml_1_1_traps_are_text() -> None:
    countries = load_vocabularies()["pays"]
    assert "NO" in countries
    assert countries["NO"].label == "Norvège"
    assert "False" not in countries and "True" not in countries
