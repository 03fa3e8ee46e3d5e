"""The serving image's boundary, without a Docker engine.

The build stage of the Dockerfile is replayed here: its ENV, WORKDIR, COPY and ``uv sync``
instructions run as written (container paths mapped under a scratch root), so the files the
image copies and the flags it syncs with cannot drift from what this test checks. Then the
runtime stage's entry point runs from the synced environment.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
LAB_ONLY = {
    "tessera-lab": "tessera_lab",
    "optuna": "optuna",
    "optuna-integration": "optuna_integration",
    "scikit-learn": "sklearn",
    "matplotlib": "matplotlib",
}


@dataclass
class Stage:
    """One ``FROM`` stage: its base image, optional name and (keyword, arguments) pairs."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                values[key] = value
        return values


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages of a Dockerfile: comments dropped, backslash continuations joined."""
    stages: list[Stage] = []
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        keyword, _, args = (logical + line).partition(" ")
        logical = ""
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            parts = args.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) == 3 else None))
        else:
            stages[-1].instructions.append((keyword, args))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


class Replay:
    """The build stage run on this machine, with container path ``/x`` at ``root/x``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.workdir = "/"

    def host(self, path: str) -> Path:
        absolute = path if path.startswith("/") else f"{self.workdir.rstrip('/')}/{path}"
        return self.root / absolute.lstrip("/")

    def rebase(self, env: dict[str, str]) -> dict[str, str]:
        """Environment values that are container paths, mapped under the scratch root."""
        return {k: str(self.host(v)) if v.startswith("/") else v for k, v in env.items()}

    def copy(self, args: str) -> list[str]:
        """Docker COPY semantics for build-context sources; returns the sources."""
        *sources, dest = shlex.split(args)
        assert not any(s.startswith("--") for s in sources), f"COPY flags in build stage: {args}"
        into_dir = dest.endswith("/") or len(sources) > 1
        target = self.host(dest)
        for source in sources:
            origin = REPO / source
            assert origin.exists(), f"COPY source {source} does not exist in the repository"
            if origin.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.py[cod]")
                shutil.copytree(origin, target, dirs_exist_ok=True, ignore=ignore)
            else:
                destination = target / origin.name if into_dir else target
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination)
        return sources


