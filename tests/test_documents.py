"""Downloads: model documents and handouts (pandoc), members' notices and rights letters.

Done when (issue 12): every download of the demo opens in LibreOffice with its text; a
member's notice carries that member's data and none of another's; a second build runs
no pandoc; bad input (unknown variable, failing pandoc, missing reference document)
fails the build with a French message naming the file.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
import yaml
from lxml import etree

from dote import documents, notices, pipeline
from dote.cache import CACHE_ENV
from dote.cli import main
from dote.files import NEW_FILE_MODE, NEW_FOLDER_MODE
from dote.label import evaluate
from dote.model import Member, Territory
from dote.notices import Block
from dote.office import SKELETON, Template, xml_text

ROOT = Path(__file__).resolve().parent.parent


def _front_matter(page: Path) -> dict[str, object]:
    text = page.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    return dict(yaml.safe_load(text[4 : text.index("\n---", 4)]) or {})


def _pages_with_downloads(root: Path) -> list[Path]:
    return sorted(p for p in (root / "docs").rglob("*.md") if _front_matter(p).get("telechargement") is True)


def _title(page: Path) -> str:
    return str(_front_matter(page)["title"])


def _xml_text(path: Path) -> str:
    """The text of a DOCX or ODT, from its main XML part."""
    main = "word/document.xml" if path.suffix == ".docx" else "content.xml"
    with zipfile.ZipFile(path) as archive:
        root = etree.fromstring(archive.read(main))
    return " ".join(str(t) for t in root.itertext())


def _pdf_text(path: Path) -> str:
    return " ".join(page.extract_text() or "" for page in pypdf.PdfReader(path).pages)


def _normalised(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").split())


# --- the demo's downloads --------------------------------------------------------------------


def test_every_page_marked_for_download_has_its_three_files(built_demo: Path) -> None:
    pages = _pages_with_downloads(ROOT)
    assert len(pages) >= 9, "the model documents are offered as downloads"
    for page in pages:
        src = page.relative_to(ROOT / "docs").as_posix()
        for fmt in documents.FORMATS:
            made = built_demo / documents.download_uri(src, fmt)
            assert made.is_file() and made.stat().st_size > 1000, made
        html = (built_demo / src.removesuffix(".md") / "index.html").read_text(encoding="utf-8")
        name = Path(src).stem
        for fmt in documents.FORMATS:
            assert f'href="../{name}.{fmt}"' in html, f"{src}: no link to its {fmt}"


def test_every_file_and_folder_of_the_site_is_readable_as_plain_ones_would_be(built_demo: Path) -> None:
    """Downloads are hard links to the build's cache: they must not keep a private mode (a web
    server reading the site as another user would answer 403), nor the site its staging
    folder's private mode."""
    files = [path for path in built_demo.rglob("*") if path.is_file()]
    assert any(path.suffix == ".odt" for path in files) and any(path.suffix == ".html" for path in files)
    private = [
        path.relative_to(built_demo).as_posix()
        for path in files
        if stat.S_IMODE(path.stat().st_mode) != NEW_FILE_MODE
    ]
    assert not private, private[:10]
    folders = [built_demo, *(path for path in built_demo.rglob("*") if path.is_dir())]
    closed = [str(path) for path in folders if stat.S_IMODE(path.stat().st_mode) != NEW_FOLDER_MODE]
    assert not closed, closed[:10]


def test_every_download_opens_in_libreoffice(built_demo: Path, soffice: str, tmp_path: Path) -> None:
    from libreoffice import convert

    pages = {
        documents.download_uri(p.relative_to(ROOT / "docs").as_posix(), "x"): _title(p)
        for p in _pages_with_downloads(ROOT)
    }
    territory = pipeline.run(ROOT).territory
    assert territory is not None
    for fmt in ("docx", "odt"):
        files = sorted(built_demo.rglob(f"*.{fmt}"))
        assert len(files) >= len(pages) + 2 * len(territory.members) // 2
        out = convert(soffice, tmp_path / fmt, "txt:Text (encoded):UTF8", files)
        for made in files:
            text = _normalised((out / f"{made.stem}.txt").read_text(encoding="utf-8-sig"))
            assert len(text) > 200, f"{made}: LibreOffice finds no text"
            uri = made.relative_to(built_demo).as_posix()
            if (key := uri.removesuffix(f".{fmt}") + ".x") in pages:
                assert _normalised(pages[key]) in text, f"{made}: its title is not in the text"
            elif made.name.startswith("lettres-droits-"):
                member = territory.members_by_id[made.parent.name]
                assert _normalised(f"Exercer vos droits auprès de {member.name}") in text
                assert "Demande d'accès à mes données personnelles" in text
            elif made.name.startswith("mentions-information-"):
                member = territory.members_by_id[made.parent.name]
                for activity in notices.generated(member):
                    assert _normalised(f"Mention d'information : {activity.name}") in text


