"""Data for hand-written pages, through mkdocs-macros.

A territory's ``macros/__init__.py`` re-exports :func:`define_env`; its pages can then
write ``{{ chiffres.activites }}`` or ``{{ maison.dpo.courriel }}``, and the dashboard's key
figures, ``{{ tableau_de_bord.aipd_requises | nombre }}`` (French separators). Variables use
the register's French keys, since editors write these pages.

Register text is untrusted: every string offered here is escaped for HTML and Markdown
(:func:`dote.safe.markdown_text`), and web and e-mail addresses are offered only when
they are safe to link to (``[site]({{ maison.site }})`` cannot become a ``javascript:``
link). The values are final: a page writes them as they are.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mkdocs.exceptions import PluginError

from dote.dashboard import Dashboard
from dote.dashboard import compute as compute_dashboard
from dote.dpia import rules_markdown as dpia_rules_markdown
from dote.label import level_counts
from dote.model import Territory
from dote.render import number_fr
from dote.safe import markdown_text, markdown_values

#: Keys of ``maison.yml`` whose values are links or mailboxes (see commun.schema.json).
URL_KEYS = frozenset({"site", "url", "formulaire"})
EMAIL_KEYS = frozenset({"courriel"})


class _TextKeys(dict[str, Any]):
    """A mapping whose keys are escaped text, still looked up by their plain text."""

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(markdown_text(key))

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(markdown_text(key), default)


def figures(territory: Territory, board: Dashboard) -> dict[str, int]:
    """Live figures of the territory, by French name (``board``: its dashboard, which counts
    each member's activities once and keeps the counts)."""
    return {
        "membres": len(territory.members),
        "activites": territory.activity_count,
        "sous_traitants": len(territory.processors),
        "collectivites": sum(1 for m in territory.members if m.sector == "public"),
        "entreprises": sum(1 for m in territory.members if m.sector != "public"),
        "donnees_sensibles": board.sensitive_activities,
        "transferts_hors_ue": board.own_transfer_activities,
    }


def define_env(env: Any) -> None:
    """The mkdocs-macros hook: expose the territory to the site's Markdown pages."""
    plugin = env.conf["plugins"].get("dote")
    territory = getattr(plugin, "territory", None)
    if territory is None:
        raise PluginError(
            "macros : le plugin « dote » doit précéder « macros » dans la liste plugins de mkdocs.yml"
        )
    env.variables["maison"] = markdown_values(territory.maison.raw, urls=URL_KEYS, emails=EMAIL_KEYS)
    evaluation = getattr(plugin, "label", None)
    board = getattr(plugin, "dashboard", None)
    if board is None:  # a plugin that made no dashboard: compute it the same way
        board = compute_dashboard(territory, evaluation, dt.date.today())
    env.variables["chiffres"] = figures(territory, board)
    # {{ label.niveaux["Conforme"] }}: how many members reach each level of the label.
    env.variables["label"] = (
        {"niveaux": _TextKeys({markdown_text(k): n for k, n in level_counts(evaluation).items()})}
        if evaluation is not None
        else {}
    )
    # {{ tableau_de_bord.aipd_requises | nombre }}: the dashboard's key figures (numbers only,
    # None for the label's when there is no policy), from the computation of its page.
    env.variables["tableau_de_bord"] = board.figures()
    env.filter(number_fr, "nombre")  # 4200 → « 4 200 »

    def regles_aipd() -> str:
        """The screening's rules, from the vocabularies: what facts meet each criterion and type."""
        return dpia_rules_markdown(territory.vocabularies, territory.dpia_policy)

    env.macro(regles_aipd, "regles_aipd")

    licence = territory.maison.licence
    env.variables["licence"] = markdown_values(
        {"code": licence.code, "libelle": licence.label, "url": licence.attr("url", "")}, urls=URL_KEYS
    )
