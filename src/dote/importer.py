"""``dote import``: a member's register kept in a spreadsheet, turned into activity files.

A new member often arrives with its register in a spreadsheet, frequently the CNIL's
model. This module reads it (CSV, XLSX, ODS), recognises two layouts, maps what it can to
the format's codes and writes one draft activity file per activity, with a French report
of everything it could not map:

* a **table**: a header row (among the first rows) then one row per activity; headings
  are matched loosely (case, accents, punctuation, plurals, extra words), the project's
  own export (:data:`dote.export.COLUMNS`) included;
* the CNIL **activity sheet** (« fiche de registre »): label/value pairs down a sheet, one
  activity per sheet; a sheet of the CNIL model's list and a sheet of the same activity
  are merged (the sheet wins, the list fills what it lacks).

Decisions, stated once:

* Free text becomes a code only when it names a vocabulary entry (label, code or a known
  synonym); otherwise it is kept in a free-text field of the schema (``precisions``,
  ``personnes_precisions``, ``criteres``…) or left out, and reported — never a guessed
  code. An unrecognised legal basis is written with the provisional code
  ``a-determiner`` (meant for registers being drafted) and the text in ``precisions``.
* Every activity is written with ``statut: brouillon``: the DPO reviews it.
* The schema has no incomplete-draft mode for an activity without a model: an activity
  whose purpose, data subjects or data categories cannot be read is reported as not
  importable (with what is missing) and not written.
* Security measures (and internal notes) are confidential: never written into
  ``registers/``; the report says they belong in the confidential overlay. For a member
  publishing "au choix", the fields it does not publish are left out in the same way.
* All or nothing: if one target file already exists and ``force`` is not given, nothing
  is written (the report lists the existing files). ``dry_run`` writes nothing.
* Repeated problems are grouped (one line per sheet, column and message, with the first
  rows): a sheet of 10,000 rows gives a report of a few lines.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from dote.confidential import non_public_keys, published_fields, published_view
from dote.files import system_reason, write_atomic
from dote.layout import MEMBER_FILE, MEMBERS, PROCESSORS, REGISTERS
from dote.load import Document
from dote.problems import relative_name
from dote.scaffold import register_text
from dote.schema import validate_document
from dote.vocabulary import Vocabulary, load_vocabularies, slugify

#: The modeline written first in every activity file (editors' schema completion).
ACTIVITY_SCHEMA = "../../../schemas/activite.schema.json"
MODELINE = f"# yaml-language-server: $schema={ACTIVITY_SCHEMA}\n"

#: Bounds that keep a hostile or huge file from running for ever.
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_ROWS = 100_000  # per sheet
MAX_COLUMNS = 200
#: Consecutive blank rows after which a sheet is considered finished (an XLSX sheet may
#: declare a million formatted but empty rows).
MAX_BLANK_RUN = 2_000
#: Rows of a grouped problem named in the report before « et N autres ».
SHOWN_ROWS = 5
#: Beyond this many activities, the written files are counted, not listed.
LISTED_FILES = 30


class UnreadableSpreadsheet(Exception):
    """The file cannot be read at all (the message is French, for the command line)."""


@dataclass
class ImportReport:
    """What an import did or would do: French lines, files written, and whether it failed."""

    lines: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    planned: list[Path] = field(default_factory=list)
    not_imported: list[str] = field(default_factory=list)
    error: bool = False
    dry_run: bool = False

    def text(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.lines else "")


# --- reading spreadsheets ----------------------------------------------------------------


@dataclass
class Sheet:
    """A sheet's non-blank rows: spreadsheet row number (1-based) and cell texts."""

    name: str
    rows: list[tuple[int, list[str]]]
    truncated: bool = False


_LINK = re.compile(r"\[([^\]]*)\]\((?:mailto:|https?:|#)[^)]*\)")


def _text(value: object) -> str:
    """A cell's value as the text an editor sees (dates as AAAA-MM-JJ)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        if value == int(value):
            return str(int(value))
        return str(value)
    text = str(value).replace("\r\n", "\n").replace("\xa0", " ").strip()
    if "](" in text:  # odfdo renders a hyperlink as [text](target)
        text = _LINK.sub(r"\1", text)
    return text


def read_spreadsheet(path: Path) -> list[Sheet]:
    """Every sheet of a CSV, XLSX or ODS file; :class:`UnreadableSpreadsheet` otherwise."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as err:
        raise UnreadableSpreadsheet(f"impossible de lire {path.name} : {system_reason(err)}") from err
    if size == 0:
        raise UnreadableSpreadsheet(f"{path.name} est vide : aucune donnée à importer")
    if size > MAX_FILE_BYTES:
        raise UnreadableSpreadsheet(
            f"{path.name} est trop volumineux ({size // (1024 * 1024)} Mo) pour un registre : "
            f"{MAX_FILE_BYTES // (1024 * 1024)} Mo au plus"
        )
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raw = path.read_bytes()
        if "EncryptionInfo".encode("utf-16-le") in raw or "EncryptedPackage".encode("utf-16-le") in raw:
            raise UnreadableSpreadsheet(
                f"{path.name} est protégé par un mot de passe (classeur chiffré) : ouvrez-le, "
                "retirez le mot de passe, enregistrez-le puis relancez l'import"
            )
        raise UnreadableSpreadsheet(
            f"{path.name} est au format Excel 97-2003 (.xls) ou chiffré : enregistrez-le au format "
            ".xlsx ou .ods (sans mot de passe) puis relancez l'import"
        )
    if head.startswith(b"PK"):
        return _read_zip(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".ods", ".xls"):
        raise UnreadableSpreadsheet(
            f"{path.name} n'est pas un tableur lisible (contenu endommagé ou d'un autre format)"
        )
    return [_read_csv(path)]


def _read_zip(path: Path) -> list[Sheet]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = (
                archive.read("mimetype").decode("ascii", "replace").strip() if "mimetype" in names else ""
            )
            manifest = archive.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in names else b""
    except (zipfile.BadZipFile, OSError, KeyError) as err:
        raise UnreadableSpreadsheet(f"{path.name} n'est pas un tableur lisible : archive endommagée") from err
    if mimetype == "application/vnd.oasis.opendocument.spreadsheet":
        if b"encryption-data" in manifest:
            raise UnreadableSpreadsheet(
                f"{path.name} est protégé par un mot de passe : ouvrez-le, retirez le mot de passe, "
                "enregistrez-le puis relancez l'import"
            )
        return _read_ods(path)
    if "xl/workbook.xml" in names:
        return _read_xlsx(path)
    raise UnreadableSpreadsheet(
        f"{path.name} n'est pas un tableur (ni .ods, ni .xlsx, ni .csv) : enregistrez le registre "
        "dans l'un de ces formats"
    )


def _finish(name: str, rows: dict[int, list[str]], truncated: bool = False) -> Sheet:
    ordered = []
    for number in sorted(rows):
        cells = rows[number]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            ordered.append((number, cells))
    return Sheet(name, ordered, truncated)


def _apply_merges(rows: dict[int, list[str]], merges: Iterable[tuple[int, int, int, int]]) -> None:
    """A merged area takes its top-left value everywhere (bounded: huge areas are clipped)."""
    for r0, c0, r1, c1 in merges:
        top = rows.get(r0)
        if top is None or c0 >= len(top) or not top[c0]:
            continue
        value = top[c0]
        for r in range(r0, min(r1, r0 + 500) + 1):
            cells = rows.setdefault(r, [])
            for c in range(c0, min(c1, c0 + 50, MAX_COLUMNS - 1) + 1):
                if r == r0 and c == c0:
                    continue
                while len(cells) <= c:
                    cells.append("")
                if not cells[c]:
                    cells[c] = value


# XLSX ---------------------------------------------------------------------------------

_CELL_REF = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Z]+)([0-9]+)(?::([A-Z]+)([0-9]+))?"')


def _column_index(letters: bytes) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + (ch - 64)
    return index - 1


