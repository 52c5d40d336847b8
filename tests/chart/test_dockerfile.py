"""deploy/Dockerfile, checked without a Docker engine: parsed for what it promises (pinned
bases, a non-root user, only the virtual environment in the final stage), and the commands it
and the chart run are resolved in the installed workspace, the same packages the image installs."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from chartkit import REPO, Rendering

DOCKERFILE = REPO / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]


def parse_dockerfile(text: str) -> Dockerfile:
    """Instructions with continuation lines joined and comments dropped, grouped by stage."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in logical:
        keyword, _, args = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.IGNORECASE)
            assert match, f"unparsed FROM {args}"
            base = re.sub(
                r"\$\{(\w+)\}|\$(\w+)",
                lambda m: global_args[m.group(1) or m.group(2)],
                match.group(1),
            )
            stages.append(Stage(base=base, name=match.group(2)))
        elif not stages and keyword == "ARG":
            name, _, default = args.partition("=")
            global_args[name.strip()] = default.strip()
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, args.strip()))
    return Dockerfile(global_args, stages)


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE.read_text())


def workspace_scripts() -> dict[str, str]:
    """Console scripts declared by the workspace members: name -> "module:function"."""
    scripts: dict[str, str] = {}
    for pyproject in sorted(
        [*REPO.glob("libs/*/pyproject.toml"), *REPO.glob("services/*/pyproject.toml")]
    ):
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        scripts.update(project.get("scripts", {}))
    return scripts


def test_parser_reads_a_multi_stage_file() -> None:
    parsed = parse_dockerfile(
        "ARG IMG=python:3.11-slim\nFROM ${IMG} AS b\n"
        "RUN a \\\n  # note\n  && b\nFROM ${IMG}\nUSER 1:1\n"
    )
    assert [s.base for s in parsed.stages] == ["python:3.11-slim", "python:3.11-slim"]
    assert parsed.stages[0].instructions == [("RUN", "a && b")]
    assert parsed.final.args_of("USER") == ["1:1"]


def test_base_images_are_pinned_and_never_latest(dockerfile: Dockerfile) -> None:
    names = {s.name for s in dockerfile.stages if s.name}
    for stage in dockerfile.stages:
        if stage.base in names:
            continue
        repository, _, tag = stage.base.partition("@")[0].rpartition(":")
        assert repository and "/" not in tag, f"{stage.base}: no tag"
        assert tag != "latest", f"{stage.base}: latest"
    assert len({s.base for s in dockerfile.stages}) == 1, (
        "builder and runtime share one interpreter (the venv's python links to it)"
    )


def test_final_stage_runs_as_the_non_root_user_10001(dockerfile: Dockerfile) -> None:
    users = dockerfile.final.args_of("USER")
    assert users, "the final stage sets USER"
    uid, _, gid = users[-1].partition(":")
    assert uid == "10001" and gid == "10001", "numeric, so runAsNonRoot can verify it"


def test_final_stage_holds_only_the_virtual_environment(dockerfile: Dockerfile) -> None:
    copies = dockerfile.final.args_of("COPY")
    builder = dockerfile.stages[0].name
    assert copies == [f"--from={builder} /opt/ler/venv /opt/ler/venv"]
    assert not dockerfile.final.args_of("ADD")
    env = " ".join(dockerfile.final.args_of("ENV"))
    assert "PATH=/opt/ler/venv/bin:$PATH" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env, "the root filesystem is read-only"


def test_builder_installs_the_workspace_without_dev_tools_or_editables(
    dockerfile: Dockerfile,
) -> None:
    runs = " ".join(dockerfile.stages[0].args_of("RUN"))
    assert re.search(r"uv sync\b[^;&]*--no-dev", runs)
    assert re.search(r"uv sync\b[^;&]*--no-editable", runs)
    assert re.search(r'"uv==\$\{UV_VERSION\}"', runs), "uv is pinned"
    assert re.fullmatch(r"UV_VERSION=\d+\.\d+\.\d+", dockerfile.stages[0].args_of("ARG")[0])
    copied = " ".join(dockerfile.stages[0].args_of("COPY"))
    for member in ("libs/", "services/", "pyproject.toml"):
        assert member in copied


def test_default_command_is_a_workspace_console_script(dockerfile: Dockerfile) -> None:
    assert not dockerfile.final.args_of("ENTRYPOINT"), "the command chooses the service"
    [cmd] = dockerfile.final.args_of("CMD")
    argv = json.loads(cmd)  # exec form: no shell in between, signals reach the process
    assert argv[0] in workspace_scripts()
    script = Path(sys.executable).with_name(argv[0])
    result = subprocess.run(
        [str(script), *argv[1:]], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    lines = [
        ln.strip()
        for ln in DOCKERIGNORE.read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "*", "exclude everything, then re-include what the build copies"
    included = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    assert included == {"pyproject.toml", "uv.lock", "libs", "services"}


def test_chart_commands_are_console_scripts_that_resolve(renderings: dict[str, Rendering]) -> None:
    """Each command the chart runs names a console script whose entry point loads."""
    scripts = workspace_scripts()
    commands = {
        c["command"][0]
        for rendering in renderings.values()
        for m in rendering.manifests
        if m["kind"] in ("Deployment", "Job")
        for c in m["spec"]["template"]["spec"]["containers"]
        if c["command"][0] != "python"
    }
    assert commands == {"ler-issuance", "ler-wallet", "ler-verification", "ler-intake"}
    for name in sorted(commands):
        assert name in scripts, f"{name} is not declared in any workspace pyproject"
        [entry_point] = importlib.metadata.entry_points(group="console_scripts", name=name)
        assert entry_point.value == scripts[name]
        assert callable(entry_point.load())
        assert Path(sys.executable).with_name(name).is_file(), f"{name} is not installed"


def test_topic_job_module_exists() -> None:
    assert importlib.util.find_spec("ler_platform.topics") is not None
