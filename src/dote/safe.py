"""The one place that decides how untrusted text becomes HTML, Markdown or a link.

Everything written in a register (and, later, in a watch feed) is untrusted text: a
pull request from anyone may carry it. It never becomes markup, Markdown or template
code. Every output path goes through this module:

- generated pages: Jinja templates with autoescaping (:func:`dote.render.environment`),
  links through :func:`safe_url`, page titles through :func:`html_text`;
- hand-written Markdown pages: the values offered by the macros are
  :func:`markdown_text` (escaped for HTML *and* Markdown) and their web and e-mail
  addresses are re-checked by :func:`safe_url` and :func:`safe_email`;
- SVG badges: the same autoescaped templates.

A value is escaped once, where it is written, never stored escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from markupsafe import Markup

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Characters kept as they are in a URL; every other one is percent-encoded, so that a
# URL is one inert token in an HTML attribute, a Markdown link or a CSS value
# (no quote, parenthesis, bracket, angle bracket, backtick, brace or space survives).
_URL_SAFE = "/:?#@&=+$,;%~-._!*"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A deliberately plain address: what a French organisation's mailbox looks like, and
# nothing that could close an attribute or start markup.
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
# Markdown punctuation (Python-Markdown's escapable characters, the table pipe, the
# attribute-list braces and the strike tilde), written as HTML character references:
# they display the same in Markdown text and in raw HTML blocks, and start nothing.
_MARKDOWN = {c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+!|~"}
# One table, applied in one pass, so that no replacement is escaped again.
_MARKDOWN_AND_HTML = {**_MARKDOWN, "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}


def html_text(value: object) -> str:
    """Text for an HTML element or a quoted attribute: ``<``, ``>``, ``&`` and quotes escaped."""
    return html.escape(str(value), quote=True)


def pagefind_value(value: object) -> str:
    """A search-filter value, shown as written and never as markup.

    Pagefind decodes character references when it indexes a filter value, and its
    interface writes the value as HTML: no escaping survives both. The three characters
    that could start a tag or a character reference are replaced by look-alikes
    (‹ › ＆); the template then escapes the value for its attribute as usual.
    """
    return str(value).replace("<", "\u2039").replace(">", "\u203a").replace("&", "\uff06")


def markdown_text(value: object) -> Markup:
    """Text for a Markdown page: HTML-escaped, and no Markdown or template syntax left live.

    The result is marked safe (:class:`markupsafe.Markup`) so that a template engine
    with autoescaping does not escape it twice.
    """
    return Markup("".join(_MARKDOWN_AND_HTML.get(c, c) for c in str(value)))


def safe_url(value: object) -> str:
    """The URL if its scheme is ``http``, ``https`` or ``mailto``, else ``""``.

    The URL comes back percent-encoded wherever a character could end an attribute,
    a Markdown link or a CSS ``url()``: it can be written anywhere as one token.
    """
    text = str(value).strip()
    if _CONTROL.search(text):
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in SAFE_SCHEMES:
        return ""
    if parts.scheme.lower() in ("http", "https") and not parts.netloc:
        return ""
    return quote(text, safe=_URL_SAFE)


def safe_email(value: object) -> str:
    """The e-mail address if it is a plain one (``nom@domaine.fr``), else ``""``."""
    text = str(value).strip()
    return text if _EMAIL.match(text) else ""


def markdown_values(
    data: Any, *, urls: frozenset[str] = frozenset(), emails: frozenset[str] = frozenset()
) -> Any:
    """Register data made safe for hand-written Markdown pages, recursively.

    Strings become :func:`markdown_text`; the values of keys named in ``urls`` become
    :func:`safe_url` and those in ``emails`` :func:`safe_email` (an unsafe one is
    offered as an empty string). Numbers and booleans are kept.
    """

    def convert(value: Any, key: str | None) -> Any:
        if isinstance(value, Mapping):
            return {str(k): convert(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v, key) for v in value]
        if isinstance(value, str):
            if key in urls:
                return Markup(html_text(safe_url(value)))
            if key in emails:
                return Markup(safe_email(value))
            return markdown_text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        return markdown_text(value)

    return convert(data, None)