def _xlsx_merges(path: Path) -> dict[str, list[tuple[int, int, int, int]]]:
    """Merged areas of each sheet, by sheet name (read-only openpyxl does not give them)."""
    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    result: dict[str, list[tuple[int, int, int, int]]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            workbook = ET.fromstring(archive.read("xl/workbook.xml"))
            rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
            targets = {r.get("Id"): r.get("Target", "") for r in rels}
            for sheet in workbook.iter(f"{ns_main}sheet"):
                target = targets.get(sheet.get(f"{ns_rel}id"), "")
                member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
                info = archive.getinfo(member)
                if info.file_size > 64 * 1024 * 1024:
                    continue
                data = archive.read(member)
                start = data.rfind(b"mergeCells")
                if start < 0:
                    continue
                areas = []
                for m in _CELL_REF.finditer(data, data.find(b"mergeCells")):
                    c0, r0 = _column_index(m.group(1)), int(m.group(2))
                    c1, r1 = (_column_index(m.group(3)), int(m.group(4))) if m.group(3) else (c0, r0)
                    areas.append((r0, c0, r1, c1))
                result[sheet.get("name", "")] = areas
    except (KeyError, zipfile.BadZipFile, ET.ParseError, OSError):
        return result
    return result


def _read_xlsx(path: Path) -> list[Sheet]:
    import openpyxl  # type: ignore[import-untyped]

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds on a damaged file
        raise UnreadableSpreadsheet(f"{path.name} n'est pas un classeur .xlsx lisible : {err}") from err
    merges = _xlsx_merges(path)
    sheets = []
    try:
        for ws in workbook.worksheets:
            rows: dict[int, list[str]] = {}
            blank = 0
            truncated = False
            for number, values in enumerate(ws.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1):
                if number > MAX_ROWS:
                    truncated = True
                    break
                if not any(v is not None and v != "" for v in values):
                    blank += 1
                    if blank > MAX_BLANK_RUN:
                        break
                    continue
                blank = 0
                rows[number] = [_text(v) for v in values]
            _apply_merges(rows, merges.get(ws.title, ()))
            sheets.append(_finish(str(ws.title), rows, truncated))
    except Exception as err:
        raise UnreadableSpreadsheet(f"{path.name} n'est pas un classeur .xlsx lisible : {err}") from err
    finally:
        workbook.close()
    return sheets


# ODS ----------------------------------------------------------------------------------

_ROW_CONTAINERS = ("table:table-row-group", "table:table-header-rows", "table:table-rows")


def _ods_rows(table: Any) -> Iterator[Any]:
    for child in table.children:
        if child.tag == "table:table-row":
            yield child
        elif child.tag in _ROW_CONTAINERS:
            yield from _ods_rows(child)


def _read_ods(path: Path) -> list[Sheet]:
    from odfdo import Document as OdfDocument

    try:
        document = OdfDocument(path)
        tables = document.body.tables
    except Exception as err:  # odfdo/lxml raise many kinds on a damaged file
        raise UnreadableSpreadsheet(f"{path.name} n'est pas un classeur .ods lisible : {err}") from err
    sheets = []
    for table in tables:
        rows: dict[int, list[str]] = {}
        spans: dict[tuple[int, int], str] = {}  # covered cell -> top-left value
        number = 1
        truncated = False
        for row in _ods_rows(table):
            repeat = row.repeated or 1
            cells: list[str] = []
            for cell in row.children:
                if cell.tag not in ("table:table-cell", "table:covered-table-cell"):
                    continue
                count = cell.repeated or 1
                if cell.tag == "table:covered-table-cell":
                    value = ""
                    for _ in range(min(count, MAX_COLUMNS - len(cells))):
                        cells.append(spans.get((number, len(cells)), ""))
                    continue
                value = _text(cell.value) if cell.value is not None else _text(cell.text_content)
                if value:
                    across = int(cell.get_attribute_integer("table:number-columns-spanned") or 1)
                    down = int(cell.get_attribute_integer("table:number-rows-spanned") or 1)
                    if across > 1 or down > 1:
                        col = len(cells)
                        for r in range(number, number + min(down, 500)):
                            for c in range(col, col + min(across, 50)):
                                spans[r, c] = value
                cells.extend([value] * min(count, max(0, MAX_COLUMNS - len(cells))))
                if len(cells) >= MAX_COLUMNS:
                    break
            if any(cells):
                if number > MAX_ROWS:
                    truncated = True
                    break
                for r in range(number, min(number + repeat, MAX_ROWS + 1)):
                    rows[r] = list(cells)
            number += repeat
        sheets.append(_finish(str(table.name), rows, truncated))
    return sheets


# CSV ----------------------------------------------------------------------------------


def _read_csv(path: Path) -> Sheet:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise UnreadableSpreadsheet(
            f"{path.name} n'est pas un tableur (ni .ods, ni .xlsx, ni .csv lisible) : enregistrez le "
            "registre dans l'un de ces formats"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    if not text.strip():
        raise UnreadableSpreadsheet(f"{path.name} est vide : aucune donnée à importer")
    sample = "\n".join(text.splitlines()[:30])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=";,\t").delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in ";,\t"}
        delimiter = max(counts, key=lambda d: counts[d])
    rows: dict[int, list[str]] = {}
    truncated = False
    for number, values in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        if number > MAX_ROWS:
            truncated = True
            break
        cells = [_text(v) for v in values[:MAX_COLUMNS]]
        if any(cells):
            rows[number] = cells
    return _finish(path.stem, rows, truncated)


# --- loose matching of words -------------------------------------------------------------

_STOP = frozenset(
    [
        "a",
        "au",
        "aux",
        "d",
        "de",
        "des",
        "du",
        "en",
        "et",
        "l",
        "la",
        "le",
        "les",
        "ou",
        "s",
        "x",
        "un",
        "une",
        "sa",
        "son",
        "ses",
        "leur",
        "leurs",
        "etc",
        "par",
        "sur",
        "dans",
        "the",
        "of",
        "and",
    ]
)
_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=65536)
def _fold(text: str) -> str:
    """Lower case without accents, one character for one (positions are kept)."""
    out = []
    for ch in text:
        decomposed = unicodedata.normalize("NFKD", ch)
        out.append((decomposed[0] if decomposed else ch).lower())
    return "".join(out).replace("’", "'")


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("s"):
        return word[:-1]
    return word


def _tokens_at(text: str) -> list[tuple[str, int, int]]:
    """Significant words of ``text`` (folded, stemmed, stop words out) with their positions."""
    folded = _fold(text)
    return [
        (_stem(m.group()), m.start(), m.end())
        for m in _WORD.finditer(folded)
        if (m.group() not in _STOP and len(m.group()) > 1) or m.group().isdigit()
    ]


@lru_cache(maxsize=65536)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(t for t, _, _ in _tokens_at(text))


class _Matcher:
    """Phrases (labels, codes, synonyms) of a vocabulary, matched word by word."""

    def __init__(self, vocabulary: Vocabulary | None, synonyms: Mapping[str, Iterable[str]] = {}) -> None:
        self.phrases: dict[tuple[str, ...], str] = {}
        self.labels: dict[str, set[tuple[str, ...]]] = {}
        for code, words in synonyms.items():
            for phrase in words:
                self._add(phrase, code)
        if vocabulary is not None:
            for term in vocabulary:
                bare = re.sub(r"\([^)]*\)", " ", term.label)
                for phrase in (term.label, term.code.replace("-", " "), bare):
                    self._add(phrase, term.code)
                    self.labels.setdefault(term.code, set()).add(_tokens(phrase))
                if term.label_en:
                    self._add(term.label_en, term.code)
        self.longest = max((len(p) for p in self.phrases), default=0)

    def _add(self, phrase: str, code: str) -> None:
        key = _tokens(phrase)
        if key:
            self.phrases.setdefault(key, code)

    def at(self, tokens: Sequence[str], start: int) -> tuple[str, int] | None:
        """The longest phrase starting at ``tokens[start]``: its code and length."""
        for length in range(min(self.longest, len(tokens) - start), 0, -1):
            code = self.phrases.get(tuple(tokens[start : start + length]))
            if code is not None:
                return code, length
        return None

    def prefix(self, text: str) -> tuple[str, int] | None:
        """The code of the phrase ``text`` starts with, and the character offset after it."""
        found = _tokens_at(text)
        words = [t for t, _, _ in found]
        hit = self.at(words, 0)
        if hit is None:
            return None
        return hit[0], found[hit[1] - 1][2]

    def whole(self, text: str) -> str | None:
        """The code of the phrase ``text`` begins with, else ``None``."""
        hit = self.prefix(text)
        return hit[0] if hit else None

    def exact(self, text: str) -> str | None:
        """The code of ``text`` when it is exactly one phrase (extra punctuation aside)."""
        return self.phrases.get(_tokens(text))

    def is_label(self, code: str, text: str) -> bool:
        """``text`` is the entry's own label or code: it says nothing more than the code."""
        return _tokens(text) in self.labels.get(code, ())


_OPENING = "(["
_CLOSING = ")]"


