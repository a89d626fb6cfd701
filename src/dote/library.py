"""The model library and the editors' guide that every new territory starts with.

Their one source is this repository, which is the demo territory: its ``registers/models/``
(each model and its archived versions ``versions/<id>@<N>.yml``) and its ``docs/guide/``.
The model documents (``docs/documents/``), the training modules (``docs/formation/``) and
the audit questionnaire (``registers/audit.yml``) come along, with the same source. The wheel ships them as package data under ``dote/_library/`` (hatchling ``force-include``
in ``pyproject.toml``); an editable install or a source checkout reads them from the
repository itself. :func:`locate` finds them; ``dote init`` copies them and
``dote models update`` brings a territory's models up to the library's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dote.layout import VERSIONS_DIR

#: Where the wheel puts the library, inside the ``dote`` package.
PACKAGED = "_library"
#: The audit questionnaire a new territory starts with (``registers/audit.yml``).
AUDIT_FILE = "audit.yml"
#: Folders of ``docs/`` a new territory starts with, and their navigation titles.
PAGES = {"documents": "Modèles de documents", "formation": "Se former"}
_ARCHIVE = re.compile(r"^(?P<id>[a-z0-9]+(?:-[a-z0-9]+)*)@(?P<version>[1-9][0-9]*)\.yml$")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LibraryError(Exception):
    """The library cannot be found (a broken installation): the message is French."""


@dataclass(frozen=True)
class Library:
    """Folders of the package's model library and editors' guide."""

    models: Path
    guide: Path
    #: Other folders of pages, copied into ``docs/`` under their name: the model documents
    #: (``documents/``) and the training modules (``formation/``).
    pages: tuple[Path, ...] = ()
    #: The audit questionnaire (``registers/audit.yml``, public): ``dote audit`` reads it.
    audit: Path | None = None

    def model_files(self) -> dict[str, Path]:
        """Each current model file of the library, by model id."""
        return {path.stem: path for path in sorted(self.models.glob("*.yml"))}

    def archive_files(self) -> dict[tuple[str, int], Path]:
        """Each archived version of the library, by (model id, version)."""
        found: dict[tuple[str, int], Path] = {}
        for path in sorted((self.models / VERSIONS_DIR).glob("*.yml")):
            match = _ARCHIVE.match(path.name)
            if match:
                found[match["id"], int(match["version"])] = path
        return found

    def guide_files(self) -> list[Path]:
        """The guide's files, relative to the guide folder (sorted)."""
        return sorted(p.relative_to(self.guide) for p in self.guide.rglob("*") if p.is_file())


def locate() -> Library:
    """The library of the installed package, or of the repository in a source checkout."""
    package = Path(__file__).resolve().parent
    packaged = package / PACKAGED
    if (packaged / "models").is_dir() and (packaged / "guide").is_dir():
        pages = tuple(packaged / name for name in PAGES if (packaged / name).is_dir())
        audit = packaged / AUDIT_FILE
        return Library(
            models=packaged / "models",
            guide=packaged / "guide",
            pages=pages,
            audit=audit if audit.is_file() else None,
        )
    repository = package.parent.parent  # src/dote -> the repository (an editable install)
    models, guide = repository / "registers" / "models", repository / "docs" / "guide"
    if (repository / "pyproject.toml").is_file() and models.is_dir() and guide.is_dir():
        pages = tuple(repository / "docs" / name for name in PAGES if (repository / "docs" / name).is_dir())
        audit = repository / "registers" / AUDIT_FILE
        return Library(models=models, guide=guide, pages=pages, audit=audit if audit.is_file() else None)
    raise LibraryError(
        "la bibliothèque de modèles de Maison DOTE est introuvable dans le paquet installé "
        f"(attendue dans {packaged}) : réinstallez Maison DOTE"
    )


def read_data(path: Path) -> Any:
    """A model file's content (comments and layout ignored), or ``None`` if it cannot be read."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def version_of(data: Any) -> int | None:
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def archive_text(text: str) -> str:
    """A model file's text as archived in ``versions/`` (its schema one folder further up)."""
    return text.replace("$schema=../../schemas/", "$schema=../../../schemas/", 1)


def current_text(text: str) -> str:
    """An archived model's text as a current model file (the inverse of :func:`archive_text`)."""
    return text.replace("$schema=../../../schemas/", "$schema=../../schemas/", 1)


