"""The demo territory's copy of the compiled schemas (used by editors' IDEs) is up to date."""

from __future__ import annotations

from pathlib import Path

from dote.schema import published_schemas


def test_schema_copies_are_current(demo_root: Path) -> None:
    folder = demo_root / "schemas"
    expected = published_schemas()
    assert sorted(p.name for p in folder.glob("*.json")) == sorted(expected)
    for name, text in expected.items():
        assert (folder / name).read_text(encoding="utf-8") == text, (
            f"schemas/{name} is stale: regenerate it with dote.scaffold.write_schemas (see README)"
        )
