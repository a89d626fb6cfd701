"""What an editor sees in VS Code: the real ``yaml-language-server`` over the published schemas.

The YAML extension of Red Hat for VS Code runs ``yaml-language-server``; each register
file names its schema on its first line (``# yaml-language-server: $schema=…``). These
tests drive that server over stdio like an editor does (:mod:`lsp`) and check that it
agrees with ``dote validate``: no error on a valid file (files that extend a model
included), an error at the very line ``dote validate`` reports for the usual mistakes,
French messages, codes completed with their French labels, keys explained on hover.

The server is installed by ``.ci/run`` (npm) into ``.ci/node/``, or named by
``$DOTE_YAML_LS``; without it these tests fail in CI (``$CI`` set) and are skipped
elsewhere. The first tests need no server: they check the schemas themselves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing

from conftest import copy_demo
from dote.cli import main
from dote.editor_schemas import DATE_PATTERN, PARTIAL, editor_schemas
from dote.load import load_file
from dote.pipeline import run
from dote.problems import Problem
from dote.schema import SHARED, _date_format, compiled_schemas
from dote.vocabulary import load_vocabularies
from lsp import ROOT, Client, find_server

MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
Diagnostics = dict[Path, list[dict[str, Any]]]
#: For each mistake and file: the problems ``dote validate`` reports there, the editor's diagnostics.
Broken = dict[tuple[str, str], tuple[list[Problem], list[dict[str, Any]]]]


def register_files(root: Path) -> list[Path]:
    return sorted((root / "registers").rglob("*.yml"))


def schema_of(path: Path) -> Path:
    """The schema a register file names on its first line, as the editor finds it."""
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    found = MODELINE.match(first)
    assert found, f"{path}: first line is not a yaml-language-server modeline"
    return (path.parent / found.group(1)).resolve()


# --- the schemas themselves (no server needed) --------------------------------------


def test_publication_leaves_the_engine_schemas_alone() -> None:
    before = json.dumps(compiled_schemas(), sort_keys=True)
    editor_schemas()
    assert json.dumps(compiled_schemas(), sort_keys=True) == before


def _resolve(schemas: Mapping[str, Any], file: str, ref: str) -> tuple[str, Any]:
    target, _, pointer = ref.partition("#")
    node: Any = schemas[target or file]
    for part in filter(None, pointer.split("/")):
        node = node[part]
    return target or file, node


def _chain(schemas: Mapping[str, Any], file: str, node: Any) -> Iterator[Any]:
    while isinstance(node, dict):
        yield node
        if "$ref" not in node:
            return
        file, node = _resolve(schemas, file, node["$ref"])


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key not in ("enum", "const", "required", "enumDescriptions", "markdownEnumDescriptions"):
                yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def test_every_key_has_a_title_and_a_description() -> None:
    """Completion shows the description, hover the title and the description."""
    schemas = editor_schemas()
    missing = []
    for file, schema in schemas.items():
        for node in _nodes(schema):
            properties = node.get("properties")
            if not isinstance(properties, dict):
                continue
            for key, sub in properties.items():
                chain = list(_chain(schemas, file, sub))
                for keyword in ("title", "description"):
                    if not any(isinstance(n.get(keyword), str) and n[keyword] for n in chain):
                        missing.append(f"{file}: {key} ({keyword})")
    assert missing == []


def test_every_code_comes_with_its_french_label() -> None:
    vocabularies = load_vocabularies()
    checked = 0
    for schema in editor_schemas().values():
        for node in _nodes(schema):
            if "x-vocabulaire" not in node:
                continue
            vocabulary = vocabularies[node["x-vocabulaire"]]
            labels = [vocabulary[code].label for code in node["enum"]]
            assert all(d.startswith(label) for d, label in zip(node["enumDescriptions"], labels, strict=True))
            for markdown, label in zip(node["markdownEnumDescriptions"], labels, strict=True):
                assert markdown.replace("\\", "").startswith(f"**{label}**")
            checked += 1
    assert checked > 20


def test_french_sentences_become_the_editor_messages() -> None:
    checked = 0
    for schema in editor_schemas().values():
        for node in _nodes(schema):
            sentence = node.get("x-erreur")
            if isinstance(sentence, str) and "pattern" in node:
                assert node["patternErrorMessage"] == sentence[0].upper() + sentence[1:]
                assert "format" not in node  # the server's date format accepts 2025-02-30
                checked += 1
    assert checked >= 8


def test_the_date_pattern_is_the_validator_date() -> None:
    years = [1, 4, 100, 400, 1900, 1999, 2000, 2023, 2024, 2100, 2400, 9999, 0]
    for year in years:
        for month in range(14):
            for day in range(33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                assert bool(re.fullmatch(DATE_PATTERN, text)) == _date_format(text), text
    assert not re.fullmatch(DATE_PATTERN, "2025-2-3")


def test_partial_mode_only_for_files_that_extend_a_model() -> None:
    schemas = editor_schemas()
    activity = schemas["activite.schema.json"]
    assert activity["if"] == {"required": ["modele"]}
    assert activity["then"]["$ref"].endswith("traitement" + PARTIAL)
    assert activity["else"]["$ref"].endswith("#/$defs/traitement")
    assert set(activity["required"]) == {"version_schema", "nom", "statut"}
    assert "principale" not in json.dumps(
        schemas[SHARED]["$defs"]["traitement" + PARTIAL].get("required", [])
    )


def _editor_registry(root: Path) -> referencing.Registry[Any]:
    return referencing.Registry().with_resources(
        (
            path.resolve().as_uri(),
            referencing.Resource.from_contents(json.loads(path.read_text(encoding="utf-8"))),
        )
        for path in (root / "schemas").glob("*.json")
    )


def test_the_editor_schemas_accept_every_valid_demo_file() -> None:
    """The same promise as the server test below, checked with jsonschema (no server needed)."""
    registry = _editor_registry(ROOT)
    rejected: list[str] = []
    for path in register_files(ROOT):
        doc, problems = load_file(path, str(path.relative_to(ROOT)), within=ROOT)
        assert doc is not None, problems
        validator = jsonschema.Draft202012Validator({"$ref": schema_of(path).as_uri()}, registry=registry)
        rejected.extend(f"{path.relative_to(ROOT)}: {e.message}" for e in validator.iter_errors(doc.data))
    assert rejected == []


# --- the real language server -------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[Client]:
    command = find_server()
    if command is None or shutil.which("node") is None:
        message = (
            "yaml-language-server not found: .ci/run installs it in .ci/node/ "
            "(npm install --prefix .ci/node yaml-language-server@1.25.0), or set $DOTE_YAML_LS"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    client = Client([command, "--stdio"], ROOT, timeout=60)
    try:
        yield client
    finally:
        client.shutdown()


def _show(found: Diagnostics, root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)}:{d['range']['start']['line'] + 1}: {d['message']}"
        for path, diagnostics in found.items()
        for d in diagnostics
    ]


def test_no_false_error_on_valid_files(server: Client, tmp_path: Path) -> None:
    demo = copy_demo(tmp_path / "demo")
    synthetic = tmp_path / "synthetique"
    assert main(["demo", str(synthetic), "--members", "3", "--activities", "4"]) == 0
    files = []
    for root in (demo, synthetic):
        assert run(root).errors == (), "the territory must be valid for this test to mean anything"
        files += register_files(root)
        for path in register_files(root):
            assert schema_of(path).is_file()
    extending = [p for p in files if re.search(r"(?m)^modele:", p.read_text(encoding="utf-8"))]
    assert len(files) > 120 and len(extending) >= 12
    found = server.check(files)
    assert _show(found, tmp_path) == []


# The usual mistakes, each applied to several kinds of file (a complete activity, activities
# and a model that extend a model, a member) in its own copy of the demo.


def _replace(pattern: str, replacement: str) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        new, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
        assert count == 1, f"nothing to change for {pattern!r}"
        return new

    return mutate


def _boolean_as_text(text: str) -> str:
    new, count = re.subn(
        r"^collecte_obligatoire: \w+$", "collecte_obligatoire: oui", text, count=1, flags=re.M
    )
    return new if count else text.rstrip("\n") + "\ncollecte_obligatoire: oui\n"


def _extension(text: str) -> str:
    return text.rstrip("\n") + '\nx_suivi: "à revoir en 2027"\n'


COMPLETE = "registers/members/saint-exemple/inscriptions-scolaires.yml"
EXTENDING = "registers/members/cc-val-exemple/redevance-incitative.yml"
EXTENDING_COMPANY = "registers/members/boulangerie-exemple/clients-commandes.yml"  # publishes "au choix"
EXTENDING_MODEL = "registers/models/accueil-periscolaire.yml"
MEMBER = "registers/members/valmont/member.yml"
TREATMENTS = (COMPLETE, EXTENDING, EXTENDING_COMPANY, EXTENDING_MODEL)

MISTAKES: dict[str, dict[str, Callable[[str], str]]] = {
    "cle-mal-orthographiee": {
        **{rel: _replace(r"^finalites:", "finalite:") for rel in TREATMENTS},
        MEMBER: _replace(r"^description:", "descripton:"),
    },
    "code-inconnu": {
        **{rel: _replace(r"^(\s*- code: )[a-z-]+$", r"\1code-inconnu") for rel in TREATMENTS},
        MEMBER: _replace(r"^type: \w+$", "type: mairie"),
    },
    "texte-pour-booleen": {rel: _boolean_as_text for rel in TREATMENTS},
    "duree-mal-ecrite": {rel: _replace(r"^(\s+duree: )P\w+$", r"\g<1>1 an") for rel in TREATMENTS},
    "nom-manquant": {rel: _replace(r"^nom: .*\n(?:[ ]+.*\n)*", "") for rel in (*TREATMENTS, MEMBER)},
    # A company's x_ field is one it does not publish: dote validate wants it in the overlay.
    "extension-x": {rel: _extension for rel in (COMPLETE, EXTENDING, EXTENDING_MODEL, MEMBER)},
}


@pytest.fixture(scope="module")
def broken(server: Client, tmp_path_factory: pytest.TempPathFactory) -> Broken:
    """For each mistake and file: (``dote validate`` problems, editor diagnostics) of that file."""
    base = tmp_path_factory.mktemp("erreurs")
    dote: dict[tuple[str, str], list[Problem]] = {}
    paths: dict[tuple[str, str], Path] = {}
    for mistake, files in MISTAKES.items():
        root = copy_demo(base / mistake)
        for rel, mutate in files.items():
            path = root / rel
            path.write_text(mutate(path.read_text(encoding="utf-8")), encoding="utf-8")
            paths[mistake, rel] = path
        errors = run(root).errors
        stray = [p.text() for p in errors if p.position.file not in files]
        assert stray == [], "a mistake must not break other files (the comparison would be unclear)"
        for rel in files:
            dote[mistake, rel] = [p for p in errors if p.position.file == rel]
    found = server.check(paths.values())
    return {case: (dote[case], found[path]) for case, path in paths.items()}


CASES = [(mistake, rel) for mistake, files in MISTAKES.items() for rel in files]


@pytest.mark.parametrize(("mistake", "rel"), CASES, ids=[f"{m}:{Path(r).stem}" for m, r in CASES])
def test_the_editor_flags_what_dote_validate_flags_at_the_same_line(
    broken: Broken, mistake: str, rel: str
) -> None:
    problems, diagnostics = broken[mistake, rel]
    dote_lines = {p.position.line for p in problems}
    editor_lines = {d["range"]["start"]["line"] + 1 for d in diagnostics}
    shown = (
        [p.text() for p in problems],
        [(d["range"]["start"]["line"] + 1, d["message"]) for d in diagnostics],
    )
    if mistake == "extension-x":
        assert dote_lines == editor_lines == set(), shown
    else:
        assert dote_lines and editor_lines == dote_lines, shown


def _messages(broken: Broken, mistake: str) -> list[str]:
    return [d["message"] for (m, _), (_, diagnostics) in broken.items() if m == mistake for d in diagnostics]


def test_the_editor_says_in_french_how_to_write_a_duration(broken: Broken) -> None:
    sentence = compiled_schemas()[SHARED]["$defs"]["conservation"]["properties"]["duree"]["x-erreur"]
    messages = _messages(broken, "duree-mal-ecrite")
    assert len(messages) == len(MISTAKES["duree-mal-ecrite"])
    for message in messages:
        assert message == sentence[0].upper() + sentence[1:]
        assert "^P" not in message  # not the raw regular expression


def test_the_editor_names_the_vocabulary_the_booleans_and_the_keys(broken: Broken) -> None:
    titles = {v.title for v in load_vocabularies().values()}
    for message in _messages(broken, "code-inconnu"):
        assert message.startswith("Code attendu du vocabulaire « ")
        assert message.split("« ", 1)[1].split(" »", 1)[0] in titles
    for message in _messages(broken, "texte-pour-booleen"):
        assert message.startswith("True ou false est attendu")
    for message in _messages(broken, "nom-manquant"):
        assert '"nom"' in message
    for (mistake, rel), (_, diagnostics) in broken.items():
        if mistake == "cle-mal-orthographiee":
            misspelled = "descripton" if rel == MEMBER else "finalite"
            assert any(re.search(rf"\b{misspelled}\b", d["message"]) for d in diagnostics), diagnostics


def _open_variant(server: Client, rel: str, old: str, new: str, root: Path = ROOT) -> tuple[str, int, str]:
    """Open a changed copy of a file, next to it (its modeline still finds the schema)."""
    path = root / rel
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    index = next(i for i, line in enumerate(lines) if re.fullmatch(old, line))
    lines[index] = new
    uri = server.open(path.with_name(f"essai-{path.stem}.yml"), "\n".join(lines))
    server.wait_diagnostics([uri])
    return uri, index, new


def _documentation(item: Mapping[str, Any]) -> str:
    doc = item.get("documentation") or ""
    return str(doc.get("value", "") if isinstance(doc, dict) else doc).replace("\\", "")


@pytest.mark.parametrize(
    ("rel", "old", "new", "vocabulary"),
    [
        (COMPLETE, r"statut: \w+", "statut: ", "statuts-activite"),
        (EXTENDING, r"statut: \w+", "statut: ", "statuts-activite"),
        (COMPLETE, r"  - code: [a-z-]+", "  - code: ", "categories-donnees"),
        (EXTENDING_COMPANY, r"  - code: [a-z-]+", "  - code: ", "categories-donnees"),
        (MEMBER, r"type: \w+", "type: ", "types-membres"),
    ],
    ids=["statut", "statut-modele", "categorie", "categorie-modele", "type-membre"],
)
def test_completion_offers_codes_with_their_french_labels(
    server: Client, rel: str, old: str, new: str, vocabulary: str
) -> None:
    uri, line, text = _open_variant(server, rel, old, new)
    try:
        items = server.completion(uri, line, len(text))
    finally:
        server.close(uri)
    terms = load_vocabularies()[vocabulary]
    offered = {item["label"]: _documentation(item) for item in items}
    assert set(terms.terms) <= set(offered), sorted(offered)
    for term in terms:
        assert term.label in offered[term.code]


@pytest.mark.parametrize(
    ("rel", "line", "expected"),
    [
        (COMPLETE, "finalites:", ["Finalités", "Pourquoi les données sont traitées"]),
        (COMPLETE, "  principale:", ["Finalité principale", "Finalité principale : un texte."]),
        (COMPLETE, "collecte_obligatoire:", ["Fourniture des données obligatoire", "true si la personne"]),
        (EXTENDING, "modele:", ["Modèle", "L'identifiant d'un modèle"]),
        (EXTENDING, "  secondaires:", ["Finalités secondaires", "elle partage alors la base légale"]),
        (MEMBER, "siren:", ["SIREN", "Le numéro SIREN à 9 chiffres"]),
    ],
    ids=["finalites", "principale", "booleen", "modele", "secondaires", "siren"],
)
def test_hover_explains_each_key_in_french(server: Client, rel: str, line: str, expected: list[str]) -> None:
    path = ROOT / rel
    index = next(
        i for i, text in enumerate(path.read_text(encoding="utf-8").split("\n")) if text.startswith(line)
    )
    uri = server.open(path.with_name(f"survol-{path.stem}.yml"), path.read_text(encoding="utf-8"))
    try:
        server.wait_diagnostics([uri])
        shown = server.hover(uri, index, len(line) - len(line.lstrip()) + 1)
    finally:
        server.close(uri)
    for text in expected:
        assert text in shown, shown


def test_hover_on_a_code_shows_its_label(server: Client) -> None:
    path = ROOT / COMPLETE
    lines = path.read_text(encoding="utf-8").split("\n")
    index = next(i for i, text in enumerate(lines) if text.startswith("statut: "))
    code = lines[index].split(": ", 1)[1]
    uri = server.open(path.with_name("survol-code.yml"), "\n".join(lines))
    try:
        server.wait_diagnostics([uri])
        shown = server.hover(uri, index, len("statut: ") + 1).replace("\\", "")
    finally:
        server.close(uri)
    assert load_vocabularies()["statuts-activite"][code].label in shown
