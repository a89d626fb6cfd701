"""``dote diff``: what a change does to the public registers, between two git revisions.

Every test works on a git repository made in a temporary folder from a copy of the demo
territory: nothing but the local disk and the local ``git`` command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import copy_demo
from dote import diff
from dote.cli import main

DATE = "2026-12-01"
HOSTILE = (
    "<img src=x onerror=alert(1)> [x](javascript:alert(1)) @someone #12 https://evil.example www.evil.example"
)

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git est nécessaire")


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits with a fixed identity, without the user's git configuration."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Éditrice")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "editrice@example.fr")


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit(root: Path, message: str) -> str:
    git(root, "add", "--all", ".")
    git(root, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding a copy of the demo territory, committed once (tag ``avant``)."""
    root = copy_demo(tmp_path / "territoire")
    git(root, "init", "--quiet", "-b", "main")
    commit(root, "Registres du Val d'Exemple")
    git(root, "tag", "avant")
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["diff", *args, "--date", DATE])
    out, err = capsys.readouterr()
    return code, out, err


def editor_changes(root: Path) -> None:
    """What an editor does in one pull request."""
    members = root / "registers" / "members"
    # Legal basis and retention of one activity.
    family = members / "valmont" / "portail-famille.yml"
    edit(family, "  code: mission-interet-public\n", "  code: obligation-legale\n")
    edit(
        family,
        "      duree: P1Y\n      depart: dernière fréquentation",
        "      duree: P2Y\n      depart: dernière fréquentation",
    )
    edit(
        family,
        "personnes_concernees: [enfants, eleves, parents]",
        "personnes_concernees: [enfants, parents, habitants]",
    )
    # A new activity, and one removed.
    text = (members / "saint-exemple" / "etat-civil.yml").read_text(encoding="utf-8")
    (members / "saint-exemple" / "registre-arbres.yml").write_text(
        text.replace("nom: État civil\n", "nom: Registre des arbres remarquables\n"), encoding="utf-8"
    )
    (members / "valmont" / "mediatheque.yml").unlink()
    # A DPIA verdict that moves: profiling is a second EDPB criterion.
    edit(members / "saint-exemple" / "recensement-citoyen.yml", "\nnom:", "\nprofilage: true\nnom:")
    # A label level that moves: a record sent back to draft.
    edit(members / "saint-exemple" / "paie.yml", "statut: valide\n", "statut: brouillon\n")
    # A model bumped: Les Granges stays on version 1 of « etat-civil », now two behind.
    assert main(["models", "bump", "etat-civil", str(root)]) == 0


