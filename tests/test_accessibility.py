"""Accessibility of the built demo site (RGAA, WCAG 2.1 AA), as a citizen's browser shows it.

axe-core (shipped inside the ``axe-playwright-python`` wheel) runs in headless Chromium on
every kind of page, in the light scheme, in the dark scheme (switched with the palette
toggle, as a visitor does), on a 375 px wide phone screen, and on that screen in the dark
scheme; every page of the site is also opened on the phone to check that none is wider
than the screen, and that whatever scrolls sideways in it (a wide table, a long line of
code) takes the keyboard focus or holds something that does, so that the arrow keys can
scroll it (WCAG 2.1.1). The browser only talks to 127.0.0.1: any other request is refused.

The site checked is the demo's, built once for the session, unless two environment
variables name one already built: ``DOTE_SITE_A_VERIFIER`` (the site's folder) and
``DOTE_TERRITOIRE`` (the territory it was built from). A large synthetic territory, say::

    dote demo --members 1000 --activities 30 /tmp/grand && dote build /tmp/grand
    DOTE_SITE_A_VERIFIER=/tmp/grand/site DOTE_TERRITOIRE=/tmp/grand \\
        pytest tests/test_accessibility.py tests/test_site_links.py

Kinds of page such a territory lacks are reported as skipped (``dote demo`` writes no
model of treatment, and no hand-written page with a table; its hand-written page is the
legal notice, as it has no page about the Maison); the demo must have every kind. Checks
that count on the demo's own content are skipped for another site.

Without Chromium the browser tests fail when the environment variable CI is set (CI
installs it) and are skipped otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from conftest import SiteToCheck
from dote import notices, pipeline
from dote.model import Territory
from dote.tables import REGION_CLASS
from hostile import CHROMIUM, CHROMIUM_ARGS, needs, serve

PHONE = 375
#: WCAG 2.0 and 2.1, levels A and AA: what the RGAA refers to.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MODES = ("clair", "sombre", "mobile", "sombre-mobile")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _dark(mode: str) -> bool:
    return mode.startswith("sombre")


def _phone(mode: str) -> bool:
    return mode.endswith("mobile")


# --- the site and its kinds of pages --------------------------------------------------------


def _existing(site: Path, name: str) -> str | None:
    """The address of docs page or generated folder ``name`` in ``site`` (built either way)."""
    if name == "":
        return ""
    if (site / name / "index.html").is_file():
        return f"{name}/"
    if (site / f"{name}.html").is_file():
        return f"{name}.html"
    return None


def _address(site: Path, name: str) -> str:
    """The address of page ``name``, which the site must have."""
    address = _existing(site, name)
    assert address is not None, f"no page {name} in the built site"
    return address


def _file(site: Path, address: str) -> Path:
    return site / (address + "index.html" if address == "" or address.endswith("/") else address)


#: Top folders of generated pages (and of the search index): no hand-written page there.
_GENERATED = (
    "registres",
    "label",
    "modeles-de-traitements",
    "sous-traitants",
    "tableau-de-bord",
    "veille",
    "pagefind",
)


def _written_table_page(site: Path) -> str | None:
    """The address of a hand-written page with a table: the demo's, wider than a phone, or any."""
    if (found := _existing(site, "guide/confidentiel")) is not None:
        return found
    for path in sorted(site.rglob("*.html")):
        name = path.relative_to(site).as_posix()
        if name.split("/")[0] in _GENERATED:
            continue
        if f'class="{REGION_CLASS}"' in path.read_text(encoding="utf-8"):
            return name.removesuffix("index.html")
    return None