def _split_depth0(text: str, separators: str) -> list[str]:
    """Split on separators outside parentheses and brackets."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch in _OPENING:
            depth += 1
        elif ch in _CLOSING:
            depth = max(0, depth - 1)
        if ch in separators and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _balanced_parts(text: str) -> list[str]:
    """Split a list cell on « ; » and line breaks, outside parentheses."""
    return _split_depth0(text.replace("\n", ";"), ";")


def _take_parenthesis(text: str) -> tuple[str, str]:
    """``"(a (b)) rest"`` → ``("a (b)", "rest")``; text not starting with « ( » is returned as is."""
    stripped = text.lstrip()
    if not stripped.startswith("("):
        return "", text
    depth = 0
    for i, ch in enumerate(stripped):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return stripped[1:i].strip(), stripped[i + 1 :]
    return stripped[1:].strip(), ""


_NONE_EXACT = frozenset(
    {"", "-", "--", "—", "–", "/", "x", "n/a", "na", "nc", "non", "neant", "aucun", "aucune", "sans objet",
     "non concerne", "non concernee", "non applicable", "non renseigne", "non renseignee", "non renseignees",
     "pas de transfert", "ras"}
)  # fmt: skip
_NONE_PREFIX = ("non concern", "non collect", "sans objet", "non applicable", "n/a", "aucun ", "aucune ", "neant",
                "pas de ", "pas d'", "non renseign")  # fmt: skip


def _is_none(text: str) -> bool:
    """« Non concerné », « N/A », « — »…: the cell says there is nothing."""
    folded = " ".join(_fold(text).split()).strip(" .!;:")
    return folded in _NONE_EXACT or folded.startswith(_NONE_PREFIX)


# --- synonyms ----------------------------------------------------------------------------

_BASIS_SYNONYMS = {
    "consentement": ["consentement", "consentement personne", "consentement explicite"],
    "contrat": ["contrat", "contractuel", "execution contrat", "mesure precontractuelle", "precontractuel"],
    "obligation-legale": [
        "obligation legale",
        "obligation reglementaire",
        "respect obligation legale",
        "obligation legale reglementaire",
    ],
    "interets-vitaux": ["interet vitaux", "interet vital", "sauvegarde interet vitaux"],
    "mission-interet-public": [
        "mission interet public",
        "execution mission interet public",
        "interet public",
        "mission service public",
        "mission publique",
        "autorite publique",
        "exercice autorite publique",
    ],
    "interet-legitime": ["interet legitime", "interet legitime responsable"],
    "a-determiner": ["determiner", "a determiner"],
}
_BASIS_ARTICLE = re.compile(r"6\s*[.(\-]?\s*1\s*[.)\-]?\s*[.(]?\s*([a-f])\s*\)?", re.IGNORECASE)
_BASIS_LETTERS = {
    "a": "consentement",
    "b": "contrat",
    "c": "obligation-legale",
    "d": "interets-vitaux",
    "e": "mission-interet-public",
    "f": "interet-legitime",
}

_CATEGORY_SYNONYMS = {
    "etat-civil-identite": [
        "etat civil",
        "identite",
        "identification",
        "donnee identification",
        "donnee identite",
        "coordonnee",
        "nom prenom",
        "nom",
        "image",
        "photo",
        "photographie",
        "adresse",
        "contact",
    ],
    "vie-personnelle": ["vie personnelle", "situation familiale", "habitude vie", "preference", "famille"],
    "vie-professionnelle": ["vie professionnelle", "cv", "formation", "scolarite", "carriere", "diplome"],
    "economique-financiere": [
        "economique financier",
        "information ordre economique financier",
        "donnee bancaire",
        "bancaire",
        "rib",
        "revenu",
        "donnee financiere",
        "financier",
        "situation financiere",
        "facturation",
        "paiement",
    ],
    "connexion": ["connexion", "donnee connexion", "adresse ip", "ip", "log", "journal"],
    "localisation": ["localisation", "donnee localisation", "geolocalisation", "gps"],
    "internet-traceurs": ["cookie", "traceur", "donnee navigation", "internet"],
    "sante": ["sante", "donnee sante", "donnee concernant sante", "medical", "medicale"],
    "genetique": ["genetique", "donnee genetique"],
    "biometrique": ["biometrique", "donnee biometrique"],
    "origine-raciale-ethnique": [
        "origine raciale",
        "origine ethnique",
        "donnee revelant origine raciale ethnique",
    ],
    "opinions-politiques": ["opinion politique", "donnee revelant opinion politique"],
    "convictions-religieuses-philosophiques": [
        "conviction religieuse",
        "conviction philosophique",
        "donnee revelant conviction religieuse philosophique",
    ],
    "appartenance-syndicale": ["appartenance syndicale", "donnee revelant appartenance syndicale"],
    "vie-sexuelle-orientation": [
        "vie sexuelle",
        "orientation sexuelle",
        "donnee concernant vie sexuelle orientation sexuelle",
    ],
    "infractions-condamnations": [
        "infraction",
        "condamnation",
        "condamnation penale",
        "donnee relative condamnation penale infraction",
        "casier judiciaire",
    ],
    "nir": ["nir", "numero securite sociale", "numero securite sociale nir", "securite sociale"],
    "autres": ["autre", "autre categorie"],
}

_SUBJECT_SYNONYMS = {
    "habitants": ["habitant", "administre", "resident", "population", "citoyen"],
    "usagers": ["usager", "usager service public"],
    "electeurs": ["electeur"],
    "contribuables": ["contribuable", "redevable"],
    "enfants": ["enfant", "mineur"],
    "parents": ["parent", "representant legal", "responsable legal"],
    "eleves": ["eleve", "etudiant", "ecolier"],
    "agents": ["agent", "salarie", "employe", "personnel", "stagiaire", "collaborateur", "fonctionnaire"],
    "candidats": ["candidat"],
    "elus": ["elu", "conseiller municipal"],
    "beneficiaires-aide-sociale": ["beneficiaire", "allocataire", "beneficiaire aide sociale"],
    "personnes-agees": ["personne agee", "senior"],
    "personnes-handicapees": ["personne handicapee", "handicap", "personne situation handicap"],
    "patients": ["patient"],
    "petitionnaires": ["petitionnaire", "demandeur"],
    "proprietaires": ["proprietaire", "occupant", "locataire"],
    "clients": ["client"],
    "prospects": ["prospect"],
    "fournisseurs": ["fournisseur", "prestataire"],
    "partenaires": ["partenaire", "contact professionnel"],
    "benevoles": ["benevole", "adherent"],
    "visiteurs": ["visiteur"],
    "personnes-filmees": ["personne filmee"],
    "autres": ["autre", "autre personne", "autre preciser"],
}

_SAFEGUARD_SYNONYMS = {
    "clauses-contractuelles-types": ["clause contractuelle type", "cct", "clause contractuelle", "scc"],
    "regles-entreprise-contraignantes": ["regle entreprise contraignante", "bcr"],
    "decision-adequation": ["decision adequation", "pays adequat", "adequation"],
    "code-conduite": ["code conduite"],
    "certification": ["certification"],
    "derogation-article-49": ["derogation", "derogation art 49", "derogation article 49"],
}

_COUNTRY_SYNONYMS = {
    "US": ["etats unis", "usa", "etats unis amerique", "etat uni"],
    "GB": ["royaume uni", "angleterre", "grande bretagne"],
    "KR": ["coree sud"],
    "KP": ["coree nord"],
    "FO": ["ile feroe"],
    "IM": ["ile man"],
    "CD": ["rep dem congo", "republique democratique congo"],
    "HK": ["hong kong"],
}

_FATE_SYNONYMS = {
    "destruction": ["destruction", "suppression", "effacement", "detruit", "supprime"],
    "versement-archives": ["versement archive", "archivage", "archive", "archive definitive"],
    "anonymisation": ["anonymisation", "anonymise"],
    "tri": ["tri"],
    "restitution": ["restitution"],
}


@dataclass(frozen=True)
class _Vocab:
    bases: _Matcher
    categories: _Matcher
    subjects: _Matcher
    countries: _Matcher
    safeguards: _Matcher
    fates: _Matcher
    conditions: _Matcher
    roles: _Matcher
    sources: _Matcher
    dpia: _Matcher
    vocabularies: Mapping[str, Vocabulary]


def _vocab() -> _Vocab:
    v = load_vocabularies()
    return _Vocab(
        _Matcher(v["bases-legales"], _BASIS_SYNONYMS),
        _Matcher(v["categories-donnees"], _CATEGORY_SYNONYMS),
        _Matcher(v["personnes-concernees"], _SUBJECT_SYNONYMS),
        _Matcher(v["pays"], _COUNTRY_SYNONYMS),
        _Matcher(v["garanties-transfert"], _SAFEGUARD_SYNONYMS),
        _Matcher(v["sorts-finaux"], _FATE_SYNONYMS),
        _Matcher(v["conditions-sensibles"]),
        _Matcher(v["roles"]),
        _Matcher(v["sources-donnees"]),
        _Matcher(v["statuts-aipd"]),
        v,
    )


# --- headings of a table -----------------------------------------------------------------

#: Field of the intermediate activity → headings that name it (any extra words allowed).
_HEADINGS: dict[str, tuple[str, ...]] = {
    "id": ("identifiant",),
    "name": (
        "activite",
        "nom traitement",
        "traitement",
        "nom activite",
        "intitule",
        "nom",
        "activite traitement",
        "denomination",
        "libelle traitement",
    ),
    "ref": ("ref", "reference traitement", "numero", "n ref", "no ref"),
    "controller": ("responsable traitement",),
    "joint": ("responsable conjoint",),
    "dpo": ("delegue protection donnee", "dpo"),
    "service": ("service", "service charge", "direction", "service en charge", "service responsable"),
    "status": ("statut fiche", "statut"),
    "role": ("role", "role membre"),
    "for_whom": ("pour compte",),
    "description": ("description", "description traitement"),
    "purpose": ("finalite principale", "finalite", "finalite traitement", "objectif", "objet"),
    "secondary": ("finalite secondaire", "sous finalite"),
    "basis": ("base legale", "fondement", "fondement juridique", "base juridique", "licite", "liceite"),
    "conditions": ("condition donnee sensible", "condition"),
    "sensitive": ("donnee sensible",),
    "subjects": ("personne concernee", "categorie personne", "categorie personne concernee"),
    "categories": ("categorie donnee", "donnee", "donnee traitee", "categorie donnee personnelle"),
    "retention": ("duree conservation", "conservation", "duree"),
    "recipients": ("destinataire",),
    "processors": ("sous traitant",),
    "transfers": ("transfert", "transfert hors ue", "transfert hors union europeenne"),
    "security": ("mesure securite", "securite"),
    "dpia": ("aipd", "analyse impact"),
    "reviewed": ("derniere revue", "revue"),
    "created": ("date creation", "creation", "date creation fiche"),
    "updated": ("mise jour", "derniere mise jour", "date mise jour"),
    "tools": ("logiciel", "outil", "application"),
    "sources": ("source", "source donnee"),
    "volume": ("volume", "nombre personne"),
    "notes": ("note", "remarque", "commentaire", "observation"),
}

_HEADING_PHRASES = sorted(
    ((_tokens(alias), key) for key, aliases in _HEADINGS.items() for alias in aliases),
    key=lambda item: -len(item[0]),
)


def _heading_field(text: str) -> str | None:
    """The field a heading names: the longest alias whose words all appear in it, in order."""
    words = _tokens(text)
    if not words:
        return None
    for alias, key in _HEADING_PHRASES:
        if _contains_in_order(words, alias):
            return key
    return None


def _contains_in_order(words: Sequence[str], alias: Sequence[str]) -> bool:
    position = 0
    for word in alias:
        try:
            position = words.index(word, position) + 1
        except ValueError:
            return False
    return True


def _our_columns() -> dict[str, str]:
    """The project's own export headings, by folded text (read at run time from dote.export)."""
    from dote import export

    mapping = {
        "Identifiant": "id",
        "Activité": "name",
        "Responsable de traitement": "controller",
        "Responsables conjoints": "joint",
        "Délégué à la protection des données": "dpo",
        "Service": "service",
        "Statut de la fiche": "status",
        "Rôle": "role",
        "Pour le compte de": "for_whom",
        "Finalité principale": "purpose",
        "Finalités secondaires": "secondary",
        "Base légale": "basis",
        "Conditions des données sensibles": "conditions",
        "Catégories de personnes": "subjects",
        "Catégories de données": "categories",
        "Durées de conservation": "retention",
        "Destinataires": "recipients",
        "Sous-traitants": "processors",
        "Transferts hors UE": "transfers",
        "Mesures de sécurité": "security",
        "AIPD": "dpia",
        "Dernière revue": "reviewed",
    }
    result = {}
    for column in export.COLUMNS:
        key = mapping.get(column) or _heading_field(column)
        if key:
            result[" ".join(_tokens(column))] = key
    return result


# --- the intermediate activity -----------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    """A value with where it was found (for the report)."""

    text: str
    sheet: str
    row: int
    column: str


@dataclass
class _Draft:
    sheet: str
    row: int
    layout: str  # "tableau" or "fiche"
    name: _Cell
    values: dict[str, _Cell] = field(default_factory=dict)
    secondary: list[_Cell] = field(default_factory=list)
    categories: list[tuple[_Cell, _Cell | None, _Cell | None]] = field(default_factory=list)
    subjects: list[tuple[_Cell, _Cell | None]] = field(default_factory=list)
    recipients: list[tuple[_Cell, _Cell | None]] = field(default_factory=list)
    transfers: list[tuple[_Cell | None, _Cell | None, _Cell | None, _Cell | None]] = field(
        default_factory=list
    )
    transfers_none: bool = False
    security: int = 0
    security_row: int = 0
    ignored: list[str] = field(default_factory=list)  # member-level data seen in a sheet


@dataclass(frozen=True)
class _Issue:
    sheet: str
    row: int
    column: str
    message: str


class _Notes:
    """The problems of an import, grouped for the report."""

    def __init__(self) -> None:
        self.issues: list[_Issue] = []
        self.general: list[str] = []

    def add(self, cell: _Cell, message: str) -> None:
        self.issues.append(_Issue(cell.sheet, cell.row, cell.column, message))

    def sheet(self, sheet: str, row: int, message: str) -> None:
        self.issues.append(_Issue(sheet, row, "", message))

    def lines(self) -> list[str]:
        groups: dict[tuple[str, str, str], list[int]] = {}
        sheets: dict[str, int] = {}
        for issue in self.issues:
            sheets.setdefault(issue.sheet, len(sheets))
            groups.setdefault((issue.sheet, issue.column, issue.message), []).append(issue.row)
        ordered = sorted(groups.items(), key=lambda item: (sheets[item[0][0]], min(item[1])))
        lines = []
        for (sheet, column, message), found in ordered:
            rows = sorted(set(found))
            where = f"feuille « {sheet} »"
            if rows and rows[0] > 0:
                shown = ", ".join(str(r) for r in rows[:SHOWN_ROWS])
                more = f" (et {_count(len(rows) - SHOWN_ROWS)} autres)" if len(rows) > SHOWN_ROWS else ""
                where += f", ligne{'s' if len(rows) > 1 else ''} {shown}{more}"
            if column:
                where += f", colonne « {column} »"
            lines.append(f"{where} : {message}")
        return lines


def _count(n: int) -> str:
    return f"{n:,}".replace(",", " ")


# --- recognising the layouts ---------------------------------------------------------------

_FICHE_LABELS: dict[str, tuple[str, ...]] = {
    "name": ("nom traitement",),
    "ref": ("ref",),
    "created": ("date creation traitement", "date creation"),
    "updated": ("mise jour traitement", "mise jour"),
    "actors": ("acteur",),
    "controller": ("responsable traitement",),
    "dpo": ("delegue protection donnee",),
    "dpo_company": ("societe dpo",),
    "representative": ("representant",),
    "joint": ("responsable conjoint",),
    "purposes": ("finalite traitement effectue",),
    "purpose": ("finalite principale",),
    "secondary": ("sous finalite",),
    "categories": ("categorie donnee personnelle concernee",),
    "sensitive": ("donnee sensible",),
    "subjects": ("categorie personne concernee",),
    "recipients": ("destinataire",),
    "security": ("mesure securite",),
    "transfers": ("transfert hors ue",),
    "description": ("description traitement",),
}
_FICHE_PHRASES = sorted(
    ((_tokens(alias), key) for key, aliases in _FICHE_LABELS.items() for alias in aliases),
    key=lambda item: -len(item[0]),
)
_SECTIONS = {"categories", "sensitive", "subjects", "recipients", "security", "transfers"}


def _fiche_label(text: str) -> str | None:
    words = _tokens(text)
    for alias, key in _FICHE_PHRASES:
        if words[: len(alias)] == alias:
            return key
    return None


def _first(cells: Sequence[str]) -> tuple[int, str]:
    for i, text in enumerate(cells):
        if text:
            return i, text
    return -1, ""


def _is_fiche(sheet: Sheet) -> bool:
    found = set()
    for _, cells in sheet.rows[:120]:
        col, text = _first(cells)
        if col > 1:
            continue
        key = _fiche_label(text)
        if key:
            found.add(key)
    return (
        "name" in found and len(found & {"purpose", "purposes", "categories", "subjects", "recipients"}) >= 2
    )


def _is_example(sheet: Sheet) -> bool:
    """The CNIL model's own example sheet (« Exemple de fiche de registre »)."""
    if "exemple" in _fold(sheet.name):
        return True
    return any(_fold(_first(cells)[1]).startswith("exemple de fiche") for _, cells in sheet.rows[:3])


_SCALARS = frozenset(
    {"name", "ref", "created", "updated", "purpose", "description", "joint", "controller", "dpo", "dpo_company",
     "representative", "actors", "purposes", "secondary"}
)  # fmt: skip
_MEMBER_LEVEL = frozenset({"controller", "dpo", "dpo_company", "representative"})


def _is_help(text: str) -> bool:
    """The CNIL model's guide links down the right of its sheets (« ► Destinataires »…)."""
    return text.lstrip("[ ").startswith("►") or _fold(text).startswith("consulter les guides")


def _read_fiche(sheet: Sheet, notes: _Notes) -> _Draft | None:
    section = ""
    values: dict[str, _Cell] = {}
    secondary: list[_Cell] = []
    name_cell: _Cell | None = None
    member_level = False
    pending: list[tuple[str, int, list[str]]] = []
    for number, cells in sheet.rows:
        cells = ["" if _is_help(t) else t for t in cells]
        col, label = _first(cells)
        if col < 0:
            continue
        key = _fiche_label(label) if col <= 1 else None
        words = _tokens(label)
        if key in _SECTIONS and words and words[-1].isdigit():
            key = None  # an item of a section (« Destinataire 2 »), not its heading
        if key in _SECTIONS:
            section = key or ""
            continue
        if key in _SCALARS:
            section = ""
            value = next((t for t in cells[col + 1 :] if t), "")
            cell = _Cell(value, sheet.name, number, label.strip())
            if key == "name":
                name_cell = cell
            elif key == "secondary":
                if value:
                    secondary.append(cell)
            elif key in _MEMBER_LEVEL:
                member_level = member_level or (bool(value) and not _is_none(value))
            elif value and key not in ("actors", "purposes"):
                values[key or ""] = cell
            continue
        if section:
            pending.append((section, number, cells))
    if name_cell is None or not name_cell.text:
        return None
    draft = _Draft(sheet.name, name_cell.row, "fiche", name_cell, values, secondary)
    if member_level:
        notes.sheet(sheet.name, 0, "coordonnées du responsable de traitement et du DPO non reprises : elles "
                    "figurent dans la fiche du membre (member.yml)")  # fmt: skip
    _fiche_sections(draft, sheet, pending, notes)
    return draft


def _fiche_sections(
    draft: _Draft, sheet: Sheet, pending: list[tuple[str, int, list[str]]], notes: _Notes
) -> None:
    layout: dict[str, dict[str, int]] = {}
    absent: list[str] = []
    for section, number, cells in pending:
        cols = layout.setdefault(section, _section_columns(sheet, section, number))

        def at(name: str, default: int, cells: list[str] = cells, cols: dict[str, int] = cols) -> str:
            i = cols.get(name, default)
            text = cells[i] if 0 <= i < len(cells) else ""
            return "" if _fold(text).startswith("selectionnez") else text

        def cell(text: str, column: str, number: int = number) -> _Cell | None:
            return _Cell(text, sheet.name, number, column) if text else None

        _, label = _first(cells)
        main, details = at("main", 1), at("details", 4)
        if section in ("categories", "sensitive"):
            retention = at("retention", 4)
            if main and _is_none(main):
                absent.append(_short(label, 40))
                continue
            if not main and (not retention or _is_none(retention)):
                continue  # a line of the model left blank
            draft.categories.append(
                (_Cell(label, sheet.name, number, label), cell(main, label), cell(retention, label))
            )
        elif section == "subjects":
            if main and not _is_none(main):
                draft.subjects.append((_Cell(main, sheet.name, number, label), cell(details, label)))
        elif section == "recipients":
            if main or details:
                draft.recipients.append((_Cell(main, sheet.name, number, label), cell(details, label)))
        elif section == "security":
            if main or details:
                draft.security_row = draft.security_row or number
                draft.security += 1
        elif section == "transfers":
            dest, country, safeguard = at("main", 1), at("country", 2), at("safeguard", 3)
            if not (dest or country):
                continue
            if _is_none(dest) and not country:
                draft.transfers_none = True
                continue
            draft.transfers.append(
                (cell(dest, label), cell(country, label), cell(safeguard, label), cell(details, label))
            )
    if absent:
        notes.sheet(sheet.name, 0, "catégories marquées non concernées, non reprises : " + " ; ".join(absent))


def _section_columns(sheet: Sheet, section: str, first_row: int) -> dict[str, int]:
    """The columns of a section of the CNIL sheet, read from its heading row (just above)."""
    heading: list[str] = []
    for number, cells in sheet.rows:
        if number >= first_row:
            break
        col, label = _first(cells)
        if col <= 1 and _fiche_label(label) == section:
            heading = cells
    cols: dict[str, int] = {}
    for i, text in enumerate(heading):
        if i == 0 or not text:
            continue
        h = _fold(text)
        if section == "transfers" and "destinataire" in h:
            cols.setdefault("main", i)
        elif "pays" in h:
            cols.setdefault("country", i)
        elif "garantie" in h:
            cols.setdefault("safeguard", i)
        elif "duree" in h:
            cols.setdefault("retention", i)
        elif "description" in h or "type" in h:
            cols.setdefault("main", i)
        elif "precision" in h or "lien" in h or "documentation" in h:
            cols.setdefault("details", i)
    return cols


# tables -------------------------------------------------------------------------------


def _header(sheet: Sheet, ours: Mapping[str, str]) -> tuple[int, dict[int, tuple[str, str]]] | None:
    """The header row (index in ``sheet.rows``) and, by column, (field or "", heading)."""
    best: tuple[int, int, dict[int, tuple[str, str]]] | None = None
    for index, (_, cells) in enumerate(sheet.rows[:30]):
        columns: dict[int, tuple[str, str]] = {}
        used: set[str] = set()
        for col, text in enumerate(cells):
            if not text or (col > 0 and cells[col - 1] == text):
                continue  # a heading merged across columns counts once
            key = ours.get(" ".join(_tokens(text))) or _heading_field(text)
            if key is not None and key in used:
                key = None
            if key is not None:
                used.add(key)
            columns[col] = (key or "", " ".join(text.split()))
        previous = sheet.rows[index - 1][1] if index > 0 else []
        if (
            len({t for t in previous if t}) >= 2
        ):  # a heading on two lines (« Données sensibles ? » / « Oui/non »)
            for col, text in enumerate(previous):
                if not text or (col > 0 and previous[col - 1] == text) or columns.get(col, ("", ""))[0]:
                    continue
                key = _heading_field(text)
                if key is not None and key not in used:
                    used.add(key)
                    columns[col] = (key, " ".join(text.split()))
        score = len(used)
        if "name" in used and score >= 2 and (best is None or score > best[1]):
            best = (index, score, columns)
    if best is None:
        return None
    return best[0], best[2]


_NOTE_START = ("note", "nb", "n.b", "remarque", "*", "source", "legende", "attention", "mise a jour le")


def _read_table(sheet: Sheet, ours: Mapping[str, str], notes: _Notes) -> list[_Draft] | None:
    found = _header(sheet, ours)
    if found is None:
        return None
    index, columns = found
    unknown = [heading for key, heading in columns.values() if not key]
    if unknown:
        header_row = sheet.rows[index][0]
        for heading in unknown:
            notes.sheet(sheet.name, header_row, f"colonne « {heading} » non reconnue : ignorée")
    name_col = next(col for col, (key, _) in columns.items() if key == "name")
    header_cells = sheet.rows[index][1]
    drafts = []
    for number, cells in sheet.rows[index + 1 :]:
        if cells == header_cells:
            continue
        name = cells[name_col] if name_col < len(cells) else ""
        filled = [i for i, t in enumerate(cells) if t]
        if not name:
            notes.sheet(sheet.name, number, "ligne sans nom de traitement : ignorée")
            continue
        folded = _fold(name)
        if folded.startswith("(exemple)") or folded.startswith("exemple :"):
            notes.sheet(sheet.name, number, f"« {_short(name)} » : exemple du modèle, ignoré")
            continue
        if filled == [name_col] and (folded.startswith(_NOTE_START) or len(name) > 150):
            notes.sheet(sheet.name, number, "note ignorée")
            continue
        draft = _Draft(sheet.name, number, "tableau", _Cell(name, sheet.name, number, columns[name_col][1]))
        for col, (key, heading) in columns.items():
            if not key or key == "name" or col >= len(cells) or not cells[col]:
                continue
            draft.values[key] = _Cell(cells[col], sheet.name, number, heading)
        drafts.append(draft)
    return drafts


def _is_ours(sheet: Sheet, ours: Mapping[str, str]) -> bool:
    """A table written by the project's own export (most of :data:`dote.export.COLUMNS`)."""
    found = _header(sheet, ours)
    if found is None:
        return False
    headings = {" ".join(_tokens(text)) for _, text in found[1].values()}
    return "identifiant" in headings and len(headings & set(ours)) >= len(ours) // 2


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- mapping values ------------------------------------------------------------------------

_NUMBERS = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8,
    "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "quinze": 15, "vingt": 20, "trente": 30,
    "quarante": 40, "cinquante": 50, "soixante": 60, "cent": 100,
}  # fmt: skip
_UNIT = {"an": "Y", "ans": "Y", "annee": "Y", "annees": "Y", "mois": "M", "semaine": "W", "semaines": "W",
         "jour": "D", "jours": "D"}  # fmt: skip
