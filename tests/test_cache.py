"""The build cache (``.cache/dote/``): faster, never different, never confidential.

Register files parsed and checked by an earlier run are reused when their content is
unchanged; generated pages are reused when what they show is unchanged; a damaged cache
is ignored; another engine never reads an old entry; an internal build caches nothing
confidential; pages rendered by worker processes are the pages rendered in one process.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import copy_demo
from dote import cache, explorer, label, model, pipeline, validate
from dote.cache import CACHE_DIR, compress, decompress
from dote.layout import RESERVED_MEMBER_IDS
from dote.model import add_duration
from dote.scaffold import demo_territory

TODAY = dt.date(2026, 11, 28)


def _activity(root: Path) -> Path:
    return sorted((root / "registers" / "members").glob("*/*.yml"), key=lambda p: p.name == "member.yml")[0]


def _count_calls(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, which: Callable[..., str]
) -> list[str]:
    """What ``owner.name`` is called for (``which`` of its arguments), call by call."""
    seen: list[str] = []
    real = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(which(*args))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return seen


def _count_parsing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return _count_calls(monkeypatch, validate, "load_bytes", lambda raw, path, name: name)


def test_a_warm_run_gives_what_a_cold_run_gives_and_reads_only_changed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_demo(tmp_path / "territoire")
    parsed = _count_parsing(monkeypatch)
    cold = pipeline.run(root, today=TODAY, cache=True)
    assert cold.ok and len(parsed) > 20
    assert (root / CACHE_DIR).is_dir()

    parsed.clear()
    warm = pipeline.run(root, today=TODAY, cache=True)
    assert parsed == []
    assert warm.territory == cold.territory
    assert warm.problems == cold.problems
    assert warm.label == cold.label
    assert warm.fingerprints == cold.fingerprints

    changed = _activity(root)
    changed.write_text(
        changed.read_text(encoding="utf-8").replace("version_schema: 1", "version_schema: 1\n# revu", 1),
        encoding="utf-8",
    )
    parsed.clear()
    again = pipeline.run(root, today=TODAY, cache=True)
    assert parsed == [changed.relative_to(root).as_posix()]
    assert again.territory == cold.territory


def test_problems_come_back_the_same_from_the_cache(tmp_path: Path) -> None:
    root = copy_demo(tmp_path / "territoire")
    broken = _activity(root)
    broken.write_text(
        broken.read_text(encoding="utf-8") + "cle_inconnue: 1\nbase_legale: {code: inventee}\n",
        encoding="utf-8",
    )
    cold = pipeline.run(root, today=TODAY, cache=True)
    warm = pipeline.run(root, today=TODAY, cache=True)
    assert cold.errors and warm.problems == cold.problems
    assert warm.problems == pipeline.run(root, today=TODAY).problems  # and as without a cache


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_demo(tmp_path / "territoire")
    cold = pipeline.run(root, today=TODAY, cache=True)
    packs = [p for p in (root / CACHE_DIR).rglob("*") if p.is_file() and "documents" in p.parts]
    assert packs and any(p.parent.name == "etats" for p in packs)  # the statuses' parts too
    for n, pack in enumerate(packs):
        pack.write_bytes(b"" if n % 2 else b"\x00garbage")
    parsed = _count_parsing(monkeypatch)
    warm = pipeline.run(root, today=TODAY, cache=True)
    assert warm.problems == cold.problems and warm.territory == cold.territory
    assert parsed  # read again…
    parsed.clear()
    pipeline.run(root, today=TODAY, cache=True)
    assert parsed == []  # …and cached again


def test_another_engine_never_reads_an_old_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_demo(tmp_path / "territoire")
    pipeline.run(root, today=TODAY, cache=True)
    monkeypatch.setattr(cache, "engine_fingerprint", lambda: "une-autre-version")
    parsed = _count_parsing(monkeypatch)
    pipeline.run(root, today=TODAY, cache=True)
    assert parsed
    assert (root / CACHE_DIR / "une-autre-version").is_dir()


def test_the_cache_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_demo(tmp_path / "territoire")
    shutil.rmtree(root / ".cache", ignore_errors=True)  # copy_demo lends pandoc's outputs
    monkeypatch.setenv(cache.CACHE_ENV, "0")
    assert pipeline.run(root, today=TODAY, cache=True).ok
    assert not (root / ".cache").exists()


def test_the_engine_fingerprint_follows_the_package() -> None:
    fingerprint = cache.engine_fingerprint()
    assert len(fingerprint) == 24 and fingerprint == cache.engine_fingerprint()


# --- generated pages ------------------------------------------------------------------------------


def _build(root: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dote.cli", "build", "--verbose", str(root), *extra],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_a_cached_page_is_used_until_what_it_shows_changes(tmp_path: Path) -> None:
    root = copy_demo(tmp_path / "territoire")
    _build(root)
    pages = list((root / CACHE_DIR).rglob("pages/*/*"))
    assert pages
    marker = "<!-- pris dans le cache -->"
    for page in pages:  # entries are compressed (LZ4); a page's after a byte telling if it has <h1
        entry = page.read_bytes()
        flag, packed = (entry[:1], entry[1:]) if entry[:1] in (b"0", b"1") else (b"", entry)
        page.write_bytes(flag + compress(decompress(packed) + marker.encode("utf-8")))
    _build(root)
    member_pages = sorted((root / "site" / "registres").glob("*/index.html"))
    assert member_pages and all(marker in p.read_text(encoding="utf-8") for p in member_pages)

    changed = _activity(root)
    member = changed.parent.name
    text = changed.read_text(encoding="utf-8")
    changed.write_text(text.replace("\nnom: ", "\nnom: Revu — ", 1), encoding="utf-8")
    _build(root)
    for page in (root / "site" / "registres").glob("*/index.html"):
        shown = page.read_text(encoding="utf-8")
        if page.parent.name == member:
            assert marker not in shown and "Revu — " in shown  # rendered again
        elif page.parent.name not in RESERVED_MEMBER_IDS:  # pages made from every member
            assert marker in shown  # another member's page: unchanged, from the cache
    index = (root / "site" / "registres" / "index.html").read_text(encoding="utf-8")
    assert marker not in index  # the list of every member depends on every activity
    # The older versions of the re-rendered pages are gone: one entry per generated page.
    assert len(list((root / CACHE_DIR).rglob("pages/*/*"))) == len(pages)


def test_processor_pages_are_kept_until_the_activities_they_list_change(tmp_path: Path) -> None:
    """The processors' pages show which activities name them: an edit elsewhere in the
    registers (here, a comment) keeps them; a new name of an activity they list re-renders
    those that list it, and only those."""
    root = copy_demo(tmp_path / "territoire")
    _build(root)
    marker = "<!-- pris dans le cache -->"
    for page in (root / CACHE_DIR).rglob("pages/*/*"):
        entry = page.read_bytes()
        flag, packed = (entry[:1], entry[1:]) if entry[:1] in (b"0", b"1") else (b"", entry)
        page.write_bytes(flag + compress(decompress(packed) + marker.encode("utf-8")))
    activity = root / "registers" / "members" / "boulangerie-exemple" / "clients-commandes.yml"
    text = activity.read_text(encoding="utf-8")
    activity.write_text(text + "# relu\n", encoding="utf-8")
    _build(root)
    folder = root / "site" / "sous-traitants"
    pages = sorted(folder.glob("*/index.html"))
    assert len(pages) > 3
    assert all(marker in p.read_text(encoding="utf-8") for p in [*pages, folder / "index.html"])

    activity.write_text(text.replace("\nnom: ", "\nnom: Renommée — ", 1), encoding="utf-8")
    _build(root)
    listing = [p for p in pages if "Renommée — " in p.read_text(encoding="utf-8")]
    assert listing and len(listing) < len(pages)
    for page in pages:
        assert (marker in page.read_text(encoding="utf-8")) == (page not in listing), page
    assert marker in (folder / "index.html").read_text(encoding="utf-8")  # the same members


def test_pages_rendered_by_worker_processes_are_the_pages_rendered_in_one_process(tmp_path: Path) -> None:
    root = tmp_path / "grand"
    demo_territory(root, members=70, activities=2)
    sites = {}
    for workers in ("1", "2"):
        log = _build(
            root,
            "--site-dir",
            str(tmp_path / f"site-{workers}"),
            env={"DOTE_PROCESSUS": workers, cache.CACHE_ENV: "0"},
        )
        assert ("pages rendues par 2 processus" in log) == (workers == "2"), log
        sites[workers] = tmp_path / f"site-{workers}"
    pages = sorted(p.relative_to(sites["1"]) for p in sites["1"].rglob("*.html"))
    assert len(pages) > 70
    assert pages == sorted(p.relative_to(sites["2"]) for p in sites["2"].rglob("*.html"))
    different = [str(p) for p in pages if (sites["1"] / p).read_bytes() != (sites["2"] / p).read_bytes()]
    assert different == []


def test_what_forked_processes_make_in_a_warm_build_is_what_one_process_makes(tmp_path: Path) -> None:
    """A warm build makes its open data in a forked process while it makes the pages, and a
    worker makes the explorer's data file after the few pages that changed
    (dote.mkdocs_plugin): the same bytes as a build in one process, and the file store keeps
    what the forked process wrote."""
    root = tmp_path / "grand"
    demo_territory(root, members=100, activities=2)
    two = {"DOTE_PROCESSUS": "2"}
    log = _build(root, env=two)  # clean: members' open data to compute, every page to render
    assert "processus parallèle" not in log
    member = sorted((root / "registers" / "members").iterdir())[3]
    activity = next(p for p in sorted(member.glob("*.yml")) if p.name != "member.yml")
    text = activity.read_text(encoding="utf-8")
    activity.write_text(text.replace("\nnom: ", "\nnom: Changé — ", 1), encoding="utf-8")
    log = _build(root, env=two)
    assert "explorateur préparées par un processus parallèle" in log, log
    assert "données ouvertes préparées par un processus parallèle" in log, log
    site = root / "site"
    assert "Changé — ".encode() in (site / "registres" / "explorer" / "donnees.json").read_bytes()
    alone = tmp_path / "un-processus"
    log = _build(root, "--site-dir", str(alone), env={"DOTE_PROCESSUS": "1", cache.CACHE_ENV: "0"})
    assert "processus parallèle" not in log
    made = sorted(
        p.relative_to(site) for folder in ("donnees", "registres") for p in (site / folder).rglob("*")
    )
    assert made == sorted(
        p.relative_to(alone) for f in ("donnees", "registres") for p in (alone / f).rglob("*")
    )
    different = [str(p) for p in made if p.suffix and (site / p).read_bytes() != (alone / p).read_bytes()]
    assert different == []
    # The store kept the entries the forked process used (the build's end removes the others):
    # the site's data files are links to them.
    store = root / CACHE_DIR / cache.engine_fingerprint() / "donnees"
    kept = {p.stat().st_ino for p in store.iterdir()}
    data_files = [p for p in (site / "donnees").rglob("*") if p.suffix in (".json", ".csv")]
    assert len(data_files) == 2 + 2 * 100
    assert [str(p) for p in data_files if p.stat().st_ino not in kept] == []


def _parsed_by_one_and_two_processes(root: Path) -> dict[str, tuple[bool, Any, Any]]:
    """``pipeline.run`` of ``root`` with one process, then two: whether it forked workers to
    parse the files, its problems and its territory."""
    script = (
        "import datetime as dt, pickle, sys\n"
        "from pathlib import Path\n"
        "from dote import pipeline, validate, workers\n"
        "used = []\n"
        "real = workers.pool\n"
        "workers.pool = lambda *a, **k: used.append(1) or real(*a, **k)\n"
        "result = pipeline.run(Path(sys.argv[1]), today=dt.date(2026, 11, 28))\n"
        "sys.stdout.buffer.write(pickle.dumps((bool(used), result.problems, result.territory)))\n"
    )
    answers = {}
    for count in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", script, str(root)],
            capture_output=True,
            env={**os.environ, "DOTE_PROCESSUS": count},
            check=True,
        )
        answers[count] = pickle.loads(done.stdout)
    assert answers["1"][0] is False and answers["2"][0] is True  # the workers did the parsing
    return answers


def test_files_parsed_by_worker_processes_give_what_one_process_gives(tmp_path: Path) -> None:
    root = tmp_path / "grand"
    demo_territory(root, members=30, activities=15)  # 480 files: 8 batches sent as they are read
    answers = _parsed_by_one_and_two_processes(root)
    assert answers["2"][1] == answers["1"][1]
    assert answers["2"][2] == answers["1"][2] and answers["1"][2] is not None


def test_mistakes_in_files_parsed_by_worker_processes_are_reported_as_by_one(tmp_path: Path) -> None:
    root = tmp_path / "grand"
    demo_territory(root, members=30, activities=15)
    activities = sorted(p for p in (root / "registers" / "members").glob("*/*.yml") if p.name != "member.yml")
    activities[7].write_text(
        activities[7].read_text(encoding="utf-8") + "champ_inconnu: 1\n", encoding="utf-8"
    )
    activities[300].write_text("nom: [non fermé\n", encoding="utf-8")
    answers = _parsed_by_one_and_two_processes(root)
    assert answers["2"][1] == answers["1"][1]  # the same problems, at the same positions
    assert {p.position.file for p in answers["2"][1] if p.is_error} == {
        path.relative_to(root).as_posix() for path in (activities[7], activities[300])
    }


def test_labels_evaluated_with_a_forked_worker_are_those_one_process_evaluates(tmp_path: Path) -> None:
    root = tmp_path / "grand"
    demo_territory(root, members=30, activities=5)
    script = (
        "import datetime as dt, os, shutil, sys\n"
        "from pathlib import Path\n"
        "from dote import pipeline\n"
        "from dote.cache import CACHE_DIR\n"
        "root = Path(sys.argv[1])\n"
        "pipeline.LABEL_PARALLEL_FROM = 10\n"
        "real = pipeline._label_shares\n"
        "shares = []\n"
        "pipeline._label_shares = lambda todo: shares.append(real(todo)) or shares[-1]\n"
        "labels = {}\n"
        "for count in ('1', '2'):\n"
        "    os.environ['DOTE_PROCESSUS'] = count\n"
        "    shutil.rmtree(root / CACHE_DIR, ignore_errors=True)  # every label to evaluate\n"
        "    result = pipeline.run(root, today=dt.date(2026, 11, 28), cache=True)\n"
        "    labels[count] = result.label\n"
        "    again = pipeline.run(root, today=dt.date(2026, 11, 28), cache=True)  # read back\n"
        "    assert again.label == result.label, count\n"
        "assert [len(apart) for _, apart in shares] == [0, 0, 18, 0], shares\n"
        "assert labels['1'] == labels['2'] and labels['1'] is not None\n"
        "assert list(labels['2'].members) == list(labels['1'].members)  # in the members' order\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_a_moved_territory_keeps_its_cache_and_old_engines_are_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_demo(tmp_path / "ici")
    pipeline.run(root, today=TODAY, cache=True)
    moved = root.rename(tmp_path / "ailleurs")  # as a CI runner checks out elsewhere
    parsed = _count_parsing(monkeypatch)
    pipeline.run(moved, today=TODAY, cache=True)
    assert parsed == []
    old = moved / CACHE_DIR / cache.engine_fingerprint()
    monkeypatch.setattr(cache, "engine_fingerprint", lambda: "version-suivante")
    pipeline.run(moved, today=TODAY, cache=True)
    assert not old.exists() and (moved / CACHE_DIR / "version-suivante").is_dir()


def _count_evaluations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return _count_calls(monkeypatch, pipeline, "evaluate_member", lambda member, *rest: member.id)


def test_a_member_label_is_kept_until_its_records_the_shared_files_or_the_date_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_demo(tmp_path / "territoire")
    evaluated = _count_evaluations(monkeypatch)
    cold = pipeline.run(root, today=TODAY, cache=True)
    assert cold.label is not None and cold.territory is not None
    members = sorted(m.id for m in cold.territory.members)
    assert sorted(evaluated) == members

    evaluated.clear()
    warm = pipeline.run(root, today=TODAY, cache=True)
    assert evaluated == []
    assert warm.label == cold.label == pipeline.run(root, today=TODAY).label  # as without a cache

    # One activity loses its review date: its member alone is evaluated again, and differs.
    changed = _activity(root)
    text = changed.read_text(encoding="utf-8")
    assert "revue:" in text
    changed.write_text(
        "\n".join(line for line in text.splitlines() if not line.strip().startswith("revue:")) + "\n",
        encoding="utf-8",
    )
    evaluated.clear()
    again = pipeline.run(root, today=TODAY, cache=True)
    assert evaluated == [changed.parent.name]
    assert again.label == pipeline.run(root, today=TODAY).label
    assert again.label != cold.label

    # A shared file changed (a processor), or another day: every member again.
    processor = sorted((root / "registers" / "processors").glob("*.yml"))[0]
    processor.write_text(processor.read_text(encoding="utf-8") + "# revu\n", encoding="utf-8")
    evaluated.clear()
    pipeline.run(root, today=TODAY, cache=True)
    assert evaluated == []  # a comment changes no data: the same key
    processor.write_text(
        processor.read_text(encoding="utf-8").replace("nom: ", "nom: Nouveau nom de ", 1), encoding="utf-8"
    )
    evaluated.clear()
    renamed = pipeline.run(root, today=TODAY, cache=True)
    assert sorted(evaluated) == members
    assert renamed.label == pipeline.run(root, today=TODAY).label
    # Another day: the members whose label may differ then (its window: label.DateWindow).
    assert renamed.label is not None
    later_day = TODAY + dt.timedelta(days=400)
    ending = sorted(m for m, w in renamed.label.windows.items() if not _holds(w, later_day))
    assert ending and len(ending) < len(members)  # the demo has both
    evaluated.clear()
    later = pipeline.run(root, today=later_day, cache=True)
    assert sorted(evaluated) == ending
    assert later.label == pipeline.run(root, today=later_day).label


def _holds(window: str, day: dt.date) -> bool:
    start, end = map(int, window.split("-"))
    return start <= day.toordinal() < end


def test_a_kept_label_is_the_label_of_every_day_of_its_window(tmp_path: Path) -> None:
    """On the days around each end of every member's window (label.DateWindow), forward then
    backward, the label taken from the cache is the label computed without it, and every
    window it gives holds that day."""
    root = copy_demo(tmp_path / "territoire")
    first = pipeline.run(root, today=TODAY, cache=True)
    assert first.label is not None
    edges = {int(e) for w in first.label.windows.values() for e in w.split("-")}
    days = sorted(
        dt.date.fromordinal(e + d)
        for e in edges
        if label.FIRST_DAY < e < label.AFTER_LAST_DAY
        for d in (-1, 0)
    )
    evaluations = 0
    for day in [*days, *reversed(days)]:
        kept = pipeline.run(root, today=day, cache=True)
        fresh = pipeline.run(root, today=day)
        assert kept.label == fresh.label, day
        if fresh.label is None:  # a day before some of the registers' dates: refused, both
            assert kept.label is None and kept.errors and fresh.errors
            continue
        assert kept.label is not None
        assert kept.label.windows == fresh.label.windows, day
        for member_id, window in kept.label.windows.items():
            assert _holds(window, day), (member_id, window, day)
        evaluations += 1
    assert evaluations >= 12


def test_member_fingerprints_follow_their_files_bytes_with_the_cache_and_their_data_without(
    tmp_path: Path,
) -> None:
    """With the cache, a member's fingerprint is made of its files' content keys (already
    computed when they were read): a comment added to one activity changes that member's
    fingerprint alone. Without the cache, it is made of the data, which a comment leaves as
    it was. The shared fingerprint is the data's either way."""
    root = copy_demo(tmp_path / "territoire")
    cold = pipeline.run(root, today=TODAY, cache=True)
    assert cold.ok and cold.fingerprints
    uncached = pipeline.run(root, today=TODAY)
    assert uncached.fingerprints[pipeline.SHARED] == cold.fingerprints[pipeline.SHARED]
    assert uncached.fingerprints != cold.fingerprints  # the members' are made otherwise

    changed = _activity(root)
    changed.write_text(changed.read_text(encoding="utf-8") + "# relu\n", encoding="utf-8")
    warm = pipeline.run(root, today=TODAY, cache=True)
    differ = {k for k, v in cold.fingerprints.items() if warm.fingerprints.get(k) != v}
    assert differ == {changed.parent.name, pipeline.EVERYTHING}
    assert pipeline.run(root, today=TODAY).fingerprints == uncached.fingerprints
    assert pipeline.run(root, today=TODAY, cache=True).fingerprints == warm.fingerprints


