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
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from dote.layout import MEMBER_FILE, MEMBER_OVERLAY_FILES, REGISTERS, Sources, overlay_files
from dote.load import Document, load_file
from dote.problems import Position, Problem, relative_name
from dote.schema import KINDS, annotation, compiled_schemas, known_keys, schema_chain, validate_document
from dote.vocabulary import load_vocabularies

#: The environment variable that names the overlay folder for internal outputs.
OVERLAY_ENV = "DOTE_CONFIDENTIEL"
PUBLIC = "public"
#: Activity keys always kept public for a member that publishes "au choix": structure, not
#: content (``retirer`` is needed to resolve the model the public registers extend).
STRUCTURAL_KEYS = frozenset({"version_schema", "statut", "role", "modele", "retirer"})


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


def published_fields(member: Mapping[str, Any]) -> frozenset[str] | None:
    """The activity fields a member publishes, or ``None`` when it publishes everything.

    A public-sector member publishes its whole register; a member publishing "au choix"
    (the default outside the public sector) only the fields listed in ``champs_publies``.
    """
    types = load_vocabularies()["types-membres"]
    code = str(member.get("type", ""))
    sector = types[code].attr("secteur", "public") if code in types.terms else "public"
    mode = member.get("publication", "complete" if sector == "public" else "choix")
    return None if mode == "complete" else frozenset(member.get("champs_publies") or ())


def withheld_keys(data: Any, chosen: frozenset[str] | None) -> list[str]:
    """The keys of an activity that its member does not publish (they belong in the overlay)."""
    if chosen is None or not isinstance(data, dict):
        return []
    hidden = non_public_keys("activite")
    if "nom" not in chosen:  # nothing of the activity is published
        return [k for k in data if k not in hidden]
    return [k for k in data if k not in chosen and k not in STRUCTURAL_KEYS and k not in hidden]


