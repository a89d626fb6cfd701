"""Rendering: the HTML fragments of generated pages, from Jinja templates.

Templates ship in ``dote/templates``; a territory overrides any of them by placing a
file of the same name in ``overrides/dote/``. The environment autoescapes everything,
and only ``http``, ``https`` and ``mailto`` links are ever written into an ``href``.
Nothing here knows about MkDocs: a page is a source address, a title and a function of
the page's own URL (for relative links).
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from dote.model import Territory

_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_SAFE_SCHEMES = {"http", "https", "mailto"}
TEMPLATE_OVERRIDES = Path("overrides") / "dote"


def date_fr(value: dt.date) -> str:
    """2026-02-01 → « 1er février 2026 »."""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {_MONTHS[value.month - 1]} {value.year}"


def number_fr(value: int) -> str:
    """4200 → « 4 200 » (narrow no-break space, as French typography wants)."""
    return f"{value:,}".replace(",", "\u202f")


def safe_url(value: str) -> str:
    """The URL if its scheme is safe to link to, else an empty string."""
    try:
        scheme = urlsplit(value.strip()).scheme.lower()
    except ValueError:
        return ""
    return value.strip() if scheme in _SAFE_SCHEMES else ""


def relative_url(from_url: str, to_url: str) -> str:
    """A link from the page at ``from_url`` to ``to_url`` (both site-relative, "" is home)."""
    base = posixpath.dirname(from_url) if not from_url.endswith("/") else from_url.rstrip("/")
    target = posixpath.relpath(to_url or ".", base or ".")
    if to_url.endswith("/") and not target.endswith("/"):
        target += "/"
    return "./" if target in (".", "./") else target


def environment(root: Path) -> jinja2.Environment:
    """The Jinja environment: the territory's overrides first, then the package's templates."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(str(root / TEMPLATE_OVERRIDES)),
                jinja2.PackageLoader("dote", "templates"),
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(date_fr=date_fr, number_fr=number_fr, safe_url=safe_url)
    return env


@dataclass(frozen=True)
class GeneratedPage:
    """A page the pipeline adds to the site: where it lives, its title, how to render it."""

    src_uri: str  # as if it were a Markdown file of docs/
    url: str  # its address with directory URLs, for links between generated pages
    title: str
    render: Callable[[str], str]  # page URL → HTML fragment


def register_pages(territory: Territory, env: jinja2.Environment) -> list[GeneratedPage]:
    """The register index and one page per member."""
    members = {m.id: m for m in territory.members}
    index_url = "registres/"

    def member_url(member_id: str) -> str:
        return f"registres/{member_id}/"

    def context(page_url: str, **extra: Any) -> Mapping[str, Any]:
        return {
            "territory": territory,
            "processors": territory.processors,
            "href_member": lambda member_id: relative_url(page_url, member_url(member_id)),
            "href_index": relative_url(page_url, index_url),
            **extra,
        }

    pages = [
        GeneratedPage(
            "registres/index.md",
            index_url,
            "Registres des membres",
            lambda url: env.get_template("registres.html").render(context(url)),
        )
    ]
    for member in territory.members:

        def render(url: str, member_id: str = member.id) -> str:
            member = members[member_id]
            parent = members.get(member.parent_id) if member.parent_id else None
            return env.get_template("membre.html").render(context(url, page_member=member, parent=parent))

        pages.append(GeneratedPage(f"registres/{member.id}.md", member_url(member.id), member.name, render))
    return pages
