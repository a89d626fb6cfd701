"""``dote init`` starts a territory with the model library and the editors' guide, and
``dote models update`` brings a territory's library up to the package's.

The library's one source is this repository (the demo territory): ``registers/models/``
and ``docs/guide/``, shipped in the wheel under ``dote/_library/``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from dote import library
from dote.cli import main
from dote.library import Library, archive_text

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "registers" / "models"
GUIDE = ROOT / "docs" / "guide"
AUDIT = ROOT / "registers" / "audit.yml"
#: The model documents and the training modules, copied into every new territory.
PAGES = {name: ROOT / "docs" / name for name in ("documents", "formation")}


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_library_is_the_demo_s() -> None:
    found = library.locate()
    assert _tree(found.models) == _tree(MODELS)
    assert _tree(found.guide) == _tree(GUIDE)
    assert {p.name: _tree(p) for p in found.pages} == {name: _tree(p) for name, p in PAGES.items()}
    assert ("etat-civil", 1) in found.archive_files()
    assert found.audit is not None and found.audit.read_bytes() == AUDIT.read_bytes()


def test_the_wheel_ships_the_library(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("maison_dote-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for rel, data in _tree(MODELS).items():
            assert archive.read(f"dote/_library/models/{rel}") == data
        for rel, data in _tree(GUIDE).items():
            assert archive.read(f"dote/_library/guide/{rel}") == data
        for name, folder in PAGES.items():
            for rel, data in _tree(folder).items():
                assert archive.read(f"dote/_library/{name}/{rel}") == data
        assert archive.read("dote/_library/audit.yml") == AUDIT.read_bytes()
    assert "dote/_library/models/versions/etat-civil@1.yml" in names
    assert "dote/skeleton/README.md" in names


def test_init_starts_with_the_library_the_guide_and_a_readme(tmp_path: Path) -> None:
    root = tmp_path / "maison"
    assert main(["init", str(root), "--nom", "Maison DOTE du Nord"]) == 0
    assert _tree(root / "registers" / "models") == _tree(MODELS)
    assert _tree(root / "docs" / "guide") == _tree(GUIDE)
    for name, folder in PAGES.items():
        assert _tree(root / "docs" / name) == _tree(folder)
    # The audit questionnaire that `dote audit` reads (its guide page comes with the guide).
    assert (root / "registers" / "audit.yml").read_bytes() == AUDIT.read_bytes()
    config = yaml.safe_load((root / "mkdocs.yml").read_text(encoding="utf-8"))
    assert {"Modèles de documents": "documents/index.md"} in config["nav"]
    assert {"Se former": "formation/index.md"} in config["nav"]
    (guide_nav,) = [entry["Guide de l'éditeur"] for entry in config["nav"] if "Guide de l'éditeur" in entry]
    listed = {e if isinstance(e, str) else next(iter(e.values())) for e in guide_nav}
    assert listed == {f"guide/{p.name}" for p in GUIDE.glob("*.md")}
    assert guide_nav[0] == "guide/index.md"
    demo = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    (demo_nav,) = [entry["Guide de l'éditeur"] for entry in demo["nav"] if "Guide de l'éditeur" in entry]
    demo_titles = {page: title for e in demo_nav if isinstance(e, dict) for title, page in e.items()}
    for entry in guide_nav[1:]:  # each page titled as on the demo's site
        ((title, page),) = entry.items()
        assert demo_titles.get(page, title) == title, page
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# Maison DOTE du Nord\n")
    for expected in (
        "registers/maison.yml",
        "mentions-legales.md",
        "registers/members/",
        "dote validate",
        "dote build",
        "dote serve",
        ".github/workflows/",
        ".gitlab-ci.yml",
        "dote models update",
        "dote new member",
    ):
        assert expected in readme, expected
    assert "$" not in readme

    assert main(["validate", str(root)]) == 0
    assert main(["build", str(root)]) == 0
    site = root / "site"
    for model in MODELS.glob("*.yml"):
        page = site / "modeles-de-traitements" / model.stem / "index.html"
        assert page.is_file(), page
    home = site / "modeles-de-traitements" / "index.html"
    assert "État civil" in home.read_text(encoding="utf-8")
    guide = site / "guide" / "modeles" / "index.html"
    assert "Reprendre un modèle" in guide.read_text(encoding="utf-8")
    assert (site / "guide" / "index.html").is_file()


def test_demo_territories_do_not_get_the_library(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    assert main(["demo", str(root), "--members", "2", "--activities", "2"]) == 0
    assert not (root / "registers" / "models").exists() or not any((root / "registers" / "models").iterdir())
    assert "guide/" not in (root / "mkdocs.yml").read_text(encoding="utf-8")


# --- dote models update -----------------------------------------------------------------


@pytest.fixture
def fake_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Library:
    """A copy of the package's library, which the tests then make newer."""
    fake = Library(models=tmp_path / "bibliotheque" / "models", guide=tmp_path / "bibliotheque" / "guide")
    shutil.copytree(MODELS, fake.models)
    shutil.copytree(GUIDE, fake.guide)
    monkeypatch.setattr(library, "locate", lambda: fake)
    return fake