def page_kinds(site: Path, territory: Territory) -> dict[str, str]:
    """One page of each kind the site has, by a short name: its address in the site.

    A kind is missing when the site has no such page: a ``dote demo`` territory has no model
    of treatment and no page about the Maison (its hand-written page is then the legal notice).
    """
    public = next((m.id for m in territory.members if m.sector == "public"), None)
    company = next((m.id for m in territory.members if m.sector == "prive"), None)
    model = next(iter(territory.models), None)
    processor = next(iter(territory.processors), None)
    informed = next((m.id for m in territory.members if notices.generated(m)), None)
    candidates: dict[str, tuple[str, ...]] = {
        "accueil": ("",),
        "page-ecrite": ("maison", "mentions-legales"),
        "registres": ("registres",),
        "membre-public": (f"registres/{public}",) if public else (),
        "membre-entreprise": (f"registres/{company}",) if company else (),
        "modele": (f"modeles-de-traitements/{model}",) if model else (),
        "modeles": ("modeles-de-traitements",),
        "sous-traitant": (f"sous-traitants/{processor}",) if processor else (),
        "sous-traitants": ("sous-traitants",),
        "label": ("label",),
        "glossaire": ("glossaire",),
        "tableau-de-bord": ("tableau-de-bord",),
        "revues": ("tableau-de-bord/revues",),
        # the reviews' second page and its pager (the demo's are cut in pages of a few members)
        "revues-suite": ("tableau-de-bord/revues/2",),
        "explorer": ("registres/explorer",),
        "algorithmes": ("registres/algorithmes",),  # issue 16: the public algorithms
        "veille": ("veille",),
        # issue 12: a member's notices (a page of its own, without the theme), a model
        # document, a training module, the training calendar
        "mentions": (f"registres/{informed}/mentions",) if informed else (),
        "document": ("documents/mention-information",),
        "formation": ("formation/elus-agents",),
        "calendrier": ("formation/calendrier",),
    }
    found: dict[str, str] = {}
    for kind, names in candidates.items():
        address = next((a for name in names if (a := _existing(site, name)) is not None), None)
        if address is not None:
            found[kind] = address
    written_table = _written_table_page(site)
    if written_table is not None:
        found["tableau-ecrit"] = written_table
    found["404"] = "404.html"
    recherche = _existing(site, "recherche")
    if recherche is not None:
        found["recherche"] = f"{recherche}?q={_search_word(territory)}"  # with results shown
    return found


def _search_word(territory: Territory) -> str:
    """A word the search finds: the demo's « cantine », or else a word of a purpose."""
    if any("cantine" in a.purpose.lower() for a in territory.activities):
        return "cantine"
    return max(re.findall(r"\w{6,}", territory.activities[0].purpose), key=len).lower()


KINDS = (
    "accueil",
    "page-ecrite",
    "tableau-ecrit",
    "registres",
    "membre-public",
    "membre-entreprise",
    "modele",
    "modeles",
    "sous-traitant",
    "sous-traitants",
    "label",
    "glossaire",
    "tableau-de-bord",
    "revues",
    "revues-suite",
    "explorer",
    "algorithmes",
    "veille",
    "mentions",
    "document",
    "formation",
    "calendrier",
    "404",
    "recherche",
)

#: Run on each page on the phone: the elements that scroll sideways (their content is wider
#: than they are) and what the keyboard can do there. ``reachable`` is false when neither the
#: element nor anything inside it takes the focus; ``region`` is set on the named regions
#: around tables (the generated pages' ``dote-table``, the hand-written pages' own).
_SCROLLERS = """(regionClass) => {
  const focusable = 'a[href], area[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]),'
    + ' select:not([disabled]), textarea:not([disabled]), summary, iframe, [contenteditable=""],'
    + ' [contenteditable="true"], [tabindex]';
  const takesFocus = (el) => el.matches(focusable) && !(el.getAttribute('tabindex') || '').startsWith('-')
    && el.getClientRects().length > 0;
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (!['auto', 'scroll'].includes(style.overflowX) || el.scrollWidth <= el.clientWidth + 1) continue;
    if (style.visibility === 'hidden' || el.getClientRects().length === 0) continue;
    const reachable = takesFocus(el) || [...el.querySelectorAll(focusable)].some(takesFocus);
    const kind = el.classList.contains(regionClass) ? regionClass
      : el.classList.contains('dote-table') ? 'dote-table' : '';
    found.push({
      what: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + [...el.classList].map((c) => '.' + c).join(''),
      reachable,
      region: kind,
      index: kind ? [...document.getElementsByClassName(kind)].indexOf(el) : -1,
      materialInside: !!el.querySelector(':scope > .md-typeset__scrollwrap > .md-typeset__table > table'),
    });
  }
  return found;
}"""


