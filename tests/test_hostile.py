"""Hostile registers: a payload in every string field never becomes live markup on the site.

Two territories (the demo, and a synthetic one from ``dote demo``) are copied, every string
of every register file that validation lets through gets :data:`hostile.PAYLOAD`, the site
is built, then every output file is read (:func:`hostile.live_markup`) and every page is
opened in a headless Chromium (:func:`hostile.browser_check`). The checkers themselves are
tested first, on hand-written pages: they must be able to fail.
"""

from __future__ import annotations

import collections
import csv
import gzip
import html
import io
import json
import os
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
import yaml

from conftest import copy_demo
from dote import review
from dote.cli import main
from dote.load import load_file
from dote.problems import Position, Problem
from hostile import (
    CHROMIUM,
    FORMULA_STARTS,
    HOSTILE_URLS,
    JINJA_TOKEN,
    KINDS,
    MARKER,
    PAYLOAD,
    HostileWatch,
    Planting,
    browser_check,
    live_markup,
    plant,
    plant_watch,
)

ROOT = Path(__file__).resolve().parent.parent

#: Fields that must carry the payload wherever their file kind exists.
REQUIRED_FIELDS = {
    "membre": {"nom"},
    "sous-traitant": {"nom"},
    "formations": {"sessions[].lieu"},
    "modele": {"nom", "description", "finalites.principale"},
    "activite": {"nom", "description", "finalites.principale"},
}
#: Fields only the demo's registers have, that must carry the payload there too: retention in
#: phases (syndicat-eaux) and prior authorisations (valmont), issue 14, point 7.
DEMO_REQUIRED_FIELDS = {
    "activite": {
        "categories_donnees[].conservation.phases[].precisions",
        "categories_donnees[].conservation.phases[].criteres",
        "autorisations[].reference",
        "autorisations[].precisions",
    },
}
#: The least number of distinct fields per kind that must carry it (the demo has more).
MINIMUM_FIELDS = {
    "maison": 5,
    "label": 4,
    "membre": 3,
    "activite": 8,
    "modele": 10,
    "version": 10,
    "sous-traitant": 2,
    "formations": 1,  # the place of each session (the rest: ids, dates, codes, https links)
}


def _summary(lines: list[str], limit: int = 80) -> str:
    """Violations for a failure message: counted by reason, then the first ``limit`` of them."""
    reasons = collections.Counter(line.split(" — ")[0].split(": ", 1)[-1] for line in lines)
    head = "\n".join(f"  {count} × {reason}" for reason, count in reasons.most_common())
    shown = "\n".join(lines[:limit]) + (f"\n… and {len(lines) - limit} more" if len(lines) > limit else "")
    return f"{len(lines)} violation(s):\n{head}\n{shown}"


# --- the static checker can fail -------------------------------------------------------------

CLEAN_PAGE = """<!doctype html><html><head><title>Nom &lt;script&gt;dotexss()&lt;/script&gt;</title>
<script id="__config" type="application/json">{"base": "."}</script>
<script src="assets/javascripts/bundle.js"></script><script src="/assets/x.js"></script>
</head><body><h1>Nom &lt;img src=x onerror=dotexss()&gt; &quot; onmouseover=&quot;dotexss()</h1>
<img src="label/x.svg" alt="Label de Nom &lt;script&gt;dotexss()&lt;/script&gt; &quot; onfocus=&quot;dotexss()">
<a href="https://x.example/)[clic](javascript:dotexss())'onmouseover='dotexss()">site</a>
<a href="mailto:dpo@example.org">dpo</a> <p>{{ 'dotexssjin' ~ 'jaeval' }} {% raw %} ]]&gt;</p>
<script>document.body.dataset.ready = "1";</script></body></html>"""

