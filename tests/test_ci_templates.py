"""The CI templates a territory starts with: GitHub Actions, GitLab CI and pre-commit.

``dote init`` copies ``.github/workflows/``, ``.gitlab-ci.yml`` and ``.pre-commit-config.yaml``
from the skeleton; this repository (the demo territory) uses the same files at its root.
Checked here, without network:

- each file against its platform's published JSON Schema (vendored in
  ``tests/fixtures/ci-schemas/``, see its README: ``actionlint`` could not be installed,
  its PyPI wrapper downloads the binary at build time);
- what the public jobs may read: no confidential overlay, no secret but GitHub's own token;
- the jobs themselves, run step by step in a fresh territory made a git repository with
  two commits: the steps that install packages or need the network are left out, ``gh``
  is a stand-in that records its arguments and ``git push`` goes to a local bare repository.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
import yaml

from dote.cli import _parser, main

ROOT = Path(__file__).resolve().parent.parent
SKELETON = ROOT / "src" / "dote" / "skeleton"
SCHEMAS = Path(__file__).resolve().parent / "fixtures" / "ci-schemas"
WORKFLOWS = sorted((SKELETON / ".github" / "workflows").glob("*.yml"))
INTERNAL_EXAMPLE = SKELETON / ".github" / "workflows-internes" / "interne.yml.exemple"
#: The files that reach a territory and that the demo uses too, byte for byte.
SHARED = [
    *(p.relative_to(SKELETON).as_posix() for p in WORKFLOWS),
    ".gitlab-ci.yml",
    ".pre-commit-config.yaml",
]
BIN = Path(sys.executable).parent
MARKER = "<!-- dote-diff -->"
ACTIVITY = "registers/members/exemple/listes-electorales.yml"


class _Loader(yaml.SafeLoader):
    """YAML as GitHub and GitLab read it: ``on`` is a key, not the boolean YAML 1.1 makes it."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


