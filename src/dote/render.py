"""Rendering: the HTML fragments of generated pages, from Jinja templates.

Templates ship in ``dote/templates``; a territory overrides any of them by placing a
file of the same name in ``overrides/dote/``. The environment autoescapes everything,
and only ``http``, ``https`` and ``mailto`` links are ever written into an ``href``
(:mod:`dote.safe` decides how register text becomes HTML).
Nothing here knows about MkDocs: a page is a source address, a title and a function of
the page's own URL (for relative links).

Two pieces of a member page are Python rather than templates, for speed: the section of
each activity (``m.activity``, in :mod:`dote.fragments`, which ``_activite.html`` calls)
and the page's search filters (:func:`search_filters`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup, escape

from dote import notices
from dote.cache import content_key
from dote.dpia import Screening, screen
from dote.fragments import ActivityContext, Fragments, duration_text
from dote.fragments import date_fr as date_fr
from dote.fragments import number_fr as number_fr
from dote.label import Evaluation, MemberResult
from dote.model import Activity, Member, Territory
from dote.safe import html_text, pagefind_value, safe_email, safe_url

if TYPE_CHECKING:
    from dote.watch_site import WatchSite

TEMPLATE_OVERRIDES = Path("overrides") / "dote"
#: The hand-written glossary (``docs/glossaire.md``) the generated pages link their terms to.
GLOSSARY = "glossaire"


@functools.lru_cache(maxsize=1 << 14)
def relative_url(from_url: str, to_url: str) -> str:
    """A link from the page at ``from_url`` to ``to_url`` (both site-relative, "" is home).

    ``to_url`` is written with directory URLs (``registres/saint-exemple/``); when the site
    is built without them (a page's own URL ends in ``.html``, as with Material's offline
    plugin, for browsing from the file system), the link names the ``index.html`` file.
    Every generated page is an ``index.md`` of its folder, so both forms always exist.
    """
    if from_url.endswith(".html") and (to_url == "" or to_url.endswith("/")):
        to_url += "index.html"
    base = posixpath.dirname(from_url) if not from_url.endswith("/") else from_url.rstrip("/")
    target = posixpath.relpath(to_url or ".", base or ".")
    if to_url.endswith("/") and not target.endswith("/"):
        target += "/"
    return "./" if target in (".", "./") else target


@functools.lru_cache(maxsize=1 << 12)
def doc_url(from_url: str, name: str) -> str:
    """A link from the generated page at ``from_url`` to the hand-written page ``docs/<name>.md``.

    Hand-written pages are files, not folders, when the site is built without directory
    URLs (``name.html``); otherwise their address is a folder (``name/``).
    """
    return relative_url(from_url, f"{name}.html" if from_url.endswith(".html") else f"{name}/")


def retention_summary(activity: Activity) -> str:
    """How long an activity keeps its data, in a few words: its longest stated duration."""
    durations = [c.retention for c in activity.categories if c.retention and c.retention.duration]
    criteria_only = any(c.retention and not c.retention.duration for c in activity.categories)
    if not durations:
        return "selon les critères indiqués" if criteria_only else ""
    longest = max(durations, key=lambda r: _approximate_days(r.duration))
    several = len({r.duration for r in durations}) > 1 or criteria_only
    words = duration_text(longest.duration)  # longest.duration_text, computed once per duration
    return f"jusqu'à {words}" if several else words


@functools.lru_cache(maxsize=1024)
def _approximate_days(iso: str) -> int:
    """P1Y6M → 548: enough to compare two durations of the format (``P…Y…M…W…D``)."""
    days = {"Y": 365, "M": 30, "W": 7, "D": 1}
    return sum(int(n) * days[unit] for n, unit in re.findall(r"(\d+)([YMWD])", iso))


def environment(root: Path) -> jinja2.Environment:
    """The Jinja environment: the territory's overrides first, then the package's templates."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(str(root / TEMPLATE_OVERRIDES)),
                jinja2.PackageLoader("dote", "templates"),
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates are read once: no check of their files at each include (a member page
        # has dozens). `dote serve` makes a new environment at each rebuild (on_config).
        auto_reload=False,
    )
    env.filters.update(date_fr=date_fr, number_fr=number_fr, safe_url=safe_url, safe_email=safe_email)
    env.filters.update(pagefind_value=pagefind_value)
    env.filters.update(retention_summary=retention_summary)
    # Terms link to the glossary only where the territory publishes one.
    glossary = (root / "docs" / f"{GLOSSARY}.md").is_file()
    env.globals["glossary"] = glossary
    env.globals["m"] = Fragments(glossary)
    return env


