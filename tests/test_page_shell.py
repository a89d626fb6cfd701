"""Member pages share Material's sidebars, rendered once (dote.mkdocs_plugin._SidebarMemo).

The memo must change nothing but the time: a site built with it is byte for byte the site
Material renders page by page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import copy_demo
from dote import mkdocs_plugin
from dote.cache import CACHE_ENV
from dote.cli import main


def _pages(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*.html"))}


def test_shared_sidebars_change_no_byte_of_the_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_demo(tmp_path / "territoire")
    monkeypatch.setenv(CACHE_ENV, "0")
    kept: list[Any] = []
    original_keep = mkdocs_plugin._SidebarMemo.keep

    def keep(self: mkdocs_plugin._SidebarMemo, html: Any) -> Any:
        kept.append(html)
        return original_keep(self, html)

    monkeypatch.setattr(mkdocs_plugin._SidebarMemo, "keep", keep)
    assert main(["build", str(root), "--site-dir", str(tmp_path / "avec")]) == 0
    assert len(kept) == 1 and 'data-md-type="navigation"' in str(kept[0])

    # The same territory, each page's sidebars rendered by Material itself.
    monkeypatch.setattr(mkdocs_plugin.DotePlugin, "_member_sidebars", lambda self, page: None)
    assert main(["build", str(root), "--site-dir", str(tmp_path / "sans")]) == 0

    shared, rendered = _pages(tmp_path / "avec"), _pages(tmp_path / "sans")
    members = [uri for uri in shared if uri.startswith("registres/") and uri.count("/") == 2]
    assert len([uri for uri in members if uri.endswith("/index.html")]) >= 2
    assert shared.keys() == rendered.keys()
    assert [uri for uri in shared if shared[uri] != rendered[uri]] == []