CASES = {
    "script element": ("index.html", "<p>x <script>dotexss()</script></p>", "script element running"),
    "script breaking out of the title": (
        "index.html",
        "<title>Nom </title><script>dotexss()</script></title>",
        "script element running",
    ),
    "script from another site": (
        "index.html",
        '<script src="https://unpkg.com/iframe-worker/shim"></script>',
        "script from another site",
    ),
    "script from a protocol-relative URL": (
        "index.html",
        '<script src="//cdn.example/x.js"></script>',
        "script from another site",
    ),
    "img onerror": ("index.html", "<img src=x onerror=dotexss()>", "event attribute onerror running"),
    "quote closing an attribute": (
        "index.html",
        '<a title="Nom " onmouseover="dotexss()">x</a>',
        "event attribute onmouseover running",
    ),
    "single quote closing an attribute": (
        "index.html",
        "<a title='Nom ' onfocus='dotexss()'>x</a>",
        "event attribute onfocus running",
    ),
    "any event attribute": ("index.html", '<div onclick="toggle()">x</div>', "event attribute onclick"),
    "attr_list onclick": (
        "index.html",
        '<p onclick="dotexss()">texte</p>',
        "event attribute onclick running",
    ),
    "javascript: link": ("index.html", '<a href="javascript:dotexss()">clic</a>', "javascript: URL in href"),
    "obfuscated javascript: link": (
        "index.html",
        '<a href=" JaVa&#x09;Script:dotexss()">clic</a>',
        "javascript: URL in href",
    ),
    "vbscript: link": ("index.html", '<a href="vbscript:msgbox(1)">clic</a>', "vbscript: URL in href"),
    "data: link": (
        "index.html",
        '<a href="data:text/html,&lt;script&gt;dotexss()&lt;/script&gt;">d</a>',
        "data: URL in href",
    ),
    "javascript: in a form action": (
        "index.html",
        '<form action="javascript:dotexss()"></form>',
        "javascript: URL in action",
    ),
    "javascript: in formaction": (
        "index.html",
        '<button formaction="javascript:dotexss()">b</button>',
        "javascript: URL in formaction",
    ),
    "data: image source": ("index.html", '<img src="data:image/svg+xml,x">', "data: URL in src"),
    "xlink:href in an SVG file": (
        "label/x.svg",
        '<svg xmlns="http://www.w3.org/2000/svg"><a xlink:href="javascript:dotexss()"><text>x</text></a></svg>',
        "javascript: URL in xlink:href",
    ),
    "iframe carrying the payload": (
        "index.html",
        '<iframe srcdoc="&lt;script&gt;dotexss()&lt;/script&gt;"></iframe>',
        "<iframe> with the payload in srcdoc",
    ),
    "object carrying the payload": ("index.html", '<object data="x.swf?dotexss"></object>', "<object>"),
    "svg carrying the payload": ("index.html", '<svg class="dotexss()"></svg>', "<svg> with the payload"),
    "math carrying the payload": ("index.html", '<math href="x#dotexss"></math>', "<math> with the payload"),
    "refresh to javascript:": (
        "index.html",
        '<meta http-equiv="refresh" content="0; url=javascript:dotexss()">',
        "refresh to a dangerous URL",
    ),
    "Jinja evaluated in text": ("index.html", f"<p>Nom {JINJA_TOKEN}</p>", "Jinja expression evaluated"),
    "Jinja evaluated in an attribute": (
        "index.html",
        f'<a title="{JINJA_TOKEN}">x</a>',
        "Jinja expression evaluated",
    ),
    "Jinja evaluated in a comment": ("index.html", f"<!-- {JINJA_TOKEN} -->", "Jinja expression evaluated"),
    "markup in a JSON string": (
        "search/search_index.json",
        '{"docs": [{"title": "Nom", "text": "<p>Nom <img src=x onerror=dotexss()></p>"}]}',
        "event attribute onerror running",
    ),
    "Jinja evaluated in JSON": (
        "schemas/x.json",
        f'{{"a": ["{JINJA_TOKEN}"]}}',
        "Jinja expression evaluated",
    ),
    "script in the offline search index": (
        "search/search_index.js",
        'var __index = {"docs": [{"text": "<script>dotexss()</script>"}]}',
        "script element running",
    ),
    "payload in a script file": (
        "assets/x.js",
        'window.addEventListener("load", () => dotexss());',
        "payload inside a script",
    ),
    "payload in a script file as a string": (
        "assets/x.js",
        'var name = "dotexss";',
        "payload inside a script",
    ),
    "payload in a style sheet": (
        "assets/x.css",
        'a::after { content: "dotexss" }',
        "payload inside a style sheet",
    ),
    "raw markup in an open-data file": (
        "donnees/membres/x.json",
        '{"nom": "Nom <script>dotexss()</script>"}',
        "raw « < » in a data file",
    ),
    "invalid open-data JSON": ("donnees/catalogue.jsonld", '{"@context": ', "invalid JSON"),
    "formula in an open-data CSV": (
        "donnees/territoire.csv",
        '\ufeff"Activité";"Service"\r\n"Nom";"=HYPERLINK(""http://x.example"")"\r\n',
        "cell starting like a formula",
    ),
    "script in a compressed sitemap": (
        "sitemap.xml.gz",
        "<urlset><url><loc>https://x.example/</loc><script>dotexss()</script></url></urlset>",
        "script element running",
    ),
}


