"""The national site in a browser: what issue 17's « Done when » asks, checked in headless Chromium.

Three ``dote demo`` territories of different sizes (6, 4 and 3 members × 4 activities), one on
the older open-data format (version 1, no processors' names) and one that does not answer (a
port of 127.0.0.1 that never listens) are built, served on 127.0.0.1 and aggregated by
``dote national`` (:mod:`national_fixtures`). Then, as a citizen's browser shows it:

- the search, typed key by key, returns activities of every reachable Maison (the three and
  the older one), and a result lands on the Maison's member page, at the activity's anchor;
- the explorer lists the activities of every reachable Maison (as many as they publish),
  filters by Maison, restores its filters from the address, and links to the Maisons' sites;
- the Maisons page reports the unreachable one (and the older format);
- axe (WCAG 2.1 A and AA) finds no violation on any kind of national page, in the light
  scheme, the dark scheme and on a 375 px screen;
- every request made while browsing the national site is recorded: none leaves its origin
  (results link to the Maisons' sites; a link is not a request);
- a hostile territory (:mod:`hostile`'s payload in every field that validates) harvested and
  aggregated: no dialog fires, the payload never runs, no live markup in any file.

Without Chromium the browser tests fail when the environment variable CI is set (CI
installs it) and are skipped otherwise.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest

from dote.cli import main
from hostile import CHROMIUM, MARKER, browser_check, chromium, live_markup, needs, plant
from national_fixtures import Federation, Maison, Spec, federation, find_explorer, serve_folder

#: The query: a word of every synthetic member's name (« Commune Exemple 3 »).
QUERY = "exemple"
#: A word of an activity's name (« État civil », every commune's first activity).
ACTIVITY_QUERY = "civil"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MODES = ("clair", "sombre", "mobile")
PHONE = 375
SPECS = (
    Spec("grande", 6, 4, 1, name="Maison DOTE des Grands Lacs", territory="Grands Lacs"),
    Spec("moyenne", 4, 4, 2, name="Maison DOTE de la Moyenne Vallée", territory="Moyenne Vallée"),
    Spec("petite", 3, 4, 3, name="Maison DOTE du Petit Causse", territory="Petit Causse"),
)
OLDER = Spec("ancienne", 3, 4, 4, name="Maison DOTE de l'Ancien Format", territory="Vieux Pays")
UNREACHABLE = "muette"


@dataclass
class National:
    """The federation, the national site built from it, and where it is served."""

    federation: Federation
    site: Path
    base: str  # the national site's address (its own origin)
    output: str  # what `dote national` printed
    published: dict[str, int] = field(default_factory=dict)  # Maison → activities it publishes
    members: set[tuple[str, str]] = field(default_factory=set)  # (Maison, member) published


def _published(maison: Maison) -> dict[str, Any]:
    with urllib.request.urlopen(maison.url + "donnees/territoire.json", timeout=10) as answer:
        data: dict[str, Any] = json.load(answer)
    return data


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Iterator[National]:
    work = tmp_path_factory.mktemp("national")
    with federation(SPECS, work, older=OLDER, unreachable=UNREACHABLE) as served:
        assert served.config is not None
        site = work / "site-national"
        capture = work / "sortie.txt"
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            code = main(["national", str(served.config), "--site-dir", str(site)])
        capture.write_text(printed.getvalue(), encoding="utf-8")
        assert code == 0, printed.getvalue()
        data = {m.id: _published(m) for m in served.reachable}
        published = {k: sum(len(member["activites"]) for member in d["membres"]) for k, d in data.items()}
        members = {(k, member["membre"]["identifiant"]) for k, d in data.items() for member in d["membres"]}
        with serve_folder(site) as base:
            yield National(served, site, base, printed.getvalue(), published, members)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@dataclass
class Requests:
    """Every request made while browsing the national site, and those refused (another origin)."""

    seen: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def requests() -> Requests:
    return Requests()


def _context(browser: Any, national: National, requests: Requests, **options: Any) -> Any:
    """A browser context for the national site: every request recorded, any other origin refused."""
    options.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(service_workers="block", **options)

    def route(route: Any) -> None:
        url = route.request.url
        requests.seen.append(url)
        if url.startswith(national.base) or url.startswith("data:") or url.startswith("blob:"):
            route.continue_()
        else:
            requests.refused.append(url)
            route.abort()

    context.route("**/*", route)
    return context


def _maison_of(national: National, url: str) -> Maison | None:
    return next((m for m in national.federation.reachable if url.startswith(m.url)), None)


def _member_page_anchor(national: National, url: str, *, anchored: bool = True) -> tuple[Maison, str, str]:
    """``url`` as (Maison, member id, anchor); fails unless it is a member page (at an anchor)."""
    maison = _maison_of(national, url)
    assert maison is not None, f"{url} : pas l'adresse d'une Maison joignable"
    page, anchor = urldefrag(url)
    found = re.fullmatch(re.escape(maison.url) + r"registres/([a-z0-9-]+)/(?:index\.html)?", page)
    assert found is not None, f"{url} : pas une page de membre"
    assert anchor or not anchored, f"{url} : pas l'ancre d'une activité"
    return maison, found.group(1), anchor


# --- search ----------------------------------------------------------------------------------------


def _search(page: Any, national: National, query: str = QUERY) -> list[str]:
    """Type ``query`` key by key on the national search page; every result link, all results loaded."""
    page.goto(national.base + "recherche/", wait_until="load")
    box = page.locator(".pagefind-ui__search-input").first
    box.click()
    box.press_sequentially(query, delay=80)
    page.locator(".pagefind-ui__result").first.wait_for(timeout=30_000)
    more = page.locator(".pagefind-ui__button")
    for _ in range(100):  # « Charger plus de résultats », until all are shown
        if not more.count() or not more.first.is_visible():
            break
        more.first.click()
        page.wait_for_timeout(200)
    page.wait_for_load_state("networkidle")
    links: list[str] = page.eval_on_selector_all(
        ".pagefind-ui__result a[href]", "(links) => links.map((a) => a.href)"
    )
    return links


def test_search_typed_key_by_key_finds_every_reachable_maison(
    browser: Any, national: National, requests: Requests
) -> None:
    context = _context(browser, national, requests)
    page = context.new_page()
    links = _search(page, national)
    context.close()
    # Every member's name holds the word: every member page of every reachable Maison is found.
    found = {
        (m.id, member) for m, member, _ in (_member_page_anchor(national, x, anchored=False) for x in links)
    }
    assert {maison for maison, _ in found} == {m.id for m in national.federation.reachable}, links
    assert found == national.members


def test_a_search_result_lands_on_the_activity_on_its_maison_s_member_page(
    browser: Any, national: National, requests: Requests
) -> None:
    context = _context(browser, national, requests)
    page = context.new_page()
    links = _search(page, national, ACTIVITY_QUERY)  # an activity's name: sub-results at its anchor
    context.close()
    target = next(link for link in links if "#" in link and (m := _maison_of(national, link)) and m.older)
    maison, member, anchor = _member_page_anchor(national, target)
    # Following the link (on the Maison's own site: another origin, so another context).
    visit = browser.new_context(service_workers="block")
    page = visit.new_page()
    answer = page.goto(target, wait_until="load")
    assert answer is not None and answer.ok
    assert page.url.startswith(maison.url + f"registres/{member}/")
    assert page.locator(f'[id="{anchor}"]').count() == 1, f"{target} : ancre absente"
    assert page.locator(f'section.dote-activite[id="{anchor}"], [id="{anchor}"]').first.is_visible()
    visit.close()


# --- explorer --------------------------------------------------------------------------------------


def _status(page: Any) -> str:
    return " ".join(
        (page.locator(".dote-explorateur__etat, [role=status]").first.text_content() or "").split()
    )


def _ready(page: Any) -> None:
    page.locator(".dote-explorateur__activite").first.wait_for(timeout=30_000)


def _number(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def _explorer_links(page: Any) -> list[str]:
    while (
        page.locator(".dote-explorateur__plus").count()
        and page.locator(".dote-explorateur__plus").is_visible()
    ):
        page.locator(".dote-explorateur__plus").click()
    links: list[str] = page.eval_on_selector_all(
        ".dote-explorateur__activite a[href]", "(links) => links.map((a) => a.href)"
    )
    return links


def _maison_facet(page: Any) -> Any:
    return page.locator(
        "fieldset.dote-facette", has=page.locator("legend", has_text=re.compile(r"^\s*Maison( DOTE)?\s*$"))
    )


def test_explorer_lists_every_reachable_maison_and_links_to_their_sites(
    browser: Any, national: National, requests: Requests
) -> None:
    explorer = find_explorer(national.site)
    assert explorer is not None, "pas d'explorateur dans le site national"
    context = _context(browser, national, requests)
    page = context.new_page()
    page.goto(national.base + explorer, wait_until="load")
    _ready(page)
    total = sum(national.published.values())
    assert re.match(r"^[\d\s\u202f\u00a0]+ activités au total", _status(page)), _status(page)
    assert _number(_status(page).split("activités")[0]) == total
    links = _explorer_links(page)
    context.close()
    assert len(links) == total
    by_maison: dict[str, int] = {}
    for link in links:
        maison, _, _ = _member_page_anchor(national, link)
        by_maison[maison.id] = by_maison.get(maison.id, 0) + 1
    assert by_maison == national.published


def test_explorer_filters_by_maison_and_restores_the_filter_from_the_address(
    browser: Any, national: National, requests: Requests
) -> None:
    explorer = find_explorer(national.site)
    assert explorer is not None
    older = next(m for m in national.federation.maisons if m.older)
    assert older.spec is not None
    context = _context(browser, national, requests)
    page = context.new_page()
    page.goto(national.base + explorer, wait_until="load")
    _ready(page)
    facet = _maison_facet(page)
    assert facet.count() == 1, "pas de facette « Maison »"
    if facet.locator("select").count():  # many Maisons: a list
        option = facet.locator("option", has_text=older.spec.published_name).first
        facet.locator("select").select_option(option.get_attribute("value"))
    else:
        facet.get_by_role("checkbox", name=re.compile("^" + re.escape(older.spec.published_name))).check()
    expected = national.published[older.id]
    status = _status(page)
    assert re.match(rf"^{expected} activités sur {sum(national.published.values())} correspondent", status), (
        status
    )
    address = page.url
    assert urlsplit(address).query, "the filter is not in the address"
    links = _explorer_links(page)
    assert len(links) == expected and all(link.startswith(older.url) for link in links)
    # The shared address restores the same filter in a new tab.
    other = context.new_page()
    other.goto(address, wait_until="load")
    _ready(other)
    assert _status(other) == status
    restored = _maison_facet(other)
    if restored.locator("select").count():
        assert older.spec.published_name in (restored.locator("select option:checked").text_content() or "")
    else:
        box = restored.get_by_role("checkbox", name=re.compile("^" + re.escape(older.spec.published_name)))
        assert box.is_checked()
    assert all(link.startswith(older.url) for link in _explorer_links(other))
    context.close()


# --- the Maisons page ---------------------------------------------------------------------------------


def _maisons_page(site: Path) -> Path:
    for name in ("maisons/index.html", "maisons.html"):
        if (site / name).is_file():
            return site / name
    raise AssertionError("pas de page des Maisons (maisons/)")


def _sections(path: Path) -> dict[str, str]:
    """The Maisons page's sections by their heading: each one's text."""
    found: dict[str, str] = {}
    for part in path.read_text(encoding="utf-8").split("<section")[1:]:
        heading = re.search(r"<h2[^>]*>(.*?)</h2>", part, re.S)
        if heading is not None:
            found[_text(heading.group(1))] = _text(part.split("</section>", 1)[0])
    return found


def _text(fragment: str) -> str:
    fragment = re.sub(r"<(script|style)\b.*?</\1>", " ", fragment, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_the_maisons_page_reports_the_unreachable_one_and_the_older_format(
    browser: Any, national: National, requests: Requests
) -> None:
    path = _maisons_page(national.site)
    sections = _sections(path)
    names = [spec.published_name for spec in (*SPECS, OLDER)]
    assert set(sections) == {*names, UNREACHABLE}, sorted(sections)
    unreachable = sections[UNREACHABLE]
    assert "injoignable" in unreachable and "aucune moisson réussie" in unreachable, unreachable
    older = sections[OLDER.published_name]
    assert re.search(r"format[^.]*1\b", older) and "plus ancien" in older, older
    for spec in SPECS:
        assert "injoignable" not in sections[spec.published_name]
        assert "plus ancien" not in sections[spec.published_name]
        assert f"{spec.members} membres" in sections[spec.published_name]
    # In the browser too: the report is visible, not only in the page's source.
    context = _context(browser, national, requests)
    page = context.new_page()
    page.goto(national.base + path.parent.relative_to(national.site).as_posix() + "/", wait_until="load")
    assert page.get_by_text(re.compile("aucune moisson réussie")).first.is_visible()
    context.close()
    # And on the command line.
    assert re.search(rf"(?m)^{UNREACHABLE} : injoignable", national.output), national.output


# --- accessibility, on every kind of national page --------------------------------------------------


def _page_kinds(site: Path) -> dict[str, str]:
    """One page per kind: every page of the national site but Pagefind's, grouped by top folder."""
    kinds: dict[str, str] = {}
    for path in sorted(site.rglob("*.html"), key=lambda p: (len(p.parts), p.as_posix())):
        name = path.relative_to(site).as_posix()
        parts = name.split("/")
        if parts[0].startswith("pagefind"):
            continue
        kind = "accueil" if name == "index.html" else parts[0].removesuffix(".html")
        if len(parts) > 2:  # a page below a folder's own page (one Maison's page…)
            kind += "/*"
        kinds.setdefault(kind, name.removesuffix("index.html"))
    if "recherche" in kinds:
        kinds["recherche"] += f"?q={QUERY}"  # with results shown
    return kinds


