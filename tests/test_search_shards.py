"""A large site's search is indexed in shards (dote.search), merged back into one search.

Every page is indexed exactly once; a shard whose pages did not change is taken from the
cache; in Chromium, a search on the sharded site finds pages of every shard, lands on
them, and its filters list every member.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dote import notices, search
from dote.cache import CACHE_ENV
from dote.layout import RESERVED_MEMBER_IDS
from dote.scaffold import demo_territory
from hostile import CHROMIUM, CHROMIUM_ARGS, serve

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Route

MEMBERS = 24


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A demo territory of 24 members indexed in 3 shards, built twice (cold, then warm)."""
    root = tmp_path_factory.mktemp("fragments") / "territoire"
    demo_territory(root, members=MEMBERS, activities=3)
    config = root / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^  - dote\b.*$", "  - dote:\n      search_shards: 3", text, count=1))
    cold = _build(root)
    return root, cold, _build(root)


def _build(root: Path) -> str:
    """``dote build --verbose`` of ``root`` with its cache; what it logged."""
    done = subprocess.run(
        [sys.executable, "-m", "dote.cli", "build", "--verbose", str(root)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != CACHE_ENV},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_shards_hold_about_125_members_at_least_one_per_worker_at_most_16() -> None:
    assert search.shard_count(199, 2) == 0 and search.shard_count(5_000, 1) == 0  # one bundle
    assert [search.shard_count(n, 2) for n in (200, 250, 251, 1_000, 1_001, 2_000)] == [2, 2, 3, 8, 9, 16]
    assert search.shard_count(300, 8) == 8  # one per worker
    assert search.shard_count(5_000, 2) == search.shard_count(50_000, 2) == 16
    assert search.shard_count(50_000, 32) == 32


def test_every_page_is_indexed_by_exactly_one_job(sharded: tuple[Path, str, str]) -> None:
    root, _, _ = sharded
    site = root / "site"
    members = sorted(
        p.name for p in (site / "registres").iterdir() if p.is_dir() and p.name not in RESERVED_MEMBER_IDS
    )
    jobs = search.jobs(site, members, 3)
    assert jobs[0].output == search.PRIMARY and len(jobs) == 4
    indexed = [page for job in jobs for page in job.pages]
    # Every page but the members' printable notices (no data-pagefind-body: Pagefind would
    # parse them only to leave them out).
    printable = sorted(site.glob(f"registres/*/{notices.PAGE_NAME}"))
    assert printable
    assert sorted(indexed) == sorted(set(site.rglob("*.html")) - set(printable))
    assert not any("data-pagefind-body" in p.read_text(encoding="utf-8") for p in printable)
    (single,) = search.jobs(site, members, 0)  # a small site: one bundle, the same pages
    assert sorted(single.pages) == sorted(indexed)
    assert len(set(indexed)) == len(indexed)
    for job in jobs[1:]:
        assert job.pages and all(p.parent.parent.name == "registres" for p in job.pages)
    # Pagefind's globs matched exactly those pages: each bundle counts its own.
    for job in jobs:
        entry = json.loads((site / job.output / "pagefind-entry.json").read_text(encoding="utf-8"))
        counted = sum(language["page_count"] for language in entry["languages"].values())
        searchable = [p for p in job.pages if "data-pagefind-body" in p.read_text(encoding="utf-8")]
        assert counted == len(searchable) > 0, job.output


def test_unchanged_shards_come_from_the_cache(sharded: tuple[Path, str, str]) -> None:
    _, cold, warm = sharded
    assert "recherche : 4 index construit(s) par Pagefind, 0 repris du cache, en " in cold
    assert "recherche : 0 index construit(s) par Pagefind, 4 repris du cache, en " in warm


def test_a_changed_member_reindexes_its_shard_only(sharded: tuple[Path, str, str], tmp_path: Path) -> None:
    """The member shards are indexed while MkDocs writes the pages (search.MemberShards):
    after one activity changed, only that member's shard runs Pagefind again."""
    root, _, _ = sharded
    copy = tmp_path / "territoire"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("site", ".site-*"))
    member = sorted((copy / "registers" / "members").iterdir())[0]
    activity = next(p for p in sorted(member.glob("*.yml")) if p.name != "member.yml")
    text = activity.read_text(encoding="utf-8")
    changed, count = re.subn(r"(?m)^(  principale: .*)$", r"\1 (farfadet)", text, count=1)
    assert count == 1
    activity.write_text(changed, encoding="utf-8")
    log = _build(copy)
    # The two other member shards come from the cache; the primary indexes pages that list
    # every activity (it runs again), the changed member's shard too.
    assert "recherche : 2 index construit(s) par Pagefind, 2 repris du cache, en " in log
    changed_shard = search.shard_of(member.name, 3)
    for n in range(3):
        entry = Path(search.SHARD.format(n)) / "pagefind-entry.json"
        same = (copy / "site" / entry).read_bytes() == (root / "site" / entry).read_bytes()
        assert same == (n != changed_shard), n