@dataclass(frozen=True)
class GeneratedPage:
    """A page the pipeline adds to the site: where it lives, its title, how to render it."""

    src_uri: str  # as if it were a Markdown file of docs/
    url: str  # its address with directory URLs, for links between generated pages
    title: str
    render: Callable[[str], str]  # page URL → HTML fragment
    #: Whose content the page shows: a member id (its page), or "*" (the whole territory).
    #: Keys of the page cache are made from the matching fingerprints of the pipeline.
    depends_on: str = "*"
    #: For a page of the whole territory that shows little of the members' activities: a
    #: digest of what it shows of them, its key in the page cache instead of the whole
    #: territory's fingerprint (with the shared files' fingerprint, as every page).
    shows: Callable[[], str] | None = None
    #: For a page that names the reference date in a few words only (a member page, its
    #: label's date): its HTML with :data:`DATE_MARK` in place of the date, which
    #: :meth:`finish` puts in. Kept so, the page's HTML can be kept for more than one day.
    marked: Callable[[str], str] | None = None
    date_text: str = ""
    #: Made from nothing that depends on the date (its render is given no date, no label):
    #: kept across days (see dote.mkdocs_plugin's page keys).
    dateless: bool = False

    def kept_html(self, url: str) -> str:
        """The HTML to keep between builds: with the date's mark when the page has one."""
        return (self.marked or self.render)(url)

    def finish(self, html: str) -> str:
        """The page's HTML as published, from :meth:`kept_html`."""
        return html.replace(DATE_MARK, self.date_text) if self.marked is not None else html

    def finish_bytes(self, html: bytes) -> bytes:
        """:meth:`finish` of the UTF-8 bytes of :meth:`kept_html`."""
        if self.marked is None:
            return html
        return html.replace(DATE_MARK.encode("utf-8"), self.date_text.encode("utf-8"))


#: Where a page made by :attr:`GeneratedPage.marked` names the reference date (a comment: no
#: register text can write one, every ``<`` of theirs is escaped).
DATE_MARK = "<!--dote:date-de-reference-->"