# --- dote models update ------------------------------------------------------------------


@dataclass
class ModelUpdate:
    """What ``dote models update`` does to one model of the library."""

    model_id: str
    #: "nouveau", "mis-a-jour", "a-jour" or "modifie" (changed by the territory: left alone)
    kind: str
    latest: int
    before: int | None = None
    #: Files to write, relative to the territory's root, with their text.
    writes: dict[str, str] = field(default_factory=dict)
    journal: tuple[Any, ...] = ()
    library_file: Path | None = None


@dataclass
class UpdateReport:
    """The outcome of ``dote models update``: printed by the command, in French."""

    updates: list[ModelUpdate]
    own_models: list[str]
    lines: list[str] = field(default_factory=list)
    error: bool = False

    def text(self) -> str:
        return "\n".join(self.lines)


def plan_update(root: Path, library: Library) -> tuple[list[ModelUpdate], list[str]]:
    """Compare the territory's models with the library's; nothing is written.

    A territory's model is the library's at some version when its content equals that
    version of the library (comments and layout aside): it is then brought to the latest
    version, its current version archived as ``dote models bump`` does. A model equal to no
    version of the library has been changed by the territory and is left alone.
    """
    folder = root / "registers" / "models"
    archives = library.archive_files()
    updates: list[ModelUpdate] = []
    for model_id, path in library.model_files().items():
        text = path.read_text(encoding="utf-8")
        data = read_data(path)
        latest = version_of(data)
        if latest is None:
            continue
        versions = {latest: data} | {v: read_data(p) for (i, v), p in archives.items() if i == model_id}
        rel = f"registers/models/{model_id}.yml"
        writes = {
            f"registers/models/{VERSIONS_DIR}/{model_id}@{v}.yml": p.read_text(encoding="utf-8")
            for (i, v), p in archives.items()
            if i == model_id and not (folder / VERSIONS_DIR / f"{model_id}@{v}.yml").exists()
        }
        own = folder / f"{model_id}.yml"
        if not own.exists():
            writes[rel] = text
            updates.append(
                ModelUpdate(
                    model_id, "nouveau", latest, writes=writes, journal=_journal(data), library_file=path
                )
            )
            continue
        own_data = read_data(own)
        before = version_of(own_data)
        if own_data is None or before is None or versions.get(before) != own_data:
            updates.append(ModelUpdate(model_id, "modifie", latest, before, library_file=path))
            continue
        if before == latest:
            updates.append(ModelUpdate(model_id, "a-jour", latest, before, writes=writes, library_file=path))
            continue
        archive = f"registers/models/{VERSIONS_DIR}/{model_id}@{before}.yml"
        if not (root / archive).exists():
            writes[archive] = archive_text(own.read_text(encoding="utf-8"))
        writes[rel] = text
        updates.append(
            ModelUpdate(
                model_id,
                "mis-a-jour",
                latest,
                before,
                writes=writes,
                journal=_journal(data, before),
                library_file=path,
            )
        )
    own_models = sorted(p.stem for p in folder.glob("*.yml") if p.stem not in library.model_files())
    return updates, own_models


def _journal(data: Any, after: int = 0) -> tuple[Any, ...]:
    from dote.model import model_journal

    try:
        return model_journal(data, after)
    except (KeyError, TypeError, ValueError):
        return ()


def apply_update(root: Path, updates: list[ModelUpdate]) -> None:
    from dote.files import write_atomic

    for update in updates:
        archives_first = sorted(update.writes.items(), key=lambda w: (f"/{VERSIONS_DIR}/" not in w[0], w[0]))
        for rel, text in archives_first:  # an interrupted update never loses the current version
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, text)


def update_models(root: Path, *, dry_run: bool = False, library: Library | None = None) -> UpdateReport:
    """``dote models update``: bring the territory's models up to the package's library."""
    import shutil
    import tempfile

    library = library or locate()
    updates, own_models = plan_update(root, library)
    report = UpdateReport(updates, own_models)
    changed = [u for u in updates if u.kind in ("nouveau", "mis-a-jour")]
    if changed:
        if dry_run:
            with tempfile.TemporaryDirectory(prefix="dote-update-") as tmp:
                shutil.copytree(root / "registers", Path(tmp) / "registers", symlinks=True)
                apply_update(Path(tmp), updates)
                drift = _territory_drift(Path(tmp))
        else:
            apply_update(root, updates)
            drift = _territory_drift(root)
    else:
        apply_update(root, [] if dry_run else updates)  # archives the territory lacked
        drift = None
    _describe(report, drift, root, dry_run=dry_run)
    return report


