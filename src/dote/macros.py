"""Data for hand-written pages, through mkdocs-macros.

A territory's ``macros/__init__.py`` re-exports :func:`define_env`; its pages can then
write ``{{ chiffres.activites }}`` or ``{{ maison.dpo.courriel }}``. Variables use the
register's French keys, since editors write these pages.
"""

from __future__ import annotations

from typing import Any

from mkdocs.exceptions import PluginError

from dote.label import level_counts
from dote.model import Territory


def figures(territory: Territory) -> dict[str, int]:
    """Live figures of the territory, by French name."""
    activities = territory.activities
    return {
        "membres": len(territory.members),
        "activites": len(activities),
        "sous_traitants": len(territory.processors),
        "collectivites": sum(1 for m in territory.members if m.sector == "public"),
        "entreprises": sum(1 for m in territory.members if m.sector != "public"),
        "donnees_sensibles": sum(1 for a in activities if a.sensitive_categories),
        "transferts_hors_ue": sum(1 for a in activities if a.transfers_outside_eea),
    }


def define_env(env: Any) -> None:
    """The mkdocs-macros hook: expose the territory to the site's Markdown pages."""
    plugin = env.conf["plugins"].get("dote")
    territory = getattr(plugin, "territory", None)
    if territory is None:
        raise PluginError(
            "macros : le plugin « dote » doit précéder « macros » dans la liste plugins de mkdocs.yml"
        )
    env.variables["maison"] = territory.maison.raw
    env.variables["chiffres"] = figures(territory)
    evaluation = getattr(plugin, "label", None)
    # {{ label.niveaux["Conforme"] }}: how many members reach each level of the label.
    env.variables["label"] = {"niveaux": level_counts(evaluation)} if evaluation is not None else {}
    licence = territory.maison.licence
    env.variables["licence"] = {
        "code": licence.code,
        "libelle": licence.label,
        "url": licence.attr("url", ""),
    }
