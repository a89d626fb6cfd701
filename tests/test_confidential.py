"""Nothing confidential reaches the public site: markers planted everywhere, then searched for."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import zipfile
from pathlib import Path

import pytest
import yaml

from dote import pipeline
from dote.cache import decompress
from dote.cli import main
from dote.confidential import non_public_keys
from dote.scaffold import init_territory

#: How an LZ4 frame begins (the build cache's entries, see dote.cache.compress).
LZ4_FRAME = bytes.fromhex("04224d18")

_counter = itertools.count()


def _marker() -> str:
    return f"SECRET{next(_counter):04d}ZQX"


def _write(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A territory, its overlay, and every marker planted in a non-public place."""
    root = init_territory(tmp_path / "public", name="Maison DOTE du Test")
    overlay = tmp_path / "prive"
    markers: list[str] = []

    def mark() -> str:
        markers.append(_marker())
        return markers[-1]

    registers = root / "registers"
    _write(
        registers / "processors" / "hebergeur.yml",
        {
            "version_schema": 1,
            "nom": "Hébergeur public",
            "services": ["Hébergement"],
            "contrat_article_28": {"statut": "signe", "date": "2024-01-01"},
            "transferts": "aucun",
        },
    )
    # A company that publishes only the name and the purposes of its activities.
    _write(
        registers / "members" / "societe" / "member.yml",
        {
            "version_schema": 1,
            "nom": "Société Exemple",
            "type": "entreprise",
            "exercice_des_droits": {"courriel": "dpo@societe.example.org"},
            "dpo": "mutualise",
            "publication": "choix",
            "champs_publies": ["nom", "finalites"],
        },
    )
    _write(
        registers / "members" / "societe" / "clients.yml",
        {
            "version_schema": 1,
            "nom": "Gestion des clients",
            "statut": "valide",
            "description": mark(),
            "finalites": {"principale": "Gérer les commandes"},
            "base_legale": {"code": "contrat", "reference": mark()},
            "personnes_concernees": ["clients"],
            "personnes_precisions": mark(),
            "categories_donnees": [
                {
                    "code": "etat-civil-identite",
                    "precisions": mark(),
                    "conservation": {"duree": "P3Y", "depart": mark(), "reference": mark()},
                }
            ],
            "destinataires": {"internes": [mark()], "externes": [mark()], "sous_traitants": ["hebergeur"]},
            "transferts": [
                {"pays": "US", "destinataire": mark(), "garantie": "clauses-contractuelles-types"}
            ],
            "outils": [mark()],
            "service": mark(),
            "aipd": {"statut": "non-requise", "resume": mark()},
        },
    )
    # A company that publishes nothing of its activities (no "nom" chosen).
    _write(
        registers / "members" / "discrete" / "member.yml",
        {
            "version_schema": 1,
            "nom": "Entreprise Discrète",
            "type": "entreprise",
            "exercice_des_droits": {"courriel": "dpo@discrete.example.org"},
            "dpo": "mutualise",
        },
    )
    _write(
        registers / "members" / "discrete" / "fichier.yml",
        {
            "version_schema": 1,
            "nom": mark(),
            "statut": "valide",
            "finalites": {"principale": mark()},
            "personnes_concernees": ["clients"],
            "categories_donnees": [{"code": "autres", "precisions": mark()}],
        },
    )
    # The overlay: every confidential field of an activity, a member and a processor.
    security = {
        key: mark()
        for key in (
            "controle_acces",
            "tracabilite",
            "protection_logiciels",
            "sauvegarde",
            "chiffrement",
            "controle_sous_traitants",
            "autres",
        )
    }
    ov = overlay / "registers"
    _write(
        ov / "members" / "exemple" / "listes-electorales.yml",
        {
            "mesures_securite": security,
            "notes_internes": mark(),
            "recommandations_dpo": [mark(), mark()],
        },
    )
    _write(
        ov / "members" / "exemple" / "member.yml",
        {
            "referent": {"nom": mark(), "courriel": "referent@example.org"},
            "notes_internes": mark(),
        },
    )
    _write(
        ov / "processors" / "hebergeur.yml",
        {"mesures_securite": {"sauvegarde": mark()}, "notes_internes": mark()},
    )
    _write(ov / "members" / "societe" / "clients.yml", {"notes_internes": mark()})
    # The DPO's registers of rights requests and breaches (overlay only, issue 16).
    _write(
        ov / "members" / "exemple" / "demandes.yml",
        {
            "version_schema": 1,
            "demandes": [
                {
                    "id": "2024-001",
                    "recue_le": "2024-01-31",
                    "droit": "acces",
                    "canal": "courriel",
                    "objet": mark(),
                    "prolongation": {"motif": mark(), "personne_informee_le": "2024-02-10"},
                    "repondue_le": "2024-03-20",
                    "issue": "partiellement-satisfaite",
                    "motif_refus": mark(),
                    "notes": mark(),
                }
            ],
        },
    )
    _write(
        ov / "members" / "exemple" / "violations.yml",
        {
            "version_schema": 1,
            "violations": [
                {
                    "id": "2024-courriel",
                    "faits": mark(),
                    "survenue_le": "2024-03-01",
                    "connue_le": "2024-03-01T10:00",
                    "consequences": mark(),
                    "mesures": [mark()],
                    "risque": "risque-eleve",
                    "notification_cnil": {"faite_le": "2024-03-05T09:00", "motif_retard": mark()},
                    "communication_personnes": {"faite_le": "2024-03-06", "moyen": mark()},
                    "notes": mark(),
                },
                {
                    "id": "2024-perte",
                    "faits": mark(),
                    "survenue_le": "2024-04-01",
                    "connue_le": "2024-04-02T08:00",
                    "consequences": mark(),
                    "mesures": [mark()],
                    "risque": "aucun",
                    "notification_cnil": {"motif_absence": mark()},
                    "communication_personnes": {"motif_absence": mark()},
                },
            ],
        },
    )
    # The DPO's audit of a member and its action plan (overlay only, issue 16); the
    # questionnaire they answer is public (registers/audit.yml).
    _write(
        registers / "audit.yml",
        {
            "version_schema": 1,
            "titre": "Audit de maturité",
            "domaines": [
                {
                    "id": "securite",
                    "titre": "Sécurité",
                    "questions": [
                        {
                            "id": "sauvegardes",
                            "texte": "Les données sont-elles sauvegardées hors site ?",
                            "preuves_attendues": "Plan de sauvegarde.",
                            "poids": 3,
                            "references": ["RGPD, art. 32(1)(c)"],
                            "action": "Sauvegarder les données hors site.",
                        }
                    ],
                }
            ],
        },
    )
    _write(
        ov / "members" / "exemple" / "audit.yml",
        {
            "version_schema": 1,
            "date": "2024-03-01",
            "auditeur": mark(),
            "perimetre": mark(),
            "reponses": [
                {"question": "sauvegardes", "reponse": "partiel", "preuves": mark(), "commentaire": mark()}
            ],
        },
    )
    _write(
        ov / "members" / "exemple" / "actions.yml",
        {
            "version_schema": 1,
            "actions": [
                {
                    "id": "sauvegarde-externe",
                    "quoi": mark(),
                    "activites": ["listes-electorales"],
                    "question": "sauvegardes",
                    "responsable": mark(),
                    "echeance": "2024-06-30",
                    "statut": "en-cours",
                    "priorite": "haute",
                    "creation": "2024-03-02",
                    "notes": mark(),
                }
            ],
        },
    )
    # What the companies do not publish was written in registers/ above, as a careless
    # editor would: `dote overlay move` takes it into the overlay.
    assert main(["overlay", "move", str(root), "--overlay", str(overlay)]) == 0
    assert pipeline.run(root).ok
    return root, overlay, markers