def test_a_member_checks_are_kept_with_its_files_until_they_or_the_shared_files_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cross-file checks of a member's activities (validate.check_members) are kept with
    its files in the cache: read back, they give the problems a run without the cache gives;
    a changed activity has its member checked again, a changed shared file every member, the
    next day none (no date of theirs passes); an internal build (the overlay) keeps nothing."""
    root = copy_demo(tmp_path / "territoire")
    member = root / "registers" / "members" / "boulangerie-exemple"
    # A warning of these checks: two activities of the member with the same name.
    twin = member / "fidelite.yml"
    name = next(
        line
        for line in (member / "paie.yml").read_text(encoding="utf-8").splitlines()
        if line.startswith("nom:")
    )
    twin.write_text(
        "\n".join(
            name if line.startswith("nom:") else line
            for line in twin.read_text(encoding="utf-8").splitlines()
        )
        + "\n",
        encoding="utf-8",
    )
    checked = _count_calls(
        monkeypatch,
        validate,
        "check_member_references",
        lambda docs, *rest: next(iter(docs.values())).name.split("/")[2],
    )
    members = sorted(
        p.name for p in (root / "registers" / "members").iterdir() if (p / "member.yml").is_file()
    )
    cold = pipeline.run(root, today=TODAY, cache=True)
    assert sorted(checked) == members
    assert any("portent le même nom" in p.message for p in cold.problems)

    checked.clear()
    warm = pipeline.run(root, today=TODAY, cache=True)
    assert checked == []
    assert warm.problems == cold.problems == pipeline.run(root, today=TODAY).problems

    changed = _activity(root)
    changed.write_text(changed.read_text(encoding="utf-8") + "# relu\n", encoding="utf-8")
    checked.clear()
    assert pipeline.run(root, today=TODAY, cache=True).problems == cold.problems
    assert checked == [changed.parent.name]

    checked.clear()
    next_day = TODAY + dt.timedelta(days=1)
    kept = pipeline.run(root, today=next_day, cache=True)
    assert checked == []
    assert kept.problems == pipeline.run(root, today=next_day).problems
    processor = sorted((root / "registers" / "processors").glob("*.yml"))[0]
    processor.write_text(
        processor.read_text(encoding="utf-8").replace("nom: ", "nom: Nouveau nom de ", 1), encoding="utf-8"
    )
    checked.clear()
    pipeline.run(root, today=TODAY, cache=True)
    assert sorted(checked) == members

    overlay = Path(__file__).parent / "fixtures" / "overlay-demo"
    checked.clear()
    pipeline.run(root, today=TODAY, cache=True, overlay=overlay)
    pipeline.run(root, today=TODAY, cache=True, overlay=overlay)
    assert sorted(checked) == sorted(members * 2)  # computed each time, never read back
    checked.clear()
    pipeline.run(root, today=TODAY, cache=True)
    assert checked == []  # what the public run kept is still there


def test_kept_checks_are_those_of_every_day_around_the_registers_dates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member's checks are kept for the days on which they stay the same: on the day before
    and the day of every date the members' files state (a date in the future is an error) and
    every authorisation's end (expired, a warning), forward then backward, the problems a run
    with the cache gives are those of a run without it, and members are checked again only
    when one of their dates is passed."""
    root = copy_demo(tmp_path / "territoire")
    members = root / "registers" / "members"
    found = {
        dt.date.fromisoformat(d)
        for path in members.glob("*/*.yml")
        for d in DATES_IN_TEXT.findall(path.read_text("utf-8"))
    }
    videoprotection = (members / "valmont" / "videoprotection.yml").read_text(encoding="utf-8")
    assert "autorisations:" in videoprotection and "duree_validite:" in videoprotection
    expiry = [
        add_duration(dt.date.fromisoformat(str(a["date"])), str(a["duree_validite"]))
        for a in yaml.safe_load(videoprotection)["autorisations"]
        if "duree_validite" in a
    ]
    dates = sorted(d for d in found if d.year >= 2024)
    edges = sorted({*dates[:: max(1, len(dates) // 15)], *(e for e in expiry if e is not None)})
    checked = _count_calls(monkeypatch, validate, "check_member_references", lambda docs, *rest: 1)
    days = [day for edge in edges for day in (edge - dt.timedelta(days=1), edge)]
    runs = [*days, *reversed(days)]
    rechecked = 0
    for day in runs:
        checked.clear()
        kept = pipeline.run(root, today=day, cache=True)
        rechecked += len(checked)
        assert kept.problems == pipeline.run(root, today=day).problems, day
    assert len(edges) > 10
    assert 8 <= rechecked < len(runs) * 8 / 2  # most members' checks read back each day


DATES_IN_TEXT = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


def test_a_damaged_label_entry_is_evaluated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_demo(tmp_path / "territoire")
    cold = pipeline.run(root, today=TODAY, cache=True)
    entries = sorted((root / CACHE_DIR).glob("*/label/*"))
    assert cold.territory is not None and len(entries) == len(cold.territory.members)
    entries[0].write_bytes(b"\x00garbage")
    entries[1].write_bytes(compress(pickle.dumps("not marshal")))
    evaluated = _count_evaluations(monkeypatch)
    warm = pipeline.run(root, today=TODAY, cache=True)
    assert sorted(evaluated) == sorted(e.name for e in entries[:2])
    assert warm.label == cold.label
    # The entry of a member no longer in the territory is removed.
    gone = entries[0].parent / "membre-parti"
    shutil.copyfile(entries[2], gone)
    assert pipeline.run(root, today=TODAY, cache=True).ok
    assert not gone.exists() and entries[2].is_file()


def _data_files(site: Path) -> dict[str, os.stat_result]:
    """The open-data files a build writes through its file store: the members' and the territory's."""
    folder = site / "donnees"
    found = [*(folder / "membres").glob("*.*"), folder / "territoire.json", folder / "territoire.csv"]
    return {p.relative_to(folder).as_posix(): p.stat() for p in found}


def test_open_data_files_are_linked_from_the_cache_and_written_only_when_they_change(tmp_path: Path) -> None:
    """The open-data files are written to the cache as they are made (not held in memory until
    MkDocs writes the site) and linked into it; an unchanged file is not written again."""
    root = copy_demo(tmp_path / "territoire")
    _build(root)
    store = next((root / CACHE_DIR).glob("*/donnees"))
    first = _data_files(root / "site")
    entries = {(e.st_dev, e.st_ino) for e in map(os.stat, store.iterdir())}
    assert len(first) > 4 and {(s.st_dev, s.st_ino) for s in first.values()} == entries

    changed = _activity(root)
    member = changed.parent.name
    changed.write_text(changed.read_text(encoding="utf-8").replace("\nnom: ", "\nnom: Revu — ", 1), "utf-8")
    _build(root)
    second = _data_files(root / "site")
    assert set(second) == set(first)
    again = {name for name in first if second[name].st_ino != first[name].st_ino}
    assert again == {f"membres/{member}.json", f"membres/{member}.csv", "territoire.json", "territoire.csv"}
    assert "Revu — " in (root / "site" / "donnees" / "membres" / f"{member}.json").read_text(encoding="utf-8")
    # The replaced versions are gone from the cache: one entry per file of the site.
    assert {(e.st_dev, e.st_ino) for e in map(os.stat, store.iterdir())} == {
        (s.st_dev, s.st_ino) for s in second.values()
    }

    # An entry damaged behind the build's back (another size) is written again.
    damaged = root / "site" / "donnees" / "territoire.csv"
    whole = damaged.read_bytes()
    entry = next(e for e in store.iterdir() if os.path.samefile(e, damaged))
    entry.write_bytes(whole[: len(whole) // 2])
    _build(root)
    assert (root / "site" / "donnees" / "territoire.csv").read_bytes() == whole


def test_a_damaged_page_entry_is_rendered_again(tmp_path: Path) -> None:
    """Generated pages are kept compressed until MkDocs themes them, and uncompressed then: an
    entry damaged behind the build's back is rendered again there, and the site is the same."""
    root = copy_demo(tmp_path / "territoire")
    _build(root)
    before = {p.relative_to(root / "site"): p.read_bytes() for p in (root / "site").rglob("*.html")}
    damaged = 0
    for entry in (root / CACHE_DIR).rglob("pages/*/*"):
        if entry.read_bytes()[:1] in (b"0", b"1"):  # a page's entry (not a search document's)
            entry.write_bytes(entry.read_bytes()[:40])
            damaged += 1
    assert damaged > 10
    _build(root)
    after = {p.relative_to(root / "site"): p.read_bytes() for p in (root / "site").rglob("*.html")}
    assert after.keys() == before.keys()
    assert [str(p) for p in before if before[p] != after[p]] == []
    # Written again whole: the next build reads them as they are.
    assert all(
        decompress(e.read_bytes()[1:])
        for e in (root / CACHE_DIR).rglob("pages/*/*")
        if e.read_bytes()[:1] in (b"0", b"1")
    )


def _compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import jinja2

    return _count_calls(
        monkeypatch, jinja2.Environment, "compile", lambda env, source, name=None, *_: str(name)
    )


def _template_env(root: Path, **options: Any) -> Any:
    import jinja2

    (root / "gabarits").mkdir(parents=True, exist_ok=True)
    if not (root / "gabarits" / "page.html").exists():
        (root / "gabarits" / "page.html").write_text(
            "{% for x in items %}<b>{{ x }}</b>{% endfor %}", "utf-8"
        )
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(root / "gabarits")), **options)
    env.bytecode_cache = cache.template_cache(root, env, "essai")
    return env


def test_templates_are_compiled_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = _compiles(monkeypatch)
    first = _template_env(tmp_path, autoescape=True).get_template("page.html").render(items=["<a>", "b"])
    assert first == "<b>&lt;a&gt;</b><b>b</b>" and compiled == ["page.html"]
    again = _template_env(tmp_path, autoescape=True).get_template("page.html").render(items=["<a>", "b"])
    assert again == first and compiled == ["page.html"]  # a new environment, no compilation
    # Other compile options (here: no autoescaping) never read the entry of the first ones.
    other = _template_env(tmp_path, autoescape=False).get_template("page.html").render(items=["<a>"])
    assert other == "<b><a></b>" and compiled == ["page.html", "page.html"]
    # A changed template is compiled again.
    (tmp_path / "gabarits" / "page.html").write_text("<i>{{ items | length }}</i>", "utf-8")
    assert (
        _template_env(tmp_path, autoescape=True).get_template("page.html").render(items=[1, 2]) == "<i>2</i>"
    )
    assert len(compiled) == 3


def test_a_damaged_compiled_template_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _template_env(tmp_path, autoescape=True).get_template("page.html")
    entries = list((tmp_path / CACHE_DIR).glob("*/gabarits/*/*"))
    assert len(entries) == 1
    from jinja2.bccache import bc_magic

    entries[0].write_bytes(bc_magic + b"\x80\x05garbage")  # Jinja's header, then no pickle
    compiled = _compiles(monkeypatch)
    assert (
        _template_env(tmp_path, autoescape=True).get_template("page.html").render(items=["x"]) == "<b>x</b>"
    )
    assert compiled == ["page.html"]


def test_no_template_cache_when_the_cache_is_off_or_autoescaping_is_chosen_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jinja2

    assert cache.template_cache(None, jinja2.Environment(), "x") is None
    assert (
        cache.template_cache(tmp_path, jinja2.Environment(autoescape=jinja2.select_autoescape()), "x") is None
    )
    monkeypatch.setenv(cache.CACHE_ENV, "0")
    assert cache.template_cache(tmp_path, jinja2.Environment(), "x") is None


def test_badges_are_linked_from_the_cache_and_written_only_when_they_change(tmp_path: Path) -> None:
    root = copy_demo(tmp_path / "territoire")
    _build(root)
    store = next((root / CACHE_DIR).glob("*/badges"))
    badges = sorted((root / "site" / "label").glob("*.svg"))
    first = {p.name: p.stat() for p in badges}
    assert len(first) > 2 and all(s.st_nlink >= 2 for s in first.values())
    entries = {(e.st_dev, e.st_ino) for e in map(os.stat, store.iterdir())}
    assert {(s.st_dev, s.st_ino) for s in first.values()} <= entries
    assert all(p.read_bytes().startswith(b"<svg") for p in badges)
    _build(root)  # nothing changed: the same entries, none written again
    assert {p.name: p.stat().st_ino for p in badges} == {n: s.st_ino for n, s in first.items()}


# --- files recognised by their status (DocumentCache.recognise) ----------------------------


def _settled_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo territory, run once with the cache, its files' statuses kept at once."""
    root = copy_demo(tmp_path / "territoire")
    monkeypatch.setattr(cache, "SETTLED_NS", 0)  # the copy's files count as settled at once
    pipeline.run(root, today=TODAY, cache=True)
    return root


def _count_reading(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return _count_calls(monkeypatch, validate, "read_source_with_status", lambda path, name, **_: name)


def test_an_unchanged_file_is_recognised_by_its_status_without_being_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_demo(tmp_path / "territoire")
    monkeypatch.setattr(cache, "SETTLED_NS", 0)  # the copy's files count as settled at once
    cold = pipeline.run(root, today=TODAY, cache=True)
    assert any((next((root / CACHE_DIR).glob("*/documents")) / "etats").iterdir())
    read = _count_reading(monkeypatch)
    warm = pipeline.run(root, today=TODAY, cache=True)
    assert read == []
    assert warm.territory == cold.territory and warm.problems == cold.problems
    assert warm.fingerprints == cold.fingerprints and warm.label == cold.label

    # Same size, other bytes, a moment later: its times differ, it is read and parsed again.
    time.sleep(0.05)
    changed = _activity(root)
    text = changed.read_text(encoding="utf-8")
    assert "version_schema: 1" in text
    changed.write_text(text.replace("version_schema: 1", "version_schema: 2", 1), encoding="utf-8")
    parsed = _count_parsing(monkeypatch)
    again = pipeline.run(root, today=TODAY, cache=True)
    name = changed.relative_to(root).as_posix()
    assert read == [name] and parsed == [name]
    assert again.errors  # version_schema 2 is refused: the new bytes were read
    assert again.fingerprints != cold.fingerprints


def test_a_recent_file_is_read_again_until_its_times_have_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written less than SETTLED_NS ago could change again within the same tick of
    the file system's clock and keep its times: its status is not kept."""
    root = copy_demo(tmp_path / "territoire")
    pipeline.run(root, today=TODAY, cache=True)  # the copy's files were just written
    read = _count_reading(monkeypatch)
    parsed = _count_parsing(monkeypatch)
    pipeline.run(root, today=TODAY, cache=True)
    assert len(read) > 20 and parsed == []  # read (not recognised), found in the cache by content


def test_a_file_replaced_by_a_link_or_copied_elsewhere_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _settled_demo(tmp_path, monkeypatch)
    changed = _activity(root)
    outside = tmp_path / "ailleurs.yml"
    outside.write_bytes(changed.read_bytes())
    changed.unlink()
    changed.symlink_to(outside)
    read = _count_reading(monkeypatch)
    linked = pipeline.run(root, today=TODAY, cache=True)
    name = changed.relative_to(root).as_posix()
    assert read == [name]
    assert any("lien symbolique" in p.message and p.position.file == name for p in linked.errors)

    moved = tmp_path / "copie"
    shutil.copytree(root, moved, symlinks=True)
    (moved / name).unlink()
    shutil.copyfile(outside, moved / name)
    read.clear()
    assert pipeline.run(moved, today=TODAY, cache=True).ok
    assert len(read) > 20  # new inodes: every file read, the entries found by content


def test_a_recognised_file_gives_its_positions_from_its_bytes_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_demo(tmp_path / "territoire")
    monkeypatch.setattr(cache, "SETTLED_NS", 0)
    kept = cache.DocumentCache(root)
    cold, _ = validate.read_sources(root, cache=kept)
    read = _count_reading(monkeypatch)
    warm, _ = validate.read_sources(root, cache=cache.DocumentCache(root))
    assert read == []
    member = next(iter(cold.activities))
    activity = next(iter(cold.activities[member]))
    before, after = cold.activities[member][activity], warm.activities[member][activity]
    assert after.data == before.data
    assert after.position(("nom",)) == before.position(("nom",)) != after.position()
    assert after.key_position(("nom",)) == before.key_position(("nom",))


# --- member folders recognised whole (DocumentCache.recognise_folder) --------------------------


def _member_packs(root: Path) -> dict[str, str]:
    """Each member folder's pack name (see cache._pack_name), by member id."""
    return {
        folder.name: cache._pack_name(folder.relative_to(root).as_posix())
        for folder in (root / "registers" / "members").iterdir()
    }


def _unpacked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return _count_calls(monkeypatch, cache.DocumentCache, "_pack", lambda store, name: name)


def _same_run(one: pipeline.Result, other: pipeline.Result) -> None:
    assert one.problems == other.problems
    assert one.territory is not None and other.territory is not None
    assert one.territory.drift == other.territory.drift
    assert one.label == other.label
    for a, b in zip(one.territory.members, other.territory.members, strict=True):
        kept = model.member_outline(a)  # summaries and fields stated, as kept (None once made)
        if kept is not None:
            pending = model._ACTIVITIES_SLOT.__get__(a, model.Member)
            pending.summaries = pending.stated = None
            assert model.member_outline(a) == kept  # as made again from the data
        assert model.activity_summaries(a) == model.activity_summaries(b)
    assert one.territory == other.territory  # the records, made now


def test_an_unchanged_member_folder_is_taken_whole_without_unpacking_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm run recognises each unchanged member folder by its files' statuses: it unpacks
    none of them (their documents, resolution, checks, summaries are kept), and gives what a
    run without cache gives, drift, algorithms' warnings and summaries included."""
    root = copy_demo(tmp_path / "territoire")
    algorithmic = root / "registers" / "members" / "valmont" / "inscriptions-scolaires.yml"
    text = algorithmic.read_text(encoding="utf-8")
    algorithmic.write_text(text.replace("\n  mention: ", "\n  x_mention: ", 1), encoding="utf-8")
    monkeypatch.setattr(cache, "SETTLED_NS", 0)
    pipeline.run(root, today=TODAY, cache=True)
    packs = _member_packs(root)
    unpacked = _unpacked(monkeypatch)
    model.made_on_demand.clear()
    warm = pipeline.run(root, today=TODAY, cache=True)
    assert set(unpacked).isdisjoint(packs.values()) and model.made_on_demand == []
    assert any("sans « mention »" in p.message for p in warm.problems)  # kept with the member's checks
    assert warm.territory is not None and warm.territory.drift
    _same_run(warm, pipeline.run(root, today=TODAY))

    # One activity changed: its member's folder alone is read (and unpacked) again.
    changed = _activity(root)
    changed.write_text(changed.read_text(encoding="utf-8") + "# revu\n", encoding="utf-8")
    unpacked.clear()
    read = _count_reading(monkeypatch)
    again = pipeline.run(root, today=TODAY, cache=True)
    assert set(unpacked) & set(packs.values()) == {packs[changed.parent.name]}
    assert read == [changed.relative_to(root).as_posix()]
    _same_run(again, pipeline.run(root, today=TODAY))


def test_a_copied_territory_takes_its_unchanged_folders_by_their_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh checkout (here a copy: new inodes and change times) with the cache kept: each
    member folder whose files have the same bytes is taken whole without unpacking its pack,
    and its new statuses are kept (the next run reads nothing); a changed file is read."""
    root = _settled_demo(tmp_path, monkeypatch)
    copy = tmp_path / "copie"
    shutil.copytree(root, copy)
    changed = _activity(copy)
    changed.write_text(changed.read_text(encoding="utf-8") + "# revu\n", encoding="utf-8")
    packs = _member_packs(copy)
    unpacked = _unpacked(monkeypatch)
    parsed = _count_parsing(monkeypatch)
    first = pipeline.run(copy, today=TODAY, cache=True)
    assert set(unpacked) & set(packs.values()) == {packs[changed.parent.name]}
    assert parsed == [changed.relative_to(copy).as_posix()]
    _same_run(first, pipeline.run(copy, today=TODAY))
    read = _count_reading(monkeypatch)
    unpacked.clear()
    again = pipeline.run(copy, today=TODAY, cache=True)
    assert read == [] and set(unpacked).isdisjoint(packs.values())  # recognised by the new statuses
    _same_run(again, pipeline.run(copy, today=TODAY))


def test_a_member_folder_with_a_file_added_or_removed_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _settled_demo(tmp_path, monkeypatch)
    source = _activity(root)
    added = source.with_name("activite-ajoutee.yml")
    added.write_text(
        source.read_text(encoding="utf-8").replace("\nnom: ", "\nnom: Copie de ", 1), encoding="utf-8"
    )
    with_added = pipeline.run(root, today=TODAY, cache=True)
    assert with_added.territory is not None
    member = with_added.territory.members_by_id[source.parent.name]
    assert "activite-ajoutee" in model.activity_ids(member)
    _same_run(with_added, pipeline.run(root, today=TODAY))

    added.unlink()
    source.unlink()
    without = pipeline.run(root, today=TODAY, cache=True)
    assert without.territory is not None
    ids = model.activity_ids(without.territory.members_by_id[source.parent.name])
    assert "activite-ajoutee" not in ids and source.stem not in ids
    _same_run(without, pipeline.run(root, today=TODAY))


def test_a_recognised_folder_whose_pack_was_lost_reads_its_files_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statuses say a folder is unchanged, but its pack is gone (a damaged cache): its
    documents are read and checked again when something reads them, and are the same."""
    root = copy_demo(tmp_path / "territoire")
    monkeypatch.setattr(cache, "SETTLED_NS", 0)
    cold, _ = validate.read_sources(root, cache=cache.DocumentCache(root))
    member = next(m for m, docs in cold.activities.items() if docs)
    documents = next((root / CACHE_DIR).glob("*/documents"))
    (documents / _member_packs(root)[member]).unlink()
    parsed = _count_parsing(monkeypatch)
    warm, _ = validate.read_sources(root, cache=cache.DocumentCache(root))
    assert parsed == []  # recognised: nothing read yet
    assert dict(warm.activities[member]) == dict(cold.activities[member])
    assert len(parsed) == len(cold.activities[member])  # read again when asked for


def test_a_removed_member_leaves_no_pack_behind(tmp_path: Path) -> None:
    """The pack of a folder no run finds any more (a member removed or renamed) is deleted
    by the next run, which reads every file; the other packs stay."""
    root = copy_demo(tmp_path / "territoire")
    pipeline.run(root, today=TODAY, cache=True)
    documents = next((root / CACHE_DIR).glob("*/documents"))
    members = sorted(p for p in (root / "registers" / "members").iterdir() if p.is_dir())
    gone = members[-1]
    gone_pack = cache._pack_name(gone.relative_to(root).as_posix())
    packs = {p.name for p in documents.iterdir() if p.name != "etats"}
    assert gone_pack in packs and len(packs) > len(members)
    (documents / "a-garder").write_bytes(b"")  # not a pack: left alone

    shutil.rmtree(gone)
    pipeline.run(root, today=TODAY, cache=True)  # the files that name it are errors now: no matter
    assert {p.name for p in documents.iterdir() if p.name not in ("etats", "a-garder")} == packs - {gone_pack}
    assert (documents / "a-garder").exists()
    # A run that does not save with ``whole`` (it read part of the territory) prunes nothing.
    kept = cache.DocumentCache(root)
    kept.keep_member_value("registers/members/autre", "x", 1)
    kept.save()
    assert {p.name for p in documents.iterdir() if p.name not in ("etats", "a-garder")} == packs - {gone_pack}
    assert cache.DocumentCache(root).member_value("registers/members/autre", "x") == 1


def test_the_members_documents_are_not_made_again_on_the_next_day(tmp_path: Path) -> None:
    """Notices and rights letters show no date but the registers': a build on another day
    takes them from the cache (the pages, which show the label and reviews due, are made
    again), and they are the same bytes."""
    root = copy_demo(tmp_path / "territoire")
    _build_on(
        root, dt.date(2026, 11, 28)
    )  # its documents made, or taken from the repository's cache (conftest)
    downloads = {
        p.relative_to(root / "site"): p.read_bytes()
        for p in (root / "site" / "registres").glob("*/*")
        if p.suffix in (".docx", ".odt") or p.name == "mentions.html"
    }
    assert len(downloads) > 10
    log = _build_on(root, dt.date(2026, 11, 29))
    assert _rendered(log)[1] > 10  # a new day: the pages that show the date are made again
    next_day = re.search(r"documents des membres : (\d+) à écrire, (\d+) repris du cache", log)
    assert next_day is not None and next_day[1] == "0"
    for path, data in downloads.items():
        assert (root / "site" / path).read_bytes() == data, path


def test_member_pages_and_open_data_are_kept_for_the_days_their_label_holds(tmp_path: Path) -> None:
    """On the first day some member's label may change (the end of its window), the other
    members' pages and open data (and the pages made without the date) come from the cache,
    with the new day's date put in, and the site's member pages, open data, explorer data,
    dashboard and catalogue pages are those of a build without a cache."""
    root = copy_demo(tmp_path / "territoire")
    first_day = dt.date(2026, 11, 28)
    result = pipeline.run(root, today=first_day)
    evaluation, territory = result.label, result.territory
    assert evaluation is not None and territory is not None
    # The models' and processors' pages (and their two lists) are made without the date.
    catalogue = len(territory.models) + len(territory.processors) + 2
    ends = sorted(int(w.split("-")[1]) for w in evaluation.windows.values())
    next_day = dt.date.fromordinal(ends[0])  # the first day a member's label may change
    holding = {m for m, w in evaluation.windows.items() if _holds(w, next_day)}
    assert holding and len(holding) < len(evaluation.windows)

    assert _rendered(_build_on(root, first_day))[0] == 0
    assert _rendered(_build_on(root, next_day))[0] == len(holding) + catalogue  # the others are dated
    fresh = copy_demo(tmp_path / "sans-cache")
    assert _rendered(_build_on(fresh, next_day))[0] == 0

    def published(folder: Path) -> dict[str, bytes]:
        site = folder / "site"
        paths = [*site.glob("registres/*/index.html"), *(site / "donnees").rglob("*.*")]
        paths += [
            *site.glob("sous-traitants/**/index.html"),
            *site.glob("modeles-de-traitements/**/index.html"),
        ]
        dashboard = site / "tableau-de-bord" / "index.html"  # from the members' kept figures
        return {
            p.relative_to(site).as_posix(): p.read_bytes()
            for p in [*paths, site / explorer.DATA_PATH, dashboard]
        }

    kept, made = published(root), published(fresh)
    assert len(kept) > 2 * len(holding)
    assert kept.keys() == made.keys()
    for path, data in kept.items():
        assert data == made[path], path
    for member_id in holding:
        page = kept[f"registres/{member_id}/index.html"].decode("utf-8")
        assert f'au <time datetime="{next_day}">' in page and str(first_day) not in page
        assert f'"date_evaluation":"{next_day}"' in kept[f"donnees/membres/{member_id}.json"].decode("utf-8")


def _build_on(folder: Path, day: dt.date) -> str:
    """Build the territory at ``folder`` as on ``day`` (the plugin's ``reference_date``)."""
    config = folder / "mkdocs.yml"
    text = re.sub(
        r"^  - dote\b.*\n(      reference_date: .*\n)?",
        f"  - dote:\n      reference_date: '{day}'\n",
        config.read_text(encoding="utf-8"),
        count=1,
        flags=re.M,
    )
    config.write_text(text, encoding="utf-8")
    return _build(folder)


def _rendered(log: str) -> tuple[int, int]:
    """The generated pages a build took from the cache, and those it rendered."""
    found = re.search(r"(\d+) pages générées reprises du cache, (\d+) à rendre", log)
    assert found is not None
    return int(found[1]), int(found[2])


def test_a_member_page_follows_the_sessions_its_staff_attended(tmp_path: Path) -> None:
    """A session that ends changes the label of the members who attended it, here without
    changing the days of its window (a review overdue since after its declared training, another
    due before the session's anniversary): its page kept the day before is not used."""
    root = copy_demo(tmp_path / "territoire")
    sessions = root / "registers" / "formations.yml"
    text = sessions.read_text(encoding="utf-8")
    assert text.count("    places_restantes: 6\n") == 1
    sessions.write_text(
        text.replace("    places_restantes: 6\n", "    presences: [valmont]\n"), encoding="utf-8"
    )
    activity = root / "registers" / "members" / "valmont" / "deliberations-arretes.yml"
    text = activity.read_text(encoding="utf-8")
    assert "  revue: 2026-06-22\n  prochaine_revue: 2027-06-22\n" in text
    activity.write_text(
        text.replace("  revue: 2026-06-22\n  prochaine_revue: 2027-06-22\n", "  revue: 2025-11-25\n"),
        encoding="utf-8",
    )
    before, after = dt.date(2026, 12, 9), dt.date(2026, 12, 10)  # the session ends on the 10th
    labels = [pipeline.run(root, today=day).label for day in (before, after)]
    assert labels[0] is not None and labels[1] is not None
    assert labels[0].windows["valmont"] == labels[1].windows["valmont"]
    assert labels[0].members["valmont"] != labels[1].members["valmont"]
    _build_on(root, before)
    _build_on(root, after)
    fresh = copy_demo(tmp_path / "sans-cache")
    for path in (sessions, activity):
        target = fresh / path.relative_to(root)
        target.write_bytes(path.read_bytes())
    _build_on(fresh, after)
    page = "site/registres/valmont/index.html"
    assert (root / page).read_bytes() == (fresh / page).read_bytes()
    member_data = "site/donnees/membres/valmont.json"
    assert (root / member_data).read_bytes() == (fresh / member_data).read_bytes()