# --- one browser session for the whole module ----------------------------------------------


@dataclass
class Visit:
    """What the browser saw on one page in one mode."""

    violations: list[dict[str, Any]]
    scheme: str
    width: int


@dataclass
class ArrowKeys:
    """A table region that scrolls sideways on the phone, focused, then sent ArrowRight."""

    page: str
    focused: bool  # it took the focus, and kept it
    material_inside: bool  # Material's script had put its own scrolling box inside it
    scrolled: int  # scrollLeft after the key


@dataclass
class BrowserRun:
    kinds: dict[str, str] = field(default_factory=dict)  # kind → address
    visits: dict[tuple[str, str], Visit] = field(default_factory=dict)  # (mode, kind) → visit
    widths: dict[str, int] = field(default_factory=dict)  # every page, on the phone
    scrollers: int = 0  # elements that scroll sideways, on the phone, over all pages
    unreachable: dict[str, list[str]] = field(default_factory=dict)  # page → scrollers without focus
    arrows: dict[str, ArrowKeys] = field(default_factory=dict)  # region class → first one tried
    home_link: str = ""  # where the 404 page's first link leads, resolved
    base: str = ""
    blocked: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def browser_run(site_to_check: SiteToCheck, checked_registers: pipeline.Result) -> BrowserRun:
    if not CHROMIUM.exists():
        needs(f"Chromium absent ({CHROMIUM})")
    try:
        from axe_playwright_python.base import AXE_SCRIPT
    except ImportError:
        needs("axe-playwright-python n'est pas installé (pip install -e '.[test]')")
    assert checked_registers.territory is not None
    kinds = page_kinds(site_to_check.site, checked_registers.territory)
    return asyncio.run(_browse(site_to_check.site, kinds, AXE_SCRIPT))


async def _browse(site: Path, kinds: dict[str, str], axe_script: str) -> BrowserRun:
    from playwright.async_api import BrowserContext, Page, Route, async_playwright
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    run = BrowserRun(kinds=kinds)
    everything = sorted(
        (p.relative_to(site).as_posix() for p in site.rglob("*.html")),
        key=lambda name: (name.count("/"), name),
    )
    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}

    async def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname != "127.0.0.1":
            run.blocked.add(route.request.url)
            await route.abort()
        else:
            await route.continue_()

    async def context(width: int) -> BrowserContext:
        made = await browser.new_context(viewport={"width": width, "height": 900}, service_workers="block")
        await made.route("**/*", only_local)
        # A large territory's pages load slowly (the label page shows a badge image for each
        # member: with 1,000 members it takes about a minute to load in headless Chromium,
        # several when six tabs load it at once): this test is not about speed.
        made.set_default_navigation_timeout(900_000)
        return made

    async def axe(page: Page) -> list[dict[str, Any]]:
        await page.evaluate(axe_script)
        result = await page.evaluate("(options) => axe.run(document, options)", options)
        violations: list[dict[str, Any]] = result["violations"]
        return violations

    async def visit_kinds(mode: str) -> None:
        made = await context(PHONE if _phone(mode) else 1280)
        page = await made.new_page()
        if _dark(mode):
            await page.goto(run.base, wait_until="load")
            await page.locator('label[for="__palette_1"]').click()  # « Passer au thème sombre »
            await page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'")
        for kind in KINDS:
            if kind not in kinds:
                continue
            await page.goto(run.base + kinds[kind], wait_until="load")
            if kind == "recherche":
                await page.locator(".pagefind-ui__result").first.wait_for(timeout=20_000)
            scheme = await page.evaluate("document.body.dataset.mdColorScheme")
            width = await page.evaluate("document.documentElement.scrollWidth")
            run.visits[(mode, kind)] = Visit(await axe(page), scheme, width)
            if kind == "404" and mode == "clair":
                href = await page.locator("article a").first.get_attribute("href")
                run.home_link = urljoin(run.base + kinds[kind], href or "")
        await made.close()

    async def try_arrow_keys(page: Page, name: str, scroller: dict[str, Any]) -> None:
        """Focus the region, press the right arrow: its content must move."""
        region = page.locator(f".{scroller['region']}").nth(scroller["index"])
        await region.focus()
        focused = await region.evaluate("(el) => document.activeElement === el")
        await page.keyboard.press("ArrowRight")
        scrolled = 0
        if focused:
            with contextlib.suppress(PlaywrightTimeout):  # Chromium scrolls smoothly: let it start
                handle = await region.element_handle()
                await page.wait_for_function("(el) => el.scrollLeft > 0", arg=handle, timeout=3_000)
            scrolled = await region.evaluate("(el) => el.scrollLeft")
        focused = focused and await region.evaluate("(el) => document.activeElement === el")
        run.arrows[scroller["region"]] = ArrowKeys(name, focused, scroller["materialInside"], scrolled)

    async def measure_widths(share: list[str]) -> None:
        made = await context(PHONE)
        page = await made.new_page()
        while share:
            name = share.pop(0)
            await page.goto(run.base + name, wait_until="load")
            run.widths[name] = await page.evaluate("document.documentElement.scrollWidth")
            scrollers: list[dict[str, Any]] = await page.evaluate(_SCROLLERS, REGION_CLASS)
            run.scrollers += len(scrollers)
            unreachable = [s["what"] for s in scrollers if not s["reachable"]]
            if unreachable:
                run.unreachable[name] = unreachable
            for scroller in scrollers:
                if scroller["region"] and scroller["region"] not in run.arrows:
                    run.arrows[scroller["region"]] = ArrowKeys(name, False, False, 0)  # tried once only
                    await try_arrow_keys(page, name, scroller)
        await made.close()

    with serve(site) as base:
        run.base = base
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
            )
            try:
                queue = [name for name in everything if not name.startswith("pagefind/")]
                await asyncio.gather(
                    *(visit_kinds(mode) for mode in MODES), *(measure_widths(queue) for _ in range(2))
                )
            finally:
                await browser.close()
    return run