def _site(base: Path, files: dict[str, str]) -> Path:
    site = base / "site"
    for name, text in files.items():
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return site


def test_checker_passes_escaped_payload(tmp_path: Path) -> None:
    site = _site(
        tmp_path,
        {
            "index.html": CLEAN_PAGE,
            "search/search_index.json": '{"docs": [{"title": "Nom &lt;script&gt;dotexss()", "text": "<p>Nom'
            ' &lt;img src=x onerror=dotexss()&gt;</p>"}]}',
            "search/search_index.js": 'var __index = {"docs": [{"text": "&lt;script&gt;dotexss()"}]}',
            "label/x.svg": '<svg xmlns="http://www.w3.org/2000/svg" aria-label="Nom &lt;script&gt;dotexss()">'
            "<title>Nom &lt;/title&gt;&lt;script&gt;dotexss()&lt;/script&gt; ]]&gt;</title></svg>",
            "sitemap.xml.gz": "<urlset><url><loc>https://x.example/</loc></url></urlset>",
            "assets/bundle.js": "document.querySelector('a').onclick = () => {}",
            # Open data keeps the registers' text as text: escaped once in JSON, neutralised in CSV.
            "donnees/membres/x.json": '{"nom": "Nom \\u003cscript\\u003edotexss()\\u003c/script\\u003e"}',
            "donnees/membres/x.csv": '\ufeff"Activité"\r\n"\'=HYPERLINK(""x"")"\r\n"Nom <b>dotexss</b>"\r\n',
        },
    )
    assert live_markup(site) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_checker_reports(tmp_path: Path, case: str) -> None:
    name, text, reason = CASES[case]
    found = live_markup(_site(tmp_path, {name: text}))
    assert any(reason in line and name.removesuffix(".gz") in line for line in found), found


def test_payload_carries_every_piece() -> None:
    for piece in (
        "<script>dotexss()</script>",
        "<img src=x onerror=dotexss()>",
        "[clic](javascript:dotexss())",
        "[d](data:text/html,<script>dotexss()</script>)",
        "{% raw %}",
        '" onmouseover="dotexss()',
        "' onfocus='dotexss()",
        "</title><script>dotexss()</script>",
        "]]>",
        " | cellule |",
    ):
        assert piece in PAYLOAD
    assert PAYLOAD.endswith('{: onclick="dotexss()"}')  # attr_list applies at the end of a block
    assert "{{" in PAYLOAD and JINJA_TOKEN not in PAYLOAD and MARKER in JINJA_TOKEN
    assert "\n" not in PAYLOAD