def _validator(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def _errors(validator: jsonschema.Draft7Validator, data: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _has_diff() -> bool:
    actions = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return "diff" in actions.choices


# --- the files ------------------------------------------------------------------------


def test_the_templates_exist_and_the_demo_uses_them_unchanged() -> None:
    assert {p.name for p in WORKFLOWS} == {"verifier.yml", "publier.yml", "veille.yml"}
    for rel in SHARED:
        assert (ROOT / rel).read_bytes() == (SKELETON / rel).read_bytes(), (
            f"{rel} à la racine (territoire de démonstration) doit rester la copie de src/dote/skeleton/{rel}"
        )
    demo_workflows = {p.name for p in (ROOT / ".github" / "workflows").glob("*.y*ml")}
    assert demo_workflows == {p.name for p in WORKFLOWS}


def test_init_copies_them_unchanged(tmp_path: Path) -> None:
    """``dote init`` fills ``$nom`` in .yml files: the templates must come out as they are."""
    root = tmp_path / "territoire"
    assert main(["init", str(root)]) == 0
    for rel in [*SHARED, INTERNAL_EXAMPLE.relative_to(SKELETON).as_posix()]:
        assert (root / rel).read_bytes() == (SKELETON / rel).read_bytes(), rel
    assert (root / ".gitignore").is_file()


@pytest.mark.parametrize("path", [*WORKFLOWS, INTERNAL_EXAMPLE], ids=lambda p: p.name)
def test_github_workflows_follow_the_workflow_schema(path: Path) -> None:
    assert _errors(_validator("github-workflow.json"), _load(path)) == []


def test_the_gitlab_pipeline_follows_the_gitlab_ci_schema() -> None:
    assert _errors(_validator("gitlab-ci.json"), _load(SKELETON / ".gitlab-ci.yml")) == []


def test_the_schemas_do_catch_mistakes() -> None:
    """The vendored schemas are not so lax that anything passes."""
    validator = _validator("github-workflow.json")
    for path, value in (
        (("jobs", "verifier", "permissions", "contents"), "lecture"),
        (("jobs", "verifier", "steps", 0, "uses"), 12),
        (("jobs", "commenter", "runs_on"), "ubuntu-latest"),
        (("on", "pull_requests"), None),
    ):
        workflow = _load(SKELETON / ".github" / "workflows" / "verifier.yml")
        node = workflow
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        assert _errors(validator, workflow), path
    pipeline = _load(SKELETON / ".gitlab-ci.yml")
    pipeline["pages"]["artifacts"]["chemins"] = ["public"]
    assert _errors(_validator("gitlab-ci.json"), pipeline)


def _expressions(text: str) -> set[str]:
    return {m.strip() for m in re.findall(r"\$\{\{(.*?)\}\}", text)}


def test_github_jobs_are_consistent() -> None:
    """What the schema cannot see: job references, step ids, where expressions go, pinned actions."""
    for path in WORKFLOWS:
        workflow = _load(path)
        jobs = workflow["jobs"]
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for name, job in jobs.items():
            assert "permissions" in job, f"{path.name}: {name} déclare ses permissions"
            for need in [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", []):
                assert need in jobs, f"{path.name}: {name} attend {need}"
            ids = {step["id"] for step in job["steps"] if "id" in step}
            for step in job["steps"]:
                assert step.get("name"), f"{path.name}: chaque étape a un nom (en français)"
                if "uses" in step:
                    assert re.fullmatch(r"actions/[a-z-]+@v\d+", step["uses"]), step["uses"]
                if "run" in step:
                    # No expression in a script: values reach it through env (no injection).
                    assert "${{" not in step["run"], f"{path.name}: {step['name']}"
            for expr in _expressions(json.dumps(job)):
                for ref in re.findall(r"steps\.([a-z_-]+)\.", expr):
                    assert ref in ids, f"{path.name}: {expr}"
                for ref in re.findall(r"needs\.([a-z_-]+)\.outputs\.([a-z_-]+)", expr):
                    assert ref[0] in jobs and ref[1] in jobs[ref[0]].get("outputs", {}), expr


def test_the_public_jobs_never_receive_the_overlay_nor_a_secret() -> None:
    for path in [*WORKFLOWS, SKELETON / ".gitlab-ci.yml"]:
        text = path.read_text(encoding="utf-8")
        for forbidden in ("DOTE_CONFIDENTIEL", "--overlay", "--internal"):
            assert forbidden not in text, f"{path.name} mentionne {forbidden}"
    for path in WORKFLOWS:
        # These hand the proposed code the secrets and a token that writes.
        assert not {"pull_request_target", "workflow_run"} & set(_load(path)["on"]), path.name
        secrets = set(re.findall(r"secrets\.(\w+)", path.read_text(encoding="utf-8")))
        assert secrets <= {"GITHUB_TOKEN"}, path.name
    # Pull requests: the job that runs the proposed code only reads; the one that writes a
    # comment runs nothing of the territory.
    verifier = _load(SKELETON / ".github" / "workflows" / "verifier.yml")
    assert verifier["on"] == {"pull_request": None}
    assert verifier["jobs"]["verifier"]["permissions"] == {"contents": "read"}
    commenter = verifier["jobs"]["commenter"]
    assert commenter["permissions"] == {"pull-requests": "write"}
    assert not any("checkout" in s.get("uses", "") or "dote " in s.get("run", "") for s in commenter["steps"])
    publish = _load(SKELETON / ".github" / "workflows" / "publier.yml")
    assert publish["on"]["push"] == {"branches": ["main"]}
    assert publish["jobs"]["deployer"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert publish["jobs"]["deployer"]["environment"]["name"] == "github-pages"
    assert publish["concurrency"]["group"] == "pages"
    watch = _load(SKELETON / ".github" / "workflows" / "veille.yml")
    assert set(watch["on"]) == {"schedule", "workflow_dispatch"}
    assert watch["jobs"]["veille"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    # GitLab: each token is named in its own job only, and the comment token's job runs no code.
    gitlab = _load(SKELETON / ".gitlab-ci.yml")
    for token, job in (("DOTE_JETON_COMMENTAIRES", "commenter"), ("DOTE_JETON_VEILLE", "veille")):
        users = {
            name for name, spec in gitlab.items() if isinstance(spec, dict) and token in json.dumps(spec)
        }
        assert users == {job}, token
    assert gitlab["commenter"]["environment"] == {"name": "commentaires-mr", "action": "prepare"}
    assert gitlab["commenter"]["variables"]["GIT_STRATEGY"] == "none"
    assert "extends" not in gitlab["commenter"]
    # The internal example is the only place the overlay appears, and it is not a workflow.
    example = INTERNAL_EXAMPLE.read_text(encoding="utf-8")
    assert "--internal" in example and "--overlay" in example
    assert "upload-pages-artifact" not in example and "upload-artifact" not in example


# --- pre-commit -----------------------------------------------------------------------


def _pre_commit(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_the_pre_commit_files_are_valid(tmp_path: Path) -> None:
    pytest.importorskip("pre_commit")
    manifest = _load(ROOT / ".pre-commit-hooks.yaml")
    assert manifest == [
        {
            "id": "dote-validate",
            "name": "dote validate",
            "description": manifest[0]["description"],
            "entry": "dote validate",
            "language": "python",
            "pass_filenames": False,
            "files": "^(registers|watch)/",
        }
    ]
    done = _pre_commit("validate-manifest", str(ROOT / ".pre-commit-hooks.yaml"), cwd=ROOT, home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    done = _pre_commit("validate-config", str(SKELETON / ".pre-commit-config.yaml"), cwd=ROOT, home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # The project declares no public address yet ([project.urls]): the hook is local.
    config = _load(SKELETON / ".pre-commit-config.yaml")
    assert config["repos"][0]["repo"] == "local"
    hook = config["repos"][0]["hooks"][0]
    assert {k: hook[k] for k in ("id", "entry", "pass_filenames", "files")} == {
        k: manifest[0][k] for k in ("id", "entry", "pass_filenames", "files")
    }


def test_the_pre_commit_hook_validates_the_registers(territory: dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("pre_commit")
    root: Path = territory["root"]
    activity = root / ACTIVITY
    text = activity.read_text(encoding="utf-8")
    done = _pre_commit("run", "--files", ACTIVITY, cwd=root, home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^dote validate\.+Passed$", done.stdout, re.M)
    done = _pre_commit("run", "--files", "README.md", cwd=root, home=tmp_path)
    assert re.search(r"^dote validate\.+\(no files to check\)Skipped$", done.stdout, re.M), done.stdout
    try:
        activity.write_text(text.replace("statut: brouillon", "statut: peut-etre"), encoding="utf-8")
        done = _pre_commit("run", "--files", ACTIVITY, cwd=root, home=tmp_path)
        assert done.returncode == 1
        assert re.search(r"^dote validate\.+Failed$", done.stdout, re.M)
        assert f"{ACTIVITY}:4:" in done.stdout
    finally:
        activity.write_text(text, encoding="utf-8")


# --- running the jobs -------------------------------------------------------------------


def _git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.org",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.org",
    }
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def territory(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A territory fresh from ``dote init``, in git: one commit, then a change to a register."""
    base = tmp_path_factory.mktemp("ci")
    root = base / "territoire"
    assert main(["init", str(root)]) == 0
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Territoire créé par dote init")
    first = _git(root, "rev-parse", "HEAD")
    activity = root / ACTIVITY
    text = activity.read_text(encoding="utf-8")
    activity.write_text(text.replace("service: Service élections", "service: Service de la population"))
    _git(root, "commit", "-q", "-am", "Le service change de nom")
    origin = base / "origine.git"
    _git(base, "init", "-q", "--bare", str(origin))
    _git(root, "remote", "add", "origin", str(origin))
    _git(root, "push", "-q", "origin", "main")
    # gh: a stand-in that records its arguments (and the files it is handed).
    tools = base / "outils"
    tools.mkdir()
    gh = tools / "gh"
    gh.write_text(
        '#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> "$GH_JOURNAL"\n'
        'for a in "$@"; do case "$a" in body=@*) cat "${a#body=@}" >> "$GH_JOURNAL";; esac; done\n'
        'if [ "$1 $2" = "pr comment" ]; then cat "$5" >> "$GH_JOURNAL"; fi\n',
        encoding="utf-8",
    )
    gh.chmod(0o755)
    return {"root": root, "base": first, "tools": tools, "origin": origin, "journal": base / "gh.log"}


def _env(territory: Mapping[str, Any], extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_", "DOTE_"))}
    env["PATH"] = os.pathsep.join([str(territory["tools"]), str(BIN), os.environ["PATH"]])
    env["GH_JOURNAL"] = str(territory["journal"])
    env.update(
        GIT_AUTHOR_NAME="CI", GIT_AUTHOR_EMAIL="ci@example.org", GIT_COMMITTER_NAME="CI",
        GIT_COMMITTER_EMAIL="ci@example.org",
    )  # fmt: skip
    env.update(extra)
    return env


def _run_script(script: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    # GitHub's `shell: bash`, and what a GitLab runner does with a job's script lines.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
    )


#: The values of the expressions the jobs hand their steps, as GitHub would give them.
def _github_context(territory: Mapping[str, Any]) -> dict[str, str]:
    return {
        "github.event.pull_request.base.sha": territory["base"],
        "github.event.pull_request.number": "7",
        "github.repository": "maison/registres",
        "github.ref_name": "main",
        "secrets.GITHUB_TOKEN": "jeton-factice",
    }


def _expand(value: object, context: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        expr = match[1].strip()
        assert expr in context, f"expression inconnue du test : {expr}"
        return context[expr]

    return re.sub(r"\$\{\{(.*?)\}\}", one, str(value))


def _github_job(
    workflow: str, job: str, territory: Mapping[str, Any], *, skip: tuple[str, ...] = ()
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run a job's ``run`` steps in order (install steps and the ``skip`` ones left out)."""
    spec = _load(SKELETON / ".github" / "workflows" / workflow)
    context = _github_context(territory)
    root: Path = territory["root"]
    files = root.parent / "github"
    files.mkdir(exist_ok=True)
    results = {}
    for step in spec["jobs"][job]["steps"]:
        if "run" not in step or "pip install" in step["run"] or step["name"] in skip:
            continue
        output, summary = files / f"{job}-output", files / "summary.md"
        output.write_text("")
        variables = {**spec.get("env", {}), **spec["jobs"][job].get("env", {}), **step.get("env", {})}
        env = _env(territory, {k: _expand(v, context) for k, v in variables.items()})
        env.update(GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary), GITHUB_RUN_NUMBER="42")
        done = _run_script(step["run"], root, env)
        results[step["name"]] = done
        assert done.returncode == 0, f"{workflow} / {step['name']} :\n{done.stdout}\n{done.stderr}"
    return results


def test_the_pull_request_jobs_run(territory: dict[str, Any]) -> None:
    if not _has_diff():
        pytest.skip("« dote diff » n'existe pas encore dans dote.cli")
    root: Path = territory["root"]
    territory["journal"].unlink(missing_ok=True)
    ran = _github_job("verifier.yml", "verifier", territory)
    assert list(ran) == [
        "Valider les registres",
        "Construire le site (mode strict)",
        "Résumer les changements des registres",
    ]
    assert ran["Valider les registres"].stdout.strip() == ""  # no annotation: the territory is valid
    assert (root / "site" / "index.html").is_file()
    summary = (root / "resume.md").read_text(encoding="utf-8")
    assert "Service de la population" in summary
    assert (root.parent / "github" / "summary.md").read_text(encoding="utf-8") == summary
    assert (root.parent / "github" / "verifier-output").read_text() == "resume=oui\n"
    # The comment: prepared with its marker, then posted (no earlier comment to update).
    _github_job("verifier.yml", "commenter", territory)
    comment = (root / "commentaire.md").read_text(encoding="utf-8")
    assert comment == f"{MARKER}\n{summary}"
    journal = territory["journal"].read_text(encoding="utf-8").splitlines()
    assert journal[0].startswith("api repos/maison/registres/issues/7/comments --paginate --jq ")
    assert journal[1] == "pr comment 7 --body-file commentaire.md"
    assert "\n".join(journal[2:]) == comment.rstrip("\n")


def test_the_publication_job_builds_the_site(territory: dict[str, Any]) -> None:
    ran = _github_job("publier.yml", "construire", territory)
    assert list(ran) == ["Valider les registres", "Construire le site (mode strict)"]
    publish = _load(SKELETON / ".github" / "workflows" / "publier.yml")
    upload = next(s for s in publish["jobs"]["construire"]["steps"] if "upload-pages" in s.get("uses", ""))
    assert (territory["root"] / upload["with"]["path"] / "index.html").is_file()


def test_a_broken_field_is_annotated_on_its_line(territory: dict[str, Any]) -> None:
    root: Path = territory["root"]
    activity = root / ACTIVITY
    text = activity.read_text(encoding="utf-8")
    try:
        activity.write_text(text.replace("statut: brouillon", "statut: peut-etre"), encoding="utf-8")
        line = activity.read_text(encoding="utf-8").splitlines().index("statut: peut-etre") + 1
        step = next(
            s
            for s in _load(SKELETON / ".github" / "workflows" / "verifier.yml")["jobs"]["verifier"]["steps"]
            if s["name"] == "Valider les registres"
        )
        done = _run_script(step["run"], root, _env(territory, {}))
        assert done.returncode == 1
        assert re.search(
            rf"^::error file={re.escape(ACTIVITY)},line={line},col=\d+,title=dote::", done.stdout, re.M
        )
        # GitLab: the same problem, in the log and in the Code Quality report.
        done = _gitlab_script("verifier", territory)
        assert done.returncode != 0
        assert f"{ACTIVITY}:{line}:" in done.stdout
        report = json.loads((root / "gl-code-quality-report.json").read_text(encoding="utf-8"))
        assert any(
            p["location"] == {"path": ACTIVITY, "lines": {"begin": line}} and p["severity"] == "major"
            for p in report
        )
    finally:
        activity.write_text(text, encoding="utf-8")


def test_the_watch_job_proposes_new_items(territory: dict[str, Any]) -> None:
    """``dote watch fetch`` needs the network: a new item is written as it would have."""
    root: Path = territory["root"]
    territory["journal"].unlink(missing_ok=True)
    # Nothing new: nothing pushed, no pull request.
    ran = _github_job("veille.yml", "veille", territory, skip=("Récupérer les flux de la veille",))
    assert "Rien de nouveau dans watch/." in ran["Proposer les nouveaux éléments"].stdout
    assert not territory["journal"].exists()
    item = root / "watch" / "elements" / "cnil-actualites" / "2026-11-30-exemple.yml"
    item.parent.mkdir(parents=True, exist_ok=True)
    item.write_text("titre: Exemple\n", encoding="utf-8")
    try:
        _github_job("veille.yml", "veille", territory, skip=("Récupérer les flux de la veille",))
        branch = _git(root, "branch", "--show-current")
        assert re.fullmatch(r"veille/\d{4}-\d{2}-\d{2}-42", branch)
        assert (
            _git(
                territory["origin"], "ls-tree", "-r", "--name-only", branch, "watch/elements/cnil-actualites"
            )
            == "watch/elements/cnil-actualites/2026-11-30-exemple.yml"
        )
        journal = territory["journal"].read_text(encoding="utf-8")
        assert journal.startswith(f"pr create --base main --head {branch} --title Veille : nouveaux éléments")
    finally:
        _git(root, "switch", "-q", "main")
        if item.exists():
            item.unlink()


# --- GitLab ---------------------------------------------------------------------------


def _gitlab_script(
    job: str, territory: Mapping[str, Any], extra: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A GitLab job's script (not its before_script, which installs): its lines, one shell."""
    pipeline = _load(SKELETON / ".gitlab-ci.yml")
    spec = pipeline[job]
    variables = {**pipeline.get("variables", {}), **spec.get("variables", {})}
    root: Path = territory["root"]
    env = _env(territory, {k: str(v).replace("$CI_PROJECT_DIR", str(root)) for k, v in variables.items()})
    env.update(CI_MERGE_REQUEST_DIFF_BASE_SHA=territory["base"], CI_PROJECT_DIR=str(root), **(extra or {}))
    return _run_script("\n".join(spec["script"]), root, env)


def test_the_gitlab_merge_request_job_runs(territory: dict[str, Any]) -> None:
    if not _has_diff():
        pytest.skip("« dote diff » n'existe pas encore dans dote.cli")
    root: Path = territory["root"]
    for name in ("resume.md", "gl-code-quality-report.json"):
        (root / name).unlink(missing_ok=True)
    done = _gitlab_script("verifier", territory)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((root / "gl-code-quality-report.json").read_text(encoding="utf-8")) == []
    assert "Service de la population" in (root / "resume.md").read_text(encoding="utf-8")
    assert "Service de la population" in done.stdout  # the summary is in the job's log too
    artifacts = _load(SKELETON / ".gitlab-ci.yml")["verifier"]["artifacts"]
    assert artifacts["paths"] == ["resume.md"]
    assert artifacts["reports"]["codequality"] == "gl-code-quality-report.json"


class _Notes(BaseHTTPRequestHandler):
    """GitLab's notes API, as far as the ``commenter`` job uses it."""

    notes: ClassVar[list[dict[str, Any]]] = []
    calls: ClassVar[list[tuple[str, str, str]]] = []

    def _answer(self, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        return data

    def do_GET(self) -> None:
        self.calls.append(("GET", self.path, self.headers["PRIVATE-TOKEN"]))
        self._answer(list(reversed(self.notes)))

    def do_POST(self) -> None:
        self.calls.append(("POST", self.path, self.headers["PRIVATE-TOKEN"]))
        note = {"id": len(self.notes) + 100, "body": self._body()["body"]}
        self.notes.append(note)
        self._answer(note)

    def do_PUT(self) -> None:
        self.calls.append(("PUT", self.path, self.headers["PRIVATE-TOKEN"]))
        note_id = int(self.path.rsplit("/", 1)[1])
        note = next(n for n in self.notes if n["id"] == note_id)
        note["body"] = self._body()["body"]
        self._answer(note)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_gitlab_comment_job_posts_then_updates_one_note(
    territory: dict[str, Any], tmp_path: Path
) -> None:
    folder = tmp_path / "commenter"  # GIT_STRATEGY: none: only the artifact is there
    folder.mkdir()
    (folder / "resume.md").write_text("## Résumé\n\nUne activité modifiée.\n", encoding="utf-8")
    pipeline = _load(SKELETON / ".gitlab-ci.yml")
    script = "\n".join(pipeline["commenter"]["script"])
    heredoc = re.search(r"<<'PY'\n(.*?)\nPY\n", script, re.S)
    assert heredoc is not None
    ast.parse(heredoc[1])
    # Without the token: a message, and success.
    done = _run_script(script, folder, _env(territory, {}))
    assert done.returncode == 0 and "DOTE_JETON_COMMENTAIRES" in done.stdout
    _Notes.notes, _Notes.calls = [{"id": 1, "body": "Un autre commentaire"}], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Notes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = _env(
            territory,
            {
                "DOTE_JETON_COMMENTAIRES": "jeton-factice",
                "CI_API_V4_URL": f"http://127.0.0.1:{server.server_port}/api/v4",
                "CI_PROJECT_ID": "12",
                "CI_MERGE_REQUEST_IID": "3",
                "NO_PROXY": "127.0.0.1",
                "no_proxy": "127.0.0.1",
            },
        )
        for expected in ("Résumé publié en commentaire.", "Commentaire du résumé mis à jour."):
            done = _run_script(script, folder, env)
            assert done.returncode == 0, done.stdout + done.stderr
            assert expected in done.stdout
    finally:
        server.shutdown()
        server.server_close()
    assert [(method, path.split("?")[0]) for method, path, _ in _Notes.calls] == [
        ("GET", "/api/v4/projects/12/merge_requests/3/notes"),
        ("POST", "/api/v4/projects/12/merge_requests/3/notes"),
        ("GET", "/api/v4/projects/12/merge_requests/3/notes"),
        ("PUT", "/api/v4/projects/12/merge_requests/3/notes/101"),
    ]
    assert {token for _, _, token in _Notes.calls} == {"jeton-factice"}
    assert [n["body"] for n in _Notes.notes] == [
        "Un autre commentaire",
        f"{MARKER}\n## Résumé\n\nUne activité modifiée.\n",
    ]


def test_the_gitlab_pages_job_builds_public(territory: dict[str, Any]) -> None:
    root: Path = territory["root"]
    shutil.rmtree(root / "public", ignore_errors=True)
    done = _gitlab_script("pages", territory)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "public" / "index.html").is_file()
    assert _load(SKELETON / ".gitlab-ci.yml")["pages"]["artifacts"]["paths"] == ["public"]
