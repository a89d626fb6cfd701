"""The legal and technical watch on the public site: its page, its feeds, its links from activities.

Only published items (:meth:`dote.watch.Watch.published`) ever reach the site. They are
shown in three places:

- the watch page (``/veille/``): every item, newest first and grouped by month, with its
  source, date, the editor's comment, its themes and the members and activities it names;
  select boxes filter it by source and theme in the browser (``veille.js``; without
  JavaScript, every item is listed);
- each activity of a member page: the (at most :data:`PER_ACTIVITY`) newest items that
  share one of its themes or name it or its member, from an index built once per build
  (:class:`WatchIndex`);
- Atom and RSS feeds (``veille/atom.xml``, ``veille/rss.xml`` and one pair per theme that
  has items), made with ``feedgen``. They need absolute addresses: without ``site_url`` in
  ``mkdocs.yml`` they are not written (:func:`feeds_refusal`).

Everything in an item comes from outside and is untrusted: the templates autoescape it,
links go through :func:`dote.safe.safe_url`, the summary's HTML is sanitised again
(:func:`dote.watch.clean_html`), and the feeds carry text only (feedgen escapes it; the
RSS description, which readers take as HTML, is written as escaped text).
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import html
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup

from dote.cache import content_key
from dote.explorer import EXPLORER_URL
from dote.fragments import date_fr, month_fr
from dote.model import Activity, Territory, activity_summaries
from dote.render import GeneratedPage, relative_url
from dote.safe import safe_url
from dote.watch import Watch, WatchItem, clean_html

WATCH_URL = "veille/"
SCRIPT_PATH = "assets/dote/veille.js"
STYLESHEET_PATH = "assets/dote/veille.css"
ATOM = "atom.xml"
RSS = "rss.xml"
TITLE = "Veille juridique et technique"
#: How many items an activity lists, at most.
PER_ACTIVITY = 5
#: The key of the watch page's fingerprint among the pipeline's (see :func:`fingerprint`).
FINGERPRINT = "veille"


def external_url(value: str) -> str:
    """An absolute ``http``/``https`` address, made safe (:func:`safe_url`), else ``""``."""
    url = safe_url(value)
    return url if urlsplit(url).scheme.lower() in ("http", "https") else ""


def site_base(site_url: str) -> str:
    """``site_url`` ending in ``/`` when it is an absolute http(s) address, else ``""``."""
    url = external_url(site_url or "")
    return url if not url or url.endswith("/") else url + "/"


def feeds_refusal(watch: Watch, site_url: str) -> str:
    """Why the feeds are not written (in French), or ``""`` when they are."""
    if site_base(site_url):
        return ""
    if not watch.published():
        return ""  # nothing to say: no item would be in them
    return (
        "dote : veille : les flux Atom et RSS ne sont pas écrits, car leurs liens doivent être des "
        "adresses complètes : indiquez l'adresse publique du site dans mkdocs.yml "
        "(par exemple « site_url: https://rgpd.exemple.fr/ »)"
    )


def fingerprint(base: str, watch: Watch) -> str:
    """What the watch page shows beyond the pipeline's fingerprint ``base``: the sources' names."""
    sources = sorted((s.id, s.nom, s.editeur) for s in watch.sources.values())
    return content_key(base, repr(sources))


# --- the index: published items by theme, member and activity -----------------------------


class WatchIndex:
    """The published items, and for each theme, member and activity the items that concern it.

    Built once per build; :meth:`for_activity` then costs a few list heads per activity,
    whatever the number of items.
    """

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.items: tuple[WatchItem, ...] = tuple(watch.published())
        self.by_theme: dict[str, list[tuple[int, WatchItem]]] = {}
        self.by_member: dict[str, list[tuple[int, WatchItem]]] = {}
        self.by_activity: dict[str, list[tuple[int, WatchItem]]] = {}
        for rank, item in enumerate(self.items):  # newest first: every list stays in that order
            for theme in dict.fromkeys(item.thematiques):
                self.by_theme.setdefault(theme, []).append((rank, item))
            for member in dict.fromkeys(item.membres):
                self.by_member.setdefault(member, []).append((rank, item))
            for activity in dict.fromkeys(item.activites):
                self.by_activity.setdefault(activity, []).append((rank, item))

    def __bool__(self) -> bool:
        return bool(self.items)

    def for_activity(self, activity: Activity, limit: int = PER_ACTIVITY) -> list[WatchItem]:
        """The newest items sharing a theme with ``activity`` or naming it or its member."""
        if not self.items:
            return []
        lists = [self.by_theme.get(t.code, []) for t in activity.themes]
        lists.append(self.by_activity.get(f"{activity.member_id}/{activity.id}", []))
        lists.append(self.by_member.get(activity.member_id, []))
        found: list[WatchItem] = []
        seen: set[int] = set()
        for rank, item in heapq.merge(*(entries[:limit] for entries in lists if entries), key=lambda e: e[0]):
            if rank not in seen:
                seen.add(rank)
                found.append(item)
                if len(found) == limit:
                    break
        return found

    def themes(self) -> list[str]:
        """The themes that have items (in no particular order)."""
        return list(self.by_theme)


def href_item(page_url: str, item: WatchItem) -> str:
    """A link from ``page_url`` to ``item`` on the watch page."""
    return f"{relative_url(page_url, WATCH_URL)}#{item.anchor}"


# --- the page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    href: str
    text: str


@dataclass(frozen=True)
class ShownItem:
    """One item as the page shows it: every value still plain text (the template escapes)."""

    anchor: str
    title: str
    href: str  # the source's page: absolute http(s), or ""
    date: dt.date
    fetched: bool  # the date is the first retrieval's (the feed gave none)
    source_id: str
    source_name: str
    comment: tuple[str, ...]  # paragraphs
    themes: tuple[tuple[str, str], ...]  # (code, label)
    concerned: tuple[Link, ...]
    shared: int  # activities of the territory sharing one of its themes
    href_shared: str
    summary: Markup  # sanitised HTML
    summary_text: str


@dataclass(frozen=True)
class Month:
    id: str
    title: str
    items: tuple[ShownItem, ...]


def paragraphs(text: str) -> tuple[str, ...]:
    """Plain text → its paragraphs (split on blank lines; a line break inside one is a space,
    as editors wrap the lines of a YAML block)."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    return tuple(joined for block in blocks if (joined := " ".join(block.split())))


