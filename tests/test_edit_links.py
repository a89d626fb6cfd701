"""A page's "edit" link opens the source of what it shows (issue 15, point 6).

Hand-written pages open their Markdown file (MkDocs' own link); a member, model or
processor page opens its register file; the label page its policy; a page made from
many files (explorer, dashboard, search) has no edit link rather than a wrong one.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import copy_demo
from dote.cli import main

REPO = "https://forge.exemple.fr/maison/registres"


def _edit_link(page: Path) -> str | None:
    found = re.search(
        r'<a href="([^"]+)" title="[^"]*" class="md-content__button[^"]*" rel="edit"',
        page.read_text(encoding="utf-8"),
    )
    return found.group(1) if found else None


def test_edit_links_open_the_register_file_of_each_page(tmp_path: Path) -> None:
    root = copy_demo(tmp_path / "territoire")
    config = root / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("theme:\n", f"repo_url: {REPO}\nedit_uri: edit/main/docs/\n\ntheme:\n", 1)
    text = text.replace("  features:\n", "  features:\n    - content.action.edit\n", 1)
    config.write_text(text, encoding="utf-8")
    assert main(["build", str(root)]) == 0
    site = root / "site"
    member = next(p.parent.name for p in (root / "registers" / "members").glob("*/member.yml"))
    assert _edit_link(site / "registres" / member / "index.html") == (
        f"{REPO}/edit/main/registers/members/{member}/member.yml"
    )
    model = next((root / "registers" / "models").glob("*.yml")).stem
    assert _edit_link(site / "modeles-de-traitements" / model / "index.html") == (
        f"{REPO}/edit/main/registers/models/{model}.yml"
    )
    processor = next((root / "registers" / "processors").glob("*.yml")).stem
    assert _edit_link(site / "sous-traitants" / processor / "index.html") == (
        f"{REPO}/edit/main/registers/processors/{processor}.yml"
    )
    assert _edit_link(site / "label" / "index.html") == f"{REPO}/edit/main/registers/label.yml"
    assert _edit_link(site / "guide" / "format" / "index.html") == f"{REPO}/edit/main/docs/guide/format.md"
    for made_of_many in ("registres/explorer", "tableau-de-bord", "recherche", "registres"):
        assert _edit_link(site / made_of_many / "index.html") is None, made_of_many
