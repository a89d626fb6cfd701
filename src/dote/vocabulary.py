"""Controlled vocabularies: every closed list of the format, kept as data files.

Each file of ``dote/vocabularies/`` names a vocabulary and lists its entries: a code
(what editors write), a French label (what citizens read), an English label, and
optionally a description, a legal reference and attributes (``nature`` of a data
category, ``vulnerable`` data subjects, ``zone`` of a country…).
"""

from __future__ import annotations

import difflib
import functools
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

#: libyaml when PyYAML was built with it: the package's own vocabularies, read once per run.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_BASE_KEYS = {"code", "libelle", "label_en", "description", "reference"}


@dataclass(frozen=True, slots=True)
class Term:
    """One entry of a vocabulary."""

    vocabulary: str
    code: str
    label: str
    label_en: str = ""
    description: str = ""
    reference: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attributes.get(name, default)


@dataclass(frozen=True)
class Vocabulary:
    """A named list of terms, in the order of its file."""

    name: str
    title: str
    terms: Mapping[str, Term]
    description: str = ""
    reference: str = ""

    def __contains__(self, code: object) -> bool:
        return code in self.terms

    def __iter__(self) -> Iterator[Term]:
        return iter(self.terms.values())

    def __getitem__(self, code: str) -> Term:
        return self.terms[code]

    def closest(self, code: str, limit: int = 3) -> list[str]:
        """The valid codes nearest to a mistyped one (accents, case and spaces forgiven)."""
        wanted = slugify(code)
        for exact in (wanted, wanted.upper()):  # country codes are upper case
            if exact in self.terms:
                return [exact]
        codes = list(self.terms)
        found = difflib.get_close_matches(wanted, codes, n=limit, cutoff=0.55)
        for candidate in codes:  # a code the editor wrote a part of ("sante-publique" → "sante")
            if len(found) >= limit:
                break
            if candidate not in found and len(candidate) > 2 and (candidate in wanted or wanted in candidate):
                found.append(candidate)
        return found


@functools.lru_cache(maxsize=1 << 16)
def slugify(text: str) -> str:
    """ASCII kebab-case, as codes and ids are written: « Santé publique » → sante-publique.

    Kept for the texts met again (recipients, names: the explorer slugs each of them)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in ascii_text.lower()).split()
    return "-".join(words)


Vocabularies = Mapping[str, Vocabulary]


@cache
def load_vocabularies() -> Vocabularies:
    """All vocabularies shipped with the package, by name (read once, immutable)."""
    result: dict[str, Vocabulary] = {}
    for entry in sorted(resources.files("dote.vocabularies").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yml"):
            continue
        doc = yaml.load(entry.read_text(encoding="utf-8"), Loader=_LOADER)
        name = doc["nom"]
        terms = {
            str(e["code"]): Term(
                vocabulary=name,
                code=str(e["code"]),
                label=e["libelle"],
                label_en=e.get("label_en", ""),
                description=e.get("description", ""),
                reference=e.get("reference", ""),
                attributes={k: v for k, v in e.items() if k not in _BASE_KEYS and k != "libelle"},
            )
            for e in doc["entrees"]
        }
        result[name] = Vocabulary(
            name=name,
            title=doc["titre"],
            terms=terms,
            description=doc.get("description", ""),
            reference=doc.get("reference", ""),
        )
    return result


def in_sentence(label: str) -> str:
    """A label inside a sentence: « Courrier postal » → « courrier postal », « SMS ou MMS » unchanged."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]
