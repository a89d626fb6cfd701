"""The DOTE label: criteria one by one, levels, bad policies, and ``dote label``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dote.cli import main
from dote.label import RULES, months_later
from dote.pipeline import Result, run
from dote.scaffold import init_territory

TODAY = dt.date(2026, 11, 28)
MEMBER = "registers/members/exemple/member.yml"
ACTIVITY = "registers/members/exemple/listes-electorales.yml"
LABEL = "registers/label.yml"

Data = dict[str, Any]


def _read(root: Path, rel: str) -> Data:
    data: Data = yaml.safe_load((root / rel).read_text(encoding="utf-8"))
    return data


def _write(root: Path, rel: str, data: Data) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _edit(root: Path, rel: str, change: Callable[[Data], None]) -> None:
    data = _read(root, rel)
    change(data)
    _write(root, rel, data)


@pytest.fixture
def exemplary(tmp_path: Path) -> Path:
    """The skeleton territory, completed so that its member reaches the highest level."""
    root = init_territory(tmp_path / "territoire")

    def activity(data: Data) -> None:
        data["statut"] = "valide"
        data["mention_information"] = "generee"
        data["dates"] = {"creation": "2024-03-01", "mise_a_jour": "2026-10-01", "revue": "2026-10-01"}

    _edit(root, ACTIVITY, activity)
    _edit(root, MEMBER, lambda d: d.update(formation={"derniere_session": "2026-09-15"}))
    return root


def _evaluate(root: Path) -> Result:
    result = run(root, today=TODAY)
    assert result.errors == (), [p.text() for p in result.errors]
    assert result.label is not None
    return result


def _member(root: Path) -> tuple[str | None, list[str]]:
    result = _evaluate(root).label
    assert result is not None
    member = result.member("exemple")
    return (member.level.id if member.level else None), [c.id for c in member.unmet]


def test_the_exemplary_member_meets_every_criterion(exemplary: Path) -> None:
    assert _member(exemplary) == ("exemplaire", [])


def test_the_skeleton_is_engaged_and_says_why_not_more(tmp_path: Path) -> None:
    root = init_territory(tmp_path / "t")
    result = _evaluate(root).label
    assert result is not None
    member = result.member("exemple")
    assert member.level is not None and member.level.id == "engage"
    assert member.next_level is not None and member.next_level.id == "conforme"
    assert [c.id for c in member.unmet] == [
        "mention-information",
        "activites-validees",
        "revue-annuelle",
        "formation-annuelle",
    ]
    failure = member.failures[0]
    assert failure.position.file == ACTIVITY
    assert failure.activity_id == "listes-electorales"
    assert "mention d'information" in failure.criterion.explanation


def _processor(root: Path, status: str) -> None:
    _write(
        root,
        "registers/processors/editeur.yml",
        {
            "version_schema": 1,
            "nom": "Éditeur du logiciel électoral",
            "services": ["Logiciel de gestion électorale"],
            "hebergement": [{"pays": "FR"}],
            "contrat_article_28": {"statut": status},
            "transferts": "aucun",
        },
    )


def _with_processor(data: Data) -> None:
    data["destinataires"]["sous_traitants"] = ["editeur"]


# Each case changes one field of the exemplary territory: (criterion that fails, level left).
CASES: dict[str, tuple[str, Callable[[Path], None], str | None]] = {
    "registre-tenu": ("membre", lambda r: (r / ACTIVITY).unlink(), None),
    "dpo-designe": ("membre", lambda r: _edit(r, MEMBER, lambda d: d.pop("dpo")), None),
    "registre-complet": ("activite", lambda r: _edit(r, ACTIVITY, lambda d: d.pop("destinataires")), None),
    "base-legale": (
        "activite",
        lambda r: _edit(r, ACTIVITY, lambda d: d["base_legale"].update(code="a-determiner")),
        None,
    ),
    "conservation": (
        "activite",
        lambda r: _edit(r, ACTIVITY, lambda d: d["categories_donnees"][0]["conservation"].pop("sort_final")),
        "engage",
    ),
    "donnees-sensibles-encadrees": (
        "activite",
        lambda r: _edit(
            r,
            ACTIVITY,
            lambda d: d["categories_donnees"].append(
                {"code": "sante", "conservation": {"duree": "P1Y", "sort_final": "destruction"}}
            ),
        ),
        "engage",
    ),
    "transferts-documentes": (
        "activite",
        lambda r: _edit(
            r, ACTIVITY, lambda d: d.update(transferts=[{"pays": "US", "destinataire": "Hébergeur"}])
        ),
        "engage",
    ),
    "aipd-realisee": (
        "activite",
        lambda r: _edit(r, ACTIVITY, lambda d: d.update(aipd={"liste_cnil": ["alertes-professionnelles"]})),
        "engage",
    ),
    "mention-information": (
        "activite",
        lambda r: _edit(r, ACTIVITY, lambda d: d.update(mention_information="absente")),
        "engage",
    ),
    "contrats-sous-traitants": (
        "activite",
        lambda r: _processor(r, "en-negociation") or _edit(r, ACTIVITY, _with_processor),
        "engage",
    ),
    "activites-validees": (
        "activite",
        lambda r: _edit(r, ACTIVITY, lambda d: d.update(statut="soumis")),
        "conforme",
    ),
    "revue-annuelle": (
        "activite",
        lambda r: _edit(
            r, ACTIVITY, lambda d: d["dates"].update(revue="2025-10-01", mise_a_jour="2025-10-01")
        ),
        "conforme",
    ),
    "formation-annuelle": (
        "membre",
        lambda r: _edit(r, MEMBER, lambda d: d.update(formation={"derniere_session": "2025-11-27"})),
        "conforme",
    ),
    "aipd-publiee": (
        "activite",
        lambda r: _edit(r, ACTIVITY, lambda d: d.update(aipd={"statut": "realisee", "date": "2026-01-10"})),
        "conforme",
    ),
}


@pytest.mark.parametrize("criterion", sorted(CASES))
def test_one_field_fails_one_criterion_and_sets_the_level(exemplary: Path, criterion: str) -> None:
    scope, change, level = CASES[criterion]
    if criterion in NOTICE_FIELDS:  # a notice the member publishes itself: see the test below
        _edit(exemplary, ACTIVITY, lambda d: d.update(mention_information="https://exemple.fr/mention"))
    change(exemplary)
    result = _evaluate(exemplary).label
    assert result is not None
    member = result.member("exemple")
    assert [c.id for c in member.unmet] == [criterion]
    assert (member.level.id if member.level else None) == level
    failure = member.failures[0]
    assert failure.details, "a failure says what is wrong"
    assert failure.position.file == (MEMBER if scope == "membre" else ACTIVITY)
    assert failure.position.line >= 1


#: Criteria whose field a notice written by the Maison also needs (dote.notices.gaps).
NOTICE_FIELDS = ("base-legale", "registre-complet")


@pytest.mark.parametrize("criterion", NOTICE_FIELDS)
def test_a_field_a_generated_notice_needs_also_fails_the_notice(exemplary: Path, criterion: str) -> None:
    """Without its legal basis (or an Art. 30 field), the Maison cannot write the notice."""
    CASES[criterion][1](exemplary)
    result = _evaluate(exemplary).label
    assert result is not None
    member = result.member("exemple")
    assert [c.id for c in member.unmet] == [criterion, "mention-information"]
    (notice,) = [f for f in member.failures if f.criterion.id == "mention-information"]
    assert notice.details[0].startswith("mention d'information impossible à établir : il manque ")


def test_every_rule_of_the_engine_is_exercised_by_the_demo_policy() -> None:
    policy = yaml.safe_load(
        (Path(__file__).parent.parent / "src/dote/skeleton/registers/label.yml").read_text()
    )
    # Rules that read the confidential overlay (action plans) are left out of the policy a
    # new territory starts with: its public label could not evaluate them (see dote.audit).
    assert {c["regle"] for c in policy["criteres"]} == {n for n, r in RULES.items() if not r.needs_overlay}


def test_no_rule_reads_the_date_behind_its_window() -> None:
    """A member's label is kept for the days of its window (label.DateWindow), which only
    Subject.past and Subject.this_day_only narrow: a rule (or a helper of this module) that
    reads the reference date must say so with this_day_only."""
    import ast
    import inspect

    from dote import label

    tree = ast.parse(inspect.getsource(label))
    readers = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name not in ("past", "after", "this_day_only"):
            reads = any(isinstance(n, ast.Attribute) and n.attr == "today" for n in ast.walk(node))
            says = any(
                isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute)
                and n.func.attr == "this_day_only"
                for n in ast.walk(node)
            )
            if reads and not says:
                readers.append(node.name)
    assert readers == []
    assert all(rule.check.__module__ == "dote.label" for rule in RULES.values())  # all scanned


def test_the_contract_criterion_passes_once_signed(exemplary: Path) -> None:
    _processor(exemplary, "signe")
    _edit(exemplary, ACTIVITY, _with_processor)
    assert _member(exemplary) == ("exemplaire", [])


def test_a_processor_hosted_outside_the_eu_must_document_its_transfer(exemplary: Path) -> None:
    _processor(exemplary, "signe")
    _edit(
        exemplary,
        "registers/processors/editeur.yml",
        lambda d: d.update(hebergement=[{"pays": "US"}]),
    )
    _edit(exemplary, ACTIVITY, _with_processor)
    assert _member(exemplary) == ("engage", ["transferts-documentes"])
    _edit(
        exemplary,
        "registers/processors/editeur.yml",
        lambda d: d.update(
            transferts=[
                {"pays": "US", "destinataire": "Hébergeur", "garantie": "clauses-contractuelles-types"}
            ]
        ),
    )
    assert _member(exemplary) == ("exemplaire", [])


def test_parameters_come_from_the_policy(exemplary: Path) -> None:
    _edit(exemplary, MEMBER, lambda d: d.update(formation={"derniere_session": "2025-11-27"}))
    assert _member(exemplary)[1] == ["formation-annuelle"]

    def longer(data: Data) -> None:
        for criterion in data["criteres"]:
            if criterion["id"] == "formation-annuelle":
                criterion["parametres"]["age_maximum_mois"] = 24

    _edit(exemplary, LABEL, longer)
    assert _member(exemplary) == ("exemplaire", [])


def test_age_criteria_use_the_reference_date(exemplary: Path) -> None:
    later = run(exemplary, today=dt.date(2027, 12, 1)).label
    assert later is not None
    assert [c.id for c in later.member("exemple").unmet] == ["revue-annuelle", "formation-annuelle"]


def test_months_later_clamps_to_the_end_of_the_month() -> None:
    assert months_later(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert months_later(dt.date(2025, 11, 15), 12) == dt.date(2026, 11, 15)


def test_a_territory_without_policy_has_no_label(tmp_path: Path) -> None:
    root = init_territory(tmp_path / "t")
    (root / LABEL).unlink()
    result = run(root, today=TODAY)
    assert result.ok and result.label is None


# --- bad policies -------------------------------------------------------------------


def _problems(root: Path, old: str, new: str) -> list[str]:
    path = root / LABEL
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return [p.text() for p in run(root, today=TODAY).errors]


def _line_of(root: Path, needle: str) -> int:
    lines = (root / LABEL).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def test_unknown_rule_is_a_problem_with_its_line(exemplary: Path) -> None:
    errors = _problems(exemplary, "regle: base-legale-etablie", "regle: base-legale-etabli")
    line = _line_of(exemplary, "regle: base-legale-etabli")
    assert errors == [
        f"{LABEL}:{line}:12: erreur: règle « base-legale-etabli » inconnue (règles proches : base-legale-etablie)"
    ]


def test_level_requiring_an_unknown_criterion(exemplary: Path) -> None:
    errors = _problems(
        exemplary, "criteres: [registre-tenu, dpo-designe,", "criteres: [registre-tenu, dpo-designee,"
    )
    line = _line_of(exemplary, "dpo-designee")
    assert len(errors) == 1
    assert errors[0].startswith(f"{LABEL}:{line}:")
    assert "le niveau « engage » exige le critère « dpo-designee », qui n'est pas défini" in errors[0]
    assert "critères proches : dpo-designe" in errors[0]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "{age_maximum_mois: 12}",
            "{age_maximum_mois: douze}",
            "paramètre « age_maximum_mois » : un nombre de mois",
        ),
        (
            "{age_maximum_mois: 12}",
            "{age_maximum_mois: 0}",
            "paramètre « age_maximum_mois » : un nombre de mois",
        ),
        (
            "{age_maximum_mois: 12}",
            "{age_max: 12}",
            "paramètre « age_max » inconnu pour la règle « revue-recente »",
        ),
        ("{statuts_acceptes: [realisee]}", "{statuts_acceptes: [faite]}", "code « faite » inconnu"),
        ("{statuts_acceptes: [realisee]}", "{statuts_acceptes: realisee}", "une liste de codes attendue"),
        ("{sort_final_requis: true}", "{sort_final_requis: oui}", "true ou false attendu"),
        (
            "parametres: {activites_minimum: 1}",
            "parametres: 1",
            "« parametres » (criteres, élément 1) : un bloc de clés",
        ),
    ],
)
def test_malformed_parameter_is_a_problem_at_validation(
    exemplary: Path, old: str, new: str, message: str
) -> None:
    errors = _problems(exemplary, old, new)
    line = _line_of(exemplary, new)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{LABEL}:{line}:")
    assert message in errors[0]


def test_scope_must_match_the_rule(exemplary: Path) -> None:
    errors = _problems(
        exemplary,
        "portee: membre\n    gravite: elevee\n  - id: registre-complet",
        "portee: activite\n    gravite: elevee\n  - id: registre-complet",
    )
    assert len(errors) == 1
    assert "la règle « dpo-designe » s'applique au membre, pas à chaque activité" in errors[0]
    assert "écrivez « portee: membre »" in errors[0]


def test_duplicate_criterion_and_level_twice(exemplary: Path) -> None:
    errors = _problems(
        exemplary, "[activites-validees, revue-annuelle,", "[activites-validees, base-legale, revue-annuelle,"
    )
    assert any("le critère « base-legale » est exigé par plusieurs niveaux" in e for e in errors)


def test_a_bad_policy_stops_the_build_not_the_render(exemplary: Path, tmp_path: Path) -> None:
    _problems(exemplary, "regle: revue-recente", "regle: revue")
    assert main(["build", str(exemplary), "--site-dir", str(tmp_path / "site")]) == 1
    assert not (tmp_path / "site").exists()


# --- dote label ---------------------------------------------------------------------


def test_cli_label_text(exemplary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(exemplary, ACTIVITY, lambda d: d.update(mention_information="absente"))
    assert main(["label", str(exemplary), "--date", TODAY.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "Commune d'Exemple (exemple) : Engagé ; niveau suivant « Conforme » : 1 critère à remplir" in out
    line = next(ln for ln in out.splitlines() if "mention-information" in ln)
    assert line.startswith(f"{ACTIVITY}:")
    assert "critère « mention-information » non rempli : Chaque activité a une mention d'information" in line
    assert "(pas encore de mention d'information)" in line


def test_cli_label_json_and_member_filter(exemplary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["label", str(exemplary), "--member", "exemple", "--format", "json", "--date", "2026-11-28"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data == [
        {
            "membre": "exemple",
            "nom": "Commune d'Exemple",
            "niveau": "exemplaire",
            "niveau_libelle": "Exemplaire",
            "niveau_suivant": None,
            "activites": [
                {
                    "activite": "listes-electorales",
                    "nom": "Gestion des listes électorales",
                    "niveau": "exemplaire",
                    "aipd": {
                        "verdict": "non-requis",
                        "libelle": "AIPD non requise",
                        "enonce": "AIPD non requise",
                        "etat_declare": None,
                        "criteres_cepd": [],
                        "types_liste_cnil": [],
                        "dispense": None,
                        "raisons": [
                            "Aucun critère du CEPD n'est rempli et le traitement ne figure pas sur "
                            "la liste de la CNIL : une AIPD n'est pas requise."
                        ],
                    },
                }
            ],
            "criteres_non_remplis": [],
        }
    ]


def test_cli_label_exit_codes(exemplary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["label", str(exemplary), "--member", "inconnu"]) == 2
    assert "membre « inconnu » inconnu" in capsys.readouterr().err
    _problems(exemplary, "regle: revue-recente", "regle: revue")
    assert main(["label", str(exemplary)]) == 1
    assert "règle « revue » inconnue" in capsys.readouterr().out
