"""The dashboard (``/tableau-de-bord/``) and its summary on the home page.

Expected figures are computed here from ``dote.pipeline.run`` with plain counting, not
with :mod:`dote.dashboard`; the built page is then read: every chart (its SVG bars)
and its table must give those figures, in French.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dote import dashboard, opendata, pipeline, render, review
from dote.cache import MemberValues
from dote.cli import main
from dote.dashboard import Chart, Row, compute, pages
from dote.model import Dates, Territory

ROOT = Path(__file__).resolve().parent.parent
NNBSP = "\u202f"
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


# --- what the pipeline says, counted independently ----------------------------------------


def _overdue(reviewed: dt.date | None, today: dt.date) -> bool:
    """Last review more than twelve months before ``today`` (or none)."""
    if reviewed is None:
        return True
    return (reviewed.year + 1, reviewed.month, reviewed.day) < (today.year, today.month, today.day)


def expected(root: Path) -> dict[str, Any]:
    """Every chart's figures ({label: value}) and the key figures, for the territory at ``root``."""
    result = pipeline.run(root)
    territory, label = result.territory, result.label
    assert territory is not None and label is not None
    activities = [a for m in territory.members for a in m.activities]
    today = label.reference_date

    sensitive = {"sensible": 0, "penale": 0, "nir": 0}
    for a in activities:
        for nature in {c.kind.attr("nature") for c in a.categories} - {"courante", None}:
            sensitive[nature] += 1

    verdicts: Counter[str] = Counter()
    required: Counter[str] = Counter()
    done = 0
    for a in activities:
        screening = label.members[a.member_id].activities[a.id].screening
        verdicts[screening.label] += 1
        if screening.verdict == "requis":
            status = a.dpia.status if a.dpia else None
            required[status.label if status else "Non indiqué"] += 1
            done += status is not None and status.code == "realisee"

    countries: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for a in activities:
        key = (a.member_id, a.id)
        for t in a.transfers or ():
            if t.country.attr("zone") == "pays-tiers":
                countries.setdefault(t.country.label, {"own": set(), "via": set()})["own"].add(key)
        for pid in a.recipients.processors:
            p = territory.processors[pid]
            places = [h.country for h in p.hosting] + [t.country for t in p.transfers or ()]
            for country in {c.label for c in places if c.attr("zone") == "pays-tiers"}:
                countries.setdefault(country, {"own": set(), "via": set()})["via"].add(key)

    users: Counter[str] = Counter(pid for a in activities for pid in a.recipients.processors)

    reviews = {}
    for m in territory.members:
        late = [a for a in m.activities if _overdue(a.dates.reviewed, today)]
        if late:
            reviews[m.name] = len(late)

    levels = Counter(r.level.title if r.level else "Non labellisé" for r in label.members.values())
    transfer_activities = set().union(*(c["own"] | c["via"] for c in countries.values()))
    return {
        "today": today,
        "charts": {
            "types": dict(Counter(m.kind.label for m in territory.members)),
            "label": {"Non labellisé": 0, **{lv.title: 0 for lv in label.policy.levels}, **levels},
            "bases-legales": dict(
                Counter(a.legal_basis.basis.label if a.legal_basis else "Non renseignée" for a in activities)
            ),
            "donnees-sensibles": {
                "Données sensibles (santé, opinions, origine… : RGPD, art. 9)": sensitive["sensible"],
                "Infractions et condamnations (RGPD, art. 10)": sensitive["penale"],
                "Numéro de sécurité sociale (NIR)": sensitive["nir"],
            },
            "aipd-depistage": {
                label_: verdicts[label_]
                for label_ in ("AIPD requise", "AIPD à évaluer", "AIPD non requise", "AIPD dispensée")
            },
            "aipd-requises": dict(required),
            "transferts": {name: len(c["own"] | c["via"]) for name, c in countries.items()},
            "sous-traitants": {territory.processors[pid].name: n for pid, n in users.items()},
            "revues": reviews,
            # The screening's facts (issue 14), as the register files state them.
            "moyens": dict(Counter(label for a in activities for label in {t.label for t in a.means})),
            "surveillance": dict(
                Counter(label for a in activities for label in {t.label for t in a.monitoring})
            ),
        },
        "transfer_columns": {name: (len(c["own"]), len(c["via"])) for name, c in countries.items()},
        "figures": {
            "membres": len(territory.members),
            "activites": len(activities),
            "membres_labellises": sum(1 for r in label.members.values() if r.level),
            "aipd_requises": sum(required.values()),
            "aipd_realisees": done,
            "transferts_hors_ue": len(transfer_activities),
            "revues_en_retard": sum(reviews.values()),
        },
    }


