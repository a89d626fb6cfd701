"""The editor's guide shows register files that the validator accepts: examples stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dote.load import load_bytes
from dote.schema import validate_document

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guide"
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    found = []
    for page in sorted(GUIDE.glob("*.md")):
        for i, block in enumerate(_BLOCK.findall(page.read_text(encoding="utf-8"))):
            if re.search(r"(?m)^version_schema: 1", block):
                found.append((f"{page.name}#{i}", block))
    return found


def _kind(text: str) -> str:
    if re.search(r"(?m)^sources:\n  - id:", text):
        return "veille-sources"
    if re.search(r"(?m)^statut: (a-trier|publie|ecarte)", text):
        return "veille-element"
    if re.search(r"(?m)^(demandes|violations):", text):  # the DPO's registers (overlay only)
        return "demandes" if text.count("\ndemandes:") else "violations"
    if re.search(r"(?m)^reponses:", text):  # a member's audit (overlay only)
        return "audit-reponses"
    if re.search(r"(?m)^actions:", text):  # a member's action plan (overlay only)
        return "actions"
    if "contrat_article_28:" in text:
        return "sous-traitant"
    if re.search(r"(?m)^exercice_des_droits:", text):
        return "membre"
    if re.search(r"(?m)^version: ", text):
        return "modele"
    return "activite"


@pytest.mark.parametrize(("name", "text"), _examples(), ids=[n for n, _ in _examples()])
def test_guide_examples_are_valid(name: str, text: str) -> None:
    doc, problems = load_bytes(text.encode("utf-8"), Path(name), name)
    assert doc is not None, [p.text() for p in problems]
    partial = "modele" in doc.data  # an activity extending a model states only what differs
    assert [p.text() for p in validate_document(doc, _kind(text), partial=partial)] == []


def test_the_guide_has_examples() -> None:
    assert len(_examples()) >= 4


def test_the_readme_documents_every_command() -> None:
    """A feature exists when a user can use it from the README: every command is in its table."""
    import argparse

    from dote.cli import _parser

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    parser = _parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [name for name in commands.choices if f"`dote {name}" not in readme]
    assert not missing, f"commands missing from the README: {missing}"
