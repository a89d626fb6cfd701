"""Small HTML pieces shared by the generated pages, as Python functions.

The templates call them as ``m.missing()``, ``m.gloss(href_term, "aipd", "AIPD")``…
(the global ``m``). They were Jinja macros; a member page of 30 activities calls them
about 400 times, and a Jinja macro call costs ten times a Python call. Everything from a
register goes through ``markupsafe.escape``, as Jinja's autoescape would, and only ``http``, ``https`` and ``mailto`` links are ever written.

The section of one activity (``m.activity``: what ``templates/_activite.html`` held) is
Python too, for the same reason: a member page shows thirty activities or more, and as
a template this section took four fifths of the page's rendering time (the page now
renders in less than half the time). Its HTML is written below in the order of the
page, one method for each stretch of it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from dote import notices
from dote.model import duration_in_words
from dote.safe import safe_email, safe_url

if TYPE_CHECKING:
    from dote.dpia import Screening
    from dote.label import Evaluation
    from dote.model import Activity, LegalBasis, Retention, Territory
    from dote.watch import WatchItem


@functools.lru_cache(maxsize=1 << 16)
def _escaped(text: str) -> Markup:
    return escape(text)


def e(value: object) -> Markup:
    """What Jinja's autoescape does to a value (``markupsafe.escape``): the pieces below call
    it. A text is escaped once per process: a member page of 30 activities escapes some 2,500
    values, most of them the same vocabulary labels, dates and sentences as on every other page
    (bounded: a large territory's own texts do not all stay)."""
    return _escaped(value) if type(value) is str else escape(value)


_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def date_fr(value: dt.date) -> str:
    """2026-02-01 → « 1er février 2026 »."""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {_MONTHS[value.month - 1]} {value.year}"


def number_fr(value: int) -> str:
    """4200 → « 4 200 » (narrow no-break space, as French typography wants)."""
    return f"{value:,}".replace(",", "\u202f")


#: ``P1Y6M`` → « 1 an et 6 mois », once per duration: a page names the same few many times.
duration_text = functools.lru_cache(maxsize=1024)(duration_in_words)


def month_fr(value: dt.date) -> str:
    """2026-02-01 → « Février 2026 » (a heading)."""
    return f"{_MONTHS[value.month - 1].capitalize()} {value.year}"


@dataclass(frozen=True)
class ActivityContext:
    """What the section of an activity needs from the page that shows it.

    The page's links (relative to its own URL), the screenings and label shown, and on
    member pages with a legal watch, the newest watch items of each activity.
    """

    territory: Territory
    href_term: Callable[[str], str]
    href_member: Callable[[str], str]
    href_model: Callable[[str], str]
    href_processor: Callable[[str], str]
    screening: Callable[[Activity], Screening]
    label: Evaluation | None = None
    watch_for: Callable[[Activity], Sequence[WatchItem]] | None = None
    href_watch: Callable[[WatchItem], str] | None = None
    #: The confidential block of an internal build (templates/_interne.html), rendered.
    internal: Callable[[Activity], str] | None = None


@functools.lru_cache(maxsize=1 << 12)
def _time(value: dt.date) -> Markup:
    """A date as a page shows it (the same few hundred dates on every page of a territory)."""
    return Markup(f'<time datetime="{e(value.isoformat())}">{e(date_fr(value))}</time>')


class Fragments:
    """The pieces, for one territory (``glossary``: whether it publishes docs/glossaire.md)."""

    def __init__(self, glossary: bool) -> None:
        self.glossary = glossary
        # The links of the page being rendered, by (anchor, text): see gloss.
        self._glosses: tuple[object, dict[tuple[str, str], Markup]] = (None, {})

    @staticmethod
    def missing(text: str = "Non renseigné") -> Markup:
        return Markup(f'<span class="dote-manquant">{e(text)}</span>')

    def date(self, value: dt.date | None) -> Markup:
        if not value:
            return self.missing()
        return _time(value)

    def term(self, t: Any) -> Markup:
        if not t:
            return self.missing()
        return Markup(f'<span title="{e(t.description or t.reference)}">{e(t.label)}</span>')

    @staticmethod
    def link(url: str, text: str | None = None) -> Markup:
        target = safe_url(url)
        if target:
            return Markup(f'<a href="{e(target)}" rel="noopener">{e(text or url)}</a>')
        return e(text or url)

    @staticmethod
    def email(address: str) -> Markup:
        target = safe_email(address)
        if target:
            return Markup(f'<a href="mailto:{e(target)}">{e(address)}</a>')
        return e(address)

    def person(self, p: Any) -> Markup:
        html = e(p.name)
        if p.email:
            html += Markup(", ") + self.email(p.email)
        if p.address:
            html += Markup(f", {e(p.address)}")
        if p.phone:
            html += Markup(f", tél. {e(p.phone)}")
        if p.designation:
            html += Markup(f" (n° de désignation CNIL : {e(p.designation)})")
        return html

    @staticmethod
    def nature_badge(category: Any) -> Markup:
        if category.nature == "sensible":
            return Markup('<strong class="dote-badge dote-badge--sensible">Donnée sensible (art. 9)</strong>')
        if category.nature == "penale":
            return Markup('<strong class="dote-badge dote-badge--sensible">Infractions (art. 10)</strong>')
        if category.nature == "nir":
            return Markup('<strong class="dote-badge dote-badge--sensible">NIR</strong>')
        return Markup("")

    def gloss(self, href: Callable[[str], str], anchor: str, text: str) -> Markup:
        """A technical term, linked to its definition in the glossary when there is one.

        ``href`` is the page's ``href_term``; ``anchor`` the term's id in the glossary.
        A page links the same terms again and again (twelve per activity): the links are
        kept for the page whose ``href`` they were made with (each page has its own).
        """
        page, known = self._glosses
        if page is not href:
            # A tuple replaced whole: two pages rendered at once never share their links.
            page, known = self._glosses = (href, {})
        key = (anchor, text)
        found = known.get(key)
        if found is None:
            found = known[key] = self._gloss(href, anchor, text)
        return found

    def _gloss(self, href: Callable[[str], str], anchor: str, text: str) -> Markup:
        if not self.glossary:
            return e(text)
        shown = e(text)
        return Markup(
            f'<a class="dote-terme" href="{e(href(anchor))}" title="{shown} : définition dans le glossaire">'
            f"{shown}</a>"
        )

    # --- the section of one activity (templates/_activite.html) -------------------------
    # It writes exactly the HTML the template wrote, whitespace included: the search index
    # and the tests read it. Every value from a register goes through ``escape`` (``e``),
    # as Jinja's autoescape did; the pieces above (gloss, missing, date, link, term…)
    # return Markup, escaped already. Each method is one stretch of the section.

    def activity(self, a: Activity, page: ActivityContext, roles: Mapping[str, str]) -> Markup:
        """The section of activity ``a``, on a member's page or a model's.

        ``roles``: the glossary's anchor for each role code it defines (the role badge
        links there).

        A citizen's questions first: why, whose data, which data and for how long, who
        receives them, how to exercise one's rights; then the legal details, the impact
        assessment and the register's own dates. The heading carries the activity's
        permanent anchor, so that a search result (Pagefind makes one per heading) lands
        on it.
        """
        gap = "Non publié (choix du membre)" if a.withheld else "Non renseigné"
        out: list[str] = []
        self._heading(out, a, page, roles)
        self._purposes(out, a, page, gap)
        self._data_table(out, a, page, gap)
        self._recipients(out, a, page, gap)
        self._rights_and_notice(out, a, page, gap)
        out.append(self.dpia(a, page.screening(a), page.label, page.href_term))
        self._review_and_watch(out, a, page)
        if a.internal and page.internal is not None:
            out.append(page.internal(a))
        out.append("</section>")
        return Markup("".join(out))

    def _heading(self, out: list[str], a: Activity, page: ActivityContext, roles: Mapping[str, str]) -> None:
        """The heading; status and role badges, service; description; model followed."""
        id_, name = e(a.id), e(a.name)
        out.append(
            f'<section class="dote-activite" aria-labelledby="{id_}"><h3 id="{id_}">{name}'
            f' <a class="headerlink" href="#{id_}" title="Lien permanent vers cette activité"'
            f' aria-label="Lien permanent vers l’activité {name}">¶</a></h3>\n<p class="dote-meta">'
        )
        if a.status:
            out.append(f'<span class="dote-badge dote-statut--{e(a.status.code)}">{e(a.status.label)}</span>')
        anchor = roles.get(a.role.code)
        role = self.gloss(page.href_term, anchor, a.role.label) if anchor else e(a.role.label)
        out.append(f'  <span class="dote-badge">{role}</span>')
        if a.department:
            out.append(f" <span>{e(a.department)}</span>")
        out.append("</p>")
        if a.description:
            out.append(f"<p>{e(a.description)}</p>")
        model = page.territory.models.get(a.model.id) if a.model else None
        if a.model and model is not None:
            href = e(page.href_model(a.model.id))
            out.append(
                f'<p class="dote-modele">D\'après le modèle <a href="{href}">{e(model.content.name)}</a>'
            )
            if a.model.version:
                newer = f", la dernière est la {e(model.version)}" if a.model.version < model.version else ""
                out.append(f" (version {e(a.model.version)}{newer})")
            out.append(".</p>")

    def _purposes(self, out: list[str], a: Activity, page: ActivityContext, gap: str) -> None:
        """Purposes, legal basis, conditions of sensitive data, people concerned, sources."""
        out.append('<dl class="dote-champs">\n  <dt>Finalité principale</dt>\n  <dd>')
        out.append(e(a.purpose) if a.purpose else self.missing(gap))
        if a.secondary_purposes:
            items = []
            for p in a.purposes_with_bases:
                if p.main:
                    continue
                own = f" ({_basis_html(p.basis)})" if p.own and p.basis is not None else ""
                items.append(f"<li>{e(p.purpose)}{own}</li>")
            out.append("    <ul>" + "".join(items) + "</ul>")
        out.append("</dd>\n\n")
        if a.police_directive:
            out.append(
                "  <dt>Cadre juridique</dt>\n  <dd>Directive (UE) 2016/680 « police-justice », transposée au "
                "titre III de la loi Informatique et Libertés (art. 87 et suivants) : le RGPD ne s'applique pas ; "
                "les droits des personnes sont ceux des articles 104 à 108 de cette loi</dd>\n"
            )
        out.append(f"  <dt>{self.gloss(page.href_term, 'base-legale', 'Base légale')}</dt>\n  <dd>")
        if basis := a.legal_basis:
            out.append(_basis_html(basis))
            if basis.details:
                out.append(f". {e(basis.details.strip('. '))}")
            if any(p.own for p in a.purposes_with_bases):
                out.append(". Les finalités secondaires qui reposent sur une autre base l'indiquent")
        else:
            out.append(self.missing(gap))
        out.append("</dd>")
        if (prospecting := a.prospecting) is not None and prospecting.channels:
            texts = e(" ".join(notices.prospecting_texts(a)))
            out.append(f"\n  <dt>Prospection commerciale</dt>\n  <dd>{texts}</dd>")
        if a.conditions:
            term = self.gloss(page.href_term, "donnees-sensibles", "données sensibles")
            out.append(f"  <dt>Condition des {term}</dt>\n  <dd><ul>")
            for c in a.conditions:
                reference = f" ; {e(c.reference)}" if c.reference else ""
                out.append(
                    f'<li>{e(c.condition.label)} <span class="dote-ref">({e(c.condition.reference)}{reference})</span></li>'
                )
            out.append("</ul></dd>")
        if a.authorisations:
            out.append(self.authorisations(a))
        term = self.gloss(page.href_term, "personne-concernee", "Personnes concernées")
        out.append(f"\n  <dt>{term}</dt>\n  <dd>")
        out.append(e(", ".join(s.label for s in a.subjects)) if a.subjects else self.missing(gap))
        if a.subjects_details:
            out.append(f". {e(a.subjects_details.strip('. '))}")
        if a.volume is not None:
            out.append(f" (environ {e(number_fr(a.volume))} personnes)")
        if a.deceased_subjects:
            out.append(
                '. <span class="dote-ref">Le RGPD ne s\'applique pas aux données des personnes décédées '
                "(considérant 27) ; la loi Informatique et Libertés en règle le sort "
                "(loi n° 78-17 du 6 janvier 1978, art. 84 et 85)</span>"
            )
        out.append("</dd>\n\n  <dt>Sources des données</dt>\n  <dd>")
        out.append(e(" ; ".join(s.label for s in a.sources)) if a.sources else self.missing(gap))
        if a.sources_details:
            out.append(f". {e(a.sources_details.strip('. '))}")
        if a.mandatory_collection is True:
            out.append(". Fournir ces données est obligatoire.")
        elif a.mandatory_collection is False:
            out.append(". Fournir ces données est facultatif.")
        out.append("</dd>\n</dl>\n\n")

    def _data_table(self, out: list[str], a: Activity, page: ActivityContext, gap: str) -> None:
        """The data categories: for each, how long it is kept and what becomes of it."""
        id_ = e(a.id)
        kept = self.gloss(page.href_term, "duree-de-conservation", "Conservation")
        fate = self.gloss(page.href_term, "sort-final", "Sort final")
        out.append(
            f'<div class="dote-table" role="region" tabindex="0" aria-labelledby="{id_}-donnees">\n'
            '<table class="dote-tableau dote-donnees">\n'
            f'  <caption id="{id_}-donnees">Données traitées et durées de conservation : {e(a.name)}</caption>\n'
            "  <thead>\n"
            '    <tr><th scope="col">Catégorie de données</th><th scope="col">Détail</th>'
            f'<th scope="col">{kept}</th><th scope="col">{fate}</th></tr>\n'
            "  </thead>\n"
            "  <tbody>"
        )
        for c in a.categories:
            out.append(f'    <tr>\n      <th scope="row">{e(c.kind.label)} {self.nature_badge(c)}</th>\n')
            out.append(f"      <td>{e(c.details)}</td>\n      <td>")
            if (r := c.retention) and r.phases:
                out.append(self.retention_phases(r))
                out.append(f"</td>\n      <td>{self.term(r.final_fate)}</td>\n    </tr>")
            elif r := c.retention:
                duration = duration_text(r.duration) if r.duration else ""
                out.append(e(duration or r.criteria))
                if duration and r.criteria:
                    out.append(f" ({e(r.criteria)})")
                if r.start:
                    since = ", à compter de : " if duration else " ; point de départ : "
                    out.append(f"{since}{e(r.start)}")
                if r.reference:
                    out.append(f' <span class="dote-ref">({e(r.reference)})</span>')
                if r.details:
                    out.append(f". {e(r.details)}")
                out.append(f"</td>\n      <td>{self.term(r.final_fate)}</td>\n    </tr>")
            else:
                missing = self.missing(gap)
                out.append(f"{missing}</td>\n      <td>{missing}</td>\n    </tr>")
        if not a.categories:
            out.append(f'    <tr><td colspan="4">{self.missing(gap)}</td></tr>')
        out.append("  </tbody>\n</table>\n</div>\n\n")

    @staticmethod
    def retention_phases(r: Retention) -> Markup:
        """A retention in phases, for a cell of the data table: « 1 an en base active, à compter de : X,
        puis 4 ans en archivage intermédiaire (5 ans au total) », its reference, each phase's details."""
        html = e(r.phases_text)
        total = r.total_duration_text
        if total and len(r.phases) > 1:
            html += Markup(f" ({e(total)} au total)")
        if r.reference:
            html += Markup(f' <span class="dote-ref">({e(r.reference)})</span>')
        for phase in r.phases:
            if phase.details:
                html += Markup(f". {e(phase.phase.label)} : {e(phase.details.strip('. '))}")
        if r.details:
            html += Markup(f". {e(r.details)}")
        return html

    def authorisations(self, a: Activity) -> Markup:
        """The prior authorisations of the processing: nature, reference, date, validity."""
        items = []
        for x in a.authorisations:
            text = f"{e(x.nature.label)} : {e(x.reference)}"
            if x.nature.reference:
                text += f' <span class="dote-ref">({e(x.nature.reference)})</span>'
            if x.date:
                text += f", du {self.date(x.date)}"
            if x.validity:
                text += f", pour {e(x.validity_text)}"
                if x.expires:
                    text += f" (jusqu'au {self.date(x.expires)})"
            if x.details:
                text += f". {e(x.details)}"
            items.append(f"<li>{text}</li>")
        return Markup(f"  <dt>Autorisations préalables</dt>\n  <dd><ul>{''.join(items)}</ul></dd>")

    def _recipients(self, out: list[str], a: Activity, page: ActivityContext, gap: str) -> None:
        """Recipients; transfers outside the EU, declared and through processors."""
        term = self.gloss(page.href_term, "destinataire", "Destinataires")
        out.append(f'<dl class="dote-champs">\n  <dt>{term}</dt>\n  <dd>')
        if r := a.recipients:
            out.append("<ul>")
            if r.internal:
                out.append(f"<li>Services internes : {e(', '.join(r.internal))}</li>")
            if r.external:
                out.append(f"<li>Organismes externes : {e(', '.join(r.external))}</li>")
            if r.processors:
                processors = page.territory.processors
                links = ", ".join(
                    f'<a href="{e(page.href_processor(pid))}">{e(processors[pid].name)}</a>'
                    for pid in r.processors
                )
                out.append(
                    f"<li>{self.gloss(page.href_term, 'sous-traitant', 'Sous-traitants')} : {links}</li>"
                )
            out.append("  </ul>")
        else:
            out.append(self.missing(gap))
        term = self.gloss(page.href_term, "transfert-hors-ue", "Transferts hors de l'Union européenne")
        out.append(f"</dd>\n\n  <dt>{term}</dt>\n  <dd>")
        if a.transfers is None:
            out.append(self.missing(gap))
        elif not a.transfers:
            out.append("Aucun")
        else:
            out.append("<ul>")
            for t in a.transfers:
                out.append(f"<li>{e(t.country.label)} : {e(t.recipient)}")
                if t.safeguard:
                    out.append(
                        f', garantie : {e(t.safeguard.label)} <span class="dote-ref">({e(t.safeguard.reference)})</span>'
                    )
                else:
                    out.append(f", {self.missing('garantie non renseignée')}")
                if t.details:
                    out.append(f". {e(t.details)}")
                out.append("</li>")
            out.append("  </ul>")
        if via := page.territory.processors_outside_eea(a):
            links = " ; ".join(
                f'<a href="{e(page.href_processor(p.id))}">{e(p.name)}</a>'
                f" ({e(', '.join(c.label for c in p.countries_outside_eea))})"
                for p in via
            )
            out.append(f"  <p>Par ses sous-traitants : {links}.</p>")
        out.append("</dd>")

    def _algorithm(self, out: list[str], a: Activity, page: ActivityContext) -> None:
        """The algorithmic processing (CRPA art. L311-3-1, R311-3-1-2, L312-1-3), in a few lines.

        The page of the public algorithms (``registres/algorithmes/``, :mod:`dote.algorithms`)
        lists the same, member by member.
        """
        out.append("  <dt>Traitement algorithmique</dt>\n  <dd>")
        if a.algorithmic_decisions:
            decisions = f" : {e(a.algorithm_decisions)}" if a.algorithm_decisions else ""
            out.append(f"Des décisions individuelles sont prises sur son fondement{decisions}.")
        if a.algorithm_rules:
            out.append(f" {e(a.algorithm_rules)}")
        if a.algorithm_link:
            out.append(f" {self.link(a.algorithm_link, 'Règles publiées')}")
        parameters = " ; ".join(
            p.label + (f" ({p.weighting})" if p.weighting else "") for p in a.algorithm_parameters
        )
        items = [
            ("Contribution à la décision", e(a.algorithm_contribution)),
            ("Données et sources", e(a.algorithm_data)),
            ("Paramètres et pondération", e(parameters)),
            ("Opérations", e(a.algorithm_operations)),
            ("Mention portée sur les décisions", e(a.algorithm_mention)),
        ]
        shown = [f"<li>{label} : {text}</li>" for label, text in items if text]
        if shown:
            out.append(f"<ul>{''.join(shown)}</ul>")
        if a.algorithmic_decisions and a.status is not None:
            href = page.href_member("algorithmes")
            out.append(f' <a href="{e(href)}#{e(a.member_id)}--{e(a.id)}">Voir les algorithmes publics</a>')
        out.append("</dd>")

    def _rights_and_notice(self, out: list[str], a: Activity, page: ActivityContext, gap: str) -> None:
        """Rights, automated decision, algorithm, information notice, controllers, tools."""
        href = page.href_term
        if a.rights_not_applicable or a.rights_details:
            out.append(f"  <dt>{self.gloss(href, 'droits', 'Exercice des droits')}</dt>\n  <dd>")
            if a.rights_not_applicable:
                rights = ", ".join(r.label.lower() for r in a.rights_not_applicable)
                out.append(f"Ne s'appliquent pas à ce traitement : {e(rights)}.")
            if a.rights_details:
                out.append(f" {e(a.rights_details)}")
            out.append("</dd>")
        out.append(f"  <dt>{self.gloss(href, 'decision-automatisee', 'Décision automatisée')}</dt>\n  <dd>")
        if a.automated_decision is True:
            out.append("Oui : une décision est prise sans intervention humaine (RGPD, art. 22)")
        elif a.automated_decision is False:
            out.append("Aucune décision entièrement automatisée")
        else:
            out.append(self.missing(gap))
        if a.profiling is True:
            out.append(f" ; {self.gloss(href, 'profilage', 'profilage')}")
        out.append("</dd>")
        if a.algorithmic_decisions or a.algorithm_rules or a.algorithm_link:
            self._algorithm(out, a, page)
        term = self.gloss(href, "mention-information", "Mention d'information")
        out.append(f"  <dt>{term}</dt>\n  <dd>")
        notice = a.information_notice
        if notice == "generee" and a.status is None:
            # A model: each member's notice is written from its own register.
            out.append("Établie par la Maison pour chaque membre, à partir de son registre")
        elif notice == "generee":
            member = page.territory.members_by_id.get(a.member_id)
            missing = notices.gaps(member, a) if member is not None else ["membre inconnu"]
            if missing and a.withheld:  # fields the member chose not to publish: not on this site
                out.append(self.missing(gap))
            elif missing:
                out.append(
                    self.missing(f"À établir par la Maison : il manque au registre {', '.join(missing)}")
                )
            else:
                anchor = e(f"{notices.PAGE_NAME}#{notices.notice_anchor(a)}")
                out.append(
                    f'<a href="{anchor}">Lire la mention d\'information</a>, '
                    "établie par la Maison à partir de ce registre"
                )
        elif notice == "absente":
            out.append(self.missing("Pas encore de mention d'information"))
        elif notice:
            out.append(self.link(notice, "Consulter la mention d'information"))
        else:
            out.append(self.missing(gap))
        out.append("</dd>")
        if a.controllers_served:
            # Members of the territory (by id) are linked; other controllers are named.
            members = page.territory.members_by_id
            served = []
            for c in a.controllers_served:
                if isinstance(c, str) and c in members:
                    served.append(f'<a href="{e(page.href_member(c))}">{e(members[c].name)}</a>')
                else:
                    served.append(e(c if isinstance(c, str) else c.name))
            out.append(f"  <dt>Pour le compte de</dt>\n  <dd>{', '.join(served)}</dd>")
        if a.joint_controllers:
            term = self.gloss(href, "responsables-conjoints", "Responsables conjoints")
            out.append(f"  <dt>{term}</dt>\n  <dd>{e(', '.join(p.name for p in a.joint_controllers))}</dd>")
        if a.tools:
            out.append(f"  <dt>Logiciels et outils</dt>\n  <dd>{e(', '.join(a.tools))}</dd>")
        out.extend(_facts_html(a))

    def _review_and_watch(self, out: list[str], a: Activity, page: ActivityContext) -> None:
        """The last review; the newest watch items of the activity (member pages only)."""
        out.append(f"  <dt>Dernière revue</dt>\n  <dd>{self.date(a.dates.reviewed)}")
        if a.dates.next_review:
            out.append(f" (prochaine revue prévue le {self.date(a.dates.next_review)})")
        overdue = _overdue_review(a, page.label)
        if overdue is not None:
            due, months = overdue
            out.append(
                '. <strong class="dote-badge dote-revue--retard">Revue en retard</strong> : '
                f"à revoir depuis le {self.date(due)}, {months} mois après la dernière revue"
            )
        out.append("</dd>")
        # The newest published watch items sharing a theme with the activity or naming it.
        # Left out of the search index: the same items repeat on every activity of their
        # themes; /veille/ is where they are found.
        items = page.watch_for(a) if page.watch_for is not None else ()
        if items and page.href_watch is not None:
            out.append(
                '  <dt data-pagefind-ignore="all">Veille juridique et technique</dt>\n'
                '  <dd data-pagefind-ignore="all"><ul class="dote-veille-activite">'
            )
            for item in items:
                out.append(
                    f'<li><a href="{e(page.href_watch(item))}">{e(item.titre)}</a> ({self.date(item.date)})</li>'
                )
            out.append("  </ul></dd>")
        out.append("</dl>")

    def dpia(
        self, a: Activity, s: Screening | None, label: Evaluation | None, href: Callable[[str], str]
    ) -> Markup:
        """The impact assessment (AIPD) of one activity, as ONE statement.

        What the Maison's screening ``s`` concludes (computed from the activity's criteria
        and data, see :mod:`dote.dpia`), then what the member declares, then the screening's
        reasons. Followed by the label's criteria for this activity, when it has a label.
        """
        d = a.dpia
        status = d.status.code if d and d.status else ""
        date = d.date if d else None
        who = "le membre" if a.member_id else "le modèle"
        out = [
            f'  <dt>Analyse d\'impact ({self.gloss(href, "aipd", "AIPD")})</dt>\n  <dd class="dote-aipd">\n    <p>'
        ]
        screened = self.gloss(href, "depistage-aipd", "dépistage")
        if s and not a.member_id:
            out.append(
                f'<strong class="dote-badge dote-aipd--{e(s.verdict)}">{e(s.label)}</strong> d\'après le '
                f"{screened} de la Maison, pour les activités qui reprennent ce modèle."
            )
        elif s and a.withheld and not d:
            # Formatted, not added: « str + Markup » would escape the str (Markup.__radd__).
            unpublished = self.missing("le membre ne publie pas où en est l'analyse (son choix)")
            out.append(
                f'<strong class="dote-badge dote-aipd--{e(s.verdict)}">{e(s.label)}</strong> d\'après le '
                f"{screened} de la Maison ; {unpublished}."
            )
        elif s:
            from dote.dpia import statement  # dote.dpia imports this module's helpers

            out.append(
                f'<strong class="dote-badge dote-aipd--{e(s.verdict)}">{e(statement(s, a))}</strong>'
                f" d'après le {screened} de la Maison et l'état déclaré par le membre."
            )
            if s.verdict == "requis" and status == "non-requise":
                out.append(
                    " Le membre la déclare non requise : les raisons du dépistage sont détaillées ci-dessous."
                )
        elif status == "realisee":
            out.append(f"{e(who.capitalize())} indique l'avoir réalisée")
            out.append(f" le {self.date(date)}." if date else ".")
        elif status in ("en-cours", "prevue"):
            state = "en cours" if status == "en-cours" else "prévue"
            out.append(f"{e(who.capitalize())} indique qu'elle est {state}")
            out.append(f" (date indiquée : {self.date(date)})." if date else ".")
        elif status == "non-requise":
            out.append(f"{e(who.capitalize())} indique qu'elle n'est pas requise.")
        else:
            out.append(self.missing())
        out.append("    </p>")
        if d and (d.summary or d.link):
            summary = f"Résumé publié : {e(d.summary)}" if d.summary else ""
            link = " " + self.link(d.link, "Résumé de l'analyse") if d.link else ""
            out.append(f"    <p>{summary}{link}</p>")
        if s and s.set_aside and not a.withheld:
            items = "".join(f"<li>« {e(f.criterion.label)} » : {e(f.set_aside)}</li>" for f in s.set_aside)
            out.append(
                "    <p>Déduit des faits mais écarté dans le registre, avec sa justification :</p>"
                f'\n    <ul class="dote-aipd-ecarts">{items}</ul>'
            )
        if s and a.withheld:
            out.append('    <p class="dote-ref">Raisons du dépistage non publiées, au choix du membre.</p>')
        elif s:
            sources = f"critères du {self.gloss(href, 'cepd', 'CEPD')}, listes de la {self.gloss(href, 'cnil', 'CNIL')}"
            reasons = "".join(f"<li>{e(reason)}</li>" for reason in s.reasons)
            out.append(f"    <p>Raisons du dépistage ({sources}) :</p>\n    <ul>{reasons}</ul>")
        out.append("  </dd>")
        if label and a.member_id in label.members and a.id in label.member(a.member_id).activities:
            failures = label.activity(a.member_id, a.id).failures
            out.append(f"  <dt>{e(label.policy.title)}</dt>\n  <dd>")
            if failures:
                out.append("Critères non remplis :\n    <ul>")
                for f in failures:
                    why = "" if a.withheld else " : " + " ; ".join(f.details)
                    out.append(f"<li>{e(f.criterion.title)}{e(why)}</li>")
                out.append("</ul>")
            else:
                out.append("Cette activité remplit tous les critères du label.")
            out.append("</dd>")
        return Markup("".join(out))


def _facts_html(a: Activity) -> list[str]:
    """What the DPIA screening reads beyond the usual fields: the processing's nature, means,
    monitoring, scale, and the facts stated as yes/no (only those the register states)."""
    out = []
    if a.purpose_kinds:
        out.append(
            f"  <dt>Nature du traitement</dt>\n  <dd>{e(', '.join(t.label for t in a.purpose_kinds))}</dd>"
        )
    if a.means:
        out.append(f"  <dt>Moyens employés</dt>\n  <dd>{e(', '.join(t.label for t in a.means))}</dd>")
    if a.monitoring:
        out.append(f"  <dt>Surveillance</dt>\n  <dd>{e(', '.join(t.label for t in a.monitoring))}</dd>")
    scale = []
    if a.records_per_year is not None:
        scale.append(f"environ {number_fr(a.records_per_year)} enregistrements par an")
    if a.population_share is not None:
        scale.append(f"{a.population_share:g} % de la population concernée")
    if a.extent is not None:
        scale.append(f"étendue : {a.extent.label.lower()}")
    if scale:
        out.append(f"  <dt>Échelle</dt>\n  <dd>{e(' ; '.join(scale))}</dd>")
    stated = [
        text
        for value, text in (
            (a.combined_data, "croise des données d'autres traitements ou d'autres organismes"),
            (a.exclusion, "peut priver une personne d'un droit, d'une prestation ou d'un contrat"),
            (a.innovative, "met en œuvre une solution nouvelle"),
        )
        if value
    ]
    if stated:
        out.append(f"  <dt>À savoir</dt>\n  <dd>Le traitement {e(' ; '.join(stated))}.</dd>")
    return out


def _basis_html(basis: LegalBasis) -> str:
    """A legal basis: its label, then its article and the text that states it."""
    reference = f" ; {e(basis.reference)}" if basis.reference else ""
    outside = f" ; {e(notices.OUTSIDE_PUBLIC_TASKS)}" if basis.outside_public_tasks else ""
    return f'{e(basis.basis.label)} <span class="dote-ref">({e(basis.basis.reference)}{reference})</span>{outside}'


def _overdue_review(a: Activity, label: Evaluation | None) -> tuple[dt.date, int] | None:
    """When the activity's review is overdue by the label policy's rule: since when, and the
    policy's period in months (the rule of ``dote review`` and the label's criterion)."""
    if label is None or a.dates.reviewed is None:
        return None
    from dote.label import months_later  # dote.label imports this module
    from dote.review import policy_parameters

    months = int(policy_parameters(label)[0]["age_maximum_mois"])
    due = months_later(a.dates.reviewed, months)
    return (due, months) if due < label.reference_date else None
