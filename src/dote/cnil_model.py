"""The authority's register in the CNIL's model: a workbook (ODS, XLSX) or a document (ODT, DOCX).

The CNIL's simplified register (« registre-traitement-simplifie.ods ») has the
organisation's contacts (controller, representative, DPO), a list of the activities, then
one record sheet per activity. The outputs here follow it:

- a workbook: a sheet « Organisation », a sheet « Registre » (one row per activity, the
  headings of :data:`dote.export.COLUMNS`), then one sheet « Fiche » per activity;
- a document: the organisation, a summary table of the activities, then one section per
  activity, headed by the paragraph of RGPD art. 30 it answers (1: controller,
  2: processor).

Register text is untrusted: spreadsheet cells go through
:func:`dote.tabular.neutral_cell` and are always written as text; document text goes
through :func:`dote.safe.markdown_text` before pandoc reads the Markdown, with pandoc's
raw HTML, raw TeX, math, citation and attribute extensions turned off. Workbooks are
made with openpyxl and odfdo, documents with pandoc: no XML is written by hand.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dote.export import (
    ARTICLE_CONTROLLER,
    ARTICLE_PROCESSOR,
    COLUMNS,
    NOT_APPLICABLE_PROCESSOR,
    ExportError,
    activity_row,
    authorisations_text,
    controllers_served,
    is_processor,
    member_identity,
    role_text,
)
from dote.model import Activity, Member, Territory
from dote.safe import markdown_text
from dote.tabular import neutral_cell

if TYPE_CHECKING:
    from odfdo import Document

Fields = list[tuple[str, str]]

ORGANISATION_SHEET = "Organisation"
REGISTER_SHEET = "Registre"
SUMMARY_COLUMNS = (
    "N° / Réf.",
    "Activité",
    "Rôle",
    "Finalité principale",
    "Données sensibles",
    "Dernière mise à jour",
)
CONFIDENTIAL_NOTE = (
    "Document interne et confidentiel : il comprend les mesures de sécurité. Registre tenu à la "
    "disposition de l'autorité de contrôle et communiqué sur sa demande (RGPD, art. 30, paragraphe 4)."
)
NO_REPRESENTATIVE = (
    "Aucun (un représentant n'est désigné que par un organisme établi hors de l'Union européenne, "
    "RGPD, art. 27)"
)

# Characters XML 1.0 (ODF, OOXML) cannot carry, and that openpyxl refuses.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\']")
# Pandoc's Markdown, without what could turn text into markup, code, math or references
# (the text is escaped anyway: this is a second line of defence).
_PANDOC_MARKDOWN = (
    "markdown-raw_html-raw_tex-raw_attribute-tex_math_dollars-tex_math_single_backslash-citations"
    "-superscript-subscript-smart-native_divs-native_spans-bracketed_spans-fenced_divs"
    "-link_attributes-inline_notes-footnotes-implicit_figures-yaml_metadata_block-pandoc_title_block"
)


def clean(value: object) -> str:
    """Text for one cell or one line: no control character, whitespace runs made one space."""
    return " ".join(_CONTROL.sub("", str(value)).split())


def _cell(value: object) -> str:
    return neutral_cell(clean(value))


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


# --- content --------------------------------------------------------------------------


def organisation(territory: Territory, member: Member, today: dt.date) -> Fields:
    """The organisation sheet of the CNIL's model: who keeps the register, representative, DPO."""
    processor_count = sum(1 for a in member.activities if is_processor(a))
    quality = f"Responsable de traitement ({ARTICLE_CONTROLLER})"
    if processor_count:
        quality += f" ; sous-traitant pour {processor_count} activité(s) ({ARTICLE_PROCESSOR})"
    dpo = member.dpo
    maison = territory.maison
    fields: Fields = [
        ("Organisme", member.name),
        ("Qualité", quality),
        ("Type d'organisme", member.kind.label),
        ("Adresse", member.address or "non renseignée"),
        ("SIREN", member.siren or "non renseigné"),
    ]
    if member.website:
        fields.append(("Site web", member.website))
    fields.append(("Représentant (RGPD, art. 27)", NO_REPRESENTATIVE))
    if dpo is None:
        fields.append(("Délégué à la protection des données (DPO)", "non désigné"))
    else:
        shared = " (DPO mutualisé, désigné par la Maison)" if member.dpo_shared else ""
        fields.append(("Délégué à la protection des données (DPO)", dpo.name + shared))
        fields += [
            (label, value)
            for label, value in (
                ("Courriel du DPO", dpo.email),
                ("Adresse du DPO", dpo.address),
                ("Téléphone du DPO", dpo.phone),
                ("Numéro de désignation du DPO (CNIL)", dpo.designation),
            )
            if value
        ]
    rights = member.rights_contact
    fields.append(
        (
            "Exercice des droits",
            " ; ".join(v for v in (rights.email, rights.address, rights.phone, rights.form_url) if v)
            or "non renseigné",
        )
    )
    fields += [
        ("Maison", f"{maison.name}, territoire : {maison.territory}"),
        ("Contact de la Maison", " ; ".join(v for v in (maison.contact.email, maison.contact.address) if v)),
        ("Activités de traitement", str(len(member.activities))),
        ("Date de l'export", today.isoformat()),
        ("Confidentialité", CONFIDENTIAL_NOTE),
    ]
    return fields


