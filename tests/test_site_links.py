"""The citizen's paths through the demo: every internal link resolves, search lands on activities.

The site checked is the demo's, built for the session, or one already built, named by the
environment variables ``DOTE_SITE_A_VERIFIER`` (the site's folder) and ``DOTE_TERRITOIRE``
(the territory it was built from), for instance a large ``dote demo`` territory::

    dote demo --members 1000 --activities 30 /tmp/grand && dote build /tmp/grand
    DOTE_SITE_A_VERIFIER=/tmp/grand/site DOTE_TERRITOIRE=/tmp/grand pytest tests/test_site_links.py
"""

from __future__ import annotations

import os
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, SiteToCheck
from dote import pipeline
from dote.cli import main
from hostile import CHROMIUM, CHROMIUM_ARGS, serve
from links import check_links


def test_every_internal_link_and_anchor_resolves(site_to_check: SiteToCheck) -> None:
    report = check_links(site_to_check.site)
    assert report.checked > (1000 if site_to_check.demo else report.pages)
    assert report.broken == [], f"{len(report.broken)} lien(s) cassé(s) :\n" + "\n".join(report.broken[:40])


#: Tags of the site's own markup: shown as text, one of them means markup was escaped twice (a
#: ``str + Markup`` join escapes the str: the slip behind 4,200 DPIA statements shown as tags).
_OWN_TAG = re.compile(
    r"</?(?:a|abbr|strong|em|span|div|p|ul|ol|li|table|thead|tbody|tr|td|th|br|img|code|details"
    r"|summary|h[1-6]|small|time|mark|svg|section|nav|dl|dt|dd|figure|figcaption|caption|button"
    r"|input|label)\b[^<>]*>"
)
#: A character reference left in decoded text: escaped twice.
_REFERENCE = re.compile(r"&(?:[a-z][a-z0-9]*|#[0-9]+|#x[0-9a-f]+);", re.IGNORECASE)
#: Elements whose text is meant to show markup (code samples, the badge's code) or is not read.
_NOT_READ = frozenset({"code", "pre", "textarea", "script", "style", "template", "kbd", "samp"})


class _ReadText(HTMLParser):
    """What a person reads of a page: its text (outside code, scripts and styles) and the
    ``alt``, ``title`` and ``aria-label`` attributes, decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.texts.extend(v for k, v in attrs if k in ("alt", "title", "aria-label") and v)
        if tag in _NOT_READ:
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _NOT_READ and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.texts.append(data)


def shown_markup(html: str) -> list[str]:
    """The pieces of markup, or character references, that a page shows as text."""
    parser = _ReadText()
    parser.feed(html)
    parser.close()
    return [
        m[0] for text in parser.texts for pattern in (_OWN_TAG, _REFERENCE) for m in pattern.finditer(text)
    ]


def test_shown_markup_finds_markup_escaped_twice() -> None:
    page = (
        "<p>AIPD &lt;strong class=&quot;dote-badge&quot;&gt;requise&lt;/strong&gt; l&amp;#39;AIPD</p>"
        '<p title="a &amp;amp; b">R &amp; D, 3 &lt; 4, <code>&lt;a href="x"&gt;</code></p>'
        "<pre>&lt;p&gt;</pre><script>a = '<p>'</script>"
    )
    assert shown_markup(page) == ['<strong class="dote-badge">', "</strong>", "&#39;", "&amp;"]
    assert shown_markup("<p>R &amp; D, 3 &lt; 4 &gt; 2, « &lt;z&gt; »</p><code>&lt;b&gt;</code>") == []


def test_no_page_shows_markup_as_text(site_to_check: SiteToCheck) -> None:
    """Every page of the site, the registers' pages first: no tag of the site's own markup and
    no character reference is shown as text (either means a value was escaped twice)."""
    shown = Counter[str]()
    pages = sorted(site_to_check.site.rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        for piece in shown_markup(page.read_text(encoding="utf-8")):
            shown[f"{page.relative_to(site_to_check.site)} : {piece}"] += 1
    assert not shown, f"{len(shown)} balise(s) affichée(s) en texte :\n" + "\n".join(
        f"{k} (×{n})" for k, n in shown.most_common(40)
    )


def test_a_new_territory_without_training_modules_has_no_broken_link(tmp_path: Path) -> None:
    """A ``dote demo`` territory publishes no page of docs/formation/: its training calendar
    neither names modules nor links to their page."""
    root = tmp_path / "synthetique"
    assert main(["demo", str(root), "--members", "3", "--activities", "4", "--seed", "5"]) == 0
    assert not (root / "docs" / "formation").exists()
    assert main(["build", str(root), "--site-dir", str(tmp_path / "site")]) == 0
    report = check_links(tmp_path / "site")
    assert report.checked > report.pages
    assert report.broken == [], "\n".join(report.broken[:40])
    # A module, then its index page: the calendar (kept in the cache between the builds) links
    # to that page once it exists, not before.
    modules = root / "docs" / "formation"
    modules.mkdir()
    module = (ROOT / "docs" / "formation" / "elus-agents.md").read_text(encoding="utf-8")
    (modules / "elus-agents.md").write_text(module.split("\n# ", 1)[0] + "\n# Module\n", encoding="utf-8")
    calendar = tmp_path / "site" / "formation" / "calendrier" / "index.html"
    for index in (False, True):
        if index:
            (modules / "index.md").write_text("# Se former\n", encoding="utf-8")
        assert main(["build", str(root), "--site-dir", str(tmp_path / "site")]) == 0
        assert ('<a href="../">page de présentation' in calendar.read_text(encoding="utf-8")) is index
        assert check_links(tmp_path / "site").broken == []


def _chromium() -> None:
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} introuvable : .ci/run installe le paquet Debian chromium")
        pytest.skip("chromium absent")


def test_search_finds_an_activity_by_a_word_of_its_purpose_and_lands_on_it(
    site_to_check: SiteToCheck, checked_registers: pipeline.Result
) -> None:
    """Typed key by key in the search page, a word of a purpose leads to the activity itself."""
    _chromium()
    from playwright.sync_api import sync_playwright

    territory = checked_registers.territory
    assert territory is not None
    # A word that only one activity's purpose uses: the search must find that very activity.
    words = Counter(w for a in territory.activities for w in set(re.findall(r"\w{8,}", a.purpose.lower())))
    unique = [
        (a, w)
        for a in territory.activities
        for w in sorted(set(re.findall(r"\w{8,}", a.purpose.lower())))
        if words[w] == 1
    ]
    if not unique and not site_to_check.demo:
        pytest.skip("aucun mot de finalité n'appartient à une seule activité dans ce territoire")
    activity, word = unique[0]
    with serve(site_to_check.site) as base, sync_playwright() as playwright:
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
