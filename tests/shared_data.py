"""Where the real test data that no one here wrote lives: ``../shared/data`` next to the clone.

It is not part of the repository (see its README). ``DOTE_DONNEES_TEST`` names another
place; without it, the folder next to the clone, then the project machines' ``/work/shared``.
Tests that need it are skipped, with the reason, when it is nowhere to be found.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _shared_data() -> Path:
    if os.environ.get("DOTE_DONNEES_TEST"):
        return Path(os.environ["DOTE_DONNEES_TEST"])
    for candidate in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "data"


SHARED_DATA = _shared_data()
FEEDS = SHARED_DATA / "feeds"


def needs(folder: Path) -> pytest.MarkDecorator:
    """Skip a test when ``folder`` of the shared test data is missing, saying where it was looked for."""
    return pytest.mark.skipif(
        not folder.is_dir(),
        reason=f"données de test partagées absentes ({folder}) : voir tests/shared_data.py",
    )
