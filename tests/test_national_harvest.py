"""The national view's harvest (``dote national``): fetching, checking and keeping what Maisons publish.

Two small ``dote demo`` territories are built once for the module, with their ``site_url``
on a local server (127.0.0.1, a port taken first), into one served folder. Variants of
their published files (an older format, an invalid activity, a non-public field, data
announced on another origin) are copies of a built site with edited JSON. The server
answers conditional requests (ETag, Last-Modified) and records every request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dote.cli import main
from dote.national import config as national_config
from dote.national import harvest
from dote.national.model import SHOWN_ACTIVITY_KEYS, Harvest, MaisonHarvest

NOW = dt.datetime(2026, 12, 1, 10, 42, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 12, 2, 9, 5, tzinfo=dt.UTC)


# --- a local server over a folder -------------------------------------------------------------


@dataclass
class Served:
    root: Path
    port: int
    requests: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Seconds to wait before answering a path starting with "/lent/".
    delay: float = 2.0
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def statuses(self, prefix: str) -> list[int]:
        with self.lock:
            return [status for path, status, _ in self.requests if path.startswith(prefix)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    served: Served

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (a test's timeout) is expected."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        served = self.server.served
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = self.path.split("?", 1)[0]
        if path.startswith("/lent/") and served.stopping.wait(served.delay):
            return
        if path.startswith("/ailleurs-redirige/"):
            self._answer(path, headers, 302, {"Location": "http://localhost:1/x.json"}, b"")
            return
        if path.startswith("/passe-en-https/"):
            location = f"https://127.0.0.1:{served.port}{path}"
            self._answer(path, headers, 301, {"Location": location}, b"")
            return
        file = served.root / path.lstrip("/")
        if file.is_dir():
            file = file / "index.html"
        if ".." in path.split("/") or not file.is_file():
            self._answer(path, headers, 404, {}, b"introuvable")
            return
        body = file.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        modified = formatdate(file.stat().st_mtime, usegmt=True)
        validators = {"ETag": etag, "Last-Modified": modified}
        if headers.get("if-none-match") == etag:
            self._answer(path, headers, 304, validators, b"")
            return
        kind = "application/json" if file.suffix in (".json", ".jsonld") else "text/html"
        self._answer(path, headers, 200, validators | {"Content-Type": kind}, body)

    def _answer(
        self, path: str, headers: dict[str, str], status: int, extra: dict[str, str], body: bytes
    ) -> None:
        served = self.server.served
        with served.lock:
            served.requests.append((path, status, headers))
        self.send_response(status)
        for key, value in extra.items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)


def _build(root: Path, name: str, port: int, members: int, activities: int, seed: int, served: Path) -> None:
    territory = root / name
    assert (
        main(
            [
                "demo",
                str(territory),
                "--members",
                str(members),
                "--activities",
                str(activities),
                "--seed",
                str(seed),
            ]
        )
        == 0
    )
    config = territory / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    assert "# site_url: https://registres.example.org/" in text
    text = text.replace(
        "# site_url: https://registres.example.org/", f"site_url: http://127.0.0.1:{port}/{name}/"
    )
    config.write_text(text, encoding="utf-8")
    assert main(["build", str(territory), "--site-dir", str(served / name)]) == 0


def variant(
    served: Served, source: str, name: str, edit: Callable[[dict[str, Any]], None] | None = None
) -> None:
    """A copy of the served site ``source`` at ``name`` (its addresses rewritten), ``edit`` applied
    to its territory JSON."""
    target = served.root / name
    if target.exists():
        shutil.rmtree(target)
    folder = target / "donnees"
    folder.mkdir(parents=True)
    for file in ("catalogue.jsonld", "territoire.json"):
        text = (served.root / source / "donnees" / file).read_text(encoding="utf-8")
        (folder / file).write_text(text.replace(f"/{source}/", f"/{name}/"), encoding="utf-8")
    if edit is not None:
        path = folder / "territoire.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        edit(data)
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("national")
    root = base / "servi"
    root.mkdir()
    server = _Server(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    state = Served(root, port)
    server.served = state
    _build(base, "grand", port, 6, 3, 1, root)
    _build(base, "petit", port, 2, 2, 2, root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path, maisons: list[dict[str, Any]], **extra: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"version_schema": 1, "nom": "Registre national (essai)", **extra, "maisons": maisons}
    path = folder / "national.yml"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")  # JSON is YAML
    return path


def load(folder: Path, maisons: list[dict[str, Any]], **extra: Any) -> national_config.NationalConfig:
    return national_config.load(write_config(folder, maisons, **extra))


def by_id(result: Harvest) -> dict[str, MaisonHarvest]:
    return {m.source.id: m for m in result.maisons}


def published(served: Served, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (served.root / name / "donnees" / "territoire.json").read_text(encoding="utf-8")
    )
    return data


def activity_count(data: dict[str, Any]) -> int:
    return sum(len(m["activites"]) for m in data["membres"])


# --- the harvest ---------------------------------------------------------------------------------


def shown(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the harvest keeps in memory of published members: what the national site reads."""
    kept = []
    for member in members:
        activities = []
        for entry in member["activites"]:
            record = entry["activite"]
            reduced = {k: v for k, v in record.items() if k in SHOWN_ACTIVITY_KEYS}
            if "categories_donnees" in reduced:
                reduced["categories_donnees"] = [{"code": c["code"]} for c in record["categories_donnees"]]
            if "base_legale" in reduced:
                reduced["base_legale"] = {"code": record["base_legale"]["code"]}
            if "aipd" in reduced:
                reduced["aipd"] = {"statut": record["aipd"]["statut"]} if "statut" in record["aipd"] else {}
            screening = entry["depistage_aipd"]
            activities.append(
                {
                    "identifiant": entry["identifiant"],
                    "page": entry["page"],
                    "activite": reduced,
                    "depistage_aipd": {"verdict": screening["verdict"], "libelle": screening["libelle"]},
                }
            )
        label = member["label"]
        kept.append(
            {
                "membre": member["membre"],
                "label": {k: label[k] for k in ("niveau", "niveau_libelle") if k in label} if label else None,
                "activites": activities,
            }
        )
    return kept