def _all_text(site: Path) -> str:
    chunks = []
    for path in site.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix in (".docx", ".odt"):  # downloads: zipped XML
                with zipfile.ZipFile(path) as archive:
                    data = b"\n".join(archive.read(name) for name in archive.namelist())
            elif path.suffix == ".pdf":
                # PDFs are made from pages of docs/ only (never from registers): their text
                # is that of the page's HTML, scanned here (and pypdf takes seconds a file).
                continue
            elif data[:2] == b"\x1f\x8b":  # .gz, Pagefind
                data = gzip.decompress(data)
            elif data[1:5] == LZ4_FRAME or data[:4] == LZ4_FRAME:  # the build cache's entries
                data = decompress(data[1:] if data[1:5] == LZ4_FRAME else data)  # a page's: a flag first
            chunks.append(data)
    return b"\n".join(chunks).decode("utf-8", errors="replace")


def test_public_build_contains_no_marker(
    planted: tuple[Path, Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, overlay, markers = planted
    monkeypatch.setenv("DOTE_CONFIDENTIEL", str(overlay))  # must be ignored by a public build
    # With site_url, the open-data catalogue is written too: every file of /donnees/ is scanned.
    config = root / "mkdocs.yml"
    config.write_text(
        "site_url: https://rgpd.exemple.fr/\n" + config.read_text(encoding="utf-8"), encoding="utf-8"
    )
    site = tmp_path / "site"
    assert main(["build", str(root), "--site-dir", str(site)]) == 0
    text = _all_text(site)
    assert "pagefind-entry.json" in {p.name for p in site.rglob("*")}
    open_data = {p.relative_to(site).as_posix() for p in (site / "donnees").rglob("*") if p.is_file()}
    assert {
        "donnees/territoire.json",
        "donnees/territoire.csv",
        "donnees/catalogue.jsonld",
        "donnees/catalogue.csv",
        "donnees/membres/societe.json",
        "donnees/membres/societe.csv",
        "donnees/membres/discrete.json",
    } <= open_data
    company = (site / "donnees" / "membres" / "societe.json").read_text(encoding="utf-8")
    assert "Gérer les commandes" in company
    leaked = [m for m in markers if m in text + _all_text(root / ".cache")]
    assert leaked == []
    assert "Rapport annuel du DPO" not in text  # the annual report (dote.annual_report): internal only
    # The choices are visible as such: the company's published fields are there.
    societe = (site / "registres" / "societe" / "index.html").read_text(encoding="utf-8")
    assert "Gérer les commandes" in societe and "Non publié (choix du membre)" in societe
    discrete = (site / "registres" / "discrete" / "index.html").read_text(encoding="utf-8")
    assert "Aucune activité n&#39;est encore publiée." in discrete
    assert not (root / "registers" / "members" / "discrete" / "fichier.yml").exists()
    # The national view (issue 17), harvested from this site's open data: its site, its harvest
    # folder and its cache carry no marker either.
    national = tmp_path / "national"
    national.mkdir()
    (national / "national.yml").write_text(
        f"version_schema: 1\nnom: N\nmaisons:\n  - id: t\n    dossier: {json.dumps(str(site))}\n",
        encoding="utf-8",
    )
    assert main(["national", str(national / "national.yml")]) == 0
    national_text = _all_text(national)
    assert "Gérer les commandes" in national_text and "pagefind-entry.json" in national_text
    assert [m for m in markers if m in national_text] == []


def test_internal_build_contains_every_marker(planted: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    root, overlay, markers = planted
    site = tmp_path / "interne"
    assert main(["build", str(root), "--internal", "--overlay", str(overlay), "--site-dir", str(site)]) == 0
    text = _all_text(site)
    assert [m for m in markers if m not in text] == []
    assert '<h2 id="rapport-annuel">Rapport annuel du DPO' in text  # shown on internal member pages
    # Open data is the public site's: an internal build's records hold what members withhold.
    written = {p.relative_to(site).as_posix() for p in (site / "donnees").rglob("*") if p.is_file()}
    assert written == {"donnees/index.html", "donnees/dictionnaire/index.html"}
    # The build cache of the territory (.cache/dote/, next to the public files) keeps nothing
    # confidential: an internal build neither caches its pages nor the overlay's files.
    cached = _all_text(root / ".cache")
    assert "Gérer les commandes" in cached  # the scan reads the (compressed) entries…
    assert [m for m in markers if m in cached] == []  # …and finds nothing confidential
    assert "Version interne confidentielle" in (site / "index.html").read_text(encoding="utf-8")
    assert 'content="noindex, nofollow"' in (site / "index.html").read_text(encoding="utf-8")


def test_a_public_build_after_an_internal_one_in_the_same_process_sees_no_marker(
    planted: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    # MkDocs keeps plugin instances between builds of one process (as `dote serve` does).
    root, overlay, markers = planted
    internal, public = tmp_path / "sortie-interne", tmp_path / "sortie-publique"
    assert (
        main(["build", str(root), "--internal", "--overlay", str(overlay), "--site-dir", str(internal)]) == 0
    )
    assert main(["build", str(root), "--site-dir", str(public)]) == 0
    public_text = _all_text(public)  # once, not once per marker
    assert [m for m in markers if m in public_text] == []
    assert "Version interne" not in (public / "index.html").read_text(encoding="utf-8")


def test_internal_build_refuses_the_public_site_dir(
    planted: tuple[Path, Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, overlay, _ = planted
    code = main(
        ["build", str(root), "--internal", "--overlay", str(overlay), "--site-dir", str(root / "site")]
    )
    assert code == 2
    assert "ne peut pas écrire dans le dossier du site public" in capsys.readouterr().err
    assert not (root / "site").exists()


def test_internal_build_needs_an_overlay(
    planted: tuple[Path, Path, list[str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _, _ = planted
    monkeypatch.delenv("DOTE_CONFIDENTIEL", raising=False)
    assert main(["build", str(root), "--internal"]) == 2
    assert "aucun dépôt confidentiel" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("relative", "key"),
    [
        ("members/exemple/listes-electorales.yml", "mesures_securite"),
        ("members/exemple/listes-electorales.yml", "notes_internes"),
        ("members/exemple/listes-electorales.yml", "recommandations_dpo"),
        ("members/exemple/member.yml", "referent"),
    ],
)
def test_confidential_field_in_public_registers_fails_at_its_line(
    tmp_path: Path, relative: str, key: str
) -> None:
    root = init_territory(tmp_path / "t")
    path = root / "registers" / relative
    lines = path.read_text(encoding="utf-8").splitlines()
    values = {
        "mesures_securite": "\n  sauvegarde: quotidienne",
        "notes_internes": " à revoir",
        "recommandations_dpo": "\n  - chiffrer",
        "referent": "\n  nom: Jeanne Agent",
    }
    lines.insert(3, f"{key}:{values[key]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = pipeline.run(root)
    found = [p for p in result.errors if key in p.message]
    assert len(found) == 1
    assert found[0].position.file == f"registers/{relative}"
    assert (found[0].position.line, found[0].position.column) == (4, 1)
    assert "dépôt confidentiel" in found[0].hint
    assert result.territory is None


def test_overlay_problems_are_reported(planted: tuple[Path, Path, list[str]]) -> None:
    root, overlay, _ = planted
    _write(overlay / "registers" / "members" / "exemple" / "inconnue.yml", {"notes_internes": "x"})
    _write(
        overlay / "registers" / "members" / "societe" / "clients.yml",
        {"finalites": {"principale": "public"}, "mesures_securite": {"sauvegrade": "x"}},
    )
    result = pipeline.run(root, overlay=overlay)
    messages = [(p.position.file, p.message, p.hint) for p in result.errors]
    assert any(f.endswith("inconnue.yml") and "aucune fiche publique" in m for f, m, _ in messages)
    assert any("« finalites » inattendu dans le dépôt confidentiel" in m for _, m, _ in messages)
    assert any("sauvegrade" in m and "sauvegarde" in h for _, m, h in messages)


def test_visibility_is_declared_in_the_schemas() -> None:
    assert {"mesures_securite", "notes_internes", "recommandations_dpo"} <= non_public_keys("activite")
    assert {"referent", "notes_internes"} <= non_public_keys("membre")
    assert {"mesures_securite", "notes_internes"} <= non_public_keys("sous-traitant")
    assert "finalites" not in non_public_keys("activite")


def test_authority_export_contains_the_confidential_fields(
    planted: tuple[Path, Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import json

    root, overlay, markers = planted
    out = tmp_path / "export" / "exemple.csv"
    assert main(["export", str(root), "--member", "exemple", "--overlay", str(overlay), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines(), delimiter=";"))
    assert [r["Identifiant"] for r in rows] == ["listes-electorales"]
    security = (overlay / "registers" / "members" / "exemple" / "listes-electorales.yml").read_text(
        encoding="utf-8"
    )
    planted_here = [m for m in markers if m in security and "mesures_securite" in security]
    assert planted_here and all(m in rows[0]["Mesures de sécurité"] for m in planted_here[:7])
    assert rows[0]["Base légale"].startswith("Respect d'une obligation légale")
    assert (
        main(["export", str(root), "--member", "exemple", "--overlay", str(overlay), "--format", "json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert (
        data["membre"] == "exemple" and data["activites"][0]["Activité"] == "Gestion des listes électorales"
    )


def test_authority_export_needs_the_overlay_and_stays_out_of_the_public_repository(
    planted: tuple[Path, Path, list[str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root, overlay, _ = planted
    monkeypatch.delenv("DOTE_CONFIDENTIEL", raising=False)
    assert main(["export", str(root), "--member", "exemple"]) == 2
    assert "mesures de sécurité" in capsys.readouterr().err
    inside = root / "exports" / "exemple.csv"
    assert (
        main(["export", str(root), "--member", "exemple", "--overlay", str(overlay), "-o", str(inside)]) == 2
    )
    assert "dépôt public" in capsys.readouterr().err and not inside.exists()
    assert main(["export", str(root), "--member", "inconnu", "--overlay", str(overlay)]) == 2


def test_export_cells_cannot_become_spreadsheet_formulas() -> None:
    from dote.export import COLUMNS, to_csv

    row = dict.fromkeys(COLUMNS, "")
    row["Activité"] = '=HYPERLINK("http://exemple.invalid")'
    row["Service"] = "@SUM(A1)"
    text = to_csv([row])
    assert "\"'=HYPERLINK" in text and '"\'@SUM(A1)"' in text


def test_a_careless_public_build_sees_no_marker(
    planted: tuple[Path, Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Variable set, `overlay:` in mkdocs.yml, plain `mkdocs build`, and page code that looks for it."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    root, overlay, markers = planted
    monkeypatch.setenv("DOTE_CONFIDENTIEL", str(overlay))
    config_file = root / "mkdocs.yml"
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(
        re.sub(r"  - dote( .*)?\n", f"  - dote:\n      overlay: {overlay}\n", text, count=1), encoding="utf-8"
    )
    assert f"overlay: {overlay}" in config_file.read_text(encoding="utf-8")
    # Page code (macros are code) that would print every overlay file it can find.
    # A module of its own name: mkdocs-macros imports by name, and `macros` may already be
    # imported by an earlier build in this process.
    module = f"fuite_{_marker().lower()}"
    config_file.write_text(
        config_file.read_text(encoding="utf-8").replace("module_name: macros", f"module_name: {module}"),
        encoding="utf-8",
    )
    (root / f"{module}.py").write_text(
        "import os\nfrom pathlib import Path\nfrom dote.macros import define_env as dote_env\n\n"
        "def define_env(env):\n"
        "    dote_env(env)\n"
        "    found = [os.environ.get('DOTE_CONFIDENTIEL'), env.conf['plugins']['dote'].config.overlay]\n"
        "    env.variables['fuite'] = ' '.join(\n"
        "        p.read_text() for f in found if f for p in Path(f).rglob('*.yml')\n"
        "    ) or 'rien'\n",
        encoding="utf-8",
    )
    (root / "docs" / "fuite.md").write_text("Fuite : {{ fuite }}\n", encoding="utf-8")
    site = tmp_path / "site"
    build(load_config(config_file=str(config_file), site_dir=str(site)))
    assert "Fuite : rien" in (site / "fuite" / "index.html").read_text(encoding="utf-8")
    text = _all_text(site)
    assert [m for m in markers if m in text] == []


def _public_file(root: Path, kind: str) -> Path:
    registers = root / "registers"
    if kind == "activite":
        return registers / "members" / "exemple" / "listes-electorales.yml"
    if kind == "membre":
        return registers / "members" / "exemple" / "member.yml"
    if kind == "sous-traitant":
        path = registers / "processors" / "p.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("version_schema: 1\nnom: P\n", encoding="utf-8")
        return path
    model = "version_schema: 1\nnom: M\nversion: {v}\nfinalites:\n  principale: G\npersonnes_concernees: [usagers]\n"
    (registers / "models" / "versions").mkdir(parents=True, exist_ok=True)
    (registers / "models" / "m.yml").write_text(model.format(v=2), encoding="utf-8")
    if kind == "modele":
        return registers / "models" / "m.yml"
    archive = registers / "models" / "versions" / "m@1.yml"
    archive.write_text(model.format(v=1), encoding="utf-8")
    return archive


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        (kind, key)
        for kind in ("activite", "membre", "sous-traitant", "modele", "archive")
        for key in sorted(non_public_keys("modele" if kind == "archive" else kind))
    ],
)
def test_every_non_public_field_is_refused_in_registers_at_its_line(
    tmp_path: Path, kind: str, key: str
) -> None:
    root = init_territory(tmp_path / "t")
    path = _public_file(root, kind)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(f"{key}: quelque chose\n")
    line = len(path.read_text(encoding="utf-8").splitlines())
    errors = [
        e for e in pipeline.run(root).errors if f"« {key} »" in e.message and "registre public" in e.message
    ]
    assert [(e.position.file, e.position.line) for e in errors] == [(path.relative_to(root).as_posix(), line)]


def _plant_overlay(root: Path, overlay: Path) -> tuple[list[str], list[str]]:
    """A marker in every non-public field of every register file, written in the overlay.

    Returns the markers that the internal outputs must show (activities, members,
    processors) and those of the models (only inherited by the activities that use them).
    """
    security_keys = ("controle_acces", "tracabilite", "protection_logiciels", "sauvegarde", "chiffrement")
    shown: list[str] = []
    models: list[str] = []

    def mark(into: list[str]) -> str:
        into.append(_marker())
        return into[-1]

    registers = root / "registers"
    for path in sorted(registers.rglob("*.yml")):
        rel = path.relative_to(registers)
        if rel.parts[0] == "members" and rel.name == "member.yml":
            data: dict[str, object] = {
                "referent": {"nom": mark(shown), "adresse": mark(shown), "numero_designation": mark(shown)},
                "notes_internes": mark(shown),
            }
        elif rel.parts[0] == "members":
            data = {
                "mesures_securite": {k: mark(shown) for k in security_keys},
                "notes_internes": mark(shown),
                "recommandations_dpo": [mark(shown)],
            }
        elif rel.parts[0] == "processors":
            data = {"mesures_securite": {"sauvegarde": mark(shown)}, "notes_internes": mark(shown)}
        elif rel.parts[0] == "models" and len(rel.parts) == 2:
            data = {"mesures_securite": {"autres": mark(models)}, "notes_internes": mark(models)}
        else:
            continue
        target = overlay / "registers" / rel
        if target.exists():  # fields the member withholds are already there
            data = {**yaml.safe_load(target.read_text(encoding="utf-8")), **data}
        _write(target, data)
    return shown, models


@pytest.mark.parametrize("kind", ["demo", "synthetique"])
def test_canary_on_real_territories(
    kind: str, territory_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo and a `dote demo` territory: nothing non-public in any public file, all of it inside."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    root = territory_copy
    if kind == "synthetique":
        root = tmp_path / "synthetique"
        assert main(["demo", str(root), "--members", "4", "--activities", "3", "--seed", "3"]) == 0
    overlay = tmp_path / "prive"
    shown, models = _plant_overlay(root, overlay)
    assert pipeline.run(root, overlay=overlay).ok
    monkeypatch.setenv("DOTE_CONFIDENTIEL", str(overlay))
    public = tmp_path / "public-site"
    assert main(["build", str(root), "--site-dir", str(public)]) == 0
    text = _all_text(public)
    assert [m for m in shown + models if m in text] == []
    # As a careless CI would: `overlay:` in mkdocs.yml, plain `mkdocs build`.
    config_file = root / "mkdocs.yml"
    config = config_file.read_text(encoding="utf-8")
    config_file.write_text(
        re.sub(r"  - dote( .*)?\n", f"  - dote:\n      overlay: {overlay}\n", config, count=1),
        encoding="utf-8",
    )
    plain = tmp_path / "plain-site"
    build(load_config(config_file=str(config_file), site_dir=str(plain)))
    plain_text = _all_text(plain)  # once, not once per marker
    assert [m for m in shown + models if m in plain_text] == []
    internal = tmp_path / "interne"
    assert (
        main(["build", str(root), "--internal", "--overlay", str(overlay), "--site-dir", str(internal)]) == 0
    )
    inside = _all_text(internal)
    assert [m for m in shown if m not in inside] == []
    member = sorted(p.name for p in (root / "registers" / "members").iterdir())[0]
    out = tmp_path / "export.json"
    assert main(["export", str(root), "--member", member, "--overlay", str(overlay), "-o", str(out)]) == 0
    security = yaml.safe_load(
        next((overlay / "registers" / "members" / member).glob("[!m]*.yml")).read_text(encoding="utf-8")
    )["mesures_securite"]
    assert all(v in out.read_text(encoding="utf-8") for v in security.values())
