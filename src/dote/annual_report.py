"""The DPO's annual report of one member: a year of the registers, computed, never typed.

``dote rapport --member ID --annee AAAA`` (DOCX or ODT with ``-o``, else text or JSON) and a
section of the member's page in an internal build (the current year). Every figure comes
from the registers:

* activities created (``dates.creation``) and updated (``dates.mise_a_jour``) in the year;
* the activities whose DPIA screening says « requise », with their state
  (:func:`dote.dpia.statement`);
* the member's label level at the reference date (its evolution over the year is *not*
  computed: the registers keep no past level, see :func:`evolution_note`);
* the latest audit's score and date (:mod:`dote.audit`);
* the actions done in the year, and those overdue at the year's end (or at the reference
  date for the current year);
* the rights requests received in the year, answered and answered in time, and the
  breaches recorded in the year, notified to the CNIL and communicated to the persons
  (:mod:`dote.dpo_registers`).

The *reference date* (``--date``, today by default) is the day the report is made: what
happened after it is not counted. The *end* of the year is 31 December, or the reference
date when the year is the current one. Nothing here is ever part of a public build: the
pipeline gives the audit, the plans and the DPO's registers only with the overlay.

The GDPR does not require an annual report: it is the DPO's way of reporting directly to
the highest management level (GDPR, art. 38(3)) on the monitoring of compliance (art. 39(1)(b)).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from dote.audit import Action, percent_text, score
from dote.deadlines import date_fr, paris
from dote.dpia import screen, statement
from dote.dpo_registers import Breach, Request, statistics
from dote.model import Member
from dote.notices import Block

TITLE = "Rapport annuel du délégué à la protection des données"
CONFIDENTIAL_NOTE = (
    "Document interne et confidentiel : il rend compte des demandes, des violations et des écarts "
    "du membre. Ne pas publier."
)
PURPOSE = (
    "Le RGPD n'impose pas de rapport annuel : ce rapport est la façon dont le délégué à la protection "
    "des données fait directement rapport au niveau le plus élevé de la direction (RGPD, art. 38(3)) "
    "sur sa mission de contrôle du respect du règlement (RGPD, art. 39(1)(b)). Chaque chiffre est "
    "calculé à partir des registres ; rien n'y est saisi à la main."
)


class ReportError(Exception):
    """The annual report cannot be made (French message)."""


# --- the figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityLine:
    id: str
    name: str
    date: dt.date | None = None
    state: str = ""  # the DPIA statement


@dataclass(frozen=True)
class AnnualReport:
    member_id: str
    member_name: str
    year: int
    today: dt.date  # the reference date: the day the report is made
    end: dt.date  # 31 December, or the reference date during the current year
    created: tuple[ActivityLine, ...]
    updated: tuple[ActivityLine, ...]
    undated: tuple[ActivityLine, ...]  # activities without dates.creation
    dpias: tuple[ActivityLine, ...]
    level: str | None  # the label level's title, None without a label policy
    level_date: dt.date | None  # the day the label was evaluated (the pipeline's date)
    unevaluated: tuple[str, ...]  # label criteria not evaluated
    audit_date: dt.date | None
    audit_percent: int | None
    plan: bool  # whether the member has an action plan
    done: tuple[Action, ...]
    overdue: tuple[Action, ...]
    requests: bool  # whether the member has a register of requests
    received: int
    answered: int
    in_time: int
    pending: int
    pending_late: int
    breaches: bool  # whether the member has a register of breaches
    recorded: int
    notified: int
    notified_late: int
    not_notified: int
    communicated: int

    @property
    def current(self) -> bool:
        return self.end == self.today and self.year == self.today.year


def year_end(year: int, today: dt.date) -> dt.date:
    """31 December of ``year``, or ``today`` during that year (a later year is refused)."""
    if year > today.year:
        raise ReportError(f"l'année {year} n'a pas commencé au {date_fr(today)} (date de référence)")
    return min(dt.date(year, 12, 31), today)


def overdue_at(action: Action, day: dt.date) -> bool:
    """Late on ``day``: due before it, and neither done by then nor abandoned.

    An abandoned action has no date of abandonment: it is never counted late. A done action
    without its date of completion (a warning of the plan) counts as done.
    """
    if action.created > day or action.due >= day or action.status == "abandonnee":
        return False
    return not (action.status == "faite" and (action.done is None or action.done <= day))


def _requests_figures(
    requests: Sequence[Request], year: int, today: dt.date
) -> tuple[int, int, int, int, int]:
    """Received in ``year`` by ``today``; answered by ``today``, in time; pending, and late."""
    seen = [
        r if r.answered is None or r.answered <= today else dataclasses.replace(r, answered=None)
        for r in requests
        if r.received.year == year and r.received <= today
    ]
    figures = statistics(seen)
    received, answered, in_time = (
        (figures[0].received, figures[0].answered, figures[0].in_time) if figures else (0, 0, 0)
    )
    pending = [r for r in seen if r.answered is None]
    late = sum(r.status(today) == "en-retard" for r in pending)
    return received, answered, in_time, len(pending), late


def _breaches_figures(
    breaches: Sequence[Breach], year: int, today: dt.date
) -> tuple[int, int, int, int, int]:
    """Recorded (aware) in ``year`` by ``today``: notified, late, not notified with reason, communicated."""
    found = [b for b in breaches if paris(b.known).year == year and paris(b.known).date() <= today]
    notified = [b for b in found if b.notified is not None and paris(b.notified).date() <= today]
    late = sum(b.late for b in notified)
    not_notified = sum(b not in notified and (b.risk == "aucun" or bool(b.absence_reason)) for b in found)
    communicated = sum(bool(b.communicated) and b.communicated[:10] <= today.isoformat() for b in found)
    return len(found), len(notified), late, not_notified, communicated


def compute(result: Any, member_id: str, year: int, today: dt.date) -> AnnualReport:
    """The report of ``member_id`` for ``year`` from a pipeline run with the overlay.

    ``result`` is a :class:`dote.pipeline.Result`; ``today`` the reference date. The label
    is the one the run evaluated, at its own date (stated in the report). Raises
    :class:`ReportError` for a year not begun.
    """
    end = year_end(year, today)
    territory = result.territory
    member: Member = territory.members_by_id[member_id]
    evaluated = result.label.members.get(member_id) if result.label is not None else None
    created, updated, undated, dpias = [], [], [], []
    for activity in member.activities:
        screening = None
        if evaluated is not None and activity.id in evaluated.activities:
            screening = evaluated.activities[activity.id].screening
            activity = evaluated.activities[activity.id].activity
        if screening is None:
            screening = screen(activity, member, territory.vocabularies, territory.dpia_policy)
        dates = activity.dates
        if dates.created is None:
            undated.append(ActivityLine(activity.id, activity.name))
        elif dates.created.year == year and dates.created <= end:
            created.append(ActivityLine(activity.id, activity.name, dates.created))
        if dates.updated is not None and dates.updated.year == year and dates.updated <= end:
            updated.append(ActivityLine(activity.id, activity.name, dates.updated))
        if screening.required:
            dpias.append(
                ActivityLine(
                    activity.id, activity.name, state=statement(screening, activity, territory.vocabularies)
                )
            )
    audit_data = result.audit
    audit = audit_data.audits.get(member_id)
    plan = audit_data.plans.get(member_id)
    percent = (
        score(audit_data.questionnaire, audit, plan).percent
        if audit is not None and audit_data.questionnaire is not None
        else None
    )
    actions = plan.actions if plan is not None else ()
    registers = result.dpo_registers.get(member_id)
    requests = _requests_figures(registers.requests if registers else (), year, today)
    breaches = _breaches_figures(registers.breaches if registers else (), year, today)
    return AnnualReport(
        member_id,
        member.name,
        year,
        today,
        end,
        tuple(sorted(created, key=lambda a: (a.date or end, a.name))),
        tuple(sorted(updated, key=lambda a: (a.date or end, a.name))),
        tuple(undated),
        tuple(dpias),
        evaluated.level_title if evaluated is not None else None,
        result.label.reference_date if result.label is not None else None,
        tuple(c.id for c in evaluated.unevaluated) if evaluated is not None else (),
        audit.date if audit is not None and audit.date <= today else None,
        percent if audit is not None and audit.date <= today else None,
        plan is not None,
        tuple(
            sorted(
                (
                    a
                    for a in actions
                    if a.status == "faite" and a.done and a.done.year == year and a.done <= today
                ),
                key=lambda a: (a.done or end, a.id),
            )
        ),
        tuple(sorted((a for a in actions if overdue_at(a, end)), key=lambda a: (a.due, a.id))),
        registers is not None and bool(registers.requests_file),
        *requests,
        registers is not None and bool(registers.breaches_file),
        *breaches,
    )


# --- the words ----------------------------------------------------------------------------------


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def evolution_note(report: AnnualReport) -> str:
    """Why the label's evolution over the year is not given (nothing is invented)."""
    return (
        f"Évolution sur l'année : non calculée. Les registres ne gardent pas le niveau passé d'un membre : "
        f"le niveau à la fin de {report.year - 1} demanderait l'état des registres publics et du dépôt "
        "confidentiel à cette date. Pour les registres publics, « dote diff » compare deux révisions git "
        "et montre les niveaux de label qui changent."
    )