def test_memory_holds_only_what_the_site_reads(served: Served, tmp_path: Path) -> None:
    config = load(tmp_path, [{"id": "grand", "site": served.url("grand/")}])
    maison = by_id(harvest.run(config, now=NOW))["grand"]
    assert maison.territory is not None
    text = json.dumps(maison.territory, ensure_ascii=False)
    source = published(served, "grand")
    # Retention texts, legal references and the label's details are in the kept file only.
    assert '"conservation"' in json.dumps(source) and '"conservation"' not in text
    assert '"criteres_non_remplis"' in json.dumps(source) and '"criteres_non_remplis"' not in text
    assert len(text) < len(json.dumps(source, ensure_ascii=False)) / 2
    kept = (config.harvest_dir / "grand" / "territoire.json").read_bytes()
    assert kept == (served.root / "grand" / "donnees" / "territoire.json").read_bytes()


def test_full_harvest_keeps_reviewable_files(served: Served, tmp_path: Path) -> None:
    config = load(
        tmp_path,
        [
            {"id": "grand", "site": served.url("grand/")},
            {"id": "petit", "nom": "La petite", "site": served.url("petit")},
        ],
    )
    result = harvest.run(config, now=NOW)
    assert result.when == NOW
    maisons = by_id(result)
    for name in ("grand", "petit"):
        maison = maisons[name]
        source = published(served, name)
        assert maison.status == "a-jour", maison.reason
        assert maison.issues == [] and not maison.older_format and maison.format_version == 2
        assert maison.last_success == NOW and maison.attempted == NOW
        assert maison.territory is not None and maison.usable
        assert maison.territory["membres"] == shown(source["membres"])
        assert maison.territory["sous_traitants"] == source["sous_traitants"]
        assert maison.catalogue_url == served.url(f"{name}/donnees/catalogue.jsonld")
        assert maison.dataset_url == served.url(f"{name}/donnees/territoire.json")
        # The files exactly as received.
        for file in ("catalogue.jsonld", "territoire.json"):
            kept = (config.harvest_dir / name / file).read_bytes()
            assert kept == (served.root / name / "donnees" / file).read_bytes()
        assert harvest.summary(maison) == (
            f"{name} : à jour, {len(source['membres'])} membre{'s' if len(source['membres']) > 1 else ''}, "
            f"{activity_count(source)} activités (format 2)"
        )
    assert maisons["petit"].name == "La petite"
    assert maisons["grand"].name == published(served, "grand")["maison"]["nom"]
    state_text = (config.harvest_dir / "etat.json").read_text(encoding="utf-8")
    state = json.loads(state_text)
    assert state_text == json.dumps(state, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    assert state["moisson"] == "2026-12-01T10:42:00+00:00"
    entry = state["maisons"]["grand"]
    assert entry["statut"] == "a-jour" and entry["derniere_reussite"] == "2026-12-01T10:42:00+00:00"
    assert entry["donnees"]["etag"].startswith('"') and entry["donnees"]["last_modified"].endswith("GMT")
    assert entry["version_format"] == 2 and entry["problemes"] == []
    # An honest User-Agent.
    with served.lock:
        agents = {h.get("user-agent", "") for p, _, h in served.requests if p.startswith("/grand/")}
    assert agents and all(a.startswith("maison-dote/") and "vue nationale" in a for a in agents)


def test_second_run_sends_conditional_requests_and_keeps_the_files(served: Served, tmp_path: Path) -> None:
    variant(served, "petit", "conditionnel")
    config = load(tmp_path, [{"id": "c", "site": served.url("conditionnel/")}])
    first = by_id(harvest.run(config, now=NOW))["c"]
    assert first.status == "a-jour"
    assert served.statuses("/conditionnel/") == [200, 200]
    second = by_id(harvest.run(config, now=LATER))["c"]
    assert second.status == "inchange", second.reason
    assert served.statuses("/conditionnel/") == [200, 200, 304, 304]
    with served.lock:
        sent = [h for p, s, h in served.requests if p.startswith("/conditionnel/") and s == 304]
    assert all(h.get("if-none-match", "").startswith('"') and h.get("if-modified-since") for h in sent)
    assert second.territory == first.territory and second.last_success == LATER
    assert harvest.summary(second).startswith("c : inchangée depuis la dernière moisson, 2 membres")
    # A changed dataset is read again (200) and kept.
    variant(served, "petit", "conditionnel", lambda d: d["membres"].pop())
    third = by_id(harvest.run(config, now=LATER))["c"]
    assert third.status == "a-jour" and third.territory is not None and len(third.territory["membres"]) == 1
    assert served.statuses("/conditionnel/")[-1] == 200


def test_unchanged_data_is_not_checked_again(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A « not modified » answer reads back the checked data instead of parsing and validating again."""
    variant(served, "petit", "memorise")
    config = load(tmp_path, [{"id": "m", "site": served.url("memorise/")}])
    checked: list[str] = []
    real = harvest.check_territory

    def counting(raw: bytes, base: str) -> Any:
        checked.append(base)
        return real(raw, base)

    monkeypatch.setattr(harvest, "check_territory", counting)
    first = by_id(harvest.run(config, now=NOW))["m"]
    assert len(checked) == 1
    entries = list((tmp_path / ".cache" / "dote-national").glob("*.json"))
    assert len(entries) == 1
    second = by_id(harvest.run(config, now=LATER))["m"]
    assert second.status == "inchange" and len(checked) == 1
    assert second.territory == first.territory and second.issues == first.issues
    assert harvest.read(config).maisons[0].territory == first.territory and len(checked) == 1
    # A damaged entry is ignored and rewritten; without the cache, every run checks.
    entries[0].write_text("{pas du json", encoding="utf-8")
    assert by_id(harvest.run(config, now=LATER))["m"].territory == first.territory
    assert len(checked) == 2
    monkeypatch.setenv("DOTE_CACHE", "0")
    harvest.run(config, now=LATER)
    assert len(checked) == 3
    monkeypatch.delenv("DOTE_CACHE")
    # Changed data: checked again, and the old entry is removed at the end of the run.
    variant(served, "petit", "memorise", lambda d: d["membres"].pop())
    harvest.run(config, now=LATER)
    assert len(checked) == 4
    remaining = list((tmp_path / ".cache" / "dote-national").glob("*.json"))
    assert len(remaining) == 1 and remaining[0] != entries[0]


def test_an_unreachable_maison_keeps_its_last_good_harvest_dated(tmp_path: Path) -> None:
    """A Maison whose server stops answering: reported with its last success, its files still used."""
    root = tmp_path / "servi"
    root.mkdir()
    server = _Server(("127.0.0.1", 0), _Handler)
    state = Served(root, server.server_address[1])
    server.served = state
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # A minimal publication for this server's port, made from the format itself.
        make_site(root / "nord", state.url("nord/"))
        config = load(tmp_path / "conf", [{"id": "nord", "site": state.url("nord/")}])
        first = by_id(harvest.run(config, now=NOW))["nord"]
        assert first.status == "a-jour", first.reason
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
    second = by_id(harvest.run(config, now=LATER))["nord"]
    assert second.status == "injoignable"
    assert second.reason.startswith("connexion impossible")
    assert second.last_success == NOW and second.attempted == LATER
    assert second.territory == first.territory and second.usable
    line = harvest.summary(second)
    assert line.startswith("nord : injoignable (connexion impossible")
    assert "dernière moisson réussie le 1er décembre 2026 à 10 h 42 UTC" in line
    state_data = json.loads((config.harvest_dir / "etat.json").read_text(encoding="utf-8"))["maisons"]["nord"]
    assert (
        state_data["statut"] == "injoignable"
        and state_data["derniere_reussite"] == "2026-12-01T10:42:00+00:00"
    )
    assert state_data["tentative"] == "2026-12-02T09:05:00+00:00"


def make_site(folder: Path, site: str) -> None:
    """A tiny valid publication (one member, one activity) at ``site``, written into ``folder``."""
    activity = {
        "version_schema": 1,
        "nom": "État civil",
        "statut": "soumis",
        "role": "responsable",
        "finalites": {"principale": "Établir les actes"},
        "base_legale": {"code": "obligation-legale"},
        "personnes_concernees": ["habitants"],
        "categories_donnees": [{"code": "etat-civil-identite"}],
    }
    data = {
        "format": "maison-dote-donnees-ouvertes",
        "version_format": 2,
        "maison": {"nom": "Maison du Nord"},
        "sous_traitants": [],
        "membres": [
            {
                "membre": {
                    "identifiant": "ville",
                    "nom": "Ville",
                    "type": "commune",
                    "page": f"{site}registres/ville/",
                },
                "label": None,
                "activites_non_publiees": 0,
                "activites": [
                    {
                        "identifiant": "etat-civil",
                        "page": f"{site}registres/ville/#etat-civil",
                        "activite": activity,
                    }
                ],
            }
        ],
    }
    catalogue = {
        "@id": f"{site}donnees/catalogue.jsonld",
        "dcat:dataset": [
            {
                "dct:identifier": "territoire",
                "dcat:distribution": [
                    {
                        "dcat:downloadURL": {"@id": f"{site}donnees/territoire.json"},
                        "dcat:mediaType": {
                            "@id": "http://www.iana.org/assignments/media-types/application/json"
                        },
                    }
                ],
            }
        ],
    }
    (folder / "donnees").mkdir(parents=True)
    (folder / "donnees" / "territoire.json").write_text(
        json.dumps(data, ensure_ascii=False), encoding="utf-8"
    )
    (folder / "donnees" / "catalogue.jsonld").write_text(json.dumps(catalogue), encoding="utf-8")


def test_a_closed_port_never_harvested_has_no_data(served: Served, tmp_path: Path) -> None:
    port = closed_port()
    config = load(
        tmp_path,
        [
            {"id": "ferme", "site": f"http://127.0.0.1:{port}/x/"},
            {"id": "petit", "site": served.url("petit/")},
        ],
    )
    maisons = by_id(harvest.run(config, now=NOW))
    assert maisons["ferme"].status == "injoignable" and maisons["ferme"].territory is None
    assert not maisons["ferme"].usable and maisons["ferme"].last_success is None
    assert "jamais moissonnée" in harvest.summary(maisons["ferme"])
    assert maisons["petit"].status == "a-jour"  # the others go on


def test_a_slow_maison_times_out_and_the_others_go_on(served: Served, tmp_path: Path) -> None:
    variant(served, "petit", "lent")
    config = load(
        tmp_path, [{"id": "lent", "site": served.url("lent/")}, {"id": "grand", "site": served.url("grand/")}]
    )
    started = time.monotonic()
    maisons = by_id(harvest.run(config, now=NOW, timeout=0.3))
    assert time.monotonic() - started < served.delay
    assert maisons["lent"].status == "injoignable"
    assert maisons["lent"].reason == "délai dépassé : pas de réponse en 0.3 s"
    assert maisons["grand"].status == "a-jour"


def test_http_errors_and_missing_catalogue(served: Served, tmp_path: Path) -> None:
    config = load(tmp_path, [{"id": "absent", "site": served.url("nulle-part/")}])
    maison = by_id(harvest.run(config, now=NOW))["absent"]
    assert maison.status == "injoignable" and maison.reason.startswith(
        "HTTP 404 : catalogue introuvable (une Maison ne publie son catalogue que si"
    )


def test_a_version_1_file_is_read_and_reported_as_older(served: Served, tmp_path: Path) -> None:
    def older(data: dict[str, Any]) -> None:
        del data["sous_traitants"]
        data["version_format"] = 1

    variant(served, "petit", "ancien", older)
    config = load(tmp_path, [{"id": "ancien", "site": served.url("ancien/")}])
    maison = by_id(harvest.run(config, now=NOW))["ancien"]
    assert maison.status == "a-jour" and maison.usable
    assert maison.format_version == 1 and maison.older_format
    assert maison.territory is not None and maison.territory["sous_traitants"] == []
    assert activity_count(maison.territory) == activity_count(published(served, "petit"))
    [issue] = maison.issues
    assert issue.severity == "avertissement"
    assert (
        "ancien" in issue.message
        and "noms des sous-traitants" in issue.message
        and "transferts" in issue.message
    )
    assert "(format 1)" in harvest.summary(maison) and "1 avertissement" in harvest.summary(maison)


def test_a_newer_format_is_read_with_a_warning(served: Served, tmp_path: Path) -> None:
    variant(served, "petit", "futur", lambda d: d.update(version_format=99))
    config = load(tmp_path, [{"id": "futur", "site": served.url("futur/")}])
    maison = by_id(harvest.run(config, now=NOW))["futur"]
    assert maison.status == "a-jour" and maison.format_version == 99 and not maison.older_format
    assert [i.message for i in maison.issues if "format plus récent que cet outil" in i.message]


def test_an_invalid_activity_is_removed_and_reported(served: Served, tmp_path: Path) -> None:
    removed: list[tuple[str, str]] = []

    def break_one(data: dict[str, Any]) -> None:
        member = data["membres"][0]
        entry = member["activites"][0]
        entry["activite"]["role"] = 42
        removed.append((member["membre"]["identifiant"], entry["identifiant"]))
        other = data["membres"][1]["activites"][0]
        other["page"] = "https://ailleurs.example/x/"
        removed.append((data["membres"][1]["membre"]["identifiant"], other["identifiant"]))

    variant(served, "grand", "invalide", break_one)
    config = load(tmp_path, [{"id": "invalide", "site": served.url("invalide/")}])
    maison = by_id(harvest.run(config, now=NOW))["invalide"]
    assert maison.status == "a-jour" and maison.territory is not None
    assert activity_count(maison.territory) == activity_count(published(served, "grand")) - 2
    kept = {
        (m["membre"]["identifiant"], a["identifiant"])
        for m in maison.territory["membres"]
        for a in m["activites"]
    }
    assert not kept & set(removed)
    errors = [i for i in maison.issues if i.severity == "erreur"]
    assert [(i.member, i.activity) for i in errors] == removed
    assert "schéma des activités" in errors[0].message and "« role »" in errors[0].message
    assert "n'est pas sur le site de la Maison" in errors[1].message
    assert "2 éléments refusés" in harvest.summary(maison)
    state = json.loads((config.harvest_dir / "etat.json").read_text(encoding="utf-8"))["maisons"]["invalide"]
    assert [(p["membre"], p["activite"], p["gravite"]) for p in state["problemes"]] == [
        (m, a, "erreur") for m, a in removed
    ]


def test_a_member_page_elsewhere_removes_the_member(served: Served, tmp_path: Path) -> None:
    variant(
        served,
        "petit",
        "membre-ailleurs",
        lambda d: d["membres"][0]["membre"].update(page="http://127.0.0.1:1/x/"),
    )
    config = load(tmp_path, [{"id": "m", "site": served.url("membre-ailleurs/")}])
    maison = by_id(harvest.run(config, now=NOW))["m"]
    assert maison.territory is not None and len(maison.territory["membres"]) == 1
    [issue] = maison.issues
    assert issue.member == published(served, "petit")["membres"][0]["membre"]["identifiant"]
    assert "le membre et ses activités ne sont pas repris" in issue.message


def test_a_non_public_field_refuses_the_maison_and_forgets_its_earlier_harvest(
    served: Served, tmp_path: Path
) -> None:
    variant(served, "petit", "fuite")
    config = load(tmp_path, [{"id": "fuite", "site": served.url("fuite/")}])
    assert by_id(harvest.run(config, now=NOW))["fuite"].status == "a-jour"
    folder = config.harvest_dir / "fuite"
    assert (folder / "territoire.json").is_file()
    leaked: list[str] = []

    def leak(data: dict[str, Any]) -> None:
        member = data["membres"][-1]
        entry = member["activites"][0]
        entry["activite"]["mesures_securite"] = {"controle_acces": "mot de passe partagé"}
        leaked.extend([member["membre"]["identifiant"], entry["identifiant"]])

    variant(served, "petit", "fuite", leak)
    maison = by_id(harvest.run(config, now=LATER))["fuite"]
    assert maison.status == "refuse" and maison.territory is None and not maison.usable
    assert maison.reason == (
        f"publie un champ non public « mesures_securite » (membre {leaked[0]}, activité {leaked[1]}) : "
        "rien n'est repris"
    )
    assert not (folder / "territoire.json").exists() and not (folder / "catalogue.jsonld").exists()
    assert harvest.summary(maison).startswith("fuite : refusée (publie un champ non public")
    again = by_id(harvest.read(config))["fuite"]
    assert again.status == "refuse" and again.territory is None
    # Even when it cannot be reached afterwards, nothing of it comes back.
    shutil.rmtree(served.root / "fuite")
    after = by_id(harvest.run(config, now=LATER))["fuite"]
    assert after.status == "injoignable" and after.territory is None


def test_a_non_public_member_field_is_refused_too(served: Served, tmp_path: Path) -> None:
    variant(served, "petit", "fuite-membre", lambda d: d["membres"][0]["membre"].update(notes_internes="x"))
    config = load(tmp_path, [{"id": "f", "site": served.url("fuite-membre/")}])
    maison = by_id(harvest.run(config, now=NOW))["f"]
    assert maison.status == "refuse" and "« notes_internes » (membre" in maison.reason


def test_data_announced_on_another_origin_is_refused(served: Served, tmp_path: Path) -> None:
    variant(served, "petit", "ailleurs")
    path = served.root / "ailleurs" / "donnees" / "catalogue.jsonld"
    text = path.read_text(encoding="utf-8").replace(
        f"127.0.0.1:{served.port}/ailleurs/donnees/territoire.json",
        "localhost:8/ailleurs/donnees/territoire.json",
    )
    path.write_text(text, encoding="utf-8")
    config = load(tmp_path, [{"id": "ailleurs", "site": served.url("ailleurs/")}])
    maison = by_id(harvest.run(config, now=NOW))["ailleurs"]
    assert maison.status == "refuse" and maison.territory is None
    assert "hors du site de la Maison" in maison.reason
    assert not (config.harvest_dir / "ailleurs" / "territoire.json").exists()
    assert served.statuses("/ailleurs/") == [200]  # the data itself was never asked for


def test_a_redirect_to_another_origin_is_not_followed(served: Served, tmp_path: Path) -> None:
    config = load(tmp_path, [{"id": "r", "site": served.url("ailleurs-redirige/")}])
    maison = by_id(harvest.run(config, now=NOW))["r"]
    assert maison.status == "injoignable" and maison.reason.startswith(
        "redirection hors du site de la Maison"
    )
    # The usual case: a site that moved to https says what to change.
    config = load(tmp_path, [{"id": "h", "site": served.url("passe-en-https/")}])
    maison = by_id(harvest.run(config, now=NOW))["h"]
    assert maison.status == "injoignable"
    assert maison.reason.endswith("indiquez son adresse en https:// dans la configuration"), maison.reason


def test_bad_json_is_refused(served: Served, tmp_path: Path) -> None:
    variant(served, "petit", "casse")
    (served.root / "casse" / "donnees" / "territoire.json").write_text("{pas du json", encoding="utf-8")
    config = load(tmp_path, [{"id": "casse", "site": served.url("casse/")}])
    maison = by_id(harvest.run(config, now=NOW))["casse"]
    assert maison.status == "refuse" and "pas du JSON valide" in maison.reason
    variant(served, "petit", "autre-format", lambda d: d.update(format="autre"))
    config = load(tmp_path / "b", [{"id": "x", "site": served.url("autre-format/")}])
    assert "autre format" in by_id(harvest.run(config, now=NOW))["x"].reason


def test_a_built_folder_is_read_without_network(served: Served, tmp_path: Path) -> None:
    config = load(tmp_path, [{"id": "local", "dossier": str(served.root / "petit")}])
    maison = by_id(harvest.run(config, now=NOW))["local"]
    assert maison.status == "a-jour", maison.reason
    assert maison.territory is not None and maison.territory["membres"] == shown(
        published(served, "petit")["membres"]
    )
    assert by_id(harvest.run(config, now=LATER))["local"].status == "inchange"


def test_read_rebuilds_the_harvest_from_the_files(served: Served, tmp_path: Path) -> None:
    variant(served, "petit", "ancien2", lambda d: d.update(version_format=1))
    variant(
        served, "grand", "invalide2", lambda d: d["membres"][0]["activites"][0]["activite"].update(role=1)
    )
    config = load(
        tmp_path,
        [
            {"id": "grand", "site": served.url("grand/")},
            {"id": "ancien", "site": served.url("ancien2/")},
            {"id": "invalide", "site": served.url("invalide2/")},
            {"id": "ferme", "site": f"http://127.0.0.1:{closed_port()}/"},
            {"id": "ailleurs", "site": served.url("nulle-part/")},
        ],
    )
    ran = harvest.run(config, now=NOW)
    again = harvest.read(config)
    assert again.when == ran.when
    assert again.maisons == ran.maisons
    # A Maison added to the configuration since: known, without data.
    more = load(
        tmp_path,
        [
            *[{"id": m.source.id, "site": m.source.site} for m in ran.maisons],
            {"id": "neuve", "site": served.url("x/")},
        ],
    )
    assert by_id(harvest.read(more))["neuve"].territory is None


def test_under_checks_origin_and_path() -> None:
    base = "http://127.0.0.1:8000/nord/"
    assert harvest.under("http://127.0.0.1:8000/nord/registres/a/#x", base)
    assert not harvest.under("http://127.0.0.1:8000/sud/registres/a/", base)
    assert not harvest.under("http://127.0.0.1:8001/nord/", base)
    assert not harvest.under("https://127.0.0.1:8000/nord/", base)
    assert not harvest.under("http://127.0.0.1:8000/nord/../sud/", base)
    assert not harvest.under("javascript:alert(1)//127.0.0.1:8000/nord/", base)
    assert not harvest.under("http://user@127.0.0.1:8000/nord/", base)
    assert not harvest.under(42, base)
    # Percent-encoded dot segments are resolved by browsers as "..": refused on both paths.
    assert not harvest.under("http://127.0.0.1:8000/nord/%2E%2e/sud/", base)
    assert not harvest.under("http://127.0.0.1:8000/nord/a/.%2e/../../sud/", base)
    assert not harvest.under("http://127.0.0.1:8000/Nord/../nord/x/", base)
    assert harvest.under("http://127.0.0.1:8000/nord/registres/a/?q=..#..", base)
    assert harvest.under("HTTP://127.0.0.1:8000/nord/registres/a/", base)  # parsed: same origin


def test_dataset_url_reads_the_catalogue() -> None:
    base = "https://n.example/"
    with pytest.raises(harvest.Refused, match="pas de jeu de données « territoire »"):
        harvest.dataset_url({"dcat:dataset": [{"dct:identifier": "membre-a"}]}, base)
    with pytest.raises(harvest.Refused, match="sans jeu de données"):
        harvest.dataset_url({}, base)
    with pytest.raises(harvest.Refused, match="pas de distribution JSON"):
        harvest.dataset_url({"dcat:dataset": {"dct:identifier": "territoire", "dcat:distribution": []}}, base)
    found = harvest.dataset_url(
        {
            "dcat:dataset": {
                "dct:identifier": {"@value": "territoire"},
                "dcat:distribution": {
                    "dcat:mediaType": "application/json",
                    "dcat:downloadURL": f"{base}d.json",
                },
            }
        },
        base,
    )
    assert found == f"{base}d.json"


# --- the command line ------------------------------------------------------------------------------


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Harvest, Path]]:
    from dote.national import site

    calls: list[tuple[Any, Harvest, Path]] = []

    def build(config: Any, result: Harvest, site_dir: Path) -> None:
        calls.append((config, result, site_dir))

    monkeypatch.setattr(site, "build", build)
    return calls


def test_cli_harvests_reports_and_builds(
    served: Served,
    tmp_path: Path,
    fake_build: list[tuple[Any, Harvest, Path]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_config(
        tmp_path,
        [
            {"id": "petit", "site": served.url("petit/")},
            {"id": "ferme", "site": f"http://127.0.0.1:{closed_port()}/"},
        ],
    )
    assert main(["national", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "petit : à jour, 2 membres" in out
    assert "ferme : injoignable (connexion impossible" in out
    assert "1 Maison sur 2 sans données reprises" in err
    [(config, result, site_dir)] = fake_build
    assert site_dir == tmp_path / "site-national" and config.path == path
    assert [m.status for m in result.maisons] == ["a-jour", "injoignable"]
    # Offline: from the kept files, no request (counted for this Maison: the server is shared
    # by the module's tests, and another test's late client is not this command's).
    before = len(served.statuses("/petit/"))
    assert main(["national", str(path), "--hors-ligne", "--site-dir", str(tmp_path / "ailleurs")]) == 0
    assert len(served.statuses("/petit/")) == before
    out, _ = capsys.readouterr()
    assert "petit : à jour, 2 membres" in out
    assert fake_build[-1][2] == tmp_path / "ailleurs"


def test_cli_reports_a_failed_build(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dote.national import site

    def failing(config: Any, result: Harvest, site_dir: Path) -> None:
        raise site.NationalBuildError("le site national n'a pas pu être construit (essai)")

    monkeypatch.setattr(site, "build", failing)
    path = write_config(tmp_path, [{"id": "petit", "dossier": str(served.root / "petit")}])
    assert main(["national", str(path)]) == 1
    assert "dote : erreur : le site national n'a pas pu être construit (essai)" in capsys.readouterr().err


def test_cli_invalid_config_exits_1_with_positions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "national.yml"
    path.write_text(
        "version_schema: 1\nnom: Essai\nmaisons:\n  - id: a\n    site: ftp://x/\n", encoding="utf-8"
    )
    assert main(["national", str(path)]) == 1
    out, err = capsys.readouterr()
    assert f"{path}:5:11: erreur: « site » : adresse complète attendue" in out
    assert "la configuration nationale n'est pas valide" in err
    assert main(["national", str(path), "--delai", "0"]) == 2


def test_non_public_fields_are_all_top_level_keys() -> None:
    """The leak check looks at the top-level keys of members, activities and processors: every
    field the schemas mark non-public, wherever it is declared, must be one of those."""
    from dote.confidential import non_public_keys
    from dote.schema import annotation, compiled_schemas

    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, prop in (node.get("properties") or {}).items():
                if isinstance(prop, dict) and (annotation(prop, "x-visibilite") or "public") != "public":
                    found.add(key)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for name, schema in compiled_schemas().items():
        if name not in ("demandes.schema.json", "violations.schema.json"):  # wholly confidential files
            walk(schema)
    top = non_public_keys("membre") | non_public_keys("activite") | non_public_keys("sous-traitant")
    assert found and found <= top


def test_hostile_identifiers_are_printable_in_reasons(served: Served, tmp_path: Path) -> None:
    def hostile(data: dict[str, Any]) -> None:
        data["membres"][0]["membre"]["identifiant"] = "\x1b[31mrouge\u202e"
        data["membres"][0]["membre"]["notes_internes"] = "x"

    variant(served, "petit", "hostile", hostile)
    config = load(tmp_path, [{"id": "h", "site": served.url("hostile/")}])
    maison = by_id(harvest.run(config, now=NOW))["h"]
    assert maison.status == "refuse" and "?[31mrouge?" in maison.reason and "\x1b" not in maison.reason