# --- reading the built page --------------------------------------------------------------


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _lines(label: str) -> str:
    """A chart's label, its lines joined (a line may end with the hyphen of a compound word)."""
    text = ""
    for line in re.findall(r"<tspan[^>]*>(.*?)</tspan>", label, re.S):
        text += ("" if not text or text.endswith("-") else " ") + html.unescape(line)
    return text


def _number(text: str) -> int:
    assert re.fullmatch(r"\d{1,3}(\u202f\d{3})*", text), (
        f"« {text} » n'est pas un nombre écrit à la française"
    )
    return int(text.replace(NNBSP, ""))


def charts(page: str) -> dict[str, dict[str, Any]]:
    """Each chart of the page, by id: its title, its bars and its table."""
    found = {}
    for match in re.finditer(r'<svg [^>]*id="graphique-([^"]+)"[^>]*>(.*?)</svg>', page, re.S):
        chart_id, body = match[1], match[2]
        svg = match[0]
        labels = [
            _lines(t) for t in re.findall(r'<text class="dote-tdb-libelle"[^>]*>(.*?)</text>', body, re.S)
        ]
        values = [
            _number(_text(t)) for t in re.findall(r'<text class="dote-tdb-valeur"[^>]*>(.*?)</text>', body)
        ]
        table = re.search(rf'<table class="dote-tableau" id="donnees-{chart_id}">(.*?)</table>', page, re.S)
        assert table is not None, f"chart {chart_id} has no table"
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", table[1].split("<tbody>", 1)[1], re.S):
            header = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
            assert header is not None, row
            rows.append((_text(header[1]), [_text(c) for c in re.findall(r"<td>(.*?)</td>", row, re.S)]))
        found[chart_id] = {
            "svg": svg,
            "title": re.search(r'<title id="([^"]+)">(.*?)</title>', body, re.S),
            "bars": list(zip(labels, values, strict=True)),
            "table": table[1],
            "caption": _text(table[1].split("<caption", 1)[1].split(">", 1)[1].split("</caption>", 1)[0]),
            "rows": rows,
            "position": (match.start(), table.start()),
        }
    return found