def blocks(report: AnnualReport) -> list[Block]:
    """The report as blocks: the document (DOCX, ODT), the text output and the page section."""
    y = report.year
    until = "au " + date_fr(report.end)
    out = [
        Block("titre", f"{TITLE} — {y}"),
        Block("paragraphe", f"Membre : {report.member_name}"),
        Block(
            "paragraphe",
            f"Année {y}, du 1er janvier {until} ; rapport établi le {date_fr(report.today)}"
            + (" (année en cours)." if report.current else "."),
        ),
        Block("paragraphe", CONFIDENTIAL_NOTE),
        Block("paragraphe", PURPOSE),
        Block("section", "Registre des activités de traitement"),
        Block(
            "paragraphe",
            "Le responsable du traitement tient un registre des activités de traitement effectuées sous sa "
            "responsabilité (RGPD, art. 30(1)).",
        ),
        Block("sous-section", f"Activités créées en {y}"),
    ]
    out += [Block("puce", f"{a.name} (le {date_fr(a.date)})") for a in report.created if a.date] or [
        Block("paragraphe", f"Aucune activité créée en {y}.")
    ]
    out.append(Block("sous-section", f"Activités mises à jour en {y}"))
    out += [Block("puce", f"{a.name} (le {date_fr(a.date)})") for a in report.updated if a.date] or [
        Block("paragraphe", f"Aucune activité mise à jour en {y}.")
    ]
    if report.year < report.today.year:
        out.append(
            Block(
                "paragraphe",
                "Une fiche ne garde que sa dernière date de mise à jour : une activité modifiée en "
                f"{y} puis de nouveau depuis n'apparaît pas ici.",
            )
        )
    if report.undated:
        out.append(
            Block(
                "paragraphe",
                f"{_n(len(report.undated), 'activité sans date de création', 'activités sans date de création')} "
                "(dates.creation à compléter) : " + ", ".join(a.name for a in report.undated) + ".",
            )
        )
    out += [
        Block("section", "Analyses d'impact (AIPD)"),
        Block(
            "paragraphe",
            "Une analyse d'impact est menée avant le traitement lorsqu'il est susceptible d'engendrer un risque "
            "élevé pour les droits et libertés des personnes (RGPD, art. 35(1)) ; le délégué en vérifie "
            "l'exécution (RGPD, art. 39(1)(c)). Activités dont le dépistage conclut « AIPD requise », et leur "
            f"état au {date_fr(report.today)} :",
        ),
    ]
    out += [Block("puce", f"{a.name} : {a.state}") for a in report.dpias] or [
        Block("paragraphe", "Aucune activité dont le dépistage conclut à une AIPD requise.")
    ]
    out.append(Block("section", "Label de la Maison"))
    if report.level is None:
        out.append(Block("paragraphe", "Aucun label : le territoire n'a pas de politique de label."))
    else:
        when = report.level_date or report.today
        out.append(Block("paragraphe", f"Niveau au {date_fr(when)} : {report.level}."))
        if report.unevaluated:
            out.append(Block("paragraphe", "Critères non évalués : " + ", ".join(report.unevaluated) + "."))
        out.append(Block("paragraphe", evolution_note(report)))
    out.append(Block("section", "Audit"))
    if report.audit_date is None:
        out.append(Block("paragraphe", "Aucun audit enregistré."))
    else:
        period = f"en {y}" if report.audit_date.year == y else f"hors de l'année {y}"
        out.append(
            Block(
                "paragraphe",
                f"Dernier audit : le {date_fr(report.audit_date)} ({period}), score global "
                f"{percent_text(report.audit_percent)}.",
            )
        )
    out.append(Block("section", "Plan d'actions"))
    if not report.plan:
        out.append(Block("paragraphe", "Aucun plan d'actions."))
    else:
        out.append(Block("sous-section", f"Actions faites en {y}"))
        out += [Block("puce", f"{a.what} (faite le {date_fr(a.done)})") for a in report.done if a.done] or [
            Block("paragraphe", f"Aucune action faite en {y}.")
        ]
        out.append(Block("sous-section", f"Actions en retard {until}"))
        out += [
            Block(
                "puce",
                f"{a.what} — échéance du {date_fr(a.due)}, priorité {a.priority}, responsable : {a.owner}",
            )
            for a in report.overdue
        ] or [Block("paragraphe", f"Aucune action en retard {until}.")]
    out += [
        Block("section", "Demandes d'exercice des droits"),
        Block(
            "paragraphe",
            "La réponse est due dans un mois à compter de la réception de la demande, délai prolongeable de "
            "deux mois si la personne en est informée dans le premier mois (RGPD, art. 12(3)) ; un délai "
            "qui finit un samedi, un dimanche ou un jour férié est reporté au jour ouvrable suivant "
            "(règlement n° 1182/71, art. 3(4)).",
        ),
    ]
    if not report.requests:
        out.append(Block("paragraphe", "Aucun registre des demandes pour ce membre."))
    elif not report.received:
        out.append(Block("paragraphe", f"Aucune demande reçue en {y}."))
    else:
        out += [
            Block("puce", f"Demandes reçues en {y} : {report.received}"),
            Block("puce", f"Répondues au {date_fr(report.today)} : {report.answered}"),
            Block("puce", f"Répondues dans le délai : {report.in_time} sur {report.answered}"),
            Block(
                "puce",
                f"Sans réponse au {date_fr(report.today)} : {report.pending}, dont {report.pending_late} en retard",
            ),
        ]
    out += [
        Block("section", "Violations de données"),
        Block(
            "paragraphe",
            "Toute violation de données est consignée (RGPD, art. 33(5)) ; elle est notifiée à la CNIL dans les "
            "72 heures après en avoir pris connaissance, sauf si elle n'est pas susceptible d'engendrer un "
            "risque (RGPD, art. 33(1)) ; elle est communiquée aux personnes lorsqu'elle est susceptible "
            "d'engendrer un risque élevé (RGPD, art. 34(1)).",
        ),
    ]
    if not report.breaches:
        out.append(Block("paragraphe", "Aucun registre des violations pour ce membre."))
    elif not report.recorded:
        out.append(Block("paragraphe", f"Aucune violation consignée en {y}."))
    else:
        out += [
            Block("puce", f"Violations consignées en {y} (prise de connaissance) : {report.recorded}"),
            Block(
                "puce",
                f"Notifiées à la CNIL : {report.notified}, dont {report.notified_late} après 72 heures",
            ),
            Block("puce", f"Non notifiées, motif consigné ou risque improbable : {report.not_notified}"),
            Block("puce", f"Communiquées aux personnes concernées : {report.communicated}"),
        ]
    return out