def _report(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}) : {v['help']} — {len(v['nodes'])} élément(s)")
        for node in v["nodes"][:5]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {', '.join(map(str, node['target']))} : {summary[:300]}")
    return "\n".join(lines)


# --- axe: no violation, in each mode, on each kind of page ------------------------------------


#: Pages outside the theme (no palette switch): a member's printable notices.
THEMELESS = ("mentions",)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", MODES)
def test_no_wcag_violation(browser_run: BrowserRun, site_to_check: SiteToCheck, mode: str, kind: str) -> None:
    if kind not in browser_run.kinds:
        assert not site_to_check.demo, f"the demo has no page of kind {kind}"
        pytest.skip(f"ce site n'a pas de page de type « {kind} »")
    visit = browser_run.visits[(mode, kind)]
    if kind in THEMELESS:  # a page without the theme, which follows the system's colour scheme
        assert visit.scheme is None
    else:
        assert visit.scheme == ("slate" if _dark(mode) else "default"), "wrong colour scheme"
    assert visit.violations == [], "\n" + _report(visit.violations)


def test_no_page_is_wider_than_a_phone(browser_run: BrowserRun, site_to_check: SiteToCheck) -> None:
    site = site_to_check.site
    pages = [p for p in site.rglob("*.html") if p.relative_to(site).parts[0] != "pagefind"]
    assert len(browser_run.widths) == len(pages)
    wide = {name: width for name, width in browser_run.widths.items() if width > PHONE}
    assert wide == {}, f"pages plus larges que l'écran de {PHONE} px : {wide}"
    assert all(v.width <= PHONE for (mode, _), v in browser_run.visits.items() if _phone(mode))


def test_whatever_scrolls_sideways_on_a_phone_is_reachable_by_keyboard(
    browser_run: BrowserRun, site_to_check: SiteToCheck
) -> None:
    assert browser_run.unreachable == {}, "\n".join(
        f"{page} : {', '.join(what)}" for page, what in sorted(browser_run.unreachable.items())
    )
    if site_to_check.demo:  # wide tables and long lines of code: the test is not empty
        assert browser_run.scrollers > 50


