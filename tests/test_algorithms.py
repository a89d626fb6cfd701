"""The public algorithms (issue 16): the page ``/registres/algorithmes/``, the checks, the data.

CRPA art. L311-3-1 (mention on the decision, rules communicated on request), R311-3-1-1 (what
the mention says), R311-3-1-2 (what is communicated), L312-1-3 (rules published online by
administrations of 50 agents or more); the CRPA applies to administrations (art. L100-3).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from markupsafe import escape

from dote import algorithms, diff, opendata, pipeline, render
from dote.model import Activity, AlgorithmParameter, Territory

HOSTILE = " <script>x()</script> \" onmouseover='x()' & {{ 1 }}"
MULTI_ACCUEIL = "registers/members/cc-val-exemple/multi-accueil.yml"


@pytest.fixture(scope="module")
def demo(demo_root: Path) -> pipeline.Result:
    result = pipeline.run(demo_root)
    assert result.territory is not None, result.problems
    return result


def _page(root: Path, territory: Territory) -> str:
    generated = algorithms.page(territory, render.environment(root))
    assert generated.url == algorithms.ALGORITHMS_URL
    return generated.render(generated.url)


def _replace_activity(territory: Territory, member_id: str, activity_id: str, **changes: object) -> Territory:
    members = []
    for m in territory.members:
        if m.id == member_id:
            acts = tuple(
                dataclasses.replace(a, **changes) if a.id == activity_id else a for a in m.activities
            )
            m = dataclasses.replace(m, activities=acts)
        members.append(m)
    return dataclasses.replace(territory, members=tuple(members))


def _listed(html: str) -> set[str]:
    return set(re.findall(r'<h3 id="([a-z0-9-]+--[a-z0-9-]+)">', html))


# --- the page ------------------------------------------------------------------------------------


def test_page_lists_exactly_the_flagged_activities(demo_root: Path, demo: pipeline.Result) -> None:
    territory = demo.territory
    assert territory is not None
    flagged = {f"{a.member_id}--{a.id}" for a in territory.activities if a.algorithmic_decisions}
    assert flagged == {"cc-val-exemple--multi-accueil", "valmont--inscriptions-scolaires"}
    html = _page(demo_root, territory)
    assert _listed(html) == flagged
    # members by name, each once, linked to its page; each activity linked to its record
    assert html.index('id="cc-val-exemple"') < html.index('id="valmont"')
    assert 'href="../cc-val-exemple/#multi-accueil"' in html
    assert "<caption" in html and "30 points" in html and "2 points par mois d&#39;attente" in html
    # an activity that says false leaves the page; one with rules only (no flag) joins it
    off = _replace_activity(
        territory, "valmont", "inscriptions-scolaires", algorithm_individual_decisions=False
    )
    assert _listed(_page(demo_root, off)) == {"cc-val-exemple--multi-accueil"}
    legacy = _replace_activity(off, "saint-exemple", "etat-civil", algorithm_rules="Règles")
    assert _listed(_page(demo_root, legacy)) == {"cc-val-exemple--multi-accueil", "saint-exemple--etat-civil"}


def test_page_without_any_algorithm(demo_root: Path, demo: pipeline.Result) -> None:
    territory = demo.territory
    assert territory is not None
    for member_id, activity_id in (
        ("valmont", "inscriptions-scolaires"),
        ("cc-val-exemple", "multi-accueil"),
    ):
        territory = _replace_activity(territory, member_id, activity_id, algorithm_individual_decisions=False)
    html = _page(demo_root, territory)
    assert _listed(html) == set() and "ne déclare dans son registre de décision individuelle" in html


def test_page_writes_register_text_as_text(demo_root: Path, demo: pipeline.Result) -> None:
    assert demo.territory is not None
    texts = {
        field: HOSTILE
        for field in (
            "name",
            "algorithm_decisions",
            "algorithm_mention",
            "algorithm_contribution",
            "algorithm_data",
            "algorithm_operations",
            "algorithm_rules",
        )
    }
    territory = _replace_activity(
        demo.territory,
        "cc-val-exemple",
        "multi-accueil",
        **texts,
        algorithm_link="javascript:x()",
        algorithm_parameters=(AlgorithmParameter(HOSTILE, HOSTILE),),
    )
    html = _page(demo_root, territory)
    assert "<script>" not in html and "onmouseover='" not in html and 'href="javascript:' not in html
    assert "{{ 1 }}" not in html or "{{ 1 }}" in str(escape(HOSTILE))  # Jinja never evaluates register text
    assert html.count(str(escape(HOSTILE))) >= 10
    # the member page too
    member = territory.members_by_id["cc-val-exemple"]
    pages = render.register_pages(territory, render.environment(demo_root))
    page = next(p for p in pages if p.url == f"registres/{member.id}/")
    member_html = page.render(page.url)
    assert "<script>" not in member_html and 'href="javascript:' not in member_html
    assert 'href="../algorithmes/#cc-val-exemple--multi-accueil"' in member_html


def test_a_member_called_algorithmes_clashes(demo: pipeline.Result) -> None:
    territory = demo.territory
    assert territory is not None
    assert algorithms.clash(territory) == ""
    renamed = dataclasses.replace(territory.members[0], id="algorithmes")
    clashing = dataclasses.replace(territory, members=(renamed, *territory.members[1:]))
    assert "registers/members/algorithmes/" in algorithms.clash(clashing)


def test_registers_index_links_the_page(demo_root: Path, demo: pipeline.Result) -> None:
    assert demo.territory is not None
    pages = render.register_pages(demo.territory, render.environment(demo_root))
    index = next(p for p in pages if p.url == "registres/")
    assert '<a href="algorithmes/">Algorithmes publics</a>' in index.render(index.url)
    nav = (demo_root / "mkdocs.yml").read_text(encoding="utf-8")
    assert "Algorithmes publics: registres/algorithmes/index.md" in nav


# --- validation ----------------------------------------------------------------------------------


def _warnings(result: pipeline.Result, name: str) -> list[str]:
    return [p.text() for p in result.problems if p.position.file == name and "algorithm" in p.text()]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_demo_blocks_are_complete(demo: pipeline.Result) -> None:
    assert not [p for p in demo.problems if "traitement_algorithmique" in p.text() or "L311" in p.text()]


@pytest.mark.parametrize(("staff", "warned"), [(49, False), (50, True), (65, True), (None, True)])
def test_publication_threshold_at_its_edge(territory_copy: Path, staff: int | None, warned: bool) -> None:
    """L312-1-3: fewer than 50 agents or employees, no online publication required; 50 is not fewer."""
    member = territory_copy / "registers/members/cc-val-exemple/member.yml"
    _edit(member, "effectif: 65\n", f"effectif: {staff}\n" if staff is not None else "")
    _edit(
        territory_copy / MULTI_ACCUEIL,
        "  lien: https://cc-val-exemple.example.fr/petite-enfance/reglement-attribution-places\n",
        "",
    )
    text = (territory_copy / MULTI_ACCUEIL).read_text(encoding="utf-8")
    text = re.sub(r"  regles: >-\n(    .*\n)+", "", text)
    (territory_copy / MULTI_ACCUEIL).write_text(text, encoding="utf-8")
    result = pipeline.run(territory_copy)
    assert result.ok, result.errors
    found = [w for w in _warnings(result, MULTI_ACCUEIL) if "ni « regles » ni « lien »" in w]
    assert bool(found) == warned, found
    if found:
        line = text.splitlines().index("traitement_algorithmique:") + 1
        assert found[0].startswith(f"{MULTI_ACCUEIL}:{line}:1: avertissement: ")
        assert "art. L312-1-3" in found[0]
        assert ("n'est pas indiqué" in found[0]) == (staff is None)


def test_a_company_is_told_the_crpa_does_not_apply(territory_copy: Path) -> None:
    """Art. L100-3: the CRPA's « administration »; a company is not one (unless entrusted with a
    public service mission): one warning, and none of the administration's own warnings."""
    _edit(
        territory_copy / "registers/members/boulangerie-exemple/member.yml",
        "champs_publies:\n",
        "champs_publies:\n  - traitement_algorithmique\n",
    )
    path = territory_copy / "registers/members/boulangerie-exemple/fidelite.yml"
    with path.open("a", encoding="utf-8") as f:
        f.write("traitement_algorithmique:\n  decisions_individuelles: true\n")
    result = pipeline.run(territory_copy)
    assert result.ok, result.errors
    name = "registers/members/boulangerie-exemple/fidelite.yml"
    found = [p for p in result.problems if p.position.file == name and "L100-3" in p.message]
    assert len(found) == 1 and found[0].severity == "avertissement"
    assert "« entreprise (TPE ou PME) »" in found[0].message
    assert "mission de service public administratif" in found[0].hint
    assert not [p for p in result.problems if p.position.file == name and "R311-3-1-2" in p.message]
    # the page lists what the register declares
    assert result.territory is not None
    assert "boulangerie-exemple--fidelite" in _listed(_page(territory_copy, result.territory))