def register_pages(
    territory: Territory,
    env: jinja2.Environment,
    label: Evaluation | None = None,
    site_url: str = "",
    watch: WatchSite | None = None,
    dpo_registers: Mapping[str, Any] | None = None,
    today: dt.date | None = None,
    audit_section: Callable[[Member], Markup] | None = None,
    annual_report_section: Callable[[Member], Markup] | None = None,
) -> list[GeneratedPage]:
    """The register index and one page per member (with its label, when there is a policy).

    With ``watch``, each activity lists the newest published watch items that concern it.
    ``dpo_registers`` (internal builds only, read from the overlay): each member's rights
    requests and breaches (:class:`dote.dpo_registers.MemberRegisters`), with their
    deadlines as of ``today``. ``audit_section`` (internal builds only): the member's audit
    and action plan (:func:`dote.audit.section_renderer`). ``annual_report_section`` (internal
    builds only): the member's annual report (:func:`dote.annual_report.section_renderer`).
    """
    members = territory.members_by_id
    index_url = "registres/"

    def member_url(member_id: str) -> str:
        return f"registres/{member_id}/"

    def context(page_url: str, **extra: Any) -> Mapping[str, Any]:
        values = {
            "territory": territory,
            "processors": territory.processors,
            "href_member": lambda member_id: relative_url(page_url, member_url(member_id)),
            "href_index": relative_url(page_url, index_url),
            **links(page_url),
            **label_context(territory, label, page_url, site_url),
            **(watch.activity_context(page_url) if watch is not None else {}),
            # the member's notices written by the Maison (issue 12), for its page's links
            "notices_of": notices.generated,
            **extra,
        }
        return {**values, "activity_context": activity_context(territory, env, values)}

    pages = [
        GeneratedPage(
            "registres/index.md",
            index_url,
            "Registres des membres",
            lambda url: env.get_template("registres.html").render(context(url)),
        )
    ]
    # A member page names its label's date with DATE_MARK (see GeneratedPage.marked).
    fragments = env.globals["m"]
    assert isinstance(fragments, Fragments)
    date_text = str(fragments.date(label.reference_date)) if label is not None else ""
    for member in territory.members:

        def render(url: str, member_id: str = member.id) -> str:
            member = members[member_id]
            parent = members.get(member.parent_id) if member.parent_id else None
            values = context(url, page_member=member, parent=parent, label_date=Markup(DATE_MARK))
            if dpo_registers and member_id in dpo_registers:  # internal builds only
                from dote import dpo_registers as registers

                values = {
                    **values,
                    **registers.page_context(dpo_registers[member_id], today or dt.date.today()),
                }
            if audit_section is not None:  # internal builds only
                values = {**values, "audit_section": audit_section}
            if annual_report_section is not None:  # internal builds only
                values = {**values, "annual_report_section": annual_report_section}
            # The search filters of the page (Pagefind): the member's and its activities'.
            return env.get_template("membre.html").render(values) + search_filters(
                member, label, values["screening"]
            )

        page = GeneratedPage(
            f"registres/{member.id}/index.md",
            member_url(member.id),
            member.name,
            render,
            member.id,
            marked=render,
            date_text=date_text,
        )
        pages.append(dataclasses.replace(page, render=_finished(page)))
    return pages


def _finished(page: GeneratedPage) -> Callable[[str], str]:
    """What renders ``page`` as published (its kept HTML, finished)."""

    def render(url: str) -> str:
        return page.finish(page.kept_html(url))

    return render


def search_filters(
    member: Member, label: Evaluation | None, screening: Callable[[Activity], Screening]
) -> str:
    """The search filters of a member page, read by Pagefind at the end of the build.

    The member, its type and label level, and what its activities declare, each value
    once. Empty elements: nothing here is shown or indexed as text. Pagefind's interface
    writes filter values as HTML: see :func:`dote.safe.pagefind_value`; each value is then
    escaped for its attribute (as Jinja's autoescape would). Python rather than a
    template: a page of thirty activities has some three hundred values to sort out.
    """
    out = ['<div class="dote-filtres" hidden>\n']
    out.append(f'<span data-pagefind-filter="Membre:{escape(pagefind_value(member.name))}"></span>\n')
    out.append(
        f'<span data-pagefind-filter="Type de membre:{escape(pagefind_value(member.kind.label))}"></span>'
    )
    if label and member.id in label.members:
        level = escape(pagefind_value(label.members[member.id].level_title))
        out.append(f'<span data-pagefind-filter="Label:{level}"></span>')
    seen: dict[tuple[str, str], None] = {}
    for a in member.activities:
        found = [("Thème", t.label) for t in a.themes]
        if a.legal_basis:
            found.append(("Base légale", a.legal_basis.basis.label))
        found += [("Catégorie de données", c.kind.label) for c in a.categories]
        found.append(("Analyse d’impact (AIPD)", screening(a).label))
        for name, value in found:
            if (name, value) not in seen:
                seen[name, value] = None
                out.append(f'<span data-pagefind-filter="{name}:{escape(pagefind_value(value))}"></span>')
    out.append("</div>\n")
    return "".join(out)


