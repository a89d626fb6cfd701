"""Shared fixtures: the demo territory (this repository's root) built once per session.

The checks of a built site (tests/test_accessibility.py, tests/test_site_links.py) read
the site of :func:`site_to_check`: the demo's, or one already built elsewhere, named by
two environment variables, ``DOTE_SITE_A_VERIFIER`` (the site's folder) and
``DOTE_TERRITOIRE`` (the territory's root folder, holding ``registers/``)::

    dote demo --members 1000 --activities 30 /tmp/grand && dote build /tmp/grand
    DOTE_SITE_A_VERIFIER=/tmp/grand/site DOTE_TERRITOIRE=/tmp/grand \
        pytest tests/test_accessibility.py tests/test_site_links.py
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from dote import pipeline, review
from dote.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def demo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo territory's site, built once with ``dote build`` into a temporary folder.

    Its page of reviews is cut every :data:`DEMO_REVIEW_PAGE` members instead of
    :data:`dote.review.PAGE_MEMBERS` (100), so that the demo's few members fill two pages and
    the pager is checked with the rest of the site (accessibility, links, hostile text)."""
    site = tmp_path_factory.mktemp("demo") / "site"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(review, "PAGE_MEMBERS", DEMO_REVIEW_PAGE)
        assert main(["build", str(ROOT), "--site-dir", str(site)]) == 0
    return site


#: Members a page of the demo's reviews lists (see :func:`built_demo`).
DEMO_REVIEW_PAGE = 4


#: The folder of an already built site to check instead of the demo's.
SITE_ENV = "DOTE_SITE_A_VERIFIER"
#: The root folder of the territory that site was built from.
TERRITORY_ENV = "DOTE_TERRITOIRE"


@dataclass(frozen=True)
class SiteToCheck:
    """A built site and the territory it was built from."""

    site: Path
    root: Path
    demo: bool  # this repository's demo: its content is known, so tests may count on it


@pytest.fixture(scope="session")
def site_to_check(request: pytest.FixtureRequest) -> SiteToCheck:
    """The site named by $DOTE_SITE_A_VERIFIER and $DOTE_TERRITOIRE, or else the demo's."""
    site, root = os.environ.get(SITE_ENV), os.environ.get(TERRITORY_ENV)
    if not site and not root:
        return SiteToCheck(request.getfixturevalue("built_demo"), ROOT, demo=True)
    if not site or not root:
        pytest.fail(f"{SITE_ENV} et {TERRITORY_ENV} vont ensemble : le site construit et son territoire")
    checked = SiteToCheck(Path(site).resolve(), Path(root).resolve(), demo=False)
    if not (checked.site / "index.html").is_file():
        pytest.fail(f"{SITE_ENV} : {checked.site} n'est pas un site construit (pas de index.html)")
    if not (checked.root / "registers").is_dir():
        pytest.fail(f"{TERRITORY_ENV} : {checked.root} n'est pas un territoire (pas de dossier registers)")
    return checked


@pytest.fixture(scope="session")
def checked_registers(site_to_check: SiteToCheck) -> pipeline.Result:
    """The registers of the site to check, validated and resolved once for the session."""
    result = pipeline.run(site_to_check.root)
    assert result.territory is not None, f"{site_to_check.root} : registres invalides"
    return result


def copy_demo(target: Path) -> Path:
    """A copy of the demo territory at ``target``, without the engine, tests, tools and outputs."""
    shutil.copytree(
        ROOT,
        target,
        ignore=shutil.ignore_patterns(
            ".git",
            "site",
            "site-interne",
            ".site-*",
            "tests",
            "src",
            "*.egg-info",
            "__pycache__",
            ".*cache",
            ".venv",
            ".ci",
        ),
    )
    # Pandoc's outputs, kept by content (dote.documents): a copy converts its pages again only
    # if they changed, as a territory's CI does with its cache (seconds saved per build).
    documents = ROOT / ".cache" / "dote" / "documents"
    if documents.is_dir():
        shutil.copytree(documents, target / ".cache" / "dote" / "documents", dirs_exist_ok=True)
    return target


@pytest.fixture
def territory_copy(tmp_path: Path) -> Path:
    """A private copy of the demo territory that a test may break."""
    return copy_demo(tmp_path / "territoire")


@pytest.fixture
def soffice() -> str:
    """LibreOffice's path (skipped when absent, except in CI): see tests/libreoffice.py."""
    from libreoffice import require_soffice

    return require_soffice()