def summary_row(a: Activity) -> list[str]:
    """One line of the list of activities (the CNIL model's « Liste des traitements »)."""
    return [
        a.id,
        a.name,
        role_text(a),
        a.purpose,
        "Oui" if a.sensitive_categories else "Non",
        _date(a.dates.updated or a.dates.created),
    ]


def record_heading(a: Activity) -> str:
    if is_processor(a):
        return f"Fiche de registre du sous-traitant ({ARTICLE_PROCESSOR})"
    return f"Fiche de registre du responsable de traitement ({ARTICLE_CONTROLLER})"


def record(territory: Territory, member: Member, a: Activity) -> Fields:
    """One activity's record sheet: the points of art. 30(1) or art. 30(2), then the rest."""
    row = activity_row(territory, member, a)
    dates: Fields = [
        ("Date de création de la fiche", _date(a.dates.created)),
        ("Dernière mise à jour de la fiche", _date(a.dates.updated)),
        ("Dernière revue", row["Dernière revue"]),
        ("Statut de la fiche", row["Statut de la fiche"]),
        ("Service", row["Service"]),
    ]
    if is_processor(a):
        served = controllers_served(territory, a)
        names = ", ".join(name for name, _ in served) or "non renseigné"
        processing = " ; ".join(p for p in (a.purpose, *a.secondary_purposes) if p) or a.name
        return [
            ("N° / Réf.", a.id),
            ("Nom du traitement", a.name),
            ("Rôle", row["Rôle"]),
            ("Sous-traitant : nom et coordonnées (point a)", member_identity(member)),
            (
                "Responsables de traitement pour le compte desquels le sous-traitant agit (point a)",
                row["Responsable de traitement"],
            ),
            ("Représentant (point a)", NO_REPRESENTATIVE),
            (
                "Délégué à la protection des données du sous-traitant (point a)",
                row["Délégué à la protection des données"],
            ),
            (
                "Catégories de traitements effectués pour le compte de chaque responsable (point b)",
                f"Pour le compte de {names} : {processing}",
            ),
            ("Transferts hors UE (point c)", row["Transferts hors UE"]),
            ("Mesures de sécurité (point d, RGPD, art. 32, paragraphe 1)", row["Mesures de sécurité"]),
            ("Base légale", f"{NOT_APPLICABLE_PROCESSOR} : elle relève de chaque responsable de traitement"),
            *dates,
            ("Catégories de personnes concernées (complément)", row["Catégories de personnes"]),
            ("Catégories de données (complément)", row["Catégories de données"]),
            ("Durées de conservation (complément)", row["Durées de conservation"]),
            ("Destinataires (complément)", row["Destinataires"]),
            ("Sous-traitants ultérieurs (complément)", row["Sous-traitants"]),
            ("AIPD (complément)", row["AIPD"]),
        ]
    return [
        ("N° / Réf.", a.id),
        ("Nom du traitement", a.name),
        ("Rôle", row["Rôle"]),
        ("Responsable du traitement : nom et coordonnées (point a)", row["Responsable de traitement"]),
        ("Responsables conjoints (point a)", row["Responsables conjoints"] or "aucun"),
        ("Représentant (point a)", NO_REPRESENTATIVE),
        ("Délégué à la protection des données (point a)", row["Délégué à la protection des données"]),
        ("Finalité principale (point b)", row["Finalité principale"]),
        ("Sous-finalités (point b)", row["Finalités secondaires"]),
        ("Base légale (RGPD, art. 6)", row["Base légale"]),
        ("Conditions des données sensibles (RGPD, art. 9 et 10)", row["Conditions des données sensibles"]),
        *([("Autorisations préalables", authorisations_text(a))] if a.authorisations else []),
        ("Catégories de personnes concernées (point c)", row["Catégories de personnes"]),
        ("Catégories de données personnelles (point c)", row["Catégories de données"]),
        ("Destinataires (point d)", row["Destinataires"]),
        ("Sous-traitants (point d)", row["Sous-traitants"]),
        ("Transferts hors UE (point e)", row["Transferts hors UE"]),
        ("Durées de conservation (point f)", row["Durées de conservation"]),
        ("Mesures de sécurité (point g, RGPD, art. 32, paragraphe 1)", row["Mesures de sécurité"]),
        ("AIPD (RGPD, art. 35)", row["AIPD"]),
        *dates,
    ]