def _page(site: Path, name: str = "tableau-de-bord/index.html") -> str:
    return (site / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo_expected() -> dict[str, Any]:
    return expected(ROOT)


# --- the demo ------------------------------------------------------------------------------


def test_every_chart_gives_the_pipeline_figures(built_demo: Path, demo_expected: dict[str, Any]) -> None:
    found = charts(_page(built_demo))
    want = demo_expected["charts"]
    assert set(found) == set(want)
    for chart_id, figures in want.items():
        bars = dict(found[chart_id]["bars"])
        if chart_id == "sous-traitants":  # the ten most used, the most used first
            assert len(bars) == min(10, len(figures))
            assert sorted(bars.values(), reverse=True) == sorted(figures.values(), reverse=True)[: len(bars)]
            assert all(figures[name] == n for name, n in bars.items())
        else:
            assert bars == {
                k: v
                for k, v in figures.items()
                if v or chart_id in ("label", "aipd-depistage", "donnees-sensibles")
            }, chart_id
    # The demo has something in every chart.
    assert all(found[c]["bars"] for c in want)


def test_every_chart_has_a_table_with_the_same_numbers(built_demo: Path) -> None:
    for chart_id, chart in charts(_page(built_demo)).items():
        start, table_at = chart["position"]
        assert start < table_at, f"{chart_id}: the table follows its chart"
        title = chart["title"]
        assert (
            title is not None
            and f'aria-labelledby="{title[1]}"' in chart["svg"]
            and 'role="img"' in chart["svg"]
        )
        assert title[2].startswith("Graphique : ") and "tableau" in title[2]
        assert 'viewBox="0 0 ' in chart["svg"] and 'width="100%"' in chart["svg"]
        assert chart["caption"], chart_id
        assert '<th scope="col">' in chart["table"] and chart["rows"]
        table = [(label, _number(cells[0])) for label, cells in chart["rows"]]
        assert table == chart["bars"], chart_id


def test_transfers_count_own_and_processors_transfers(
    built_demo: Path, demo_expected: dict[str, Any]
) -> None:
    rows = charts(_page(built_demo))["transferts"]["rows"]
    columns = {label: (_number(cells[1]), _number(cells[2])) for label, cells in rows}
    assert columns == demo_expected["transfer_columns"]
    assert any(via for _, via in columns.values()), "the demo has transfers through processors"
    table = charts(_page(built_demo))["transferts"]["table"]
    assert re.search(r'href="\.\./sous-traitants/[a-z0-9-]+/"', table)


def test_rows_link_to_their_pages(built_demo: Path) -> None:
    found = charts(_page(built_demo))
    processors = found["sous-traitants"]["table"]
    assert len(re.findall(r'<th scope="row"><a href="\.\./sous-traitants/[a-z0-9-]+/">', processors)) == len(
        found["sous-traitants"]["rows"]
    )
    assert re.search(r'href="\.\./label/#niveau-[a-z0-9-]+"', found["label"]["table"])
    assert re.search(r'href="\.\./registres/[a-z0-9-]+/#label"', found["label"]["table"])
    assert re.search(r'href="\.\./registres/[a-z0-9-]+/"', found["revues"]["table"])
    assert re.search(r'href="\.\./registres/#(public|prive)"', found["types"]["table"])
    page = _page(built_demo)
    for href in re.findall(r'href="(\.\./[^"#]*)', page.split('class="md-content"', 1)[1]):
        target = (built_demo / "tableau-de-bord" / href).resolve()
        assert (target / "index.html").is_file() or target.is_file(), href


def test_key_figures_and_french_text(built_demo: Path, demo_expected: dict[str, Any]) -> None:
    page = _page(built_demo)
    figures = demo_expected["figures"]
    essentials = _text(page.split('id="essentiel"', 1)[1].split("</ul>", 1)[0])
    for key in ("membres", "activites", "aipd_requises", "transferts_hors_ue", "revues_en_retard"):
        assert str(figures[key]) in essentials.split()
    assert f"dont {figures['aipd_realisees']} réalisées" in essentials
    content = _text(page.split('class="md-content"', 1)[1].split("</article>", 1)[0])
    assert ISO_DATE.findall(content) == []
    assert f"au {render.date_fr(demo_expected['today'])}" in content
    assert '<html lang="fr"' in page and "<title>Tableau de bord" in page
    assert 'href="../assets/dote/tableau-de-bord.css"' in page
    assert (built_demo / "assets" / "dote" / "tableau-de-bord.css").is_file()


def test_dashboard_is_in_the_navigation(built_demo: Path) -> None:
    home = _page(built_demo, "index.html")
    link = re.search(r'<a href="tableau-de-bord/" class="md-nav__link">(.*?)</a>', home, re.S)
    assert link is not None and _text(link[1]) == "Tableau de bord"


def test_home_page_summarises_the_dashboard(built_demo: Path, demo_expected: dict[str, Any]) -> None:
    home = _page(built_demo, "index.html")
    section = home.split('id="le-tableau-de-bord"', 1)[1].split("<h2", 1)[0]
    rows = {
        _text(a): _text(b)
        for a, b in re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td[^>]*>(.*?)</td>", section, re.S)
    }
    figures = demo_expected["figures"]
    assert rows == {
        "Membres qui atteignent un niveau du label DOTE": str(figures["membres_labellises"]),
        "Analyses d'impact (AIPD) requises par le dépistage de la Maison": str(figures["aipd_requises"]),
        "dont analyses déclarées réalisées par les membres": str(figures["aipd_realisees"]),
        "Fiches d'activité non revues depuis plus de douze mois, ou sans date de revue": str(
            figures["revues_en_retard"]
        ),
    }
    assert 'href="tableau-de-bord/" id="lien-tableau-de-bord">Voir le tableau de bord</a>' in section
    transfers = re.search(r"directement ou par un sous-traitant</td>\s*<td[^>]*>(\d+)</td>", home)
    assert transfers is not None and int(transfers[1]) == figures["transferts_hors_ue"]


# --- computation details ------------------------------------------------------------------------


def _demo() -> tuple[Territory, Any]:
    result = pipeline.run(ROOT)
    assert result.territory is not None
    return result.territory, result.label


def test_reviews_use_the_label_reference_date_and_twelve_months() -> None:
    territory, label = _demo()
    assert compute(territory, label, dt.date(2000, 1, 1)).reference_date == label.reference_date
    member = next(m for m in territory.members if len(m.activities) >= 4 and m.publication == "complete")
    a = member.activities
    today = dt.date(2026, 6, 15)
    activities = (
        # reviewed exactly twelve months ago: not late; one day more: late; no date: late
        dataclasses.replace(a[0], dates=Dates(reviewed=dt.date(2025, 6, 15))),
        dataclasses.replace(a[1], dates=Dates(reviewed=dt.date(2025, 6, 14))),
        dataclasses.replace(a[2], dates=Dates()),
        # a date its member does not publish: not counted
        dataclasses.replace(a[3], dates=Dates(), withheld=True),
    )
    small = Territory(
        territory.maison,
        (dataclasses.replace(member, activities=activities),),
        territory.processors,
        territory.vocabularies,
    )
    board = compute(small, None, today)
    assert board.reference_date == today and board.label_levels is None
    assert (board.overdue, board.reviews_unpublished, board.members_overdue) == (2, 1, 1)
    assert board.reviews.rows[0].columns == (1, 1, 4)
    assert board.figures()["membres_labellises"] is None


def test_page_without_a_label_policy_and_numbers_in_french() -> None:
    territory, _ = _demo()
    env = render.environment(ROOT)
    page = pages(compute(territory, None, dt.date(2026, 3, 1)), env)[0]
    text = page.render("tableau-de-bord/")
    assert (
        'id="graphique-label"' not in text and 'au <time datetime="2026-03-01">1er mars 2026</time>' in text
    )
    macros = env.get_template("_tdb_graphique.html").module
    chart = Chart("essai", (Row("Beaucoup", 12345), Row("Peu", 7)))
    shown = str(macros.figure(chart, "essai", "Essai", ["Ligne", "Nombre"], lambda t, a="": t))
    assert f">12{NNBSP}345</text>" in shown and f"<td>12{NNBSP}345</td>" in shown
    assert "12345" not in shown


def test_register_text_is_written_as_text() -> None:
    territory, label = _demo()
    hostile = '<img src=x onerror=alert(1)> " onmouseover="x'
    pid = next(p for p in territory.processors if territory.users_of_processor(p))
    processors = dict(territory.processors)
    processors[pid] = dataclasses.replace(processors[pid], name=hostile + " " + "x" * 200)
    changed = dataclasses.replace(territory, processors=processors)
    text = pages(compute(changed, label, label.reference_date), render.environment(ROOT))[0].render(
        "tableau-de-bord/"
    )
    assert "<img" not in text and 'onmouseover="x' not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text  # in the chart, and whole in the table
    svg = re.search(r'<svg [^>]*id="graphique-sous-traitants".*?</svg>', text, re.S)
    assert svg is not None and "…</tspan>" in svg[0]  # a label that long is cut in the chart


# --- each member's figures kept between builds --------------------------------------------------


def _stores(
    tmp_path: Path, result: pipeline.Result, today: dt.date, changed: str = ""
) -> tuple[MemberValues, MemberValues]:
    """The stores of a public build; ``changed``: a member whose records are not those kept."""
    assert result.territory is not None
    keys = {m.id: pipeline.member_key(result.fingerprints, m.id, today) for m in result.territory.members}
    if changed:
        keys[changed] = "autres fiches"
    return MemberValues(tmp_path, "tableau", keys), MemberValues(tmp_path, "revues-fiches", keys)


def test_figures_and_reviews_read_back_are_those_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = pipeline.run(ROOT)
    territory, label = result.territory, result.label
    assert territory is not None and label is not None
    today = label.reference_date
    plain = compute(territory, label, today)
    assert plain.dpia_missing and plain.transfers and plain.processors and plain.reviews  # all counted
    first = compute(territory, label, today, *_stores(tmp_path, result, today))
    assert first == plain
    # The second time, no member's activities are looked at: every figure is read back.
    monkeypatch.setattr(dashboard._Figures, "of", _refused)
    monkeypatch.setattr(review, "Subject", _refused)
    assert compute(territory, label, today, *_stores(tmp_path, result, today)) == plain
    assert review.compute(territory, label, today, kept=_stores(tmp_path, result, today)[1]) == (
        plain.review_list
    )


def _refused(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("computed again")


def test_figures_kept_by_the_open_data_workers_are_those_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a clean build, the open data's forked workers keep each member's figures as they make
    its texts (``OpenData.along``): the dashboard reads every one back, and they are its own."""
    result = pipeline.run(ROOT)
    territory, label = result.territory, result.label
    assert territory is not None and label is not None
    today = label.reference_date
    plain = compute(territory, label, today)
    figures, reviews = _stores(tmp_path, result, today)
    monkeypatch.setattr(opendata, "PARALLEL_FROM", 1)
    monkeypatch.setenv("DOTE_PROCESSUS", "2")
    forked: list[int] = []
    real = opendata.workers.imap_forked
    monkeypatch.setattr(opendata.workers, "imap_forked", lambda *a, **k: forked.append(1) or real(*a, **k))
    opendata.OpenData(
        territory, label, "", today, along=dashboard.figures_keeper(territory, label, today, figures)
    )
    assert forked
    monkeypatch.setattr(dashboard._Figures, "of", _refused)  # none counted here
    assert compute(territory, label, today, figures, reviews) == plain


def test_figures_kept_for_a_label_window_are_read_back_on_another_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member's figures use the date only through its label: kept under its label's window
    (``figures_dated=False``), they are read back the next day, and are that day's figures."""
    result = pipeline.run(ROOT, today=dt.date(2026, 11, 28))
    territory, label = result.territory, result.label
    assert territory is not None and label is not None
    next_day = pipeline.run(ROOT, today=dt.date(2026, 11, 29))
    assert next_day.territory is not None and next_day.label is not None
    assert next_day.label.windows == label.windows  # the demo's labels hold the next day

    def store() -> MemberValues:
        keys = {
            m: pipeline.member_key(result.fingerprints, m, f"fenetre {w}") for m, w in label.windows.items()
        }
        return MemberValues(tmp_path, "tableau", keys)

    compute(territory, label, label.reference_date, store(), figures_dated=False)
    plain = compute(next_day.territory, next_day.label, next_day.label.reference_date)
    monkeypatch.setattr(dashboard._Figures, "of", _refused)
    kept = compute(
        next_day.territory, next_day.label, next_day.label.reference_date, store(), figures_dated=False
    )
    assert kept == plain
    with pytest.raises(AssertionError, match="computed again"):  # dated, as the reviews are
        compute(next_day.territory, next_day.label, next_day.label.reference_date, store())


def test_only_a_changed_member_is_counted_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = pipeline.run(ROOT)
    territory, label = result.territory, result.label
    assert territory is not None and label is not None
    today = label.reference_date
    compute(territory, label, today, *_stores(tmp_path, result, today))
    # Another key for one member (its records changed), and kept figures that no longer fit
    # another's records (an activity id it does not have): both are counted again.
    changed, unfit = territory.members[0].id, territory.members[1].id
    figures, reviews = _stores(tmp_path, result, today, changed)
    kept = figures.get(unfit, today.isoformat())
    figures.put(unfit, (kept[0], ("inconnue",), kept[2]), today.isoformat())
    counted: list[str] = []
    original = dashboard._Figures.of.__func__  # type: ignore[attr-defined]

    def of(cls: Any, member: Any, *args: Any) -> Any:
        counted.append(member.id)
        return original(cls, member, *args)

    monkeypatch.setattr(dashboard._Figures, "of", classmethod(of))
    assert compute(territory, label, today, figures, reviews) == compute(territory, label, today)
    # The two members, then every member for the computation without a store.
    assert counted == [changed, unfit] + [m.id for m in territory.members]


# --- a synthetic territory ---------------------------------------------------------------------


def test_dashboard_of_a_dote_demo_territory(tmp_path: Path) -> None:
    root = tmp_path / "synthetique"
    assert main(["demo", str(root), "--members", "5", "--activities", "7", "--seed", "11"]) == 0
    site = tmp_path / "site"
    assert main(["build", str(root), "--site-dir", str(site)]) == 0
    want = expected(root)
    found = charts(_page(site))
    for chart_id, figures in want["charts"].items():
        if chart_id == "sous-traitants":
            assert all(figures[name] == n for name, n in found[chart_id]["bars"])
            continue
        shown = dict(found[chart_id]["bars"]) if chart_id in found else {}
        assert shown == {
            k: v
            for k, v in figures.items()
            if v or chart_id in ("label", "aipd-depistage", "donnees-sensibles")
        }, chart_id
    for chart in found.values():
        assert [(label, _number(cells[0])) for label, cells in chart["rows"]] == chart["bars"]
    assert 'href="tableau-de-bord/"' in _page(site, "index.html")  # in the navigation
