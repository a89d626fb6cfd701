"""Reviews (issue 15): ``dote review`` and the editors' page ``/tableau-de-bord/revues/``.

A copy of the demo where, at a fixed date, every record was reviewed a month ago except
one overdue record (its name hostile text), one due in twenty days, and the records of the
company that does not publish its dates. The deadline is the label's (criterion
« revue-annuelle », rule ``revue-recente``): the tests also check that both agree.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import copy_demo
from dote import pipeline, render, review
from dote.cache import MemberFragments
from dote.cli import main
from dote.review import REVIEWS_URL, compute, elapsed_fr, page
from links import check_links

DATE = dt.date(2027, 3, 1)
RECENT = dt.date(2027, 2, 1)  # due 2028-02-01: not listed
OVERDUE = ("saint-exemple", "etat-civil")
OVERDUE_REVIEWED = dt.date(2025, 12, 20)  # due 2026-12-20: late by 71 days, « 2 mois »
SOON = ("valmont", "mediatheque")
SOON_REVIEWED = dt.date(2026, 3, 21)  # due 2027-03-21: in 20 days
SOON_PLANNED = dt.date(2027, 3, 10)  # the register plans it earlier than the deadline
HOSTILE = "<script>alert('revue')</script> & <b>gras</b>"
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _set_dates(path: Path, reviewed: dt.date | None, planned: dt.date | None = None) -> None:
    """Replace the ``dates`` block of an activity file (created long before any review)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    block = ["dates:", "  creation: 2020-01-02", "  mise_a_jour: 2020-01-02"]
    if reviewed is not None:
        block.append(f"  revue: {reviewed.isoformat()}")
    if planned is not None:
        block.append(f"  prochaine_revue: {planned.isoformat()}")
    if "dates:" in lines:
        start = lines.index("dates:")
        end = start + 1
        while end < len(lines) and lines[end].startswith("  "):
            end += 1
        lines[start:end] = block
    else:
        lines += block
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _prepare(root: Path) -> Path:
    """The scenario described at the top of this module, in a copy of the demo."""
    members = root / "registers" / "members"
    for path in members.glob("*/*.yml"):
        if path.name != "member.yml" and path.parent.name != "boulangerie-exemple":
            _set_dates(path, RECENT)
    overdue = members / OVERDUE[0] / f"{OVERDUE[1]}.yml"
    _set_dates(overdue, OVERDUE_REVIEWED)
    text = overdue.read_text(encoding="utf-8")
    overdue.write_text(
        text.replace("\nnom: État civil\n", f"\nnom: {json.dumps(HOSTILE)}\n", 1), encoding="utf-8"
    )
    _set_dates(members / SOON[0] / f"{SOON[1]}.yml", SOON_REVIEWED, SOON_PLANNED)
    # The company stops publishing its dates (and keeps none in registers/).
    company = members / "boulangerie-exemple"
    member = company / "member.yml"
    member.write_text(member.read_text(encoding="utf-8").replace("\n  - dates\n", "\n", 1), encoding="utf-8")
    for path in company.glob("*.yml"):
        if path.name != "member.yml":
            lines = path.read_text(encoding="utf-8").splitlines()
            start = lines.index("dates:")
            end = start + 1
            while end < len(lines) and lines[end].startswith("  "):
                end += 1
            del lines[start:end]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # The site is built at the same date; no search index (not what is tested here).
    config = root / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    plugin = re.search(r"^  - dote\b.*$", text, re.MULTILINE)
    assert plugin is not None
    text = text.replace(
        plugin.group(0), f"  - dote:\n      reference_date: '{DATE.isoformat()}'\n      search: false", 1
    )
    config.write_text(text.replace("  - Rechercher: recherche/index.md\n", "", 1), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def territory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _prepare(copy_demo(tmp_path_factory.mktemp("revues") / "territoire"))


@pytest.fixture(scope="module")
def result(territory: Path) -> pipeline.Result:
    found = pipeline.run(territory, today=DATE)
    assert found.ok, [p.text() for p in found.errors]
    return found


# --- the computation ------------------------------------------------------------------------


def test_elapsed_in_french_words() -> None:
    assert elapsed_fr(dt.date(2026, 12, 20), dt.date(2027, 3, 1)) == "2 mois"
    assert elapsed_fr(dt.date(2027, 2, 20), dt.date(2027, 3, 1)) == "9 jours"
    assert elapsed_fr(dt.date(2027, 2, 28), dt.date(2027, 3, 1)) == "1 jour"
    assert elapsed_fr(dt.date(2024, 1, 31), dt.date(2025, 3, 1)) == "1 an et 1 mois"
    assert elapsed_fr(dt.date(2024, 1, 31), dt.date(2024, 2, 29)) == "1 mois"  # as months_later counts


def test_the_scenario(result: pipeline.Result) -> None:
    assert result.territory is not None
    reviews = compute(result.territory, result.label, DATE)
    states = {(m.member.id, r.activity.id): r.state for m in reviews.members for r in m.reviews}
    assert states.pop(OVERDUE) == "en-retard"
    assert states.pop(SOON) == "bientot"
    assert set(states.values()) == {"non-publiee"}
    assert {member for member, _ in states} == {"boulangerie-exemple"}
    assert (reviews.months, reviews.criterion_id, reviews.failing) == (12, "revue-annuelle", 1)
    # Most urgent first: the member with an overdue record, then the one due soon, then the rest.
    assert [m.member.id for m in reviews.members] == [OVERDUE[0], SOON[0], "boulangerie-exemple"]
    overdue = reviews.members[0].reviews[0]
    assert (overdue.due, overdue.days, overdue.state_text) == (
        dt.date(2026, 12, 20),
        71,
        "En retard de 2 mois",
    )
    soon = reviews.members[1].reviews[0]
    assert (soon.due, soon.days, soon.planned) == (dt.date(2027, 3, 21), 20, SOON_PLANNED)
    assert compute(result.territory, result.label, DATE, within=19).count("bientot") == 0


@pytest.mark.parametrize("date", [dt.date(2026, 11, 15), dt.date(2027, 1, 20), dt.date(2027, 6, 30)])
def test_overdue_is_what_the_label_says(demo_root: Path, date: dt.date) -> None:
    """A record is overdue or never reviewed exactly when the label's criterion fails it."""
    found = pipeline.run(demo_root, today=date)
    assert found.territory is not None and found.label is not None
    reviews = compute(found.territory, found.label, date)
    failing = {(m.member.id, r.activity.id) for m in reviews.members for r in m.reviews if r.failing}
    label = {
        (f.position.file.split("/")[2], f.activity_id)
        for r in found.label.members.values()
        for f in r.failures_of("revue-annuelle")
    }
    # The label judges the whole register; a record whose dates are not published is not judged here.
    unpublished = {
        (m.member.id, r.activity.id) for m in reviews.members for r in m.reviews if r.state == "non-publiee"
    }
    assert failing == label - unpublished
    assert failing


def test_findings_kept_without_the_date_are_those_of_each_day(
    territory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept with the days on which they stay the same, a member's findings
    read back on any of those days are that day's, days late or left counted again; on the days
    around both ends of each window, forward then backward, they are those computed without a
    store; within every window, no member is judged again."""
    from dote.cache import MemberValues
    from dote.label import AFTER_LAST_DAY, FIRST_DAY

    def on(day: dt.date) -> tuple[pipeline.Result, MemberValues]:
        found = pipeline.run(territory, today=day)
        keys = {m: pipeline.member_key(found.fingerprints, m, "revues") for m in found.fingerprints}
        return found, MemberValues(tmp_path, "revues-fiches", keys)

    first, store = on(DATE)
    assert first.territory is not None
    compute(first.territory, first.label, DATE, kept=store)
    windows = [store.get(m.id, str(review.DEFAULT_WITHIN)) for m in first.territory.members]
    ends = sorted(w[1] for w in windows if w[1] < AFTER_LAST_DAY)
    edges = sorted({e for w in windows for e in w[:2] if FIRST_DAY < e < AFTER_LAST_DAY})
    # The day before the first end: every member's findings read back, none judged.
    quiet = dt.date.fromordinal(ends[0] - 1)
    assert quiet > DATE
    later, store = on(quiet)
    assert later.territory is not None
    plain = compute(later.territory, later.label, quiet)
    judged: list[str] = []
    original = review.Subject

    def subject(member: Any, *args: Any) -> Any:
        judged.append(member.id)
        return original(member, *args)

    monkeypatch.setattr(review, "Subject", subject)
    kept = compute(later.territory, later.label, quiet, kept=store)
    assert judged == []

    def counts(found: review.Reviews) -> list[Any]:
        return [(m.member.id, m.size, m.failing, [m.count(s) for s in review.STATES]) for m in found.members]

    # Read back, a member's findings are made only when read: its counts and place are known before.
    assert all(m._made is None for m in kept.members)
    assert counts(kept) == counts(plain)
    assert kept == plain
    assert kept.count("en-retard") and kept.count("bientot")
    monkeypatch.undo()
    checked = 0
    for day in [dt.date.fromordinal(e + d) for e in [*edges, *reversed(edges)] for d in (-1, 0)]:
        found, store = on(day)
        if found.territory is None:  # a day before some of the registers' dates: refused
            continue
        plain = compute(found.territory, found.label, day)
        assert compute(found.territory, found.label, day, kept=store) == plain, day
        checked += 1
    assert checked >= 8


# --- the command line ------------------------------------------------------------------------


def test_cli_text(territory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", str(territory), "--date", DATE.isoformat()]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        "Revues des fiches au 1er mars 2027 : chaque fiche doit être revue au moins tous les 12 mois"
    )
    assert (
        "1 fiche en retard, 0 fiche jamais revue, 1 fiche à revoir dans les 60 jours, 4 fiches sans date publiée"
        in out
    )
    lines = out.splitlines()
    late = next(n for n, line in enumerate(lines) if "EN RETARD DE 2 MOIS" in line)
    assert HOSTILE in lines[late]  # text stays text, as written
    assert "dernière revue le 20 décembre 2025, à revoir au plus tard le 20 décembre 2026" in lines[late]
    assert lines[late + 1].strip().startswith("registers/members/saint-exemple/etat-civil.yml:")
    soon = next(n for n, line in enumerate(lines) if "À revoir dans 20 jours" in line)
    assert "prochaine revue prévue le 10 mars 2027" in lines[soon]
    assert late < soon
    assert "Date de revue non publiée (choix du membre)" in out
    assert ISO_DATE.findall(out) == []


def test_cli_json(territory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", str(territory), "--date", DATE.isoformat(), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["date"] == "2027-03-01" and data["delai_jours"] == 60 and data["critere"] == "revue-annuelle"
    assert data["compte"] == {"sans_date": 0, "en_retard": 1, "bientot": 1, "non_publiee": 4}
    assert [m["membre"] for m in data["membres"]] == ["saint-exemple", "valmont", "boulangerie-exemple"]
    late = data["membres"][0]["activites"][0]
    assert late == {
        "activite": "etat-civil",
        "nom": HOSTILE,
        "etat": "en-retard",
        "derniere_revue": "2025-12-20",
        "echeance": "2026-12-20",
        "prochaine_revue": None,
        "jours_de_retard": 71,
        "jours_restants": None,
        "file": "registers/members/saint-exemple/etat-civil.yml",
        "line": late["line"],
        "column": late["column"],
    }
    soon = data["membres"][1]["activites"][0]
    assert (soon["etat"], soon["jours_restants"], soon["prochaine_revue"]) == ("bientot", 20, "2027-03-10")


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _prepare(copy_demo(tmp_path / "t"))
    date = ["--date", DATE.isoformat()]
    # Only a record due soon: exit 0; with a shorter window, nothing at all.
    _set_dates(root / "registers" / "members" / OVERDUE[0] / f"{OVERDUE[1]}.yml", RECENT)
    assert main(["review", str(root), *date]) == 0
    assert "1 fiche à revoir dans les 60 jours" in capsys.readouterr().out
    assert main(["review", str(root), *date, "--within", "10", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["compte"]["bientot"] == 0
    # A record without any review date fails the label's rule: exit 1.
    _set_dates(root / "registers" / "members" / "valmont" / "recrutement.yml", None)
    assert main(["review", str(root), *date]) == 1
    assert (
        "JAMAIS REVUE · Recrutement des agents (recrutement) : aucune date de revue"
        in capsys.readouterr().out
    )
    # Usage errors.
    assert main(["review", str(root), "--date", "2027-02-30"]) == 2
    assert "date « 2027-02-30 » invalide" in capsys.readouterr().err
    assert main(["review", str(root), *date, "--within", "-1"]) == 2
    # Invalid registers: exit 2, the problems printed as `dote validate` prints them.
    activity = root / "registers" / "members" / "valmont" / "mediatheque.yml"
    activity.write_text(
        activity.read_text(encoding="utf-8").replace("\nstatut:", "\nstatu:", 1), encoding="utf-8"
    )
    assert main(["review", str(root), *date]) == 2
    captured = capsys.readouterr()
    assert "registers/members/valmont/mediatheque.yml:" in captured.out
    assert "erreur: clé inconnue « statu »" in captured.out
    assert "le territoire n'est pas valide" in captured.err
    assert main(["review", str(root), *date, "--format", "json"]) == 2
    assert any(p["file"].endswith("mediatheque.yml") for p in json.loads(capsys.readouterr().out))


# --- the page ----------------------------------------------------------------------------------


def test_page_html(result: pipeline.Result, territory: Path) -> None:
    """The page as the plugin renders it: counts, a table per member, French dates, relative links."""
    assert result.territory is not None
    generated = page(
        compute(result.territory, result.label, DATE), result.territory, render.environment(territory)
    )
    assert (generated.src_uri, generated.url, generated.title, generated.depends_on) == (
        "tableau-de-bord/revues/index.md",
        REVIEWS_URL,
        "Fiches à revoir",
        "*",
    )
    html = generated.render(REVIEWS_URL)
    assert "<script" not in html and "<b>gras" not in html
    assert "&lt;script&gt;alert(&#39;revue&#39;)&lt;/script&gt; &amp; &lt;b&gt;gras&lt;/b&gt;" in html
    assert '<a href="../../registres/saint-exemple/#etat-civil">&lt;script&gt;' in html
    assert '<a href="../../registres/valmont/#mediatheque">Médiathèque (inscriptions et prêts)</a>' in html
    assert '<time datetime="2026-12-20">20 décembre 2026</time>' in html
    assert '<time datetime="2027-03-10">10 mars 2027</time>' in html
    assert "<strong>En retard de 2 mois</strong>" in html and "À revoir dans 20 jours" in html
    assert "<li><strong>1</strong> fiche en retard de revue</li>" in html
    assert (
        "<li><strong>4</strong> fiches ne publient pas leur date de revue, au choix de leur membre</li>"
        in html
    )
    assert html.count('<div class="dote-table" role="region" tabindex="0" aria-labelledby="revues-') == 3
    for member in ("saint-exemple", "valmont", "boulangerie-exemple"):
        assert f'<caption id="revues-{member}">' in html
        assert f'<h2 id="membre-{member}" data-pagefind-ignore="all">' in html
    assert html.count('<th scope="col">') == 12 and html.count('<th scope="row">') == 6
    assert '<a href="../../label/#critere-revue-annuelle">' in html
    assert ISO_DATE.findall(re.sub(r'datetime="[^"]*"', "", html)) == []
    # Without directory URLs (Material's offline plugin), links name the files.
    assert 'href="../../registres/valmont/index.html#mediatheque"' in generated.render(
        "tableau-de-bord/revues/index.html"
    )


def test_members_tables_kept_between_builds(result: pipeline.Result, territory: Path, tmp_path: Path) -> None:
    """Each member's table is kept under its member's key: the page is the same with the kept
    tables, a member whose key changed gets its table made again, the others are read back."""
    assert result.territory is not None
    reviews = compute(result.territory, result.label, DATE)
    env = render.environment(territory)
    fresh = page(reviews, result.territory, env).render(REVIEWS_URL)
    keys = {m.id: f"clé-{m.id}" for m in result.territory.members}
    kept = MemberFragments(tmp_path, "revues", keys)
    assert page(reviews, result.territory, env, kept).render(REVIEWS_URL) == fresh  # made and kept
    assert page(reviews, result.territory, env, kept).render(REVIEWS_URL) == fresh  # read back
    stored = kept.get("valmont", REVIEWS_URL)
    assert stored is not None and stored.startswith('<h2 id="membre-valmont" data-pagefind-ignore="all">')
    hostile = kept.get("saint-exemple", REVIEWS_URL)
    assert hostile is not None and "&lt;script&gt;alert" in hostile and "<script" not in hostile
    # Another build: the tables read back are those kept (marked here), unless the key changed.
    kept.put("valmont", REVIEWS_URL, stored.replace("<table", "<table data-repris", 1))
    kept.put("boulangerie-exemple", REVIEWS_URL, "<p>ancienne table</p>")
    later = MemberFragments(tmp_path, "revues", keys | {"boulangerie-exemple": "clé changée"})
    html = page(reviews, result.territory, env, later).render(REVIEWS_URL)
    assert html.count("data-repris") == 1 and "ancienne table" not in html
    assert html.replace("<table data-repris", "<table", 1) == fresh
    # Another address (no directory URLs): its own tables, with its own links.
    other = page(reviews, result.territory, env, later).render("tableau-de-bord/revues/index.html")
    assert "data-repris" not in other and 'href="../../registres/valmont/index.html#mediatheque"' in other
    # One table kept per member, for the address it was last made for; members no longer there
    # lose theirs.
    assert later.get("valmont", REVIEWS_URL) is None
    MemberFragments(tmp_path, "revues", {"valmont": keys["valmont"]}).prune()
    assert later.get("valmont", "tableau-de-bord/revues/index.html") is not None
    assert later.get("saint-exemple", "tableau-de-bord/revues/index.html") is None


def test_built_site(territory: Path, tmp_path: Path) -> None:
    """A real `dote build`: the page is there, in the sitemap, and every link of it resolves."""
    site = tmp_path / "site"
    assert main(["build", str(territory), "--site-dir", str(site)]) == 0
    built = site / "tableau-de-bord" / "revues" / "index.html"
    html = built.read_text(encoding="utf-8")
    assert "<title>Fiches à revoir" in html
    assert (
        '<h2 id="membre-saint-exemple" data-pagefind-ignore="all">' in html and "&lt;script&gt;alert" in html
    )
    assert "https://dote.example.org/tableau-de-bord/revues/" in (site / "sitemap.xml").read_text(
        encoding="utf-8"
    )
    report = check_links(site)
    mine = [link for link in report.followed if link.startswith("tableau-de-bord/revues/index.html:")]
    assert any("registres/saint-exemple/#etat-civil" in link for link in mine)
    assert any("label/#critere-revue-annuelle" in link for link in mine)
    assert [b for b in report.broken if b.startswith("tableau-de-bord/revues/")] == []


def test_pages_of_at_most_page_members(
    result: pipeline.Result, territory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A territory with many members to review gets several pages: the first lists every member
    concerned, linked to its table wherever it is; each table is on one page; every page links
    to every other; the built site's links all resolve."""
    assert result.territory is not None
    monkeypatch.setattr(review, "PAGE_MEMBERS", 2)
    reviews = compute(result.territory, result.label, DATE)
    members = [m.member.id for m in reviews.members]
    assert len(members) == 3
    made = review.pages(reviews, result.territory, render.environment(territory))
    assert [(p.src_uri, p.url, p.title) for p in made] == [
        ("tableau-de-bord/revues/index.md", REVIEWS_URL, "Fiches à revoir"),
        ("tableau-de-bord/revues/2/index.md", "tableau-de-bord/revues/2/", "Fiches à revoir, page 2 sur 2"),
    ]
    first, second = (p.render(p.url) for p in made)
    tables = [[m for m in members if f'<caption id="revues-{m}">' in html] for html in (first, second)]
    assert tables == [members[:2], members[2:]]
    # The first page lists every member concerned: on it, by anchor; on the second, by its address.
    assert f'<a href="#membre-{members[0]}">' in first and f'<a href="2/#membre-{members[2]}">' in first
    assert "<li><strong>1</strong> fiche en retard de revue</li>" in first
    assert "fiche en retard de revue" not in second
    assert "membres 3\n  à 3 sur 3" in second and '<a href="../">première page</a>' in second
    for html, current in ((first, "./"), (second, "./")):
        assert f'<a href="{current}" aria-current="page"><strong>' in html
    assert '<a href="2/">2</a>' in first and '<a href="../">1</a>' in second
    # Without directory URLs, links name the files.
    assert '<a href="2/index.html#membre-' in made[0].render("tableau-de-bord/revues/index.html")
    site = tmp_path / "site"
    assert main(["build", str(territory), "--site-dir", str(site)]) == 0
    assert "Fiches à revoir, page 2 sur 2" in (
        site / "tableau-de-bord" / "revues" / "2" / "index.html"
    ).read_text(encoding="utf-8")
    report = check_links(site)
    assert any(link.startswith("tableau-de-bord/revues/2/index.html:") for link in report.followed)
    assert [b for b in report.broken if b.startswith("tableau-de-bord/revues/")] == []


def test_member_pages_say_an_overdue_review_in_words(result: pipeline.Result, territory: Path) -> None:
    """The member page flags the overdue record by the same rule, and only that one."""
    assert result.territory is not None
    pages = {
        p.src_uri: p
        for p in render.register_pages(result.territory, render.environment(territory), label=result.label)
    }

    def section(member: str, activity: str) -> str:
        html = pages[f"registres/{member}/index.md"].render(f"registres/{member}/")
        start = html.index(f'<section class="dote-activite" aria-labelledby="{activity}">')
        return html[start : html.index("</section>", start)]

    late = section(*OVERDUE)
    assert (
        '<strong class="dote-badge dote-revue--retard">Revue en retard</strong> : à revoir depuis le '
        '<time datetime="2026-12-20">20 décembre 2026</time>, 12 mois après la dernière revue'
    ) in late
    assert "Revue en retard" not in section(*SOON)
