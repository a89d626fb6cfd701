"""feedparser's own test files, parsed the way ``dote watch fetch`` parses a feed.

Each file of ``/work/shared/data/feeds/feedparser-tests/`` starts with a comment giving a
``Description:``, an ``Expect:`` (a Python expression over feedparser's result) and
sometimes ``Header:`` lines (the HTTP headers feedparser's test server sent with it).
Here each file's bytes go through :func:`dote.watch_fetch.parse_feed` with those headers
and the address feedparser's test server served it from, and the expression is
evaluated with the result as namespace, as feedparser's test suite does.

Two families are checked differently, because ``dote watch fetch`` replaces what they test:

* ``wellformed/sanitize``: feedparser's sanitiser is only a first layer; what is stored
  is the entry normalised by :func:`~dote.watch_fetch.normalise_entry` and cleaned by
  :func:`dote.watch.clean_html`. Both are checked: the expectation on feedparser's output,
  and no dangerous construct in the stored summary.
* ``wellformed/http`` files about ``etag`` and ``modified``: those keys are set by
  feedparser's own HTTP fetching, which is not used. The file is served by the local
  server with its headers and fetched by :func:`~dote.watch_fetch.fetch_watch`; the
  expectation is evaluated with ``etag`` / ``modified`` / ``modified_parsed`` taken from
  the validators the fetch recorded in ``watch/etat.json``.
"""

from __future__ import annotations

import codecs
import datetime as dt
import email.utils
import io
import json
import re
import types
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
import pytest

from dote.watch import FeedEntry, WatchSource, clean_html
from dote.watch_fetch import feed_entries, fetch_watch, normalise_entry, parse_feed
from feed_server import serving
from shared_data import FEEDS, needs

DATA = FEEDS / "feedparser-tests"
pytestmark = needs(DATA)
FAMILIES = (
    "encoding",
    "illformed",
    "wellformed/rss",
    "wellformed/base",
    "wellformed/sanitize",
    "wellformed/http",
)
#: feedparser's test server listened here; the expectations name this address.
TEST_SERVER = "http://127.0.0.1:8097"

#: Files not evaluated, with the reason. Kept as short as possible.
SKIPPED: dict[str, str] = {}

#: wellformed/http files whose expectation is about feedparser's HTTP fetching (the
#: ``etag`` and ``modified`` keys): checked through ``fetch_watch`` instead.
VALIDATOR_FILES = frozenset(
    {
        "headers_etag.xml",
        "headers_no_etag.xml",
        "headers_last_modified-blank.xml",
        "headers_last_modified-modified.xml",
        "headers_last_modified-modified_parsed.xml",
        "headers_last_modified-not-present.xml",
    }
)

DANGEROUS = re.compile(
    r"<script|<iframe|<img|<style|<object|<embed|<form|javascript:|\s(on[a-z]+|style)\s*=", re.IGNORECASE
)

_DESCRIPTION = re.compile(r"Description:\s*(.*?)\s*Expect:\s*(.*?)\s*-->", re.DOTALL)
_NO_EXPECT = re.compile(r"Description:\s*(.*?)\s*-->", re.DOTALL)
_HEADER = re.compile(r"^\s*Header:\s+([^:\n]+):(.*)$", re.MULTILINE)
_SKIP_UNLESS = re.compile(r"SkipUnless:\s*(.*?)\n")


def _files() -> list[Path]:
    return sorted(p for family in FAMILIES for p in (DATA / family).glob("*.xml"))


def _file_id(path: Path) -> str:
    return path.relative_to(DATA).as_posix()


def _header_text(raw: bytes) -> str:
    """The file's text, enough to read its header comment (UTF-16 files have a BOM)."""
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if raw.startswith(bom):
            return raw[len(bom) :].decode(codec, errors="replace")
    return raw.decode("latin-1")


def read_case(path: Path) -> tuple[str, str, dict[str, str], str]:
    """The file's description, expectation (``"1"`` when there is none), headers, SkipUnless."""
    text = _header_text(path.read_bytes()).replace("\r\n", "\n")
    found = _DESCRIPTION.search(text)
    if found:
        description, expect = found.group(1), found.group(2)
    else:  # a few files only describe themselves: parsing them must not raise
        bare = _NO_EXPECT.search(text)
        description, expect = (bare.group(1) if bare else ""), "1"
    headers = {name.strip().lower(): value.strip() for name, value in _HEADER.findall(text)}
    skip = _SKIP_UNLESS.search(text)
    return description.strip(), " ".join(expect.split()), headers, skip.group(1).strip() if skip else ""