def as_text(report: AnnualReport) -> str:
    """The report as plain text (``dote rapport`` without ``-o``)."""
    lines: list[str] = []
    for block in blocks(report):
        if block.kind == "titre":
            lines += [block.text, "=" * len(block.text)]
        elif block.kind == "section":
            lines += ["", block.text, "-" * len(block.text)]
        elif block.kind == "sous-section":
            lines += ["", f"{block.text} :"]
        elif block.kind == "puce":
            lines.append(f"  - {block.text}")
        else:
            lines.append(block.text)
    return "\n".join(lines)


def as_data(report: AnnualReport) -> dict[str, Any]:
    """The report's figures as JSON data (French keys, like the other commands)."""

    def activity(a: ActivityLine) -> dict[str, Any]:
        return {"activite": a.id, "nom": a.name, **({"date": a.date.isoformat()} if a.date else {})}

    def action(a: Action) -> dict[str, Any]:
        return {
            "action": a.id,
            "quoi": a.what,
            "echeance": a.due.isoformat(),
            "priorite": a.priority,
            "statut": a.status,
            "realisation": a.done.isoformat() if a.done else None,
        }

    return {
        "membre": report.member_id,
        "nom": report.member_name,
        "annee": report.year,
        "date": report.today.isoformat(),
        "fin": report.end.isoformat(),
        "activites_creees": [activity(a) for a in report.created],
        "activites_mises_a_jour": [activity(a) for a in report.updated],
        "activites_sans_date_de_creation": [activity(a) for a in report.undated],
        "aipd_requises": [{"activite": a.id, "nom": a.name, "enonce": a.state} for a in report.dpias],
        "label": {
            "niveau": report.level,
            "evalue_le": report.level_date.isoformat() if report.level_date else None,
            "criteres_non_evalues": list(report.unevaluated),
            "evolution": None,
        },
        "audit": {
            "date": report.audit_date.isoformat() if report.audit_date else None,
            "score": report.audit_percent,
        },
        "plan_d_actions": report.plan,
        "actions_faites": [action(a) for a in report.done],
        "actions_en_retard": [action(a) for a in report.overdue],
        "demandes": {
            "registre": report.requests,
            "recues": report.received,
            "repondues": report.answered,
            "repondues_dans_les_delais": report.in_time,
            "sans_reponse": report.pending,
            "sans_reponse_en_retard": report.pending_late,
        },
        "violations": {
            "registre": report.breaches,
            "consignees": report.recorded,
            "notifiees": report.notified,
            "notifiees_apres_72_heures": report.notified_late,
            "non_notifiees": report.not_notified,
            "communiquees_aux_personnes": report.communicated,
        },
    }


