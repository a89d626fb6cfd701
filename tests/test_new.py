"""``dote new``: a member, activity or processor file to fill, valid as written, with every
field of the format present and explained (the optional ones commented out)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from dote.cli import main

SCHEMAS = Path(__file__).resolve().parent.parent / "src" / "dote" / "schemas"


def _properties(name: str) -> set[str]:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    found = set(schema.get("properties", {}))
    ref = schema.get("$ref", "")
    if ref:  # an activity: the fields it shares with models, in commun.schema.json
        file_name, _, pointer = ref.partition("#")
        target = json.loads((SCHEMAS / file_name).read_text(encoding="utf-8"))
        for part in pointer.strip("/").split("/"):
            target = target[part]
        found |= set(target["properties"])
    return found


@pytest.fixture(scope="module")
def territory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("new") / "territoire"
    assert main(["init", str(root)]) == 0
    return root


def _keys(text: str) -> set[str]:
    """Top-level keys, written or commented out."""
    return set(re.findall(r"^(?:# )?([a-z_0-9]+):", text, re.M))


@pytest.mark.parametrize(
    ("args", "rel", "schema"),
    [
        (["member", "commune-du-nord"], "registers/members/commune-du-nord/member.yml", "membre"),
        (["processor", "editeur-exemple"], "registers/processors/editeur-exemple.yml", "sous-traitant"),
        (["activity", "exemple", "cantine"], "registers/members/exemple/cantine.yml", "activite"),
    ],
)
def test_a_new_file_is_valid_and_has_every_field(
    territory: Path, args: list[str], rel: str, schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", *args, str(territory)]) == 0
    assert f"Fiche écrite : {rel}" in capsys.readouterr().err
    text = (territory / rel).read_text(encoding="utf-8")
    depth = "../../../" if rel.startswith("registers/members/") else "../../"
    assert text.startswith(f"# yaml-language-server: $schema={depth}schemas/{schema}.schema.json\n")
    missing = _properties(schema) - _keys(text)
    assert not missing, f"champs absents de {rel} : {sorted(missing)}"
    # Each field comes with its explanation, in French, on the lines above it.
    for key in _properties(schema):
        block = re.search(rf"((?:^# [^\n]*\n)+)(?:# )?{key}:", text, re.M)
        assert block and ("Obligatoire." in block[1] or "Facultatif." in block[1]), key
    # What must never be written in the public registers is commented out, and says so.
    data = yaml.safe_load(text)
    for key in ("notes_internes", "mesures_securite", "referent", "recommandations_dpo"):
        assert key not in data
    assert "NE L'ÉCRIVEZ PAS ICI" in text
    assert main(["validate", str(territory)]) == 0


def test_a_new_activity_is_a_draft(territory: Path) -> None:
    assert main(["new", "activity", "exemple", "fourriere", str(territory)]) == 0
    data = yaml.safe_load((territory / "registers/members/exemple/fourriere.yml").read_text(encoding="utf-8"))
    assert data["statut"] == "brouillon"
    assert data["nom"] == "Fourriere"
    assert "modele" not in data


def test_a_new_activity_from_a_model_writes_only_what_a_member_adds(
    territory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "activity", "exemple", "etat-civil", str(territory), "--from", "etat-civil"]) == 0
    text = (territory / "registers/members/exemple/etat-civil.yml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["modele"] == "etat-civil" and data["statut"] == "brouillon" and data["nom"] == "État civil"
    keys = _keys(text)
    assert {"service", "volume", "outils", "destinataires", "dates", "retirer"} <= keys
    assert not keys & {"finalites", "categories_donnees", "personnes_concernees", "base_legale"}
    assert "registers/models/etat-civil.yml" in text
    assert main(["validate", str(territory)]) == 0
    # A pinned version is accepted too.
    assert (
        main(["new", "activity", "exemple", "etat-civil-v1", str(territory), "--from", "etat-civil@1"]) == 0
    )
    assert main(["validate", str(territory)]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["member", "Commune_Du_Nord"], "identifiant de membre « Commune_Du_Nord » invalide"),
        (["member", "explorer"], "réservé"),
        (["processor", "Éditeur"], "identifiant de sous-traitant « Éditeur » invalide"),
        (["activity", "exemple", "État civil"], "« etat-civil »"),
        (["activity", "inconnu", "cantine"], "membre « inconnu » inconnu"),
        (["activity", "exemple", "ec", "--from", "etat-civill"], "modèle « etat-civill » inconnu"),
        (["activity", "exemple", "ec", "--from", "etat-civil@9"], "modèle « etat-civil@9 » inconnu"),
        (["activity", "exemple", "member"], "« member » est le nom de la fiche du membre"),
    ],
)
def test_refusals_are_french(
    territory: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p for p in (territory / "registers").rglob("*"))
    ids = 3 if args[0] == "activity" else 2
    assert main(["new", *args[:ids], str(territory), *args[ids:]]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p for p in (territory / "registers").rglob("*")) == before


def test_an_existing_file_is_kept_unless_forced(territory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = territory / "registers" / "members" / "exemple" / "listes-electorales.yml"
    original = path.read_text(encoding="utf-8")
    assert main(["new", "activity", "exemple", "listes-electorales", str(territory)]) == 2
    err = capsys.readouterr().err
    assert "registers/members/exemple/listes-electorales.yml existe déjà" in err and "--force" in err
    assert path.read_text(encoding="utf-8") == original
    assert main(["new", "activity", "exemple", "listes-electorales", str(territory), "--force"]) == 0
    assert path.read_text(encoding="utf-8") != original
    path.write_text(original, encoding="utf-8")


def test_outside_a_territory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "member", "nord", str(tmp_path)]) == 2
    assert "n'est pas un territoire" in capsys.readouterr().err
