"""The label on the built site: the label page, badges, member pages, DPIA screenings."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dote import pipeline
from dote.cli import main
from dote.label import Evaluation
from dote.scaffold import demo_territory

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A synthetic territory (5 members × 8 activities) and its built site."""
    base = tmp_path_factory.mktemp("label")
    root = demo_territory(base / "territoire", members=5, activities=8, seed=1)
    site = base / "site"
    assert main(["build", str(root), "--site-dir", str(site)]) == 0
    return root, site


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _evaluation(root: Path) -> Evaluation:
    result = pipeline.run(root)
    assert result.label is not None
    return result.label


def test_label_page_explains_levels_and_lists_every_member(demo: tuple[Path, Path]) -> None:
    root, site = demo
    label = _evaluation(root)
    page = (site / "label" / "index.html").read_text(encoding="utf-8")
    text = _text(page)
    for level in label.policy.levels:
        assert level.title in text
    for criterion in label.policy.criteria.values():
        assert criterion.title in text
        assert _text(criterion.explanation) in text
    for member_id, result in label.members.items():
        assert result.member.name in text
        assert f'href="../registres/{member_id}/#label"' in page
        assert f'src="{member_id}.svg"' in page
        row = re.search(
            rf'<tr>\s*<th scope="row"><a href="../registres/{member_id}/#label">.*?</tr>', page, re.S
        )
        assert row is not None and result.level_title in _text(row.group(0))


def test_badges_are_accessible_svg(demo: tuple[Path, Path]) -> None:
    root, site = demo
    label = _evaluation(root)
    for member_id, result in label.members.items():
        svg = ET.parse(site / "label" / f"{member_id}.svg").getroot()
        assert svg.tag == f"{SVG}svg"
        assert svg.get("role") == "img"
        title = svg.find(f"{SVG}title")
        assert title is not None and title.text is not None
        assert result.member.name in title.text
        assert result.level_title in title.text
        assert svg.get("aria-labelledby") == title.get("id")


def test_member_page_shows_level_unmet_criteria_snippet_and_screening(demo: tuple[Path, Path]) -> None:
    root, site = demo
    label = _evaluation(root)
    territory = pipeline.run(root).territory
    assert territory is not None
    levels = set()
    for member_id, result in label.members.items():
        page = (site / "registres" / member_id / "index.html").read_text(encoding="utf-8")
        text = _text(page)
        levels.add(result.level_title)
        assert f"Label DOTE : {'niveau ' + result.level.title if result.level else 'non labellisé'}" in text
        for criterion in result.unmet:
            assert criterion.title in text
            assert _text(criterion.explanation) in text
        # The snippet is shown as code, escaped, for members to copy.
        assert f"&lt;img src=&#34;/label/{member_id}.svg&#34; alt=&#34;Label DOTE : niveau" in page
        # Published activities show their screening (a member publishing "au choix" may
        # keep activities off the site: the label still judges them, without details).
        for published in territory.member(member_id).activities:
            screening = result.activities[published.id].screening
            assert screening.label in text, published.id
            if not published.withheld:
                for reason in screening.reasons:
                    assert _text(reason) in text
    assert levels <= {lv.title for lv in label.policy.levels} | {"Non labellisé"}