@pytest.mark.parametrize("mode", MODES)
def test_no_wcag_violation_on_any_kind_of_national_page(
    browser: Any, national: National, requests: Requests, mode: str
) -> None:
    try:
        from axe_playwright_python.base import AXE_SCRIPT
    except ImportError:
        needs("axe-playwright-python n'est pas installé (pip install -e '.[test]')")
    kinds = _page_kinds(national.site)
    assert {"accueil", "recherche", "404"} <= set(kinds) and len(kinds) >= 5, kinds
    explorer = find_explorer(national.site)
    context = _context(
        browser, national, requests, viewport={"width": PHONE if mode == "mobile" else 1280, "height": 900}
    )
    page = context.new_page()
    if mode == "sombre":
        page.goto(national.base, wait_until="load")
        page.locator('label[for="__palette_1"]').click()  # « Passer au thème sombre »
        page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'")
    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    found: dict[str, list[str]] = {}
    for kind, address in kinds.items():
        page.goto(national.base + address, wait_until="load")
        if kind == "recherche":
            page.locator(".pagefind-ui__result").first.wait_for(timeout=30_000)
        if explorer is not None and address == explorer:
            _ready(page)
        scheme = page.evaluate("document.body.dataset.mdColorScheme")
        assert scheme == ("slate" if mode == "sombre" else "default"), (kind, scheme)
        if mode == "mobile":
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE, f"{address} : {width} px de large"
        page.evaluate(AXE_SCRIPT)
        result = page.evaluate("(options) => axe.run(document, options)", options)
        if result["violations"]:
            found[address] = [
                f"{v['id']} ({v['impact']}) : {', '.join(str(n['target']) for n in v['nodes'][:5])}"
                for v in result["violations"]
            ]
    context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


