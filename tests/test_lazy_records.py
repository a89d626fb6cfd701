"""Records made on demand (dote.model.LazyMember): what is known without making a member's
activities is what its records say, a lazy member is an ordinary one once read, and a warm build
makes the records of the member that changed only."""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path

import pytest

from conftest import copy_demo
from dote import model, pipeline
from dote.cli import main
from dote.model import LazyMember, Member, activity_ids, activity_summaries, may_state
from dote.resolve import resolve_sources
from dote.scaffold import demo_territory
from dote.validate import read_sources


def _territory(root: Path) -> model.Territory:
    """The territory's records as a build makes them, before anything reads them."""
    sources, problems = read_sources(root)
    sources, more, _ = resolve_sources(sources)
    assert not [p for p in problems + more if p.is_error]
    return pipeline.build_territory(sources)


def test_what_is_known_without_the_records_is_what_the_records_say(tmp_path: Path) -> None:
    root = copy_demo(tmp_path / "demo")
    territory = _territory(root)
    assert all(isinstance(m, LazyMember) for m in territory.members if m.activity_count)
    seen_withheld = seen_processors = seen_themes = seen_dates = False
    for member in territory.members:
        ids, summaries = activity_ids(member), activity_summaries(member)
        algorithmic = may_state(member, "traitement_algorithmique")
        records = member.activities  # made now
        assert type(member) is Member
        assert ids == tuple(a.id for a in records)
        assert summaries == activity_summaries(member)  # now from the records
        assert len(summaries) == member.activity_count == len(records)
        if not algorithmic:
            assert not any(a.algorithmic_decisions for a in records)
        seen_withheld |= any(a.withheld for a in records)
        seen_processors |= any(s.processors for s in summaries)
        seen_themes |= any(s.themes for s in summaries)
        seen_dates |= any(s.newest for s in summaries)
    # The demo exercises every field read both ways, and a member publishing « au choix ».
    assert seen_withheld and seen_processors and seen_themes and seen_dates


def test_a_lazy_member_is_equal_to_the_member_made_whole_and_pickled_as_one(tmp_path: Path) -> None:
    root = copy_demo(tmp_path / "demo")
    made = _territory(root)
    for member in made.members:
        member.activities  # noqa: B018 - made whole
    lazy = _territory(root)
    for whole, pending in zip(made.members, lazy.members, strict=True):
        if isinstance(pending, LazyMember):  # compared while its activities are not made
            assert whole == pending and type(pending) is Member
    lazy = _territory(root)
    assert lazy == made  # the territory's members, compared before they are made
    lazy = _territory(root)
    for whole, pending in zip(made.members, lazy.members, strict=True):
        copied = pickle.loads(pickle.dumps(pending))
        assert copied == whole and type(copied) is Member
        replaced = dataclasses.replace(pending, name="Autre nom")
        assert replaced.activities == whole.activities
        assert pending == whole
        assert type(pending) is Member  # the comparison read its activities


def test_a_warm_build_makes_the_records_of_the_changed_member_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second build takes every other member's label, page, open data, figures, reviews,
    explorer values and notices from the cache: it never needs their records. Its site is the
    site a build without a cache makes (the pages and data the whole territory's lists show)."""
    root = tmp_path / "territoire"
    demo_territory(root, members=12, activities=3)
    monkeypatch.setenv("DOTE_PROCESSUS", "1")  # every record made in this process
    assert main(["build", str(root)]) == 0
    members = sorted(p for p in (root / "registers" / "members").iterdir() if p.is_dir())
    activity = next(p for p in sorted(members[5].glob("*.yml")) if p.name != "member.yml")
    text = activity.read_text(encoding="utf-8")
    activity.write_text(text.replace("\nnom: ", "\nnom: Changé — ", 1), encoding="utf-8")
    os.utime(activity, (1, 1))  # its status changes anyway (size): it is read again
    assert main(["build", str(root)]) == 0
    assert set(model.made_on_demand) == {members[5].name}
    # A build without the cache makes every member's records: the same site.
    alone = tmp_path / "sans-cache"
    monkeypatch.setenv("DOTE_CACHE", "0")
    assert main(["build", str(root), "--site-dir", str(alone)]) == 0
    assert len(set(model.made_on_demand)) == sum(1 for m in members if any(m.glob("*.yml")))
    site = root / "site"
    files = sorted(
        p.relative_to(site)
        for p in site.rglob("*")
        if p.is_file() and not p.relative_to(site).parts[0].startswith("pagefind")
    )
    assert files == sorted(
        p.relative_to(alone)
        for p in alone.rglob("*")
        if p.is_file() and not p.relative_to(alone).parts[0].startswith("pagefind")
    )
    different = [str(p) for p in files if (site / p).read_bytes() != (alone / p).read_bytes()]
    assert different == []


def test_the_records_a_build_will_need_are_made_before_its_workers_fork(tmp_path: Path) -> None:
    """A build's forked workers would each make the records they read: the pipeline makes those
    of every member whose label it evaluates again (all of them in a clean build, the members
    publishing « au choix » included, whose label reads another view), and only those."""
    root = copy_demo(tmp_path / "demo")
    cold = pipeline.run(root, cache=True)
    assert cold.territory is not None
    assert not [m.id for m in cold.territory.members if type(m) is LazyMember]
    warm = pipeline.run(root, cache=True)
    assert warm.territory is not None
    assert {m.id for m in warm.territory.members if type(m) is LazyMember} == {
        m.id for m in warm.territory.members if m.activity_count
    }
    member = next(m for m in cold.territory.members if m.activity_count and m.sector != "public")
    activity = next(
        p
        for p in sorted((root / "registers" / "members" / member.id).glob("*.yml"))
        if p.name != "member.yml"
    )
    activity.write_text(activity.read_text(encoding="utf-8") + "\n# revu\n", encoding="utf-8")
    again = pipeline.run(root, cache=True)
    assert again.territory is not None
    made = {m.id for m in again.territory.members if type(m) is not LazyMember and m.activity_count}
    assert made == {member.id}
    assert again.territory == cold.territory