def check_withheld(doc: Document, chosen: frozenset[str] | None) -> list[Problem]:
    """Guard rail: an activity field its member does not publish, written in the public registers.

    The site would not show it, but the public repository and its history would: it is
    an error at its line, like a confidential field. A member that does not publish the
    names of its activities (no ``nom`` in ``champs_publies``) keeps whole files there.
    """
    if chosen is not None and "nom" not in chosen:
        return [
            Problem(
                doc.position(),
                "activité d'un membre qui ne publie pas ses activités (nom absent de champs_publies) : "
                "ce fichier n'a pas sa place dans le dépôt public",
                "déplacez le fichier entier dans le dépôt confidentiel, au même chemin "
                "(dote overlay move --overlay DOSSIER), ou ajoutez nom à champs_publies",
            )
        ]
    return [
        Problem(
            doc.key_position((key,)),
            f"champ « {key} » non publié par ce membre (absent de champs_publies) : le site ne l'affiche pas, "
            "mais le dépôt public et son historique le montrent",
            "déplacez-le dans le dépôt confidentiel (dote overlay move --overlay DOSSIER), "
            "ou ajoutez-le à champs_publies pour le publier",
        )
        for key in withheld_keys(doc.data, chosen)
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


def private_location_refusal(path: Path, root: Path, what: str) -> str:
    """Why ``path`` (an overlay, an internal site) may not live there, in French; "" if it may.

    Everything in the territory's ``docs/`` is published, and everything in its
    repository is public through git: a confidential folder lives outside the public
    repository, or inside it only where git ignores it (like ``site-interne/``).
    """
    path, root = path.resolve(), root.resolve()
    for folder in ("docs", REGISTERS):
        if path.is_relative_to(root / folder):
            return (
                f"{what} ({path}) est dans {folder}/ du dépôt public, dont tout le contenu est publié : "
                "placez-le hors du dépôt public"
            )
    if path.is_relative_to(root) and not git_ignores(path, root):
        return (
            f"{what} ({path}) est dans le dépôt public sans être ignoré par git : il serait publié avec le "
            "dépôt ; placez-le hors du dépôt public (ou ajoutez-le à .gitignore)"
        )
    return ""


def git_ignores(path: Path, root: Path) -> bool:
    """Whether git ignores ``path`` in the repository at ``root``.

    Outside a git work tree, only a top-level folder listed as such in ``root/.gitignore``
    (``/site-interne/``) counts as ignored: nothing is guessed.
    """
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "-q", "--", str(path)],
            capture_output=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        done = None
    if done is not None and done.returncode in (0, 1):
        return done.returncode == 0
    rel = path.relative_to(root).parts
    ignore_file = root / ".gitignore"
    if not rel or not ignore_file.is_file():
        return False
    lines = {line.strip() for line in ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()}
    return bool(lines & {f"/{rel[0]}/", f"/{rel[0]}", f"{rel[0]}/"})


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
    refusal = private_location_refusal(overlay, sources.root, "le dépôt confidentiel")
    if refusal:
        return sources, [Problem(Position(str(overlay)), refusal)]
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
    for rel, path in overlay_files(overlay):
        if parts_member(rel) and rel.name in MEMBER_OVERLAY_FILES:
            continue  # a member's audit and action plan: read by dote.audit
        name = f"[confidentiel] {relative_name(path, overlay)}"
        kind, public = _public_counterpart(sources, rel)
        member = sources.members.get(parts_member(rel)) if kind == "activite" else None
        chosen = published_fields(member.data) if member is not None else None
        whole = chosen is not None and "nom" not in chosen  # a member that lists no activity
        if public is None and not whole:
            problems.append(
                Problem(
                    Position(name),
                    "aucune fiche publique valide ne correspond à ce fichier confidentiel",
                    f"il complète le fichier de même chemin dans {REGISTERS}/ du dépôt public",
                )
            )
            continue
        doc, found = load_file(path, name, within=overlay)
        problems.extend(found)
        if doc is None:
            continue
        if not isinstance(doc.data, dict):
            problems.append(Problem(doc.position(), "un bloc de clés (clé: valeur) est attendu"))
            continue
        allowed = non_public_keys(kind) | {"version_schema"}
        if whole:  # the whole activity lives here
            allowed |= frozenset(known_keys(compiled_schemas()[KINDS[kind]]))
        elif chosen is not None:  # a member publishing "au choix": what it withholds lives here
            allowed |= frozenset(known_keys(compiled_schemas()[KINDS[kind]])) - chosen - STRUCTURAL_KEYS
        for key in doc.data:
            if key not in allowed and not key.startswith("x_"):
                problems.append(
                    Problem(
                        doc.key_position((key,)),
                        f"champ « {key} » inattendu dans le dépôt confidentiel",
                        "il ne contient que les champs non publics : " + ", ".join(sorted(allowed)),
                    )
                )
        own = {k: v for k, v in doc.data.items() if k in allowed or k.startswith("x_")}
        combined = {**(public.data if public is not None else {}), **own}
        view = Document(doc.path, doc.name, combined, doc.values, doc.keys)
        problems.extend(validate_document(view, kind, partial="modele" in combined))
        merged[rel.parts] = view
    return _with_documents(sources, merged), problems


def parts_member(rel: Path) -> str:
    """The member id of a path relative to ``registers/`` (``members/<id>/...``), or ""."""
    return rel.parts[1] if len(rel.parts) == 3 and rel.parts[0] == "members" else ""


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
    return replace(
        sources, members=members, activities=activities, processors=processors, models=models, complete=True
    )


def published_view(data: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """An activity of a member publishing "au choix": only the fields it opted in to."""
    return {k: v for k, v in data.items() if k in fields or k in STRUCTURAL_KEYS}


def report_output_refusal(output: Path, root: Path, what: str) -> str:
    """Why a confidential report may not be written at ``output`` (French), or "" if it may.

    A report is a .docx or an .odt file, written outside the public repository (or
    inside it only where git ignores it, see :func:`private_location_refusal`).
    """
    if output.suffix.lower() not in (".docx", ".odt"):
        return f"le rapport s'écrit en .docx ou en .odt, pas « {output.name} »"
    if refusal := private_location_refusal(output, root, what):
        return f"{refusal} ; ce rapport est confidentiel"
    return ""
