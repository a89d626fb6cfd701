"""``dote overlay move``: take out of the public registers what must not be there.

Two kinds of top-level fields may not stay in ``registers/``: fields whose class is not
public (``x-visibilite``), and the activity fields a member publishing "au choix" does
not publish. This moves each of them, as written (its lines, comments included), into
the overlay file of the same path, then removes it from the public file.

Nothing is half-done: every file's new public text and new overlay text are computed
and re-read before anything is written; a field already present in the overlay file
stops that file with a French message. Each file is written through a temporary file
and a rename, the overlay first, so an interruption can duplicate a field but never
lose one. Archived model versions have no overlay: their non-public fields are
reported, to be deleted by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dote.confidential import non_public_keys, published_fields, withheld_keys
from dote.files import write_atomic
from dote.layout import MEMBER_FILE, REGISTERS
from dote.load import Document, load_bytes, load_file
from dote.problems import relative_name

_KINDS = {"processors": "sous-traitant", "models": "modele"}


@dataclass(frozen=True)
class Move:
    """What happens to one public file: the fields moved, or why nothing moved."""

    public: Path
    overlay: Path
    keys: tuple[str, ...]
    refusal: str = ""
    whole: bool = False  # the whole file moves (a member that publishes no activity)


def plan(root: Path, overlay: Path) -> list[Move]:
    """Every public register file that holds fields to move, and what to do with it."""
    registers = root / REGISTERS
    moves = []
    choices: dict[str, frozenset[str] | None] = {}  # each member.yml read once
    for path in sorted(registers.rglob("*.yml")):
        rel = path.relative_to(registers)
        kind, chosen = _kind(registers, rel, choices)
        if not kind:
            continue
        name = relative_name(path, root)
        doc, _ = load_file(path, name, within=root)
        if doc is None or not isinstance(doc.data, dict):
            continue  # `dote validate` reports it
        hidden = non_public_keys(kind)
        keys = [k for k in doc.data if k in hidden]
        if kind == "activite":
            keys += withheld_keys(doc.data, chosen)
        if not keys:
            continue
        target = overlay / REGISTERS / rel
        if rel.parts[:2] == ("models", "versions"):
            refusal = (
                "archive d'un modèle : elle n'a pas de dépôt confidentiel ; supprimez ces champs à la main"
            )
            moves.append(Move(path, target, tuple(keys), refusal))
            continue
        whole = kind == "activite" and chosen is not None and "nom" not in chosen
        moves.append(Move(path, target, tuple(keys), "" if whole else _refusal(doc, keys), whole))
    return moves


def _kind(
    registers: Path, rel: Path, choices: dict[str, frozenset[str] | None]
) -> tuple[str, frozenset[str] | None]:
    parts = rel.parts
    if len(parts) == 3 and parts[0] == "members":
        if parts[2] == MEMBER_FILE:
            return "membre", None
        if parts[1] not in choices:
            member_file = registers / "members" / parts[1] / MEMBER_FILE
            member, _ = (
                load_file(member_file, MEMBER_FILE, within=registers) if member_file.is_file() else (None, [])
            )
            data = member.data if member is not None and isinstance(member.data, dict) else {}
            choices[parts[1]] = published_fields(data)
        return "activite", choices[parts[1]]
    if len(parts) == 2 and parts[0] in _KINDS:
        return _KINDS[parts[0]], None
    if len(parts) == 3 and parts[:2] == ("models", "versions"):
        return "modele", None
    return "", None


def _refusal(doc: Document, keys: list[str]) -> str:
    if any(doc.key_position((k,)).column != 1 for k in keys):
        return "fichier écrit en style compact ({…}) : déplacez ces champs à la main"
    return ""


def _blocks(text: str, doc: Document, keys: tuple[str, ...]) -> tuple[str, str]:
    """Split ``text`` into (what stays, what moves): each moved key with its lines."""
    lines = text.splitlines(keepends=True)
    starts = sorted(doc.key_position((k,)).line for k in doc.data)
    moving = {doc.key_position((k,)).line for k in keys}
    kept: list[str] = []
    moved: list[str] = []
    for i, line in enumerate(lines, start=1):
        owner = max((s for s in starts if s <= i), default=0)
        (moved if owner in moving else kept).append(line)
    if moved and not moved[-1].endswith("\n"):
        moved[-1] += "\n"
    return "".join(kept), "".join(moved)


def apply(move: Move, root: Path, *, dry_run: bool = False) -> str:
    """Carry out one move; return a refusal in French, or ""."""
    if move.refusal:
        return move.refusal
    name = relative_name(move.public, root)
    if move.whole:
        if move.overlay.exists():
            return (
                "le dépôt confidentiel a déjà un fichier à ce chemin : réunissez les deux versions à la main"
            )
        if not dry_run:
            write_atomic(move.overlay, move.public.read_text(encoding="utf-8-sig"))
            move.public.unlink()
        return ""
    raw = move.public.read_bytes()
    text = raw.decode("utf-8-sig")
    doc, _ = load_bytes(raw, move.public, name)
    assert doc is not None and isinstance(doc.data, dict)
    kept, moved = _blocks(text, doc, move.keys)
    existing = move.overlay.read_text(encoding="utf-8") if move.overlay.is_file() else ""
    if existing:
        current, _ = load_bytes(existing.encode(), move.overlay, str(move.overlay))
        only_comments = all(not ln.strip() or ln.lstrip().startswith("#") for ln in existing.splitlines())
        if current is None and not only_comments:
            return "le fichier du dépôt confidentiel n'est pas lisible : corrigez-le d'abord (dote validate --overlay)"
        both = sorted(set(move.keys) & set(current.data or {})) if current is not None else []
        if both:
            return (
                f"le dépôt confidentiel a déjà {', '.join(f'« {k} »' for k in both)} pour ce fichier : "
                "réunissez les deux versions à la main"
            )
        new_overlay = existing + ("" if existing.endswith("\n") else "\n") + moved
    else:
        new_overlay = f"# Champs non publiés de {name} (dépôt confidentiel)\n" + moved
    # Both texts must still read as the same data, minus or plus the moved keys.
    after_public, _ = load_bytes(kept.encode(), move.public, name)
    after_overlay, _ = load_bytes(new_overlay.encode(), move.overlay, str(move.overlay))
    if (
        after_public is None
        or after_overlay is None
        or any(k in after_public.data for k in move.keys)
        or any(after_overlay.data.get(k) != doc.data[k] for k in move.keys)
    ):
        return "découpage impossible sans risque : déplacez ces champs à la main"
    if not dry_run:
        write_atomic(move.overlay, new_overlay)
        write_atomic(move.public, kept)
    return ""
