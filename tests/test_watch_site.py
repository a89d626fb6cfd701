"""The legal watch on the public site: the /veille/ page, the activities' items, the feeds.

Small territories made by ``dote demo`` in a temporary folder, given a watch of their own
(:func:`add_watch`): published items, and items to review or set aside that must never
reach the site. Built with ``dote build`` as a territory's editor would.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml

from dote import pipeline, watch_site
from dote.cli import main
from dote.watch import Watch, WatchItem

SOURCES = {
    "version_schema": 1,
    "sources": [
        {
            "id": "alpha",
            "nom": "Source Alpha",
            "editeur": "Éditeur Alpha",
            "langue": "fr",
            "flux": "https://alpha.example/rss",
            "thematiques": ["numerique"],
        },
        {
            "id": "beta",
            "nom": "Source Beta",
            "editeur": "Éditeur Beta",
            "langue": "fr",
            "thematiques": ["numerique"],
        },
    ],
}


def write_item(root: Path, source: str, name: str, **fields: Any) -> Path:
    data: dict[str, Any] = {"version_schema": 1, "source": source, **fields}
    path = root / "watch" / "elements" / source / f"{name}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def published(
    root: Path, source: str, name: str, title: str, date: str, themes: list[str], **extra: Any
) -> Path:
    return write_item(
        root,
        source,
        name,
        statut="publie",
        commentaire=extra.pop("commentaire", f"Commentaire de {title}."),
        thematiques=themes,
        id=name,
        titre=title,
        lien=extra.pop("lien", f"https://{source}.example/{name}"),
        date=date,
        date_origine=extra.pop("date_origine", "flux"),
        **extra,
    )


def make_territory(root: Path, *, site_url: bool = True) -> Path:
    assert main(["demo", str(root), "--members", "3", "--activities", "4", "--seed", "11"]) == 0
    config = root / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^site_url:.*\n", "", text)
    if site_url:
        text = "site_url: https://rgpd.exemple.fr/territoire/\n" + text
    config.write_text(text, encoding="utf-8")
    shutil.rmtree(root / "watch", ignore_errors=True)  # a watch of the test's own only
    (root / "watch").mkdir()
    (root / "watch" / "sources.yml").write_text(yaml.safe_dump(SOURCES, allow_unicode=True), encoding="utf-8")
    return root


def themes_of(root: Path) -> tuple[set[str], dict[tuple[str, str], set[str]]]:
    """The themes used by the territory's activities, and each activity's."""
    result = pipeline.run(root)
    assert result.territory is not None, [p.text() for p in result.errors]
    by_activity = {(a.member_id, a.id): {t.code for t in a.themes} for a in result.territory.activities}
    return set().union(*by_activity.values()), by_activity


def build(root: Path, site: Path | None = None) -> Path:
    site = site or root / "site"
    assert main(["build", str(root), "--site-dir", str(site)]) == 0
    return site


def page(site: Path, *parts: str) -> str:
    return (site.joinpath(*parts) / "index.html").read_text(encoding="utf-8")


def text(html_page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", html_page)).split())


@pytest.fixture(scope="module")
def territory(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A territory with three published items, one to review and one set aside, built once."""
    root = make_territory(tmp_path_factory.mktemp("veille") / "territoire")
    used, by_activity = themes_of(root)
    member_activity = sorted(by_activity)[0]
    vocabulary = pipeline.run(root).territory.vocabularies["thematiques"]  # type: ignore[union-attr]
    unused = next(code for code in vocabulary.terms if code not in used)
    shared = sorted(by_activity[member_activity])[0]
    published(root, "alpha", "ancien", "Élément ancien", "2025-03-04", [shared])
    published(
        root,
        "alpha",
        "recent",
        "Élément récent",
        "2026-11-12",
        [unused],
        commentaire="Premier paragraphe.\nsuite du premier.\n\nSecond paragraphe.",
        concerne={
            "membres": [member_activity[0]],
            "activites": [f"{member_activity[0]}/{member_activity[1]}"],
        },
        resume_html="<p>Résumé <strong>riche</strong></p>",
    )
    published(
        root,
        "beta",
        "milieu",
        "Élément du milieu",
        "2026-06-01",
        [unused],
        date_origine="premiere-recuperation",
    )
    for status, marker in (("a-trier", "MARQUEATRIER"), ("ecarte", "MARQUEECARTE")):
        write_item(
            root,
            "alpha",
            marker.lower(),
            statut=status,
            commentaire=f"Commentaire {marker}",
            thematiques=[shared],
            concerne={"membres": [member_activity[0]]},
            id=marker,
            titre=f"Titre {marker}",
            lien=f"https://alpha.example/{marker}",
            date="2026-12-01",
            resume=f"Résumé {marker}",
        )
    result = pipeline.run(root)
    assert result.ok, [p.text() for p in result.errors]
    site = build(root)
    return {
        "root": root,
        "site": site,
        "result": result,
        "member": member_activity[0],
        "activity": member_activity[1],
        "shared": shared,
        "unused": unused,
        "by_activity": by_activity,
    }


