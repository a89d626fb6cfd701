"""``dote watch fetch``: feeds fetched from a local HTTP server into item files and a state.

Every test serves its feeds from :mod:`feed_server` (127.0.0.1, a random port): no test
uses the internet. Real feeds come from ``/work/shared/data/feeds/`` (see its README).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from dote import files as dote_files
from dote import watch, watch_fetch
from dote.watch import FeedEntry, ItemStore, WatchSource, load_watch
from dote.watch_fetch import SourceReport, fetch_watch, normalise_entry, parse_feed, user_agent
from feed_server import FeedServer, serving
from shared_data import FEEDS, needs

MINIFLUX = FEEDS / "miniflux-testdata" / "parser" / "testdata"
FEEDPARSER = FEEDS / "feedparser-tests"
needs_feeds = needs(FEEDS)
DAY1 = dt.date(2026, 3, 2)
DAY2 = dt.date(2026, 3, 9)
DAY3 = dt.date(2026, 3, 16)

#: What no stored file may contain: markup that runs, loads or styles anything.
DANGEROUS = re.compile(
    r"<script|<iframe|<img|<style|<object|<embed|<form|javascript:|\s(on[a-z]+|style)\s*=", re.IGNORECASE
)


# --- helpers ---------------------------------------------------------------------------


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # a proxy of the machine must not take local requests
    with serving() as running:
        yield running


def write_sources(root: Path, flux: dict[str, str | None]) -> dict[str, WatchSource]:
    """``watch/sources.yml`` with one source per entry (``None``: no feed); its sources."""
    entries = []
    for ident, url in flux.items():
        entry: dict[str, Any] = {
            "id": ident,
            "nom": f"Source {ident}",
            "editeur": "Éditeur d'essai",
            "langue": "fr",
            "thematiques": ["numerique"],
        }
        if url:
            entry["flux"] = url
        entries.append(entry)
    path = root / "watch" / "sources.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump({"version_schema": 1, "sources": entries}, allow_unicode=True), encoding="utf-8"
    )
    found, problems = load_watch(root)
    assert [p.text() for p in problems if p.position.file == "watch/sources.yml"] == []
    return dict(found.sources)


def item_files(root: Path, source: str | None = None) -> list[Path]:
    folder = root / "watch" / "elements"
    if source:
        folder = folder / source
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def items(root: Path, source: str) -> dict[str, dict[str, Any]]:
    """The item files of a source by id (every file must be readable YAML)."""
    found = {}
    for path in item_files(root, source):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        found[data["id"]] = data | {"_file": path.name}
    return found


def state(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "watch" / "etat.json").read_text(encoding="utf-8"))
    return data


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in item_files(root)}


def assert_valid(root: Path) -> None:
    """Every stored file is accepted by the watch's reader, with no problem."""
    found, problems = load_watch(root)
    assert [p.text() for p in problems] == []
    assert len(found.items) == len(item_files(root))
    leftovers = [p for p in (root / "watch").rglob(".*") if p.is_file()]
    assert leftovers == [], "a temporary file was left behind"


def by_source(reports: list[SourceReport]) -> dict[str, SourceReport]:
    return {r.source: r for r in reports}


