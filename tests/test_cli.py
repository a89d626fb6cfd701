"""The ``dote`` command line: exit codes, formats, and the promise to leave a good site alone."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from dote.cli import main


def _break(root: Path) -> Path:
    activity = root / "registers" / "members" / "saint-exemple" / "etat-civil.yml"
    text = activity.read_text(encoding="utf-8")
    activity.write_text(text.replace("\nstatut:", "\nstatu:", 1), encoding="utf-8")
    return activity


def test_validate_demo_exits_zero(demo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(demo_root)]) == 0
    assert "Territoire valide" in capsys.readouterr().err


def test_validate_reports_file_line_and_french(
    territory_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _break(territory_copy)
    assert main(["validate", str(territory_copy)]) == 1
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "clé inconnue" in ln)
    assert line.startswith("registers/members/saint-exemple/etat-civil.yml:")
    assert ": erreur: clé inconnue « statu » (vouliez-vous dire « statut » ?)" in line
    assert "Traceback" not in out


def test_validate_json_and_github_formats(territory_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _break(territory_copy)
    assert main(["validate", str(territory_copy), "--format", "json"]) == 1
    problems = json.loads(capsys.readouterr().out)
    assert any(
        p["file"].endswith("etat-civil.yml") and p["severity"] == "erreur" and p["line"] > 1 for p in problems
    )
    assert main(["validate", str(territory_copy), "--format", "github"]) == 1
    assert "::error file=registers/members/saint-exemple/etat-civil.yml,line=" in capsys.readouterr().out


def test_validate_outside_a_territory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 1
    assert "dossier « registers/ » introuvable" in capsys.readouterr().out


def test_failed_build_leaves_previous_site_untouched(
    territory_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 0
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    _break(territory_copy)
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 1
    err = capsys.readouterr().err
    assert "clé inconnue « statu »" in err and "la version précédente reste en place" in err
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []


def test_a_full_disk_fails_the_build_in_french_and_leaves_previous_site_untouched(
    territory_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dote import cache

    site = tmp_path / "site"
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 0
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    capsys.readouterr()

    def full(self: object, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/var/site/territoire.json")

    monkeypatch.setattr(cache.StoreWriter, "write", full)  # the open data's territory files
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 1
    err = capsys.readouterr().err
    assert (
        "dote : erreur : lecture ou écriture impossible (/var/site/territoire.json) : plus de place sur le disque"
        in err
    )
    assert "la version précédente reste en place" in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []
    assert not list((territory_copy / cache.CACHE_DIR).rglob(".ecriture-*"))  # no half-written entry


def test_an_output_folder_that_cannot_be_made_is_reported_in_french(
    territory_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fichier").write_text("pas un dossier", encoding="utf-8")
    assert main(["build", str(territory_copy), "--site-dir", str(tmp_path / "fichier" / "site")]) == 1
    err = capsys.readouterr().err
    assert (
        f"lecture ou écriture impossible ({tmp_path / 'fichier'}) : un fichier de ce nom existe déjà" in err
    )
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["init", "demo"])
def test_a_territory_that_cannot_be_made_is_reported_in_french(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fichier").write_text("pas un dossier", encoding="utf-8")
    target = tmp_path / "fichier" / "territoire"
    assert main([command, str(target)]) == 1
    err = capsys.readouterr().err
    assert f"dote : erreur : lecture ou écriture impossible ({target}) : " in err
    assert "un élément du chemin n'est pas un dossier" in err and "Traceback" not in err


def test_build_refuses_to_overwrite_sources(territory_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(territory_copy), "--site-dir", str(territory_copy)]) == 2
    assert main(["build", str(territory_copy), "--site-dir", str(territory_copy / "registers")]) == 2
    assert (territory_copy / "registers" / "maison.yml").is_file()


def test_init_creates_a_buildable_territory(tmp_path: Path) -> None:
    target = tmp_path / "nouveau"
    assert main(["init", str(target), "--nom", "Maison DOTE: du Nord", "--territoire", "Pays du Nord"]) == 0
    assert main(["validate", str(target)]) == 0
    assert main(["build", str(target)]) == 0
    home = (target / "site" / "index.html").read_text(encoding="utf-8")
    assert "Maison DOTE: du Nord" in home
    assert 'href="mentions-legales/"' in home and 'href="registres/"' in home  # directory URLs
    member = (target / "site" / "registres" / "exemple" / "index.html").read_text(encoding="utf-8")
    assert 'href="../../mentions-legales/"' in member and 'href="../"' in member
    assert (target / "schemas" / "activite.schema.json").is_file()
    assert main(["init", str(target)]) == 2  # not empty any more


def test_demo_is_deterministic_valid_and_buildable(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for target, seed in ((first, 3), (second, 3), (other, 4)):
        assert main(["demo", str(target), "--members", "12", "--activities", "15", "--seed", str(seed)]) == 0
    files = sorted(p.relative_to(first) for p in first.rglob("*.yml"))
    assert (
        len([f for f in files if f.parts[:2] == ("registers", "members") and f.name != "member.yml"]) == 180
    )
    assert files == sorted(p.relative_to(second) for p in second.rglob("*.yml"))
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    assert any((first / f).read_bytes() != (other / f).read_bytes() for f in files if (other / f).is_file())
    assert main(["validate", str(first)]) == 0
    assert main(["build", str(first)]) == 0
    assert (first / "site" / "registres" / "commune-exemple-1" / "index.html").is_file() or any(
        (first / "site" / "registres").iterdir()
    )


def test_usage_errors_are_french(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "utilisation :" in err and "arguments obligatoires manquants" in err


def test_deleting_the_previous_site_does_not_hold_the_commands_output(tmp_path: Path) -> None:
    """The previous site is deleted by a detached process: whoever reads the command's output
    through a pipe (a CI log, the benchmark) must see its end without waiting for the deletion."""
    import signal
    import subprocess
    import sys

    slow = tmp_path / "lent"
    slow.write_text("#!/bin/sh\nsleep 60\n", encoding="utf-8")
    slow.chmod(0o755)
    script = (
        "import sys\nfrom pathlib import Path\nfrom dote import cli\n"
        f"sys.executable = {str(slow)!r}\n"  # a deletion that lasts a minute
        f"cli._delete_later([Path({str(tmp_path / 'ancien')!r})])\n"
        "print(cli._DELETERS[0], flush=True)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = process.communicate(timeout=30)  # before the fix: the pipe stayed open 60 s
    finally:
        process.kill()
    assert process.returncode == 0, err
    os.kill(int(out.strip()), signal.SIGKILL)
