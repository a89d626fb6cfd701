"""The DPO's audit (questionnaire, answers, scores, proposed actions) and the action plans."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from dote import pipeline
from dote.audit import (
    Action,
    ActionPlan,
    Answer,
    Domain,
    MemberAudit,
    Question,
    Questionnaire,
    report_markdown,
    score,
)
from dote.cli import main
from dote.label import RULES, parse_policy
from dote.problems import Position

DEMO_OVERLAY = Path(__file__).parent / "fixtures" / "overlay-demo"
AUDIT_FIXTURES = Path(__file__).parent / "fixtures" / "audit-invalid"
HERE = Position("x.yml", 1, 1)


def _question(qid: str, weight: int, domain: str = "d") -> Question:
    return Question(qid, domain, f"Question {qid} ?", "preuve", weight, ("RGPD, art. 30(1)",), f"Faire {qid}")


def _audit(**levels: str) -> MemberAudit:
    answers = {q: Answer(q, level, "", "", HERE) for q, level in levels.items()}
    return MemberAudit("m", dt.date(2026, 3, 1), "Auditrice", "", answers, HERE)


def _action(
    status: str = "a-faire", due: dt.date = dt.date(2026, 2, 28), priority: str = "haute", question: str = ""
) -> Action:
    return Action(
        "a", "Faire", (), question, "Moi", due, status, priority, None, dt.date(2026, 1, 1), None, "", HERE
    )


# --- scores -----------------------------------------------------------------------------


def test_scores_weigh_answers_and_leave_out_sans_objet_and_unanswered() -> None:
    questionnaire = Questionnaire(
        "Q",
        "",
        (
            Domain("d", "Domaine D", "", (_question("a", 3), _question("b", 2), _question("c", 1))),
            Domain("e", "Domaine E", "", (_question("x", 2, "e"), _question("y", 1, "e"))),
        ),
        HERE,
    )
    # d: a oui (3/3), b partiel (1/2), c sans-objet (excluded) → 4/5 = 80 %
    # e: x non (0/2), y unanswered (excluded) → 0/2 = 0 %; overall 4/7 = 57 %
    scores = score(questionnaire, _audit(a="oui", b="partiel", c="sans-objet", x="non"))
    d, e = scores.domains
    assert (d.earned, d.possible, d.percent) == (4.0, 5, 80)
    assert (e.earned, e.possible, e.percent) == (0.0, 2, 0)
    assert e.counts["sans-reponse"] == 1 and d.counts["sans-objet"] == 1
    assert (scores.earned, scores.possible, scores.percent) == (4.0, 7, 57)
    # Every gap (non, partiel) is a proposed action, highest priority first.
    assert [(p.question.id, p.priority) for p in scores.proposals] == [("b", "moyenne"), ("x", "moyenne")]


def test_a_domain_wholly_sans_objet_has_no_score() -> None:
    questionnaire = Questionnaire("Q", "", (Domain("d", "D", "", (_question("a", 3),)),), HERE)
    scores = score(questionnaire, _audit(a="sans-objet"))
    assert scores.domains[0].percent is None and scores.percent is None and not scores.proposals


def test_proposed_actions_take_their_priority_from_the_weight_and_know_the_plan() -> None:
    questionnaire = Questionnaire(
        "Q", "", (Domain("d", "D", "", (_question("a", 1), _question("b", 3), _question("c", 2))),), HERE
    )
    plan = ActionPlan("m", (_action(question="b"),), HERE)
    scores = score(questionnaire, _audit(a="non", b="partiel", c="non"), plan)
    assert [(p.question.id, p.priority, p.planned) for p in scores.proposals] == [
        ("b", "haute", ("a",)),
        ("c", "moyenne", ()),
        ("a", "basse", ()),
    ]


def test_score_rounds_half_up() -> None:
    questionnaire = Questionnaire(
        "Q",
        "",
        (Domain("d", "D", "", (_question("a", 1), _question("b", 1), _question("c", 1), _question("e", 1))),),
        HERE,
    )
    # 1.5 / 4 = 37.5 % → 38 %
    assert score(questionnaire, _audit(a="oui", b="partiel", c="non", e="non")).percent == 38


# --- overdue ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "today", "late"),
    [
        (dt.date(2026, 2, 28), dt.date(2026, 2, 28), False),  # the due day itself is not late
        (dt.date(2026, 2, 28), dt.date(2026, 3, 1), True),  # month end, not a leap year
        (dt.date(2028, 2, 29), dt.date(2028, 2, 29), False),  # leap day
        (dt.date(2028, 2, 29), dt.date(2028, 3, 1), True),
        (dt.date(2026, 12, 31), dt.date(2027, 1, 1), True),  # year end
        (dt.date(2026, 10, 31), dt.date(2026, 11, 2), True),  # due on a Saturday: weekends do not extend it
    ],
)
def test_overdue_at_date_edges(due: dt.date, today: dt.date, late: bool) -> None:
    assert _action(due=due).overdue(today) is late
    assert _action(due=due).days_late(today) == ((today - due).days if late else 0)


@pytest.mark.parametrize("status", ["faite", "abandonnee"])
def test_done_or_abandoned_actions_are_never_late(status: str) -> None:
    assert not _action(status=status).overdue(dt.date(2030, 1, 1))


def test_en_cours_is_late_too() -> None:
    assert _action(status="en-cours").overdue(dt.date(2026, 3, 1))


# --- the demo overlay and the commands ----------------------------------------------------


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    """The demo overlay, copied out of the public repository (where it is refused)."""
    return copy_overlay(tmp_path / "prive")


def copy_overlay(target: Path) -> Path:
    """This module's files of the demo overlay (audits and action plans), out of the public repository."""
    for path in DEMO_OVERLAY.rglob("*.yml"):
        if path.name in ("audit.yml", "actions.yml"):
            dest = target / path.relative_to(DEMO_OVERLAY)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    return target


