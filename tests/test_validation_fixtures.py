"""Broken register files, each carrying its own expected problems (feedparser style).

Every ``tests/fixtures/invalid/*.yml`` file starts with comment lines that tell the
harness where to put it and what ``dote validate`` must say about it::

    # chemin: registers/members/exemple/etat-civil.yml
    # attendu: 9:3: clé inconnue « finalite »
    # attendu: 9:3: vouliez-vous dire « finalites »

* ``chemin``: where the file goes in a fresh territory (``init_territory``, plus the
  shared processor and model below); it may replace a file of the skeleton.
* ``attendu: LINE:COL: TEXT``: a problem must sit in that file at that line and column
  (1-based, header lines included) with TEXT in its message or its hint.
* ``attendu-aucun``: the file must validate without any error (warnings are allowed,
  and may still be checked with ``attendu`` lines).
* ``bogue: …``: a known engine defect; the case states the correct behaviour and fails
  until the engine is fixed (the note is shown in the failure).

Beyond the listed expectations, an error that no ``attendu`` line describes fails the
case too: an editor must not be shown noise.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dote.pipeline import Result, run
from dote.problems import Problem
from dote.scaffold import init_territory

FIXTURES = Path(__file__).parent / "fixtures" / "invalid"
TODAY = dt.date(2026, 11, 28)

#: Files added to every fresh territory, so that cases can reference an existing
#: processor and model (and get "closest id" hints when they mistype one).
SHARED_FILES = {
    "registers/processors/logiciel-mairie.yml": """\
version_schema: 1
nom: Éditeur de logiciels de mairie
services: [Logiciel de gestion de l'état civil et des élections]
hebergement:
  - pays: FR
contrat_article_28:
  statut: signe
  date: 2024-01-15
transferts: aucun
""",
    "registers/models/etat-civil.yml": """\
version_schema: 1
nom: État civil
version: 2
finalites:
  principale: Établir et conserver les actes de l'état civil
base_legale:
  code: obligation-legale
  reference: Code civil, art. 34 et suivants
personnes_concernees: [habitants]
categories_donnees:
  - code: etat-civil-identite
    conservation:
      duree: P75Y
      sort_final: versement-archives
transferts: aucun
journal:
  - version: 1
    date: 2024-01-10
    resume: Première version
  - version: 2
    date: 2025-06-02
    resume: Durée de conservation alignée sur l'instruction de 2009
""",
}

_EXPECTED = re.compile(r"^(\d+):(\d+):\s?(.+)$")
DIRECTIVES = ("chemin", "attendu", "attendu-aucun", "bogue")


@dataclass(frozen=True)
class Expected:
    line: int
    column: int
    text: str

    def matches(self, problem: Problem, file: str) -> bool:
        p = problem.position
        return (p.file, p.line, p.column) == (file, self.line, self.column) and (
            self.text in problem.message or self.text in problem.hint
        )

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.text}"


@dataclass
class Case:
    source: Path
    path: str = ""
    expected: list[Expected] = field(default_factory=list)
    clean: bool = False
    bugs: list[str] = field(default_factory=list)


def parse_case(source: Path) -> Case:
    """Read the header comments of a fixture file."""
    case = Case(source)
    text = source.read_bytes().decode("utf-8", errors="replace")
    for raw in text.splitlines():
        if not raw.startswith("#"):
            break
        directive, _, value = raw.lstrip("#").strip().partition(":")
        value = value.strip()
        if directive == "chemin":
            case.path = value
        elif directive == "attendu":
            match = _EXPECTED.match(value)
            if not match:
                raise ValueError(f"{source.name}: ligne « attendu » illisible : {raw!r}")
            case.expected.append(Expected(int(match[1]), int(match[2]), match[3].strip()))
        elif directive == "attendu-aucun":
            case.clean = True
        elif directive == "bogue":
            case.bugs.append(value)
        elif difflib.get_close_matches(directive, DIRECTIVES, n=1, cutoff=0.75):
            raise ValueError(f"{source.name}: directive mal écrite : {raw!r}")
    if not case.path:
        raise ValueError(f"{source.name}: ligne « # chemin: » manquante")
    if not case.expected and not case.clean:
        raise ValueError(f"{source.name}: ni « # attendu: » ni « # attendu-aucun »")
    return case


def fresh_territory(tmp_path: Path) -> Path:
    root = init_territory(tmp_path / "t")
    for rel, text in SHARED_FILES.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def place(root: Path, rel: str, source: Path) -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())


def report(result: Result) -> str:
    return "\n".join(p.text() for p in result.problems) or "(aucun problème)"


CASES = sorted(FIXTURES.glob("*.yml"))


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 35


def test_shared_territory_is_valid(tmp_path: Path) -> None:
    result = run(fresh_territory(tmp_path), today=TODAY)
    assert result.problems == (), report(result)
    assert result.ok


@pytest.mark.parametrize("source", CASES, ids=[c.stem for c in CASES])
def test_fixture(source: Path, tmp_path: Path) -> None:
    case = parse_case(source)
    root = fresh_territory(tmp_path)
    place(root, case.path, source)

    result = run(root, today=TODAY)

    output = report(result)
    if case.bugs:
        output += "\n\nbogue connu : " + " ".join(case.bugs)
    assert not [p for p in result.problems if "Traceback" in p.message + p.hint], output
    missing = [str(e) for e in case.expected if not any(e.matches(p, case.path) for p in result.problems)]
    assert not missing, f"attendu non trouvé : {missing}\nobtenu :\n{output}"
    unexpected = [p.text() for p in result.errors if not any(e.matches(p, case.path) for e in case.expected)]
    assert not unexpected, f"erreurs non annoncées : {unexpected}\nobtenu :\n{output}"
    if case.clean:
        assert not result.errors, output
        assert result.territory is not None, output


def test_errors_in_one_file_do_not_hide_errors_in_another(tmp_path: Path) -> None:
    root = fresh_territory(tmp_path)
    broken = {
        "cle-inconnue-racine": "registers/members/exemple/etat-civil.yml",
        "yaml-tabulation": "registers/processors/messagerie.yml",
        "membre-cle-inconnue": "registers/members/exemple/member.yml",
        "sous-traitant-inconnu": "registers/members/exemple/elections.yml",
        "maison-cle-inconnue": "registers/maison.yml",
    }
    cases = {name: parse_case(FIXTURES / f"{name}.yml") for name in broken}
    for name, rel in broken.items():
        place(root, rel, cases[name].source)

    result = run(root, today=TODAY)

    output = report(result)
    for name, rel in broken.items():
        for expected in cases[name].expected:
            assert any(expected.matches(p, rel) for p in result.problems), f"{name} : {expected}\n{output}"
    assert result.territory is None
