"""End to end: the demo territory built by ``dote build``, read as a citizen would."""

from __future__ import annotations

import filecmp
import html
import re
from pathlib import Path

from dote import pipeline
from dote.cli import main


def _page(site: Path, *parts: str) -> str:
    return (site.joinpath(*parts) / "index.html").read_text(encoding="utf-8")


def _text(page: str) -> str:
    """The visible text of a page, roughly: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_demo_territory_is_valid(demo_root: Path) -> None:
    result = pipeline.run(demo_root)
    assert result.errors == ()
    assert result.territory is not None
    assert len(result.territory.members) >= 8
    assert len(result.territory.activities) >= 55


def test_register_index_lists_every_member(built_demo: Path, demo_root: Path) -> None:
    territory = pipeline.run(demo_root).territory
    assert territory is not None
    page = _page(built_demo, "registres")
    text = _text(page)
    for member in territory.members:
        assert member.name in text
        assert f'href="{member.id}/"' in page
    assert "Registres des membres" in text


def test_member_page_shows_activities_with_stable_anchors(built_demo: Path, demo_root: Path) -> None:
    territory = pipeline.run(demo_root).territory
    assert territory is not None
    for member in territory.members:
        page = _page(built_demo, "registres", member.id)
        text = _text(page)
        assert member.name in text
        assert "Exercer vos droits" in text
        if member.dpo is not None:
            assert member.dpo.name in text
        for activity in member.activities:
            assert f'id="{activity.id}"' in page, activity.id
            assert activity.name in text
            for category in activity.categories:
                assert category.kind.label in text


def test_sensitive_data_and_retention_are_shown(built_demo: Path, demo_root: Path) -> None:
    territory = pipeline.run(demo_root).territory
    assert territory is not None
    sensitive = [a for a in territory.activities if a.sensitive_categories]
    assert sensitive, "the demo territory must show sensitive data"
    activity = sensitive[0]
    page = _page(built_demo, "registres", activity.member_id)
    section = page.split(f'id="{activity.id}"', 1)[1].split("</section>", 1)[0]
    assert "Donnée sensible (art. 9)" in section or "Infractions (art. 10)" in section or "NIR" in section
    retained = [c for c in activity.categories if c.retention and c.retention.duration]
    if retained:
        assert retained[0].retention is not None
        assert retained[0].retention.duration_text in _text(section)


def test_home_page_figures_are_live(built_demo: Path, demo_root: Path) -> None:
    territory = pipeline.run(demo_root).territory
    assert territory is not None
    text = _text((built_demo / "index.html").read_text(encoding="utf-8"))
    assert str(len(territory.activities)) in text
    assert str(len(territory.members)) in text
    assert "{{" not in text and "{%" not in text


def test_every_page_has_fictive_banner_legal_links_and_french(built_demo: Path) -> None:
    pages = [p for p in built_demo.rglob("*.html") if p.name != "404.html"]
    assert len(pages) > 15
    for path in pages:
        page = path.read_text(encoding="utf-8")
        assert '<html lang="fr"' in page, path
        assert "Territoire fictif de démonstration" in page, path
        for target in ("mentions-legales/", "accessibilite/", "donnees-personnelles/"):
            assert target in page, (path, target)


def test_generated_pages_stay_out_of_the_navigation(built_demo: Path) -> None:
    home = (built_demo / "index.html").read_text(encoding="utf-8")
    nav = home.split('class="md-nav md-nav--primary"', 1)[1].split("md-sidebar--secondary", 1)[0]
    assert "registres/" in nav  # the index is in the navigation…
    assert "registres/saint-exemple/" not in nav  # …the member pages are not


def test_schemas_are_published(built_demo: Path) -> None:
    for name in ("activite", "membre", "maison", "modele", "sous-traitant", "commun"):
        assert (built_demo / "schemas" / f"{name}.schema.json").is_file()


def test_same_input_builds_identical_output(tmp_path: Path, demo_root: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["build", str(demo_root), "--site-dir", str(first)]) == 0
    assert main(["build", str(demo_root), "--site-dir", str(second)]) == 0

    # Pagefind writes its filter indexes (and the metadata and entry file naming them by
    # hash) in an order that varies between runs; everything else, its page fragments
    # included, is identical.
    def files(site: Path) -> list[str]:
        names = (p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
        unstable = ("pagefind/filter/", "pagefind/pagefind-entry.json")
        return sorted(n for n in names if not n.startswith(unstable) and not n.endswith(".pf_meta"))

    names = files(first)
    assert names == files(second)
    assert any(n.startswith("pagefind/fragment/") for n in names)
    _, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
    assert mismatch == [] and errors == []


def test_register_text_is_escaped(territory_copy: Path, tmp_path: Path) -> None:
    import yaml

    activity = territory_copy / "registers" / "members" / "saint-exemple" / "etat-civil.yml"
    data = yaml.safe_load(activity.read_text(encoding="utf-8"))
    data["description"] = "<script>alert(1)</script> {{ 7*7 }}"
    activity.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    site = tmp_path / "site"
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 0
    page = _page(site, "registres", "saint-exemple")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in page


def test_only_safe_url_schemes_are_linked(territory_copy: Path, tmp_path: Path) -> None:
    from dote.render import safe_url

    assert safe_url("https://exemple.fr/x") == "https://exemple.fr/x"
    assert safe_url("mailto:dpo@exemple.fr") == "mailto:dpo@exemple.fr"
    assert safe_url("javascript:alert(1)") == ""
    assert safe_url(" JavaScript:alert(1)") == ""
    assert safe_url("data:text/html,x") == ""