@pytest.fixture(scope="module")
def image(
    stages: list[Stage], workspace: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Replay the build stage once; return what the other tests inspect."""
    build = stages[0]
    replay = Replay(tmp_path_factory.mktemp("image") / "root")
    env = build.env()
    sync_env = workspace.clean_env(**replay.rebase(env))
    sync_env["UV_PYTHON"] = sys.executable  # the image's only Python; here, the tests' one
    sync_env["UV_COMPILE_BYTECODE"] = "0"  # .pyc files change nothing about what is installed
    copied: list[str] = []
    syncs: list[list[str]] = []
    for keyword, args in build.instructions:
        if keyword == "WORKDIR":
            replay.workdir = args
            replay.host(args).mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            copied += replay.copy(args)
        elif keyword == "RUN":
            argv = shlex.split(args)
            if argv[:2] == ["pip", "install"]:
                continue  # installs uv itself
            assert argv[:2] == ["uv", "sync"], f"the test cannot replay: RUN {args}"
            workspace.run(workspace.uv, *argv[1:], cwd=replay.host(replay.workdir), env=sync_env)
            syncs.append(argv)
    venv = replay.host(env["UV_PROJECT_ENVIRONMENT"])
    return {
        "replay": replay,
        "copied": copied,
        "syncs": syncs,
        "venv": venv,
        "env": workspace.environment(venv),
    }


def test_the_image_syncs_only_serving_from_the_frozen_lock(image: dict[str, Any]) -> None:
    assert image["syncs"], "the Dockerfile has no `uv sync` step"
    for argv in image["syncs"]:
        assert "--frozen" in argv and "--no-dev" in argv and "--package" in argv, argv
        assert argv[argv.index("--package") + 1] == "tessera-serving", argv
    assert "--no-editable" in image["syncs"][-1], "the final sync must install real wheels"


def test_the_image_has_no_lab_optuna_or_sklearn(image: dict[str, Any], workspace: Any) -> None:
    env = image["env"]
    dists = env.distributions()
    installed = sorted(name for name in LAB_ONLY if name in dists)
    assert installed == [], f"serving image installs {installed}"
    importable = env.importable(*sorted(LAB_ONLY.values()))
    assert importable == [], f"serving image can import {importable}"
    for name in ("tessera-contracts", "tessera-serving"):
        assert dists[name].version == workspace.version(name)
        assert json.loads(dists[name].direct_url)["dir_info"].get("editable") is False, name
    # The image asks for the [compiled] and [http] extras: the fast backend and the service.
    assert {"lleaves", "llvmlite", "fastapi", "uvicorn", "prometheus-client"} <= set(dists)


def test_the_image_copies_no_lab_source(image: dict[str, Any]) -> None:
    assert not any(source.startswith("packages/lab") for source in image["copied"])
    assert not image["replay"].host("packages/lab").exists()


def test_the_entry_point_runs_as_the_runtime_stage_would(
    image: dict[str, Any], stages: list[Stage], workspace: Any
) -> None:
    runtime, build = stages[-1], stages[0]
    venv_path = build.env()["UV_PROJECT_ENVIRONMENT"]
    assert f"--from={build.name} {venv_path} {venv_path}" in runtime.all("COPY")
    env = runtime.env()
    assert env["PATH"].startswith(f"{venv_path}/bin:")
    entrypoint = json.loads(runtime.all("ENTRYPOINT")[-1])
    command = json.loads(runtime.all("CMD")[-1]) if runtime.all("CMD") else []
    assert entrypoint == ["tessera-serve"]
    assert command[:1] == ["http"], "the image's default command runs the HTTP service"

    replay = image["replay"]
    state = replay.host(runtime.all("WORKDIR")[-1])
    state.mkdir(parents=True, exist_ok=True)
    run_env = workspace.clean_env(**replay.rebase({k: v for k, v in env.items() if k != "PATH"}))
    run_env["PATH"] = f"{image['venv'] / 'bin'}{os.pathsep}{run_env['PATH']}"
    script = image["venv"] / "bin" / entrypoint[0]
    help_text = workspace.run(script, *command, "--help", cwd=state, env=run_env).stdout
    assert help_text.startswith("usage: tessera-serve http")
    version = workspace.run(script, "--version", cwd=state, env=run_env).stdout
    assert version.strip() == f"tessera-serve {workspace.version('tessera-serving')}"


def test_the_runtime_stage_is_hardened(stages: list[Stage]) -> None:
    build, runtime = stages[0], stages[-1]
    python = (REPO / ".python-version").read_text(encoding="utf-8").strip()
    assert build.base == runtime.base == f"python:{python}-slim"
    assert len(stages) == 2 and build.name
    user = runtime.all("USER")[-1]
    assert user not in {"root", "0"} and not user.startswith("0:")
    env = runtime.env()
    assert env["OMP_WAIT_POLICY"] == "passive"
    volumes = json.loads(runtime.all("VOLUME")[-1])
    assert env["TESSERA_HOME"] in volumes
    assert runtime.all("WORKDIR")[-1] == env["TESSERA_HOME"]
    assert any(re.search(r'"uv==\d+\.\d+\.\d+"', run) for run in build.all("RUN")), (
        "pin the uv the image installs"
    )


def test_the_runtime_stage_checks_its_health(stages: list[Stage]) -> None:
    runtime = stages[-1]
    [check] = runtime.all("HEALTHCHECK")
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[0] == "python" and "/healthz" in command[-1]
    assert "8000" in json.loads(runtime.all("CMD")[-1]) and runtime.all("EXPOSE") == ["8000"]


def test_dockerignore_lets_in_exactly_what_the_image_copies(image: dict[str, Any]) -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", ".dockerignore should exclude everything, then allow the few paths"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert allowed == set(image["copied"]), (
        f"allowed {sorted(allowed)} but the Dockerfile copies {sorted(image['copied'])}"
    )
