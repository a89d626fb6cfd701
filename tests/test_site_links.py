"""The citizen's paths through the demo: every internal link resolves, search lands on activities."""

from __future__ import annotations

import os
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest

from dote import pipeline
from hostile import CHROMIUM, CHROMIUM_ARGS, serve


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        for name in ("href", "src"):
            value = values.get(name)
            if value and tag in ("a", "link", "script", "img"):
                self.links.append(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _target(site: Path, page: Path, link: str) -> tuple[Path, str] | None:
    """The file and anchor an internal link leads to, or ``None`` for an external link."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc:
        return None
    path = unquote(parts.path)
    # The 404 page links from the site's root (site_url's path is / in the demo).
    base = "." if path.startswith("/") else page.parent.relative_to(site).as_posix()
    path = path.lstrip("/") or ("." if parts.path else "")
    resolved = PurePosixPath(os.path.normpath(PurePosixPath(base, path).as_posix())) if path else None
    file = page if resolved is None else site / str(resolved)
    if file.is_dir() or (path.endswith("/") and not file.suffix):
        file = file / "index.html"
    return file, unquote(parts.fragment)


def test_every_internal_link_and_anchor_resolves(built_demo: Path) -> None:
    pages = {path: _parse(path) for path in built_demo.rglob("*.html")}
    broken: list[str] = []
    checked = 0
    for page, parsed in pages.items():
        for link in parsed.links:
            found = _target(built_demo, page, link)
            if found is None:
                continue
            file, anchor = found
            checked += 1
            name = page.relative_to(built_demo).as_posix()
            if not file.is_file():
                broken.append(f"{name}: {link} → fichier absent")
            elif anchor and file.suffix == ".html" and anchor not in pages[file].ids:
                broken.append(f"{name}: {link} → ancre absente")
    assert checked > 1000
    assert broken == [], "\n".join(sorted(set(broken))[:40])


def _chromium() -> None:
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} introuvable : .ci/run installe le paquet Debian chromium")
        pytest.skip("chromium absent")


def test_search_finds_an_activity_by_a_word_of_its_purpose_and_lands_on_it(
    built_demo: Path, demo_root: Path
) -> None:
    """Typed key by key in the search page, a word of a purpose leads to the activity itself."""
    _chromium()
    from playwright.sync_api import sync_playwright

    territory = pipeline.run(demo_root).territory
    assert territory is not None
    # A word that only one activity's purpose uses: the search must find that very activity.
    words = Counter(w for a in territory.activities for w in set(re.findall(r"\w{8,}", a.purpose.lower())))
    activity, word = next(
        (a, w)
        for a in territory.activities
        for w in sorted(set(re.findall(r"\w{8,}", a.purpose.lower())))
        if words[w] == 1
    )
    with serve(built_demo) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page()
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if urlsplit(route.request.url).hostname == "127.0.0.1"
                    else route.abort()
                ),
            )
            page.goto(base + "recherche/", wait_until="load")
            box = page.locator("input.pagefind-ui__search-input")
            box.press_sequentially(word, delay=40)
            anchor = f"registres/{activity.member_id}/#{activity.id}"
            link = page.locator(f'.pagefind-ui__result a[href$="{anchor}"]').first
            link.wait_for(timeout=20_000)
            link.click()
            page.wait_for_url(f"**/{anchor}", timeout=10_000)
            heading = page.locator(f"[id='{activity.id}']")
            assert heading.is_visible()
            assert activity.name in heading.inner_text()
        finally:
            browser.close()
