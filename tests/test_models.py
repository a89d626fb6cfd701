"""Model activities, inheritance, drift and the processors registry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dote import pipeline
from dote.cli import main
from dote.scaffold import init_territory

TODAY = __import__("datetime").date(2026, 11, 28)

MODEL = {
    "version_schema": 1,
    "nom": "État civil",
    "version": 2,
    "secteurs": ["public"],
    "description": "Tenue des registres de l'état civil.",
    "finalites": {"principale": "Établir les actes de l'état civil", "secondaires": ["Délivrer des copies"]},
    "base_legale": {"code": "obligation-legale", "reference": "Code civil, art. 34"},
    "personnes_concernees": ["habitants", "parents"],
    "categories_donnees": [
        {
            "code": "etat-civil-identite",
            "precisions": "Nom, prénoms",
            "conservation": {"duree": "P75Y", "sort_final": "versement-archives"},
        },
        {"code": "vie-personnelle", "precisions": "Situation familiale", "conservation": {"duree": "P75Y"}},
    ],
    "destinataires": {"internes": ["Service état civil"], "externes": ["Procureur de la République"]},
    "transferts": "aucun",
    "journal": [
        {"version": 1, "resume": "Première version."},
        {"version": 2, "date": "2026-06-01", "resume": "Durée alignée sur l'instruction de 2009."},
    ],
}
OLD_MODEL = {
    **MODEL,
    "version": 1,
    "journal": [{"version": 1, "resume": "Première version."}],
    "base_legale": {"code": "obligation-legale", "reference": "Code civil (ancienne référence)"},
}


def _yaml(path: Path, data: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def territory(tmp_path: Path) -> Path:
    root = init_territory(tmp_path / "t")
    _yaml(root / "registers" / "models" / "etat-civil.yml", MODEL)
    _yaml(root / "registers" / "models" / "versions" / "etat-civil@1.yml", OLD_MODEL)
    _yaml(
        root / "registers" / "processors" / "nuage.yml",
        {
            "version_schema": 1,
            "nom": "Nuage Exemple",
            "services": ["Messagerie"],
            "hebergement": [{"pays": "US", "prestataire": "Nuage Inc."}],
            "contrat_article_28": {"statut": "signe", "date": "2024-02-01"},
            "transferts": "aucun",
        },
    )
    return root


def _activity(root: Path, name: str, **fields: object) -> Path:
    data = {"version_schema": 1, "nom": name, "statut": "valide", **fields}
    return _yaml(root / "registers" / "members" / "exemple" / f"{name.lower().replace(' ', '-')}.yml", data)


def _mail(root: Path, **fields: object) -> Path:
    """An e-mail activity entrusted to the US-hosted processor « nuage »."""
    return _activity(
        root,
        "Messagerie",
        finalites={"principale": "Échanger des courriels"},
        personnes_concernees=["agents"],
        categories_donnees=[{"code": "connexion"}],
        destinataires={"sous_traitants": ["nuage"]},
        **fields,
    )


def _resolved(root: Path, activity_id: str) -> object:
    result = pipeline.run(root, today=TODAY)
    assert result.errors == (), [p.text() for p in result.errors]
    assert result.territory is not None
    return next(a for a in result.territory.activities if a.id == activity_id)


def test_overrides_replace_merge_and_add(territory: Path) -> None:
    _activity(
        territory,
        "Etat civil",
        modele="etat-civil",
        service="Mairie annexe",
        base_legale={"reference": "Code civil, art. 34 à 101"},
        personnes_concernees=["elus"],
        categories_donnees=[
            {"code": "vie-personnelle", "precisions": "Mariages et PACS"},
            {"code": "nir", "precisions": "Numéro de sécurité sociale (mentions)"},
        ],
        destinataires={"externes": ["Notaires"]},
    )
    activity = _resolved(territory, "etat-civil")
    assert activity.department == "Mairie annexe"  # a new value
    assert activity.legal_basis.basis.code == "obligation-legale"  # block merged key by key…
    assert activity.legal_basis.reference == "Code civil, art. 34 à 101"  # …the written key replaces
    assert [s.code for s in activity.subjects] == ["habitants", "parents", "elus"]  # lists add up
    codes = [c.kind.code for c in activity.categories]
    assert codes == ["etat-civil-identite", "vie-personnelle", "nir"]  # merged by code, new one appended
    personal = activity.categories[1]
    assert personal.details == "Mariages et PACS" and personal.retention.duration == "P75Y"
    assert activity.recipients.external == ("Procureur de la République", "Notaires")
    assert activity.secondary_purposes == ("Délivrer des copies",)
    assert activity.model is not None and activity.model.id == "etat-civil"


def test_retirer_removes_inherited_items(territory: Path) -> None:
    _activity(
        territory,
        "Etat civil",
        modele="etat-civil",
        retirer={
            "personnes_concernees": ["parents"],
            "categories_donnees": ["vie-personnelle"],
            "destinataires": {"externes": ["Procureur de la République"]},
        },
    )
    activity = _resolved(territory, "etat-civil")
    assert [s.code for s in activity.subjects] == ["habitants"]
    assert [c.kind.code for c in activity.categories] == ["etat-civil-identite"]
    assert activity.recipients.external == ()


def test_removing_what_is_not_inherited_is_an_error_at_its_line(territory: Path) -> None:
    path = _activity(
        territory,
        "Etat civil",
        modele="etat-civil",
        retirer={"personnes_concernees": ["habitants", "electeurs"]},
    )
    result = pipeline.run(territory, today=TODAY)
    [problem] = result.errors
    assert problem.position.file == "registers/members/exemple/etat-civil.yml"
    line = path.read_text(encoding="utf-8").splitlines()[problem.position.line - 1]
    assert "electeurs" in line
    assert "« electeurs » n'est pas hérité du modèle « etat-civil »" in problem.message


def test_pinned_version_resolves_against_the_archive_and_drifts(
    territory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _activity(territory, "Etat civil", modele="etat-civil@1")
    _activity(territory, "Etat civil annexe", modele="etat-civil")
    result = pipeline.run(territory, today=TODAY)
    assert result.territory is not None and result.errors == ()
    pinned = next(a for a in result.territory.activities if a.id == "etat-civil")
    latest = next(a for a in result.territory.activities if a.id == "etat-civil-annexe")
    assert pinned.legal_basis.reference == "Code civil (ancienne référence)"
    assert latest.legal_basis.reference == "Code civil, art. 34"
    [drift] = result.territory.drift
    assert (drift.member_id, drift.activity_id, drift.pinned, drift.latest) == ("exemple", "etat-civil", 1, 2)
    assert drift.changed_fields == ("base_legale",)
    assert [e.version for e in drift.journal] == [2]
    assert main(["models", "drift", str(territory)]) == 0
    out = capsys.readouterr().out
    assert "Modèle « etat-civil » : version 2, 2 activité(s), 1 sur une version antérieure" in out
    assert "registers/members/exemple/etat-civil.yml:" in out and "reste sur la version 1" in out
    assert "Durée alignée sur l'instruction de 2009." in out


def test_bump_archives_and_raises_the_version(territory: Path) -> None:
    _activity(territory, "Etat civil", modele="etat-civil")
    assert main(["models", "bump", "etat-civil", str(territory)]) == 0
    archive = territory / "registers" / "models" / "versions" / "etat-civil@2.yml"
    assert archive.is_file()
    assert "version: 3" in (territory / "registers" / "models" / "etat-civil.yml").read_text(encoding="utf-8")
    result = pipeline.run(territory, today=TODAY)
    assert result.errors == ()
    assert any("ne décrit pas la version 3" in p.message for p in result.problems)  # a warning
    assert main(["models", "bump", "etat-civil", str(territory)]) == 0
    assert main(["models", "bump", "inconnu", str(territory)]) == 2


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"modele": "etat-civl"}, "modèle « etat-civl » inconnu"),
        ({"modele": "etat-civil@7"}, "version 7 du modèle « etat-civil » introuvable"),
        (
            {
                "retirer": {"personnes_concernees": ["habitants"]},
                "finalites": {"principale": "x"},
                "personnes_concernees": ["habitants"],
                "categories_donnees": [{"code": "autres"}],
            },
            "« retirer » n'a de sens qu'avec un « modele »",
        ),
        ({"modele": "etat-civil", "finalite": {"principale": "x"}}, "clé inconnue « finalite »"),
        (
            {"modele": "etat-civil", "destinataires": {"sous_traitants": ["nuag"]}},
            "sous-traitant « nuag » inconnu",
        ),
    ],
)
def test_bad_model_references(territory: Path, fields: dict[str, object], expected: str) -> None:
    _activity(territory, "Etat civil", **fields)
    result = pipeline.run(territory, today=TODAY)
    messages = [p.message for p in result.errors if p.position.file.endswith("etat-civil.yml")]
    assert any(expected in m for m in messages), messages


def test_model_cycle_is_reported(territory: Path) -> None:
    base = {"version_schema": 1, "version": 1, "finalites": {"principale": "x"}}
    _yaml(territory / "registers" / "models" / "a.yml", {**base, "nom": "A", "modele": "b"})
    _yaml(territory / "registers" / "models" / "b.yml", {**base, "nom": "B", "modele": "a"})
    result = pipeline.run(territory, today=TODAY)
    cycles = [p for p in result.errors if "cycle de modèles" in p.message]
    assert cycles and all(p.position.file.startswith("registers/models/") for p in cycles)
    assert any("a → b → a" in p.message or "b → a → b" in p.message for p in cycles)


def test_processor_transfer_is_derived_and_warned(territory: Path) -> None:
    _mail(territory, transferts="aucun")
    result = pipeline.run(territory, today=TODAY)
    warnings = [p for p in result.problems if not p.is_error and "nuage" in p.message]
    assert warnings and "hors de l'Espace économique européen (États-Unis)" in warnings[0].message
    assert result.territory is not None
    activity = next(a for a in result.territory.activities if a.id == "messagerie")
    assert [p.id for p in result.territory.processors_outside_eea(activity)] == ["nuage"]


def test_catalogue_and_processor_pages(territory: Path, tmp_path: Path) -> None:
    _activity(territory, "Etat civil", modele="etat-civil@1", service="Mairie annexe")
    _mail(
        territory,
        transferts=[{"pays": "US", "destinataire": "Nuage Inc.", "garantie": "decision-adequation"}],
    )
    site = tmp_path / "site"
    assert main(["build", str(territory), "--site-dir", str(site)]) == 0
    catalogue = (site / "modeles-de-traitements" / "index.html").read_text(encoding="utf-8")
    assert 'href="etat-civil/"' in catalogue and "État civil" in catalogue
    model_page = (site / "modeles-de-traitements" / "etat-civil" / "index.html").read_text(encoding="utf-8")
    assert "Commune d&#39;Exemple : Etat civil" in model_page and "reste sur la version 1" in model_page
    assert "base_legale" in model_page  # the drift table names the changed field
    member = (site / "registres" / "exemple" / "index.html").read_text(encoding="utf-8")
    assert "D'après le modèle" in member and 'href="../../modeles-de-traitements/etat-civil/"' in member
    assert "Mairie annexe" in member and "Procureur de la République" in member  # merged result shown
    processor = (site / "sous-traitants" / "nuage" / "index.html").read_text(encoding="utf-8")
    assert "Commune d&#39;Exemple" in processor and "Messagerie" in processor and "États-Unis" in processor
    registry = (site / "sous-traitants" / "index.html").read_text(encoding="utf-8")
    assert "Nuage Exemple" in registry and "Oui : États-Unis" in registry


def test_processing_done_as_a_processor_names_its_controllers(territory: Path, tmp_path: Path) -> None:
    base = {
        "finalites": {"principale": "Héberger les données des communes"},
        "personnes_concernees": ["usagers"],
        "categories_donnees": [{"code": "etat-civil-identite"}],
        "role": "sous-traitant",
    }
    _activity(
        territory, "Hebergement", **base, pour_le_compte_de=["exemple", "exempel", {"nom": "Mairie voisine"}]
    )
    result = pipeline.run(territory, today=TODAY)
    [error] = result.errors
    assert "membre « exempel » inconnu" in error.message and "exemple" in error.hint
    _activity(territory, "Hebergement", **base, pour_le_compte_de=["exemple", {"nom": "Mairie voisine"}])
    site = tmp_path / "site"
    assert main(["build", str(territory), "--site-dir", str(site)]) == 0
    page = (site / "registres" / "exemple" / "index.html").read_text(encoding="utf-8")
    section = page.split('id="hebergement"', 1)[1]
    assert "Pour le compte de" in section and "Mairie voisine" in section
    _activity(territory, "Hebergement", **base)
    warnings = [p for p in pipeline.run(territory, today=TODAY).problems if "pour_le_compte_de" in p.message]
    assert warnings and not warnings[0].is_error