_AMOUNT = r"(\d+|" + "|".join(_NUMBERS) + r")\s*(ans?|annees?|mois|semaines?|jours?)\b"
_DURATION = re.compile(rf"^\s*{_AMOUNT}((?:\s*(?:,|et)\s*{_AMOUNT})*)")
_AMOUNT_RE = re.compile(_AMOUNT)
_START = re.compile(
    r"^\s*,?\s*(?:a compter|a partir|apres|suivant|depuis|des)\s*(?:de\s*:|:)?\s*(?:(?:de la|du|des|de|la|le|les)\s+|de l'|d'|l')?",
)
_ISO = re.compile(r"^P(?=[0-9])([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?$")
_FATE_EXPORT = re.compile(r",?\s*sort final\s*:\s*")
_THEN = re.compile(r"[,;.]?\s*puis\s+")


def _iso_duration(folded: str) -> tuple[str, int] | None:
    """« 1 an et 6 mois … » → (P1Y6M, characters read); units must come in ISO order."""
    match = _DURATION.match(folded)
    if not match:
        return None
    parts: dict[str, int] = {}
    order = "YMWD"
    last = -1
    for amount in _AMOUNT_RE.finditer(folded, 0, match.end()):
        number = int(amount.group(1)) if amount.group(1).isdigit() else _NUMBERS[amount.group(1)]
        unit = _UNIT[amount.group(2)]
        if unit in parts or order.index(unit) <= last:
            return None
        last = order.index(unit)
        parts[unit] = number
    text = "P" + "".join(f"{parts[u]}{u}" for u in order if u in parts)
    return text, match.end()