def test_browsing_the_national_site_never_leaves_its_origin(national: National, requests: Requests) -> None:
    """Runs after the others (pytest keeps the file's order): every request they made is here."""
    if not requests.seen:
        pytest.skip("aucune page n'a été ouverte (navigateur absent)")
    assert requests.refused == []
    assert any("/pagefind/" in url for url in requests.seen)  # the search did run, locally
    assert all(urlsplit(url).hostname == "127.0.0.1" for url in requests.seen)


# --- a hostile territory ------------------------------------------------------------------------------


@dataclass
class HostileNational:
    site: Path
    output: str


@pytest.fixture(scope="module")
def hostile_national(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileNational]:
    work = tmp_path_factory.mktemp("national-hostile")

    def poison(territory: Path) -> None:
        plant(territory)

    specs = (Spec("hostile", 3, 4, 7), Spec("sage", 3, 4, 8))
    with federation(specs, work, prepare={"hostile": poison}) as served:
        assert served.config is not None
        site = work / "site-national"
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            code = main(["national", str(served.config), "--site-dir", str(site)])
        assert code == 0, printed.getvalue()
        assert "hostile : à jour, 3 membres" in printed.getvalue(), printed.getvalue()
        yield HostileNational(site, printed.getvalue())


def test_hostile_text_harvested_never_becomes_live_markup(hostile_national: HostileNational) -> None:
    site = hostile_national.site
    pages = [p for p in site.rglob("*.html") if not p.relative_to(site).parts[0].startswith("pagefind")]
    assert any(MARKER in p.read_text(encoding="utf-8") for p in pages), "the payload reached no page"
    assert live_markup(site) == []


def test_hostile_text_harvested_never_runs_in_the_browser(hostile_national: HostileNational) -> None:
    if not CHROMIUM.exists():
        needs(f"Chromium absent ({CHROMIUM})")
    # In a thread of its own: browser_check runs its own event loop, and this module's sync
    # Playwright keeps one running in this thread.
    with ThreadPoolExecutor(1) as pool:
        report = pool.submit(browser_check, hostile_national.site).result()
    assert report.violations == [], "\n".join(report.violations[:50])
    assert report.blocked == set()
    assert report.pages > 3 and report.searched and report.search_results > 0
