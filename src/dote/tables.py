"""Tables of hand-written pages in named scroll regions that the keyboard reaches.

A table written in Markdown can be wider than a phone's screen. Material's script wraps it
in a box that scrolls sideways, but that box takes no keyboard focus, so a keyboard user
cannot scroll it (WCAG 2.1.1, RGAA 7.3; axe's ``scrollable-region-focusable``). The
generated pages put each table in a ``div.dote-table`` region (``role="region"``, a name,
``tabindex="0"``); :func:`scroll_regions` gives the tables of hand-written pages the same,
in the HTML itself, so that it holds without JavaScript too. The site's style sheet makes
the region, not Material's inner box, the one that scrolls.

The page is read with the standard library's HTML parser and the wrapper is inserted at
the offsets where each table starts and ends: the rest of the page is left byte for byte.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser

#: The class of the region wrapped around a table of a hand-written page.
REGION_CLASS = "dote-defilement"
#: Wrappers our templates (``dote-table``) or this module already put around a table.
_WRAPPER_CLASSES = frozenset({"dote-table", REGION_CLASS})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
#: Elements that have no end tag: never on the stack of open elements.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


@dataclass
class _Table:
    """A table to wrap: where it starts and ends in the page, and what names it."""

    start: int
    heading: str  # the text of the nearest heading before it ("" if none)
    end: int | None = None
    caption_id: str = ""
    caption: list[str] = field(default_factory=list)


@dataclass
class _Open:
    tag: str
    wrapper: bool  # a scroll region already (ours, a template's, or a hand-written one)
    table: _Table | None = None  # the table to wrap, when this element is one


class _TableFinder(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.line_starts = [0]
        for number, line in enumerate(page.split("\n")[:-1]):
            self.line_starts.append(self.line_starts[number] + len(line) + 1)
        self.tables: list[_Table] = []
        self.stack: list[_Open] = []
        self.heading = ""
        self.heading_text: list[str] | None = None  # collecting a heading's text
        self.permalink_depth = 0  # inside a heading's permalink (its "¶"), whose text is not the title
        self.caption: _Table | None = None  # collecting the caption of this table

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        classes = set(values.get("class", "").split())
        if tag in _HEADINGS:
            self.heading_text = []
        elif tag == "a" and self.heading_text is not None and "headerlink" in classes:
            self.permalink_depth += 1
        if tag == "caption" and self.stack and self.stack[-1].table is not None:
            self.caption = self.stack[-1].table
            self.caption.caption_id = values.get("id", "")
        if tag in _VOID:
            return
        wrapped = any(element.wrapper or element.tag == "table" for element in self.stack)
        wrapper = bool(classes & _WRAPPER_CLASSES) or (
            values.get("role") == "region" and "tabindex" in values
        )
        table = None
        if tag == "table" and not wrapped:
            table = _Table(start=self._offset(), heading=self.heading)
            self.tables.append(table)
        self.stack.append(_Open(tag, wrapper, table))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <br/>, <img/>…: nothing that opens, names or wraps a table

    def handle_endtag(self, tag: str) -> None:
        if tag in _HEADINGS and self.heading_text is not None:
            self.heading = " ".join("".join(self.heading_text).split())
            self.heading_text = None
            self.permalink_depth = 0
        elif tag == "a" and self.permalink_depth:
            self.permalink_depth -= 1
        elif tag == "caption":
            self.caption = None
        if not any(element.tag == tag for element in self.stack):
            return  # a stray end tag
        while self.stack:
            element = self.stack.pop()
            if element.tag == tag:
                if element.table is not None:
                    element.table.end = self.page.index(">", self._offset()) + 1
                return

    def handle_data(self, data: str) -> None:
        if self.heading_text is not None and not self.permalink_depth:
            self.heading_text.append(data)
        if self.caption is not None:
            self.caption.caption.append(data)


def _names(tables: list[_Table]) -> list[str]:
    """The attributes naming each table's region, in French: its caption, or its section."""
    under = Counter(table.heading for table in tables)
    rank: Counter[str] = Counter()
    names = []
    for position, table in enumerate(tables, start=1):
        caption = " ".join("".join(table.caption).split())
        if table.caption_id:
            names.append(f'aria-labelledby="{escape(table.caption_id)}"')
            continue
        if caption:
            label = caption
        elif table.heading:
            rank[table.heading] += 1
            number = f" {rank[table.heading]}" if under[table.heading] > 1 else ""
            label = f"Tableau{number} : {table.heading}"
        else:
            label = f"Tableau {position}"
        names.append(f'aria-label="{escape(label)}"')
    return names


def scroll_regions(page: str) -> str:
    """``page`` (HTML) with each table not yet in a scroll region wrapped in a named one.

    The region is ``<div class="dote-defilement" role="region" tabindex="0" aria-label=…>``:
    it takes the keyboard focus, so that the arrow keys scroll a table wider than the
    screen, and a screen reader announces it by the table's caption or, failing one, by
    the heading of its section (« Tableau : Les bases légales »). Tables already in a
    region (the generated pages' ``div.dote-table``, or an earlier pass of this function),
    and tables inside another table, are left as they are.
    """
    finder = _TableFinder(page)
    finder.feed(page)
    finder.close()
    tables = [table for table in finder.tables if table.end is not None]
    if not tables:
        return page
    pieces = []
    done = 0
    for table, name in zip(tables, _names(tables), strict=True):
        assert table.end is not None
        pieces += [
            page[done : table.start],
            f'<div class="{REGION_CLASS}" role="region" tabindex="0" {name}>',
            page[table.start : table.end],
            "</div>",
        ]
        done = table.end
    pieces.append(page[done:])
    return "".join(pieces)