def _retention(text: str, vocab: _Vocab) -> tuple[dict[str, str] | None, str]:
    """A retention cell → the schema's ``conservation`` block, and how it was read (French)."""
    text = text.strip().strip(".")
    if not text or _is_none(text):
        return None, ""
    result: dict[str, str] = {}
    fate_at = _FATE_EXPORT.search(_fold(text))
    tail = ""
    if fate_at:  # our own export: «…, sort final : Destruction, référence»
        after = text[fate_at.end() :]
        hit = vocab.fates.prefix(after)
        if hit:
            result["sort_final"] = hit[0]
            tail = after[hit[1] :].strip(" ,;)")
            tail = re.sub(r"^\s*\(?\s*conservation definitive\s*\)?\s*,?\s*", "", tail, flags=re.IGNORECASE)
            tail = tail.lstrip(" ,)")
        text = text[: fate_at.start()]
    else:
        then = _THEN.search(_fold(text))
        if then:
            hit = vocab.fates.prefix(text[then.end() :])
            if hit and not text[then.end() + hit[1] :].strip(" .;,"):
                result["sort_final"] = hit[0]
                text = text[: then.start()]
    folded = _fold(text)
    iso = text.strip() if _ISO.match(text.strip()) else None
    duration = (iso, len(text)) if iso else _iso_duration(folded)
    if duration is None:
        result = {"criteres": text.strip(" ,;"), **result}
        how = "gardée comme critères de conservation (pas de durée chiffrée reconnue)"
    else:
        result = {"duree": duration[0], **result}
        rest = text[duration[1] :]
        start = _START.match(_fold(rest))
        if start:
            rest = rest[start.end() :]
            depart, leftover = rest, ""
            paren = depart.find("(")
            if paren > 0:
                depart, leftover = depart[:paren], depart[paren:]
            if depart.strip(" ,;"):
                result["depart"] = depart.strip(" ,;")
            rest = leftover
        rest = rest.strip(" ,;")
        if rest:
            inner, after = _take_parenthesis(rest)
            result["precisions"] = (
                (inner + (" " + after.strip() if after.strip() else "")).strip() if inner else rest
            )
        how = ""
    if tail:
        result["reference"] = tail
    return result, how


def _basis(cell: _Cell, vocab: _Vocab, notes: _Notes) -> dict[str, str] | None:
    text = cell.text.strip()
    if _is_none(text):
        return None
    hit = vocab.bases.prefix(text)
    if hit is not None:
        code, end = hit
        rest = text[end:]
        term = vocab.vocabularies["bases-legales"][code]
        if _fold(rest).lstrip(" ,;:-–(").startswith(_fold(term.reference).lower()) and term.reference:
            rest = rest.lstrip(" ,;:-–(")[len(term.reference) :]
        result = {"code": code}
        if rest.strip(" .,;:)"):
            if rest.lstrip()[:1] in ",(:;-–":
                inner, after = _take_parenthesis(rest)
                reference = (inner + " " + after).strip(" ,;:-–") if inner else rest.strip(" ,;:-–")
                if reference:
                    result["reference"] = reference
            else:
                result["precisions"] = text
        return result
    letters = {_BASIS_LETTERS[m.group(1).lower()] for m in _BASIS_ARTICLE.finditer(text)}
    if len(letters) == 1:
        return {"code": letters.pop(), "precisions": text}
    notes.add(
        cell,
        f"« {_short(text)} » ne correspond à aucune base légale ; gardé en précisions avec le code "
        "provisoire « a-determiner » : à compléter",
    )
    return {"code": "a-determiner", "precisions": text}