class WatchSite:
    """What the site shows of the watch, for one build."""

    def __init__(self, watch: Watch, territory: Territory, site_url: str = "") -> None:
        self.watch = watch
        self.territory = territory
        self.index = WatchIndex(watch)
        self.base = site_base(site_url)
        themes = territory.vocabularies["thematiques"]
        self.theme_labels = {
            code: themes[code].label if code in themes else code for code in self.index.themes()
        }

    @functools.cached_property
    def _combinations(self) -> Counter[frozenset[str]]:
        """Activities by their set of themes: few distinct sets, whatever the territory's size
        (counted when the watch page is made, not at every build: it is kept in the cache)."""
        return Counter(s.themes for m in self.territory.members for s in activity_summaries(m))

    # --- feeds ---

    @property
    def feeds_enabled(self) -> bool:
        return bool(self.base)

    def theme_order(self) -> list[str]:
        """The themes that have items, in the vocabulary's order."""
        order = {code: n for n, code in enumerate(self.territory.vocabularies["thematiques"].terms)}
        return sorted(self.index.themes(), key=lambda code: (order.get(code, len(order)), code))

    def feed_paths(self) -> list[tuple[str, str, str]]:
        """``(title, atom path, rss path)`` of every feed, the whole territory's first."""
        if not self.feeds_enabled:
            return []
        found = [("Toute la veille", f"{WATCH_URL}{ATOM}", f"{WATCH_URL}{RSS}")]
        for code in self.theme_order():
            found.append((self.theme_labels[code], f"{WATCH_URL}{code}/{ATOM}", f"{WATCH_URL}{code}/{RSS}"))
        return found

    def files(self, today: dt.date) -> dict[str, bytes]:
        """The feeds, by path in the site (none without ``site_url``)."""
        if not self.feeds_enabled:
            return {}
        found: dict[str, bytes] = {}
        name = self.territory.maison.name
        everything = feeds(self, self.index.items, f"{TITLE} — {name}", WATCH_URL, today)
        found[f"{WATCH_URL}{ATOM}"], found[f"{WATCH_URL}{RSS}"] = everything
        for code in self.theme_order():
            items = tuple(item for _, item in self.index.by_theme[code])
            title = f"{TITLE} — {name} — {self.theme_labels[code]}"
            atom, rss = feeds(self, items, title, f"{WATCH_URL}{code}/", today)
            found[f"{WATCH_URL}{code}/{ATOM}"], found[f"{WATCH_URL}{code}/{RSS}"] = atom, rss
        return found

    def alternate_links(self, page_url: str) -> str:
        """The ``<link rel="alternate">`` elements of the watch page's head."""
        return "".join(
            f'<link rel="alternate" type="{kind}" title="{html.escape(title, quote=True)} ({name})" '
            f'href="{html.escape(relative_url(page_url, path).rstrip("/"), quote=True)}">'
            for title, atom, rss in self.feed_paths()[:1]
            for kind, name, path in (
                ("application/atom+xml", "Atom", atom),
                ("application/rss+xml", "RSS", rss),
            )
        )

    # --- the page ---

    def shown(self, page_url: str) -> list[ShownItem]:
        members = self.territory.members_by_id
        explorer = relative_url(page_url, EXPLORER_URL)
        found = []
        for item in self.index.items:
            concerned: list[Link] = []
            for member_id in item.membres:
                if member_id in members:
                    concerned.append(
                        Link(relative_url(page_url, f"registres/{member_id}/"), members[member_id].name)
                    )
            for key in item.activites:
                member_id, _, activity_id = key.partition("/")
                member = members.get(member_id)
                if member is None:
                    continue
                member_href = relative_url(page_url, f"registres/{member_id}/")
                activity = next((a for a in member.activities if a.id == activity_id), None)
                if activity is None:  # not published by its member: its member's page only
                    concerned.append(Link(member_href, member.name))
                else:
                    concerned.append(Link(f"{member_href}#{activity.id}", f"{activity.name} ({member.name})"))
            themes = tuple(
                (code, self.theme_labels.get(code, code)) for code in dict.fromkeys(item.thematiques)
            )
            wanted = {code for code, _ in themes}
            shared = sum(n for combination, n in self._combinations.items() if combination & wanted)
            query = "&".join(f"theme={quote(code, safe='')}" for code, _ in themes)
            source = self.watch.sources.get(item.source)
            summary = clean_html(item.resume_html) if item.resume_html else ""
            found.append(
                ShownItem(
                    anchor=item.anchor,
                    title=item.titre,
                    href=external_url(item.lien),
                    date=item.date,
                    fetched=item.date_origine == "premiere-recuperation",
                    source_id=item.source,
                    source_name=source.nom if source else item.source,
                    comment=paragraphs(item.commentaire),
                    themes=themes,
                    concerned=tuple(dict.fromkeys(concerned)),
                    shared=shared,
                    href_shared=f"{explorer}?{query}" if query else explorer,
                    summary=Markup(summary),
                    summary_text="" if summary else item.resume.strip(),
                )
            )
        return found

    def page(self, env: jinja2.Environment) -> GeneratedPage:
        def render(url: str) -> str:
            items = self.shown(url)
            months: list[Month] = []
            for item in items:
                key = f"veille-{item.date.year:04d}-{item.date.month:02d}"
                if months and months[-1].id == key:
                    months[-1] = Month(key, months[-1].title, (*months[-1].items, item))
                else:
                    months.append(Month(key, month_fr(item.date), (item,)))
            sources = {item.source_id: item.source_name for item in items}
            return env.get_template("veille.html").render(
                territory=self.territory,
                items=items,
                months=months,
                sources=sorted(sources.items(), key=lambda s: (s[1].casefold(), s[0])),
                themes=[(code, self.theme_labels[code]) for code in self.theme_order()],
                feeds=[
                    (title, relative_url(url, atom).rstrip("/"), relative_url(url, rss).rstrip("/"))
                    for title, atom, rss in self.feed_paths()
                ],
                date_fr=date_fr,
                href_script=relative_url(url, SCRIPT_PATH).rstrip("/"),
                href_stylesheet=relative_url(url, STYLESHEET_PATH).rstrip("/"),
                href_explorer=relative_url(url, EXPLORER_URL),
                href_registers=relative_url(url, "registres/"),
            )

        return GeneratedPage(f"{WATCH_URL}index.md", WATCH_URL, TITLE, render, FINGERPRINT)

    def activity_context(self, page_url: str) -> dict[str, Any]:
        """What ``_activite.html`` needs to list an activity's items."""
        return {
            "watch_for": self.index.for_activity,
            "href_watch": lambda item: href_item(page_url, item),
        }