@pytest.fixture
def territory(tmp_path: Path, fake_library: Library) -> Path:
    root = tmp_path / "territoire"
    assert main(["init", str(root)]) == 0
    member = root / "registers" / "members" / "exemple"
    (member / "etat-civil.yml").write_text(
        "# yaml-language-server: $schema=../../../schemas/activite.schema.json\n"
        "version_schema: 1\nnom: État civil\nmodele: etat-civil@2\nstatut: valide\n",
        encoding="utf-8",
    )
    (member / "cimetiere.yml").write_text(
        "# yaml-language-server: $schema=../../../schemas/activite.schema.json\n"
        "version_schema: 1\nnom: Cimetière\nmodele: cimetiere\nstatut: valide\n",
        encoding="utf-8",
    )
    return root


def _bump(fake: Library, model_id: str, change: str) -> None:
    """Publish a new version of a model in the fake library, as `dote models bump` would."""
    path = fake.models / f"{model_id}.yml"
    text = path.read_text(encoding="utf-8")
    version = int(re.search(r"^version: (\d+)$", text, re.M)[1])  # type: ignore[index]
    (fake.models / "versions").mkdir(exist_ok=True)
    (fake.models / "versions" / f"{model_id}@{version}.yml").write_text(archive_text(text), encoding="utf-8")
    text = text.replace(f"\nversion: {version}\n", f"\nversion: {version + 1}\n", 1)
    text = re.sub(r"^description: .*?(?=^\w)", f"description: {change}\n", text, count=1, flags=re.M | re.S)
    text = re.sub(
        r"^journal:\n",
        f'journal:\n  - {{version: {version + 1}, date: 2026-11-30, resume: "{change}"}}\n',
        text,
        count=1,
        flags=re.M,
    )
    path.write_text(text, encoding="utf-8")


