"""The register for the authority (`dote export`): Art. 30(1) and 30(2) records, in every format.

The demo territory's records are built once, with a temporary confidential overlay that
gives security measures to two activities of the intercommunality (one it carries out as
a processor, one as a controller) and a marker to another member's activity, which must
never appear in the intercommunality's register.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest
import yaml

from dote import pipeline
from dote.export import (
    COLUMNS,
    FORMATS,
    NOT_APPLICABLE_PROCESSOR,
    ExportError,
    authority_register,
    export_bytes,
    role_code,
)
from dote.model import Member, Person, Territory
from libreoffice import convert

ROOT = Path(__file__).resolve().parent.parent
MEMBER = "cc-val-exemple"
PROCESSOR_ACTIVITY = "instruction-ads"  # role: sous-traitant, pour_le_compte_de: [saint-exemple, les-granges]
CONTROLLER_ACTIVITY = "marches-publics"
SECURITY = {"controle_acces": "MESUREACCES7731", "chiffrement": "MESURECHIFFRE7732"}
OTHER_MEMBER_MARKER = "AUTREMEMBRE7733"
TODAY = dt.date(2026, 5, 1)
HOSTILE = {
    "formula": '=HYPERLINK("http://exemple.invalid/vol","cliquez")',
    "script": "<script>alert(1)</script>",
    "link": "[x](javascript:alert(1))",
    "bold": "**gras** et _penche_ $x$ ^sup^ @cite",
}


def _write(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def territory(tmp_path_factory: pytest.TempPathFactory) -> Territory:
    """The demo territory with a temporary overlay (security measures, another member's marker)."""
    overlay = tmp_path_factory.mktemp("prive")
    members = overlay / "registers" / "members"
    _write(members / MEMBER / f"{PROCESSOR_ACTIVITY}.yml", {"mesures_securite": SECURITY})
    _write(
        members / MEMBER / f"{CONTROLLER_ACTIVITY}.yml",
        {"mesures_securite": {"sauvegarde": "MESURESAUVE7734"}},
    )
    _write(
        members / "saint-exemple" / "etat-civil.yml", {"mesures_securite": {"autres": OTHER_MEMBER_MARKER}}
    )
    result = pipeline.run(ROOT, overlay=overlay)
    assert result.ok and result.territory is not None
    return result.territory


@pytest.fixture(scope="module")
def member(territory: Territory) -> Member:
    return territory.member(MEMBER)


def _other_names(territory: Territory, member: Member) -> list[str]:
    """Activity names of other members that this member's records do not contain.

    Some names are also vocabulary labels (« État civil » is a data category): the names
    found in the member's own rows are left out.
    """
    own = " ".join(v for row in authority_register(territory, member) for v in row.values())
    return sorted(
        {a.name for m in territory.members if m.id != member.id for a in m.activities}
        - {""}
        - {n for n in (a.name for m in territory.members for a in m.activities) if n in own}
    )


def _text(fmt: str, data: bytes, tmp_path: Path) -> str:
    """Everything a reader of the exported file sees, read back with the format's own library."""
    if fmt == "csv":
        return "\n".join(
            v for row in csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";") for v in row
        )
    if fmt == "json":
        document = json.loads(data)
        return "\n".join([document["nom"], *(v for row in document["activites"] for v in row.values())])
    if fmt == "xlsx":
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data))
        return "\n".join(
            str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value
        )
    if fmt == "ods":
        from odfdo import Document

        path = tmp_path / "registre.ods"
        path.write_bytes(data)
        doc = Document(path)
        return "\n".join(
            str(v)
            for table in doc.body.tables
            for row in table.get_values()
            for v in row
            if v not in (None, "")
        )
    import pypandoc

    path = tmp_path / f"registre.{fmt}"
    path.write_bytes(data)
    return str(pypandoc.convert_file(str(path), "plain", extra_args=["--wrap=none"]))


# --- Art. 30(1) and 30(2) ---------------------------------------------------------------