def rss(entries: list[dict[str, str]], title: str = "Flux d'essai") -> bytes:
    """A small RSS 2.0 feed; each entry may have guid, title, link, description, date."""
    parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{title}</title>']
    for e in entries:
        parts.append("<item>")
        if "guid" in e:
            parts.append(f'<guid isPermaLink="false">{e["guid"]}</guid>')
        for tag, key in (
            ("title", "title"),
            ("link", "link"),
            ("description", "description"),
            ("pubDate", "date"),
        ):
            if key in e:
                parts.append(f"<{tag}>{e[key]}</{tag}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


THREE = [
    {
        "guid": "a-1",
        "title": "Délibération 2026-001",
        "link": "https://exemple.fr/a-1",
        "description": "Premier &lt;b&gt;avis&lt;/b&gt;",
        "date": "Mon, 02 Mar 2026 09:00:00 +0100",
    },
    {
        "guid": "a-2",
        "title": "Recommandation",
        "link": "https://exemple.fr/a-2",
        "description": "Deuxième",
        "date": "Tue, 03 Mar 2026 09:00:00 +0100",
    },
    {
        "guid": "a-3",
        "title": "Sanction",
        "link": "https://exemple.fr/a-3",
        "description": "Troisième",
        "date": "Wed, 04 Mar 2026 09:00:00 +0100",
    },
]


# --- real feeds ------------------------------------------------------------------------


@needs_feeds
@pytest.mark.parametrize("content_type", [None, "application/rss+xml", "text/xml", "application/xml"])
def test_latin1_feed_without_declaration_keeps_its_accents(
    tmp_path: Path, server: FeedServer, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    server.route("/psy", (MINIFLUX / "no_encoding_ISO-8859-1.xml").read_bytes(), headers=headers)
    sources = write_sources(tmp_path, {"psy": server.url("/psy")})
    (report,) = fetch_watch(tmp_path, sources, today=DAY1)
    assert report.outcome == "ok" and report.nouveaux == 9, report.line()
    assert "mal formé" not in report.line()  # a wrong charset guess is no malformed feed
    stored = items(tmp_path, "psy")
    titles = {d["titre"] for d in stored.values()}
    assert "Perturbateurs endocriniens : quels effets sur le cerveau ?" in titles
    assert "Psychologue à domicile : de la clinique à l'état brut" in titles
    assert "Caroline Eliacheff : « Dolto reste authentiquement subversive »" in titles
    text = "".join(p.read_text(encoding="utf-8") for p in item_files(tmp_path))
    assert "Françoise Dolto" in text
    assert "\ufffd" not in text and "Ã" not in text  # no replacement character, no mojibake
    assert_valid(tmp_path)


@pytest.mark.parametrize(
    ("encoding", "declared", "content_type"),
    [
        ("latin-1", False, "application/rss+xml"),  # undeclared Latin-1, no charset in the header
        ("latin-1", True, "text/xml"),
        ("cp1252", True, "application/rss+xml"),  # Windows-1252's curly quotes and œ
    ],
)
def test_our_own_legacy_encodings_are_read(
    tmp_path: Path, server: FeedServer, encoding: str, declared: bool, content_type: str
) -> None:
    """Cases written here, so that the check does not depend on the shared test data."""
    title = "Délibération sur l’accès des élus" if encoding == "cp1252" else "Délibération : accès des élus"
    summary = "Œuvre « complète » — coût 5 €" if encoding == "cp1252" else "Données à caractère personnel"
    prolog = f'<?xml version="1.0" encoding="{encoding}"?>' if declared else ""
    body = (
        f'{prolog}<rss version="2.0"><channel><title>Flux</title><item><guid>e-1</guid>'
        f"<title>{title}</title><link>https://exemple.fr/1</link><description>{summary}</description>"
        "</item></channel></rss>"
    ).encode(encoding)
    server.route("/enc", body, headers={"Content-Type": content_type})
    sources = write_sources(tmp_path, {"enc": server.url("/enc")})
    (report,) = fetch_watch(tmp_path, sources, today=DAY1)
    assert report.outcome == "ok" and report.nouveaux == 1, report.line()
    (data,) = items(tmp_path, "enc").values()
    assert (data["titre"], data["resume"]) == (title, summary)
    assert_valid(tmp_path)


@needs_feeds
@pytest.mark.parametrize("name", ["large_rss.xml", "large_atom.xml"])
def test_large_real_feed(tmp_path: Path, server: FeedServer, name: str) -> None:
    body = (MINIFLUX / name).read_bytes()
    server.route("/big", body, headers={"Content-Type": "application/xml"})
    sources = write_sources(tmp_path, {"big": server.url("/big")})
    (report,) = fetch_watch(tmp_path, sources, today=DAY1)
    assert report.outcome == "ok", report.line()
    assert report.nouveaux == 25 == len(item_files(tmp_path, "big"))
    assert report.line() == "big : 25 nouveaux, 0 mis à jour, 0 inchangé"
    for data in items(tmp_path, "big").values():
        assert len(data.get("resume", "")) <= watch_fetch.MAX_SUMMARY_CHARS
        assert len(data.get("resume_html", "")) <= watch_fetch.MAX_SUMMARY_HTML_CHARS
        assert data["lien"].startswith(("http://", "https://"))
        assert data["date_origine"] == "flux"
    assert_valid(tmp_path)


BASE_FILES = sorted((FEEDPARSER / "wellformed" / "base").glob("*.xml"))
_HEADER = re.compile(r"^Header:\s+([^:\n]+):(.*)$", re.MULTILINE)


@needs_feeds
def test_relative_links_become_absolute(tmp_path: Path, server: FeedServer) -> None:
    """All of feedparser's xml:base / Content-Location / document-address files, fetched at once."""
    flux: dict[str, str | None] = {}
    for index, path in enumerate(BASE_FILES):
        body = path.read_bytes()
        headers = {k.strip(): v.strip() for k, v in _HEADER.findall(body.decode("latin-1"))}
        route = f"/tests/base/{path.name}"
        server.route(route, body, headers={"Content-Type": "application/xml", **headers})
        flux[f"base-{index}"] = server.url(route)
    sources = write_sources(tmp_path, flux)
    reports = fetch_watch(tmp_path, sources, today=DAY1, concurrency=8)
    assert [r.line() for r in reports if r.outcome != "ok"] == []
    links: list[str] = []
    hrefs: list[str] = []
    for path in item_files(tmp_path):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("lien"):
            links.append(data["lien"])
        hrefs += re.findall(r'href="([^"]*)"', data.get("resume_html", ""))
    assert links and hrefs
    for url in links + hrefs:
        assert url.startswith(("http://", "https://")), url
    # Relative addresses resolved against the document's address and against Content-Location.
    assert server.url("/relative/uri") in links
    assert "http://example.com/relative/uri" in hrefs
    assert server.url("/relative/uri") in hrefs
    assert_valid(tmp_path)


HOSTILE = rss(
    [
        {
            "guid": "h-1",
            "title": "Titre &lt;script&gt;alert(1)&lt;/script&gt; propre",
            "link": "javascript:alert(1)",
            "description": "&lt;p onclick=&quot;alert(1)&quot;&gt;texte&lt;/p&gt;&lt;iframe src=&quot;https://x.test&quot;&gt;"
            "&lt;/iframe&gt;&lt;img src=&quot;https://pixel.test/p.gif&quot;&gt;"
            "&lt;a href=&quot;javascript:alert(2)&quot;&gt;lien&lt;/a&gt;&lt;style&gt;body{}&lt;/style&gt;"
            "&lt;object data=&quot;x&quot;&gt;&lt;/object&gt;&lt;embed src=&quot;x&quot;&gt;"
            "&lt;form action=&quot;https://x.test&quot;&gt;&lt;input&gt;&lt;/form&gt;"
            "&lt;b style=&quot;color:red&quot;&gt;gras&lt;/b&gt;",
        },
        {
            "guid": "h-2",
            "title": "CDATA",
            "link": "https://exemple.fr/h-2",
            "description": "<![CDATA[<script>alert(3)</script><a href='https://ok.test/' onmouseover='x()'>ok</a>]]>",
        },
    ]
)


@pytest.mark.parametrize("with_shared_data", [False, pytest.param(True, marks=needs_feeds)])
def test_hostile_html_is_never_stored(tmp_path: Path, server: FeedServer, with_shared_data: bool) -> None:
    """Our hostile feed always; feedparser's sanitising test files too when they are here."""
    flux: dict[str, str | None] = {}
    sanitize = sorted((FEEDPARSER / "wellformed" / "sanitize").glob("*.xml")) if with_shared_data else []
    for index, path in enumerate(sanitize):
        server.route(f"/s{index}", path.read_bytes(), headers={"Content-Type": "application/xml"})
        flux[f"sanitize-{index}"] = server.url(f"/s{index}")
    server.route("/hostile", HOSTILE, headers={"Content-Type": "application/rss+xml"})
    flux["hostile"] = server.url("/hostile")
    sources = write_sources(tmp_path, flux)
    reports = fetch_watch(tmp_path, sources, today=DAY1)
    assert not [r.line() for r in reports if r.failed]
    files = item_files(tmp_path)
    assert len(files) >= (8 if with_shared_data else 2)
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not DANGEROUS.search(text), (path.name, DANGEROUS.search(text))
    hostile = items(tmp_path, "hostile")
    assert "lien" not in hostile["h-1"]  # a javascript: link is dropped
    assert "texte" in hostile["h-1"]["resume_html"] and "<b>gras</b>" in hostile["h-1"]["resume_html"]
    assert hostile["h-1"]["titre"] == "Titre propre"
    assert '<a href="https://ok.test/"' in hostile["h-2"]["resume_html"]
    assert_valid(tmp_path)


# --- items across runs -----------------------------------------------------------------


def test_one_file_per_item_across_runs(tmp_path: Path, server: FeedServer) -> None:
    server.route("/f", rss(THREE))
    sources = write_sources(tmp_path, {"src": server.url("/f")})
    (first,) = fetch_watch(tmp_path, sources, today=DAY1)
    assert (first.nouveaux, first.mis_a_jour, first.inchanges) == (3, 0, 0)
    before = snapshot(tmp_path)
    (second,) = fetch_watch(tmp_path, sources, today=DAY2)
    assert (second.nouveaux, second.mis_a_jour, second.inchanges) == (0, 0, 3)
    assert second.line() == "src : 0 nouveau, 0 mis à jour, 3 inchangés"
    assert snapshot(tmp_path) == before
    stored = items(tmp_path, "src")
    assert set(stored) == {"a-1", "a-2", "a-3"}
    assert stored["a-1"]["date"] == "2026-03-02" and stored["a-1"]["statut"] == "a-trier"
    assert stored["a-1"]["resume"] == "Premier avis"
    assert stored["a-1"]["resume_html"] == "Premier <b>avis</b>"
    assert_valid(tmp_path)


def test_updated_entry_updates_its_file_and_keeps_the_editors_work(
    tmp_path: Path, server: FeedServer
) -> None:
    route = server.route("/f", rss(THREE))
    sources = write_sources(tmp_path, {"src": server.url("/f")})
    fetch_watch(tmp_path, sources, today=DAY1)
    path = tmp_path / "watch" / "elements" / "src" / items(tmp_path, "src")["a-2"]["_file"]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(statut="publie", commentaire="Les communes doivent revoir leurs registres.")
    path.write_text(watch.item_text(data), encoding="utf-8")

    changed = [dict(e) for e in THREE]
    changed[1]["title"] = "[MàJ] Recommandation"
    route.body = rss(changed)
    (report,) = fetch_watch(tmp_path, sources, today=DAY2)
    assert (report.nouveaux, report.mis_a_jour, report.inchanges) == (0, 1, 2), report.line()
    assert len(item_files(tmp_path, "src")) == 3
    updated = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert updated["titre"] == "[MàJ] Recommandation"
    assert updated["statut"] == "publie"
    assert updated["commentaire"] == "Les communes doivent revoir leurs registres."
    assert updated["mis_a_jour_le"] == DAY2.isoformat()
    assert_valid(tmp_path)


def test_entry_without_date_keeps_its_first_seen_date(tmp_path: Path, server: FeedServer) -> None:
    server.route("/f", rss([{"guid": "sans-date", "title": "Sans date", "link": "https://exemple.fr/x"}]))
    sources = write_sources(tmp_path, {"src": server.url("/f")})
    fetch_watch(tmp_path, sources, today=DAY1)
    fetch_watch(tmp_path, sources, today=DAY2)
    (stored,) = items(tmp_path, "src").values()
    assert stored["date"] == DAY1.isoformat()
    assert stored["date_origine"] == "premiere-recuperation"
    assert stored["recupere_le"] == DAY1.isoformat()
    assert_valid(tmp_path)


# --- HTTP ------------------------------------------------------------------------------


def test_conditional_requests_get_304_and_rewrite_nothing(tmp_path: Path, server: FeedServer) -> None:
    modified = format_datetime(dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC), usegmt=True)
    server.route("/etag", rss(THREE), etag='"v1"')
    server.route("/date", rss([dict(e, guid="d" + e["guid"]) for e in THREE]), last_modified=modified)
    sources = write_sources(tmp_path, {"etag": server.url("/etag"), "date": server.url("/date")})
    first = by_source(fetch_watch(tmp_path, sources, today=DAY1, site_url="https://dote.example.org"))
    assert first["etag"].nouveaux == first["date"].nouveaux == 3
    recorded = state(tmp_path)
    assert recorded["etag"]["etag"] == '"v1"' and recorded["date"]["last_modified"] == modified
    before = snapshot(tmp_path)
    time.sleep(0.01)

    second = by_source(fetch_watch(tmp_path, sources, today=DAY2))
    assert second["etag"].outcome == second["date"].outcome == "inchange"
    assert second["etag"].line() == "etag : flux inchangé depuis la dernière récupération"
    etag_requests = server.requests_for("/etag")
    assert "if-none-match" not in etag_requests[0].headers
    assert etag_requests[1].headers["if-none-match"] == '"v1"'
    assert server.requests_for("/date")[1].headers["if-modified-since"] == modified
    assert snapshot(tmp_path) == before  # same bytes, same modification times
    after = state(tmp_path)
    assert after["etag"]["derniere_reussite"] == DAY2.isoformat() and after["etag"]["etag"] == '"v1"'
    agent = etag_requests[0].headers["user-agent"]
    assert agent.startswith("maison-dote/") and agent.endswith(
        "(+https://dote.example.org; veille juridique)"
    )


def test_user_agent_names_the_maison() -> None:
    assert re.fullmatch(
        r"maison-dote/\S+ \(\+https://x\.test; veille juridique\)", user_agent("https://x.test")
    )
    assert re.fullmatch(r"maison-dote/\S+ \(veille juridique\)", user_agent(""))


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_is_recorded_and_reported(tmp_path: Path, server: FeedServer, status: int) -> None:
    server.redirect("/old", status, "/new")
    server.route("/new", rss(THREE))
    sources = write_sources(tmp_path, {"src": server.url("/old")})
    sources_text = (tmp_path / "watch" / "sources.yml").read_bytes()
    (report,) = fetch_watch(tmp_path, sources, today=DAY1)
    assert report.outcome == "ok" and report.nouveaux == 3
    assert report.url_permanente == server.url("/new")
    assert report.line().endswith(
        f"redirection permanente vers {server.url('/new')}, mettez à jour watch/sources.yml"
    )
    assert state(tmp_path)["src"]["url_permanente"] == server.url("/new")
    assert (tmp_path / "watch" / "sources.yml").read_bytes() == sources_text  # never rewritten


@pytest.mark.parametrize("status", [302, 303, 307])
def test_temporary_redirect_is_followed_not_recorded(tmp_path: Path, server: FeedServer, status: int) -> None:
    server.redirect("/old", status, "/new")
    server.route("/new", rss(THREE))
    sources = write_sources(tmp_path, {"src": server.url("/old")})
    (report,) = fetch_watch(tmp_path, sources, today=DAY1)
    assert report.outcome == "ok" and report.nouveaux == 3
    assert report.url_permanente == "" and "redirection" not in report.line()
    assert state(tmp_path)["src"]["url_permanente"] is None


def test_only_the_leading_permanent_redirects_count(tmp_path: Path, server: FeedServer) -> None:
    server.redirect("/a", 301, "/b")
    server.redirect("/b", 302, "/c")
    server.route("/c", rss(THREE))
    server.redirect("/x", 302, "/y")
    server.redirect("/y", 301, "/z")
    server.route("/z", rss(THREE))
    sources = write_sources(tmp_path, {"perm": server.url("/a"), "temp": server.url("/x")})
    reports = by_source(fetch_watch(tmp_path, sources, today=DAY1))
    assert reports["perm"].url_permanente == server.url("/b")
    assert reports["temp"].url_permanente == ""


@pytest.mark.parametrize("status", [403, 404, 500, 503])
def test_http_error_fails_and_keeps_items(tmp_path: Path, server: FeedServer, status: int) -> None:
    route = server.route("/f", rss(THREE))
    sources = write_sources(tmp_path, {"src": server.url("/f")})
    fetch_watch(tmp_path, sources, today=DAY1)
    before = snapshot(tmp_path)
    route.status, route.body = status, b"<html>erreur</html>"
    (first,) = fetch_watch(tmp_path, sources, today=DAY2)
    (second,) = fetch_watch(tmp_path, sources, today=DAY3)
    assert first.failed and second.failed
    assert first.echecs_consecutifs == 1 and second.echecs_consecutifs == 2
    assert second.line().startswith(f"src : échec (HTTP {status} : ")
    assert second.line().endswith("2e échec consécutif ; les éléments déjà récupérés sont gardés")
    recorded = state(tmp_path)["src"]
    assert recorded["echecs_consecutifs"] == 2
    assert recorded["derniere_erreur"].startswith(f"HTTP {status}")
    assert recorded["derniere_reussite"] == DAY1.isoformat()
    assert snapshot(tmp_path) == before
    route.status, route.body = 200, rss(THREE)
    (recovered,) = fetch_watch(tmp_path, sources, today=DAY3)
    assert recovered.outcome == "ok" and state(tmp_path)["src"]["echecs_consecutifs"] == 0


def test_gone_feed_is_retired_until_its_address_changes(tmp_path: Path, server: FeedServer) -> None:
    server.route("/gone", status=410)
    server.route("/other", rss(THREE))
    sources = write_sources(tmp_path, {"src": server.url("/gone"), "ok": server.url("/other")})
    first = by_source(fetch_watch(tmp_path, sources, today=DAY1))
    assert first["src"].outcome == "retiree" and not first["src"].failed
    assert "HTTP 410" in first["src"].line() and "watch/sources.yml" in first["src"].line()
    assert state(tmp_path)["src"]["retiree"] is True
    second = by_source(fetch_watch(tmp_path, sources, today=DAY2))
    assert second["src"].outcome == "ignoree"
    assert len(server.requests_for("/gone")) == 1  # not requested again
    assert len(server.requests_for("/other")) == 2

    server.route("/moved-here", rss(THREE), etag='"x"')
    sources = write_sources(tmp_path, {"src": server.url("/moved-here"), "ok": server.url("/other")})
    third = by_source(fetch_watch(tmp_path, sources, today=DAY3))
    assert third["src"].outcome == "ok" and third["src"].nouveaux == 3
    recorded = state(tmp_path)["src"]
    assert recorded["retiree"] is False and recorded["flux"] == server.url("/moved-here")


def test_new_address_resets_the_validators(tmp_path: Path, server: FeedServer) -> None:
    server.route("/one", rss(THREE), etag='"same"')
    server.route("/two", rss(THREE), etag='"same"')
    fetch_watch(tmp_path, write_sources(tmp_path, {"src": server.url("/one")}), today=DAY1)
    (report,) = fetch_watch(tmp_path, write_sources(tmp_path, {"src": server.url("/two")}), today=DAY2)
    assert "if-none-match" not in server.requests_for("/two")[0].headers
    assert report.outcome == "ok" and report.inchanges == 3


def test_timeout_fails_quickly_and_others_proceed(tmp_path: Path, server: FeedServer) -> None:
    server.route("/slow", rss(THREE), delay=5)
    server.route("/fast", rss(THREE))
    sources = write_sources(tmp_path, {"slow": server.url("/slow"), "fast": server.url("/fast")})
    start = time.monotonic()
    reports = by_source(fetch_watch(tmp_path, sources, today=DAY1, timeout=0.5))
    assert time.monotonic() - start < 3
    assert reports["slow"].failed and "délai dépassé" in reports["slow"].line()
    assert reports["fast"].outcome == "ok" and len(item_files(tmp_path, "fast")) == 3
    assert item_files(tmp_path, "slow") == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@needs_feeds
def test_bodies_that_are_no_feed_fail(tmp_path: Path, server: FeedServer) -> None:
    server.route(
        "/html",
        b"<!doctype html><html><body><p>Bienvenue</p></body></html>",
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    certfr = next((FEEDS / "certfr").glob("*.json")).read_bytes()
    server.route("/json", certfr, headers={"Content-Type": "application/json"})
    server.route("/empty", b"", headers={"Content-Type": "application/rss+xml"})
    server.route("/good", rss(THREE))
    sources = write_sources(
        tmp_path,
        {
            "html": server.url("/html"),
            "json": server.url("/json"),
            "empty": server.url("/empty"),
            "refused": f"http://127.0.0.1:{_closed_port()}/feed",
            "good": server.url("/good"),
            "by-hand": None,
        },
    )
    reports = fetch_watch(tmp_path, sources, today=DAY1)
    assert [r.source for r in reports] == list(sources)  # the order of sources.yml
    found = by_source(reports)
    for ident in ("html", "json", "empty", "refused"):
        assert found[ident].failed, found[ident].line()
        assert item_files(tmp_path, ident) == []
    assert "pas un flux RSS ou Atom" in found["html"].line() and "text/html" in found["html"].line()
    assert "pas un flux RSS ou Atom" in found["json"].line()
    assert "connexion impossible" in found["refused"].line()
    assert found["good"].nouveaux == 3
    assert found["by-hand"].outcome == "ignoree" and not found["by-hand"].failed
    assert "by-hand" not in state(tmp_path)
    assert_valid(tmp_path)


@needs_feeds
def test_truncated_feed_keeps_what_was_recovered(tmp_path: Path, server: FeedServer) -> None:
    body = (MINIFLUX / "large_rss.xml").read_bytes()
    server.route("/cut", body[: len(body) // 2], headers={"Content-Type": "application/rss+xml"})
    server.route(
        "/stub",
        b'<?xml version="1.0"?><rss version="2.0"><chan',
        headers={"Content-Type": "application/rss+xml"},
    )
    sources = write_sources(tmp_path, {"cut": server.url("/cut"), "stub": server.url("/stub")})
    found = by_source(fetch_watch(tmp_path, sources, today=DAY1))
    cut = found["cut"]
    assert cut.outcome == "ok" and cut.mal_forme and 0 < cut.nouveaux < 25, cut.line()
    assert "flux mal formé" in cut.line()
    assert len(item_files(tmp_path, "cut")) == cut.nouveaux
    # Nothing recovered from a stub: it fails.
    stub = found["stub"]
    assert stub.failed and "flux mal formé" in stub.line() and "aucune entrée" in stub.line(), stub.line()
    assert item_files(tmp_path, "stub") == []
    assert_valid(tmp_path)


def test_oversized_body_fails(tmp_path: Path, server: FeedServer) -> None:
    """A compressed body that inflates past the cap is stopped while it is read."""
    padding = b" " * (watch_fetch.MAX_BODY_BYTES + 1024)
    bomb = gzip.compress(rss(THREE)[: -len(b"</channel></rss>")] + padding + b"</channel></rss>")
    assert len(bomb) < 100_000
    server.route("/bomb", bomb, headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})
    server.route("/long", b"<rss>" + padding, headers={"Content-Type": "application/rss+xml"})
    sources = write_sources(tmp_path, {"bomb": server.url("/bomb"), "long": server.url("/long")})
    for report in fetch_watch(tmp_path, sources, today=DAY1):
        assert report.failed and "flux trop volumineux" in report.line(), report.line()
    assert item_files(tmp_path) == []


# --- robustness ------------------------------------------------------------------------


class Crash(Exception):
    """The simulated crash (a disk error, an interruption) in the middle of a run."""


@pytest.mark.parametrize("where", ["os.replace", "upsert"])
def test_interrupted_run_leaves_complete_files_and_the_old_state(
    tmp_path: Path, server: FeedServer, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    route = server.route("/f", rss(THREE))
    sources = write_sources(tmp_path, {"src": server.url("/f")})
    fetch_watch(tmp_path, sources, today=DAY1)
    old_files = {p.name: p.read_text(encoding="utf-8") for p in item_files(tmp_path)}
    old_state = (tmp_path / "watch" / "etat.json").read_bytes()

    changed = [dict(e, title="[MàJ] " + e["title"]) for e in THREE]
    changed += [
        {"guid": f"n-{i}", "title": f"Nouveau {i}", "link": f"https://exemple.fr/n-{i}"} for i in range(3)
    ]
    route.body = rss(changed)
    calls = {"n": 0}
    with monkeypatch.context() as patch:
        if where == "os.replace":
            real_replace = os.replace

            def replace(source: Any, target: Any) -> None:
                calls["n"] += 1
                if calls["n"] > 1:
                    raise Crash
                real_replace(source, target)

            patch.setattr(dote_files.os, "replace", replace)
        else:
            real_upsert = ItemStore.upsert

            def upsert(self: ItemStore, entry: FeedEntry, today: dt.date) -> str:
                calls["n"] += 1
                if calls["n"] > 1:
                    raise Crash
                return real_upsert(self, entry, today)

            patch.setattr(ItemStore, "upsert", upsert)
        with pytest.raises(Crash):
            fetch_watch(tmp_path, sources, today=DAY2, concurrency=1)

    assert (tmp_path / "watch" / "etat.json").read_bytes() == old_state
    files = item_files(tmp_path)
    assert {p.name for p in files} == set(old_files)  # nothing added, no temporary file left
    updated = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        if text != old_files[path.name]:
            data = yaml.safe_load(text)  # the new content, complete
            assert data["titre"].startswith("[MàJ] ") and data["mis_a_jour_le"] == DAY2.isoformat()
            updated += 1
    assert updated == 1
    assert_valid(tmp_path)
    # The next run finishes the work: nothing is duplicated.
    (report,) = fetch_watch(tmp_path, sources, today=DAY3)
    assert (report.nouveaux, report.mis_a_jour, report.inchanges) == (3, 2, 1)
    assert len(item_files(tmp_path)) == 6
    assert_valid(tmp_path)


def test_unreadable_item_file_stops_its_source_only(tmp_path: Path, server: FeedServer) -> None:
    server.route("/a", rss(THREE))
    server.route("/b", rss(THREE))
    sources = write_sources(tmp_path, {"a": server.url("/a"), "b": server.url("/b")})
    broken = tmp_path / "watch" / "elements" / "a" / "casse.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("titre: [pas fermé\nstatut: a-trier\n", encoding="utf-8")
    found = by_source(fetch_watch(tmp_path, sources, today=DAY1))
    assert found["a"].failed
    assert "watch/elements/a/casse.yml:" in found["a"].line()
    assert [p.name for p in item_files(tmp_path, "a")] == ["casse.yml"]
    assert server.requests_for("/a") == []  # not even fetched
    assert found["b"].outcome == "ok" and len(item_files(tmp_path, "b")) == 3
    assert state(tmp_path)["a"]["echecs_consecutifs"] == 1


def test_state_is_reviewable_and_forgets_removed_sources(tmp_path: Path, server: FeedServer) -> None:
    server.route("/a", rss(THREE), etag='"e"')
    server.route("/b", rss(THREE))
    fetch_watch(tmp_path, write_sources(tmp_path, {"b": server.url("/b"), "a": server.url("/a")}), today=DAY1)
    text = (tmp_path / "watch" / "etat.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert list(data) == ["a", "b"] and text.endswith("}\n") and "\n  " in text
    assert set(data["a"]) == {
        "flux",
        "etag",
        "last_modified",
        "derniere_reussite",
        "derniere_erreur",
        "echecs_consecutifs",
        "url_permanente",
        "retiree",
    }
    fetch_watch(tmp_path, write_sources(tmp_path, {"b": server.url("/b")}), today=DAY2)
    assert list(state(tmp_path)) == ["b"]


def test_corrupt_state_is_not_fatal(tmp_path: Path, server: FeedServer) -> None:
    server.route("/f", rss(THREE))
    sources = write_sources(tmp_path, {"src": server.url("/f")})
    (tmp_path / "watch" / "etat.json").write_text("{pas du json", encoding="utf-8")
    (report,) = fetch_watch(tmp_path, sources, today=DAY1)
    assert report.outcome == "ok"
    assert state(tmp_path)["src"]["derniere_reussite"] == DAY1.isoformat()


# --- normalising entries ---------------------------------------------------------------


def _entry(xml_items: str, base: str = "https://source.test/flux/rss.xml") -> FeedEntry | None:
    body = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{xml_items}</channel></rss>'
    result = parse_feed(body.encode(), {"content-type": "application/rss+xml"}, base)
    return normalise_entry(result.entries[0], base)


def test_entry_ids_fall_back_to_link_then_hash() -> None:
    with_guid = _entry("<item><guid>urn:x:1</guid><title>T</title><link>/a</link></item>")
    assert with_guid is not None and with_guid.id == "urn:x:1" and with_guid.lien == "https://source.test/a"
    by_link = _entry("<item><title>T</title><link>page.html</link></item>")
    assert by_link is not None and by_link.id == by_link.lien == "https://source.test/flux/page.html"
    hashed = _entry("<item><title>T</title><description>D</description></item>")
    assert hashed is not None and re.fullmatch(r"sha256:[0-9a-f]{64}", hashed.id)
    again = _entry("<item><title>T</title><description>D</description></item>")
    assert again is not None and again.id == hashed.id


def test_entry_text_is_bounded_and_titled() -> None:
    untitled = _entry("<item><description>Un résumé</description></item>")
    assert untitled is not None and untitled.titre == "(sans titre)"
    assert _entry("<item><title> </title></item>") is None  # nothing to keep
    long_text = "mot " * 2000
    long_entry = _entry(
        f"<item><title>T</title><description>&lt;p&gt;{long_text}&lt;/p&gt;</description></item>"
    )
    assert long_entry is not None
    assert len(long_entry.resume) <= watch_fetch.MAX_SUMMARY_CHARS and long_entry.resume.endswith("mot…")
    assert long_entry.resume_html == ""  # too long as HTML: only the plain text is kept
    spaced = _entry("<item><title>  Un\n\ttitre   espacé </title><link>ftp://x.test/f</link></item>")
    assert spaced is not None and spaced.titre == "Un titre espacé" and spaced.lien == ""
    dated = _entry("<item><title>T</title><pubDate>Fri, 27 Feb 2026 23:30:00 -0100</pubDate></item>")
    assert dated is not None and dated.date == dt.date(2026, 2, 28)  # the UTC date