def test_update_brings_new_versions_and_new_models(
    territory: Path, fake_library: Library, capsys: pytest.CaptureFixture[str]
) -> None:
    models = territory / "registers" / "models"
    before_etat_civil = (models / "etat-civil.yml").read_text(encoding="utf-8")
    _bump(fake_library, "etat-civil", "Nouvelle description de l'état civil.")
    _bump(fake_library, "cimetiere", "Nouvelle description du cimetière.")
    (fake_library.models / "nouveau-modele.yml").write_text(
        (fake_library.models / "location-salles.yml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    capsys.readouterr()

    # --dry-run writes nothing, and says what would change.
    snapshot = _tree(territory / "registers")
    assert main(["models", "update", str(territory), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert _tree(territory / "registers") == snapshot
    assert "aucun fichier n'est écrit" in out
    assert "Modèle « etat-civil » : version 2 → 3" in out
    assert "version 3 : Nouvelle description de l'état civil." in out
    assert "registers/members/exemple/etat-civil.yml:4:9: reste sur la version 2" in out
    assert "Modèle « cimetiere » : version 1 → 2" in out
    assert "1 activité(s) suivent la dernière version" in out
    assert "Modèle « nouveau-modele » : nouveau, version 1 (serait ajouté)" in out

    assert main(["models", "update", str(territory)]) == 0
    applied = capsys.readouterr().out
    assert applied.replace("serait ajouté", "ajouté").replace(" serait ", " est ") == out.replace(
        "Simulation (--dry-run) : aucun fichier n'est écrit.\n", ""
    ).replace("serait ajouté", "ajouté").replace(" serait ", " est ")
    assert (models / "versions" / "etat-civil@2.yml").read_text(encoding="utf-8") == archive_text(
        before_etat_civil
    )
    for name in ("etat-civil.yml", "cimetiere.yml", "nouveau-modele.yml", "versions/cimetiere@1.yml"):
        assert (models / name).read_bytes() == (fake_library.models / name).read_bytes(), name
    assert main(["validate", str(territory)]) == 0
    capsys.readouterr()

    # A second run has nothing to do.
    snapshot = _tree(territory / "registers")
    assert main(["models", "update", str(territory)]) == 0
    assert "Les modèles sont à jour (29 modèles de la bibliothèque)." in capsys.readouterr().out
    assert _tree(territory / "registers") == snapshot


def test_a_model_changed_by_the_territory_is_not_overwritten(
    territory: Path, fake_library: Library, capsys: pytest.CaptureFixture[str]
) -> None:
    own = territory / "registers" / "models" / "cimetiere.yml"
    changed = re.sub(
        r"^nom: .*$",
        "nom: Cimetière (modèle de la Maison)",
        own.read_text(encoding="utf-8"),
        count=1,
        flags=re.M,
    )
    assert changed != own.read_text(encoding="utf-8")
    own.write_text(changed, encoding="utf-8")
    _bump(fake_library, "cimetiere", "Nouvelle description du cimetière.")
    _bump(fake_library, "etat-civil", "Nouvelle description de l'état civil.")
    capsys.readouterr()

    assert main(["models", "update", str(territory)]) == 1
    out = capsys.readouterr().out
    assert own.read_text(encoding="utf-8") == changed
    assert "Modèle « cimetiere » : modifié dans ce territoire" in out
    assert "n'est pas remplacé" in out and "Conseil :" in out
    assert "Modèle « etat-civil » : version 2 → 3" in out  # the others are updated all the same
    assert "1 modifié(s) dans ce territoire, non remplacé(s)" in out

    # Idempotent: the changed model is reported again, nothing else happens.
    snapshot = _tree(territory / "registers")
    assert main(["models", "update", str(territory)]) == 1
    again = capsys.readouterr().out
    assert "Modèle « cimetiere » : modifié dans ce territoire" in again
    assert "etat-civil" not in again
    assert _tree(territory / "registers") == snapshot


def test_a_comment_or_layout_change_is_not_a_modification(
    territory: Path, fake_library: Library, capsys: pytest.CaptureFixture[str]
) -> None:
    own = territory / "registers" / "models" / "cimetiere.yml"
    own.write_text(own.read_text(encoding="utf-8") + "# une note de la Maison\n", encoding="utf-8")
    _bump(fake_library, "cimetiere", "Nouvelle description du cimetière.")
    assert main(["models", "update", str(territory)]) == 0
    assert "Modèle « cimetiere » : version 1 → 2" in capsys.readouterr().out
    archived = territory / "registers" / "models" / "versions" / "cimetiere@1.yml"
    assert archived.read_text(encoding="utf-8").endswith("# une note de la Maison\n")


def test_update_outside_a_territory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "update", str(tmp_path)]) == 2
    assert "n'est pas un territoire" in capsys.readouterr().err
