"""The fast path of the loader (ryaml, positions found lazily) gives what the strict loader gives.

:func:`dote.load.load_bytes` hands a text to ryaml only when nothing in it could be read
otherwise than by the strict loader, and finds positions only when asked for. Every
test here compares the two paths on the same bytes: the data (types and key order
included), the problems, and every value and key position. Checked on generated tricky
scalars in every place a scalar can be written, on the constructs the strict loader
refuses, on every file of the demo territories and on every fixture.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dote import load
from dote.cache import document_of, entry_of
from dote.load import MAX_BYTES, MAX_DEPTH, Document, load_bytes, load_file
from dote.problems import Problem
from dote.scaffold import demo_territory
from mutations import damaged

pytestmark = pytest.mark.skipif(load._fast_loads is None, reason="ryaml is not installed")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
NAME = "registers/members/exemple/etat-civil.yml"


def _typed(value: Any) -> Any:
    """A value with every type spelled out: 1, 1.0 and True differ, as do -0.0 and 0.0, key order counts."""
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    return (type(value).__name__, value)


def _strict(raw: bytes, path: Path = Path(NAME), name: str = NAME) -> tuple[Document | None, list[Problem]]:
    fast = load._fast_loads
    load._fast_loads = None
    try:
        return load_bytes(raw, path, name)
    finally:
        load._fast_loads = fast


def _taken(raw: bytes) -> bool:
    """Whether ``raw`` takes the fast path."""
    text, _ = load._text_of(raw, NAME)
    return text is not None and load._fast_data(text)[0]


def assert_same(raw: bytes, path: Path = Path(NAME), name: str = NAME) -> bool:
    """The two paths agree on ``raw``; return whether it took the fast path."""
    strict_doc, strict_problems = _strict(raw, path, name)
    doc, problems = load_bytes(raw, path, name)
    assert problems == strict_problems, raw
    assert (doc is None) == (strict_doc is None), raw
    text, _ = load._text_of(raw, name)
    if text is not None:
        assert load._doubtful(text) == bool(load._UNSAFE.search(text)), raw
    if doc is None or strict_doc is None:
        return False
    assert (doc.path, doc.name) == (strict_doc.path, strict_doc.name)
    assert _typed(doc.data) == _typed(strict_doc.data), raw
    # The document's own position first: on the fast path it is found without parsing.
    assert doc.position() == strict_doc.position(), raw
    assert dict(doc.values) == dict(strict_doc.values), raw
    assert dict(doc.keys) == dict(strict_doc.keys), raw
    assert doc.position() == strict_doc.position(), raw
    return _taken(raw)


# --- plain scalars ---------------------------------------------------------------------

SCALARS = [
    # null, booleans, and what YAML 1.1 alone calls booleans
    *("~", "null", "Null", "NULL", "nULL", "true", "True", "TRUE", "tRUE", "false", "False", "FALSE"),
    *("yes", "Yes", "YES", "no", "No", "NO", "on", "On", "off", "OFF", "y", "Y", "n", "N"),
    # integers
    *("0", "1", "42", "+1", "-1", "-0", "+0", "00", "007", "089", "0123", "-0123", "+0123", "01000"),
    *("9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809"),
    *("18446744073709551615", "18446744073709551616", "123456789012345", "1234567890123456"),
    *("123456789012345678901234567890", "1_000", "1_0.5", "_1", "1_", "1__0"),
    *("0x1F", "0X1F", "+0x1F", "-0x1F", "0x", "0xG", "0o17", "0O17", "0b101", "-0b101", "0b", "0o8"),
    # floats
    *("1.5", "-1.5", "+1.5", "3.14", "1.", "-1.", "5.", "0.", ".5", "-.5", "+.5", ".", "-.", "+.", ".."),
    *("1e5", "1E5", "1e+5", "1e-5", "1.5e3", "1.5e+3", "1.5E-3", "1.e5", ".5e3", "-.5e3", "1.0e+400"),
    *("1e400", "-1.0e+400", "1.0e-400", "1e", "e5", "1e5.5", "00.5", "01.5", "-0.0", "0.0", "-00.0"),
    *("0.1000000000000000055511151231257827", "179769313486231570000000000000000000000.0"),
    *(".inf", "-.inf", "+.inf", ".Inf", ".INF", ".iNf", "inf", "-inf", "infinity", "-Infinity"),
    *(".nan", ".NaN", ".NAN", "nan", "NaN", "+.nan"),
    # dates, times, sexagesimals
    *("2024-01-01", "2024-1-1", "2024-01-01T10:00:00Z", "2001-12-14 21:59:43.10 -5", "12:30"),
    *("1:20:30", "190:20:30", "1:20.5", "-1:20", "08:00", "10:05", "P1Y6M", "P75Y"),
    # text that looks like something else, or nothing
    *("=", "-", "+", "1,5", "1 000", "01 23 45 67 89", "0x1F abc", "abc 0x1F", "１２", "٣", "é"),
    *("a#b", "a=b", "R&D", "a*b", "a!", "Attention !", "a - b", "!important", "http://x.fr/a?b=1"),
    *("'quoted'", '"double"', "'0x1F'", '"0123"', "'1e5'", '".inf"', "'~'", "'true'", '"=\\t"'),
]

CONTEXTS = [
    "valeur: {s}\n",
    "valeur:   {s}   \n",
    "valeur: {s} # commentaire\n",
    "valeur: {s}\r\n",
    "a: 1\nvaleur: {s}\nb: 2\n",
    "- {s}\n",
    "liste:\n  - {s}\n  - x\n",
    "valeur:\n  {s}\n",
    "valeur: texte\n  {s}\n",
    "valeur: {s}\n  suite\n",
    "valeur: [{s}]\n",
    "valeur: [a, {s}, b]\n",
    "valeur: [a,{s}]\n",
    "valeur: {{k: {s}}}\n",
    '{{"k":{s}}}\n',
    "{s}\n",
    "{s}: valeur\n",
    "a:\n  {s}: valeur\n",
    "? {s}\n: valeur\n",
    "valeur: '{s}'\n",
    'valeur: "{s}"\n',
    "valeur: |\n  {s}\n",
    "valeur: >-\n  {s}\n",
]


def _cases() -> Iterator[str]:
    for context in CONTEXTS:
        for scalar in SCALARS:
            yield context.format(s=scalar)


def test_every_plain_scalar_everywhere_reads_the_same() -> None:
    fast = sum(assert_same(text.encode("utf-8")) for text in _cases())
    assert fast > len(CONTEXTS) * len(SCALARS) // 2  # most take the fast path


def test_random_plain_scalars_read_the_same() -> None:
    rng = random.Random(20261201)
    alphabet = "0000111234567899+-..__eEExXoObBnNaAiIfF:=~ "
    contexts = ("valeur: {s}\n", "- {s}\n", "valeur: [{s}, a]\n", "{s}: valeur\n", '{{"k":{s}}}\n')
    for _ in range(4000):
        scalar = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 9))).strip() or "0"
        assert_same(rng.choice(contexts).format(s=scalar).encode("utf-8"))


def test_random_damage_reads_the_same() -> None:
    base = (
        "# yaml-language-server: $schema=../../../schemas/activite.schema.json\n"
        "version_schema: 1\nnom: Gestion des listes électorales\nstatut: brouillon\n"
        "finalites:\n  principale: Tenir la liste électorale\nvolume: 10540\n"
        "personnes_concernees: [electeurs]\ncategories_donnees:\n  - code: etat-civil-identite\n"
        '    conservation: {criteres: "Tant que l\'électeur est inscrit", sort_final: destruction}\n'
        "dates:\n  creation: '2023-04-11'\n  revue: 2025-05-21\ntransferts: aucun\n"
    ).encode()
    alphabet = b"\t:-[]{}\"'&*!|>#%@`,?\n \r\xc3\xa90123456789.+-_eExX=~<"
    taken = 0
    for raw in damaged(base, alphabet, 3000, 20261201):
        taken += assert_same(raw)
    assert taken > 1000


@pytest.mark.parametrize(
    "text",
    [
        *("valeur: 42\n", "valeur: -7\n", "valeur: 3.5\n", "valeur: 2024-01-01\n", "valeur: texte\n"),
        *("valeur: ~\n", "valeur: true\n", "valeur: [a, 1]\n", "telephone: 00 00 00 00 00\n", "a: 'NO'\n"),
        *("a: Attention !\n", "a: note *importante*\n", "a: R&D\n", "heure: 08:00\n", "x: 1.5\r\ny: 2\r\n"),
    ],
)
def test_ordinary_texts_take_the_fast_path(text: str) -> None:
    assert assert_same(text.encode("utf-8"))


@pytest.mark.parametrize(
    "text",
    [
        *(
            "valeur: 0x1F\n",
            "valeur: 0123\n",
            "valeur: 1e5\n",
            "valeur: .inf\n",
            "valeur: -.5\n",
            "valeur: =\n",
        ),
        *("valeur: 1_000\n", "valeur: 12345678901234567890\n", "1: x\n", "true: x\n", "null: x\n", "~: x\n"),
        *("'1': x\n1: y\n", "1.5: x\n", "a: &x 1\nb: *x\n", "a: *x\n", "a: !!str 1\n", "a: !t 1\n"),
        *("<<: {a: 1}\n", "a:\n  <<: {b: 1}\n", "b: <<\n", "---\na: 1\n", "a: 1\n---\nb: 2\n", "a: 1\n...\n"),
        *("%YAML 1.1\n---\na: 1\n", "a: 1\nb: 2\na: 3\n", "a: 1\n'a': 2\n", "a:\n  b: 1\n  b: 2\n"),
        *(
            "a:\tb\n",
            "a: b\tc\n",
            "a: b\x85c\n",
            "a: b\u2028c\n",
            "a: b\ufeffc\n",
            "a: b\x07\n",
            "a: 1\rb: 2\n",
        ),
        *("? [a, b]\n: c\n", "? {a: 1}\n: c\n", "a: [1, , 2]\n", "a: 'unclosed\n", "a: [1, 2\n"),
        *("a:\n    b: 1\n  c: 2\n", "nom: Finalité : établir\n", "nom: `x`\n", 'nom: "a\\qb"\n'),
    ],
)
def test_what_the_strict_loader_refuses_or_reads_otherwise_goes_to_it(text: str) -> None:
    assert not assert_same(text.encode("utf-8"))


def test_a_bom_and_an_empty_file_keep_their_reading() -> None:
    assert assert_same(b"\xef\xbb\xbfnom: Actes\nstatut: brouillon\n")
    assert not assert_same(b"\xef\xbb\xbf\xef\xbb\xbfnom: Actes\n")  # a second BOM is text
    for empty in (b"", b"\n", b"  \n", b"# rien\n", b"# a\r\n\r\n  # b\n", b"\xef\xbb\xbf# rien\n"):
        doc, problems = load_bytes(empty, Path(NAME), NAME)
        assert doc is None and problems == _strict(empty)[1]
        assert problems[0].message == "fichier vide : aucune donnée à lire"
    assert not assert_same(b"\xe9t\xe9: 1\n")  # Latin-1


def test_the_document_starts_at_its_first_written_character() -> None:
    texts = ["nom: x\n", "# c\n\n  # d\nnom: x\n", "  nom: x\n", "- a\n- b\n", "[a, b]\n", "{a: 1}\n"]
    texts += ["'texte'\n", "texte\n", "|\n  texte\n", "# c\r\n\r\nnom: x\r\n", "\n\n   42\n", "? a\n: b\n"]
    for text in texts:
        assert assert_same(text.encode("utf-8")), text


def test_depth_and_size_limits_are_the_strict_loaders() -> None:
    for depth in (MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1):
        flow = "a: " + "[" * depth + "x" + "]" * depth + "\n"
        empty = "a: " + "[" * depth + "]" * depth + "\n"
        block = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "fin\n"
        for text in (flow, empty, block):
            assert_same(text.encode("utf-8"))
    assert not assert_same(("a: " + "[" * 5000 + "]" * 5000 + "\n").encode("utf-8"))


def test_the_number_of_values_is_the_strict_loaders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "MAX_NODES", 10)
    assert assert_same(b"a: [1, 2, 3, 4, 5, 6, 7]\nb: 1\n")  # 10 values
    assert not assert_same(b"a: [1, 2, 3, 4, 5, 6, 7, 8]\nb: 1\n")  # 11 values
    assert not assert_same(b"a: {b: 1, c: 2, d: 3, e: 4, f: 5, g: 6, h: 7, i: 8, j: 9, k: 10}\n")


# --- positions, found lazily -----------------------------------------------------------


def test_positions_are_found_only_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []
    strict = load._strict

    def counted(text: str, path: Path, name: str) -> tuple[Document | None, list[Problem]]:
        runs.append(name)
        return strict(text, path, name)

    monkeypatch.setattr(load, "_strict", counted)
    raw = b"# modeline\nnom: Actes\nfinalites:\n  principale: Etablir\n"
    doc, problems = load_bytes(raw, Path(NAME), NAME)
    assert doc is not None and problems == [] and runs == []
    assert doc.position() == doc.position(()) and runs == []
    assert doc.position(("finalites", "principale")).line == 4 and runs == [NAME]
    assert doc.key_position(("nom",)).line == 2 and runs == [NAME]  # once for both tables


def test_a_lazy_document_works_where_a_document_is_rebuilt() -> None:
    doc, _ = load_bytes(b"nom: Actes\nstatut: brouillon\n", Path(NAME), NAME)
    assert doc is not None
    copy = Document(doc.path, doc.name, {**doc.data, "statut": "valide"}, doc.values, doc.keys)
    assert copy.key_position(("statut",)).line == 2
    assert ("statut",) in copy.values and len(copy.keys) == 2
    assert repr(doc).startswith("Document(")
    assert doc == Document(doc.path, doc.name, doc.data, dict(doc.values), dict(doc.keys))


@pytest.mark.parametrize(
    "text",
    [
        "nom: Actes\nliste:\n  - a\n  - b\n",  # the fast path
        "# c\n---\n# d\n  nom: Actes\n",  # the strict loader: the value starts after the marker
        "%YAML 1.1\n---\nnom: Actes\n",
        '#\tc\n  nom: "a\tb"\n',
        "valeur: 0x1F\n",
    ],
)
def test_a_kept_read_finds_its_positions_from_the_bytes(text: str) -> None:
    """What the cache and the worker processes keep of a read gives the same document back."""
    raw = text.encode("utf-8")
    doc, problems = load_bytes(raw, Path(NAME), NAME)
    again, found = document_of(entry_of(doc, problems), raw, Path(NAME), NAME)
    strict_doc, _ = _strict(raw)
    assert again is not None and strict_doc is not None and found == []
    assert _typed(again.data) == _typed(strict_doc.data)
    assert again.position() == strict_doc.position()
    assert dict(again.values) == dict(strict_doc.values) and dict(again.keys) == dict(strict_doc.keys)


def test_without_ryaml_the_strict_loader_reads_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "_fast_loads", None)
    doc, problems = load_bytes(b"nom: Actes\n", Path(NAME), NAME)
    assert doc is not None and problems == []
    assert type(doc.values) is dict and doc.values == {(): (1, 1), ("nom",): (1, 6)}
    assert load.fast_parser() == ""


# --- every real file -------------------------------------------------------------------


def _register_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "registers").rglob("*.yml") if p.is_file())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_territory(tmp_path_factory.mktemp("demo") / "t", members=50, activities=30)


def test_every_file_of_the_demo_territories_reads_the_same(demo: Path) -> None:
    count = 0
    for root in (ROOT, demo):
        for path in _register_files(root):
            name = path.relative_to(root).as_posix()
            assert assert_same(path.read_bytes(), path, name), path  # and all take the fast path
            count += 1
    assert count > 1500


def test_every_fixture_reads_the_same() -> None:
    files = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    assert len(files) >= 70
    taken = [path.name for path in files if assert_same(path.read_bytes(), path, path.name)]
    assert len(taken) > len(files) // 2
    # The refused constructs of the fixtures are refused by the strict loader, in French.
    for name in ("ancre-alias.yml", "etiquette-python.yml", "deux-documents.yml", "cle-en-double.yml"):
        assert name not in taken
        doc, problems = load_file(FIXTURES / "invalid" / name, name, within=FIXTURES)
        assert doc is None and problems


# --- reading the bytes -----------------------------------------------------------------


def test_reading_refuses_links_out_and_reads_the_rest(tmp_path: Path) -> None:
    territory, outside = tmp_path / "t", tmp_path / "dehors"
    (territory / "sous").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.yml").write_bytes(b"secret: 1\n")
    (territory / "a.yml").write_bytes(b"nom: a\n")
    (territory / "sous" / "b.yml").write_bytes(b"nom: b\n")
    (territory / "lien-dedans.yml").symlink_to(territory / "a.yml")
    (territory / "lien-dehors.yml").symlink_to(outside / "secret.yml")
    (territory / "dossier-dehors").symlink_to(outside, target_is_directory=True)
    (territory / "grand.yml").write_bytes(b"a: " + b"x" * MAX_BYTES + b"\n")
    (territory / "dossier.yml").mkdir()
    load.forget_folders()

    def read(relative: str) -> tuple[bytes | None, list[str]]:
        raw, problems = load.read_source(territory / relative, relative, within=territory)
        assert all(p.position.file == relative for p in problems)
        return raw, [p.message for p in problems]

    assert read("a.yml") == (b"nom: a\n", [])
    assert read("sous/b.yml") == (b"nom: b\n", [])
    assert read("lien-dedans.yml") == (b"nom: a\n", [])
    for refused in ("lien-dehors.yml", "dossier-dehors/secret.yml"):
        raw, messages = read(refused)
        assert raw is None and messages[0].startswith("lien symbolique vers un fichier hors du territoire")
    raw, messages = read("grand.yml")
    assert raw is None and messages[0].startswith("fichier trop volumineux (1025 Ko")
    for unreadable in ("absent.yml", "dossier.yml", "sous/absent/c.yml"):
        raw, messages = read(unreadable)
        assert raw is None and messages[0].startswith("fichier illisible : ")