def test_plant_keeps_what_validation_accepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Errors at a value revert it; errors elsewhere are traced by bisection; URLs get replacements."""
    root = tmp_path / "territoire"
    files = {
        "registers/maison.yml": "# modeline\nnom: Maison\ncode: X\nsite: https://a.example\nliste: [a, b]\n",
        "registers/members/m/member.yml": "nom: M\ntype: commune\nnotes: {a: texte, b: 2}\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")

    @dataclass(frozen=True)
    class Result:
        errors: tuple[Problem, ...]

        @property
        def ok(self) -> bool:
            return not self.errors

    def fake_run(where: Path) -> Result:
        """Validation as the fake sees it: ``code`` is a code, ``type`` fails at the top of its file,
        ``site`` takes only a URL without « " », ``liste`` refuses the payload in its first item."""
        maison, _ = load_file(where / "registers/maison.yml", "registers/maison.yml", within=where)
        member, _ = load_file(
            where / "registers/members/m/member.yml", "registers/members/m/member.yml", within=where
        )
        assert maison is not None and member is not None
        errors = []
        for doc, path, fine in (
            (maison, ("code",), lambda v: v == "X"),
            (maison, ("site",), lambda v: '"' not in v and "<" not in v),
            (maison, ("liste", 0), lambda v: v == "a"),
        ):
            value = doc.data
            for part in path:
                value = value[part]
            if not fine(value):
                errors.append(Problem(doc.position(path), "refusé"))
        if member.data["type"] != "commune":
            errors.append(Problem(Position("registers/members/m/member.yml"), "type inconnu"))
        return Result(tuple(errors))

    monkeypatch.setattr("hostile.run", fake_run)
    planting = plant(root)
    assert planting.accepted() == {"maison": ["liste[]", "nom", "site"], "membre": ["nom", "notes.a"]}
    assert not any(
        leaf.mutated for leaf in planting.leaves if leaf.path in (("code",), ("type",), ("liste", 0))
    )
    site = next(leaf for leaf in planting.leaves if leaf.path == ("site",))
    assert site.how == "url" and site.value == HOSTILE_URLS[1]
    assert planting.notes and "type inconnu" in planting.notes[0]
    text = (root / "registers/maison.yml").read_text(encoding="utf-8")
    assert text.startswith("# modeline\n")
    assert yaml.safe_load(text) == {
        "nom": "Maison" + PAYLOAD,
        "code": "X",
        "site": HOSTILE_URLS[1],
        "liste": ["a", "b" + PAYLOAD],
    }
    member = (root / "registers/members/m/member.yml").read_text(encoding="utf-8")
    assert "type: commune" in member


# --- the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium: required in CI (``.ci/run`` installs it), optional on a workstation."""
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} manquant : apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def test_browser_check_reports_execution(tmp_path: Path, chromium: Path) -> None:
    site = _site(
        tmp_path,
        {
            "index.html": '<p>Rien à signaler</p><a href="a.html">a</a>',
            "a.html": "<img src=x onerror=dotexss()>",
            "b.html": '<p title="x" onmouseover="dotexss()">survol</p>',
            "c.html": "<input onfocus='dotexss()'>",
            "d.html": '<p onclick="dotexss()">clic</p>',
            "e.html": "<script>dotexss()</script>",
            "f.html": "<script>alert(1)</script>",
            "g.html": '<a href="javascript:dotexss()">clic</a>',
            "h.html": '<script src="https://unpkg.com/iframe-worker/shim"></script>',
            # A policy that refuses an inline script: reported, even though nothing ran.
            "i.html": '<html><head><meta http-equiv="Content-Security-Policy" content="script-src \'self\'">'
            "</head><body><script>var x = 1;</script></body></html>",
        },
    )
    report = browser_check(site, chromium)
    assert report.pages == 10 and not report.searched
    by_page = {line.split(":")[0] for line in report.violations}
    assert by_page == {"a.html", "b.html", "c.html", "d.html", "e.html", "f.html", "g.html", "i.html"}, report
    assert any("refused by the Content-Security-Policy — script-src" in line for line in report.violations)
    assert any("dialog alert" in line for line in report.violations)
    assert report.blocked == {"https://unpkg.com/iframe-worker/shim"}