def test_pdf_downloads_have_their_text(built_demo: Path) -> None:
    for page in _pages_with_downloads(ROOT):
        pdf = built_demo / documents.download_uri(page.relative_to(ROOT / "docs").as_posix(), "pdf")
        assert pdf.read_bytes().startswith(b"%PDF-")
        text = _normalised(_pdf_text(pdf))
        # Typst may break a long title across lines: its first words, then the rest.
        words = _normalised(_title(page)).split()
        assert " ".join(words[:3]) in text and all(w in text for w in words), pdf


def _two_members_with_notices() -> tuple[Territory, Member, Member]:
    territory = pipeline.run(ROOT).territory
    assert territory is not None
    members = [m for m in territory.members if notices.generated(m)]
    assert len(members) >= 2, "the demo has at least two members whose notices the Maison writes"
    return territory, members[0], members[1]


def test_a_member_notice_carries_its_data_and_none_of_another(built_demo: Path) -> None:
    _, a, b = _two_members_with_notices()
    for fmt in ("docx", "odt"):
        text = _xml_text(built_demo / notices.download_path(a, "mentions", fmt))
        assert a.name in text
        assert b.name not in text
        for activity in notices.generated(a):
            assert activity.purpose in text
        own = {x.name for x in a.activities}
        for activity in b.activities:
            if activity.name not in own and activity.name not in a.name:
                assert f"Mention d'information : {activity.name}" not in text
    page = (built_demo / notices.page_path(a)).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    assert a.name in page and b.name not in page
    for activity in notices.generated(a):
        assert f'id="{notices.notice_anchor(activity)}"' in page
    member_page = (built_demo / f"registres/{a.id}/index.html").read_text(encoding="utf-8")
    assert 'href="mentions.html"' in member_page and f"lettres-droits-{a.id}.odt" in member_page


def test_rights_letters_are_addressed_to_the_member_dpo() -> None:
    territory, a, _ = _two_members_with_notices()
    blocks = notices.rights_letters(territory, a)
    text = "\n".join(b.text for b in blocks)
    assert a.dpo is not None and a.dpo.name in text
    titles = [b.text for b in blocks if b.kind == "titre"][1:]
    assert len(titles) == 6 and sum(b.kind == "saut" for b in blocks) == 7  # one letter per page
    assert "RGPD, art. 12(3)" in text and notices.CNIL_COMPLAINTS in text


# --- the label: a notice counts when it can be written -----------------------------------------


def test_label_checks_that_the_notice_can_be_written() -> None:
    result = pipeline.run(ROOT)
    territory = result.territory
    assert territory is not None
    member = next(m for m in territory.members if notices.generated(m))
    activity = notices.generated(member)[0]
    broken = dataclasses.replace(activity, legal_basis=None, transfers=None)
    assert notices.gaps(member, broken) == ["base légale établie", "transferts hors de l'Union"]
    changed = dataclasses.replace(
        member, activities=tuple(broken if a is activity else a for a in member.activities)
    )
    territory = dataclasses.replace(
        territory, members=tuple(changed if m is member else m for m in territory.members)
    )
    assert result.label is not None
    evaluation = evaluate(territory, result.label.policy, result.label.reference_date)
    reasons = [d for f in evaluation.members[member.id].failures for d in f.details]
    assert (
        "mention d'information impossible à établir : il manque base légale établie, transferts hors de l'Union"
        in reasons
    )
    assert notices.notice_anchor(broken) not in notices.notices_page(territory, changed)


def test_a_processor_activity_gets_no_notice() -> None:
    territory = pipeline.run(ROOT).territory
    assert territory is not None
    member = next(m for m in territory.members if notices.generated(m))
    activity = notices.generated(member)[0]
    processor = dataclasses.replace(activity, role=territory.vocabularies["roles"]["sous-traitant"])
    assert notices.gaps(member, processor) == [
        "le membre est sous-traitant : la mention revient au responsable du traitement"
    ]


def test_rights_follow_the_legal_basis() -> None:
    territory = pipeline.run(ROOT).territory
    assert territory is not None
    activity = next(a for a in territory.activities if a.legal_basis is not None)
    bases = territory.vocabularies["bases-legales"]
    with_basis = lambda code: dataclasses.replace(  # noqa: E731
        activity,
        legal_basis=dataclasses.replace(activity.legal_basis, basis=bases[code]),
        rights_not_applicable=(),
    )
    labels = lambda a: {label for label, _ in notices.applicable_rights(territory, a)}  # noqa: E731
    assert "Droit à la portabilité" in labels(with_basis("consentement"))
    assert "Droit de retirer son consentement" in labels(with_basis("consentement"))
    assert "Droit d'opposition" not in labels(with_basis("consentement"))
    assert "Droit d'opposition" in labels(with_basis("mission-interet-public"))
    assert "Droit à la portabilité" not in labels(with_basis("obligation-legale"))


