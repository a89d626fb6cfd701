"""Fetching the watch's feeds (``dote watch fetch``): HTTP, parsing, item files, state.

Each source of ``watch/sources.yml`` that has a feed (``flux``) is fetched over HTTP with
:mod:`httpx` (bounded concurrency, a timeout per request, a cap on the body's size, an
honest User-Agent, conditional requests), parsed with :mod:`feedparser` from the bytes
received (feedparser never fetches anything itself), normalised into
:class:`~dote.watch.FeedEntry` values and written, one YAML file per item, by
:class:`~dote.watch.ItemStore`.

What the fetch must remember between runs (validators for conditional requests,
consecutive failures, a permanent redirect to report, a feed withdrawn with HTTP 410) is
kept in one small JSON file, ``watch/etat.json``, written atomically with sorted keys so
that a pull request shows its changes plainly.

A source that fails (network, HTTP status, a body that is no feed, an unreadable item
file) never stops the others and never raises: its :class:`SourceReport` says what
happened, in French, and the items already stored are left untouched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import feedparser  # type: ignore[import-untyped]
import httpx
import yaml

from dote.files import write_atomic
from dote.layout import MAISON_FILE, REGISTERS
from dote.problems import Problem
from dote.watch import (
    STATE_FILE,
    WATCH,
    FeedEntry,
    ItemStore,
    WatchSource,
    clean_html,
    plain_text,
)

#: The largest body read from a feed (more is refused: "flux trop volumineux").
MAX_BODY_BYTES = 5 * 1024 * 1024
#: The most entries taken from one feed (feeds list their newest entries first).
MAX_ENTRIES = 200
#: The longest plain-text summary kept, in characters (cut at a word, with an ellipsis).
MAX_SUMMARY_CHARS = 2000
#: The longest sanitised HTML summary kept; a longer one is dropped (the plain text stays).
MAX_SUMMARY_HTML_CHARS = 8000
#: The longest title kept, in characters.
MAX_TITLE_CHARS = 300
#: The longest feed id kept as is; a longer one is replaced by its hash.
MAX_ID_CHARS = 500
#: A whole exchange (headers and body) may take this many times the per-request timeout.
TOTAL_TIME_FACTOR = 3
MAX_REDIRECTS = 5
UNTITLED = "(sans titre)"

Outcome = Literal["ok", "inchange", "echec", "retiree", "ignoree"]

_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
_PERMANENT = (301, 308)
#: feedparser's "bozo" reasons that do not make a feed malformed (a charset declared
#: wrongly, a feed served as text/plain, an undeclared namespace prefix).
_BENIGN = (feedparser.ThingsNobodyCaresAboutButMe,)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NOT_IN_URL = re.compile(r"[\s<>\"\\^`{|}]")
#: feedparser keeps module-level state while parsing; one parse at a time is the safe way
#: (parsing is CPU-bound anyway: threads would not run it in parallel).
_PARSE_LOCK = threading.Lock()


# --- reports ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceReport:
    """What one fetch did for one source; :meth:`line` says it in one French line."""

    source: str
    outcome: Outcome
    nouveaux: int = 0
    mis_a_jour: int = 0
    inchanges: int = 0
    #: Why the fetch failed or the source was skipped; a remark on a malformed feed.
    message: str = ""
    #: The new address when the feed's address redirects permanently (301, 308).
    url_permanente: str = ""
    echecs_consecutifs: int = 0
    #: The feed had errors but some entries could be recovered (and were kept).
    mal_forme: bool = False

    @property
    def failed(self) -> bool:
        return self.outcome == "echec"

    def line(self) -> str:
        """One French summary line, for the editor who ran the command."""
        parts: list[str] = []
        if self.outcome == "ok":
            parts.append(
                f"{_count(self.nouveaux, 'nouveau', 'nouveaux')}, {self.mis_a_jour} mis à jour, "
                f"{_count(self.inchanges, 'inchangé', 'inchangés')}"
            )
            if self.mal_forme:
                parts.append(f"flux mal formé ({self.message}), les entrées lisibles sont gardées")
        elif self.outcome == "inchange":
            parts.append("flux inchangé depuis la dernière récupération")
        elif self.outcome == "echec":
            text = f"échec ({self.message})"
            if self.echecs_consecutifs > 1:
                text += f", {self.echecs_consecutifs}e échec consécutif"
            parts.append(text + " ; les éléments déjà récupérés sont gardés")
        elif self.outcome == "retiree":
            parts.append(
                "flux retiré par son éditeur (HTTP 410) : il ne sera plus demandé ; "
                "indiquez sa nouvelle adresse dans watch/sources.yml ou retirez la source"
            )
        else:
            parts.append(self.message or "ignorée")
        if self.url_permanente:
            parts.append(
                f"redirection permanente vers {self.url_permanente}, mettez à jour watch/sources.yml"
            )
        return f"{self.source} : " + " ; ".join(parts)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n <= 1 else many}"


# --- state -----------------------------------------------------------------------------


@dataclass
class SourceState:
    """What the fetch remembers of one source between runs (one entry of ``etat.json``)."""

    flux: str = ""
    etag: str | None = None
    last_modified: str | None = None
    derniere_reussite: str | None = None
    derniere_erreur: str | None = None
    echecs_consecutifs: int = 0
    url_permanente: str | None = None
    retiree: bool = False

    @classmethod
    def from_json(cls, data: object) -> SourceState:
        """A state entry from JSON; a value of the wrong type is forgotten, never trusted."""
        if not isinstance(data, dict):
            return cls()

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        failures = data.get("echecs_consecutifs")
        return cls(
            flux=text("flux") or "",
            etag=text("etag"),
            last_modified=text("last_modified"),
            derniere_reussite=text("derniere_reussite"),
            derniere_erreur=text("derniere_erreur"),
            echecs_consecutifs=failures if isinstance(failures, int) and failures >= 0 else 0,
            url_permanente=text("url_permanente"),
            retiree=data.get("retiree") is True,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "flux": self.flux,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "derniere_reussite": self.derniere_reussite,
            "derniere_erreur": self.derniere_erreur,
            "echecs_consecutifs": self.echecs_consecutifs,
            "url_permanente": self.url_permanente,
            "retiree": self.retiree,
        }


def state_path(root: Path) -> Path:
    return root / WATCH / STATE_FILE


def load_state(root: Path) -> dict[str, SourceState]:
    """The state of the last fetch; a missing or unreadable file is an empty state."""
    try:
        data = json.loads(state_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): SourceState.from_json(v) for k, v in data.items()}


def state_text(states: Mapping[str, SourceState]) -> str:
    """The JSON text of the state: sorted keys, indented, one trailing newline."""
    data = {k: states[k].to_json() for k in states}
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# --- HTTP ------------------------------------------------------------------------------


def user_agent(contact_url: str = "") -> str:
    """``maison-dote/VERSION (+URL; veille juridique)``: who fetches, and where to ask."""
    try:
        release = version("maison-dote")
    except PackageNotFoundError:
        release = "dev"
    contact = f"+{contact_url}; " if contact_url.startswith(("https://", "http://")) else ""
    return f"maison-dote/{release} ({contact}veille juridique)"


def _territory_site(root: Path) -> str:
    """The Maison's web site (``registers/maison.yml``, key ``site``), or ``""``."""
    try:
        data = yaml.safe_load((root / REGISTERS / MAISON_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return ""
    site = data.get("site") if isinstance(data, dict) else None
    return site if isinstance(site, str) and site.startswith(("https://", "http://")) else ""


class _Failure(Exception):
    """A fetch that failed for a reason the editor reads (French ``message``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class _Response:
    status: int
    url: str
    headers: dict[str, str]
    body: bytes = b""
    permanent_url: str = ""


def _permanent_target(response: httpx.Response) -> str:
    """Where the requested address now lives, if it redirects permanently (301, 308).

    Only the redirects at the start of the chain count: ``A -301-> B -302-> C`` means
    the feed's address is now ``B``; ``A -302-> B -301-> C`` leaves ``A`` as it is.
    """
    chain = [*response.history, response]
    target = ""
    for index, step in enumerate(chain[:-1]):
        if step.status_code not in _PERMANENT:
            break
        target = str(chain[index + 1].url)
    return target


def _request(client: httpx.Client, url: str, state: SourceState, timeout: float) -> _Response:
    headers = {"Accept": _ACCEPT}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    deadline = time.monotonic() + timeout * TOTAL_TIME_FACTOR
    with client.stream("GET", url, headers=headers) as response:
        result = _Response(
            status=response.status_code,
            url=str(response.url),
            headers={k.lower(): v for k, v in response.headers.items()},
            permanent_url=_permanent_target(response),
        )
        if response.status_code != 200:
            return result
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise _Failure(_too_large())
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _Failure(_too_large())
            if time.monotonic() > deadline:
                raise _Failure(
                    f"délai dépassé : le flux n'a pas été reçu en {timeout * TOTAL_TIME_FACTOR:g} s"
                )
            chunks.append(chunk)
        result.body = b"".join(chunks)
        return result


def _too_large() -> str:
    return f"flux trop volumineux (plus de {MAX_BODY_BYTES // (1024 * 1024)} Mio)"


def _network_message(error: httpx.HTTPError, timeout: float) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"délai dépassé : pas de réponse en {timeout:g} s"
    if isinstance(error, httpx.TooManyRedirects):
        return "trop de redirections"
    if isinstance(error, httpx.UnsupportedProtocol):
        return "redirection vers une adresse qui n'est pas http ou https"
    if isinstance(error, httpx.ConnectError):
        return "connexion impossible (serveur injoignable ou nom inconnu)"
    if isinstance(error, httpx.RemoteProtocolError):
        return "réponse HTTP invalide ou interrompue"
    if isinstance(error, httpx.DecodingError):
        return "réponse compressée illisible"
    return f"erreur réseau ({type(error).__name__})"


def _status_message(status: int) -> str:
    reasons = {
        401: "authentification demandée",
        403: "accès refusé",
        404: "flux introuvable",
        429: "trop de requêtes, le serveur demande d'attendre",
    }
    reason = reasons.get(status) or ("erreur du serveur" if status >= 500 else "réponse inattendue")
    return f"HTTP {status} : {reason}"


# --- parsing ---------------------------------------------------------------------------


def parse_feed(body: bytes, headers: Mapping[str, str], url: str) -> Any:
    """feedparser's result for the bytes of a feed received from ``url``.

    ``headers`` are the response's headers: their ``content-type`` gives the charset (an
    undeclared Latin-1 or Windows-1252 feed is still decoded right) and their
    ``content-location``, resolved against ``url``, the base of relative links (``url``
    itself when absent or not http/https). A body sent without a media type is read as
    XML. feedparser only parses: it gets a stream, so
    it never opens a URL or a file. Its own sanitiser stays on as a first layer; what is
    stored goes through :func:`dote.watch.clean_html` anyway.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    base = urllib.parse.urljoin(url, lowered.get("content-location", "").strip()) if url else ""
    if not base.startswith(("http://", "https://")):
        base = url
    lowered["content-location"] = base
    if not lowered.get("content-type", "").strip():
        # No media type: read it as XML (its declaration or byte order mark gives the
        # charset, else UTF-8), as feedparser reads a local file, not as a non-XML body.
        lowered["content-type"] = "application/xml"
    with _PARSE_LOCK:
        return feedparser.parse(
            io.BytesIO(body), response_headers=lowered, resolve_relative_uris=True, sanitize_html=True
        )


def feed_problem(result: Any) -> tuple[bool, str]:
    """Whether a parsed body is usable, and what is wrong with it (French, or ``""``).

    Not usable: no entry and no recognised feed format (an HTML page, JSON, nothing), or
    a malformed feed from which no entry could be recovered. Usable but malformed:
    feedparser met an error yet recovered entries (a truncated feed); the message says
    so. A charset declared wrongly is not worth a remark. A well-formed feed with no
    entry is usable (nothing to add).
    """
    entries = result.get("entries") or []
    exception = result.get("bozo_exception") if result.get("bozo") else None
    if not entries and not result.get("version"):
        return False, "ce n'est pas un flux RSS ou Atom lisible"
    if exception is None or isinstance(exception, _BENIGN):
        return True, ""
    if not entries:
        return False, "flux mal formé (erreur de syntaxe XML), aucune entrée lisible"
    return True, "erreur de syntaxe XML"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _clip(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def absolute_link(link: str, base: str) -> str:
    """``link`` made absolute against ``base``; ``""`` unless the result is http(s)."""
    link = link.strip()
    if not link:
        return ""
    absolute = urllib.parse.urljoin(base, link) if base else link
    if urllib.parse.urlsplit(absolute).scheme.lower() not in ("http", "https"):
        return ""
    absolute = _NOT_IN_URL.sub(lambda m: urllib.parse.quote(m.group(), safe=""), absolute)
    return absolute if urllib.parse.urlsplit(absolute).netloc else ""


def _date(entry: Mapping[str, Any]) -> dt.date | None:
    for key in ("published_parsed", "updated_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return dt.date(parsed[0], parsed[1], parsed[2])
            except (TypeError, ValueError, IndexError):
                continue
    return None


def normalise_entry(entry: Mapping[str, Any], base: str) -> FeedEntry | None:
    """One feedparser entry as a :class:`FeedEntry`; ``None`` if it says nothing at all."""
    # Every text of a feed is read as HTML, even one the feed calls plain text: markup in
    # it is removed, never stored as text that a careless template could render.
    title = _clip(_CONTROL.sub("", plain_text(_text(entry.get("title")))), MAX_TITLE_CHARS)
    link = absolute_link(_text(entry.get("link")), base)

    summary_html = ""
    if _text(entry.get("summary")).strip():
        summary_html = _text(entry.get("summary"))
    else:
        for content in entry.get("content") or ():
            if isinstance(content, Mapping) and _text(content.get("value")).strip():
                summary_html = _text(content.get("value"))
                break
    summary_html = _CONTROL.sub("", summary_html)
    resume = _clip(plain_text(summary_html), MAX_SUMMARY_CHARS) if summary_html else ""
    resume_html = clean_html(summary_html) if summary_html else ""
    if len(resume_html) > MAX_SUMMARY_HTML_CHARS or not plain_text(resume_html):
        resume_html = ""

    if not (title or link or resume):
        return None
    ident = _CONTROL.sub("", _text(entry.get("id"))).strip()
    if not ident:
        ident = link or "sha256:" + hashlib.sha256(f"{title}\0{resume}".encode()).hexdigest()
    elif len(ident) > MAX_ID_CHARS:
        ident = "sha256:" + hashlib.sha256(ident.encode()).hexdigest()
    return FeedEntry(
        id=ident,
        titre=title or UNTITLED,
        lien=link,
        date=_date(entry),
        resume=resume,
        resume_html=resume_html,
    )


def feed_entries(result: Any, base: str, limit: int = MAX_ENTRIES) -> list[FeedEntry]:
    """The first ``limit`` usable entries of a parsed feed, normalised."""
    entries: list[FeedEntry] = []
    for raw in (result.get("entries") or [])[:limit]:
        entry = normalise_entry(raw, base)
        if entry is not None:
            entries.append(entry)
    return entries


# --- fetching --------------------------------------------------------------------------


def _store_problem(problems: list[Problem]) -> str:
    first = problems[0]
    where = f"{first.position.file}:{first.position.line}"
    more = f" (et {len(problems) - 1} autre(s) problème(s))" if len(problems) > 1 else ""
    return (
        f"élément de veille illisible, {where} : {first.message}{more} ; "
        "corrigez ce fichier pour que la source soit de nouveau récupérée"
    )


def _fetch_source(
    client: httpx.Client, root: Path, source: WatchSource, state: SourceState, today: dt.date, timeout: float
) -> tuple[SourceReport, SourceState]:
    """Fetch one source; never raises for network, HTTP or feed problems."""

    def failure(message: str, permanent: str = "") -> tuple[SourceReport, SourceState]:
        state.derniere_erreur = message
        state.echecs_consecutifs += 1
        state.url_permanente = permanent or state.url_permanente
        report = SourceReport(
            source.id,
            "echec",
            message=message,
            url_permanente=permanent,
            echecs_consecutifs=state.echecs_consecutifs,
        )
        return report, state

    store = ItemStore(root, source)
    if store.problems:
        return failure(_store_problem(store.problems))
    if not source.flux.startswith(("https://", "http://")):
        return failure("adresse du flux invalide : http:// ou https:// attendu")
    try:
        response = _request(client, source.flux, state, timeout)
    except _Failure as error:
        return failure(error.message)
    except httpx.HTTPError as error:
        return failure(_network_message(error, timeout))
    except httpx.InvalidURL:
        return failure("adresse du flux invalide")

    permanent = response.permanent_url
    if response.status == 304:
        state.derniere_reussite = today.isoformat()
        state.derniere_erreur = None
        state.echecs_consecutifs = 0
        state.url_permanente = permanent or None
        return SourceReport(source.id, "inchange", url_permanente=permanent), state
    if response.status == 410:
        state.retiree = True
        state.etag = state.last_modified = None
        state.derniere_erreur = "HTTP 410 : flux retiré par son éditeur"
        state.url_permanente = permanent or None
        return SourceReport(source.id, "retiree", url_permanente=permanent), state
    if response.status != 200:
        return failure(_status_message(response.status), permanent)

    try:
        result = parse_feed(response.body, response.headers, response.url)
    except (ValueError, LookupError, UnicodeError, AttributeError, TypeError) as error:
        # feedparser recovers from nearly everything; a body it chokes on is no feed.
        return failure(f"flux illisible ({type(error).__name__})", permanent)
    usable, remark = feed_problem(result)
    if not usable:
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        return failure(remark + (f" (type reçu : {kind})" if kind else ""), permanent)

    counts = {"nouveau": 0, "mis-a-jour": 0, "inchange": 0}
    for entry in feed_entries(result, response.url):
        counts[store.upsert(entry, today)] += 1

    state.etag = response.headers.get("etag") or None
    state.last_modified = response.headers.get("last-modified") or None
    state.derniere_reussite = today.isoformat()
    state.derniere_erreur = None
    state.echecs_consecutifs = 0
    state.url_permanente = permanent or None
    report = SourceReport(
        source.id,
        "ok",
        nouveaux=counts["nouveau"],
        mis_a_jour=counts["mis-a-jour"],
        inchanges=counts["inchange"],
        message=remark,
        url_permanente=permanent,
        mal_forme=bool(remark),
    )
    return report, state


def _current_state(source: WatchSource, previous: SourceState | None) -> SourceState:
    """The source's state, reset when ``watch/sources.yml`` changed the feed's address."""
    if previous is None or previous.flux != source.flux:
        return SourceState(flux=source.flux)
    return previous


def fetch_watch(
    root: Path,
    sources: Mapping[str, WatchSource],
    *,
    today: dt.date,
    timeout: float = 20.0,
    concurrency: int = 4,
    transport: httpx.BaseTransport | None = None,
    site_url: str = "",
) -> list[SourceReport]:
    """Fetch every feed of ``sources`` into the territory at ``root``; one report per source.

    Reports come in the order of ``sources``. The state file is written once, at the end
    (atomically): a run interrupted by a crash leaves the previous state as it was, and
    every item file complete (old or new). ``site_url`` (default: the Maison's ``site``)
    is named in the User-Agent so that a feed's publisher knows whom to ask.
    """
    previous = load_state(root)
    states: dict[str, SourceState] = {}
    reports: dict[str, SourceReport] = {}
    to_fetch: list[tuple[WatchSource, SourceState]] = []
    for ident, source in sources.items():
        if not source.flux:
            reports[ident] = SourceReport(ident, "ignoree", message="suivie à la main (pas de flux)")
            continue
        state = _current_state(source, previous.get(ident))
        states[ident] = state
        if state.retiree:
            reports[ident] = SourceReport(
                ident,
                "ignoree",
                message="flux retiré par son éditeur (HTTP 410), plus demandé ; "
                "indiquez sa nouvelle adresse dans watch/sources.yml ou retirez la source",
            )
            continue
        to_fetch.append((source, state))

    if to_fetch:
        headers = {"User-Agent": user_agent(site_url or _territory_site(root))}
        with (
            httpx.Client(
                headers=headers,
                timeout=httpx.Timeout(timeout),
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                transport=transport,
                limits=httpx.Limits(max_connections=max(1, concurrency)),
            ) as client,
            ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool,
        ):
            futures = {
                source.id: pool.submit(_fetch_source, client, root, source, state, today, timeout)
                for source, state in to_fetch
            }
            for ident, future in futures.items():
                reports[ident], states[ident] = future.result()

    write_atomic(state_path(root), state_text(states))
    return [reports[ident] for ident in sources]