# --- the internal member page --------------------------------------------------------------------


def grouped(items: Sequence[Block]) -> list[tuple[str, Any]]:
    """Blocks with consecutive list items gathered: ("puces", [texts]) — for the page's template."""
    out: list[tuple[str, Any]] = []
    for block in items:
        if block.kind == "puce":
            if out and out[-1][0] == "puces":
                out[-1][1].append(block.text)
            else:
                out.append(("puces", [block.text]))
        else:
            out.append((block.kind, block.text))
    return out


def section_renderer(result: Any, env: jinja2.Environment, today: dt.date) -> Callable[[Member], Markup]:
    """The current year's report on an internal member page (text autoescaped by the template)."""

    def render(member: Member) -> Markup:
        report = compute(result, member.id, today.year, today)
        return Markup(
            env.get_template("_rapport_annuel.html").render(
                report=report, items=grouped(blocks(report)[1:]), date_fr=date_fr
            )
        )

    return render


# --- the document and the command -----------------------------------------------------------------


def document(root: Path, report: AnnualReport, fmt: str) -> bytes:
    """The report as DOCX or ODT bytes (:func:`dote.documents.filled_document`)."""
    from dote.documents import filled_document

    return filled_document(root, blocks(report), "docx" if fmt == "docx" else "odt")