# --- hostile territories -------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    name: str
    root: Path
    site: Path
    planting: Planting
    fields: dict[str, list[str]]
    watch: HostileWatch


def _synthetic(target: Path) -> Path:
    args = ["demo", str(target), "--members", "3", "--activities", "4", "--seed", "7"]
    assert main(args) == 0
    return target


@pytest.fixture(scope="module", params=["demo", "synthetique"])
def hostile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    """A territory with the payload planted everywhere it validates, and its built site."""
    base = tmp_path_factory.mktemp(f"hostile-{request.param}")
    make = copy_demo if request.param == "demo" else _synthetic
    root = make(base / "territoire")
    planting = plant(root)
    watch = plant_watch(root)
    site = base / "site"
    with pytest.MonkeyPatch.context() as patch:
        # The reviews a member a page: the payload reaches the pages after the first.
        patch.setattr(review, "PAGE_MEMBERS", 1)
        assert main(["build", str(root), "--site-dir", str(site)]) == 0, (
            "the hostile territory does not build"
        )
    assert (site / "tableau-de-bord" / "revues" / "2" / "index.html").is_file()
    return Hostile(request.param, root, site, planting, planting.accepted(), watch)


def test_payload_reaches_every_kind_of_file(hostile: Hostile) -> None:
    fields = hostile.fields
    shown = "\n".join(f"{kind}: {', '.join(paths)}" for kind, paths in fields.items())
    present = {leaf.kind for leaf in hostile.planting.leaves}
    if hostile.name == "demo":
        assert present == set(KINDS), shown
    assert set(fields) == present, shown
    for kind in present:
        assert len(fields[kind]) >= MINIMUM_FIELDS[kind], f"{kind}: too few fields\n{shown}"
        required = REQUIRED_FIELDS.get(kind, set())
        if hostile.name == "demo":
            required = required | DEMO_REQUIRED_FIELDS.get(kind, set())
        missing = required - set(fields[kind])
        assert not missing, f"{kind}: {sorted(missing)} refused the payload\n{shown}"


THIRD_PARTY = "script from another site"


def test_site_has_no_live_markup(hostile: Hostile) -> None:
    found = [f for f in live_markup(hostile.site) if THIRD_PARTY not in f]
    assert not found, _summary(found)


def test_site_loads_no_third_party_script(hostile: Hostile) -> None:
    found = [f for f in live_markup(hostile.site) if THIRD_PARTY in f]
    assert not found, _summary(found)


def test_browser_runs_no_payload(hostile: Hostile, chromium: Path) -> None:
    report = browser_check(hostile.site, chromium)
    assert report.pages == len(list(hostile.site.rglob("*.html")))
    assert report.searched and report.search_results > 0, "the search found no page with the marker"
    blocked = "\nblocked requests: " + ", ".join(sorted(report.blocked)) if report.blocked else ""
    assert not report.violations, _summary(report.violations) + blocked
    # The privacy page says the site loads nothing from another site: no page asked for it.
    assert not report.blocked, blocked


# --- the legal watch -----------------------------------------------------------------------


