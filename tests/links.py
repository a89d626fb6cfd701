"""The internal links of a built site: every one must lead to a file, and to an anchor there.

Used by tests/test_site_links.py (the demo, or a site named in the environment) and by
tests/test_skeleton.py (a territory fresh from ``dote init``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit


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


def target(site: Path, page: Path, link: str) -> tuple[Path, str] | None:
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


@dataclass
class LinkReport:
    """The internal links of a site: how many were followed, and those that lead nowhere."""

    pages: int = 0
    checked: int = 0
    broken: list[str] = field(default_factory=list)  # "page: link → what is missing", sorted
    followed: set[str] = field(default_factory=set)  # every internal link, as "page: link"


def check_links(site: Path) -> LinkReport:
    """Follow every internal link and anchor of every HTML page of ``site``."""
    pages = {path: _parse(path) for path in site.rglob("*.html")}
    report = LinkReport(pages=len(pages))
    broken: set[str] = set()
    for page, parsed in pages.items():
        name = page.relative_to(site).as_posix()
        for link in parsed.links:
            found = target(site, page, link)
            if found is None:
                continue
            file, anchor = found
            report.checked += 1
            report.followed.add(f"{name}: {link}")
            if not file.is_file():
                broken.add(f"{name}: {link} → fichier absent")
            elif anchor and file.suffix == ".html" and anchor not in pages[file].ids:
                broken.add(f"{name}: {link} → ancre absente")
    report.broken = sorted(broken)
    return report
