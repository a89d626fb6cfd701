"""Atomic writes give files the permissions a plain write would (dote.files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dote.files import NEW_FILE_MODE, write_atomic, write_atomic_bytes


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    write_atomic_bytes(target, b"a;b\n", sync=False)
    assert target.read_bytes() == b"a;b\n"
    plain = tmp_path / "plain.csv"
    plain.write_bytes(b"x")  # what open() gives under this process's umask
    assert _mode(target) == _mode(plain) == NEW_FILE_MODE


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "activite.yml"
    target.write_text("nom: a\n", encoding="utf-8")
    target.chmod(0o640)
    write_atomic(target, "nom: b\n")
    assert target.read_text(encoding="utf-8") == "nom: b\n"
    assert _mode(target) == 0o640
    assert not list(tmp_path.glob(".activite.yml.*"))  # no temporary file left behind


def test_relative_names_are_the_same_whatever_the_path_looks_like(tmp_path: Path) -> None:
    from dote.problems import relative_name

    root = tmp_path / "territoire"
    (root / "registers" / ".cache").mkdir(parents=True)
    expected = {
        root / "registers" / "maison.yml": "registers/maison.yml",
        Path(f"{root}/registers/./maison.yml"): "registers/maison.yml",
        Path(f"{root}//registers/maison.yml"): "registers/maison.yml",
        Path(f"{root}/registers/.cache/../maison.yml"): "registers/maison.yml",
        root / "registers" / ".cache" / "x.yml": "registers/.cache/x.yml",
    }
    for path, name in expected.items():
        assert relative_name(path, root) == name, path
    assert relative_name(root / "registers" / "maison.yml", Path(f"{root}/")) == "registers/maison.yml"
    assert (
        relative_name(root / "registers" / "maison.yml", Path(f"{root}/registers/.."))
        == "registers/maison.yml"
    )


def test_system_refusals_are_said_in_french_with_the_file() -> None:
    import errno

    from dote.files import system_refusal

    full = OSError(errno.ENOSPC, "No space left on device", "/srv/site/index.html")
    assert (
        system_refusal(full)
        == "lecture ou écriture impossible (/srv/site/index.html) : plus de place sur le disque"
    )
    taken = OSError(errno.EADDRINUSE, "Address already in use")
    assert system_refusal(taken) == (
        "opération réseau impossible : cette adresse et ce port sont déjà utilisés par un autre programme"
    )
    assert system_refusal(OSError(errno.ELOOP, "Too many levels of symbolic links", "a")).endswith(
        "(a) : boucle de liens symboliques"
    )
    # A refusal without a French wording keeps the system's own.
    assert system_refusal(OSError(errno.ETXTBSY, "Text file busy", "a")).endswith("(a) : Text file busy")


@pytest.mark.skipif(not hasattr(os, "O_TMPFILE"), reason="Linux's unnamed files")
def test_a_new_file_is_written_unnamed_then_named_and_an_existing_one_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    made: list[str] = []
    real = tempfile.mkstemp
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: made.append("temporaire") or real(*a, **k))
    target = tmp_path / "dossier" / "neuf" / "entree.bin"  # its folders are made too
    write_atomic_bytes(target, b"\x00" * 300_000, sync=True)
    assert target.read_bytes() == b"\x00" * 300_000 and _mode(target) == NEW_FILE_MODE
    assert made == []  # no temporary name: the unnamed file was given the target's
    write_atomic_bytes(target, b"autre", sync=False)  # it exists now: replaced the usual way
    assert target.read_bytes() == b"autre" and made == ["temporaire"]
    assert os.listdir(target.parent) == ["entree.bin"]
