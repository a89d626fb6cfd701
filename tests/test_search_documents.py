"""Member pages are indexed from their search documents (dote.search.member_document).

The document holds what a citizen searches for, under the page's own anchors, with the
page's filters; register text stays text; the built search index holds the documents'
text, at the real pages' addresses, and not the page's boilerplate.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from html import unescape
from pathlib import Path

from dote import pipeline, search
from dote.model import Member

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def _fragments(site: Path) -> list[dict[str, object]]:
    """Every page Pagefind indexed, as its fragment (gzip, a signature, then JSON)."""
    found = []
    for bundle in site.glob("pagefind*"):
        for fragment in (bundle / "fragment").glob("*.pf_fragment"):
            raw = gzip.decompress(fragment.read_bytes())
            assert raw.startswith(b"pagefind_dcd")
            found.append(json.loads(raw[len(b"pagefind_dcd") :]))
    return found


def _member(result: pipeline.Result) -> Member:
    assert result.territory is not None
    return max(result.territory.members, key=lambda m: len(m.activities))


def test_a_member_document_holds_each_activity_under_its_anchor(demo_root: Path) -> None:
    result = pipeline.run(demo_root)
    assert result.territory is not None
    member = _member(result)
    filters = f'{search.FILTERS_START}<span data-pagefind-filter="Membre:X"></span></div>'
    document = search.member_document(member, result.territory.processors, filters)
    assert document.count("data-pagefind-body") == 1
    assert f"<h1>{member.name}</h1>" in document.replace("&#x27;", "'")
    for activity in member.activities:
        assert f'<h3 id="{activity.id}">' in document
    assert document.endswith(filters + "</main></body></html>")
    # Processors are named, not identified.
    with_processor = [a for a in member.activities if a.recipients.processors]
    assert with_processor, "the demo should have an activity with a processor"
    pid = with_processor[0].recipients.processors[0]
    assert result.territory.processors[pid].name.split()[0] in document


def test_register_text_stays_text_in_a_search_document(demo_root: Path) -> None:
    result = pipeline.run(demo_root)
    assert result.territory is not None
    member = _member(result)
    first = dataclasses.replace(
        member.activities[0], name=HOSTILE, description=HOSTILE, purpose=HOSTILE, tools=(HOSTILE,)
    )
    hostile = dataclasses.replace(
        member, name=HOSTILE, description=HOSTILE, activities=(first, *member.activities[1:])
    )
    document = search.member_document(hostile, result.territory.processors, "")
    assert "<script" not in document and "<img" not in document
    assert document.count("&lt;script&gt;") >= 5


def test_the_staging_copy_replaces_member_pages_only(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "registres" / "a").mkdir(parents=True)
    (site / "registres" / "a" / "index.html").write_text("page complète", encoding="utf-8")
    (site / "index.html").write_text("accueil", encoding="utf-8")
    (site / "style.css").write_text("css", encoding="utf-8")
    staged = tmp_path / "staged"
    search.stage(site, staged, {"registres/a/index.html": "document"})
    assert (staged / "registres" / "a" / "index.html").read_text(encoding="utf-8") == "document"
    assert (staged / "index.html").read_text(encoding="utf-8") == "accueil"
    assert not (staged / "style.css").exists()
    # The site itself is untouched.
    assert (site / "registres" / "a" / "index.html").read_text(encoding="utf-8") == "page complète"


def test_the_built_index_reads_the_documents_at_the_pages_addresses(
    built_demo: Path, demo_root: Path
) -> None:
    result = pipeline.run(demo_root)
    assert result.territory is not None
    fragments = {str(f["url"]): f for f in _fragments(built_demo)}
    boilerplate_on_pages = 0
    for member in result.territory.members:
        fragment = fragments[f"/registres/{member.id}/"]
        content = str(fragment["content"])
        anchors = {a["id"] for a in fragment["anchors"]}  # type: ignore[attr-defined]
        assert {a.id for a in member.activities} <= anchors
        for activity in member.activities:
            if activity.purpose:
                assert activity.purpose.split()[0] in content
        # The page's boilerplate (DPIA reasons, label criteria, review dates) is not indexed.
        assert "Raisons du dépistage" not in content
        assert "Dernière revue" not in content
        assert fragment["filters"]["Membre"] == [member.name]  # type: ignore[index]
        # The page itself is the full page, not the document.
        page = (built_demo / "registres" / member.id / "index.html").read_text(encoding="utf-8")
        boilerplate_on_pages += "Raisons du dépistage" in page
    assert boilerplate_on_pages > 0


def test_the_search_page_says_what_is_searched(built_demo: Path) -> None:
    """The search page's sentence matches what the documents hold."""
    page = (built_demo / "recherche" / "index.html").read_text(encoding="utf-8")
    assert "la recherche porte sur le nom de chaque membre" in page
    contents = " ".join(str(f["content"]) for f in _fragments(built_demo))
    for said in ("Finalités :", "Personnes concernées :", "Données :", "Destinataires :", "Thèmes :"):
        assert said in contents


def test_pages_listing_every_member_are_indexed_without_their_lists(
    built_demo: Path, demo_root: Path
) -> None:
    """The pages that list members or their activities (the members, the label's levels, the
    records to review, a processor's users, the open data, the dashboard) are found by their
    own text; a member is found by its page, not again by each of these lists."""
    result = pipeline.run(demo_root)
    assert result.territory is not None
    maison = repr(result.territory.maison)  # its name and territory may name a member: the page's own text
    names = {m.name for m in result.territory.members if m.name not in maison}
    fragments = {str(f["url"]): str(f["content"]) for f in _fragments(built_demo)}
    processors = [
        f"/sous-traitants/{pid}/"
        for pid in result.territory.processors
        if result.territory.users_of_processor(pid)
    ]
    assert processors
    listings = [
        "/registres/",
        "/label/",
        "/tableau-de-bord/revues/",
        "/donnees/",
        "/tableau-de-bord/",
        *processors,
    ]
    own_text = {
        "/registres/": "activités décrites",
        "/label/": "Niveaux",
        "/tableau-de-bord/revues/": "En bref",
        "/donnees/": "CSV",
        "/tableau-de-bord/": "Les fiches à revoir",
    }
    checked = 0
    for url in listings:
        content = fragments[url]
        page = unescape((built_demo / url.strip("/") / "index.html").read_text(encoding="utf-8"))
        listed = [name for name in names if name in page]
        assert listed or url in processors, url  # the page does list members…
        checked += bool(listed)
        if url.startswith("/sous-traitants/"):  # …but the member a processor is, is its page's subject
            processor = result.territory.processors[url.split("/")[2]]
            own = result.territory.members_by_id.get(processor.member_id or "")
            listed = [n for n in listed if n not in (processor.name, own.name if own else None)]
        if url == "/tableau-de-bord/":  # its chart of processors names those that are members
            listed = [n for n in listed if n not in {p.name for p in result.territory.processors.values()}]
        assert not [name for name in listed if name in content], url  # …and they are not indexed
        assert own_text.get(url, "") in content, url
    assert checked > 4  # the four lists, and processors' users