def activity_context(
    territory: Territory, env: jinja2.Environment, values: Mapping[str, Any]
) -> ActivityContext:
    """What ``_activite.html`` (``m.activity``) needs, from the values of a page's template."""
    return ActivityContext(
        territory=territory,
        href_term=values["href_term"],
        href_member=values["href_member"],
        href_model=values["href_model"],
        href_processor=values["href_processor"],
        screening=values["screening"],
        label=values["label"],
        watch_for=values.get("watch_for"),
        href_watch=values.get("href_watch"),
        # Internal builds only (the overlay's content): rare enough to stay a template.
        internal=lambda a: env.get_template("_interne.html").render(a=a),
    )


# --- models and processors ------------------------------------------------------------

MODELS_URL = "modeles-de-traitements/"
PROCESSORS_URL = "sous-traitants/"


def links(page_url: str) -> dict[str, Any]:
    """Relative links from ``page_url`` to every kind of generated page."""
    return {
        "href_member": lambda member_id: relative_url(page_url, f"registres/{member_id}/"),
        "href_model": lambda model_id: relative_url(page_url, f"{MODELS_URL}{model_id}/"),
        "href_models": relative_url(page_url, MODELS_URL),
        "href_processor": lambda pid: relative_url(page_url, f"{PROCESSORS_URL}{pid}/"),
        "href_processors": relative_url(page_url, PROCESSORS_URL),
        "href_term": lambda anchor: f"{doc_url(page_url, GLOSSARY)}#{anchor}",
    }


def catalogue_pages(territory: Territory, env: jinja2.Environment) -> list[GeneratedPage]:
    """The models catalogue and the processors registry: an index and a page for each.

    Made without the date or the label: every page is ``dateless``."""
    members = territory.members_by_id

    def page(template: str, **extra: Any) -> Any:
        def render(url: str) -> str:
            values = {
                "territory": territory,
                "members": members,
                "processors": territory.processors,
                # A model has no member: its screening uses its own criteria and data only.
                "screening": lambda activity: screen(
                    activity, None, territory.vocabularies, territory.dpia_policy
                ),
                "label": None,
                **links(url),
                **extra,
            }
            return env.get_template(template).render(
                values, activity_context=activity_context(territory, env, values)
            )

        return render

    pages = [
        GeneratedPage(
            "modeles-de-traitements/index.md", MODELS_URL, "Modèles de traitements", page("modeles.html")
        ),
        GeneratedPage(
            "sous-traitants/index.md",
            PROCESSORS_URL,
            "Sous-traitants",
            page("sous-traitants.html"),
            shows=functools.cache(functools.partial(_processors_users, territory)),
        ),
    ]
    for model in territory.models.values():
        pages.append(
            GeneratedPage(
                f"modeles-de-traitements/{model.id}/index.md",
                f"{MODELS_URL}{model.id}/",
                f"Modèle : {model.content.name}",
                page("modele.html", model=model),
            )
        )
    for processor in territory.processors.values():
        pages.append(
            GeneratedPage(
                f"sous-traitants/{processor.id}/index.md",
                f"{PROCESSORS_URL}{processor.id}/",
                processor.name,
                page("sous-traitant.html", processor=processor),
                shows=functools.cache(functools.partial(_users_shown, territory, processor.id)),
            )
        )
    return [dataclasses.replace(page, dateless=True) for page in pages]


def _processors_users(territory: Territory) -> str:
    """What the list of processors shows of the members' activities (``sous-traitants.html``):
    which members use each processor."""
    return content_key(
        *(
            part
            for pid in sorted(territory.processors)
            for part in (pid, " ".join(sorted({use[0] for use in territory.processor_users.get(pid, ())})))
        )
    )