def record_sheet_name(index: int, a: Activity) -> str:
    """``Fiche 01 etat-civil``: unique (numbered), at most 31 characters, no forbidden character."""
    return _SHEET_NAME_FORBIDDEN.sub("-", f"Fiche {index:02d} {clean(a.id)}")[:31].rstrip()


def _sheets(territory: Territory, member: Member, today: dt.date) -> list[tuple[str, list[list[str]], int]]:
    """Every sheet as (name, rows, header rows); the register's first row is its header."""
    register = [list(COLUMNS)] + [
        [row[c] for c in COLUMNS] for row in (activity_row(territory, member, a) for a in member.activities)
    ]
    sheets = [
        (
            ORGANISATION_SHEET,
            [["Rubrique", "Information"], *map(list, organisation(territory, member, today))],
            1,
        ),
        (REGISTER_SHEET, register, 1),
    ]
    for index, a in enumerate(member.activities, start=1):
        rows = [[a.name, ""], [record_heading(a), ""], ["Rubrique", "Contenu"]]
        rows += [list(f) for f in record(territory, member, a)]
        sheets.append((record_sheet_name(index, a), rows, 3))
    return sheets


def _widths(rows: Sequence[Sequence[str]]) -> list[int]:
    """A width in characters for each column: its longest header or value, between 12 and 60."""
    count = max(len(r) for r in rows)
    return [
        max(12, min(60, max((len(r[x]) for r in rows if x < len(r)), default=0) + 2)) for x in range(count)
    ]


# --- workbooks ------------------------------------------------------------------------