def _list_codes(
    cell: _Cell, matcher: _Matcher, notes: _Notes, what: str, *, details: bool = False
) -> tuple[list[tuple[str, str]], list[str]]:
    """A list cell → (code, details) pairs and the pieces no code matches (kept as text)."""
    found: list[tuple[str, str]] = []
    leftovers: list[str] = []
    parts = _balanced_parts(cell.text)
    # our export writes «label (details) ; label (details)»; a «;» inside details continues them
    merged: list[str] = []
    for part in parts:
        if merged and merged[-1].count("(") > merged[-1].count(")"):
            merged[-1] += " ; " + part
        else:
            merged.append(part)
    for part in merged:
        rest = part
        while rest.strip(" ,/;"):
            rest = rest.lstrip(" ,/;")
            if _fold(rest).startswith("et "):
                rest = rest[3:]
            hit = matcher.prefix(rest)
            piece_end = len(_split_depth0(rest, ",/")[0]) if _split_depth0(rest, ",/") else len(rest)
            if hit is None:
                piece = rest[:piece_end].strip()
                rest = rest[piece_end:]
                if piece and not _is_none(piece):
                    leftovers.append(piece)
                continue
            code, end = hit
            rest_after = rest[end:]
            rest_after = (
                rest_after.lstrip("…. )]") if rest_after.lstrip().startswith(("…", ")", ".")) else rest_after
            )
            detail, rest_after = _take_parenthesis(rest_after)
            rest_after = re.sub(r"^\s*\[[^\]]*\]", "", rest_after)
            nxt = rest_after.lstrip()
            if nxt and nxt[0] not in ",/;" and not _fold(nxt).startswith("et "):
                # words after the phrase (« Habitants de la commune »): keep the whole piece as text
                tail_pieces = _split_depth0(nxt, ",/")
                extra = tail_pieces[0] if tail_pieces else nxt
                piece = rest[: len(rest) - len(nxt)] + extra
                rest = nxt[len(extra) :]
                found.append((code, piece.strip()))
                continue
            said = rest[:end].strip()
            if details and not detail and not matcher.is_label(code, said):
                detail = said  # a synonym (« Données bancaires »): the words say more than the code
            found.append((code, detail))
            rest = rest_after
    return found, leftovers


def _country(text: str, vocab: _Vocab) -> str | None:
    stripped = text.strip()
    if len(stripped) == 2 and stripped.upper() in vocab.vocabularies["pays"].terms:
        return stripped.upper()
    return vocab.countries.exact(stripped)