def test_inherited_block_is_checked_after_the_model(territory_copy: Path) -> None:
    """A model's block reaches its activities: the checks run on the resolved record."""
    model = territory_copy / "registers/models/versions/etat-civil@1.yml"  # Les Granges' pinned version
    block = "traitement_algorithmique:\n  decisions_individuelles: true\n"
    _edit(model, "decision_automatisee: false\n", "decision_automatisee: false\n" + block)
    result = pipeline.run(territory_copy)
    assert result.ok, result.errors
    name = "registers/members/les-granges/etat-civil.yml"
    found = [p for p in result.problems if p.position.file == name and "R311-3-1-2" in p.message]
    assert found and found[0].hint.startswith("après fusion avec le modèle « etat-civil@1 »")
    # three agents: below the threshold of art. L312-1-3, no publication asked
    assert not [p for p in result.problems if p.position.file == name and "L312-1-3" in p.message]


# --- open data and diff --------------------------------------------------------------------------


def test_open_data_writes_the_block_back(demo: pipeline.Result) -> None:
    assert demo.territory is not None
    a = next(x for x in demo.territory.activities if x.id == "multi-accueil")
    block = opendata.activity_data(a)["traitement_algorithmique"]
    assert block["decisions_individuelles"] is True
    assert block["parametres"][1] == {
        "libelle": "Parent seul exerçant une activité professionnelle ou en formation",
        "ponderation": "30 points",
    }
    assert list(block) == [
        "decisions_individuelles",
        "decisions",
        "mention",
        "contribution",
        "donnees",
        "parametres",
        "operations",
        "regles",
        "lien",
    ]
    member = demo.territory.members_by_id["cc-val-exemple"]
    row = opendata.activity_row(a, member, "", _screening(), (), "")
    assert row["Décisions individuelles fondées sur un algorithme"] == "oui"
    assert (
        "Ancienneté de la demande (2 points par mois d'attente, jusqu'à 24 points)"
        in row["Algorithme : paramètres et pondération"]
    )
    assert set(row) == set(opendata.COLUMNS)
    other = next(x for x in demo.territory.activities if not x.algorithmic_decisions)
    row = opendata.activity_row(other, member, "", _screening(), (), "")
    assert row["Décisions individuelles fondées sur un algorithme"] == ""


def _screening() -> object:
    from dote.dpia import Screening

    return Screening("non-requis", ())


def test_diff_shows_a_changed_weighting(demo: pipeline.Result) -> None:
    territory = demo.territory
    assert territory is not None
    a: Activity = next(x for x in territory.activities if x.id == "multi-accueil")
    before = diff.activity_fields(a, territory)
    changed = dataclasses.replace(
        a,
        algorithm_parameters=(
            *a.algorithm_parameters[:-1],
            AlgorithmParameter("Ancienneté de la demande", "3 points"),
        ),
    )
    after = diff.activity_fields(changed, territory)
    key = "Traitement algorithmique : paramètres et pondération"
    assert before[key] != after[key] and "Ancienneté de la demande : 3 points" in after[key]
    assert {k for k in before if before[k] != after[k]} == {key}
    assert before["Traitement algorithmique : décisions individuelles"] == "Oui"