def test_a_failing_shard_run_is_reported_and_leaves_nothing(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    documents = {
        f"registres/m{n}/index.html": "<html><body><main data-pagefind-body>x</main></body></html>"
        for n in range(4)
    }
    started = search.MemberShards(site, [f"m{n}" for n in range(4)], 2, ["--pas-une-option"], None, documents)
    staging = Path(started._staging.name)
    assert staging.is_dir()
    with pytest.raises(RuntimeError, match="pas-une-option"):
        started.finish()
    assert not started.runs and not staging.exists()
    assert not (site / search.SHARD.format(0) / "pagefind-entry.json").exists()


@contextlib.contextmanager
def _search_page(sharded: tuple[Path, str, str]) -> Iterator[tuple[Page, str, list[str]]]:
    """A Chromium page on the sharded site (served on 127.0.0.1), its base address, its members."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI ({CHROMIUM})")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    site = sharded[0] / "site"
    members = sorted(
        p.name for p in (site / "registres").iterdir() if p.is_dir() and p.name not in RESERVED_MEMBER_IDS
    )
    with serve(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser.new_page(), base, members
        finally:
            browser.close()


def _member_filter_values(page: Page) -> Locator:
    """The values listed under the search page's « Membre » filter."""
    name = page.locator(".pagefind-ui__filter-name", has_text=re.compile(r"^\s*Membre\s*$"))
    return page.locator(".pagefind-ui__filter-block", has=name).locator(".pagefind-ui__filter-value")


def test_the_merged_search_finds_and_lands_on_pages_of_every_shard(sharded: tuple[Path, str, str]) -> None:
    from playwright.sync_api import expect

    with _search_page(sharded) as (page, base, members):
        shard_of = {m: search.shard_of(m, 3) for m in members}
        page.goto(base + "recherche/?q=Exemple", wait_until="networkidle")
        page.locator(".pagefind-ui__result").first.wait_for(timeout=20_000)
        # Every member appears in the member filter, whichever shard indexed it.
        expect(_member_filter_values(page)).to_have_count(len(members), timeout=20_000)
        # Results come from every shard, with addresses of the site's real pages.
        while page.locator(".pagefind-ui__button", has_text="Plus").count():
            page.locator(".pagefind-ui__button", has_text="Plus").first.click()
        hrefs = page.locator(".pagefind-ui__result-link").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        found = {h.split("/")[2] for h in hrefs if h.startswith("/registres/") and h.count("/") >= 3}
        assert {shard_of[m] for m in found if m in shard_of} == {0, 1, 2}
        assert all(not h.startswith("/..") for h in hrefs)
        target = next(h for h in hrefs if h.startswith("/registres/") and shard_of.get(h.split("/")[2]) == 2)
        page.locator(f'.pagefind-ui__result-link[href="{target}"]').first.click()
        page.wait_for_url(f"**{target}", timeout=10_000)
        assert page.locator("h1").first.is_visible()


def test_members_of_a_shard_whose_filters_arrive_late_are_listed(sharded: tuple[Path, str, str]) -> None:
    """On a slow connection, Pagefind's interface would keep the « Membre » values of a first
    search made before a shard's filters arrived, leaving that shard's members out until the
    next search: the search page makes the search again once every filter is loaded."""
    from playwright.sync_api import expect

    late = search.SHARD.format(1)
    delayed: list[str] = []

    def slowly(route: Route) -> None:
        delayed.append(route.request.url)
        time.sleep(1.0)  # after the first search's results
        route.continue_()

    with _search_page(sharded) as (page, base, members):
        page.route(re.compile(rf".*/{re.escape(late)}/filter/.*"), slowly)
        page.goto(base + "recherche/?q=Exemple")
        page.locator(".pagefind-ui__result").first.wait_for(timeout=20_000)
        expect(_member_filter_values(page)).to_have_count(len(members), timeout=20_000)
        assert delayed  # the shard's filters did arrive late
        assert page.locator(".pagefind-ui__search-input").input_value() == "Exemple"


def test_only_the_shards_indexed_again_are_staged(tmp_path: Path) -> None:
    """Shards are keyed by their search documents' bytes: a shard taken from the cache has
    none of its documents written to the staging folder Pagefind reads."""
    ids = ["mairie-a", "mairie-b", "mairie-d", "ecole-a"]  # two in each of two shards
    documents = {
        f"registres/{member_id}/index.html": (
            f'<!DOCTYPE html><html lang="fr"><head><title>{member_id}</title></head><body>'
            f"<main data-pagefind-body><h1>Membre {member_id}</h1><p>vidéoprotection</p></main></body></html>"
        )
        for member_id in ids
    }
    cache = tmp_path / "cache"

    def staged(started: search.MemberShards) -> list[str]:
        folder = Path(started._staging.name)
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.html"))

    first_site = tmp_path / "site1"
    first_site.mkdir()
    first = search.MemberShards(first_site, ids, 2, [], cache, documents)
    assert staged(first) == sorted(documents)
    assert sorted(search.shard_of(member_id, 2) for member_id in ids) == [0, 0, 1, 1]
    assert first.finish() == (2, 0)

    documents["registres/mairie-a/index.html"] = documents["registres/mairie-a/index.html"].replace(
        "Membre", "Commune"
    )
    second_site = tmp_path / "site2"
    second_site.mkdir()
    second = search.MemberShards(second_site, ids, 2, [], cache, documents)
    changed = search.shard_of("mairie-a", 2)
    assert staged(second) == sorted(
        f"registres/{member_id}/index.html" for member_id in ids if search.shard_of(member_id, 2) == changed
    )
    assert second.finish() == (1, 1)
    for n in range(2):
        entry = second_site / search.SHARD.format(n) / "pagefind-entry.json"
        assert entry.is_file(), n