def anchors(result: pipeline.Result) -> dict[str, str]:
    return {item.titre: item.anchor for item in result.watch.published()}


# --- the page ---------------------------------------------------------------------------------


def test_watch_page_lists_published_items_newest_first(territory: dict[str, Any]) -> None:
    shown = page(territory["site"], "veille")
    assert "<title>Veille juridique et technique" in shown
    body = text(shown)
    positions = [body.find(title) for title in ("Élément récent", "Élément du milieu", "Élément ancien")]
    assert -1 not in positions and positions == sorted(positions), positions
    for title, anchor in anchors(territory["result"]).items():
        assert f'id="{anchor}"' in shown, title
    assert "12 novembre 2026" in body and "Récupéré le 1er juin 2026" in body
    assert "Novembre 2026" in body and "Mars 2025" in body
    # The title links to the source, marked as leaving the site.
    assert re.search(
        r'<a href="https://alpha\.example/recent" rel="noopener noreferrer">Élément récent', shown
    )
    assert "(site de la source)" in body
    assert "Source Alpha" in body and "Source Beta" in body
    # The comment keeps its paragraphs; the summary is in a details element.
    assert "<p>Premier paragraphe. suite du premier.</p>" in shown and "<p>Second paragraphe.</p>" in shown
    assert "<summary>Résumé de la source</summary>" in shown and "<strong>riche</strong>" in shown


def test_watch_page_has_accessible_filters_and_feeds(territory: dict[str, Any]) -> None:
    shown = page(territory["site"], "veille")
    for field in ("veille-source", "veille-theme"):
        assert f'<label for="{field}">' in shown and f'<select id="{field}"' in shown
    assert '<option value="alpha">Source Alpha</option>' in shown
    assert f'<option value="{territory["unused"]}">' in shown
    assert 'role="status" aria-live="polite"' in shown
    assert re.search(r'<script src="[./]*assets/dote/veille\.js"></script>', shown)
    assert (territory["site"] / "assets" / "dote" / "veille.js").is_file()
    assert "<script>" not in shown.split('<div class="md-content"', 1)[1].split("</article>")[0]
    # The feeds: in the head, and linked from the page (the territory's and each theme's).
    head = shown.split("</head>", 1)[0]
    assert '<link rel="alternate" type="application/atom+xml"' in head
    assert '<link rel="alternate" type="application/rss+xml"' in head
    assert 'href="atom.xml"' in shown and 'href="rss.xml"' in shown
    for theme in (territory["shared"], territory["unused"]):
        assert f'href="{theme}/atom.xml"' in shown and f'href="{theme}/rss.xml"' in shown
    # Indexed by the search like every page, with the themes of its items as filters.
    assert "data-pagefind-body" in shown and 'data-pagefind-filter="Thème:' in shown


