"""Problems: what the pipeline reports instead of raising on bad input.

A problem is a value (file, line, column, French message, optional hint). Only the
edges (the command line, the MkDocs plugin) turn problems into exit codes or errors.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["erreur", "avertissement"]


@dataclass(frozen=True, order=True)
class Position:
    """Where a value starts in a register file: 1-based line and column."""

    file: str
    line: int = 1
    column: int = 1


@dataclass(frozen=True)
class Problem:
    """One thing an editor must fix (or should look at), with its place in the files."""

    position: Position
    message: str
    hint: str = ""
    severity: Severity = "erreur"

    @property
    def is_error(self) -> bool:
        return self.severity == "erreur"

    def text(self) -> str:
        """The line printed by ``dote validate``: ``FILE:LINE:COL: erreur: MESSAGE``."""
        p = self.position
        line = f"{p.file}:{p.line}:{p.column}: {self.severity}: {self.message}"
        if self.hint:
            line += f" ({self.hint})"
        return line

    def github(self) -> str:
        """A GitHub Actions workflow command, shown as an annotation on the pull request."""
        level = "error" if self.is_error else "warning"
        message = self.message + (f" ({self.hint})" if self.hint else "")
        return (
            f"::{level} file={_gh_property(self.position.file)},line={self.position.line},"
            f"col={self.position.column},title=dote::{_gh_data(message)}"
        )

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.update(data.pop("position"))
        return data


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems in reading order: by file, then line and column; duplicates removed."""
    unique = {(p.position, p.message, p.hint, p.severity): p for p in problems}
    return [unique[k] for k in sorted(unique, key=lambda k: (k[0], k[1]))]


def invalid_summary(count: int) -> str:
    """« 3 erreurs : le territoire n'est pas valide. »"""
    return f"{count} erreur{'s' if count > 1 else ''} : le territoire n'est pas valide."


def report_invalid(errors: Sequence[Problem]) -> None:
    """A command's answer to an invalid territory: its errors (standard output), then their count
    (standard error)."""
    print(format_problems(errors, "text"))
    print(invalid_summary(len(errors)), file=sys.stderr)


def format_problems(problems: Iterable[Problem], fmt: str) -> str:
    """Render problems as ``text``, ``github`` annotations or a ``json`` list."""
    items = sort_problems(problems)
    if fmt == "json":
        return json.dumps([p.as_dict() for p in items], ensure_ascii=False, indent=2)
    if fmt == "github":
        return "\n".join(p.github() for p in items)
    return "\n".join(p.text() for p in items)


def relative_name(path: Path, root: Path) -> str:
    """The file name shown to editors: relative to the territory, with forward slashes."""
    # The link's own place, not its target: a symbolic link is named where it is written.
    text, root_text = os.fspath(path), os.fspath(root)
    if (
        os.sep == "/"
        and text.startswith(root_text + "/")
        and root_text.startswith("/")
        and "/." not in text
        and "//" not in text
        and not root_text.endswith("/")
    ):  # an absolute path already in normal form (the territory's listing): as abspath would give it
        return text[len(root_text) + 1 :]
    absolute_text, base_text = os.path.abspath(path), os.path.abspath(root)
    if absolute_text.startswith(base_text + os.sep):  # the common case, without resolving links
        return absolute_text[len(base_text) + 1 :].replace(os.sep, "/")
    absolute = Path(absolute_text)
    for base in (Path(os.path.abspath(root)), root.resolve()):
        if absolute.is_relative_to(base):
            return absolute.relative_to(base).as_posix()
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