def test_a_focused_table_region_scrolls_with_the_arrow_keys(
    browser_run: BrowserRun, site_to_check: SiteToCheck
) -> None:
    """A generated page's table and a hand-written page's, each wider than the phone."""
    for region in ("dote-table", REGION_CLASS):
        if region not in browser_run.arrows:
            assert not site_to_check.demo, f"the demo has a {region} region wider than a phone"
            continue
        tried = browser_run.arrows[region]
        assert tried.focused and tried.scrolled > 0, tried
        if region == REGION_CLASS:  # Material's script ran, and its inner box did not take over
            assert tried.material_inside, tried
    if REGION_CLASS not in browser_run.arrows and not site_to_check.demo:
        pytest.skip("aucune page écrite de ce site n'a de tableau plus large qu'un téléphone")


def test_the_browser_only_talked_to_the_test_server(browser_run: BrowserRun) -> None:
    # Material's offline plugin, when a territory uses it, loads a script from a CDN: refused
    # here, and handled apart. Nothing else may leave the machine.
    others = {url for url in browser_run.blocked if "iframe-worker" not in url}
    assert others == set()


def test_404_is_french_and_leads_home(browser_run: BrowserRun, site_to_check: SiteToCheck) -> None:
    page = (site_to_check.site / "404.html").read_text(encoding="utf-8")
    assert '<html lang="fr"' in page
    assert "<title>Page introuvable" in page
    assert "Page introuvable" in _text(page) and "404 - Not found" not in page
    assert browser_run.home_link in (browser_run.base, browser_run.base + "index.html")


# --- the built pages, read as text --------------------------------------------------------------


