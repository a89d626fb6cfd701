"""The values of the national view: a Maison to harvest, and what its harvest gave.

:mod:`dote.national.config` makes :class:`MaisonSource` values, :mod:`dote.national.harvest`
makes :class:`Harvest` (and writes/reads it as files), :mod:`dote.national.site` reads it.
Everything a harvested Maison published is untrusted text: it is kept as data here and
escaped by whatever writes it into a page, a data file or a search document.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: What became of a Maison at the last harvest.
#: ``a-jour``: harvested now; ``inchange``: the site answered "not modified" (conditional
#: request), the kept files are current; ``injoignable``: no usable answer (the last good
#: harvest, if any, is still used and dated); ``refuse``: it answered, but what it published
#: is refused as a whole (a non-public field, an unknown format) and nothing of it is used.
STATUSES = ("a-jour", "inchange", "injoignable", "refuse")


#: What the national view keeps in memory of a checked activity record: the keys its site
#: reads (explorer, figures, search documents). The harvest folder keeps every byte received;
#: the rest (retention texts, legal references, the screening's reasons…) is dropped once
#: checked, which divides the memory a large harvest holds by more than two.
SHOWN_ACTIVITY_KEYS = frozenset(
    {
        "nom",
        "description",
        "finalites",
        "thematiques",
        "categories_donnees",
        "personnes_concernees",
        "destinataires",
        "transferts",
        "base_legale",
        "aipd",
        "moyens",
        "surveillance",
    }
)


@dataclass(frozen=True)
class MaisonSource:
    """One Maison of the configuration file."""

    #: Stable identifier (a slug), chosen in the configuration: the harvest folder's name.
    id: str
    #: The name given in the configuration ("" to use the one the Maison publishes).
    name: str
    #: The public address of its site (``https://…/``, ending with a slash), or "".
    site: str = ""
    #: For tests and offline use: a folder holding a built site, read instead of ``site``.
    folder: Path | None = None


@dataclass(frozen=True)
class Issue:
    """Something reported about a Maison's publication (French text, for the site and the CLI)."""

    #: ``erreur`` (the Maison or an activity of it was refused) or ``avertissement``.
    severity: str
    message: str
    #: Where: the member and activity ids it is about ("" when about the whole Maison).
    member: str = ""
    activity: str = ""


@dataclass
class MaisonHarvest:
    """A Maison as the national view knows it after a harvest (or after reading the kept files)."""

    source: MaisonSource
    status: str
    #: When this harvest tried it (UTC, aware), and when it last succeeded (``a-jour`` or ``inchange``).
    attempted: dt.datetime | None = None
    last_success: dt.datetime | None = None
    #: Why it is unreachable or refused (French), "" otherwise.
    reason: str = ""
    #: The ``version_format`` of its open data, and whether it is older than this tool's.
    format_version: int | None = None
    older_format: bool = False
    issues: list[Issue] = field(default_factory=list)
    #: The territory JSON as published (validated; refused activities removed), or None when
    #: no usable harvest exists. Keys as in ``dote.opendata`` (``maison``, ``membres``…).
    territory: dict[str, Any] | None = None
    #: The address of the catalogue and of the dataset actually read (provenance).
    catalogue_url: str = ""
    dataset_url: str = ""

    @property
    def name(self) -> str:
        published = (self.territory or {}).get("maison", {}).get("nom", "")
        return self.source.name or (published if isinstance(published, str) else "") or self.source.id

    @property
    def usable(self) -> bool:
        """Its activities appear on the national site (now or from its last good harvest)."""
        return self.territory is not None and self.status != "refuse"


@dataclass
class Harvest:
    """Every Maison of the configuration, in its order."""

    maisons: list[MaisonHarvest]
    #: When the harvest ran (UTC, aware).
    when: dt.datetime


@dataclass(frozen=True)
class NationalConfig:
    """The national configuration file (``national.yml``), read by :mod:`dote.national.config`."""

    #: The configuration file itself (its folder anchors the relative paths).
    path: Path
    #: The national site's name (its title, header and ``<title>``).
    name: str
    maisons: tuple[MaisonSource, ...]
    #: Where the harvest is kept as reviewable files (default: ``moisson/`` beside the file).
    harvest_dir: Path
    #: The national site's public address (``https://…/``), or "" (no absolute links then).
    site_url: str = ""
    #: Seconds an HTTP request may take before its Maison is reported unreachable.
    timeout: float = 20.0
    #: Who publishes the national site, and how to reach them (an e-mail address or an
    #: http(s) address): named by its legal pages; "" when the file names none.
    publisher: str = ""
    contact: str = ""