# --- filling a document pandoc made once -------------------------------------------------------


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Template]]:
    converter = documents.Converter(documents.References.find(ROOT), tmp_path_factory.mktemp("gabarits"), 2)
    try:
        yield dict(converter.templates())
    finally:
        converter.close(prune=False)


@pytest.mark.parametrize("fmt", ["docx", "odt"])
def test_filled_text_stays_text(templates: dict[str, Template], fmt: str, tmp_path: Path) -> None:
    hostile = 'a <script>alert(1)</script> & "b" ]]> \x01\x0b é \ud800 {{ x }}'
    blocks = [
        Block("titre", hostile),
        Block("paragraphe", hostile),
        Block("puce", hostile),
        Block("puce", "2"),
        Block("saut"),
        Block("section", "fin"),
    ]
    data = templates[fmt].fill(blocks)
    path = tmp_path / f"x.{fmt}"
    path.write_bytes(data)
    text = _xml_text(path)
    assert text.count(xml_text(hostile).replace("\ud800", "?")) == 3 and "\x01" not in text
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        if fmt == "odt":
            assert names[0] == "mimetype" and archive.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
            content = archive.read("content.xml")
            assert b'fo:break-before="page"' in content
            assert content.count(b"<text:list ") == 1  # consecutive items make one list
        else:
            assert b'w:type="page"' in archive.read("word/document.xml")
    assert templates[fmt].fill(blocks) == data  # reproducible bytes


def test_a_skeleton_without_its_blocks_is_refused(templates: dict[str, Template]) -> None:
    from dote.office import TemplateError

    with pytest.raises(TemplateError, match="pas une archive"):
        Template.read(b"not a zip", "docx")
    assert "DOTE_PUCE" in SKELETON


# --- speed: a second build runs no pandoc ------------------------------------------------------