class _Text(HTMLParser):
    """The text of a page (what a reader sees), and the elements it holds."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _read(path: Path) -> _Text:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def _words(value: str) -> str:
    return " ".join(value.split())


def test_watch_items_stay_text_on_the_site(hostile: Hostile) -> None:
    """Titles, comments and source names of hostile watch items are shown as written, never as markup."""
    watch_page = hostile.site / "veille" / "index.html"
    member_page = hostile.site / "registres" / hostile.watch.member / "index.html"
    shown = _read(watch_page)
    seen = _words("".join(shown.parts))
    for title, comment in zip(hostile.watch.titles, hostile.watch.comments, strict=True):
        assert _words(title) in seen
        for paragraph in comment.split("\n\n"):
            assert _words(paragraph) in seen
    assert _words("Source" + PAYLOAD) in seen
    # The summaries' HTML kept its text, and lost every element that runs or loads.
    raw = watch_page.read_text(encoding="utf-8")
    summaries = re.findall(r'<details class="dote-veille__resume">(.*?)</details>', raw, re.DOTALL)
    assert len(summaries) >= len(hostile.watch.titles)
    for summary in summaries:
        parsed = _Text()
        parsed.feed(summary)
        parsed.close()
        assert set(parsed.tags) <= {"summary", "div", "p", "a"}, parsed.tags
        assert all(not name.startswith("on") and name not in ("style", "href") for name in parsed.attributes)
    listed = _words("".join(_read(member_page).parts))
    assert all(_words(title) in listed for title in hostile.watch.titles)
    found = [
        f for f in live_markup(hostile.site) if "veille" in f or f"registres/{hostile.watch.member}/" in f
    ]
    assert not found, _summary(found)


def test_watch_feeds_carry_hostile_text_as_text(hostile: Hostile) -> None:
    folder = hostile.site / "veille"
    feeds = sorted(folder.rglob("*.xml"))
    assert len(feeds) >= 4, feeds  # the territory's two, and two per theme
    checked = []
    for path in feeds:
        raw = path.read_bytes()
        assert b"<script" not in raw and b"<img" not in raw and b"<iframe" not in raw, path
        parsed = feedparser.parse(raw)
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        entries = {e.title: e for e in parsed.entries if e.title in hostile.watch.titles}
        if not entries and path.parent != folder:
            continue  # the feed of a theme the hostile items do not have
        checked.append(path.relative_to(folder).as_posix())
        assert set(entries) == set(hostile.watch.titles), path  # the titles come back exactly
        for title, comment in zip(hostile.watch.titles, hostile.watch.comments, strict=True):
            entry = entries[title]
            assert (
                entry.link.startswith(("http://", "https://"))
                and "javascript" not in entry.link.split("/")[2]
            )
            if path.name == "atom.xml":
                assert entry.summary_detail.type == "text/plain" and entry.summary == comment
            else:  # RSS: a description is HTML; the comment is in it as escaped text
                text = html.unescape(
                    entry.summary.replace("</p><p>", "\n\n").removeprefix("<p>").removesuffix("</p>")
                )
                assert _words(text) == _words(comment), path
    assert {"atom.xml", "rss.xml"} < set(checked) and len(checked) >= 4, checked


# --- open data --------------------------------------------------------------------------------


def test_open_data_keeps_hostile_text_as_text(hostile: Hostile) -> None:
    """The JSON files give back the registers' hostile text exactly; no CSV cell runs as a formula."""
    folder = hostile.site / "donnees"
    names = {
        leaf.file: leaf.value
        for leaf in hostile.planting.leaves
        if leaf.kind == "activite" and leaf.path == ("nom",) and leaf.mutated
    }
    assert names, "no activity name took the payload"
    checked = 0
    for path in sorted(folder.rglob("*.json")):
        raw = path.read_text(encoding="utf-8")
        assert "<" not in raw, path  # markup is written as \u003c: no browser sniffs it as HTML
        data = json.loads(raw)
        for member in data.get("membres", [data]):
            for entry in member["activites"]:
                file = f"registers/members/{member['membre']['identifiant']}/{entry['identifiant']}.yml"
                if file in names:
                    assert entry["activite"]["nom"] == names[file], (path, file)
                    checked += 1
    assert checked >= 2, checked  # in a member's file and in the territory's
    assert any(PAYLOAD.strip() in value for value in names.values())
    for path in sorted(folder.rglob("*.csv")):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"))
        assert len(rows) > 1, path
        bad = [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
        assert not bad, (path, bad[:3])
    found = [f for f in live_markup(hostile.site) if "donnees/" in f]
    assert not found, _summary(found)
