"""Legal bases beyond one GDPR code per activity (issue 14, point 7).

A legal basis per purpose, the police directive (Directive (EU) 2016/680, loi Informatique
et Libertés title III), legitimate interests of a public body outside its public tasks,
and direct marketing by electronic means (CPCE art. L34-5): the model, the validation rules
on resolved activities, and what the member page, the notices, the open data, the CNIL
export and the diff say of them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from markupsafe import escape

from dote import diff, export, notices, opendata, pipeline, render
from dote.dpia import Screening
from dote.load import Document
from dote.model import Activity, Converter, Member, Territory
from dote.problems import Position
from dote.scaffold import init_territory
from dote.schema import validate_document
from dote.vocabulary import load_vocabularies

TODAY = dt.date(2026, 11, 28)
HOSTILE = " <script>x()</script> \" onmouseover='x()' & {{ 1 }}"
QUOTED = HOSTILE.replace('"', '\\"')  # inside a double-quoted YAML string

COMMON = """\
personnes_concernees: [clients]
categories_donnees:
  - code: etat-civil-identite
    conservation:
      duree: P3Y
destinataires:
  internes: [Accueil]
transferts: aucun
mention_information: generee
"""

FILES = {
    # A purpose with its own basis (consent), and direct marketing by e-mail.
    "fidelite": f"""\
version_schema: 1
nom: Programme de fidélité
statut: valide
finalites:
  principale: Gérer le programme de fidélité
  secondaires:
    - "Envoyer les offres par courriel{QUOTED}"
    - libelle: "Offrir un cadeau d'anniversaire{QUOTED}"
      base_legale:
        code: consentement
        reference: "Formulaire d'adhésion{QUOTED}"
base_legale:
  code: contrat
  reference: Conditions d'adhésion
prospection:
  canaux: [courriel, courrier]
  clients_produits_analogues: true
{COMMON}""",
    # The police directive: the basis is the text that authorises the processing.
    "fourriere": f"""\
version_schema: 1
nom: Fourrière automobile
statut: valide
cadre: directive-police
finalites:
  principale: Prescrire la mise en fourrière des véhicules
base_legale:
  reference: "Code de la route, art. L325-1{QUOTED}"
{COMMON}""",
    # Legitimate interests outside the public tasks of a public body.
    "terres": f"""\
version_schema: 1
nom: Location des terres du domaine privé
statut: valide
finalites:
  principale: Tenir la liste des agriculteurs intéressés par une terre qui se libère