def _users_shown(territory: Territory, processor_id: str) -> str:
    """What the page of a processor shows of the members' activities (``sous-traitant.html``):
    each activity that names it, with its member's name. The processor's own file and the
    members' files are the shared files'."""
    members = territory.members_by_id
    return content_key(
        *(
            part
            for member_id, activity_id, name in territory.processor_users.get(processor_id, ())
            for part in (member_id, members[member_id].name, activity_id, name)
        )
    )


# --- the label ----------------------------------------------------------------------

LABEL_URL = "label/"


def badge_path(member_id: str) -> str:
    """Where a member's badge is published: ``label/<member>.svg``."""
    return f"{LABEL_URL}{member_id}.svg"


def label_context(
    territory: Territory, label: Evaluation | None, page_url: str, site_url: str = ""
) -> dict[str, Any]:
    """What the templates need to show labels, badges and DPIA screenings."""
    members = territory.members_by_id
    base = safe_url(site_url or territory.maison.website).rstrip("/")

    def screening(activity: Activity) -> Screening:
        results = label.members.get(activity.member_id) if label else None
        if results is not None and activity.id in results.activities:
            return results.activities[activity.id].screening
        return screen(
            activity, members.get(activity.member_id), territory.vocabularies, territory.dpia_policy
        )

    def snippet(result: MemberResult) -> str:
        member_id = result.member.id
        label_name = label.policy.title if label else "Label DOTE"
        return (
            f'<a href="{html_text(base)}/registres/{member_id}/">'
            f'<img src="{html_text(base)}/{badge_path(member_id)}" '
            f'alt="{html_text(label_name)} : niveau {html_text(result.level_title)}">'
            "</a>"
        )

    return {
        "label": label,
        "screening": screening,
        "badge_snippet": snippet,
        "href_label": relative_url(page_url, LABEL_URL),
        "href_badge": lambda member_id: relative_url(page_url, badge_path(member_id)),
    }


def label_pages(
    territory: Territory, label: Evaluation, env: jinja2.Environment, site_url: str = ""
) -> list[GeneratedPage]:
    """The label page: criteria and levels of the policy, and every member's level."""

    def render(url: str) -> str:
        return env.get_template("label.html").render(
            territory=territory,
            **links(url),
            **label_context(territory, label, url, site_url),
        )

    return [GeneratedPage("label/index.md", LABEL_URL, label.policy.title, render)]


def badges(label: Evaluation, env: jinja2.Environment) -> dict[str, str]:
    """Every member's SVG badge, by its path in the site (``label/<member>.svg``)."""
    template = env.get_template("badge.svg")
    result = {}
    for member_result in label.members.values():
        level = member_result.level
        text = member_result.level_title
        left = label.policy.title
        left_width = 12 + 7 * len(left)
        right_width = 12 + 7 * len(text)
        result[badge_path(member_result.member.id)] = template.render(
            member=member_result.member,
            level_title=text,
            title=left,
            colour=level.colour if level else "#555555",
            left_width=left_width,
            right_width=right_width,
        )
    return result


# --- site search --------------------------------------------------------------------

SEARCH_URL = "recherche/"
#: Where Pagefind writes its bundle, relative to the site.
PAGEFIND_DIR = "pagefind/"


def search_page(env: jinja2.Environment, merged: Sequence[str] = ()) -> GeneratedPage:
    """The search page: Pagefind's interface, in French, with the site's filters.

    ``merged`` are the folders (relative to the site) of the index shards the search
    merges into the primary bundle (see :mod:`dote.search`).
    """

    def render(url: str) -> str:
        return env.get_template("recherche.html").render(
            href_merged=json.dumps([relative_url(url, folder) for folder in merged]),
            href_bundle=relative_url(url, PAGEFIND_DIR),
            href_script=relative_url(url, "assets/dote/recherche.js").rstrip("/"),
            href_registers=relative_url(url, "registres/"),
        )

    return GeneratedPage("recherche/index.md", SEARCH_URL, "Rechercher", render)
