"""LibreOffice for the tests: opening what the project writes, as a town hall would.

:func:`require_soffice` (the ``soffice`` fixture of ``conftest.py``) gives the path of
LibreOffice, skips when it is not installed, and fails in CI (``.ci/run`` installs it). :func:`convert` runs a headless conversion with a
private profile (LibreOffice otherwise shares one per user, and two runs would collide).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SOFFICE = shutil.which("soffice")


def require_soffice() -> str:
    if SOFFICE is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) est requis en CI : .ci/run doit l'installer")
        pytest.skip("LibreOffice (soffice) n'est pas installé : conversion non vérifiée")
    return SOFFICE


def convert(soffice: str, tmp_path: Path, target: str, files: list[Path], *, infilter: str = "") -> Path:
    """Convert ``files`` to ``target`` (e.g. ``txt:Text``, ``csv``) into ``tmp_path/converti``."""
    out = tmp_path / "converti"
    profile = tmp_path / "profil-libreoffice"
    result = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            *([f"--infilter={infilter}"] if infilter else []),
            "--convert-to",
            target,
            "--outdir",
            str(out),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return out
