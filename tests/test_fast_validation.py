"""The compiled validator (jsonschema-rs) agrees with the detailed one on every file.

Validation asks the compiled validator first and runs the detailed validator only to
explain a failure: a document the fast path accepts must get no problem from the detailed
one (or an error would be silently dropped), in full and in partial mode. Checked on every
register file of the demo, on every broken fixture, and on the demo's files with each of
their keys removed in turn (partial mode's relaxed requirements).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from dote.load import Document, load_file
from dote.schema import _fast_validators, explain_document

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "invalid"


def _kind(relative: str) -> str | None:
    parts = relative.split("/")
    if parts[-1] == "maison.yml":
        return "maison"
    if parts[-1] == "label.yml":
        return "label"
    if "members" in parts:
        return "membre" if parts[-1] == "member.yml" else "activite"
    if "models" in parts:
        return "modele"
    if "processors" in parts:
        return "sous-traitant"
    return None


def _demo_documents() -> Iterator[tuple[str, Document]]:
    for path in sorted((ROOT / "registers").rglob("*.yml")):
        relative = path.relative_to(ROOT).as_posix()
        kind = _kind(relative)
        doc, _ = load_file(path, relative, within=ROOT)
        if kind and doc is not None:
            yield kind, doc


def _fixture_documents() -> Iterator[tuple[str, Document]]:
    for path in sorted(FIXTURES.glob("*.yml")):
        where = re.search(r"^# chemin: (\S+)", path.read_text(encoding="utf-8"), re.M)
        kind = _kind(where[1]) if where else None
        doc, _ = load_file(path, path.name, within=FIXTURES)
        if kind and doc is not None:
            yield kind, doc


def _without_each_key() -> Iterator[tuple[str, Document]]:
    for kind, doc in _demo_documents():
        if isinstance(doc.data, dict):
            for key in doc.data:
                data = {k: v for k, v in doc.data.items() if k != key}
                yield kind, Document(doc.path, f"{doc.name} sans {key}", data, doc.values, doc.keys)


CASES = [*_demo_documents(), *_fixture_documents(), *_without_each_key()]


@pytest.mark.parametrize("partial", [False, True], ids=["complet", "partiel"])
def test_the_compiled_validator_accepts_exactly_what_the_detailed_one_accepts(partial: bool) -> None:
    assert len(CASES) > 300
    disagreements = []
    accepted = refused = 0
    for kind, doc in CASES:
        fast = _fast_validators()[kind, partial].is_valid(doc.data)
        detailed = [p for p in explain_document(doc, kind, partial=partial) if p.is_error]
        accepted += fast
        refused += not fast
        if fast != (not detailed):
            disagreements.append(
                f"{doc.name} ({kind}): rapide={fast}, détaillé={[p.text() for p in detailed]}"
            )
    assert not disagreements, "\n".join(disagreements)
    assert accepted and refused  # both answers occur: the comparison means something


def test_the_compiled_validator_checks_dates_as_the_engine_does() -> None:
    kind, doc = next((k, d) for k, d in _demo_documents() if k == "activite" and "dates" in d.data)
    impossible = {**doc.data, "dates": {**doc.data["dates"], "creation": "2025-02-30"}}
    assert _fast_validators()[kind, True].is_valid(doc.data)
    assert not _fast_validators()[kind, True].is_valid(impossible)