def test_demo_overlay_validates(demo_root: Path, overlay: Path) -> None:
    result = pipeline.run(demo_root, overlay=overlay)
    assert result.errors == ()
    assert set(result.audit.audits) == {"valmont", "boulangerie-exemple"}
    assert set(result.audit.plans) == {"valmont", "boulangerie-exemple"}
    assert result.audit.questionnaire is not None
    assert 25 <= len(result.audit.questionnaire.questions) <= 35


def test_the_public_pipeline_never_reads_the_overlay_files(demo_root: Path) -> None:
    result = pipeline.run(demo_root)
    assert result.audit.questionnaire is not None
    assert not result.audit.audits and not result.audit.plans and not result.audit.overlay


def test_audit_command_text_and_json(
    demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", str(demo_root), "--overlay", str(overlay), "--member", "boulangerie-exemple"]) == 0
    text = capsys.readouterr().out
    assert "Score global" in text and "Sécurité" in text and "priorité haute" in text
    code = main(
        ["audit", str(demo_root), "--overlay", str(overlay), "--member", "valmont", "--format", "json"]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["membre"] == "valmont" and data["auditeur"].startswith("Claire Martin")
    by_id = {d["domaine"]: d for d in data["domaines"]}
    assert by_id["droits"]["score"] == 100
    assert by_id["violations"]["score"] == 8  # 0.5 / 6
    assert data["score"] == round(100 * data["points"] / data["points_possibles"])
    sauvegardes = next(p for p in data["actions_proposees"] if p["question"] == "sauvegardes")
    assert sauvegardes["priorite"] == "haute" and sauvegardes["au_plan"] == ["sauvegardes-hors-site"]


def test_audit_command_usage_errors(
    demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", str(demo_root), "--member", "valmont"]) == 2
    assert "dépôt confidentiel" in capsys.readouterr().err
    assert main(["audit", str(demo_root), "--overlay", str(overlay), "--member", "inconnu"]) == 2
    assert "membre « inconnu » inconnu" in capsys.readouterr().err
    assert main(["audit", str(demo_root), "--overlay", str(overlay), "--member", "les-granges"]) == 2
    assert "aucun audit pour « les-granges »" in capsys.readouterr().err
    bad = overlay.parent / "rapport.pdf"
    assert (
        main(["audit", str(demo_root), "--overlay", str(overlay), "--member", "valmont", "-o", str(bad)]) == 2
    )
    assert ".docx ou en .odt" in capsys.readouterr().err


def test_audit_report_is_refused_inside_the_public_repository(
    territory_copy: Path, overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for target in (territory_copy / "registers" / "audit.docx", territory_copy / "docs" / "audit.odt"):
        code = main(
            [
                "audit",
                str(territory_copy),
                "--overlay",
                str(overlay),
                "--member",
                "valmont",
                "-o",
                str(target),
            ]
        )
        assert code == 2
        assert "confidentiel" in capsys.readouterr().err
        assert not target.exists()


def _office_text(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        name = "word/document.xml" if path.suffix == ".docx" else "content.xml"
        return archive.read(name).decode("utf-8")


@pytest.mark.parametrize("fmt", ["docx", "odt"])
def test_audit_report_contents(demo_root: Path, overlay: Path, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"audit-valmont.{fmt}"
    assert (
        main(["audit", str(demo_root), "--overlay", str(overlay), "--member", "valmont", "-o", str(target)])
        == 0
    )
    text = _office_text(target)
    for expected in (
        "Commune de Valmont-sur-Exemple",
        "Score par domaine",
        "Actions proposées",
        "Sauvegarder les données hors site",
        "Plan d",  # « Plan d'actions » (the apostrophe may be typographic)
        "Claire Martin",
        "RGPD, art. 32(1)(c)",
        "Document interne et confidentiel",
    ):
        assert expected in text, expected


def test_actions_command_overdue_exit_codes(
    demo_root: Path, overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["actions", str(demo_root), "--overlay", str(overlay)]
    # valmont's backup action is due 2026-06-30: not late that day, late the day after.
    assert main([*base, "--member", "valmont", "--overdue", "--date", "2026-06-30"]) == 0
    assert "sauvegardes-hors-site" not in capsys.readouterr().out
    assert main([*base, "--member", "valmont", "--overdue", "--date", "2026-07-01"]) == 1
    out = capsys.readouterr().out
    assert "sauvegardes-hors-site" in out and "EN RETARD de 1 j" in out
    assert "actions.yml:5:5" in out  # file:line:col of the action
    # Every member; JSON.
    assert main([*base, "--overdue", "--date", "2026-07-01", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    late = {(m["membre"], a["id"]) for m in data["membres"] for a in m["actions"]}
    assert late == {("valmont", "sauvegardes-hors-site"), ("boulangerie-exemple", "mention-fidelite")}
    # Without --overdue: every action, exit 0.
    assert main([*base, "--member", "boulangerie-exemple", "--date", "2026-07-01"]) == 0
    assert "comptes-caisse" in capsys.readouterr().out
    assert main([*base, "--date", "2026-02-30"]) == 2
    assert "date « 2026-02-30 » invalide" in capsys.readouterr().err


# --- the label rule -----------------------------------------------------------------------


def _label_with_rule(root: Path) -> None:
    path = root / "registers" / "label.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["criteres"].append(
        {
            "id": "actions-a-jour",
            "regle": "actions-prioritaires-a-jour",
            "titre": "Plan d'actions à jour",
            "explication": "Aucune action prioritaire du plan d'actions n'est en retard.",
            "portee": "membre",
            "gravite": "moyenne",
        }
    )
    data["niveaux"][-1]["criteres"].append("actions-a-jour")
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_label_rule_is_not_evaluated_without_the_overlay(territory_copy: Path, overlay: Path) -> None:
    assert RULES["actions-prioritaires-a-jour"].needs_overlay
    _label_with_rule(territory_copy)
    public = pipeline.run(territory_copy, today=dt.date(2026, 12, 1))
    assert public.ok and public.label is not None
    warnings = [p for p in public.problems if "actions-prioritaires-a-jour" in p.message]
    assert warnings and all(not p.is_error for p in warnings)
    valmont = public.label.members["valmont"]
    assert [c.id for c in valmont.unevaluated] == ["actions-a-jour"]
    assert not valmont.failures_of("actions-a-jour")
    internal = pipeline.run(territory_copy, today=dt.date(2026, 12, 1), overlay=overlay)
    assert internal.ok and internal.label is not None
    result = internal.label.members["valmont"]
    assert result.unevaluated == ()
    (failure,) = result.failures_of("actions-a-jour")
    assert "Mettre en place une sauvegarde externalisée" in failure.details[0]
    # les-granges has no plan: nothing is late.
    assert not internal.label.members["les-granges"].failures_of("actions-a-jour")


def test_label_command_reports_the_unevaluated_criterion(
    territory_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _label_with_rule(territory_copy)
    assert main(["label", str(territory_copy), "--member", "valmont"]) == 0
    assert "critère « actions-a-jour » non évalué" in capsys.readouterr().out


def test_demo_label_policy_does_not_use_the_overlay_rule(demo_root: Path) -> None:
    from dote.load import load_file

    doc, _ = load_file(demo_root / "registers" / "label.yml", "registers/label.yml", within=demo_root)
    assert doc is not None
    policy = parse_policy(doc)
    assert all(not RULES[c.rule].needs_overlay for c in policy.criteria.values())


# --- validation ---------------------------------------------------------------------------


def _cases() -> list[Path]:
    return sorted(AUDIT_FIXTURES.glob("*.yml"))


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.stem)
def test_invalid_overlay_files(case: Path, territory_copy: Path, overlay: Path) -> None:
    """Each fixture: ``# chemin:`` (in the overlay, or ``public:`` in the territory), ``# attendu: L:C: text``."""
    text = case.read_text(encoding="utf-8")
    header = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    where = next(h.split(":", 1)[1].strip() for h in header if h.startswith("chemin:"))
    expected = [h.split(":", 1)[1].strip() for h in header if h.startswith("attendu:")]
    base = territory_copy if where.startswith("public/") else overlay
    target = base / where.removeprefix("public/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    result = pipeline.run(territory_copy, overlay=overlay, today=dt.date(2026, 12, 1))
    name = target.relative_to(base).as_posix()
    found = [p for p in result.problems if p.position.file.endswith(name)]
    for item in expected:
        line, column, message = item.split(":", 2)
        assert any(
            p.position.line == int(line)
            and p.position.column == int(column)
            and message.strip() in p.message + " " + p.hint
            for p in found
        ), f"{case.name}: {item} not in\n" + "\n".join(p.text() for p in found)
    described = [e.split(":", 2)[2].strip() for e in expected]
    noise = [p for p in found if p.is_error and not any(d in p.message + " " + p.hint for d in described)]
    assert noise == [], "\n".join(p.text() for p in noise)


def test_validate_command_shows_overlay_errors_at_their_line(
    territory_copy: Path, overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = overlay / "registers" / "members" / "valmont" / "actions.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "activites: [etat-civil, listes-electorales, paie]", "activites: [etat-civl]"
        ),
        encoding="utf-8",
    )
    assert main(["validate", str(territory_copy), "--overlay", str(overlay)]) == 1
    out = capsys.readouterr().out
    assert (
        "[confidentiel] registers/members/valmont/actions.yml:8:17: erreur: activité « etat-civl » inconnue"
        in out
    )
    assert "etat-civil" in out  # the close match


def test_member_audit_files_are_refused_in_the_public_registers(territory_copy: Path) -> None:
    for name in ("audit.yml", "actions.yml"):
        (territory_copy / "registers" / "members" / "valmont" / name).write_text(
            "version_schema: 1\n", encoding="utf-8"
        )
    errors = pipeline.run(territory_copy).errors
    refused = sorted(e.position.file for e in errors if "est confidentiel" in e.message)
    assert refused == ["registers/members/valmont/actions.yml", "registers/members/valmont/audit.yml"]


# --- the internal member page ----------------------------------------------------------------


@pytest.fixture(scope="module")
def internal_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import copy_demo

    base = tmp_path_factory.mktemp("audit-site")
    root = copy_demo(base / "territoire")
    overlay = base / "prive"
    copy_overlay(overlay)
    site = base / "interne"
    assert main(["build", str(root), "--internal", "--overlay", str(overlay), "--site-dir", str(site)]) == 0
    return site


def test_internal_member_page_shows_the_audit_chart_and_plan(internal_site: Path) -> None:
    html = (internal_site / "registres" / "valmont" / "index.html").read_text(encoding="utf-8")
    assert 'id="audit"' in html and "Audit et plan d'actions" in html
    # An accessible chart: an image with a title pointing to the table holding the same scores.
    assert 'role="img" aria-labelledby="graphique-audit-titre"' in html
    assert "les valeurs sont dans le tableau qui suit" in html
    assert '<caption id="tableau-audit">' in html
    assert html.count('class="dote-tdb-barre"') >= 9
    assert "Sauvegarder les données hors site" in html  # a proposed action
    assert "En retard (" in html  # the overdue backup action
    assert '<a href="#etat-civil">' in html  # linked activity
    assert "Score global : 63 %" in html


def test_member_without_audit_has_no_section(internal_site: Path) -> None:
    html = (internal_site / "registres" / "les-granges" / "index.html").read_text(encoding="utf-8")
    assert 'id="audit"' not in html


# --- hostile text stays text ---------------------------------------------------------------------


def test_hostile_text_stays_text_on_the_page_and_in_the_report(tmp_path: Path) -> None:
    from tests.conftest import copy_demo
    from tests.hostile import PAYLOAD, live_markup

    root = copy_demo(tmp_path / "territoire")
    overlay = tmp_path / "prive"
    copy_overlay(overlay)
    questionnaire = root / "registers" / "audit.yml"
    data = yaml.safe_load(questionnaire.read_text(encoding="utf-8"))
    first = data["domaines"][0]
    first["titre"] += PAYLOAD
    first["questions"][1]["texte"] += PAYLOAD
    first["questions"][1]["action"] += PAYLOAD
    questionnaire.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for name in ("audit.yml", "actions.yml"):
        path = overlay / "registers" / "members" / "boulangerie-exemple" / name
        member = yaml.safe_load(path.read_text(encoding="utf-8"))
        items = member["reponses"] if name == "audit.yml" else member["actions"]
        for item in items:
            for key in ("preuves", "commentaire", "quoi", "responsable", "notes"):
                if key in item:
                    item[key] += PAYLOAD
        if name == "audit.yml":
            member["auditeur"] += PAYLOAD
        path.write_text(yaml.safe_dump(member, allow_unicode=True, sort_keys=False), encoding="utf-8")
    site = tmp_path / "interne"
    assert main(["build", str(root), "--internal", "--overlay", str(overlay), "--site-dir", str(site)]) == 0
    page = site / "registres" / "boulangerie-exemple" / "index.html"
    assert "dotexss" in page.read_text(encoding="utf-8")
    assert live_markup(site) == []
    report = tmp_path / "rapport.docx"
    assert (
        main(
            [
                "audit",
                str(root),
                "--overlay",
                str(overlay),
                "--member",
                "boulangerie-exemple",
                "-o",
                str(report),
            ]
        )
        == 0
    )
    text = _office_text(report)
    assert "dotexss" in text and "<script>" not in text and "&lt;script&gt;" in text


def test_report_markdown_escapes_markup() -> None:
    questionnaire = Questionnaire("Q", "", (Domain("d", "D *gras* <b>", "", (_question("a", 3),)),), HERE)
    audit = _audit(a="non")
    text = report_markdown(
        questionnaire, score(questionnaire, audit), None, "M | [x](javascript:y)", dt.date(2026, 3, 1)
    )
    assert "<b>" not in text and "*gras*" not in text