def test_processor_activity_is_an_article_30_2_record(territory: Territory, member: Member) -> None:
    rows = {r["Identifiant"]: r for r in authority_register(territory, member)}
    processor, controller = rows[PROCESSOR_ACTIVITY], rows[CONTROLLER_ACTIVITY]
    served = [territory.member("saint-exemple"), territory.member("les-granges")]

    # RGPD, art. 30, paragraphe 2: the controllers it acts for, no legal basis of its own.
    assert processor["Rôle"] == "Sous-traitant (RGPD, art. 30, paragraphe 2)"
    assert role_code(processor["Rôle"]) == "sous-traitant"
    assert processor["Pour le compte de"] == " ; ".join(m.name for m in served)
    for m in served:
        assert (
            m.name in processor["Responsable de traitement"]
            and m.address in processor["Responsable de traitement"]
        )
    assert member.name not in processor["Responsable de traitement"]
    assert processor["Base légale"] == NOT_APPLICABLE_PROCESSOR
    assert not any("urbanisme, art. R423-15" in v for v in processor.values())  # the controllers' basis
    assert all(v in processor["Mesures de sécurité"] for v in SECURITY.values())
    assert processor["Délégué à la protection des données"].startswith(member.dpo.name if member.dpo else "?")

    # RGPD, art. 30, paragraphe 1: the member is the controller, with a legal basis.
    assert controller["Rôle"] == "Responsable de traitement (RGPD, art. 30, paragraphe 1)"
    assert role_code(controller["Rôle"]) == "responsable"
    assert (
        controller["Responsable de traitement"].startswith(member.name)
        and member.siren in controller["Responsable de traitement"]
    )
    assert controller["Pour le compte de"] == ""
    assert controller["Base légale"] and controller["Base légale"] != NOT_APPLICABLE_PROCESSOR
    assert "MESURESAUVE7734" in controller["Mesures de sécurité"]


def test_register_headings_keep_the_former_ones() -> None:
    former = {
        "Identifiant", "Activité", "Responsable de traitement", "Responsables conjoints",
        "Délégué à la protection des données", "Service", "Statut de la fiche", "Finalité principale",
        "Finalités secondaires", "Base légale", "Conditions des données sensibles", "Catégories de personnes",
        "Catégories de données", "Durées de conservation", "Destinataires", "Sous-traitants",
        "Transferts hors UE", "Mesures de sécurité", "AIPD", "Dernière revue",
    }  # fmt: skip
    assert former <= set(COLUMNS) and {"Rôle", "Pour le compte de"} <= set(COLUMNS)
    assert len(set(COLUMNS)) == len(COLUMNS)


def test_document_sections_follow_the_article(territory: Territory, member: Member, tmp_path: Path) -> None:
    text = _text("docx", export_bytes(territory, member, "docx", today=TODAY), tmp_path)
    names = [a.name for a in member.activities]
    fiches = text.split("Fiches de registre", 1)[1]

    def section(activity_id: str) -> str:
        index = [a.id for a in member.activities].index(activity_id)
        after = fiches.split(f"{index + 1}. {names[index]}", 1)[1]
        return after.split(f"{index + 2}. {names[index + 1]}", 1)[0] if index + 1 < len(names) else after

    processor = section(PROCESSOR_ACTIVITY)
    assert "Fiche de registre du sous-traitant (RGPD, art. 30, paragraphe 2)" in processor
    assert "Responsables de traitement pour le compte desquels le sous-traitant agit (point a)" in processor
    assert "Commune de Saint-Exemple" in processor and "Commune des Granges-d'Exemple" in processor
    assert "Base légale (RGPD, art. 6)" not in processor and NOT_APPLICABLE_PROCESSOR in processor
    assert all(v in processor for v in SECURITY.values())
    controller = section(CONTROLLER_ACTIVITY)
    assert "Fiche de registre du responsable de traitement (RGPD, art. 30, paragraphe 1)" in controller
    assert "Base légale (RGPD, art. 6)" in controller and NOT_APPLICABLE_PROCESSOR not in controller
    # The summary comes before the records, with every activity.
    summary = text.split("Liste des activités de traitement", 1)[1].split("Fiches de registre", 1)[0]
    assert all(a.id in summary for a in member.activities)


