"""Shared fixtures: the demo territory (this repository's root) built once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dote.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def demo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo territory's site, built once with ``dote build`` into a temporary folder."""
    site = tmp_path_factory.mktemp("demo") / "site"
    assert main(["build", str(ROOT), "--site-dir", str(site)]) == 0
    return site


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
    return target


@pytest.fixture
def territory_copy(tmp_path: Path) -> Path:
    """A private copy of the demo territory that a test may break."""
    return copy_demo(tmp_path / "territoire")