base_legale:
  code: interet-legitime
  hors_missions_publiques: true
{COMMON}""",
}


@pytest.fixture(scope="module")
def territory_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = init_territory(tmp_path_factory.mktemp("bases") / "t")
    for name, text in FILES.items():
        (root / "registers" / "members" / "exemple" / f"{name}.yml").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def result(territory_root: Path) -> pipeline.Result:
    found = pipeline.run(territory_root, today=TODAY)
    assert found.ok, [p.text() for p in found.errors]
    return found


def _get(result: pipeline.Result, activity_id: str) -> tuple[Territory, Member, Activity]:
    territory = result.territory
    assert territory is not None
    member = territory.member("exemple")
    return territory, member, next(a for a in member.activities if a.id == activity_id)


# --- the model ----------------------------------------------------------------------------------


def test_each_purpose_has_its_basis(result: pipeline.Result) -> None:
    _, _, a = _get(result, "fidelite")
    assert a.secondary_purposes == (
        f"Envoyer les offres par courriel{HOSTILE}",
        f"Offrir un cadeau d'anniversaire{HOSTILE}",
    )
    pairs = a.purposes_with_bases
    assert [(p.purpose, p.basis.basis.code if p.basis else None, p.main, p.own) for p in pairs] == [
        ("Gérer le programme de fidélité", "contrat", True, False),
        (f"Envoyer les offres par courriel{HOSTILE}", "contrat", False, False),
        (f"Offrir un cadeau d'anniversaire{HOSTILE}", "consentement", False, True),
    ]
    assert [b.basis.code for b in a.legal_bases] == ["contrat", "consentement"]
    assert a.prospecting is not None
    assert [c.code for c in a.prospecting.electronic_channels] == ["courriel"]


def test_police_directive_basis_is_the_authorising_text(result: pipeline.Result) -> None:
    _, _, a = _get(result, "fourriere")
    assert a.police_directive and a.legal_basis is not None
    assert a.legal_basis.basis.code == "directive-police"
    assert "art. 87" in a.legal_basis.basis.reference
    assert a.legal_basis.reference.startswith("Code de la route, art. L325-1")
    _, _, other = _get(result, "terres")
    assert not other.police_directive and other.legal_basis is not None
    assert other.legal_basis.outside_public_tasks


# --- notices ------------------------------------------------------------------------------------


def _texts(territory: Territory, member: Member, a: Activity) -> list[str]:
    return [b.text for b in notices.notice(territory, member, a)]


def test_notice_lists_each_purpose_with_its_basis_and_rights_per_purpose(result: pipeline.Result) -> None:
    territory, member, a = _get(result, "fidelite")
    assert notices.gaps(member, a) == []
    texts = _texts(territory, member, a)
    assert "Chaque finalité repose sur sa propre base légale :" in texts
    assert any(
        t.startswith(f"Offrir un cadeau d'anniversaire{HOSTILE} : Consentement de la personne") for t in texts
    )
    rights = {label: purposes for label, _, purposes in notices.rights_by_purpose(territory, a)}
    assert rights["Droit à la portabilité"] == ()  # contract and consent both allow it
    assert rights["Droit de retirer son consentement"] == (f"Offrir un cadeau d'anniversaire{HOSTILE}",)
    assert "Droit d'opposition" not in rights  # neither public task nor legitimate interests
    assert notices.PROSPECTING_OBJECTION[0] in rights  # direct marketing: Art. 21(2)-(3)
    assert any("courrier électronique, courrier postal" in t for t in texts)
    assert any("seulement" in t or "qu'aux clients" in t for t in texts)


def test_notice_under_the_police_directive(result: pipeline.Result) -> None:
    territory, member, a = _get(result, "fourriere")
    assert notices.gaps(member, a) == []
    texts = _texts(territory, member, a)
    joined = "\n".join(texts)
    assert notices.POLICE_FRAMEWORK in joined
    for article in ("art. 104", "art. 105", "art. 106", "art. 107", "art. 108"):
        assert f"loi Informatique et Libertés, {article}" in joined
    assert "RGPD, art. 13" not in joined and "RGPD, art. 15" not in joined and "RGPD, art. 77" not in joined
    assert notices.DIRECTIVES_NOTE not in joined  # art. 85 belongs to the law's GDPR title
    assert [label for label, _ in notices.applicable_rights(territory, a)] == [
        r[0] for r in notices.POLICE_RIGHTS
    ]


def test_notice_says_outside_public_tasks(result: pipeline.Result) -> None:
    territory, member, a = _get(result, "terres")
    assert any(notices.OUTSIDE_PUBLIC_TASKS in t for t in _texts(territory, member, a))


# --- the member page ----------------------------------------------------------------------------


def test_member_page_shows_bases_framework_and_channels_as_text(
    territory_root: Path, result: pipeline.Result
) -> None:
    territory = result.territory
    assert territory is not None
    pages = render.register_pages(territory, render.environment(territory_root), label=result.label)
    html = next(p for p in pages if p.url == "registres/exemple/").render("registres/exemple/")
    assert "<script>x()" not in html and "onmouseover='x()'" not in html
    assert str(escape(f"Offrir un cadeau d'anniversaire{HOSTILE}")) + " (Consentement de la personne" in html
    assert "<dt>Cadre juridique</dt>" in html and "articles 104 à 108" in html
    assert "<dt>Prospection commerciale</dt>" in html and "RGPD, art. 21(2) et 21(3)" in html
    assert str(escape(notices.OUTSIDE_PUBLIC_TASKS)) in html


# --- open data, CNIL export, diff ---------------------------------------------------------------


def test_open_data_writes_the_format_back(result: pipeline.Result) -> None:
    territory = result.territory
    assert territory is not None
    convert = Converter(load_vocabularies())
    for a in territory.member("exemple").activities:
        data = opendata.activity_data(a)
        doc = Document(Path(f"{a.id}.json"), a.id, data)
        assert validate_document(doc, "activite") == [], a.id
        back = convert.activity(a.id, a.member_id, data, a.position, withheld=a.withheld)
        for name in ("secondary_purposes", "legal_basis", "secondary_bases", "framework", "prospecting"):
            assert getattr(back, name) == getattr(a, name), (a.id, name)
    _, _, police = _get(result, "fourriere")
    data = opendata.activity_data(police)
    assert data["cadre"] == "directive-police" and "code" not in data["base_legale"]
    _, member, loyalty = _get(result, "fidelite")
    row = opendata.activity_row(loyalty, member, "", Screening("requis", ()), (), "")
    assert row["Canaux de prospection"] == "Courrier électronique ; Courrier postal"
    assert row["Bases légales des finalités secondaires"].startswith("Offrir un cadeau")


def test_cnil_export_and_diff_name_every_basis(result: pipeline.Result) -> None:
    territory, _, loyalty = _get(result, "fidelite")
    text = export.legal_basis_text(loyalty)
    assert text.startswith("Gérer le programme de fidélité : Exécution d'un contrat")
    assert "Offrir un cadeau d'anniversaire" in text and "Consentement de la personne" in text
    _, _, police = _get(result, "fourriere")
    assert export.legal_basis_text(police).startswith("Directive (UE) 2016/680")
    _, _, land = _get(result, "terres")
    assert "hors des missions de service public" in export.legal_basis_text(land)
    fields = diff.activity_fields(loyalty, territory)
    assert fields["Canaux de prospection"] == ("Courrier électronique", "Courrier postal")
    assert fields["Bases légales des finalités secondaires"][0].startswith("Offrir un cadeau")
    assert str(diff.activity_fields(police, territory)["Cadre juridique"]).startswith("Directive")


# --- validation on resolved activities ------------------------------------------------------------

MODEL = """\
version_schema: 1
nom: Relances
version: 1
finalites:
  principale: Relancer les usagers