# --- every format -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_reads_back_with_this_member_only(
    fmt: str, territory: Territory, member: Member, tmp_path: Path
) -> None:
    data = export_bytes(territory, member, fmt, today=TODAY)
    text = _text(fmt, data, tmp_path)
    for a in member.activities:
        assert a.name in text, a.name
    assert all(v in text for v in SECURITY.values())
    assert OTHER_MEMBER_MARKER not in text
    others = _other_names(territory, member)
    assert others and not [n for n in others if n in text]
    assert "Sous-traitant (RGPD, art. 30, paragraphe 2)" in text
    if fmt in ("ods", "xlsx", "odt", "docx"):
        assert member.siren in text and (member.dpo.name if member.dpo else "") in text
        assert "Représentant (RGPD, art. 27)" in text


def test_workbook_sheets_headings_widths_and_frozen_header(
    territory: Territory, member: Member, tmp_path: Path
) -> None:
    from odfdo import Document
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(export_bytes(territory, member, "xlsx", today=TODAY)))
    assert book.sheetnames[:2] == ["Organisation", "Registre"]
    assert len(book.sheetnames) == 2 + len(member.activities)
    assert all(n.startswith("Fiche ") and len(n) <= 31 for n in book.sheetnames[2:])
    register = book["Registre"]
    assert tuple(c.value for c in register[1]) == COLUMNS
    assert register.freeze_panes == "C2"
    assert all(register.column_dimensions[c].width >= 12 for c in "ABCDE")
    rows = [[c.value or "" for c in r] for r in register.iter_rows(min_row=2)]
    assert [r[0] for r in rows] == [a.id for a in member.activities]
    by_id = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in rows}
    assert by_id[PROCESSOR_ACTIVITY]["Base légale"] == NOT_APPLICABLE_PROCESSOR

    path = tmp_path / "registre.ods"
    path.write_bytes(export_bytes(territory, member, "ods", today=TODAY))
    doc = Document(path)
    tables = doc.body.tables
    assert [t.name for t in tables[:2]] == ["Organisation", "Registre"]
    values = tables[1].get_values()
    assert tuple(values[0]) == COLUMNS and [r[0] for r in values[1:]] == [a.id for a in member.activities]
    assert tables[1].get_elements("table:table-header-rows")
    settings = doc.get_part("settings.xml").serialize()
    assert (
        b'config:name="Registre"' in settings and b'"VerticalSplitPosition" config:type="int">1<' in settings
    )
    assert len(tables[1].get_columns()) == len(COLUMNS)


# --- hostile text -----------------------------------------------------------------------