def _text(page: str) -> str:
    page = re.sub(r"<(script|style|code|pre)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _generated_pages(site: Path) -> Iterator[Path]:
    for folder in ("registres", "label", "modeles-de-traitements", "sous-traitants"):
        yield from sorted((site / folder).rglob("*.html"))


def test_label_reasons_have_no_iso_date(
    site_to_check: SiteToCheck, checked_registers: pipeline.Result
) -> None:
    label = checked_registers.label
    if label is None:
        assert not site_to_check.demo, "the demo has a label policy"
        pytest.skip("ce territoire n'a pas de politique de label")
    details = [
        detail
        for member in label.members.values()
        for failure in member.failures
        for detail in failure.details
    ]
    dated = [d for d in details if "revue le" in d or "formation le" in d]
    assert dated or not site_to_check.demo, "the demo has reasons that carry a date"
    assert [d for d in details if ISO_DATE.search(d)] == []
    assert not dated or any(re.search(r"le \d{1,2}(er)? [a-zéû]+ \d{4}", d) for d in dated)


def test_generated_pages_show_no_iso_date(site_to_check: SiteToCheck) -> None:
    site = site_to_check.site
    for path in _generated_pages(site):
        found = ISO_DATE.findall(_text(path.read_text(encoding="utf-8")))
        assert found == [], f"{path.relative_to(site)} : {found}"


class _Regions(HTMLParser):
    """The table wrappers of a page (the generated pages' and the hand-written pages'), its ids."""

    def __init__(self) -> None:
        super().__init__()
        self.wrappers: list[dict[str, str | None]] = []
        self.ids: set[str] = set()
        self.tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "table":
            self.tables += 1
        if tag == "div" and {"dote-table", REGION_CLASS} & set((attributes.get("class") or "").split()):
            self.wrappers.append(attributes)


def test_tables_scroll_in_named_keyboard_regions(site_to_check: SiteToCheck) -> None:
    """Every table of every page, generated or hand-written, is in a named keyboard region."""
    site = site_to_check.site
    counted = {"dote-table": 0, REGION_CLASS: 0}
    for path in sorted(site.rglob("*.html")):
        parser = _Regions()
        parser.feed(path.read_text(encoding="utf-8"))
        assert len(parser.wrappers) == parser.tables, path
        for wrapper in parser.wrappers:
            assert wrapper.get("role") == "region" and wrapper.get("tabindex") == "0", (path, wrapper)
            named = wrapper.get("aria-labelledby") in parser.ids or (wrapper.get("aria-label") or "").strip()
            assert named, (path, wrapper)
            counted[REGION_CLASS if REGION_CLASS in (wrapper.get("class") or "") else "dote-table"] += 1
    assert counted["dote-table"] > 20
    if site_to_check.demo:  # the guide's and the home page's tables, written in Markdown
        assert counted[REGION_CLASS] > 10


def _sections(page: str) -> list[str]:
    return re.findall(r'<section class="dote-activite".*?</section>', page, re.S)


def test_dpia_is_one_reconciled_statement(
    site_to_check: SiteToCheck, checked_registers: pipeline.Result
) -> None:
    site = site_to_check.site
    territory = checked_registers.territory
    assert territory is not None
    declared_and_screened = 0
    for member in territory.members:
        page = _file(site, _address(site, f"registres/{member.id}")).read_text(encoding="utf-8")
        for section in _sections(page):
            terms = [t for t in re.findall(r"<dt>(.*?)</dt>", section, re.S) if "AIPD" in t or "impact" in t]
            assert len(terms) == 1, terms
            statement = _text(section.split("Analyse d'impact", 1)[1].split("</dd>", 1)[0])
            assert "d'après le dépistage de la Maison" in statement
            if "et l'état déclaré par le membre" in statement:
                declared_and_screened += 1
                # One sentence: the verdict and the declared state (« AIPD requise — réalisée le … »).
                assert re.search(r"AIPD (requise|à évaluer|non requise|dispensée)", statement), statement
            assert "Non requise" not in statement  # the declared status is a sentence, not a label
    assert declared_and_screened > 10 or not site_to_check.demo


def test_member_pages_answer_the_citizen_first(
    site_to_check: SiteToCheck, checked_registers: pipeline.Result
) -> None:
    site = site_to_check.site
    territory = checked_registers.territory
    assert territory is not None
    for member in territory.members:
        page = _file(site, _address(site, f"registres/{member.id}")).read_text(encoding="utf-8")
        order = [
            page.index(f'id="{anchor}"') for anchor in ("sommaire-titre", "activites", "exercer-vos-droits")
        ]
        assert order == sorted(order), member.id
        contents = page.split('id="sommaire-titre"', 1)[1].split("</nav>", 1)[0]
        for activity in member.activities:
            assert f'href="#{activity.id}"' in contents or len(member.activities) == 1
        if 'id="label"' in page:
            assert page.index('id="exercer-vos-droits"') < page.index('id="label"')
            assert page.index('id="label"') < page.index("Afficher ce label sur votre site")
            for activity in member.activities:
                assert page.index(f'id="{activity.id}"') < page.index('id="label"')


def test_every_term_links_to_a_definition_that_cites_its_text(site_to_check: SiteToCheck) -> None:
    site = site_to_check.site
    if _existing(site, "glossaire") is None and not site_to_check.demo:
        pytest.skip("ce site n'a pas de glossaire (docs/glossaire.md)")
    glossary_file = _file(site, _address(site, "glossaire"))
    glossary = glossary_file.read_text(encoding="utf-8")
    anchors = set(re.findall(r'<h2 id="([^"]+)"', glossary))
    linked: set[str] = set()
    for path in _generated_pages(site):
        linked |= set(
            re.findall(
                r'class="dote-terme" href="[^"#]*glossaire[^"#]*#([^"]+)"', path.read_text(encoding="utf-8")
            )
        )
    demo_terms = {
        "aipd",
        "cepd",
        "base-legale",
        "sous-traitant",
        "dpo",
        "responsable-de-traitement",
        "transfert-hors-ue",
    }
    assert demo_terms <= linked or not site_to_check.demo
    assert linked <= anchors, f"termes sans définition : {sorted(linked - anchors)}"
    body = glossary.split('<h2 id="', 1)[1]
    for section in re.split(r'<h2 id="', body):
        anchor = section.split('"', 1)[0]
        assert re.search(r"Textes? : [^<]*(RGPD|loi|code|délibération)", section), anchor
