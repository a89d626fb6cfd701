"""Small HTML pieces shared by the generated pages, as Python functions.

The templates call them as ``m.missing()``, ``m.gloss(href_term, "aipd", "AIPD")``…
(the global ``m``). They were Jinja macros; a member page of 30 activities calls them
about 400 times, and a Jinja macro call costs ten times a Python call. Everything from a
register goes through ``markupsafe.escape``, as Jinja's autoescape would, and only ``http``, ``https`` and ``mailto`` links are ever written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from markupsafe import Markup, escape

from dote.safe import safe_email, safe_url

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


def date_fr(value: dt.date) -> str:
    """2026-02-01 → « 1er février 2026 »."""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {_MONTHS[value.month - 1]} {value.year}"


def month_fr(value: dt.date) -> str:
    """2026-02-01 → « Février 2026 » (a heading)."""
    return f"{_MONTHS[value.month - 1].capitalize()} {value.year}"


class Fragments:
    """The pieces, for one territory (``glossary``: whether it publishes docs/glossaire.md)."""

    def __init__(self, glossary: bool) -> None:
        self.glossary = glossary

    @staticmethod
    def missing(text: str = "Non renseigné") -> Markup:
        return Markup(f'<span class="dote-manquant">{escape(text)}</span>')

    def date(self, value: dt.date | None) -> Markup:
        if not value:
            return self.missing()
        return Markup(f'<time datetime="{escape(value.isoformat())}">{escape(date_fr(value))}</time>')

    def term(self, t: Any) -> Markup:
        if not t:
            return self.missing()
        return Markup(f'<span title="{escape(t.description or t.reference)}">{escape(t.label)}</span>')

    @staticmethod
    def link(url: str, text: str | None = None) -> Markup:
        target = safe_url(url)
        if target:
            return Markup(f'<a href="{escape(target)}" rel="noopener">{escape(text or url)}</a>')
        return escape(text or url)

    @staticmethod
    def email(address: str) -> Markup:
        target = safe_email(address)
        if target:
            return Markup(f'<a href="mailto:{escape(target)}">{escape(address)}</a>')
        return escape(address)

    def person(self, p: Any) -> Markup:
        html = escape(p.name)
        if p.email:
            html += Markup(", ") + self.email(p.email)
        if p.address:
            html += Markup(f", {escape(p.address)}")
        if p.phone:
            html += Markup(f", tél. {escape(p.phone)}")
        if p.designation:
            html += Markup(f" (n° de désignation CNIL : {escape(p.designation)})")
        return html

    @staticmethod
    def nature_badge(category: Any) -> Markup:
        if category.nature == "sensible":
            return Markup('<strong class="dote-badge dote-badge--sensible">Donnée sensible (art. 9)</strong>')
        if category.nature == "penale":
            return Markup('<strong class="dote-badge dote-badge--sensible">Infractions (art. 10)</strong>')
        if category.nature == "nir":
            return Markup('<strong class="dote-badge dote-badge--sensible">NIR</strong>')
        return Markup("")

    def gloss(self, href: Callable[[str], str], anchor: str, text: str) -> Markup:
        """A technical term, linked to its definition in the glossary when there is one.

        ``href`` is the page's ``href_term``; ``anchor`` the term's id in the glossary.
        """
        if not self.glossary:
            return escape(text)
        shown = escape(text)
        return Markup(
            f'<a class="dote-terme" href="{escape(href(anchor))}" title="{shown} : définition dans le glossaire">'
            f"{shown}</a>"
        )
