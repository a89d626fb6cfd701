"""New territories: ``dote init`` (a skeleton to fill) and ``dote demo`` (synthetic data).

Both write a complete, valid, buildable territory. ``dote demo`` draws members and
activities from a small catalogue of realistic archetypes with a seeded random
generator, so the same arguments always give the same files (the benchmarks rely on it).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from dote.confidential import published_view
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


def init_territory(directory: Path, *, name: str | None = None, territory: str | None = None) -> Path:
    """Write a new territory skeleton (one example member and activity) into ``directory``."""
    _prepare(directory)
    name = name or f"Maison DOTE {directory.resolve().name}"
    territory = territory or f"Territoire de {name}"
    values = {
        "nom": json.dumps(name, ensure_ascii=False),
        "territoire": json.dumps(territory, ensure_ascii=False),
        "description": json.dumps(
            f"Registres des activités de traitement des membres de {name}.", ensure_ascii=False
        ),
    }
    for rel, entry in _skeleton_files(resources.files("dote") / "skeleton"):
        target = directory / (".gitignore" if rel == "gitignore" else rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = entry.read_text(encoding="utf-8")
        if target.suffix in (".yml",):
            text = string.Template(text).safe_substitute(values)
        target.write_text(text, encoding="utf-8")
    write_schemas(directory)
    return directory


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