def test_changes_between_two_commits(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    editor_changes(repo)
    commit(repo, "Modifications")
    code, out, err = run(capsys, "avant", "main", str(repo))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "## Changements des registres publics"
    assert "Entre « avant » (`" in out and "et « main » (`" in out and "au 1er décembre 2026." in out
    assert lines[2] == (
        "**3 activités modifiées, 1 ajoutée, 1 supprimée, 1 niveau de label change, "
        "1 dépistage d'AIPD change, 1 modèle change de version, "
        "1 activité reste sur une version antérieure de son modèle.**"
    )
    expected = [
        "#### Commune de Saint-Exemple",
        "- Ajoutée : **Registre des arbres remarquables** (AIPD requise)",
        "- Modifiée : **Paie des agents et indemnités des élus**",
        "  - Statut de la fiche : Validé par le DPO → Brouillon",
        "- Modifiée : **Recensement citoyen obligatoire**",
        "  - Profilage : Non → Oui",
        "#### Commune de Valmont-sur-Exemple",
        "- Supprimée : **Médiathèque (inscriptions et prêts)**",
        "- Modifiée : **Portail famille (restauration, périscolaire et accueil de loisirs)**",
        "  - Base légale : Exécution d'une mission d'intérêt public ou relevant de l'exercice de "
        "l'autorité publique → Respect d'une obligation légale",
        "  - Personnes concernées : ajout de « Habitants » ; retrait de « Élèves et étudiants »",
        "  - Durée de conservation (État civil, identité, données d'identification, images) : 1 an → 2 ans",
        "### Niveaux de label",
        "- Commune de Saint-Exemple : Exemplaire → Engagé",
        "### Dépistage d'analyse d'impact (AIPD)",
        "- Commune de Saint-Exemple, Recensement citoyen obligatoire : AIPD à évaluer → AIPD requise",
        "### Modèles de traitements",
        "- **État civil** : version 2 → 3",
        "- Commune des Granges-d'Exemple, État civil : modèle État civil, version 1 (la dernière est la 3) ; "
        "champs changés depuis : Catégories de données, Destinataires, Finalités, Personnes concernées",
    ]
    content = [line for line in lines if line.strip()]
    positions = [content.index(line) for line in expected]  # each line is there, whole
    assert positions == sorted(positions)  # in this order
    # Exactly those changes: every other line is a heading or the lines above.
    others = [line for line in content[3:] if line not in expected]
    assert others == [
        "### Activités de traitement",
        "Activités restées sur une version antérieure de leur modèle :",
    ]


def test_working_tree_is_the_default_head(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(
        repo / "registers" / "members" / "saint-exemple" / "paie.yml", "statut: valide\n", "statut: soumis\n"
    )
    # Not committed: « dote diff BASE RACINE » and « dote diff BASE » from the territory.
    code, out, err = run(capsys, "main", str(repo))
    assert code == 0, err
    assert "et l'arbre de travail, au 1er décembre 2026." in out
    assert "**1 activité modifiée, 1 niveau de label change.**" in out
    assert "  - Statut de la fiche : Validé par le DPO → Soumis au DPO" in out
    monkeypatch.chdir(repo)
    assert run(capsys, "main")[1] == out
    # A revision compared with itself, or before this change: nothing public changed.
    assert "**Aucun changement des registres publics.**" in run(capsys, "main", "avant", str(repo))[1]


def test_no_public_change(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A hand-written page, and a register file rewritten without changing what it says.
    (repo / "docs" / "index.md").write_text("# Une autre page d'accueil\n", encoding="utf-8")
    family = repo / "registers" / "members" / "valmont" / "portail-famille.yml"
    edit(family, "statut: valide\n", "# Relu en comité.\nstatut: 'valide'\n")
    commit(repo, "Accueil")
    code, out, err = run(capsys, "avant", "HEAD", str(repo))
    assert code == 0, err
    assert out.splitlines()[2] == "**Aucun changement des registres publics.**"
    assert "###" not in out
    data = json.loads(run(capsys, "avant", "HEAD", str(repo), "--format", "json")[1])
    assert data["aucun_changement"] is True
    assert data["resume"] == "Aucun changement des registres publics."


def test_confidential_fields_never_appear(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    overlay = tmp_path / "confidentiel"
    notes = overlay / "registers" / "members" / "valmont" / "portail-famille.yml"
    notes.parent.mkdir(parents=True)
    notes.write_text(
        "notes_internes: NOTE-SECRETE\nmesures_securite:\n  autres: MESURE-SECRETE\n", encoding="utf-8"
    )
    monkeypatch.setenv("DOTE_CONFIDENTIEL", str(overlay))
    edit(
        repo / "registers" / "members" / "valmont" / "portail-famille.yml",
        "statut: valide\n",
        "statut: soumis\n",
    )
    code, out, _ = run(capsys, "avant", str(repo))
    assert code == 0
    assert "Statut de la fiche" in out
    assert "SECRETE" not in out
    # A confidential field written in the public registers is refused, never compared.
    edit(
        repo / "registers" / "members" / "valmont" / "portail-famille.yml",
        "statut: soumis\n",
        "statut: soumis\nnotes_internes: NOTE-PUBLIEE\n",
    )
    code, out, err = run(capsys, "avant", str(repo))
    assert code == 2
    assert out == ""
    assert "notes_internes" in err and "l'arbre de travail" in err


def test_invalid_side(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    family = repo / "registers" / "members" / "valmont" / "portail-famille.yml"
    edit(family, "  code: mission-interet-public\n", "  code: interet-public\n")
    code, out, err = run(capsys, "avant", str(repo))
    assert code == 2
    assert out == ""
    assert re.search(r"^registers/members/valmont/portail-famille\.yml:\d+:\d+: erreur: ", err, re.MULTILINE)
    assert "dote : erreur : les registres ne sont pas valides à l'arbre de travail (1 erreur)" in err
    # The same broken file committed, then repaired: the base is the invalid side.
    broken = commit(repo, "Erreur")
    edit(family, "  code: interet-public\n", "  code: mission-interet-public\n")
    commit(repo, "Correction")
    code, out, err = run(capsys, broken[:10], "HEAD", str(repo))
    assert code == 2
    assert f"ne sont pas valides à la révision « {broken[:10]} »" in err
    assert "registers/members/valmont/portail-famille.yml:" in err


def test_unknown_revision_and_not_a_repository(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, "n-existe-pas", str(repo))
    assert (code, out) == (2, "")
    assert "révision « n-existe-pas » inconnue" in err
    code, out, err = run(capsys, "avant", "autre-inconnue", str(repo))
    assert (code, out) == (2, "")
    assert "révision « autre-inconnue » inconnue" in err
    with pytest.raises(diff.DiffError, match="invalide"):
        diff.resolve_revision(repo, "--output=/tmp/x")
    alone = copy_demo(tmp_path / "hors-git")
    code, out, err = run(capsys, "main", str(alone))
    assert (code, out) == (2, "")
    assert "n'est pas dans un dépôt git" in err
    assert "Traceback" not in err
    monkeypatch.setenv("PATH", str(tmp_path / "sans-git"))
    code, out, err = run(capsys, "main", str(repo))
    assert (code, out) == (2, "")
    assert "git est introuvable" in err


def test_territory_in_a_subfolder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = tmp_path / "depot"
    root = copy_demo(top / "maisons" / "val")
    (top / "README.md").write_text("Le dépôt de plusieurs Maisons\n", encoding="utf-8")
    git(top, "init", "--quiet", "-b", "main")
    commit(top, "Registres")
    edit(
        root / "registers" / "members" / "valmont" / "portail-famille.yml",
        "statut: valide\n",
        "statut: soumis\n",
    )
    commit(top, "Retour au DPO")
    code, out, err = run(capsys, "HEAD~1", "HEAD", str(root))
    assert code == 0, err
    assert "**1 activité modifiée.**" in out
    assert "  - Statut de la fiche : Validé par le DPO → Soumis au DPO" in out


def test_hostile_text_stays_inert(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    members = repo / "registers" / "members"
    family = members / "valmont" / "portail-famille.yml"
    edit(
        family,
        "nom: Portail famille (restauration, périscolaire et accueil de loisirs)\n",
        f"nom: '{HOSTILE}'\n",
    )
    edit(
        family,
        "    - Produire les statistiques de fréquentation demandées par la CAF\n",
        "    - |-\n      Ligne\n\n      # Titre injecté\n      ---\n      <script>alert(1)</script> @équipe-dpo\n",
    )
    edit(members / "valmont" / "member.yml", "nom: Commune de Valmont-sur-Exemple\n", f"nom: '{HOSTILE}'\n")
    code, out, err = run(capsys, "avant", str(repo))
    assert code == 0, err
    assert "&lt;img src=x onerror=alert(1)&gt; &#91;x&#93;(javascript:alert(1))" in out
    for live in (
        "<img",
        "<script",
        "](javascript",
        "[x]",
        "@someone",
        "@équipe",
        "#12",
        "https://",
        "www.evil",
    ):
        assert live not in out
    assert "\u2060" in out  # the word joiners that keep mentions and links apart
    # One line per item: no heading, rule or paragraph comes from a register.
    for line in out.splitlines():
        assert re.match(r"(## Changements|### |#### |- |  - |\*\*|Entre |$)", line), line
    assert "Titre injecté" in out
    assert not re.search(r"^#+ Titre", out, re.MULTILINE)


def test_json_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    editor_changes(repo)
    head = commit(repo, "Modifications")
    code, out, err = run(capsys, "avant", "main", str(repo), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["base"] == {
        "revision": "avant",
        "commit": git(repo, "rev-parse", "avant"),
        "arbre_de_travail": False,
    }
    assert data["cible"]["commit"] == head
    assert data["date"] == DATE
    assert data["resume"].startswith("3 activités modifiées, 1 ajoutée, 1 supprimée")
    by_id = {(a["membre"], a["activite"]): a for a in data["activites"]}
    family = by_id[("valmont", "portail-famille")]
    assert family["changement"] == "modification"
    assert {
        "champ": "Base légale",
        "avant": (
            "Exécution d'une mission d'intérêt public ou relevant de l'exercice de l'autorité publique"
        ),
        "apres": "Respect d'une obligation légale",
    } in family["champs"]
    assert {
        "champ": "Personnes concernées",
        "ajouts": ["Habitants"],
        "retraits": ["Élèves et étudiants"],
    } in family["champs"]
    assert by_id[("saint-exemple", "registre-arbres")]["changement"] == "ajout"
    assert by_id[("saint-exemple", "registre-arbres")]["aipd"] == "AIPD requise"
    assert by_id[("valmont", "mediatheque")]["changement"] == "retrait"
    assert data["niveaux_label"] == [
        {
            "membre": "saint-exemple",
            "nom": "Commune de Saint-Exemple",
            "avant": "exemplaire",
            "apres": "engage",
            "avant_libelle": "Exemplaire",
            "apres_libelle": "Engagé",
        }
    ]
    assert [(v["activite"], v["avant"], v["apres"]) for v in data["aipd"]] == [
        ("recensement-citoyen", "recommande", "requis")
    ]
    assert [(m["modele"], m["version_avant"], m["version_apres"]) for m in data["modeles"]] == [
        ("etat-civil", 2, 3)
    ]
    assert [
        (d["membre"], d["activite"], d["version"], d["derniere_version"]) for d in data["activites_en_retard"]
    ] == [("les-granges", "etat-civil", 1, 3)]
    assert data["membres"] == [] and data["sous_traitants"] == []


def test_members_and_processors(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registers = repo / "registers"
    edit(
        registers / "processors" / "editeur-portail-famille.yml",
        "site: https://portail-famille.example.fr\n",
        "site: https://famille.example.fr\n",
    )
    shutil.copy(registers / "processors" / "paie-exemple.yml", registers / "processors" / "paie-bis.yml")
    edit(registers / "processors" / "paie-bis.yml", "\nnom: ", "\nnom: Bis ")
    code, out, err = run(capsys, "avant", str(repo))
    assert code == 0, err
    assert "### Sous-traitants" in out
    assert "- Ajouté : **Bis " in out
    assert "  - Site web : https:\u2060//portail-famille.example.fr → https:\u2060//famille.example.fr" in out


def test_long_texts_are_shortened_around_the_change() -> None:
    words = " ".join(f"mot{i}" for i in range(100))
    old, new = diff.shorten_pair(words, words.replace("mot50", "MOT"))
    assert "mot50" in old and "MOT" in new and "mot50" not in new
    assert old.startswith("…") and old.endswith("…") and len(old) < 200
    assert diff.shorten("court") == "court"
    assert diff.shorten(words).endswith("…") and len(diff.shorten(words)) <= diff.LIMIT + 1


def test_revision_cannot_hide_or_leak_files(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    members = repo / "registers" / "members" / "saint-exemple"
    text = (members / "etat-civil.yml").read_text(encoding="utf-8")
    (members / "registre-arbres.yml").write_text(
        text.replace("nom: État civil\n", "nom: Registre des arbres remarquables\n"), encoding="utf-8"
    )
    # git archive would leave this file out and rewrite the other: git's objects are read instead.
    (repo / ".gitattributes").write_text(
        "registers/members/saint-exemple/registre-arbres.yml export-ignore\nregisters/** export-subst\n",
        encoding="utf-8",
    )
    commit(repo, "Nouvelle activité cachée")
    code, out, err = run(capsys, "avant", "main", str(repo))
    assert code == 0, err
    assert "**1 activité ajoutée.**" in out
    assert "- Ajoutée : **Registre des arbres remarquables**" in out
    # A link to a file outside the territory is refused, its content never shown.
    secret = tmp_path / "secret.yml"
    secret.write_text(
        (members / "paie.yml").read_text(encoding="utf-8").replace("nom: ", "nom: SECRET ", 1),
        encoding="utf-8",
    )
    (members / "paie.yml").unlink()
    (members / "paie.yml").symlink_to(secret)
    commit(repo, "Lien")
    code, out, err = run(capsys, "avant", "main", str(repo))
    assert (code, out) == (2, "")
    assert "lien symbolique vers un fichier hors du territoire" in err
    assert "la révision « main »" in err and "SECRET" not in err


def test_crafted_tree_never_writes_outside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A tree git itself would not write (one path twice: a link, then a file) is refused."""
    root = tmp_path / "forge"
    root.mkdir()
    git(root, "init", "--quiet")
    target = tmp_path / "hors-du-depot"

    def blob(data: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), "hash-object", "-w", "--stdin"],
            input=data,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def tree(entries: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), "mktree"], input=entries, capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.skip("git mktree refuse ce chemin")
        return done.stdout.strip()

    folder = tree(f"120000 blob {blob(str(target))}\tx.yml\n100644 blob {blob('nom: x')}\tx.yml\n")
    crafted = git(root, "commit-tree", tree(f"040000 tree {folder}\tregisters\n"), "-m", "forgé")
    code, out, err = run(capsys, crafted, crafted, str(root))
    assert (code, out) == (2, "")
    assert "chemin refusé" in err
    assert not target.exists()


def test_long_text_change_is_shown_around_what_changed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    family = repo / "registers" / "members" / "valmont" / "portail-famille.yml"
    edit(family, "à activer l'authentification renforcée", "à exiger l'authentification renforcée")
    code, out, err = run(capsys, "avant", str(repo))
    assert code == 0, err
    (line,) = [line for line in out.splitlines() if line.startswith("  - Résumé public de l'AIPD : ")]
    old, new = line.removeprefix("  - Résumé public de l'AIPD : ").split(" → ")
    assert "activer" in old and "exiger" in new
    assert old.startswith("…") and new.endswith("…")
    assert len(new) < 200
