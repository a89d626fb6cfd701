"""The Content-Security-Policy of every page: the site runs only its own code.

Each HTML page gets a ``<meta http-equiv="Content-Security-Policy">`` as the first
element of its ``<head>``: scripts only from the site itself, plus the inline scripts
that the theme writes in that very page, allowed by their SHA-256 hash. The hashes are
those of the page without its content (see :func:`with_policy`): an inline script in the
content, were one ever to slip through escaping, would not run;
no plugin objects, no foreign base URL, forms and connections only to the site.
Pagefind's search runs WebAssembly (``'wasm-unsafe-eval'``). Styles allow inline
``style`` attributes, which the theme uses.

A meta policy cannot set ``frame-ancestors``: :data:`HEADERS` is what to send as an HTTP
header where the host allows it (documented in the threat-model page).
"""

from __future__ import annotations

import base64
import hashlib
import re

_INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.DOTALL | re.IGNORECASE)
_HEAD = re.compile(r"<head[^>]*>", re.IGNORECASE)
# Script types a browser executes (a JSON data block is not executed: no hash needed).
_EXECUTED = re.compile(r"""\btype\s*=\s*["']?(?!(text/javascript|module|application/javascript)\b)""", re.I)

BASE = (
    "default-src 'self'; "
    "script-src 'self' 'wasm-unsafe-eval'{hashes}; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "font-src 'self'; "
    "connect-src 'self'; "
    "worker-src 'self' blob:; "
    "object-src 'none'; "
    "base-uri 'self'; "
    "form-action 'self'"
)
#: The policy to send as an HTTP header, where the host allows it. A browser enforces
#: both the header and the page's meta policy, so the header only adds what a meta
#: policy cannot say, and repeats nothing that would block the pages' hashed scripts.
HEADERS = "frame-ancestors 'self'; object-src 'none'; base-uri 'self'"


def inline_hashes(html: str) -> list[str]:
    """The CSP sources of the inline scripts a page executes, in order of appearance."""
    found = []
    for match in _INLINE_SCRIPT.finditer(html):
        attrs = match["attrs"]
        if re.search(r"\bsrc\s*=", attrs, re.I) or _EXECUTED.search(attrs):
            continue
        digest = hashlib.sha256(match["body"].encode("utf-8")).digest()
        source = f"'sha256-{base64.b64encode(digest).decode('ascii')}'"
        if source not in found:
            found.append(source)
    return found


def policy(html: str) -> str:
    """The policy of one page: :data:`BASE` with the hashes of its own inline scripts."""
    hashes = "".join(f" {h}" for h in inline_hashes(html))
    return BASE.format(hashes=hashes)


def with_policy(html: str, theme: str | None = None) -> str:
    """The page with its policy as the first element of ``<head>`` (unchanged without a head).

    ``theme`` is the page as the theme wrote it, without its content: the policy allows the
    inline scripts of that only, so that a script in the content (register, feed or template
    text, were one ever to slip through escaping) does not run. Without it, ``html`` itself: a
    page made by the site's own code only, with nothing from outside (a theme's template).
    """
    head = _HEAD.search(html)
    if head is None or 'http-equiv="Content-Security-Policy"' in html:
        return html
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy(html if theme is None else theme)}">'
    return html[: head.end()] + meta + html[head.end() :]


def without_content(page: str, content: str | None) -> str | None:
    """A themed ``page`` without its ``content`` (which the theme writes as it is), for
    :func:`with_policy`; ``None`` if the content is not found whole in it (something changed
    it after the theme: its inline scripts could not be told from the theme's)."""
    if not content:
        return page
    start = page.find(content)
    return page[:start] + page[start + len(content) :] if start >= 0 else None
