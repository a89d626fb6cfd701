"""The territory's layout (src/dote/layout.py): register files where nothing reads them are
reported, wherever they are, and a member's folder is not listed twice to find them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dote import layout

MISPLACED = "fichier à un emplacement inattendu : il serait ignoré"


def _misplaced(root: Path) -> list[str]:
    found, problems = layout.find_sources(root)
    assert found is not None
    return sorted(p.position.file for p in problems if p.message == MISPLACED)


def test_the_demo_has_no_misplaced_file(territory_copy: Path) -> None:
    assert _misplaced(territory_copy) == []


def test_register_files_where_nothing_reads_them_are_reported(territory_copy: Path) -> None:
    registers = territory_copy / "registers"
    member = next(p for p in sorted((registers / "members").iterdir()) if p.is_dir())
    stray = [
        registers / "divers" / "note.yml",
        registers / "members" / "orphelin.yml",
        member / "archives" / "ancienne.yml",
        member / "archives" / "2024" / "plus-ancienne.yml",
        registers / "models" / "versions" / "vieux" / "modele@1.yml",
        registers / "processors" / "groupe" / "hebergeur.yml",
        registers / "brouillon.yml",
    ]
    for path in stray:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("nom: égaré\n", encoding="utf-8")
    # An empty folder inside a member's, and a file in a folder of a member left aside for its
    # invalid name: neither is misplaced (the second folder is reported for its name).
    (member / "vide").mkdir()
    invalid = registers / "members" / "Nom_Invalide"
    invalid.mkdir()
    (invalid / "activite.yml").write_text("nom: x\n", encoding="utf-8")
    expected = sorted(p.relative_to(territory_copy).as_posix() for p in stray)
    assert _misplaced(territory_copy) == expected


@pytest.mark.parametrize("flat", [True, False])
def test_a_flat_member_folder_is_not_listed_again(
    territory_copy: Path, monkeypatch: pytest.MonkeyPatch, flat: bool
) -> None:
    """The search for misplaced files skips the member folders already listed without a
    folder inside, and only those."""
    registers = territory_copy / "registers"
    members = sorted(p for p in (registers / "members").iterdir() if p.is_dir())
    if not flat:
        (members[0] / "sous-dossier").mkdir()
    walked: list[str] = []
    real_walk = layout.os.walk

    def walk(top: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        for folder, subfolders, names in real_walk(top):
            walked.append(Path(folder).relative_to(registers).as_posix())
            yield folder, subfolders, names

    monkeypatch.setattr(layout.os, "walk", walk)
    assert _misplaced(territory_copy) == []
    listed = {f"members/{m.name}" for m in members} & set(walked)
    assert listed == (set() if flat else {f"members/{members[0].name}"})
    assert {"members", "models", "processors"} <= set(walked)