base_legale:
  code: interet-legitime
personnes_concernees: [usagers]
categories_donnees:
  - code: etat-civil-identite
transferts: aucun
"""


def test_an_inherited_basis_is_checked_where_the_activity_is(tmp_path: Path) -> None:
    """A public member's activity inherits legitimate interests from its model: an error, in
    the activity's file, saying it comes from the model; the flag in the activity lifts it."""
    root = init_territory(tmp_path / "t")
    (root / "registers" / "models").mkdir(exist_ok=True)
    (root / "registers" / "models" / "relances.yml").write_text(MODEL, encoding="utf-8")
    activity = root / "registers" / "members" / "exemple" / "relances.yml"
    activity.write_text(
        "version_schema: 1\nnom: Relances\nstatut: valide\nmodele: relances\n", encoding="utf-8"
    )
    found = pipeline.run(root, today=TODAY)
    errors = [p for p in found.errors if "intérêt légitime" in p.message]
    assert len(errors) == 1, [p.text() for p in found.problems]
    assert errors[0].position.file == "registers/members/exemple/relances.yml"
    assert "après fusion avec le modèle « relances »" in errors[0].hint
    activity.write_text(
        activity.read_text(encoding="utf-8") + "base_legale:\n  hors_missions_publiques: true\n",
        encoding="utf-8",
    )
    assert pipeline.run(root, today=TODAY).ok


def test_a_model_is_checked_for_electronic_prospecting(tmp_path: Path) -> None:
    root = init_territory(tmp_path / "t")
    (root / "registers" / "models").mkdir(exist_ok=True)
    model = root / "registers" / "models" / "offres.yml"
    model.write_text(
        MODEL.replace("interet-legitime", "contrat").replace("[usagers]", "[prospects]")
        + "prospection:\n  canaux: [automate]\n",
        encoding="utf-8",
    )
    found = pipeline.run(root, today=TODAY)
    assert [(p.position.line, p.position.column) for p in found.errors if "L34-5" in p.message] == [(13, 12)]
    assert "automate d'appel" in found.errors[0].message


def test_position_of_a_rule_is_the_code(tmp_path: Path) -> None:
    root = init_territory(tmp_path / "t")
    path = root / "registers" / "members" / "exemple" / "fourriere.yml"
    path.write_text(
        FILES["fourriere"].replace("base_legale:\n", "base_legale:\n  code: obligation-legale\n"),
        encoding="utf-8",
    )
    found = pipeline.run(root, today=TODAY)
    assert [p.position for p in found.errors] == [Position("registers/members/exemple/fourriere.yml", 8, 9)]


@pytest.mark.parametrize(
    ("channels", "expected", "absent"),
    [
        (
            ["courriel", "courrier"],
            ["qu'à des professionnels, à leur adresse professionnelle", "17 février 2005"],
            ["accord préalable"],
        ),
        (
            ["courriel", "sms"],
            [
                "qu'à des professionnels",
                "Par SMS ou MMS, ces offres ne vous sont adressées qu'avec votre accord",
            ],
            [],
        ),
        (
            ["sms"],
            ["Par voie électronique, ces offres ne vous sont adressées qu'avec votre accord"],
            ["17 février"],
        ),
    ],
)
def test_prospecting_professionals_by_email(
    channels: list[str], expected: list[str], absent: list[str]
) -> None:
    """The CNIL's B2B position (17 February 2005) covers e-mail to professionals, nothing else."""
    data = {
        "version_schema": 1,
        "nom": "Offres aux entreprises",
        "statut": "brouillon",
        "finalites": {"principale": "Proposer des services aux entreprises"},
        "prospection": {"canaux": channels, "professionnels": True},
    }
    activity = Converter(load_vocabularies()).activity("membre", "offres", data, Position("x.yml"))
    assert activity.prospecting is not None and activity.prospecting.professionals
    assert activity.prospecting.business_email == ("courriel" in channels)
    text = " ".join(notices.prospecting_texts(activity))
    for part in expected:
        assert part in text, part
    for part in absent:
        assert part not in text, part
    record = opendata.activity_data(activity)
    assert record["prospection"]["professionnels"] is True
    assert validate_document(Document(Path("x.json"), "x", record), "activite", partial=True) == []
