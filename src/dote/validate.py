"""Validation of a territory: files found, read, checked against the schemas, cross-checked.

Nothing here raises on bad input: every mistake becomes a :class:`Problem` and the
checks go on with the other files, so an editor sees every problem in one run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dote.label import check_policy
from dote.load import Document, load_file
from dote.model import ModelRef
from dote.problems import Position, Problem, relative_name
from dote.schema import validate_document
from dote.vocabulary import load_vocabularies, slugify

REGISTERS = "registers"
MEMBER_FILE = "member.yml"
LABEL_FILE = "label.yml"
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Sources:
    """The register files of a territory that could be read and match their schema."""

    root: Path
    maison: Document | None = None
    members: Mapping[str, Document] = field(default_factory=dict)
    activities: Mapping[str, Mapping[str, Document]] = field(default_factory=dict)
    models: Mapping[str, Document] = field(default_factory=dict)
    processors: Mapping[str, Document] = field(default_factory=dict)
    label: Document | None = None  # registers/label.yml, the label policy (optional)
    # True once the confidential overlay is merged in: activities of members publishing
    # "au choix" are then complete and checked as such (otherwise their withheld
    # fields, required ones included, are in the overlay).
    complete: bool = False

    def all_documents(self) -> Iterable[Document]:
        if self.maison:
            yield self.maison
        yield from self.members.values()
        for docs in self.activities.values():
            yield from docs.values()
        yield from self.models.values()
        yield from self.processors.values()
        if self.label:
            yield self.label


def read_sources(root: Path) -> tuple[Sources, list[Problem]]:
    """Find, read and schema-check every register file under ``root/registers``."""
    problems: list[Problem] = []
    registers = root / REGISTERS
    if not root.is_dir():
        return Sources(root), [
            Problem(
                Position(str(root)),
                f"dossier « {root} » introuvable ou n'est pas un dossier",
                "indiquez le dossier du territoire, qui contient registers/ et mkdocs.yml",
            )
        ]
    if not registers.is_dir():
        return Sources(root), [
            Problem(
                Position(REGISTERS),
                f"dossier « {REGISTERS}/ » introuvable : ce dossier n'est pas un territoire Maison DOTE",
                "placez-vous à la racine du territoire, ou créez-en un avec « dote init DOSSIER »",
            )
        ]

    # confidential.py builds on this module: imported here, once per call.
    from dote.confidential import check_public, check_withheld, published_fields

    def read(path: Path, kind: str, chosen: frozenset[str] | None = None) -> Document | None:
        name = relative_name(path, root)
        doc, found = load_file(path, name, within=root)
        problems.extend(found)
        if doc is None:
            return None
        # Guard rails: nothing confidential here, nor what a member chose not to publish.
        problems.extend(check_public(doc, kind))
        problems.extend(check_withheld(doc, chosen))
        extends = isinstance(doc.data, dict) and "modele" in doc.data
        schema_problems = validate_document(doc, kind, partial=extends or chosen is not None)
        problems.extend(schema_problems)
        return None if any(p.is_error for p in schema_problems) else doc

    def outside(folder: Path) -> bool:
        """A folder that is a link out of the territory: refused, its content never listed."""
        if not folder.is_dir() or folder.resolve().is_relative_to(root.resolve()):
            return False
        problems.append(
            Problem(
                Position(relative_name(folder, root)),
                "lien symbolique vers un dossier hors du territoire : refusé (son contenu n'est pas lu)",
                "remplacez le lien par le dossier lui-même, dans le dépôt",
            )
        )
        return True

    def ids_of(folder: Path) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in sorted(folder.iterdir()) if folder.is_dir() and not outside(folder) else []:
            if path.is_file() and path.suffix in (".yaml", ".YML", ".YAML"):
                problems.append(
                    Problem(
                        Position(relative_name(path, root)),
                        "extension non reconnue : le fichier serait ignoré",
                        f"renommez-le « {path.stem}.yml »",
                    )
                )
            if path.is_file() and path.suffix == ".yml" and _check_id(path, path.stem, root, problems):
                found[path.stem] = path
        return found

    if outside(registers):
        return Sources(root), problems
    maison_path = registers / "maison.yml"
    maison = read(maison_path, "maison") if maison_path.is_file() else None
    if not maison_path.is_file():
        problems.append(
            Problem(
                Position(f"{REGISTERS}/maison.yml"),
                "fichier « registers/maison.yml » manquant",
                "il décrit la Maison DOTE : nom, territoire, DPO mutualisé, publication",
            )
        )

    members: dict[str, Document] = {}
    activities: dict[str, dict[str, Document]] = {}
    members_dir = registers / "members"
    for folder in sorted(members_dir.iterdir()) if members_dir.is_dir() and not outside(members_dir) else []:
        if not folder.is_dir() or outside(folder) or not _check_id(folder, folder.name, root, problems):
            continue
        member_path = folder / MEMBER_FILE
        if not member_path.is_file():
            problems.append(
                Problem(
                    Position(relative_name(member_path, root)),
                    f"fichier « {MEMBER_FILE} » manquant pour le membre « {folder.name} »",
                    "chaque dossier de membre contient son member.yml (identité, contact, DPO)",
                )
            )
        else:
            doc = read(member_path, "membre")
            if doc is not None:
                members[folder.name] = doc
        chosen = published_fields(members[folder.name].data) if folder.name in members else None
        activities[folder.name] = {}
        for activity_id, path in ids_of(folder).items():
            if path.name == MEMBER_FILE:
                continue
            doc = read(path, "activite", chosen)
            if doc is not None:
                activities[folder.name][activity_id] = doc

    models = {i: d for i, p in ids_of(registers / "models").items() if (d := read(p, "modele"))}
    processors = {
        i: d for i, p in ids_of(registers / "processors").items() if (d := read(p, "sous-traitant"))
    }
    label_path = registers / LABEL_FILE
    label = read(label_path, "label") if label_path.is_file() else None
    problems.extend(_misplaced(registers, root))
    return Sources(root, maison, members, activities, models, processors, label), problems


def _misplaced(registers: Path, root: Path) -> list[Problem]:
    """Register files where nothing reads them: an error, not a silent omission."""
    expected = (
        "maison.yml",
        LABEL_FILE,
        "members/*/*.yml",
        "models/*.yml",
        "models/versions/*.yml",
        "processors/*.yml",
    )
    problems = []
    for path in sorted(registers.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in (".yml", ".yaml"):
            continue
        rel = path.relative_to(registers)
        if path.suffix == ".yml" and any(
            rel.match(pattern) and len(rel.parts) == pattern.count("/") + 1 for pattern in expected
        ):
            continue
        if path.suffix != ".yml" and len(rel.parts) > 1:
            continue  # reported with its folder's files (wrong extension)
        problems.append(
            Problem(
                Position(relative_name(path, root)),
                "fichier à un emplacement inattendu : il serait ignoré",
                "une activité va dans registers/members/<membre>/, un sous-traitant dans registers/processors/, "
                "un modèle dans registers/models/",
            )
        )
    return problems


def _check_id(path: Path, ident: str, root: Path, problems: list[Problem]) -> bool:
    if _ID.match(ident):
        return True
    problems.append(
        Problem(
            Position(relative_name(path, root)),
            f"nom « {ident} » invalide : un identifiant s'écrit en minuscules sans accents, "
            "les mots séparés par des tirets",
            f"renommez-le « {slugify(ident) or 'identifiant'} »",
        )
    )
    return False


def check_references(sources: Sources, today: dt.date) -> list[Problem]:
    """Cross-file checks: references exist, dates are in order, names are not duplicated."""
    problems: list[Problem] = []
    vocab = load_vocabularies()
    members = set(sources.activities)
    for member_id, doc in sources.members.items():
        parent = doc.data.get("rattachement")
        if parent == member_id:
            problems.append(
                Problem(
                    doc.position(("rattachement",)),
                    "un membre ne peut pas être rattaché à lui-même",
                    "indiquez l'identifiant d'un autre membre, ou retirez « rattachement »",
                )
            )
        elif parent is not None and parent not in members:
            problems.append(_unknown(doc, ("rattachement",), "membre", parent, members - {member_id}))
    for doc in sources.processors.values():
        member = doc.data.get("membre")
        if member is not None and member not in members:
            problems.append(_unknown(doc, ("membre",), "membre", member, members))
        problems.extend(_transfer_warnings(doc, vocab))
    for doc in sources.models.values():
        problems.extend(_model_reference(doc, sources.models))
        problems.extend(_processor_references(doc, sources))
    for docs in sources.activities.values():
        names: dict[str, str] = {}
        for activity_id, doc in docs.items():
            data = doc.data
            problems.extend(_processor_references(doc, sources))
            problems.extend(_model_reference(doc, sources.models))
            problems.extend(_controllers_served(doc, members))
            problems.extend(_date_problems(doc, today))
            problems.extend(_transfer_warnings(doc, vocab))
            key = slugify(str(data.get("nom", "")))
            if key in names:
                problems.append(
                    Problem(
                        doc.position(("nom",)),
                        f"deux activités du membre portent le même nom (voir « {names[key]}.yml »)",
                        "un habitant ne pourrait pas les distinguer",
                        "avertissement",
                    )
                )
            names.setdefault(key, activity_id)
    if sources.label is not None:
        problems.extend(check_policy(sources.label))
    return problems


def check_processor_transfers(sources: Sources) -> list[Problem]:
    """An activity that says « transferts: aucun » while a processor of it works outside the EEA."""
    vocab = load_vocabularies()["pays"]
    leaving: dict[str, list[str]] = {}
    for pid, doc in sources.processors.items():
        places = [h.get("pays") for h in doc.data.get("hebergement") or ()]
        transfers = doc.data.get("transferts")
        places += [t.get("pays") for t in transfers] if isinstance(transfers, list) else []
        outside = [vocab[c].label for c in places if c in vocab and vocab[c].attr("zone") == "pays-tiers"]
        if outside:
            leaving[pid] = sorted(set(outside))
    problems = []
    for docs in sources.activities.values():
        for doc in docs.values():
            if doc.data.get("transferts") != "aucun":
                continue
            for pid in (doc.data.get("destinataires") or {}).get("sous_traitants") or ():
                if pid in leaving:
                    problems.append(
                        Problem(
                            doc.position(("transferts",)),
                            f"« transferts: aucun », mais le sous-traitant « {pid} » traite des données "
                            f"hors de l'Espace économique européen ({', '.join(leaving[pid])})",
                            "décrivez ce transfert et sa garantie dans « transferts »",
                            "avertissement",
                        )
                    )
    return problems


def _controllers_served(doc: Document, members: set[str]) -> list[Problem]:
    """Art. 30(2): a processing done as a processor names the controllers it serves."""
    served = doc.data.get("pour_le_compte_de") or []
    problems = [
        _unknown(doc, ("pour_le_compte_de", i), "membre", ref, members)
        for i, ref in enumerate(served)
        if isinstance(ref, str) and ref not in members
    ]
    role = doc.data.get("role", "responsable")
    if role == "sous-traitant" and not served and "modele" not in doc.data:
        problems.append(
            Problem(
                doc.position(("role",)),
                "activité menée comme sous-traitant sans « pour_le_compte_de »",
                "nommez chaque responsable de traitement servi (RGPD, art. 30(2)(a))",
                "avertissement",
            )
        )
    elif served and role != "sous-traitant":
        problems.append(
            Problem(
                doc.key_position(("pour_le_compte_de",)),
                "« pour_le_compte_de » ne vaut que pour une activité menée comme sous-traitant",
                "écrivez « role: sous-traitant », ou retirez ce champ",
                "avertissement",
            )
        )
    return problems


def _processor_references(doc: Document, sources: Sources) -> list[Problem]:
    refs = (doc.data.get("destinataires") or {}).get("sous_traitants") or ()
    return [
        _unknown(doc, ("destinataires", "sous_traitants", i), "sous-traitant", ref, set(sources.processors))
        for i, ref in enumerate(refs)
        if ref not in sources.processors
    ]


def _unknown(doc: Document, path: tuple[Any, ...], what: str, ref: str, known: set[str]) -> Problem:
    close = difflib.get_close_matches(str(ref), sorted(known), n=3, cutoff=0.5)
    folder = {
        "membre": "registers/members/",
        "sous-traitant": "registers/processors/",
        "modèle": "registers/models/",
    }[what]
    hint = (
        ("identifiants proches : " + ", ".join(close)) if close else f"aucun fichier de ce nom dans {folder}"
    )
    return Problem(doc.position(path), f"{what} « {ref} » inconnu", hint)


def _model_reference(doc: Document, models: Mapping[str, Document]) -> list[Problem]:
    text = doc.data.get("modele")
    if text is None:
        return []
    ref = ModelRef.parse(text)
    if ref.id not in models:
        return [_unknown(doc, ("modele",), "modèle", ref.id, set(models))]
    return []


_PAST_DATES = (("creation", "création"), ("mise_a_jour", "mise à jour"), ("revue", "revue"))


def _date_problems(doc: Document, today: dt.date) -> list[Problem]:
    dates = doc.data.get("dates") or {}
    parsed = {
        k: dt.date.fromisoformat(v) for k, v in dates.items() if isinstance(v, str) and not k.startswith("x_")
    }
    problems = []
    for key, label in _PAST_DATES:
        if key in parsed and parsed[key] > today:
            problems.append(
                Problem(
                    doc.position(("dates", key)), f"date de {label} {parsed[key].isoformat()} dans le futur"
                )
            )
    order = (
        ("creation", "mise_a_jour", "la mise à jour précède la création"),
        ("creation", "revue", "la revue précède la création"),
        ("revue", "prochaine_revue", "la prochaine revue précède la dernière revue"),
    )
    for first, second, message in order:
        if first in parsed and second in parsed and parsed[second] < parsed[first]:
            problems.append(
                Problem(
                    doc.position(("dates", second)),
                    f"dates dans le désordre : {message} "
                    f"({parsed[second].isoformat()} < {parsed[first].isoformat()})",
                )
            )
    dpia = doc.data.get("aipd") or {}
    if (
        isinstance(dpia.get("date"), str)
        and dt.date.fromisoformat(dpia["date"]) > today
        and dpia.get("statut") == "realisee"
    ):
        problems.append(Problem(doc.position(("aipd", "date")), "AIPD « réalisée » à une date future"))
    return problems


def _transfer_warnings(doc: Document, vocab: Any) -> list[Problem]:
    transfers = doc.data.get("transferts")
    if not isinstance(transfers, list):
        return []
    problems = []
    for i, transfer in enumerate(transfers):
        country = vocab["pays"].terms.get(transfer.get("pays"))
        if country is not None and country.attr("zone") != "pays-tiers":
            problems.append(
                Problem(
                    doc.position(("transferts", i, "pays")),
                    f"{country.label} est dans l'Espace économique européen : ce n'est pas un transfert hors UE",
                    "retirez-le des transferts (indiquez l'hébergeur dans les destinataires)",
                    "avertissement",
                )
            )
    return problems