def workbook_xlsx(territory: Territory, member: Member, today: dt.date) -> bytes:
    """The register as an Excel workbook (openpyxl): Organisation, Registre, then the record sheets."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for name, rows, header in _sheets(territory, member, today):
        sheet = book.create_sheet(name)
        for y, values in enumerate(rows, start=1):
            for x, value in enumerate(values, start=1):
                cell = sheet.cell(row=y, column=x)
                cell.value = _cell(value)
                cell.data_type = "s"  # text, never a formula
                cell.alignment = wrap
                if y <= header:
                    cell.font = bold
        for x, width in enumerate(_widths(rows), start=1):
            sheet.column_dimensions[get_column_letter(x)].width = width
        sheet.freeze_panes = f"A{header + 1}" if name != REGISTER_SHEET else "C2"
    book.active = book.sheetnames.index(REGISTER_SHEET)
    book.properties.title = f"Registre des activités de traitement — {clean(member.name)}"
    book.properties.language = "fr-FR"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def workbook_ods(territory: Territory, member: Member, today: dt.date) -> bytes:
    """The register as an OpenDocument workbook (odfdo): the same sheets as :func:`workbook_xlsx`."""
    from odfdo import Cell, Column, Document, HeaderRows, Row, Style, Table

    doc = Document("spreadsheet")
    doc.body.clear()
    bold = doc.insert_style(Style("table-cell", name="dote-en-tete", bold=True), automatic=True)
    column_styles: dict[int, str] = {}
    sheets = _sheets(territory, member, today)
    for name, rows, header in sheets:
        table = Table(name)
        headers = HeaderRows()
        for y, values in enumerate(rows):
            row = Row()
            for value in values:
                cell = Cell(_cell(value), cell_type="string")
                if y < header:
                    cell.style = bold
                row.append_cell(cell)
            if y < header:
                headers.append(row)
            else:
                table.append_row(row)
        for x, width in enumerate(_widths(rows)):
            if width not in column_styles:
                column_styles[width] = doc.insert_style(
                    Style("table-column", name=f"dote-col-{width}", width=f"{width * 0.22:.2f}cm"),
                    automatic=True,
                )
            table.set_column(x, Column(style=column_styles[width]))
        # Columns first, then the header rows, then the body rows (ODF's order).
        columns = [c for c in table.children if c.tag == "table:table-column"]
        table.insert(headers, position=len(columns))
        doc.body.append(table)
    _freeze(doc, [(name, header, 2 if name == REGISTER_SHEET else 0) for name, _, header in sheets])
    doc.meta.title = f"Registre des activités de traitement — {clean(member.name)}"
    doc.meta.language = "fr-FR"
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _freeze(doc: Document, panes: list[tuple[str, int, int]]) -> None:
    """Freeze the header rows (and columns) of each sheet, in the view settings LibreOffice reads."""
    from odfdo import ConfigItem, ConfigItemMapEntry, ConfigItemMapNamed

    tables = next(
        (
            m
            for m in doc.settings.get_elements("//config:config-item-map-named")
            if m.get_attribute("config:name") == "Tables"
        ),
        None,
    )
    if not isinstance(tables, ConfigItemMapNamed):
        return
    for old in list(tables.children):
        tables.delete(old)
    for name, rows, columns in panes:
        entry = ConfigItemMapEntry(name=name)
        for key, kind, value in (
            ("HorizontalSplitMode", "short", 2 if columns else 0),
            ("VerticalSplitMode", "short", 2 if rows else 0),
            ("HorizontalSplitPosition", "int", columns),
            ("VerticalSplitPosition", "int", rows),
            ("ActiveSplitRange", "short", 2),
            ("PositionLeft", "int", 0),
            ("PositionRight", "int", columns),
            ("PositionTop", "int", 0),
            ("PositionBottom", "int", rows),
        ):
            entry.append(ConfigItem(name=key, config_type=kind, value=value))
        tables.append(entry)
    for item in doc.settings.get_elements("//config:config-item"):
        if item.get_attribute("config:name") == "ActiveTable":
            item.text = REGISTER_SHEET


# --- documents ------------------------------------------------------------------------


def _md(value: object) -> str:
    """Untrusted text for one Markdown line or table cell: inert, never markup."""
    return str(markdown_text(clean(value))) or "—"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> list[str]:
    """A pipe table; ``widths`` are the relative widths of the columns (dashes)."""
    lines = [
        "| " + " | ".join(_md(h) for h in headers) + " |",
        "|" + "|".join(":" + "-" * w for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(_md(v) for v in r) + " |" for r in rows]
    return [*lines, ""]


def markdown(territory: Territory, member: Member, today: dt.date) -> str:
    """The register as Markdown for pandoc: organisation, list of activities, one section each."""
    lines = [
        f"*{_md(CONFIDENTIAL_NOTE)}*",
        "",
        "# Organisation",
        "",
        *_table(["Rubrique", "Information"], organisation(territory, member, today), [20, 50]),
        "# Liste des activités de traitement",
        "",
        *_table(SUMMARY_COLUMNS, [summary_row(a) for a in member.activities], [8, 22, 14, 30, 8, 10]),
        "# Fiches de registre",
        "",
    ]
    for index, a in enumerate(member.activities, start=1):
        lines += [
            f"## {index}. {_md(a.name)}",
            "",
            f"*{_md(record_heading(a))}*",
            "",
            *_table(["Rubrique", "Contenu"], record(territory, member, a), [22, 48]),
        ]
    return "\n".join(lines)


def document(territory: Territory, member: Member, fmt: str, today: dt.date) -> bytes:
    """The register as an ODT or DOCX document, made by pandoc from :func:`markdown`."""
    if fmt not in ("odt", "docx"):
        raise ExportError(f"format de document inconnu : « {fmt} » (odt ou docx)")
    import pypandoc  # type: ignore[import-untyped]

    title = f"Registre des activités de traitement — {clean(member.name)}"
    with tempfile.TemporaryDirectory(prefix="dote-export-") as tmp:
        target = Path(tmp) / f"registre.{fmt}"
        try:
            pypandoc.convert_text(
                markdown(territory, member, today),
                fmt,
                format=_PANDOC_MARKDOWN,
                outputfile=str(target),
                extra_args=[
                    "--columns=1",  # relative column widths: long cells wrap
                    f"--metadata=title:{title}",
                    f"--metadata=date:{today.isoformat()}",
                    "--metadata=lang:fr-FR",
                ],
                sandbox=True,
            )
            return target.read_bytes()
        except (RuntimeError, OSError) as exc:
            detail = clean(exc)[:300] or type(exc).__name__
            raise ExportError(
                f"le registre de {clean(member.name)} n'a pas pu être mis en forme en {fmt.upper()} "
                f"(pandoc a échoué : {detail}) ; aucun fichier n'a été écrit"
            ) from exc