def _territory_drift(root: Path) -> Any:
    """The updated territory (for its drift and its models' users), or ``None`` if invalid."""
    from dote import pipeline

    result = pipeline.run(root)
    return None if result.errors else result.territory


def _describe(report: UpdateReport, territory: Any, root: Path, *, dry_run: bool) -> None:
    lines = report.lines
    if dry_run:
        lines.append("Simulation (--dry-run) : aucun fichier n'est écrit.")
    counts = {kind: 0 for kind in ("nouveau", "mis-a-jour", "a-jour", "modifie")}
    for u in report.updates:
        counts[u.kind] += 1
        if u.kind == "a-jour":
            if u.writes:
                lines.append(
                    f"Modèle « {u.model_id} » : à jour (version {u.latest}) ; versions archivées ajoutées : "
                    + ", ".join(Path(rel).stem for rel in sorted(u.writes))
                )
            continue
        if u.kind == "modifie":
            report.error = True
            found = f"version {u.before}" if u.before is not None else "version illisible"
            lines.append(
                f"Modèle « {u.model_id} » : modifié dans ce territoire ({found}, qui ne correspond à "
                f"aucune version de la bibliothèque) : il n'est pas remplacé par celui de la bibliothèque "
                f"(version {u.latest})."
            )
            lines.append(
                f"  Conseil : comparez-le à la version de la bibliothèque ({u.library_file}). Si votre "
                "changement ne vaut que pour ce territoire, copiez le modèle sous un autre identifiant et "
                f"faites-y référence ; pour reprendre la version de la bibliothèque, supprimez "
                f"registers/models/{u.model_id}.yml puis relancez « dote models update »."
            )
            continue
        verb = "serait" if dry_run else "est"
        if u.kind == "nouveau":
            lines.append(
                f"Modèle « {u.model_id} » : nouveau, version {u.latest} ({'serait ajouté' if dry_run else 'ajouté'})"
            )
        else:
            lines.append(f"Modèle « {u.model_id} » : version {u.before} → {u.latest}")
            archived = f"registers/models/{VERSIONS_DIR}/{u.model_id}@{u.before}.yml"
            if archived in u.writes:
                lines.append(f"  la version {u.before} {verb} archivée dans {archived}")
        for entry in u.journal if u.kind == "mis-a-jour" else ():
            lines.append(f"  version {entry.version} : {entry.summary}")
        if territory is None:
            continue
        users = territory.users_of_model(u.model_id)
        drifts = [d for d in territory.drift if d.model_id == u.model_id]
        if u.kind == "mis-a-jour" and len(users) > len(drifts):
            lines.append(
                f"  {len(users) - len(drifts)} activité(s) suivent la dernière version : leur fiche publiée "
                f"passe à la version {u.latest} (relisez-la)"
            )
        for d in drifts:
            lines.append(
                f"  {d.position.file}:{d.position.line}:{d.position.column}: reste sur la version "
                f"{d.pinned} ; champs changés depuis : {', '.join(d.changed_fields) or 'aucun'}"
            )
    if territory is None and (counts["nouveau"] or counts["mis-a-jour"]):
        lines.append(
            "Les activités restées sur une version antérieure n'ont pas pu être calculées : le "
            "territoire n'est pas valide (lancez « dote validate »)."
        )
        report.error = True
    if not (counts["nouveau"] or counts["mis-a-jour"] or counts["modifie"]):
        lines.append(f"Les modèles sont à jour ({counts['a-jour']} modèles de la bibliothèque).")
        return
    parts = []
    if counts["nouveau"]:
        parts.append(f"{counts['nouveau']} ajouté(s)")
    if counts["mis-a-jour"]:
        parts.append(f"{counts['mis-a-jour']} mis à jour")
    if counts["a-jour"]:
        parts.append(f"{counts['a-jour']} à jour")
    if counts["modifie"]:
        parts.append(f"{counts['modifie']} modifié(s) dans ce territoire, non remplacé(s)")
    lines.append("Bibliothèque de modèles : " + ", ".join(parts) + ".")
    if report.own_models:
        lines.append(f"Modèles propres au territoire, non concernés : {', '.join(report.own_models)}.")
