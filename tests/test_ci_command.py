"""`.ci/run` runs exactly the README's test command: lint, format, types, then the tests."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("**Lancer tous les tests**", 1)[1]
    command = re.search(r"```sh\n(.+?)\n```", block, re.S)
    assert command is not None
    readme_steps = command.group(1).split("pip install -e '.[test]' && ", 1)[1]
    for step in ("ruff check", "ruff format --check", "mypy", "python -m pytest"):
        assert step in readme_steps.split(" && ")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f"pip install -q -e '.[test]' && {readme_steps}\n" in ci
