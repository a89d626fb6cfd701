"""The pipeline: load → validate → resolve → evaluate, over plain data.

One function, :func:`run`, used alike by the command line, the MkDocs plugin, the page
macros and the tests. It never raises on bad input: a territory with errors comes back
with its problems and no :class:`~dote.model.Territory`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from dote.model import Converter, Territory
from dote.problems import Problem, sort_problems
from dote.validate import Sources, check_references, read_sources
from dote.vocabulary import load_vocabularies


@dataclass(frozen=True)
class Result:
    """What a run gives: the territory when it is valid, and every problem found."""

    root: Path
    territory: Territory | None
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def ok(self) -> bool:
        return self.territory is not None and not self.errors


def run(root: Path, *, today: dt.date | None = None) -> Result:
    """Validate the territory at ``root`` and, if it is valid, build its records."""
    root = root.resolve()
    today = today or dt.date.today()
    sources, problems = read_sources(root)
    problems += check_references(sources, today)
    territory = None
    if not any(p.is_error for p in problems) and sources.maison is not None:
        territory = build_territory(sources)
    return Result(root, territory, tuple(sort_problems(problems)))


def build_territory(sources: Sources) -> Territory:
    """Records from sources that passed validation."""
    assert sources.maison is not None
    convert = Converter(load_vocabularies())
    maison = convert.maison(sources.maison.data)
    members = []
    for member_id, doc in sources.members.items():
        activities = tuple(
            convert.activity(activity_id, member_id, adoc.data, adoc.position())
            for activity_id, adoc in sources.activities.get(member_id, {}).items()
        )
        members.append(convert.member(member_id, doc.data, doc.position(), maison, activities))
    processors = {
        pid: convert.processor(pid, doc.data, doc.position()) for pid, doc in sources.processors.items()
    }
    return Territory(maison, tuple(members), processors, load_vocabularies())
