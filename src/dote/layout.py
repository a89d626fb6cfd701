"""The territory's layout: which folders hold which register files, and the list of sources.

The one module that lists the folders of a territory (and of its confidential overlay):
the stages after it take values and return values. :func:`find_sources` returns every
file the format reads, by kind — ``maison.yml``, ``label.yml``, each member's
``member.yml`` and activities, models, their archived versions
(``models/versions/<id>@<N>.yml``), processors — and a French problem for every file or
folder it refuses to read (a link out of the territory, a misnamed file, a file where
nothing would read it). Reading a file is :func:`dote.load.load_file` (or the cached
:mod:`dote.cache`), validating it :mod:`dote.validate`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path

from dote.files import system_reason
from dote.load import ByName, Document
from dote.problems import Position, Problem, relative_name
from dote.vocabulary import slugify

REGISTERS = "registers"
MEMBERS = "members"
MODELS = "models"
PROCESSORS = "processors"
VERSIONS_DIR = "versions"
MAISON_FILE = "maison.yml"
MEMBER_FILE = "member.yml"
LABEL_FILE = "label.yml"
#: The training sessions (read by dote.training, not by the register pipeline).
TRAINING_FILE = "formations.yml"
#: The audit questionnaire, public (read by dote.audit, not by the register pipeline).
AUDIT_FILE = "audit.yml"
#: Files of a member's folder that are not activities and live in the confidential overlay
#: only (read by dote.audit): in the public registers they are refused.
MEMBER_OVERLAY_FILES = {"audit.yml": "les réponses du membre à l'audit", "actions.yml": "son plan d'actions"}
#: The DPO's registers of a member, in the overlay only (read by dote.dpo_registers).
MEMBER_OVERLAY_FILES.update(
    {
        "demandes.yml": "le registre des demandes d'exercice des droits",
        "violations.yml": "le registre des violations de données",
    }
)

#: Member ids that would take the address of a page of the site (/registres/<id>/).
RESERVED_MEMBER_IDS = {
    "explorer": "l'explorateur des registres",
    "algorithmes": "l'inventaire des algorithmes publics",
}

_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_ARCHIVE = re.compile(r"^(?P<id>[a-z0-9]+(?:-[a-z0-9]+)*)@(?P<version>[1-9][0-9]*)$")


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
    #: Archived model versions (models/versions/<id>@<N>.yml), by (model id, version).
    archives: Mapping[tuple[str, int], Document] = field(default_factory=dict)
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


class FolderFiles(ByName[Path]):
    """The register files of one folder, by id (:attr:`names`: each one's name in the folder):
    their paths are made when asked for (a member folder recognised by the cache never needs
    them, see dote.validate)."""

    __slots__ = ("folder",)

    def __init__(self, folder: Path, names: Mapping[str, str]) -> None:
        super().__init__(names)
        self.folder = folder

    def __getitem__(self, key: str) -> Path:
        return self.folder / self.names[key]


def file_names(files: Mapping[str, Path]) -> Mapping[str, str]:
    """Each file's name (in its folder) by id, without making paths (see :class:`FolderFiles`)."""
    return files.names if isinstance(files, FolderFiles) else {key: path.name for key, path in files.items()}


@dataclass(frozen=True)
class SourceFiles:
    """Where each register file of a territory is (paths only: nothing read yet)."""

    maison: Path | None = None
    label: Path | None = None
    #: Each member folder's member.yml (``None`` when it is missing), by member id.
    members: Mapping[str, Path | None] = field(default_factory=dict)
    activities: Mapping[str, Mapping[str, Path]] = field(default_factory=dict)
    models: Mapping[str, Path] = field(default_factory=dict)
    archives: Mapping[tuple[str, int], Path] = field(default_factory=dict)
    processors: Mapping[str, Path] = field(default_factory=dict)

    def count(self) -> int:
        """How many register files there are."""
        single = (self.maison, self.label, *self.members.values())
        shared = len(self.models) + len(self.archives) + len(self.processors)
        return sum(path is not None for path in single) + sum(map(len, self.activities.values())) + shared


def find_sources(root: Path) -> tuple[SourceFiles | None, list[Problem]]:
    """Every register file of the territory at ``root``, and why any other was left aside.

    ``None`` when ``root`` is not a territory at all (no ``registers/`` folder).
    """
    problems: list[Problem] = []
    registers = root / REGISTERS
    if not root.is_dir():
        return None, [
            Problem(
                Position(str(root)),
                f"dossier « {root} » introuvable ou n'est pas un dossier",
                "indiquez le dossier du territoire, qui contient registers/ et mkdocs.yml",
            )
        ]
    if not registers.is_dir():
        return None, [
            Problem(
                Position(REGISTERS),
                f"dossier « {REGISTERS}/ » introuvable : ce dossier n'est pas un territoire Maison DOTE",
                "placez-vous à la racine du territoire, ou créez-en un avec « dote init DOSSIER »",
            )
        ]
    real_root = root.resolve()

    def outside(folder: Path, link: bool = True) -> bool:
        """A folder that is a link out of the territory: refused, its content never listed.
        ``link=False``: a folder known not to be a link (listed in a folder already checked),
        so where it is written is where it really is."""
        if not link or not folder.is_dir() or folder.resolve().is_relative_to(real_root):
            return False
        problems.append(
            Problem(
                Position(relative_name(folder, root)),
                "lien symbolique vers un dossier hors du territoire : refusé (son contenu n'est pas lu)",
                "remplacez le lien par le dossier lui-même, dans le dépôt",
            )
        )
        return True

    def entries(folder: Path) -> list[os.DirEntry[str]]:
        """A folder's entries by name (the folder itself checked by the caller)."""
        try:
            with os.scandir(folder) as found:
                return sorted(found, key=lambda entry: entry.name)
        except OSError as err:
            problems.append(
                Problem(
                    Position(relative_name(folder, root)),
                    f"dossier illisible : {system_reason(err)}",
                    "vérifiez ses droits d'accès : les fichiers qu'il contient ne sont pas lus",
                )
            )
            return []

    def listed(folder: Path) -> list[os.DirEntry[str]]:
        return entries(folder) if folder.is_dir() and not outside(folder) else []

    def names_of(found: list[os.DirEntry[str]]) -> dict[str, str]:
        """The register files among a folder's entries: their names, by id."""
        ids: dict[str, str] = {}
        for entry in found:
            stem, suffix = os.path.splitext(entry.name)
            if suffix not in (".yml", ".yaml", ".YML", ".YAML") or not entry.is_file():
                continue
            if suffix != ".yml":
                problems.append(
                    Problem(
                        Position(relative_name(Path(entry.path), root)),
                        "extension non reconnue : le fichier serait ignoré",
                        f"renommez-le « {stem}.yml »",
                    )
                )
            elif _ID.match(stem) or _check_id(Path(entry.path), stem, root, problems):
                ids[stem] = entry.name
        return ids

    def ids_of(folder: Path) -> dict[str, Path]:
        return {i: folder / name for i, name in names_of(listed(folder)).items()}

    if outside(registers):
        return SourceFiles(), problems
    maison = registers / MAISON_FILE
    if not maison.is_file():
        problems.append(
            Problem(
                Position(f"{REGISTERS}/{MAISON_FILE}"),
                f"fichier « {REGISTERS}/{MAISON_FILE} » manquant",
                "il décrit la Maison DOTE : nom, territoire, DPO mutualisé, publication",
            )
        )
    members: dict[str, Path | None] = {}
    activities: dict[str, FolderFiles] = {}
    flat: set[str] = set()  # member folders listed here, without a folder inside
    for entry in listed(registers / MEMBERS):
        folder = Path(entry.path)
        if (
            not entry.is_dir()
            or outside(folder, entry.is_symlink())
            or not _check_id(folder, entry.name, root, problems)
        ):
            continue
        if entry.name in RESERVED_MEMBER_IDS:
            problems.append(
                Problem(
                    Position(relative_name(folder, root)),
                    f"identifiant « {entry.name} » réservé : la page /registres/{entry.name}/ du site "
                    f"est {RESERVED_MEMBER_IDS[entry.name]}",
                    "renommez le dossier du membre",
                )
            )
            continue
        content = entries(folder)
        if content and not any(e.is_dir(follow_symlinks=False) for e in content):
            flat.add(entry.name)
        files = {e.name for e in content if e.is_file()}
        member_file = folder / MEMBER_FILE
        members[entry.name] = member_file if MEMBER_FILE in files else None
        if MEMBER_FILE not in files:
            problems.append(
                Problem(
                    Position(relative_name(member_file, root)),
                    f"fichier « {MEMBER_FILE} » manquant pour le membre « {entry.name} »",
                    "chaque dossier de membre contient son member.yml (identité, contact, DPO)",
                )
            )
        for name, what in MEMBER_OVERLAY_FILES.items():
            if name in files:
                problems.append(
                    Problem(
                        Position(relative_name(folder / name, root)),
                        f"« {name} » ({what}) est confidentiel : il n'a pas sa place dans le dépôt public",
                        "déplacez-le dans le dépôt confidentiel, au même chemin, et retirez-le d'ici "
                        "(l'historique git du dépôt public le garde : voyez le guide)",
                    )
                )
        activities[entry.name] = FolderFiles(
            folder,
            {
                activity_id: name
                for activity_id, name in names_of(content).items()
                if name != MEMBER_FILE and name not in MEMBER_OVERLAY_FILES
            },
        )
    archives: dict[tuple[str, int], Path] = {}
    for entry in listed(registers / MODELS / VERSIONS_DIR):
        if not entry.name.endswith(".yml") or not entry.is_file():
            continue
        path = Path(entry.path)
        match = _ARCHIVE.match(path.stem)
        if match:
            archives[match["id"], int(match["version"])] = path
        else:
            problems.append(
                Problem(
                    Position(relative_name(path, root)),
                    f"nom d'archive « {path.stem} » invalide : attendu <modele>@<version>",
                )
            )
    label = registers / LABEL_FILE
    problems.extend(_misplaced(registers, root, flat))
    return (
        SourceFiles(
            maison=maison if maison.is_file() else None,
            label=label if label.is_file() else None,
            members=members,
            activities=activities,
            models=ids_of(registers / MODELS),
            archives=archives,
            processors=ids_of(registers / PROCESSORS),
        ),
        problems,
    )


def overlay_files(overlay: Path) -> list[tuple[Path, Path]]:
    """The files of a confidential overlay: (path relative to its ``registers/``, path)."""
    registers = overlay / REGISTERS
    return [(path.relative_to(registers), path) for path in sorted(registers.rglob("*.yml"))]


def _misplaced(registers: Path, root: Path, flat: Set[str] = frozenset()) -> list[Problem]:
    """Register files where nothing reads them: an error, not a silent omission.

    ``flat``: member folders already listed without a folder inside. Every ``.yml`` file
    directly in a member's folder is one the format reads, so such a folder holds nothing
    misplaced and is not listed a second time (a thousand folders at a département's scale).
    """
    problems = []
    members = os.path.join(registers, MEMBERS)
    for folder, subfolders, names in os.walk(registers):  # links to folders are not followed
        if folder == members:
            subfolders[:] = [name for name in subfolders if name not in flat]
        subfolders.sort()
        parts = Path(folder).relative_to(registers).parts
        for name in sorted(names):
            suffix = os.path.splitext(name)[1]
            if suffix.lower() not in (".yml", ".yaml"):
                continue
            rel = (*parts, name)
            if suffix == ".yml" and _expected(rel):
                continue
            if suffix != ".yml" and len(rel) > 1:
                continue  # reported with its folder's files (wrong extension)
            problems.append(
                Problem(
                    Position(relative_name(Path(folder) / name, root)),
                    "fichier à un emplacement inattendu : il serait ignoré",
                    "une activité va dans registers/members/<membre>/, un sous-traitant dans "
                    "registers/processors/, un modèle dans registers/models/",
                )
            )
    return problems


def _expected(rel: tuple[str, ...]) -> bool:
    """Whether a ``.yml`` file at ``rel`` (relative to registers/) is one the format reads."""
    if len(rel) == 1:
        return rel[0] in (MAISON_FILE, LABEL_FILE, TRAINING_FILE, AUDIT_FILE)
    if len(rel) == 2:
        return rel[0] in (MODELS, PROCESSORS)
    if len(rel) == 3:
        return rel[0] == MEMBERS or rel[:2] == (MODELS, VERSIONS_DIR)
    return False


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