def test_watch_page_links_what_items_concern(territory: dict[str, Any]) -> None:
    shown = page(territory["site"], "veille")
    member, activity = territory["member"], territory["activity"]
    assert f'href="../registres/{member}/"' in shown
    assert f'href="../registres/{member}/#{activity}"' in shown
    # The activities sharing an item's themes: counted, and found in the explorer.
    shared = sum(1 for themes in territory["by_activity"].values() if territory["shared"] in themes)
    link = f'href="../registres/explorer/?theme={territory["shared"]}"'
    assert link in shown
    assert f"{shared} activité{'s' if shared > 1 else ''} du territoire partage" in text(shown)
    assert "Aucune activité du territoire ne partage ces thématiques." in text(shown)


def test_items_to_review_or_set_aside_never_reach_the_site(territory: dict[str, Any]) -> None:
    for marker in ("MARQUEATRIER", "MARQUEECARTE", "matriertrier"):
        found = [
            p.relative_to(territory["site"]).as_posix()
            for p in territory["site"].rglob("*")
            if p.is_file() and marker.encode() in p.read_bytes()
        ]
        assert found == [], (marker, found)


def test_activities_list_the_items_that_concern_them(territory: dict[str, Any]) -> None:
    result = territory["result"]
    anchor = anchors(result)
    site = territory["site"]
    for (member, activity), themes in territory["by_activity"].items():
        shown = page(site, "registres", member)
        section = shown.split(f'<section class="dote-activite" aria-labelledby="{activity}">', 1)[1]
        section = section.split("</section>", 1)[0]
        ancient = f'href="../../veille/#{anchor["Élément ancien"]}"' in section
        recent = f'href="../../veille/#{anchor["Élément récent"]}"' in section
        assert ancient == (territory["shared"] in themes), (member, activity)
        assert recent == (member == territory["member"]), (member, activity)  # named by concerne
        if not (ancient or recent):
            assert "Veille juridique et technique" not in section
        if ancient and recent:
            assert section.index("Élément récent") < section.index("Élément ancien")


def test_an_activity_lists_at_most_five_items() -> None:
    items = (
        *(
            WatchItem(
                f"f{n}",
                "alpha",
                f"id{n}",
                f"Titre {n}",
                dt.date(2026, 1, 1 + n),
                "publie",
                thematiques=("elections",),
            )
            for n in range(8)
        ),
        WatchItem(
            "g",
            "alpha",
            "g",
            "Pour le membre",
            dt.date(2025, 1, 1),
            "publie",
            thematiques=("sante",),
            membres=("m",),
        ),
    )
    index = watch_site.WatchIndex(Watch(items=items))

    class Term:
        code = "elections"

    class Activity:
        themes = (Term(),)
        member_id = "m"
        id = "a"

    found = index.for_activity(Activity())  # type: ignore[arg-type]
    assert [i.titre for i in found] == [f"Titre {n}" for n in (7, 6, 5, 4, 3)]
    Activity.themes = ()
    assert [i.titre for i in index.for_activity(Activity())] == ["Pour le membre"]  # type: ignore[arg-type]
    Activity.member_id = "autre"
    assert index.for_activity(Activity()) == []  # type: ignore[arg-type]


# --- the feeds --------------------------------------------------------------------------------


def feed(site: Path, path: str) -> Any:
    parsed = feedparser.parse((site / "veille" / path).read_bytes())
    assert not parsed.bozo, (path, parsed.get("bozo_exception"))
    return parsed