def _date(cell: _Cell, notes: _Notes) -> dt.date | None:
    text = cell.text.strip()
    for pattern, order in (
        (r"^(\d{4})-(\d{1,2})-(\d{1,2})", "ymd"),
        (r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$", "dmy"),
    ):
        m = re.match(pattern, text)
        if m:
            parts = dict(zip(order, (int(g) for g in m.groups()), strict=True))
            try:
                return dt.date(parts["y"], parts["m"], parts["d"])
            except ValueError:
                break
    notes.add(cell, f"« {_short(text)} » n'est pas une date lisible (JJ/MM/AAAA) : non reprise")
    return None


# --- building an activity ------------------------------------------------------------------


@dataclass
class _Context:
    vocab: _Vocab
    processors: Mapping[str, str]  # folded name or id → processor id
    members: frozenset[str]


_INTERNAL = ("service", "direction", "pole", "equipe", "maire", "elu", "agent", "drh", "ressources humaines",
             "secretariat", "accueil", "cabinet du", "conseil municipal", "bureau", "dga", "dgs")  # fmt: skip


def _build(draft: _Draft, ctx: _Context, notes: _Notes) -> dict[str, Any]:
    """The activity's YAML data (without the missing required fields check)."""
    v = draft.values
    data: dict[str, Any] = {
        "version_schema": 1,
        "nom": " ".join(draft.name.text.split()),
        "statut": "brouillon",
    }
    if "description" in v and not _is_none(v["description"].text):
        data["description"] = v["description"].text
    if "role" in v:
        code = ctx.vocab.roles.whole(v["role"].text)
        if code:
            data["role"] = code
        else:
            notes.add(v["role"], f"« {_short(v['role'].text)} » ne correspond à aucun rôle : non repris")
    if "joint" in v and not _is_none(v["joint"].text):
        data["responsables_conjoints"] = [{"nom": n} for n in _balanced_parts(v["joint"].text)]
    if "for_whom" in v and not _is_none(v["for_whom"].text):
        served: list[Any] = []
        for name in _balanced_parts(v["for_whom"].text):
            ident = slugify(name)
            served.append(ident if ident in ctx.members else {"nom": name})
        data["pour_le_compte_de"] = served
    if "service" in v and not _is_none(v["service"].text):
        data["service"] = v["service"].text
    purposes: dict[str, Any] = {}
    if "purpose" in v and not _is_none(v["purpose"].text):
        purposes["principale"] = v["purpose"].text
    secondary = [c.text for c in draft.secondary if not _is_none(c.text)]
    if "secondary" in v and not _is_none(v["secondary"].text):
        secondary += _balanced_parts(v["secondary"].text)
    if secondary:
        if "principale" not in purposes:
            purposes["principale"] = secondary.pop(0)
        if secondary:
            purposes["secondaires"] = secondary
    if purposes:
        data["finalites"] = purposes
    if "basis" in v:
        basis = _basis(v["basis"], ctx.vocab, notes)
        if basis:
            data["base_legale"] = basis
    if "conditions" in v and not _is_none(v["conditions"].text):
        codes, rest = _list_codes(v["conditions"], ctx.vocab.conditions, notes, "condition")
        if codes:
            data["conditions_sensibles"] = [{"code": c} for c in dict.fromkeys(c for c, _ in codes)]
        for piece in rest:
            notes.add(v["conditions"], f"« {_short(piece)} » ne correspond à aucune condition de l'article 9 : "
                      "non reprise, à compléter")  # fmt: skip
    if "sensitive" in v and _fold(v["sensitive"].text).startswith(("oui", "yes")):
        notes.add(v["sensitive"], "données sensibles signalées : indiquez lesquelles dans les catégories de "
                  "données et la condition qui les autorise (conditions_sensibles)")  # fmt: skip
    _subjects(draft, data, ctx, notes)
    _categories(draft, data, ctx, notes)
    _recipients(draft, data, ctx, notes)
    _transfers(draft, data, ctx, notes)
    if "tools" in v and not _is_none(v["tools"].text):
        data["outils"] = _balanced_parts(v["tools"].text)
    if "sources" in v and not _is_none(v["sources"].text):
        codes, rest = _list_codes(v["sources"], ctx.vocab.sources, notes, "source")
        if codes:
            data["sources"] = list(dict.fromkeys(c for c, _ in codes))
        if rest:
            data["sources_precisions"] = " ; ".join(rest)
    if "volume" in v:
        digits = re.sub(r"[\s  .]", "", v["volume"].text)
        if digits.isdigit():
            data["volume"] = int(digits)
        else:
            notes.add(v["volume"], f"« {_short(v['volume'].text)} » n'est pas un nombre : non repris")
    if "dpia" in v and not _is_none(v["dpia"].text):
        hit = ctx.vocab.dpia.prefix(v["dpia"].text)
        if hit:
            aipd: dict[str, Any] = {"statut": hit[0]}
            m = re.search(r"(\d{4}-\d{2}-\d{2})", v["dpia"].text)
            if m:
                aipd["date"] = dt.date.fromisoformat(m.group(1))
            data["aipd"] = aipd
        else:
            notes.add(
                v["dpia"], f"« {_short(v['dpia'].text)} » ne correspond à aucun état d'AIPD : non repris"
            )
    dates = {}
    for key, target in (("created", "creation"), ("updated", "mise_a_jour"), ("reviewed", "revue")):
        if key in v and not _is_none(v[key].text):
            value = _date(v[key], notes)
            if value:
                dates[target] = value
    if dates:
        data["dates"] = dates
    if draft.security or ("security" in v and not _is_none(v["security"].text)):
        cell = v.get("security") or _Cell("", draft.sheet, draft.security_row or draft.row, "")
        notes.add(cell, "mesures de sécurité non importées : confidentielles, elles ne s'écrivent pas dans "
                  "registers/ ; reportez-les dans le dépôt confidentiel (champ mesures_securite, voir "
                  "docs/guide/confidentiel.md)")  # fmt: skip
    if "notes" in v:
        notes.add(v["notes"], "notes non importées (à reporter si besoin dans notes_internes, dans le dépôt "
                  "confidentiel)")  # fmt: skip
    return data


def _subjects(draft: _Draft, data: dict[str, Any], ctx: _Context, notes: _Notes) -> None:
    """Data subjects: each « ; » part is codes, or text kept verbatim in ``personnes_precisions``."""
    codes: list[str] = []
    details: list[str] = []
    cells = list(draft.subjects)
    if "subjects" in draft.values:
        cells.append((draft.values["subjects"], None))
    for cell, precision in cells:
        if _is_none(cell.text):
            continue
        for index, part in enumerate(_balanced_parts(cell.text)):
            found, rest = _list_codes(replace(cell, text=part), ctx.vocab.subjects, notes, "personnes")
            clean = [c for c, _ in found]
            if found and not rest and not any(d for _, d in found):
                codes += clean
                continue
            if index == 0:  # later parts that are not a plain list of labels are details (as exported)
                codes += clean
            details.append(part)
            if not found:
                notes.add(cell, f"« {_short(part)} » ne correspond à aucune catégorie de personnes : gardé en "
                          "précisions (personnes_precisions), à compléter")  # fmt: skip
        if precision is not None and not _is_none(precision.text):
            details.append(precision.text)
    if codes:
        data["personnes_concernees"] = list(dict.fromkeys(codes))
    if details:
        data["personnes_precisions"] = " ; ".join(dict.fromkeys(details))


def _categories(draft: _Draft, data: dict[str, Any], ctx: _Context, notes: _Notes) -> None:
    result: list[dict[str, Any]] = []
    for label, description, retention in draft.categories:  # the CNIL sheet: one category a row
        code = ctx.vocab.categories.whole(label.text)
        if code is None and description is not None:
            code = ctx.vocab.categories.whole(description.text)
        if code is None:
            notes.add(label, f"« {_short(label.text)} » ne correspond à aucune catégorie de données : non "
                      "reprise, à compléter")  # fmt: skip
            continue
        entry: dict[str, Any] = {"code": code}
        precisions = []
        if not (ctx.vocab.categories.is_label(code, label.text) or _cnil_label(label.text)):
            precisions.append(label.text)
        if description is not None and not _is_none(description.text):
            precisions.append(description.text)
        if precisions:
            entry["precisions"] = " : ".join(precisions)
        if retention is not None:
            block, how = _retention(retention.text, ctx.vocab)
            if block:
                entry["conservation"] = block
                if how:
                    notes.add(retention, f"« {_short(retention.text)} » {how}")
        result.append(entry)
    if "categories" in draft.values:
        cell = draft.values["categories"]
        found, rest = _list_codes(cell, ctx.vocab.categories, notes, "catégories", details=True)
        for code, detail in found:
            result.append({"code": code, **({"precisions": detail} if detail else {})})
        for piece in rest:
            notes.add(cell, f"« {_short(piece)} » ne correspond à aucune catégorie de données : non reprise, "
                      "à compléter")  # fmt: skip
    if "retention" in draft.values:
        _table_retention(draft.values["retention"], result, ctx, notes)
    if result:
        data["categories_donnees"] = result


def _cnil_label(text: str) -> bool:
    """One of the CNIL model's own category labels (then it says nothing more than the code)."""
    folded = _fold(text)
    return folded.startswith(("donnees revelant", "donnees concernant", "donnees relatives", "donnees de ",
                              "donnees genetiques", "donnees biometriques", "numero de securite sociale",
                              "informations d'ordre", "vie personnelle (", "etat civil, identite"))  # fmt: skip


def _table_retention(cell: _Cell, categories: list[dict[str, Any]], ctx: _Context, notes: _Notes) -> None:
    """« Durée de conservation » of a table: one duration for all, or «catégorie : durée ; …»."""
    if _is_none(cell.text):
        return
    if not categories:
        notes.add(
            cell, "durée de conservation non reprise : aucune catégorie de données à laquelle l'associer"
        )
        return
    labelled: list[tuple[str, str]] = []
    for part in _balanced_parts(cell.text):
        head, sep, rest = part.partition(" : ")
        code = ctx.vocab.categories.whole(head) if sep else None
        if (
            code is not None
            and ctx.vocab.categories.prefix(head)
            and not _tokens(
                head[ctx.vocab.categories.prefix(head)[1] :]  # type: ignore[index]
            )
        ):
            labelled.append((code, rest))
        elif labelled:
            labelled[-1] = (labelled[-1][0], labelled[-1][1] + " ; " + part)
        else:
            labelled = []
            break
    if labelled:
        pending = list(categories)
        for code, text in labelled:
            target = next((c for c in pending if c["code"] == code), None)
            if target is None:
                notes.add(cell, f"durée « {_short(text)} » d'une catégorie absente de « Catégories de données » : "
                          "non reprise")  # fmt: skip
                continue
            pending.remove(target)
            if _fold(text).strip() == "non renseignee":
                continue
            block, how = _retention(text, ctx.vocab)
            if block:
                target["conservation"] = block
                if how:
                    notes.add(cell, f"« {_short(text)} » {how}")
        return
    block, how = _retention(cell.text, ctx.vocab)
    if block is None:
        return
    for category in categories:
        category["conservation"] = dict(block)
    if how:
        notes.add(cell, f"« {_short(cell.text)} » {how}")
    if len(categories) > 1:
        notes.add(
            cell, "une seule durée pour toutes les catégories de données : appliquée à chacune, à vérifier"
        )


def _recipients(draft: _Draft, data: dict[str, Any], ctx: _Context, notes: _Notes) -> None:
    internal: list[str] = []
    external: list[str] = []
    processors: list[str] = []
    for kind, precision in draft.recipients:  # the CNIL sheet: type of recipient and details
        folded = _fold(kind.text)
        detail = precision.text if precision is not None else ""
        if "interne" in folded:
            internal.append(detail or kind.text)
        elif "sous-traitant" in folded or "sous traitant" in folded:
            _processor(detail or kind.text, precision or kind, processors, ctx, notes)
        elif "autre" in folded or not kind.text or not detail:
            external.append(detail or kind.text)
        else:
            external.append(f"{kind.text} : {detail}")
    if "recipients" in draft.values and not _is_none(draft.values["recipients"].text):
        cell = draft.values["recipients"]
        guessed = False
        for item in _balanced_parts(cell.text):
            if _fold(item).startswith(_INTERNAL):
                internal.append(item)
                guessed = True
            else:
                external.append(item)
        if guessed:
            notes.add(cell, "destinataires répartis entre services internes et organismes externes d'après leur "
                      "libellé : à vérifier")  # fmt: skip
    if "processors" in draft.values and not _is_none(draft.values["processors"].text):
        cell = draft.values["processors"]
        for item in _balanced_parts(cell.text):
            _processor(item, cell, processors, ctx, notes)
    block: dict[str, Any] = {}
    if internal:
        block["internes"] = list(dict.fromkeys(internal))
    if external:
        block["externes"] = list(dict.fromkeys(external))
    if processors:
        block["sous_traitants"] = list(dict.fromkeys(processors))
    if block:
        data["destinataires"] = block


def _processor(text: str, cell: _Cell, found: list[str], ctx: _Context, notes: _Notes) -> None:
    key = _fold(" ".join(text.split()))
    ident = ctx.processors.get(key) or ctx.processors.get(slugify(text))
    if ident:
        found.append(ident)
    else:
        notes.add(cell, f"sous-traitant « {_short(text)} » absent du registre (registers/processors/) : non "
                  "repris ; créez sa fiche puis ajoutez son identifiant")  # fmt: skip


def _transfers(draft: _Draft, data: dict[str, Any], ctx: _Context, notes: _Notes) -> None:
    result: list[dict[str, Any]] = []
    rows = list(draft.transfers)
    cell = draft.values.get("transfers")
    if cell is not None:
        text = cell.text
        derived = _fold(text).find("; par les sous-traitants")
        if derived >= 0:  # our export adds the processors' own transfers: they come from their files
            text = text[:derived]
        if _fold(text).strip() in ("non renseigne", ""):
            pass
        elif _is_none(text):
            draft.transfers_none = True
        else:
            for part in _balanced_parts(text):
                head, sep, rest = part.partition(" : ")
                code = _country(head, ctx.vocab) if sep else None
                if code is not None:
                    recipient, safeguard = rest, ""
                    if rest.rstrip().endswith(")") and "(" in rest:
                        recipient = rest[: rest.rfind("(")].strip()
                        safeguard = rest[rest.rfind("(") + 1 : rest.rstrip().rfind(")")]
                    rows.append(
                        (
                            _Cell(recipient, cell.sheet, cell.row, cell.column),
                            _Cell(head, cell.sheet, cell.row, cell.column),
                            _Cell(safeguard, cell.sheet, cell.row, cell.column) if safeguard else None,
                            None,
                        )
                    )
                else:
                    notes.add(cell, f"transfert « {_short(part)} » non repris : écrivez-le « pays : destinataire "
                              "(garantie) » ou complétez la fiche")  # fmt: skip
    for dest, country, guarantee, details in rows:
        where = dest or country
        assert where is not None
        code = _country(country.text, ctx.vocab) if country is not None else None
        if code is None or dest is None:
            what = (
                "pays non reconnu"
                if country is not None and code is None
                else "pays ou destinataire manquant"
            )
            shown = " / ".join(c.text for c in (dest, country) if c is not None)
            notes.add(where, f"transfert « {_short(shown)} » non repris ({what}) : à compléter")
            continue
        entry: dict[str, Any] = {"pays": code, "destinataire": dest.text}
        if guarantee is not None and not _is_none(guarantee.text):
            hit = ctx.vocab.safeguards.whole(guarantee.text)
            if hit:
                entry["garantie"] = hit
            else:
                notes.add(guarantee, f"« {_short(guarantee.text)} » ne correspond à aucune garantie de transfert "
                          "en vigueur : non reprise, à compléter")  # fmt: skip
        if details is not None and not _is_none(details.text):
            entry["precisions"] = details.text
        result.append(entry)
    if result:
        data["transferts"] = result
    elif draft.transfers_none:
        data["transferts"] = "aucun"


# --- the import --------------------------------------------------------------------------------

_REQUIRED = {
    "finalites": "la finalité principale",
    "personnes_concernees": "les personnes concernées",
    "categories_donnees": "les catégories de données",
}


def _context(root: Path) -> _Context:
    processors: dict[str, str] = {}
    folder = root / REGISTERS / PROCESSORS
    if folder.is_dir():
        for path in sorted(folder.glob("*.yml")):
            processors[path.stem] = path.stem
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError, UnicodeDecodeError):
                continue
            if isinstance(doc, dict) and isinstance(doc.get("nom"), str):
                processors[_fold(" ".join(doc["nom"].split()))] = path.stem
    members_dir = root / REGISTERS / MEMBERS
    members = (
        frozenset(p.name for p in members_dir.iterdir() if p.is_dir())
        if members_dir.is_dir()
        else frozenset()
    )
    return _Context(_vocab(), processors, members)