def _hostile(territory: Territory, member: Member) -> Member:
    """The member, its processor activity renamed and described with hostile text."""
    activities = tuple(
        dataclasses.replace(
            a,
            name=HOSTILE["formula"],
            purpose=HOSTILE["script"] + " " + HOSTILE["link"],
            department=HOSTILE["bold"] + "\x01\x0b",
            secondary_purposes=("@SUM(A1)", "+1", "-2"),
            controllers_served=(*a.controllers_served, Person(HOSTILE["link"], address="| x | y |\n# titre")),
        )
        if a.id == PROCESSOR_ACTIVITY
        else a
        for a in member.activities
    )
    return dataclasses.replace(member, name=member.name + " " + HOSTILE["bold"], activities=activities)


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_text_stays_inert_text(
    fmt: str, territory: Territory, member: Member, tmp_path: Path
) -> None:
    hostile = _hostile(territory, member)
    data = export_bytes(territory, hostile, fmt, today=TODAY)
    text = _text(fmt, data, tmp_path)
    if fmt in ("csv", "ods", "xlsx"):
        # Formula characters first in a cell: neutralised with a leading quote.
        assert "'" + HOSTILE["formula"] in text and "'@SUM(A1)" in text
        assert "\n" + HOSTILE["formula"] not in "\n" + text.replace("'" + HOSTILE["formula"], "")
    else:
        assert HOSTILE["formula"] in text
    for value in (HOSTILE["script"], HOSTILE["link"], "**gras**", "$x$", "^sup^", "@cite"):
        assert value in text, value
    if fmt == "xlsx":
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data))
        assert all(c.data_type == "s" for s in book.worksheets for r in s.iter_rows() for c in r if c.value)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            sheets = [z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
            assert sheets and not any(b"<f>" in s or b"<f " in s or b"hyperlink" in s for s in sheets)
    if fmt == "ods":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            content = z.read("content.xml")
        assert b"table:formula" not in content and b"<script" not in content and b"xlink:href" not in content
    if fmt in ("odt", "docx"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            xml = b"".join(z.read(n) for n in z.namelist() if n.endswith((".xml", ".rels")))
        assert b"javascript:" not in xml.replace(b"[x](javascript:alert(1))", b"")
        assert b"<script" not in xml
        assert b"<w:hyperlink" not in xml and b"relationships/hyperlink" not in xml and b"<text:a " not in xml


# --- failures ---------------------------------------------------------------------------


def test_pandoc_failure_is_a_french_error_and_no_bytes(
    territory: Territory, member: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pypandoc

    def failing(*args: object, outputfile: str | None = None, **kwargs: object) -> str:
        assert outputfile is not None
        Path(outputfile).write_bytes(b"PK\x03\x04 half-written")
        raise RuntimeError('Pandoc died with exitcode "64" during conversion')

    monkeypatch.setattr(pypandoc, "convert_text", failing)
    for fmt in ("odt", "docx"):
        with pytest.raises(ExportError, match="pandoc a échoué") as caught:
            export_bytes(territory, member, fmt, today=TODAY)
        assert "aucun fichier n'a été écrit" in str(caught.value) and fmt.upper() in str(caught.value)
    with pytest.raises(ExportError, match="format d'export inconnu"):
        export_bytes(territory, member, "pdf")


# --- LibreOffice ------------------------------------------------------------------------


def test_libreoffice_opens_every_document_and_workbook(
    soffice: str, territory: Territory, member: Member, tmp_path: Path
) -> None:
    files = {}
    for fmt in ("odt", "docx", "ods", "xlsx"):
        files[fmt] = tmp_path / f"registre-{fmt}.{fmt}"
        files[fmt].write_bytes(export_bytes(territory, _hostile(territory, member), fmt, today=TODAY))
    out = convert(soffice, tmp_path, "txt:Text", [files["odt"], files["docx"]])
    # Every sheet to its own CSV file (the last token of the filter options: -1).
    out = convert(
        soffice,
        tmp_path,
        "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
        [files["ods"], files["xlsx"]],
    )
    names = [a.name for a in member.activities if a.id != PROCESSOR_ACTIVITY]
    for fmt in ("odt", "docx"):
        text = (out / f"registre-{fmt}.txt").read_text(encoding="utf-8-sig")
        assert all(n in text for n in names) and HOSTILE["formula"] in text and HOSTILE["script"] in text
        assert "RGPD, art. 30, paragraphe 2" in text
    for fmt in ("ods", "xlsx"):
        register = (out / f"registre-{fmt}-Registre.csv").read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(register.splitlines()))
        assert [r["Identifiant"] for r in rows] == [a.id for a in member.activities]
        processor = next(r for r in rows if r["Identifiant"] == PROCESSOR_ACTIVITY)
        # Still text after LibreOffice read it: the formula was not evaluated.
        assert processor["Activité"] == "'" + HOSTILE["formula"]
        assert processor["Base légale"] == NOT_APPLICABLE_PROCESSOR
        organisation = (out / f"registre-{fmt}-Organisation.csv").read_text(encoding="utf-8-sig")
        assert member.siren in organisation


def test_export_command_writes_each_format_to_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dote.cli import main

    overlay = tmp_path / "prive"
    _write(
        overlay / "registers" / "members" / MEMBER / f"{PROCESSOR_ACTIVITY}.yml",
        {"mesures_securite": SECURITY},
    )
    base = ["export", str(ROOT), "--member", MEMBER, "--overlay", str(overlay)]
    for fmt in ("ods", "xlsx", "odt", "docx"):
        out = tmp_path / "sortie" / f"registre.{fmt}"
        assert main([*base, "--format", fmt, "-o", str(out)]) == 0
        assert zipfile.is_zipfile(out)  # all four are zipped XML
        assert not list(out.parent.glob(".*"))  # written atomically: no temporary file left
        assert f"écrit dans {out}" in capsys.readouterr().err
    # A binary format needs a file; the public repository is refused.
    assert main([*base, "--format", "xlsx"]) == 2
    assert "indiquez -o FICHIER" in capsys.readouterr().err
    assert main([*base, "--format", "odt", "-o", str(ROOT / "registre.odt")]) == 2
    assert not (ROOT / "registre.odt").exists()