def _count_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every pandoc run from now on: its output format (``gabarit`` for a members' skeleton)."""
    runs: list[str] = []
    run, start = documents.Converter._run, documents.Converter._start_skeleton

    def counting(self: documents.Converter, markdown: str, to: str, *args: Any, **kwargs: Any) -> bytes:
        runs.append(to)
        return run(self, markdown, to, *args, **kwargs)

    def counting_skeleton(self: documents.Converter, fmt: Any, path: Path) -> Any:
        runs.append("gabarit")
        return start(self, fmt, path)

    monkeypatch.setattr(documents.Converter, "_run", counting)
    monkeypatch.setattr(documents.Converter, "_start_skeleton", counting_skeleton)
    return runs


def test_second_build_runs_no_pandoc(
    territory_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.rmtree(territory_copy / ".cache", ignore_errors=True)  # a first build with no cache
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")  # the same day for every build below
    runs = _count_runs(monkeypatch)
    site = tmp_path / "site"
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 0
    pages = len(_pages_with_downloads(territory_copy))
    assert sorted(runs) == sorted(["docx", "odt", "typst"] * pages + ["gabarit"] * 2)
    # Without the cache, pandoc again: the same Word and LibreOffice files, byte for byte.
    monkeypatch.setenv(CACHE_ENV, "0")
    again = tmp_path / "sans-cache"
    assert main(["build", str(territory_copy), "--site-dir", str(again)]) == 0
    monkeypatch.delenv(CACHE_ENV)
    made = {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in site.rglob("*")
        if p.suffix in (".docx", ".odt")
    }
    assert len(made) > 2 * pages
    assert {uri: (again / uri).read_bytes() == data for uri, data in made.items()} == dict.fromkeys(
        made, True
    )
    runs.clear()
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 0
    assert runs == []
    # One page changed: its three downloads only.
    page = territory_copy / "docs/documents/mention-information.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nUne phrase ajoutée.\n", encoding="utf-8")
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 0
    assert sorted(runs) == ["docx", "odt", "typst"]
    assert "Une phrase ajoutée." in _xml_text(site / "documents/mention-information.odt")
    # A register changed (its parsed-files cache rewritten): pandoc's outputs are kept.
    runs.clear()
    activity = next((territory_copy / "registers/members/valmont").glob("[!m]*.yml"))
    activity.write_text(
        activity.read_text(encoding="utf-8").replace("nom: ", "nom: Modifié — ", 1), encoding="utf-8"
    )
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 0
    assert runs == []


# --- bad input ------------------------------------------------------------------------------------


def test_unknown_variable_names_the_file_and_line(
    territory_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = territory_copy / "docs/documents/mention-information.md"
    lines = page.read_text(encoding="utf-8").splitlines()
    body = next(i for i, line in enumerate(lines) if line.startswith("# "))
    lines.insert(body + 2, "Le maire, {{ maison.maire_inconnu }}, signe.")
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    site = tmp_path / "site"
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 1
    err = capsys.readouterr().err
    assert f"docs/documents/mention-information.md:{body + 3}: variable inconnue « maire_inconnu »" in err
    assert not site.exists()


def _failing_pandoc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, skeleton_too: bool) -> None:
    """A pandoc that fails (on the pages only, or on everything), as one out of memory would."""
    real = documents.pypandoc.get_pandoc_path()
    fake = tmp_path / "pandoc"
    # The skeletons are given as a file (.md), the pages on standard input.
    passes = (
        "" if skeleton_too else f'for a in "$@"; do case "$a" in *.md) exec "{real}" "$@" ;; esac; done\n'
    )
    fake.write_text(
        f"#!/bin/sh\n{passes}cat > /dev/null\necho 'pandoc: plus de mémoire' >&2\nexit 3\n", encoding="utf-8"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(documents.pypandoc, "get_pandoc_path", lambda: str(fake))
    monkeypatch.setenv("DOTE_CACHE", "0")


@pytest.mark.parametrize("skeleton_too", [False, True])
def test_failing_pandoc_fails_the_build(
    territory_copy: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    skeleton_too: bool,
) -> None:
    _failing_pandoc(tmp_path, monkeypatch, skeleton_too=skeleton_too)
    site = tmp_path / "site"
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 1
    err = capsys.readouterr().err
    assert "pandoc a échoué (code 3) : pandoc: plus de mémoire" in err
    if skeleton_too:
        assert "le gabarit DOCX des documents des membres (document de référence reference.docx)" in err
    else:
        assert "docs/documents/mention-information.md (PDF) : pandoc a échoué" in err
        assert "docs/documents/modele-aipd.md (ODT) : pandoc a échoué" in err
    assert not site.exists()  # nothing half-published


def test_missing_reference_document(
    territory_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = territory_copy / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    assert "  - dote" in text
    config.write_text(
        text.replace("  - dote ", "  - dote:\n      reference_odt: modeles/charte.odt\n   ", 1),
        encoding="utf-8",
    )
    assert main(["build", str(territory_copy), "--site-dir", str(tmp_path / "site")]) == 1
    err = capsys.readouterr().err
    assert "le document de référence « modeles/charte.odt » est introuvable" in err


def test_a_territory_reference_document_styles_its_downloads(territory_copy: Path, tmp_path: Path) -> None:
    own = territory_copy / "charte.docx"
    data = (documents.ASSETS / "reference.docx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(own, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "word/styles.xml":
                content = content.replace(b'w:val="00695C"', b'w:val="C00000"')
            target.writestr(info, content)
    config = territory_copy / "mkdocs.yml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "  - dote ", "  - dote:\n      reference_docx: charte.docx\n   ", 1
        ),
        encoding="utf-8",
    )
    site = tmp_path / "site"
    assert main(["build", str(territory_copy), "--site-dir", str(site)]) == 0
    with zipfile.ZipFile(site / "documents/modele-aipd.docx") as archive:
        assert b'w:val="C00000"' in archive.read("word/styles.xml")


def test_macros_absent_and_a_variable_used() -> None:
    with pytest.raises(documents.DocumentError, match=r"docs/x.md:4: une variable est utilisée"):
        documents.render_macros("a\n{{ maison.nom }}\n", "docs/x.md", None, {}, first_line=3)
    assert documents.render_macros("sans variable\n", "docs/x.md", None, {}) == "sans variable\n"


def test_pandoc_writes_the_same_document_twice_the_same_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pandoc stamps DOCX and ODT with a time: SOURCE_DATE_EPOCH (the caller's, else the start of
    the day) makes two runs of the same text give the same bytes."""
    import time

    converter = documents.Converter(documents.References.find(ROOT), None, threads=1)
    try:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
        for fmt in ("docx", "odt"):
            reference = ["--reference-doc", str(converter.references.path(fmt))]
            first = converter._run("# Titre\n\nUn paragraphe.\n", fmt, reference)
            time.sleep(1.1)
            assert converter._run("# Titre\n\nUn paragraphe.\n", fmt, reference) == first, fmt
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        assert documents.pandoc_environment()["SOURCE_DATE_EPOCH"] == "1700000000"
        stamped = converter._run(
            "# Titre\n", "docx", ["--reference-doc", str(converter.references.path("docx"))]
        )
        with zipfile.ZipFile(io.BytesIO(stamped)) as archive:
            assert "2023-11-14" in archive.read("docProps/core.xml").decode("utf-8")
    finally:
        converter.close(prune=False)
