"""The strict YAML loader: positions, YAML 1.2 scalars, and every refusal as a French problem."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from dote.load import MAX_BYTES, MAX_DEPTH, Document, load_bytes, load_file
from dote.problems import Position, Problem
from mutations import damaged

NAME = "registers/members/exemple/etat-civil.yml"


def load(text: str | bytes) -> tuple[Document | None, list[Problem]]:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return load_bytes(raw, Path(NAME), NAME)


def data_of(text: str | bytes) -> Any:
    doc, problems = load(text)
    assert problems == []
    assert doc is not None
    return doc.data


def only_problem(text: str | bytes) -> Problem:
    doc, problems = load(text)
    assert doc is None
    assert len(problems) == 1, problems
    return problems[0]


def where(problem: Problem) -> tuple[int, int]:
    assert problem.position.file == NAME
    return problem.position.line, problem.position.column


# --- positions ---------------------------------------------------------------------

SAMPLE = """\
# yaml-language-server: $schema=../../../schemas/activite.schema.json
nom: Actes d'état civil
finalites:
  principale: Établir les actes
personnes_concernees: [habitants, electeurs]
categories_donnees:
  - code: etat-civil-identite
    conservation:
      duree: P75Y
  - code: sante
"""


@pytest.fixture
def sample() -> Document:
    doc, problems = load(SAMPLE)
    assert problems == [] and doc is not None
    return doc


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        (("nom",), 2, 6),
        (("finalites",), 4, 3),
        (("finalites", "principale"), 4, 15),
        (("personnes_concernees", 0), 5, 24),
        (("personnes_concernees", 1), 5, 35),
        (("categories_donnees",), 7, 3),
        (("categories_donnees", 0, "code"), 7, 11),
        (("categories_donnees", 0, "conservation", "duree"), 9, 14),
        (("categories_donnees", 1, "code"), 10, 11),
    ],
)
def test_value_positions(sample: Document, path: tuple[str | int, ...], line: int, column: int) -> None:
    assert sample.position(path) == Position(NAME, line, column)


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        (("nom",), 2, 1),
        (("finalites", "principale"), 4, 3),
        (("categories_donnees", 0, "conservation"), 8, 5),
        (("categories_donnees", 0, "conservation", "duree"), 9, 7),
        (("categories_donnees", 1, "code"), 10, 5),
    ],
)
def test_key_positions(sample: Document, path: tuple[str | int, ...], line: int, column: int) -> None:
    assert sample.key_position(path) == Position(NAME, line, column)


def test_a_missing_value_is_placed_at_its_closest_written_ancestor(sample: Document) -> None:
    assert sample.position(("finalites", "secondaires", 0)) == Position(NAME, 4, 3)
    assert sample.key_position(("categories_donnees", 1, "precisions")) == Position(NAME, 10, 5)
    assert sample.position(("absent",)) == sample.position()


def test_columns_count_characters_not_bytes() -> None:
    doc, _ = load("a: [é, b]\nnom: «x» et ééé\n")
    assert doc is not None
    assert doc.position(("a", 1)) == Position(NAME, 1, 8)


def test_the_document_remembers_its_path_and_name(tmp_path: Path) -> None:
    path = tmp_path / "etat-civil.yml"
    path.write_text("nom: x\n", encoding="utf-8")
    doc, problems = load_file(path, NAME, within=tmp_path)
    assert problems == [] and doc is not None
    assert (doc.path, doc.name, doc.data) == (path, NAME, {"nom": "x"})


def test_an_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    doc, problems = load_file(tmp_path / "absent.yml", NAME, within=tmp_path)
    assert doc is None
    assert len(problems) == 1
    assert problems[0].message.startswith("fichier illisible")
    assert problems[0].position == Position(NAME, 1, 1)


def test_why_a_file_is_unreadable_is_said_in_french(tmp_path: Path) -> None:
    (tmp_path / "dossier.yml").mkdir()
    (tmp_path / "boucle.yml").symlink_to(tmp_path / "boucle.yml")
    said = {}
    for name in ("absent.yml", "dossier.yml", "boucle.yml"):
        doc, problems = load_file(tmp_path / name, NAME, within=tmp_path)
        assert doc is None and len(problems) == 1
        said[name] = problems[0].message
    assert said == {
        "absent.yml": "fichier illisible : fichier ou dossier introuvable",
        "dossier.yml": "fichier illisible : c'est un dossier, pas un fichier",
        "boucle.yml": "fichier illisible : boucle de liens symboliques",
    }


# --- YAML 1.2 scalars --------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("NO", "NO"),  # Norway, not YAML 1.1's false
        ("no", "no"),
        ("yes", "yes"),
        ("Yes", "Yes"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("true", True),
        ("false", False),
        ("True", True),
        ("FALSE", False),
        ("42", 42),
        ("-7", -7),
        ("3.5", 3.5),
        ("-0.25", -0.25),
        ("1_000", "1_000"),  # an int in YAML 1.1 only
        ("12:30", "12:30"),  # sexagesimal 750 in YAML 1.1 only
        ("2026-02-01", "2026-02-01"),  # dates stay text: the schema checks them
        ("2026-02-30", "2026-02-30"),
        ('"42"', "42"),
        ("'210000017'", "210000017"),
        ('"true"', "true"),
        ("'NO'", "NO"),
        ("~", None),
        ("null", None),
        ("", None),
        ("P1Y6M", "P1Y6M"),
    ],
)
def test_scalars_follow_yaml_1_2(written: str, value: object) -> None:
    data = data_of(f"valeur: {written}\n")
    assert data == {"valeur": value}
    assert type(data["valeur"]) is type(value)


def test_block_scalars_are_text() -> None:
    assert data_of("a: |\n  true\nb: >-\n  42\n") == {"a": "true\n", "b": "42"}


def test_keys_are_text() -> None:
    assert data_of("1: a\ntrue: b\nNO: c\n") == {"1": "a", "true": "b", "NO": "c"}


# --- refusals ----------------------------------------------------------------------


def test_duplicate_key_points_at_the_second_and_names_the_first() -> None:
    problem = only_problem("nom: a\nstatut: brouillon\nnom: b\n")
    assert where(problem) == (3, 1)
    assert "clé « nom » en double (déjà écrite ligne 1)" in problem.message


def test_duplicate_key_in_a_nested_block() -> None:
    problem = only_problem("categories_donnees:\n  - code: sante\n    precisions: a\n    code: nir\n")
    assert where(problem) == (4, 5)
    assert "clé « code » en double (déjà écrite ligne 2)" in problem.message


def test_the_same_key_in_two_blocks_is_not_a_duplicate() -> None:
    assert data_of("a:\n  nom: x\nb:\n  nom: y\n") == {"a": {"nom": "x"}, "b": {"nom": "y"}}


def test_alias_is_refused() -> None:
    problem = only_problem("a: &x [1, 2]\nb: *x\n")
    assert "ancres et alias" in problem.message
    assert problem.hint


def test_undefined_alias_is_refused_in_french() -> None:
    problem = only_problem("a: *x\n")
    assert where(problem) == (1, 4)
    assert "ancres et alias" in problem.message


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    bomb = "\n".join(lines) + "\n"  # 9**9 "lol" once expanded

    start = time.perf_counter()
    doc, problems = load(bomb)
    elapsed = time.perf_counter() - start

    assert doc is None
    assert problems and "ancres et alias" in problems[0].message
    assert elapsed < 0.5


def test_merge_key_is_refused() -> None:
    problem = only_problem("base: {a: 1}\nautre:\n  <<: {a: 2}\n")
    assert where(problem) == (3, 3)
    assert "« << »" in problem.message


@pytest.mark.parametrize(
    "text",
    [
        "nom: !!python/object/apply:os.system ['echo pwned']\n",
        "nom: !!python/name:os.system\n",
        "nom: !Ref autre\n",
        "nom: !!binary aGVsbG8=\n",
    ],
)
def test_tags_are_refused(text: str) -> None:
    problem = only_problem(text)
    assert where(problem) == (1, 6)
    assert "étiquette YAML" in problem.message
    assert "non acceptée" in problem.message


def test_the_standard_str_tag_makes_text() -> None:
    assert data_of("a: !!str 42\nb: !!str true\n") == {"a": "42", "b": "true"}


def test_a_list_as_key_is_refused() -> None:
    problem = only_problem("? [a, b]\n: c\n")
    assert "une clé doit être un simple mot" in problem.message


def test_oversized_file_is_refused_with_its_size() -> None:
    problem = only_problem(b"a: " + b"x" * (3 * MAX_BYTES // 2 - 4) + b"\n")  # exactly 1 536 Kio
    assert where(problem) == (1, 1)
    assert "fichier trop volumineux (1536 Ko ; au plus 1024 Ko)" in problem.message


def test_a_file_of_exactly_the_limit_is_read() -> None:
    raw = b"a: " + b"x" * (MAX_BYTES - 4) + b"\n"
    assert len(raw) == MAX_BYTES
    assert data_of(raw) == {"a": "x" * (MAX_BYTES - 4)}


def test_oversized_size_shown_exceeds_the_limit() -> None:
    # bogue : 1 Mio + 1 octet s'affiche « (1024 Ko ; au plus 1024 Ko) » (arrondi par défaut),
    # ce qui se contredit ; la taille affichée doit dépasser la limite (arrondi par excès).
    problem = only_problem(b"a: " + b"x" * (MAX_BYTES - 3) + b"\n")
    shown = re.search(r"\((\d+) Ko ; au plus (\d+) Ko\)", problem.message)
    assert shown, problem.message
    assert int(shown[1]) > int(shown[2]), problem.message


def test_latin1_byte_reports_its_line_and_column() -> None:
    raw = b"version_schema: 1\nnom: Actes\ncommune: Saint-\xe9tienne\n"
    problem = only_problem(raw)
    assert where(problem) == (3, 16)
    assert "0xE9" in problem.message
    assert "UTF-8" in problem.message
    assert problem.hint


def test_latin1_byte_column_counts_characters_after_accents() -> None:
    # bogue : la colonne est comptée en octets (19) au lieu de caractères (17), alors que
    # toutes les autres positions comptent les caractères.
    raw = "version_schema: 1\nnom: Élu\nprécisions: Élu ".encode() + b"\xe9\n"
    assert where(only_problem(raw)) == (3, 17)


def test_utf8_bom_is_accepted() -> None:
    doc, problems = load(b"\xef\xbb\xbfnom: Actes\nstatut: brouillon\n")
    assert problems == [] and doc is not None
    assert doc.data == {"nom": "Actes", "statut": "brouillon"}
    assert doc.position(("nom",)) == Position(NAME, 1, 6)


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b"], ids=["NUL", "BEL", "ESC"])
def test_control_character_is_reported_in_french_at_its_place(char: str) -> None:
    # bogue : l'erreur du lecteur (ReaderError) n'est pas traduite : message anglais sur deux
    # lignes (« unacceptable character #x0000 … position N »), placé en 1:1.
    problem = only_problem(f"version_schema: 1\nnom: Act{char}es\n")
    assert "caractère de contrôle interdit" in problem.message
    assert where(problem) == (2, 9)


def test_deep_nesting_is_refused() -> None:
    depth = MAX_DEPTH + 10
    problem = only_problem("a: " + "[" * depth + "]" * depth + "\n")
    assert "imbrication trop profonde" in problem.message
    assert where(problem)[0] == 1


def test_deep_block_nesting_is_refused() -> None:
    depth = MAX_DEPTH + 10
    text = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "fin\n"
    problem = only_problem(text)
    assert "imbrication trop profonde" in problem.message


def test_extreme_nesting_is_refused_in_french() -> None:
    # bogue : au-delà de 1000 niveaux, libyaml refuse avant le chargeur et seul le détail
    # anglais apparaît (« while increasing flow level exceeded the maximum nesting depth »).
    problem = only_problem("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "imbrication trop profonde" in problem.message


@pytest.mark.parametrize(
    "text", ["", "\n\n", "   \n", "# rien\n", "# yaml-language-server: x\n\n  # encore\n"]
)
def test_empty_or_comment_only_file(text: str) -> None:
    problem = only_problem(text)
    assert where(problem) == (1, 1)
    assert problem.message == "fichier vide : aucune donnée à lire"


def test_two_documents_are_refused_at_the_second() -> None:
    problem = only_problem("nom: a\n---\nnom: b\n")
    assert where(problem) == (2, 1)
    assert "un seul document YAML par fichier" in problem.message


def test_a_leading_document_marker_is_fine() -> None:
    assert data_of("---\nnom: a\n") == {"nom": "a"}


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("a:\n\tb: 1\n", 2, 1, "tabulation interdite"),
        ("nom: Finalité : établir\n", 1, 15, "deux-points inattendu"),
        ("a:\n    b: 1\n  c: 2\n", 3, 3, "indentation incohérente"),
        ("nom: `x`\n", 1, 6, "ce caractère ne peut pas commencer une valeur"),
        ('nom: "a\\qb"\n', 1, 8, "séquence d'échappement inconnue"),
    ],
)
def test_syntax_errors_are_translated(text: str, line: int, column: int, message: str) -> None:
    problem = only_problem(text)
    assert where(problem) == (line, column)
    assert problem.message.startswith("syntaxe YAML invalide : ")
    assert message in problem.message


def test_random_damage_never_raises() -> None:
    """Mutated register files give a document or problems, one line each, never an exception."""
    base = (
        "# yaml-language-server: $schema=../../../schemas/activite.schema.json\n"
        "version_schema: 1\nnom: Gestion des listes électorales\nstatut: brouillon\n"
        "finalites:\n  principale: Tenir la liste électorale\n"
        "personnes_concernees: [electeurs]\ncategories_donnees:\n  - code: etat-civil-identite\n"
        '    conservation: {criteres: "Tant que l\'électeur est inscrit", sort_final: destruction}\n'
        "transferts: aucun\n"
    ).encode()
    alphabet = b"\t:-[]{}\"'&*!|>#%@`,?\n \xc3\xa9\xe9\xff"
    for raw in damaged(base, alphabet, 1500, 20261128):
        doc, problems = load(raw)
        assert (doc is None) == bool(problems), raw
        # An end-of-file problem may sit just after the last line (the unclosed quote and
        # bracket cases of tests/fixtures/invalid say where it should be).
        line_count = bytes(raw).count(b"\n") + 2
        for problem in problems:
            assert "\n" not in problem.message + problem.hint, (bytes(raw), problem)
            assert 1 <= problem.position.line <= line_count, (bytes(raw), problem)
            assert problem.position.column >= 1, (bytes(raw), problem)