# --- the feeds ----------------------------------------------------------------------------


def _moment(value: dt.date) -> dt.datetime:
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def _rss_description(text: str) -> str:
    """The comment as RSS readers read a description (HTML): escaped text in paragraphs."""
    return "".join(f"<p>{html.escape(paragraph, quote=True)}</p>" for paragraph in paragraphs(text))


def feeds(
    site: WatchSite, items: Sequence[WatchItem], title: str, folder: str, today: dt.date
) -> tuple[bytes, bytes]:
    """The Atom and RSS feeds of ``items`` (newest first), written in ``folder`` of the site."""
    from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]

    base = site.base
    page = f"{base}{WATCH_URL}"
    generator = FeedGenerator()
    generator.id(f"{base}{folder}")
    generator.title(title)
    generator.subtitle(
        f"Les éléments de veille juridique et technique que {site.territory.maison.name} publie, "
        "avec le commentaire de ses éditeurs."
    )
    generator.language("fr")
    generator.link(href=f"{base}{folder}{ATOM}", rel="self", type="application/atom+xml")
    generator.link(href=page, rel="alternate", type="text/html")
    # The feeds are the same for the same items: their dates are the newest item's.
    newest = _moment(items[0].date if items else today)
    generator.updated(newest)
    generator.lastBuildDate(newest)
    for item in items:
        entry = generator.add_entry(order="append")
        entry.id(f"{page}#{item.anchor}")
        entry.guid(f"{page}#{item.anchor}", permalink=False)
        entry.title(item.titre)
        entry.link(href=external_url(item.lien) or f"{page}#{item.anchor}", rel="alternate")
        entry.published(_moment(item.date))
        entry.updated(_moment(item.date))
        source = site.watch.sources.get(item.source)
        entry.author({"name": source.nom if source else item.source})
        entry.summary(item.commentaire)  # Atom: text, escaped by feedgen
        for code in dict.fromkeys(item.thematiques):
            entry.category(term=code, label=site.theme_labels.get(code, code))
    atom: bytes = generator.atom_str(pretty=True)
    # RSS readers take a description as HTML: the comment goes there as escaped text (set
    # after the Atom feed is written, as feedgen also makes it the Atom summary).
    for entry, item in zip(generator.entry(), items, strict=True):
        entry.description(_rss_description(item.commentaire), isSummary=True)
    generator.link(href=f"{base}{folder}{RSS}", rel="self", type="application/rss+xml", replace=True)
    generator.link(href=page, rel="alternate", type="text/html")
    rss: bytes = generator.rss_str(pretty=True)
    return atom, rss
