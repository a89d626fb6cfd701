"""New territories: ``dote init`` (a skeleton to fill) and ``dote demo`` (synthetic data).

Both write a complete, valid, buildable territory. ``dote demo`` draws members and
activities from a small catalogue of realistic archetypes with a seeded random
generator, so the same arguments always give the same files (the benchmarks rely on it).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from dote.confidential import published_view
from dote.library import PAGES, Library, locate
from dote.schema import published_schemas
from dote.vocabulary import slugify

try:
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]


class ScaffoldError(Exception):
    """A territory cannot be created where asked (the message is French, for the CLI)."""


def _skeleton_files(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                yield from _skeleton_files(entry, rel + "/")
        else:
            yield rel, entry


def _prepare(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ScaffoldError(f"{directory} existe déjà et n'est pas un dossier vide")
    directory.mkdir(parents=True, exist_ok=True)


def init_territory(
    directory: Path, *, name: str | None = None, territory: str | None = None, library: bool = False
) -> Path:
    """Write a new territory skeleton (one example member and activity) into ``directory``.

    With ``library`` (what ``dote init`` does), the territory also starts with the package's
    model library and the editors' guide, listed in the site's navigation
    (:mod:`dote.library`). Without it (tests, ``dote demo``), it is the bare skeleton.
    """
    _prepare(directory)
    source = locate() if library else None
    name = name or f"Maison DOTE {directory.resolve().name}"
    territory = territory or f"Territoire de {name}"
    values = {
        "nom": json.dumps(name, ensure_ascii=False),
        "territoire": json.dumps(territory, ensure_ascii=False),
        "description": json.dumps(
            f"Registres des activités de traitement des membres de {name}.", ensure_ascii=False
        ),
        "guide_nav": guide_nav(source.guide) if source else "",
        "library_nav": "".join(
            f"  - {PAGES[folder.name]}: {folder.name}/index.md\n" for folder in source.pages
        ).rstrip("\n")
        if source
        else "",
    }
    plain = {"nom": name, "territoire": territory}
    for rel, entry in _skeleton_files(resources.files("dote") / "skeleton"):
        target = directory / (".gitignore" if rel == "gitignore" else rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = entry.read_text(encoding="utf-8")
        if target.suffix in (".yml",):
            text = string.Template(text).safe_substitute(values)
        elif rel == "README.md":
            text = string.Template(text).safe_substitute(plain)
        target.write_text(text, encoding="utf-8")
    if source is not None:
        copy_library(source, directory)
    write_schemas(directory)
    return directory


def copy_library(source: Library, directory: Path) -> None:
    """Copy the library's models (with their archived versions), the editors' guide, the
    model documents, the training modules and the audit questionnaire."""
    if source.audit is not None:
        (directory / "registers").mkdir(parents=True, exist_ok=True)
        (directory / "registers" / "audit.yml").write_bytes(source.audit.read_bytes())
    models = directory / "registers" / "models"
    for path in [*source.model_files().values(), *source.archive_files().values()]:
        target = models / path.relative_to(source.models)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    for rel in source.guide_files():
        target = directory / "docs" / "guide" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((source.guide / rel).read_bytes())
    for folder in source.pages:  # model documents, training modules
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            target = directory / "docs" / folder.name / path.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())


_GUIDE_LINK = re.compile(r"\]\(([a-z0-9-]+\.md)\)")
_TITLE = re.compile(r"\A---\n(?:.*\n)*?title:[ \t]*(.+)\n(?:.*\n)*?---\n")


def guide_nav(guide: Path) -> str:
    """The navigation entry of the editors' guide, for a territory's mkdocs.yml.

    Taken from the guide itself, so that it has no second copy: its home page, then each
    page in the order its home page links them (then any other, by name), titled by the
    ``title`` of its front matter.
    """
    pages = sorted(p.name for p in guide.glob("*.md") if p.name != "index.md")
    home = (guide / "index.md").read_text(encoding="utf-8")
    linked = [m for m in dict.fromkeys(_GUIDE_LINK.findall(home)) if m in pages]
    lines = [
        "  # Le guide de l'éditeur (docs/guide/), tel que Maison DOTE le fournit.",
        "  - Guide de l'éditeur:",
        "      - guide/index.md",
    ]
    for page in [*linked, *(p for p in pages if p not in linked)]:
        match = _TITLE.match((guide / page).read_text(encoding="utf-8"))
        title = yaml.safe_load(match[1]) if match else page.removesuffix(".md")
        lines.append(f"      - {json.dumps(str(title), ensure_ascii=False)}: guide/{page}")
    return "\n".join(lines)


def write_schemas(directory: Path) -> None:
    """Write the compiled schemas into ``directory/schemas`` (for editors' IDEs)."""
    folder = directory / "schemas"
    folder.mkdir(exist_ok=True)
    for file_name, text in published_schemas().items():
        (folder / file_name).write_text(text, encoding="utf-8")


# --- synthetic territories -----------------------------------------------------------


@dataclass(frozen=True)
class _Archetype:
    id: str
    name: str
    purpose: str
    basis: str
    reference: str
    subjects: tuple[str, ...]
    categories: tuple[tuple[str, str, str, str], ...]  # code, details, ISO duration, reference
    sectors: tuple[str, ...] = ("public",)
    themes: tuple[str, ...] = ()
    processors: tuple[str, ...] = ()
    dpia_criteria: tuple[str, ...] = ()


#: The DPIA screening's facts of each archetype (the synthetic territory states them too).
_FACTS: dict[str, dict[str, Any]] = {
    "listes-electorales": {"types": ["fichier-electoral"]},
    "inscriptions-scolaires": {"types": ["affaires-scolaires-petite-enfance"]},
    "restauration-scolaire": {"types": ["affaires-scolaires-petite-enfance"], "moyens": ["badge"]},
    "paie": {"types": ["gestion-personnel"]},
    "recrutement": {"types": ["recrutement"]},
    "videoprotection": {"moyens": ["videoprotection"], "surveillance": ["espace-public"]},
    "aide-sociale": {"types": ["accompagnement-social"]},
}

_ARCHETYPES = (
    _Archetype(
        "etat-civil",
        "État civil",
        "Établir et conserver les actes de l'état civil",
        "obligation-legale",
        "Code civil, art. 34 et suivants",
        ("habitants",),
        (
            (
                "etat-civil-identite",
                "Nom, prénoms, dates et lieux de naissance, filiation",
                "P75Y",
                "Instruction DAF/DPACI/RES/2009/018",
            ),
        ),
        themes=("etat-civil",),
    ),
    _Archetype(
        "listes-electorales",
        "Listes électorales",
        "Tenir la liste électorale",
        "obligation-legale",
        "Code électoral, art. L11 et L16",
        ("electeurs",),
        (
            (
                "etat-civil-identite",
                "Nom, prénoms, date de naissance, adresse",
                "P5Y",
                "Code électoral, art. R18",
            ),
        ),
        themes=("elections",),
        processors=("logiciel-mairie",),
    ),
    _Archetype(
        "inscriptions-scolaires",
        "Inscriptions scolaires",
        "Inscrire les enfants à l'école",
        "mission-interet-public",
        "Code de l'éducation, art. L131-5",
        ("enfants", "parents"),
        (
            (
                "etat-civil-identite",
                "Identité de l'enfant et des parents",
                "P1Y",
                "Instruction DAF/DPACI/RES/2009/018",
            ),
            (
                "economique-financiere",
                "Quotient familial",
                "P6Y",
                "Code général des collectivités territoriales",
            ),
        ),
        themes=("education",),
        processors=("portail-famille",),
        dpia_criteria=("personnes-vulnerables",),
    ),
    _Archetype(
        "restauration-scolaire",
        "Restauration scolaire",
        "Gérer les repas et les régimes alimentaires",
        "mission-interet-public",
        "Code de l'éducation, art. L533-1",
        ("enfants", "parents"),
        (
            ("etat-civil-identite", "Identité de l'enfant", "P1Y", "Instruction DAF/DPACI/RES/2009/018"),
            ("sante", "Allergies (projet d'accueil individualisé)", "P1Y", "Circulaire n° 2003-135"),
        ),
        themes=("education", "sante"),
        processors=("portail-famille",),
        dpia_criteria=("personnes-vulnerables", "donnees-sensibles"),
    ),
    _Archetype(
        "urbanisme",
        "Autorisations d'urbanisme",
        "Instruire les demandes d'autorisation d'urbanisme",
        "mission-interet-public",
        "Code de l'urbanisme, art. R423-1",
        ("petitionnaires", "proprietaires"),
        (
            (
                "etat-civil-identite",
                "Identité et adresse du demandeur",
                "P10Y",
                "Instruction DAF/DPACI/RES/2009/018",
            ),
        ),
        themes=("urbanisme",),
    ),
    _Archetype(
        "paie",
        "Paie des agents",
        "Calculer et verser les rémunérations",
        "obligation-legale",
        "Code général de la fonction publique",
        ("agents",),
        (
            ("etat-civil-identite", "Identité", "P5Y", "Code de la sécurité sociale, art. L243-12"),
            (
                "economique-financiere",
                "Rémunération, coordonnées bancaires",
                "P5Y",
                "Code général des collectivités territoriales",
            ),
            ("nir", "Numéro de sécurité sociale", "P5Y", "Code de la sécurité sociale"),
        ),
        sectors=("public", "prive"),
        themes=("ressources-humaines",),
        processors=("paie",),
    ),
    _Archetype(
        "recrutement",
        "Recrutement",
        "Sélectionner les candidats à un emploi",
        "interet-legitime",
        "Code du travail, art. L1221-6",
        ("candidats",),
        (
            (
                "vie-professionnelle",
                "CV, lettre de motivation",
                "P2Y",
                "Référentiel CNIL gestion du personnel",
            ),
        ),
        sectors=("prive",),
        themes=("ressources-humaines",),
    ),
    _Archetype(
        "clients",
        "Gestion des clients",
        "Gérer les commandes, la facturation et le service après-vente",
        "contrat",
        "Code de commerce, art. L123-22",
        ("clients",),
        (
            ("etat-civil-identite", "Nom, coordonnées", "P3Y", "Référentiel CNIL gestion commerciale"),
            ("economique-financiere", "Factures", "P10Y", "Code de commerce, art. L123-22"),
        ),
        sectors=("prive",),
        themes=("commerce",),
        processors=("paiement",),
    ),
    _Archetype(
        "prospection",
        "Prospection commerciale",
        "Envoyer des offres commerciales",
        "interet-legitime",
        "Code des postes et des communications électroniques, art. L34-5",
        ("prospects",),
        (("etat-civil-identite", "Nom, courriel", "P3Y", "Référentiel CNIL gestion commerciale"),),
        sectors=("prive",),
        themes=("commerce",),
        processors=("emailing",),
    ),
    _Archetype(
        "videoprotection",
        "Vidéoprotection",
        "Prévenir les atteintes aux personnes et aux biens",
        "mission-interet-public",
        "Code de la sécurité intérieure, art. L251-2",
        ("personnes-filmees",),
        (
            (
                "etat-civil-identite",
                "Images des personnes filmées",
                "P30D",
                "Code de la sécurité intérieure, art. L252-5",
            ),
        ),
        themes=("videoprotection",),
        processors=("videoprotection",),
        dpia_criteria=("surveillance-systematique", "grande-echelle"),
    ),
    _Archetype(
        "lettre-information",
        "Lettre d'information",
        "Envoyer la lettre d'information aux abonnés",
        "consentement",
        "RGPD, art. 6(1)(a)",
        ("habitants",),
        (("etat-civil-identite", "Adresse électronique", "P3Y", "Référentiel CNIL gestion commerciale"),),
        sectors=("public", "prive"),
        themes=("communication",),
        processors=("emailing",),
    ),
    _Archetype(
        "aide-sociale",
        "Aide sociale facultative",
        "Instruire les demandes d'aide sociale",
        "mission-interet-public",
        "Code de l'action sociale et des familles, art. L123-5",
        ("beneficiaires-aide-sociale",),
        (
            (
                "etat-civil-identite",
                "Identité, composition du foyer",
                "P5Y",
                "Instruction DAF/DPACI/RES/2009/018",
            ),
            ("economique-financiere", "Ressources", "P5Y", "Instruction DAF/DPACI/RES/2009/018"),
            ("sante", "Éléments de santé utiles à l'aide", "P5Y", "Code de l'action sociale et des familles"),
        ),
        themes=("social",),
        dpia_criteria=("personnes-vulnerables", "donnees-sensibles"),
    ),
)

_PROCESSORS = {
    "logiciel-mairie": ("Éditeur de logiciels de mairie (fictif)", "FR"),
    "portail-famille": ("Portail famille en ligne (fictif)", "FR"),
    "paie": ("Logiciel de paie (fictif)", "FR"),
    "paiement": ("Prestataire de paiement en ligne (fictif)", "FR"),
    "emailing": ("Outil d'envoi de courriels (fictif)", "DE"),
    "videoprotection": ("Installateur de vidéoprotection (fictif)", "FR"),
}
_CONDITIONS = {"sante": "medecine-action-sociale", "nir": "droit-travail-protection-sociale"}
_MEMBER_TYPES = (("commune", 12), ("intercommunalite", 2), ("ccas", 2), ("syndicat", 1), ("entreprise", 3))


def register_text(data: Mapping[str, Any], schema: str) -> str:
    """A register file's text: the schema modeline (``schema`` relative to the file), then YAML."""
    text = yaml.dump(dict(data), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
    return f"# yaml-language-server: $schema={schema}\n{text}"


def _dump(path: Path, data: dict[str, Any], schema: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(register_text(data, schema), encoding="utf-8")


def demo_territory(directory: Path, *, members: int, activities: int, seed: int = 0) -> Path:
    """Write a synthetic territory of ``members`` members × ``activities`` activities each."""
    init_territory(
        directory,
        name="Maison DOTE de démonstration (fictive)",
        territory=f"Territoire synthétique de {members} membres",
    )
    registers = directory / "registers"
    example = registers / "members" / "exemple"
    for path in example.iterdir():
        path.unlink()
    example.rmdir()
    maison_path = registers / "maison.yml"
    maison_text = maison_path.read_text(encoding="utf-8").replace(
        "version_schema: 1\n", "version_schema: 1\nfictive: true\n"
    )
    maison_path.write_text(maison_text, encoding="utf-8")

    rng = random.Random(seed)
    for pid, (name, country) in _PROCESSORS.items():
        _dump(
            registers / "processors" / f"{pid}.yml",
            {
                "version_schema": 1,
                "nom": name,
                "services": [name],
                "hebergement": [{"pays": country}],
                "contrat_article_28": {"statut": "signe", "date": "2024-01-15"},
                "transferts": "aucun",
            },
            "../../schemas/sous-traitant.schema.json",
        )

    types = [t for t, weight in _MEMBER_TYPES for _ in range(weight)]
    base = dt.date(2026, 1, 1)
    for n in range(1, members + 1):
        kind = rng.choice(types)
        sector = "prive" if kind == "entreprise" else "public"
        label = {
            "commune": "Commune",
            "intercommunalite": "Communauté de communes",
            "ccas": "CCAS",
            "syndicat": "Syndicat intercommunal",
            "entreprise": "Entreprise",
        }[kind]
        member_name = f"{label} Exemple {n}"
        member_id = slugify(member_name)
        folder = registers / "members" / member_id
        member: dict[str, Any] = {
            "version_schema": 1,
            "nom": member_name,
            "type": kind,
            "siren": f"{rng.randrange(10**8, 10**9)}",
            "commune": f"Exemple-{n}",
            "effectif": rng.randrange(2, 400),
            "exercice_des_droits": {
                "courriel": f"dpo+{member_id}@example.org",
                "adresse": f"{rng.randrange(1, 90)} rue de l'Exemple, Exemple-{n}",
            },
            "dpo": "mutualise",
            "publication": "complete" if sector == "public" else "choix",
            "formation": {"derniere_session": (base - dt.timedelta(days=rng.randrange(30, 900))).isoformat()},
        }
        if kind == "commune":
            member["population"] = rng.randrange(80, 60000)
        published: list[str] | None = None
        if sector == "prive":  # companies publish what they choose: here, the essentials
            published = [
                "nom",
                "finalites",
                "base_legale",
                "conditions_sensibles",
                "personnes_concernees",
                "categories_donnees",
                "destinataires",
                "transferts",
                "mention_information",
                "aipd",
                "thematiques",
                "dates",
            ]
            member["champs_publies"] = published
        _dump(folder / "member.yml", member, "../../../schemas/membre.schema.json")
        pool = [a for a in _ARCHETYPES if sector in a.sectors]
        for k in range(activities):
            archetype = pool[k % len(pool)]
            round_ = k // len(pool)
            activity_id = archetype.id if round_ == 0 else f"{archetype.id}-{round_ + 1}"
            data = _activity(archetype, round_, rng, base)
            if published is not None:
                # What a company does not publish lives in its confidential overlay, which a
                # synthetic territory does not have: it is left out of the public registers.
                data = published_view(data, frozenset(published))
            _dump(folder / f"{activity_id}.yml", data, "../../../schemas/activite.schema.json")
    _demo_watch(directory, members, rng, base)
    write_schemas(directory)
    return directory


def _demo_watch(directory: Path, members: int, rng: random.Random, base: dt.date) -> None:
    """Synthetic items for the skeleton's watch sources: one per ten members, most published."""
    from dote.watch import ITEMS, WATCH, item_text

    watch = directory / WATCH
    themes = sorted({theme for archetype in _ARCHETYPES for theme in archetype.themes})
    for n in range(1, max(3, members // 10) + 1):
        date = base - dt.timedelta(days=rng.randrange(0, 700))
        data = {
            "version_schema": 1,
            "statut": "a-trier" if n % 5 == 0 else "publie",
            "commentaire": f"Commentaire d'exemple de la Maison sur l'élément de veille n° {n}.",
            "thematiques": [themes[n % len(themes)], "numerique"],
            "source": "cnil-actualites",
            "id": f"https://example.org/veille/{n}",
            "titre": f"Élément de veille exemple n° {n}",
            "lien": f"https://example.org/veille/{n}",
            "date": date.isoformat(),
            "date_origine": "flux",
            "resume": f"Résumé d'exemple de l'élément n° {n}.",
        }
        path = watch / ITEMS / "cnil-actualites" / f"{date.isoformat()}-exemple-{n}.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(item_text(data), encoding="utf-8")


def _activity(a: _Archetype, round_: int, rng: random.Random, base: dt.date) -> dict[str, Any]:
    created = base - dt.timedelta(days=rng.randrange(400, 2500))
    reviewed = base - dt.timedelta(days=rng.randrange(0, 700))
    categories = [
        {
            "code": code,
            "precisions": details,
            "conservation": {
                "duree": duration,
                "depart": "fin de la relation ou de la procédure",
                "sort_final": rng.choice(("destruction", "destruction", "versement-archives")),
                "reference": reference,
            },
        }
        for code, details, duration, reference in a.categories
    ]
    data: dict[str, Any] = {
        "version_schema": 1,
        "nom": a.name if round_ == 0 else f"{a.name} ({round_ + 1})",
        "statut": rng.choice(("valide", "valide", "valide", "soumis", "brouillon")),
        "description": f"{a.purpose}.",
        "finalites": {"principale": a.purpose},
        "base_legale": {"code": a.basis, "reference": a.reference},
        "personnes_concernees": list(a.subjects),
        "categories_donnees": categories,
        "sources": ["personne-concernee"],
        "collecte_obligatoire": a.basis in ("obligation-legale", "contrat"),
        "destinataires": {
            "internes": ["Service gestionnaire"],
            **({"sous_traitants": list(a.processors)} if a.processors else {}),
        },
        "transferts": "aucun",
        "volume": rng.randrange(10, 20000),
        "mention_information": rng.choice(("generee", "generee", "absente")),
        "decision_automatisee": False,
        "thematiques": list(a.themes),
        "dates": {
            "creation": created.isoformat(),
            "mise_a_jour": max(created, reviewed).isoformat(),
            "revue": max(created, reviewed).isoformat(),
            "prochaine_revue": (max(created, reviewed) + dt.timedelta(days=365)).isoformat(),
        },
    }
    facts = _FACTS.get(a.id, {})
    if "types" in facts:
        data["finalites"]["types"] = list(facts["types"])
    for key in ("moyens", "surveillance"):
        if key in facts:
            data[key] = list(facts[key])
    conditions = sorted({_CONDITIONS[c[0]] for c in a.categories if c[0] in _CONDITIONS})
    if conditions:
        data["conditions_sensibles"] = [{"code": c} for c in conditions]
    if a.dpia_criteria:
        data["aipd"] = {
            "criteres": list(a.dpia_criteria),
            "statut": "realisee" if len(a.dpia_criteria) > 1 else "non-requise",
        }
        if len(a.dpia_criteria) > 1:
            data["aipd"]["date"] = created.isoformat()
    return data


# --- dote new: a register file to fill, every field of the format explained --------------

#: What the schema files are called, by kind of register file.
_NEW_SCHEMAS = {"member": "membre", "activity": "activite", "processor": "sous-traitant"}
_ID_RULE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_TODO = "À compléter"
_HEADER = (
    "# Fiche créée par « dote new » : complétez-la, puis vérifiez-la avec « dote validate ».\n"
    "# Les lignes qui commencent par « # » sont des explications ou des rubriques facultatives : pour\n"
    "# remplir une rubrique, retirez le « # » en début de ligne (l'alignement compte). Les valeurs\n"
    f"# « {_TODO} » et les codes d'attente (« autres ») sont à remplacer. Le guide de l'éditeur\n"
    "# (docs/guide/format.md) explique chaque rubrique ; les clés commençant par x_ sont libres.\n"
)
#: Example values of commented-out fields, by field name (otherwise derived from the schema).
_EXAMPLES: dict[str, Any] = {
    "modele": "etat-civil",
    "duree": "P1Y",
    "code_insee": "12345",
    "numero_designation": "DPO-12345",
    "rattachement": "identifiant-du-membre",
    "membre": "identifiant-du-membre",
    "sous_traitants": ["identifiant-du-sous-traitant"],
    "pour_le_compte_de": ["identifiant-du-membre"],
    "retirer": {"sources": ["administration"]},
    "champs_publies": ["nom", "finalites", "base_legale", "personnes_concernees", "categories_donnees"],
    "pays": "FR",
}
_BY_DEF: dict[str, Any] = {
    "texte": _TODO,
    "courriel": "contact@example.org",
    "url": "https://www.example.org/",
    "telephone": "01 23 45 67 89",
    "siren": "123456789",
    "identifiant": "identifiant",
}


def _schema_node(node: Mapping[str, Any], schemas: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """A schema node with its ``$ref`` followed (the referring node's keys win), and the def's name."""
    name = ""
    result = dict(node)
    while "$ref" in result:
        ref = result.pop("$ref")
        file_name, _, pointer = ref.partition("#")
        target: Any = schemas[file_name or "commun.schema.json"]
        for part in pointer.strip("/").split("/") if pointer else ():
            target = target[part]
        name = pointer.rsplit("/", 1)[-1] if pointer else name
        result = {**target, **result}
    return result, name


def _is_public(node: Mapping[str, Any]) -> bool:
    return bool(node.get("x-visibilite", "public") == "public")


class _Writer:
    def __init__(self, schemas: Mapping[str, Any]) -> None:
        from dote.vocabulary import load_vocabularies

        self.schemas = schemas
        self.vocabularies = load_vocabularies()
        self.today = dt.date.today().isoformat()

    def node(self, node: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        return _schema_node(node, self.schemas)

    def codes(self, node: Mapping[str, Any]) -> list[str]:
        name = node.get("x-vocabulaire")
        if name:
            return [t.code for t in self.vocabularies[name]]
        if "enum" in node:
            return [str(v) for v in node["enum"]]
        return []

    def example(self, key: str, raw: Mapping[str, Any]) -> Any:
        node, defname = self.node(raw)
        if key in _EXAMPLES:
            return _EXAMPLES[key]
        if "const" in node:
            return node["const"]
        options = node.get("anyOf") or node.get("oneOf")
        if options and "type" not in node and "properties" not in node:
            return self.example(key, options[0])
        codes = self.codes(node)
        if codes:
            return codes[0]
        if defname == "date" or node.get("format") == "date":
            return self.today
        if defname in _BY_DEF:
            return _BY_DEF[defname]
        kind = node.get("type")
        if kind == "integer":
            return 100
        if kind == "boolean":
            return False
        if kind == "array":
            return [self.example(key, node.get("items", {}))]
        if kind == "object":
            return {k: self.example(k, v) for k, v in node.get("properties", {}).items()}
        return _TODO

    def hint(self, node: Mapping[str, Any], *, short: bool) -> str:
        items, _ = self.node(node.get("items", {})) if node.get("type") == "array" else (node, "")
        codes = self.codes(items) or self.codes(node)
        if codes and ((len(codes) <= 30 and not short) or len(codes) <= 8):
            return "codes : " + ", ".join(codes)
        if node.get("x-vocabulaire") == "pays" or items.get("x-vocabulaire") == "pays":
            return "code ISO du pays (FR, DE, US…)"
        return ""

    def comment(self, key: str, node: Mapping[str, Any], required: bool, indent: str) -> list[str]:
        import textwrap

        text = str(node.get("title") or key)
        text += (" : " + str(node["description"]).rstrip(".")) if node.get("description") else ""
        text += "."
        hint = self.hint(node, short=False)
        if hint:
            text += f" {hint[0].upper()}{hint[1:]}."
        text += " Obligatoire." if required else " Facultatif."
        if not _is_public(node):
            text += (
                " NE L'ÉCRIVEZ PAS ICI : ce dépôt est public. Ce champ va dans le fichier de même chemin "
                "du dépôt confidentiel (docs/guide/confidentiel.md)."
            )
        return textwrap.wrap(
            text, 100, initial_indent=indent + "# ", subsequent_indent=indent + "# ", break_on_hyphens=False
        )

    def block(
        self, key: str, raw: Mapping[str, Any], value: Any, active: Any, *, top: bool = False
    ) -> list[str]:
        """``key: value`` as YAML lines from column 0.

        ``active`` (a mapping, or a list of mappings for a list of objects) names the
        sub-fields that are written; the others are commented out, with an example.
        ``None``: everything in ``value`` is written (the caller comments the block out).
        """
        node, _ = self.node(raw)
        note = "" if top else self.trailing(node)
        if isinstance(value, dict):
            sub_active = active if isinstance(active, dict) else None
            return [f"{key}:{note}", *("  " + line for line in self.mapping(node, value, sub_active))]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items, _ = self.node(node.get("items", {}))
            out = [f"{key}:{note}"]
            for n, item in enumerate(value):
                item_active = active[n] if isinstance(active, list) and n < len(active) else None
                sub = self.mapping(items, item, item_active)
                first = next(i for i, line in enumerate(sub) if not line.startswith("#"))
                out.append("  - " + sub.pop(first))
                out += ["    " + line for line in sub]
            return out
        return [f"{key}: {_flow(value)}{note}"]

    def trailing(self, node: Mapping[str, Any]) -> str:
        title = node.get("title")
        hint = self.hint(node, short=True)
        text = " ; ".join(p for p in (title, hint) if p)
        return f"  # {text}" if text else ""

    def mapping(
        self, node: Mapping[str, Any], value: Mapping[str, Any], active: Mapping[str, Any] | None
    ) -> list[str]:
        out: list[str] = []
        for key, raw in node.get("properties", {}).items():
            if active is None:
                if key in value:
                    out += self.block(key, raw, value[key], None)
            elif key in active:
                out += self.block(key, raw, active[key], active[key])
            else:
                out += ["# " + line for line in self.block(key, raw, self.example(key, raw), None)]
        return out

    def document(self, properties: Mapping[str, Any], required: set[str], active: Mapping[str, Any]) -> str:
        """A whole register file: each top-level field explained, then written or commented out."""
        chunks = []
        for key, raw in properties.items():
            node, _ = self.node(raw)
            lines = self.comment(key, node, key in required, "")
            if key in active:
                lines += self.block(key, raw, active[key], active[key], top=True)
            else:
                lines += [
                    "# " + line for line in self.block(key, raw, self.example(key, raw), None, top=True)
                ]
            chunks.append("\n".join(lines))
        return "\n\n".join(chunks) + "\n"


def _flow(value: Any) -> str:
    text = yaml.dump(value, Dumper=_Dumper, allow_unicode=True, default_flow_style=True, width=10**9)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _load_schemas() -> dict[str, Any]:
    folder = resources.files("dote") / "schemas"
    return {
        entry.name: json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".schema.json")
    }


def _check_new_id(ident: str, what: str) -> None:
    if not _ID_RULE.match(ident):
        from dote.vocabulary import slugify

        raise ScaffoldError(
            f"identifiant de {what} « {ident} » invalide : un identifiant s'écrit en minuscules sans "
            f"accents, les mots séparés par des tirets (par exemple « {slugify(ident) or 'mon-identifiant'} »)"
        )


def _target(root: Path, path: Path, force: bool) -> Path:
    if not (root / "registers").is_dir():
        raise ScaffoldError(
            f"{root / 'registers'} introuvable : ce dossier n'est pas un territoire (créez-en un avec « dote init »)"
        )
    if path.exists() and not force:
        raise ScaffoldError(
            f"{path.relative_to(root)} existe déjà : il n'est pas remplacé (ajoutez --force pour l'écraser)"
        )
    return path


def _draft_name(ident: str) -> str:
    return ident.replace("-", " ").capitalize()


def new_text(kind: str, ident: str, *, model: Mapping[str, Any] | None = None, model_id: str = "") -> str:
    """The text of a new register file of ``kind`` (member, activity, processor) to fill."""
    schemas = _load_schemas()
    writer = _Writer(schemas)
    schema = schemas[f"{_NEW_SCHEMAS[kind]}.schema.json"]
    depth = "../../../" if kind in ("member", "activity") else "../../"
    modeline = f"# yaml-language-server: $schema={depth}schemas/{_NEW_SCHEMAS[kind]}.schema.json\n"
    today = writer.today
    if kind == "activity":
        common, _ = writer.node({"$ref": schema["$ref"]})  # the fields activities share with models
        own = schema["properties"]
        properties = {
            "version_schema": common["properties"]["version_schema"],
            "nom": common["properties"]["nom"],
            "modele": own["modele"],
            "statut": own["statut"],
            **{k: v for k, v in common["properties"].items() if k not in ("version_schema", "nom")},
            "retirer": own["retirer"],
        }
        required = set(schema["required"])
        dates = {"creation": today, "mise_a_jour": today}
        if model is not None:
            active: dict[str, Any] = {
                "version_schema": 1,
                "nom": model.get("nom") or _draft_name(ident),
                "modele": model_id,
                "statut": "brouillon",
                "dates": dates,
            }
            kept = (
                "version_schema",
                "nom",
                "modele",
                "statut",
                "service",
                "volume",
                "outils",
                "destinataires",
                "dates",
                "retirer",
            )
            properties = {k: v for k, v in properties.items() if k in kept}
            # Of its recipients, a member adds its own processors; the model lists the others.
            recipients, _ = writer.node(properties["destinataires"])
            only = {"sous_traitants": recipients["properties"]["sous_traitants"]}
            properties["destinataires"] = {**recipients, "properties": only}
            header = (
                f"# Cette activité reprend le modèle « {model_id} » (registers/models/{model_id}.yml) : tout ce\n"
                "# qu'il dit vaut pour elle. Relisez-le en entier, puis n'écrivez ici que ce qui vous est propre\n"
                "# ou ce qui diffère (docs/guide/modeles.md). Une rubrique écrite ici complète ou remplace celle\n"
                "# du modèle ; « retirer » enlève un élément hérité qui ne vaut pas pour vous.\n"
            )
        else:
            required |= {"finalites", "personnes_concernees", "categories_donnees"}
            active = {
                "version_schema": 1,
                "nom": _draft_name(ident),
                "statut": "brouillon",
                "finalites": {"principale": f"{_TODO} : pourquoi ces données sont traitées"},
                "personnes_concernees": ["autres"],
                "categories_donnees": [{"code": "autres"}],
                "dates": dates,
            }
            header = (
                "# Sans modèle, finalites, personnes_concernees et categories_donnees sont obligatoires ; avec\n"
                "# « modele », l'activité hérite de tout le modèle et n'écrit que ce qui diffère.\n"
            )
    elif kind == "member":
        properties = schema["properties"]
        required = set(schema["required"])
        active = {
            "version_schema": 1,
            "nom": _draft_name(ident),
            "type": "commune",
            "exercice_des_droits": {"courriel": "a-completer@example.org"},
            "dpo": "mutualise",
        }
        header = (
            "# Le nom du dossier du membre est son identifiant permanent, et l'adresse de sa page :\n"
            f"# /registres/{ident}/. Ses activités s'écrivent à côté (dote new activity {ident} ID).\n"
        )
    else:
        properties = schema["properties"]
        required = set(schema["required"])
        active = {
            "version_schema": 1,
            "nom": _draft_name(ident),
            "services": [_TODO],
            "contrat_article_28": {"statut": "absent"},
        }
        header = (
            f"# Une activité y recourt en écrivant « sous_traitants: [{ident}] » dans ses destinataires.\n"
        )
    return modeline + _HEADER + header + "\n" + writer.document(properties, required, active)


def new_member(root: Path, ident: str, *, force: bool = False) -> Path:
    """``dote new member``: registers/members/ID/member.yml, to fill."""
    _check_new_id(ident, "membre")
    from dote.layout import RESERVED_MEMBER_IDS

    if ident in RESERVED_MEMBER_IDS:
        raise ScaffoldError(
            f"identifiant « {ident} » réservé : la page /registres/{ident}/ est {RESERVED_MEMBER_IDS[ident]}"
        )
    path = _target(root, root / "registers" / "members" / ident / "member.yml", force)
    return _write_new(path, new_text("member", ident))


def new_processor(root: Path, ident: str, *, force: bool = False) -> Path:
    """``dote new processor``: registers/processors/ID.yml, to fill."""
    _check_new_id(ident, "sous-traitant")
    path = _target(root, root / "registers" / "processors" / f"{ident}.yml", force)
    return _write_new(path, new_text("processor", ident))


def new_activity(
    root: Path, member: str, ident: str, *, model: str | None = None, force: bool = False
) -> Path:
    """``dote new activity``: registers/members/MEMBER/ID.yml, to fill (``model``: its model)."""
    _check_new_id(member, "membre")
    _check_new_id(ident, "activité")
    if ident == "member":
        raise ScaffoldError("« member » est le nom de la fiche du membre : choisissez un autre identifiant")
    folder = root / "registers" / "members" / member
    path = _target(root, folder / f"{ident}.yml", force)
    if not (folder / "member.yml").is_file():
        known = sorted(p.parent.name for p in (root / "registers" / "members").glob("*/member.yml"))
        raise ScaffoldError(
            f"membre « {member} » inconnu : registers/members/{member}/member.yml n'existe pas "
            f"(membres : {', '.join(known) or 'aucun'} ; créez-le avec « dote new member {member} »)"
        )
    data = None
    if model is not None:
        match = re.fullmatch(r"([a-z0-9]+(?:-[a-z0-9]+)*)(?:@([1-9][0-9]*))?", model)
        models = root / "registers" / "models"
        if match and match[2]:
            source = models / "versions" / f"{match[1]}@{match[2]}.yml"
            if not source.is_file() and (models / f"{match[1]}.yml").is_file():
                current = yaml.safe_load((models / f"{match[1]}.yml").read_text(encoding="utf-8"))
                if isinstance(current, dict) and current.get("version") == int(match[2]):
                    source = models / f"{match[1]}.yml"
        else:
            source = models / f"{model}.yml"
        if not match or not source.is_file():
            import difflib

            known = sorted(p.stem for p in models.glob("*.yml"))
            close = difflib.get_close_matches(model, known, n=3, cutoff=0.6)
            raise ScaffoldError(
                f"modèle « {model} » inconnu dans registers/models/"
                + (f" (identifiants proches : {', '.join(close)})" if close else "")
                + " ; « dote models update » ajoute les modèles de la bibliothèque de Maison DOTE"
            )
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ScaffoldError(
                f"le modèle {source.relative_to(root)} est illisible : vérifiez-le avec « dote validate »"
            )
    return _write_new(path, new_text("activity", ident, model=data, model_id=model or ""))


def _write_new(path: Path, text: str) -> Path:
    from dote.files import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return path
