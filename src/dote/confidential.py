"""What never reaches the public site: visibility classes, guard rails and the overlay.

Every field's publication class is declared in the schemas (``x-visibilite``: public by
default, ``membres`` or ``confidentiel``). Non-public fields never live in the public
``registers/``: they are kept in a *confidential overlay*, a separate folder (typically a
private repository checked out beside the public one) with the same layout, holding only
those fields. The overlay is read for internal outputs only; the public pipeline never
opens it. Members whose ``publication`` is ``choix`` (companies, associations) publish
only the activity fields they list in ``champs_publies``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from dote.load import Document, load_file
from dote.problems import Position, Problem, relative_name
from dote.schema import KINDS, annotation, compiled_schemas, known_keys, schema_chain, validate_document
from dote.validate import MEMBER_FILE, REGISTERS, Sources

#: The environment variable that names the overlay folder for internal outputs.
OVERLAY_ENV = "DOTE_CONFIDENTIEL"
PUBLIC = "public"
#: Activity keys always kept for a member that publishes "au choix" (structure, not content).
STRUCTURAL_KEYS = frozenset({"version_schema", "statut", "role", "modele"})


@cache
def visibilities(kind: str) -> Mapping[str, str]:
    """The publication class of each top-level key of a file kind (public when unsaid)."""
    schema = compiled_schemas()[KINDS[kind]]
    result: dict[str, str] = {}
    for key in known_keys(schema):
        for node in schema_chain(schema):
            prop = node.get("properties", {}).get(key)
            if prop is not None:
                result[key] = annotation(prop, "x-visibilite") or PUBLIC
                break
    return result


def non_public_keys(kind: str) -> frozenset[str]:
    return frozenset(k for k, v in visibilities(kind).items() if v != PUBLIC)


_LABELS = {"confidentiel": "confidentiel", "membres": "réservé aux membres"}


def check_public(doc: Document, kind: str) -> list[Problem]:
    """Guard rail: a non-public field written in the public registers is an error at its line."""
    if not isinstance(doc.data, dict):
        return []
    visibility = visibilities(kind)
    return [
        Problem(
            doc.key_position((key,)),
            f"champ {_LABELS.get(visibility[key], visibility[key])} « {key} » dans le registre public : "
            "il serait publié",
            f"déplacez-le dans le dépôt confidentiel, au même chemin ({doc.name}), et retirez-le d'ici",
        )
        for key in doc.data
        if visibility.get(key, PUBLIC) != PUBLIC
    ]


def overlay_location(explicit: Path | None, configured: str | None, root: Path) -> Path | None:
    """Where the overlay is: ``--overlay``, else $DOTE_CONFIDENTIEL, else the plugin option."""
    if explicit is not None:
        return explicit
    if os.environ.get(OVERLAY_ENV):
        return Path(os.environ[OVERLAY_ENV])
    if configured:
        return (root / configured) if not Path(configured).is_absolute() else Path(configured)
    return None


def _public_counterpart(sources: Sources, rel: Path) -> tuple[str, Document | None]:
    parts = rel.parts
    if len(parts) == 3 and parts[0] == "members" and parts[2] == MEMBER_FILE:
        return "membre", sources.members.get(parts[1])
    if len(parts) == 3 and parts[0] == "members":
        return "activite", sources.activities.get(parts[1], {}).get(Path(parts[2]).stem)
    if len(parts) == 2 and parts[0] == "processors":
        return "sous-traitant", sources.processors.get(Path(parts[1]).stem)
    if len(parts) == 2 and parts[0] == "models":
        return "modele", sources.models.get(Path(parts[1]).stem)
    return "", None


def merge_overlay(sources: Sources, overlay: Path) -> tuple[Sources, list[Problem]]:
    """Sources with the overlay's confidential fields merged in (for internal outputs only)."""
    registers = overlay / REGISTERS
    if not registers.is_dir():
        return sources, [
            Problem(
                Position(str(overlay)),
                f"dépôt confidentiel sans dossier « {REGISTERS}/ » : {overlay}",
                f"il reprend l'arborescence du dépôt public (donnez son chemin par --overlay ou {OVERLAY_ENV})",
            )
        ]
    problems: list[Problem] = []
    merged: dict[tuple[str, ...], Document] = {}
    for path in sorted(registers.rglob("*.yml")):
        rel = path.relative_to(registers)
        name = f"[confidentiel] {relative_name(path, overlay)}"
        kind, public = _public_counterpart(sources, rel)
        if public is None:
            problems.append(
                Problem(
                    Position(name),
                    "aucune fiche publique valide ne correspond à ce fichier confidentiel",
                    f"il complète le fichier de même chemin dans {REGISTERS}/ du dépôt public",
                )
            )
            continue
        doc, found = load_file(path, name)
        problems.extend(found)
        if doc is None:
            continue
        if not isinstance(doc.data, dict):
            problems.append(Problem(doc.position(), "un bloc de clés (clé: valeur) est attendu"))
            continue
        allowed = non_public_keys(kind) | {"version_schema"}
        for key in doc.data:
            if key not in allowed and not key.startswith("x_"):
                problems.append(
                    Problem(
                        doc.key_position((key,)),
                        f"champ « {key} » inattendu dans le dépôt confidentiel",
                        "il ne contient que les champs non publics : " + ", ".join(sorted(allowed)),
                    )
                )
        combined = {**public.data, **{k: v for k, v in doc.data.items() if k in allowed}}
        view = Document(doc.path, doc.name, combined, doc.values, doc.keys)
        problems.extend(validate_document(view, kind))
        merged[rel.parts] = view
    return _with_documents(sources, merged), problems


def _with_documents(sources: Sources, merged: Mapping[tuple[str, ...], Document]) -> Sources:
    members = dict(sources.members)
    activities = {m: dict(docs) for m, docs in sources.activities.items()}
    processors = dict(sources.processors)
    models = dict(sources.models)
    for parts, doc in merged.items():
        if parts[0] == "members" and parts[2] == MEMBER_FILE:
            members[parts[1]] = doc
        elif parts[0] == "members":
            activities[parts[1]][Path(parts[2]).stem] = doc
        elif parts[0] == "processors":
            processors[Path(parts[1]).stem] = doc
        else:
            models[Path(parts[1]).stem] = doc
    return replace(sources, members=members, activities=activities, processors=processors, models=models)


def published_view(data: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """An activity of a member publishing "au choix": only the fields it opted in to."""
    return {k: v for k, v in data.items() if k in fields or k in STRUCTURAL_KEYS}
