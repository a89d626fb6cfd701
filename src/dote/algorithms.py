"""The public algorithms of the administrations (``/registres/algorithmes/``), and their checks.

French law asks an administration that takes individual decisions on the basis of an
algorithmic processing (code des relations entre le public et l'administration, CRPA):

- art. L311-3-1: to put an explicit mention on each such decision and, on request, to
  communicate the rules defining the processing and the main characteristics of its use;
- art. R311-3-1-1: the mention states the purpose of the processing, recalls that right
  and how to exercise it and to refer the matter to the CADA;
- art. R311-3-1-2: what is communicated on request, in an intelligible form: 1° the degree
  and mode of contribution of the processing to the decision; 2° the data processed and
  their sources; 3° the processing parameters and, where appropriate, their weighting,
  applied to the person's situation; 4° the operations carried out by the processing;
- art. L312-1-3: administrations (art. L300-2) publish online the rules defining the main
  algorithmic processing they use for individual decisions, except legal persons with
  fewer agents or employees than a threshold set by decree (50, in full-time equivalents,
  according to Etalab's guide to the inventory of public algorithms).

An activity says so in its ``traitement_algorithmique`` block (see :attr:`Activity.algorithmic_decisions`).
This module makes the page that lists, member by member, every activity that does, with
its rules and main parameters (the inventory, an L312-1-3 publication), and checks the
blocks (:func:`check`): only warnings, as explained there.

"Administration" is the CRPA's (art. L100-3): the State, local authorities, their public
administrative bodies, and bodies of public or private law entrusted with an
administrative public service mission. A company or an association is not one, unless it
is entrusted with such a mission.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dote.layout import Sources
from dote.load import Document
from dote.model import Activity, Member, Territory, may_state
from dote.problems import Problem
from dote.vocabulary import in_sentence, load_vocabularies, slugify

if TYPE_CHECKING:  # the site's modules, imported by page() only: validation does without them
    import jinja2

    from dote.render import GeneratedPage

#: The page's address; it sits where a member called « algorithmes » would.
ALGORITHMS_ID = "algorithmes"
ALGORITHMS_URL = f"registres/{ALGORITHMS_ID}/"
TITLE = "Algorithmes publics"
#: CRPA art. L312-1-3: legal persons with fewer agents or employees than this do not have to
#: publish the rules online (the threshold set by decree, in full-time equivalents).
STAFF_THRESHOLD = 50
#: The block's key in the activity format.
BLOCK = "traitement_algorithmique"
#: What an administration communicates on request (CRPA art. R311-3-1-2), and the decisions
#: concerned: the keys of the block, with how an editor reads them.
EXPLANATIONS = {
    "decisions": "les décisions concernées (« decisions »)",
    "contribution": "le degré et le mode de contribution à la décision (« contribution », 1°)",
    "donnees": "les données traitées et leurs sources (« donnees », 2°)",
    "parametres": "les paramètres et leur pondération (« parametres », 3°)",
    "operations": "les opérations effectuées (« operations », 4°)",
}
#: Keys that only make sense when individual decisions rest on the processing.
_DECISION_KEYS = ("decisions", "mention")


def clash(territory: Territory) -> str:
    """Why the page cannot be published (a member has its address), in French, or ``""``."""
    if ALGORITHMS_ID in territory.members_by_id:
        return (
            f"le membre « {ALGORITHMS_ID} » (registers/members/{ALGORITHMS_ID}/) aurait l'adresse de "
            f"la page des algorithmes publics (/{ALGORITHMS_URL}) ; renommez son dossier"
        )
    return ""


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", slugify(text)))


def inventory(territory: Territory) -> list[tuple[Member, tuple[Activity, ...]]]:
    """Every member with activities that found individual decisions on an algorithm, by name.

    Activities keep their member page's order. A member that publishes "au choix" and keeps
    the block back has none here: the page shows what the member page shows.
    """
    found = []
    for member in sorted(territory.members, key=lambda m: _natural(m.name)):
        if not may_state(member, "traitement_algorithmique"):  # then none is algorithmic
            continue
        activities = tuple(a for a in member.activities if a.algorithmic_decisions)
        if activities:
            found.append((member, activities))
    return found


def page(territory: Territory, env: jinja2.Environment) -> GeneratedPage:
    """The page of the public algorithms: per member, its activities with their rules and parameters."""
    from dote.render import GeneratedPage, links, relative_url

    def render(url: str) -> str:
        entries = inventory(territory)
        return env.get_template("algorithmes.html").render(
            territory=territory,
            entries=entries,
            activities=sum(len(found) for _, found in entries),
            threshold=STAFF_THRESHOLD,
            href_index=relative_url(url, "registres/"),
            href_activity=lambda a: f"{relative_url(url, f'registres/{a.member_id}/')}#{a.id}",
            **links(url),
        )

    return GeneratedPage(f"{ALGORITHMS_URL}index.md", ALGORITHMS_URL, TITLE, render)


# --- validation ----------------------------------------------------------------------------------


def check(sources: Sources) -> list[Problem]:
    """Warnings on the ``traitement_algorithmique`` blocks of resolved activities.

    Warnings, never errors, because none of them shows the register to be wrong:

    * the explanations of art. R311-3-1-2 are due to a person who asks, applied to their
      own situation: writing them in the register prepares that answer and lets the page
      publish them, but the register is not where the law requires them;
    * the rules of art. L312-1-3 may be published elsewhere (on the member's own site):
      a register without ``regles`` or ``lien`` does not prove they are not;
    * a company or an association entrusted with an administrative public service mission
      is an administration for that mission (art. L100-3): its declaration may be right.

    An error would stop the whole site from being built over what may be a gap in one
    record, which is what the label and these warnings are for.
    """
    problems: list[Problem] = []
    for member_id, docs in sources.activities.items():
        problems.extend(member_problems(sources, member_id, docs))
    return problems


def member_problems(sources: Sources, member_id: str, docs: Mapping[str, Document]) -> list[Problem]:
    """:func:`check` for one member's resolved activities (``docs``)."""
    member = sources.members.get(member_id)
    data = member.data if member is not None and isinstance(member.data, Mapping) else {}
    kind = load_vocabularies()["types-membres"].terms.get(str(data.get("type")))
    staff = data.get("effectif")
    problems: list[Problem] = []
    for doc in docs.values():
        problems.extend(_block_problems(doc, kind, staff if isinstance(staff, int) else None))
    return problems


def _block_problems(doc: Document, kind: Any, staff: int | None) -> list[Problem]:
    data = doc.data
    block = data.get(BLOCK) if isinstance(data, Mapping) else None
    if not isinstance(block, Mapping):
        return []
    inherited = f"après fusion avec le modèle « {data['modele']} » ; " if "modele" in data else ""
    flag = block.get("decisions_individuelles")
    at = doc.key_position((BLOCK,))
    if flag is False:
        stray = [k for k in _DECISION_KEYS if k in block]
        if not stray:
            return []
        return [
            Problem(
                doc.position((BLOCK, "decisions_individuelles")),
                "« decisions_individuelles: false », mais le bloc décrit des décisions ("
                + ", ".join(f"« {k} »" for k in stray)
                + ") : ce traitement ne figure pas sur la page des algorithmes publics",
                inherited + "écrivez « decisions_individuelles: true » si des décisions individuelles sont "
                "prises sur le fondement de ce traitement, ou retirez ces clés",
                "avertissement",
            )
        ]
    if flag is None and not any(k != "decisions_individuelles" and not k.startswith("x_") for k in block):
        return []  # an empty block (its extensions only): nothing declared
    if kind is None or kind.attr("secteur") != "public":
        what = f"un membre de type « {in_sentence(kind.label)} »" if kind is not None else "ce membre"
        return [
            Problem(
                at,
                "le code des relations entre le public et l'administration ne s'applique qu'aux "
                f"administrations (art. L100-3) : ses règles sur les décisions fondées sur un traitement "
                f"algorithmique (art. L311-3-1 et L312-1-3) ne s'imposent pas à {what}",
                inherited
                + "si le membre est chargé d'une mission de service public administratif, il est une "
                "administration pour cette mission et peut garder ce bloc ; sinon, retirez "
                "« traitement_algorithmique » (une décision entièrement automatisée relève du RGPD, "
                "art. 22 : « decision_automatisee »)",
                "avertissement",
            )
        ]
    problems = []
    if "mention" not in block:
        problems.append(
            Problem(
                at,
                "traitement algorithmique fondant des décisions individuelles sans « mention » : chaque "
                "décision doit porter une mention explicite qui en informe la personne (code des relations "
                "entre le public et l'administration, art. L311-3-1)",
                inherited
                + "recopiez la mention portée sur les décisions : la finalité du traitement, le droit "
                "d'obtenir la communication de ses règles et de ses principales caractéristiques, comment "
                "l'exercer et saisir la CADA (art. R311-3-1-1)",
                "avertissement",
            )
        )
    missing = [text for key, text in EXPLANATIONS.items() if key not in block]
    if missing:
        problems.append(
            Problem(
                at,
                "traitement algorithmique fondant des décisions individuelles : il manque "
                + ", ".join(missing)
                + " (ce que l'administration communique à qui le demande, art. R311-3-1-2 du code des "
                "relations entre le public et l'administration)",
                inherited
                + "décrivez-les dans « traitement_algorithmique » : la page des algorithmes publics "
                "les publie, et la réponse à une demande s'en déduit",
                "avertissement",
            )
        )
    if "regles" not in block and "lien" not in block and (staff is None or staff >= STAFF_THRESHOLD):
        size = (
            "l'effectif du membre n'est pas indiqué (« effectif » dans member.yml) ; "
            if staff is None
            else f"le membre compte {staff} agents ; "
        )
        problems.append(
            Problem(
                at,
                "ni « regles » ni « lien » : une administration publie en ligne les règles des principaux "
                "traitements algorithmiques qui fondent des décisions individuelles (code des relations entre "
                f"le public et l'administration, art. L312-1-3, sauf moins de {STAFF_THRESHOLD} agents ou "
                "salariés)",
                inherited
                + size
                + "résumez les règles dans « regles », ou indiquez dans « lien » où elles sont publiées",
                "avertissement",
            )
        )
    return problems