def _served_url(path: Path) -> str:
    """The address the file had in feedparser's suite: its ``http*`` files were served by its
    test server (their expectations name that address); the others were read from disk,
    with no base address for relative links."""
    if "http" not in path.relative_to(DATA).as_posix():
        return ""
    return f"{TEST_SERVER}/tests/{path.relative_to(DATA).as_posix()}"


#: ``feedparser`` as the expressions name it (feedparser 6 moved ACCEPTABLE_URI_SCHEMES).
_FEEDPARSER = types.SimpleNamespace(
    **vars(feedparser), ACCEPTABLE_URI_SCHEMES=feedparser.urls.ACCEPTABLE_URI_SCHEMES
)


def _evaluate(expect: str, namespace: dict[str, Any]) -> Any:
    return eval(expect, {"feedparser": _FEEDPARSER}, namespace)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # a proxy of the machine must not take local requests


def test_the_data_is_there() -> None:
    files = _files()
    assert len(files) >= 150, "the feedparser test files are missing"
    assert {_file_id(p).rsplit("/", 1)[0] for p in files} == set(FAMILIES)


@pytest.mark.parametrize("path", _files(), ids=_file_id)
def test_feedparser_expectation(path: Path, tmp_path: Path) -> None:
    name = _file_id(path)
    if name in SKIPPED:
        pytest.skip(SKIPPED[name])
    description, expect, headers, skip_unless = read_case(path)
    if skip_unless:
        assert _evaluate(skip_unless, {}), f"{name}: SkipUnless false ({skip_unless})"
    if path.name in VALIDATOR_FILES:
        _check_validators(path, expect, headers, tmp_path)
        return
    url = _served_url(path)
    result = parse_feed(path.read_bytes(), headers, url)
    namespace = dict(result)
    assert _evaluate(expect, namespace), f"{name} ({description}): not {expect}\n{namespace!r}"
    # Whatever the file, normalising its entries never fails and keeps only absolute links.
    for entry in feed_entries(result, url):
        assert entry.titre
        assert not entry.lien or entry.lien.startswith(("http://", "https://"))
    if path.parent.name == "sanitize":
        _check_sanitised(path, result, url)


def _check_sanitised(path: Path, result: Any, url: str) -> None:
    """What would be stored (the normalised summary, cleaned) has nothing dangerous in it."""
    unsanitised = feedparser.parse(
        io.BytesIO(path.read_bytes()), response_headers={"content-location": url}, sanitize_html=False
    )
    for parsed in (result, unsanitised):  # the second: our cleaner alone, no first layer
        assert parsed.entries, "a sanitize file has an entry"
        for raw in parsed.entries:
            entry = normalise_entry(raw, url)
            if entry is None:  # nothing left to store (an image with a handler, no title)
                continue
            assert isinstance(entry, FeedEntry)
            for text in (clean_html(entry.resume_html), entry.resume_html, entry.resume, entry.titre):
                assert not DANGEROUS.search(text), text
    raw_html = unsanitised.entries[0].get("content", [{}])[0].get("value") or unsanitised.entries[0].summary
    assert DANGEROUS.search(raw_html), "the file's raw HTML should be hostile"


def _check_validators(path: Path, expect: str, headers: dict[str, str], tmp_path: Path) -> None:
    """Serve the file with its headers; evaluate the expectation on what the fetch recorded."""
    with serving() as server:
        server.route("/feed.xml", path.read_bytes(), headers={"Content-Type": "application/xml", **headers})
        source = WatchSource(
            id="essai",
            nom="Essai",
            editeur="Essai",
            langue="fr",
            thematiques=(),
            flux=server.url("/feed.xml"),
        )
        (report,) = fetch_watch(tmp_path, {"essai": source}, today=dt.date(2026, 3, 1), timeout=5)
    assert report.outcome == "ok", report.line()
    state = json.loads((tmp_path / "watch" / "etat.json").read_text(encoding="utf-8"))["essai"]
    result = parse_feed(path.read_bytes(), headers, server.url("/feed.xml"))
    namespace = dict(result)
    if state["etag"]:
        namespace["etag"] = state["etag"]
    if state["last_modified"]:
        namespace["modified"] = state["last_modified"]
        parsed = email.utils.parsedate_tz(state["last_modified"])
        if parsed:
            namespace["modified_parsed"] = parsed
    assert _evaluate(expect, namespace), f"not {expect}; state {state}"