def command(args: Any) -> int:
    """``dote rapport``: 0, 1 when the registers are not valid, 2 on a usage error."""
    import sys

    from dote.audit import _today, overlay_result
    from dote.confidential import report_output_refusal
    from dote.documents import DocumentError
    from dote.files import write_atomic_bytes

    def fail(message: str, code: int = 2) -> int:
        print(f"dote : erreur : {message}", file=sys.stderr)
        return code

    root = Path(args.root).resolve()
    today = _today(args.date)
    if today is None:
        return fail(f"date « {args.date} » invalide (format AAAA-MM-JJ)")
    year = today.year if args.annee is None else args.annee
    if year < 1978:  # loi Informatique et Libertés: no register before it
        return fail(f"année « {year} » invalide (année sur quatre chiffres, par exemple {today.year})")
    try:
        year_end(year, today)
    except ReportError as err:
        return fail(str(err))
    output: Path | None = args.output
    if output is not None and (refusal := report_output_refusal(output, root, "le rapport annuel")):
        return fail(refusal)
    # Validation and the label are as of today; --date moves only what the report counts.
    result = overlay_result(root, args.overlay, "les registres du DPO (demandes, violations, audit, actions)")
    if isinstance(result, int):
        return result
    members = result.territory.members_by_id
    if args.member not in members:
        return fail(f"membre « {args.member} » inconnu (membres : {', '.join(sorted(members))})")
    report = compute(result, args.member, year, today)
    if output is not None:
        try:
            content = document(root, report, output.suffix.lower()[1:])
        except DocumentError as err:
            return fail(str(err), 1)
        write_atomic_bytes(output, content)
        print(f"Rapport annuel {year} de {report.member_name} écrit dans {output}", file=sys.stderr)
        return 0
    if args.format == "json":
        print(json.dumps(as_data(report), ensure_ascii=False, indent=2))
    else:
        print(as_text(report))
    return 0