def test_feeds_parse_with_absolute_links_and_stable_ids(territory: dict[str, Any], tmp_path: Path) -> None:
    site = territory["site"]
    base = "https://rgpd.exemple.fr/territoire/veille/"
    anchor = anchors(territory["result"])
    ids = {}
    for name in ("atom.xml", "rss.xml"):
        parsed = feed(site, name)
        titles = [e.title for e in parsed.entries]
        assert titles == ["Élément récent", "Élément du milieu", "Élément ancien"], name
        for entry in parsed.entries:
            assert entry.id == f"{base}#{anchor[entry.title]}"
            assert entry.link.startswith("https://")
            assert entry.get("published_parsed")
        recent = parsed.entries[0]
        assert recent.link == "https://alpha.example/recent"
        assert html.unescape(re.sub(r"<[^>]+>", " ", recent.summary)).split() == (
            ["Premier", "paragraphe.", "suite", "du", "premier.", "Second", "paragraphe."]
        )
        assert any(link.get("rel") == "self" and link.href == f"{base}{name}" for link in parsed.feed.links)
        ids[name] = [e.id for e in parsed.entries]
    assert ids["atom.xml"] == ids["rss.xml"]
    atom = feed(site, "atom.xml")
    assert [t.term for t in atom.entries[0].tags] == [territory["unused"]]
    # The same ids, byte for byte the same feeds, in another build.
    again = build(territory["root"], tmp_path / "again")
    for name in ("atom.xml", "rss.xml", f"{territory['shared']}/atom.xml"):
        assert (again / "veille" / name).read_bytes() == (site / "veille" / name).read_bytes(), name


def test_theme_feeds_hold_only_their_theme(territory: dict[str, Any]) -> None:
    site = territory["site"]
    for theme, titles in (
        (territory["shared"], ["Élément ancien"]),
        (territory["unused"], ["Élément récent", "Élément du milieu"]),
    ):
        for name in ("atom.xml", "rss.xml"):
            parsed = feed(site, f"{theme}/{name}")
            assert [e.title for e in parsed.entries] == titles, (theme, name)
    themes = {p.name for p in (site / "veille").iterdir() if p.is_dir()}
    assert themes == {territory["shared"], territory["unused"]}


def test_without_site_url_no_feeds_and_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_territory(tmp_path / "territoire", site_url=False)
    published(root, "alpha", "seul", "Élément seul", "2026-11-12", ["elections"])
    with caplog.at_level(logging.WARNING):
        site = build(root)
    assert any("site_url" in r.getMessage() and "flux" in r.getMessage() for r in caplog.records), caplog.text
    assert not list((site / "veille").rglob("*.xml"))
    shown = page(site, "veille")
    assert "Élément seul" in shown
    assert "atom.xml" not in shown and "rss.xml" not in shown and 'rel="alternate"' not in shown


def test_nothing_published_says_so(tmp_path: Path) -> None:
    root = make_territory(tmp_path / "territoire")
    write_item(root, "alpha", "brouillon", statut="a-trier", titre="Brouillon", date="2026-01-01", id="b")
    site = build(root)
    body = text(page(site, "veille"))
    assert "Aucun élément de veille n'est publié pour le moment." in body
    assert "Brouillon" not in body
    assert 'id="veille-source"' not in page(site, "veille")
    parsed = feed(site, "atom.xml")  # the territory's feed exists, empty, for subscribers
    assert parsed.entries == []


def test_publishing_an_item_renders_the_member_page_again(tmp_path: Path) -> None:
    """The page cache: a warm build after publishing an item shows it on the member page."""
    root = make_territory(tmp_path / "territoire")
    _, by_activity = themes_of(root)
    (member, _), themes = sorted(by_activity.items())[0]
    path = write_item(
        root,
        "alpha",
        "plus-tard",
        statut="a-trier",
        titre="Publié plus tard",
        date="2026-10-01",
        id="p",
        thematiques=sorted(themes)[:1],
    )
    site = build(root)
    assert "Publié plus tard" not in page(site, "registres", member)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(statut="publie", commentaire="Désormais publié.")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    site = build(root)
    assert "Publié plus tard" in page(site, "registres", member)
    assert "Publié plus tard" in page(site, "veille")
    # Renaming a source re-renders the watch page (not a register fingerprint).
    sources = (root / "watch" / "sources.yml").read_text(encoding="utf-8")
    (root / "watch" / "sources.yml").write_text(
        sources.replace("Source Alpha", "Source Renommée"), encoding="utf-8"
    )
    site = build(root)
    assert "Source Renommée" in page(site, "veille")