def _merge(drafts: list[_Draft], notes: _Notes) -> list[_Draft]:
    """A CNIL sheet and the list row of the same activity become one (the sheet wins)."""
    fiches = [d for d in drafts if d.layout == "fiche"]
    result = [d for d in drafts if d.layout == "fiche"]
    for draft in drafts:
        if draft.layout == "fiche":
            continue
        ref = draft.values.get("ref")
        twin = next(
            (
                f
                for f in fiches
                if slugify(f.name.text) == slugify(draft.name.text)
                or (ref is not None and "ref" in f.values and f.values["ref"].text == ref.text)
            ),
            None,
        )
        if twin is None:
            result.append(draft)
            continue
        for key, cell in draft.values.items():
            twin.values.setdefault(key, cell)
        notes.sheet(draft.sheet, draft.row, f"« {_short(draft.name.text)} » : fusionnée avec la fiche de la "
                    f"feuille « {twin.sheet} »")  # fmt: skip
    return result


def import_register(
    path: Path, member_id: str, root: Path, *, force: bool = False, dry_run: bool = False
) -> ImportReport:
    """Import the register spreadsheet ``path`` as draft activities of member ``member_id``.

    Raises :class:`UnreadableSpreadsheet` when the file cannot be read at all; everything
    else (unknown member, existing files, unmapped values) is said in the report.
    """
    report = ImportReport(dry_run=dry_run)
    folder = root / REGISTERS / MEMBERS / member_id
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", member_id) or not folder.is_dir():
        report.error = True
        report.lines.append(
            f"le membre « {member_id} » n'existe pas : créez-le d'abord (dossier registers/members/{member_id}/ "
            "et son member.yml), puis relancez l'import"
        )
        return report
    sheets = read_spreadsheet(path)
    if not any(sheet.rows for sheet in sheets):
        raise UnreadableSpreadsheet(f"{path.name} ne contient aucune donnée : rien à importer")
    chosen = _chosen(folder)
    ctx = _context(root)
    notes = _Notes()
    ours = _our_columns()
    drafts: list[_Draft] = []
    fiches: list[Sheet] = []
    ours_found = False
    for sheet in sheets:
        if sheet.truncated:
            notes.sheet(
                sheet.name, 0, f"plus de {_count(MAX_ROWS)} lignes : la suite de la feuille n'est pas lue"
            )
        if not sheet.rows:
            continue
        if _is_fiche(sheet):
            fiches.append(sheet)
            continue
        table = _read_table(sheet, ours, notes)
        if table is None:
            notes.sheet(
                sheet.name, 0, "ni tableau d'activités ni fiche de registre reconnus : feuille ignorée"
            )
            continue
        if not table:
            notes.sheet(sheet.name, 0, "tableau d'activités sans aucune activité : ignoré")
        ours_found = ours_found or _is_ours(sheet, ours)
        drafts.extend(table)
    for sheet in fiches:
        if ours_found:  # the project's own export: its « Registre » table has everything its sheets show
            notes.sheet(
                sheet.name, 0, "fiche détaillée de l'export de la Maison : le tableau des activités fait foi"
            )
        elif _is_example(sheet):
            notes.sheet(sheet.name, 0, "exemple de fiche du modèle de la CNIL : ignoré")
        elif (draft := _read_fiche(sheet, notes)) is None:
            notes.sheet(sheet.name, 0, "fiche de registre sans nom de traitement (modèle vierge) : ignorée")
        else:
            drafts.append(draft)
    drafts = _merge(drafts, notes)
    planned: list[tuple[Path, dict[str, Any], str]] = []
    taken: set[str] = set()
    missing_groups: dict[tuple[str, str], list[int]] = {}
    for draft in drafts:
        data = _build(draft, ctx, notes)
        missing = [label for key, label in _REQUIRED.items() if key not in data]
        if missing:
            what = ", ".join(missing)
            missing_groups.setdefault((draft.sheet, what), []).append(draft.row)
            report.not_imported.append(data["nom"])
            continue
        ident = _identifier(draft, taken)
        taken.add(ident)
        written, withheld = _public(data, chosen)
        if withheld:
            notes.sheet(draft.sheet, draft.row, "champs non publiés par ce membre non écrits dans registers/ (à "
                        f"placer dans le dépôt confidentiel) : {', '.join(withheld)}")  # fmt: skip
        target = folder / f"{ident}.yml"
        problems = validate_document(Document(target, relative_name(target, root), _plain(written)), "activite",
                                     partial=chosen is not None)  # fmt: skip
        if problems:
            report.not_imported.append(data["nom"])
            notes.sheet(draft.sheet, draft.row, f"« {_short(data['nom'])} » non importée : "
                        + "; ".join(p.message for p in problems[:3]))  # fmt: skip
            continue
        planned.append((target, written, data["nom"]))
    for (sheet_name, what), rows in missing_groups.items():
        for row in rows:
            notes.sheet(sheet_name, row, f"activité non importée : il manque {what} (le format les exige, même "
                        "pour un brouillon) ; complétez le tableur ou créez la fiche à la main")  # fmt: skip
    report.planned = [p for p, _, _ in planned]
    _conclude(report, planned, notes, sheets, path, root, force=force)
    return report


def activity_text(data: Mapping[str, Any]) -> str:
    """An activity file's text: the schema modeline, then the YAML (keys in the format's order)."""
    return register_text(data, ACTIVITY_SCHEMA)


def _plain(value: Any) -> Any:
    """The data as the loader reads it back (dates as text), for the schema check."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _identifier(draft: _Draft, taken: set[str]) -> str:
    given = draft.values.get("id")
    if given is not None and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", given.text) and given.text not in taken:
        return given.text
    base = slugify(draft.name.text)[:80].rstrip("-") or "activite"
    ident, n = base, 2
    while ident in taken:
        ident, n = f"{base}-{n}", n + 1
    return ident


def _chosen(folder: Path) -> frozenset[str] | None:
    member_file = folder / MEMBER_FILE
    try:
        member = yaml.safe_load(member_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    return published_fields(member) if isinstance(member, dict) else None


def _public(data: dict[str, Any], chosen: frozenset[str] | None) -> tuple[dict[str, Any], list[str]]:
    """What may be written in the public registers, and the keys left out (member "au choix")."""
    hidden = non_public_keys("activite")
    written = {k: v for k, v in data.items() if k not in hidden}
    if chosen is None:
        return written, []
    kept = published_view(written, chosen)
    return kept, [k for k in written if k not in kept]


def _conclude(
    report: ImportReport,
    planned: list[tuple[Path, dict[str, Any], str]],
    notes: _Notes,
    sheets: list[Sheet],
    path: Path,
    root: Path,
    *,
    force: bool,
) -> None:
    lines = report.lines
    lines.append(f"import de {path.name} ({len(sheets)} feuille{'s' if len(sheets) > 1 else ''})")
    existing = [p for p, _, _ in planned if p.exists()]
    problems = notes.lines()
    if not planned:
        report.error = True
        lines.append("aucune activité importable : rien n'a été écrit")
        lines.extend(problems)
        return
    if existing and not force:
        report.error = True
        lines.append(
            f"{len(existing)} fichier{'s' if len(existing) > 1 else ''} existe{'nt' if len(existing) > 1 else ''} "
            "déjà : rien n'a été écrit (l'import se fait en entier ou pas du tout) ; relancez avec --force pour "
            "les remplacer"
        )
        lines.extend(f"  {relative_name(p, root)}" for p in existing[:LISTED_FILES])
        if len(existing) > LISTED_FILES:
            lines.append(f"  … et {_count(len(existing) - LISTED_FILES)} autres")
        lines.extend(problems)
        return
    verb = "serait écrite" if report.dry_run else "écrite"
    if len(planned) <= LISTED_FILES:
        for target, _, name in planned:
            replaced = " (remplace le fichier existant)" if target in existing else ""
            lines.append(f"activité « {_short(name)} » {verb} : {relative_name(target, root)}{replaced}")
    else:
        folder = relative_name(planned[0][0].parent, root)
        lines.append(f"{_count(len(planned))} activités {verb}s dans {folder}/"
                     + (f" (dont {len(existing)} remplacées)" if existing else ""))  # fmt: skip
    if not report.dry_run:
        for target, written, _ in planned:
            write_atomic(target, activity_text(written))
            report.written.append(target)
    lines.append("statut « brouillon » sur chaque fiche : le DPO les relit avant de les valider")
    if report.not_imported:
        lines.append(f"{_count(len(report.not_imported))} activité{'s' if len(report.not_imported) > 1 else ''} "
                     "non importée{} (voir ci-dessous)".format("s" if len(report.not_imported) > 1 else ""))  # fmt: skip
    if problems:
        lines.append("à compléter ou vérifier :")
        lines.extend(f"  {line}" for line in problems)
    if report.dry_run:
        lines.append("simulation (--dry-run) : rien n'a été écrit")


__all__ = ["ImportReport", "Sheet", "UnreadableSpreadsheet", "import_register", "read_spreadsheet"]
