"""The national configuration file (``dote national CONFIG``): reading it, and its errors with positions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dote.national import config as national_config
from dote.national.config import ConfigError, load, site_address

FIXTURES = Path(__file__).parent / "fixtures" / "national"


def test_the_fixture_is_valid_and_normalised() -> None:
    config = load(FIXTURES / "national.yml")
    assert config.path == (FIXTURES / "national.yml").absolute()
    assert config.name == "Registre national des Maisons DOTE"
    assert config.site_url == "https://national.example.org/"
    assert config.timeout == 12.5
    assert (config.publisher, config.contact) == (
        "Fédération des Maisons DOTE",
        "mailto:contact@national.example.org",
    )
    assert config.harvest_dir == (FIXTURES.parent / "moisson-nationale").absolute()
    first, second, third = config.maisons
    assert (first.id, first.name, first.site, first.folder) == (
        "val-exemple",
        "Maison DOTE du Val d'Exemple",
        "https://dote.example.org/",
        None,
    )
    assert (second.id, second.name, second.site) == ("nord", "", "http://127.0.0.1:8123/nord/")
    assert third.site == "" and third.folder == (FIXTURES / "site-local").absolute()


@pytest.mark.parametrize(
    ("contact", "expected"),
    [
        ("dpo@exemple.fr", "mailto:dpo@exemple.fr"),
        ("https://exemple.fr/contact", "https://exemple.fr/contact"),
        ("javascript:alert(1)", ""),
        ("pas une adresse", ""),
    ],
)
def test_the_publishers_contact(tmp_path: Path, contact: str, expected: str) -> None:
    path = tmp_path / "national.yml"
    path.write_text(
        "version_schema: 1\nnom: N\nediteur:\n  nom: F\n  contact: "
        + json.dumps(contact)
        + "\nmaisons:\n  - id: a\n    site: https://a.example\n",
        encoding="utf-8",
    )
    if expected:
        assert load(path).contact == expected
    else:
        with pytest.raises(ConfigError) as raised:
            load(path)
        assert "national.yml:5:12: erreur: « contact » : une adresse électronique" in str(raised.value)


def test_defaults(tmp_path: Path) -> None:
    path = tmp_path / "national.yml"
    path.write_text(
        "version_schema: 1\nnom: N\nmaisons:\n  - id: a\n    site: https://a.example\n", encoding="utf-8"
    )
    config = load(path)
    assert config.harvest_dir == tmp_path / "moisson"
    assert config.timeout == national_config.DEFAULT_TIMEOUT == 20.0
    assert config.site_url == ""
    assert config.maisons[0].site == "https://a.example/" and config.maisons[0].name == ""


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "national.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value) == "\n".join(p.text() for p in caught.value.problems)
    return [p.text().replace(f"{path}:", "") for p in caught.value.problems]


HEAD = "version_schema: 1\nnom: Essai\nmaisons:\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version_schema: 1\nmaisons:\n  - id: a\n    site: https://a.example/\n",
            ["1:1: erreur: champ obligatoire « nom » manquant dans le fichier"],
        ),
        (
            "version_schema: 2\nnom: x\nmaisons: [{id: a, site: 'https://a/'}]\n",
            [
                "1:17: erreur: « version_schema » : la seule version de ce format est 1 ; la valeur est le nombre 2"
            ],
        ),
        (
            HEAD + "  - id: a\n    site: https://a.example/\n  - id: a\n    site: https://b.example/\n",
            [
                "6:9: erreur: identifiant de Maison « a » en double (déjà utilisé ligne 4) "
                "(chaque Maison a son propre identifiant : il nomme son dossier de moisson)"
            ],
        ),
        (
            HEAD + "  - id: a\n    site: https://a.example/\n    dossier: .\n",
            [
                "4:5: erreur: Maison « a » : indiquez soit « site » (l'adresse de son site), soit « dossier » "
                "(un site construit, sur ce disque), et un seul des deux"
            ],
        ),
        (
            HEAD + "  - id: a\n",
            [
                "4:5: erreur: Maison « a » : indiquez soit « site » (l'adresse de son site), soit « dossier » (un site construit, sur ce disque), et un seul des deux"
            ],
        ),
        (
            HEAD + "  - id: a\n    site: ftp://a.example/\n",
            [
                "5:11: erreur: « site » : adresse complète attendue, commençant par https:// ou http:// "
                "et suivie d'un nom de serveur"
            ],
        ),
        (
            HEAD + "  - id: a\n    site: https://moi:secret@a.example/\n",
            ["5:11: erreur: « site » : l'adresse ne doit pas contenir d'identifiant ni de mot de passe"],
        ),
        (
            HEAD + "  - id: a\n    site: https://a.example/?x=1\n",
            ["5:11: erreur: « site » : l'adresse d'un site ne doit contenir ni « ? » ni « # »"],
        ),
        (
            HEAD + "  - id: a\n    site: https://a.example/ x\n",
            ["5:11: erreur: « site » : l'adresse contient un espace ou un caractère interdit"],
        ),
        (
            HEAD + "  - id: Val_Exemple\n    site: https://a.example/\n",
            [
                "4:9: erreur: « id » (maisons, élément 1) : identifiant attendu : minuscules, chiffres et tirets "
                "(par exemple « val-exemple ») ; la valeur est le texte « Val_Exemple »"
            ],
        ),
        (
            HEAD + "  - id: a\n    adresse: https://a.example/\n",
            ["5:5: erreur: clé inconnue « adresse » (clés possibles : id, nom, site, dossier)"],
        ),
        (
            "version_schema: 1\nnom: x\nmaisons: []\n",
            ["3:10: erreur: « maisons » : liste vide, au moins un élément est attendu"],
        ),
        (
            "version_schema: 1\nnom: x\ndelai: -3\nmaisons: [{id: a, site: 'https://a/'}]\n",
            ["3:8: erreur: « delai » : un nombre de secondes entre 0 et 3600 est attendu"],
        ),
        (
            "version_schema: 1\nnom: x\nnom: y\nmaisons: []\n",
            [
                "3:1: erreur: clé « nom » en double (déjà écrite ligne 2) (une clé ne peut apparaître qu'une "
                "fois : fusionnez les deux valeurs)"
            ],
        ),
        ("- a\n- b\n", ["1:1: erreur: le fichier doit être un bloc de clés (version_schema, nom, maisons…)"]),
    ],
)
def test_errors_have_positions(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems_of(tmp_path, text) == expected


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    found = problems_of(tmp_path, HEAD + "  - id: a\n    dossier: ../absent\n")
    assert found == [
        f"5:14: erreur: « dossier » : dossier introuvable ({tmp_path.parent / 'absent'}) "
        "(indiquez le dossier d'un site construit par dote build, relatif à ce fichier)"
    ]


def test_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    found = problems_of(tmp_path, "version_schema: 1\nnom: [x\n")
    assert found and found[0].startswith("2:") and "syntaxe YAML invalide" in found[0]
    with pytest.raises(ConfigError, match="fichier illisible"):
        load(tmp_path / "absent.yml")


def test_two_maisons_on_the_same_site(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path, HEAD + "  - id: a\n    site: https://A.example\n  - id: b\n    site: https://a.example/\n"
    )
    assert found == ["7:11: erreur: Maison « b » : même site que la Maison « a » (https://a.example/)"]


def test_site_address() -> None:
    assert site_address("HTTPS://Exemple.ORG") == ("https://exemple.org/", "")
    assert site_address("http://127.0.0.1:8000/nord") == ("http://127.0.0.1:8000/nord/", "")
    assert site_address("javascript:alert(1)")[0] == ""
    assert site_address("https://x.example:99999/")[0] == ""
    assert site_address("https:///chemin")[0] == ""
