"""Root fixtures: the built wheels (once per session) and a look inside another environment.

The boundary tests install into fresh virtual environments and ask *that* interpreter what is
installed and importable; nothing here reads the development environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = ("tessera-contracts", "tessera-lab", "tessera-serving")

# Variables that would make uv or Python act on the development environment. Index and cache
# settings (UV_INDEX_URL, UV_CACHE_DIR, ...) are kept.
_PROJECT_VARIABLES = {
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "UV_PROJECT",
    "UV_PROJECT_ENVIRONMENT",
    "UV_PYTHON",
    "UV_FROZEN",
    "UV_LOCKED",
    "UV_NO_SYNC",
}

_PROBE = """
import json, importlib.metadata as md
print(json.dumps({d.metadata["Name"]: {"version": d.version, "requires": d.requires or [],
    "direct_url": d.read_text("direct_url.json")} for d in md.distributions()}))
"""


def canonical_name(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment minus anything pointing uv or Python at the dev venv."""
    env = {k: v for k, v in os.environ.items() if k not in _PROJECT_VARIABLES}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.update(extra)
    return env


def run(
    args: list[str | Path],
    *,
    check: bool = True,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text; on failure the assertion shows its output."""
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=clean_env() if env is None else env,
    )
    if check:
        assert result.returncode == 0, (
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def uv() -> str:
    path = shutil.which("uv")
    assert path, "uv is not on PATH (install it with `pip install uv`)"
    return path


def workspace_version(distribution: str) -> str:
    folder = distribution.removeprefix("tessera-")
    data = tomllib.loads((REPO / "packages" / folder / "pyproject.toml").read_text("utf-8"))
    return str(data["project"]["version"])


@dataclass(frozen=True)
class Dist:
    """One installed distribution as its own environment reports it."""

    version: str
    requires: list[str]
    direct_url: str | None


@dataclass(frozen=True)
class Environment:
    """A Python environment other than this one, inspected through its own interpreter."""

    root: Path
    _distributions: dict[str, Dist] = field(default_factory=dict, compare=False, repr=False)

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def script(self, name: str) -> Path:
        return self.root / "bin" / name

    def distributions(self) -> dict[str, Dist]:
        """Installed distributions by normalised name (asked once: tests never change an env)."""
        if not self._distributions:
            out = run([self.python, "-c", _PROBE]).stdout
            self._distributions.update(
                {canonical_name(k): Dist(**v) for k, v in json.loads(out).items()}
            )
        return dict(self._distributions)

    def run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command with this environment's ``bin`` first on PATH."""
        path = f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        first = self.script(str(args[0]))
        command = [first if first.is_file() else args[0], *args[1:]]
        return run(command, check=check, env=clean_env(PATH=path))

    def closure(self, roots: Mapping[str, Iterable[str]], skip: Iterable[str] = ()) -> set[str]:
        """Installed distributions reachable from ``roots``; see :func:`closure`."""
        return closure(self.distributions(), roots, skip)

    def importable(self, *modules: str) -> list[str]:
        """Those of ``modules`` this environment can find (one interpreter start for all)."""
        code = (
            "import importlib.util, json, sys\n"
            "print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m)]))"
        )
        return list(json.loads(run([self.python, "-c", code, *modules]).stdout))

    def import_all(self, package: str, skip: tuple[str, ...] = (".migrations",)) -> list[str]:
        """Import every module of ``package`` here; return their names (failures raise)."""
        code = (
            "import importlib, json, pkgutil\n"
            f"pkg = importlib.import_module({package!r})\n"
            f"names = [i.name for i in pkgutil.walk_packages(pkg.__path__, {package + '.'!r})"
            f" if not any(s in i.name for s in {list(skip)!r})]\n"
            "for n in names: importlib.import_module(n)\n"
            "print(json.dumps(names))"
        )
        return list(json.loads(run([self.python, "-c", code]).stdout))


def closure(
    dists: Mapping[str, Dist], roots: Mapping[str, Iterable[str]], skip: Iterable[str] = ()
) -> set[str]:
    """Distributions reachable from ``roots`` (name -> extras) through installed metadata.

    Markers are evaluated for this interpreter (the environments are made from it); an
    ``extra == ...`` requirement counts only when that extra was asked for. ``skip`` names
    are neither entered nor followed.
    """
    skipped = {canonical_name(s) for s in skip}
    extras_seen: dict[str, set[str]] = {}
    todo = [(canonical_name(n), set(e)) for n, e in roots.items()]
    while todo:
        name, extras = todo.pop()
        if name in skipped or (name in extras_seen and extras <= extras_seen[name]):
            continue
        extras_seen.setdefault(name, set()).update(extras)
        dist = dists.get(name)
        if dist is None:
            continue
        for raw in dist.requires:
            req = Requirement(raw)
            active = req.marker is None or any(
                req.marker.evaluate({"extra": e}) for e in ["", *sorted(extras)]
            )
            if active:
                todo.append((canonical_name(req.name), set(req.extras)))
    return set(extras_seen) - skipped


@dataclass(frozen=True)
class Wheels:
    """The three wheels built from this checkout."""

    dist: Path

    def version(self, distribution: str) -> str:
        return workspace_version(distribution)

    def path(self, distribution: str) -> Path:
        stem = distribution.replace("-", "_")
        return self.dist / f"{stem}-{workspace_version(distribution)}-py3-none-any.whl"

    def install(self, target: Path, *requirements: str) -> Environment:
        """A fresh venv at ``target`` (from this interpreter) with ``requirements`` installed.

        A requirement is a distribution name, optionally with extras (``tessera-serving[x]``),
        and is installed from its local wheel *file*: the names also exist on PyPI, so a bare
        name could resolve to someone else's package.
        """
        run([uv(), "venv", "--quiet", "--python", sys.executable, target])
        specs = []
        for requirement in requirements:
            name, _, extras = requirement.partition("[")
            specs.append(f"{self.path(name)}{'[' + extras if extras else ''}")
        env = Environment(target)
        run([uv(), "pip", "install", "--python", env.python, "--find-links", self.dist, *specs])
        return env


@dataclass(frozen=True)
class Workspace:
    """This checkout, for tests that build, install or run things from it."""

    root: Path = REPO
    uv: str = ""

    def version(self, distribution: str) -> str:
        return workspace_version(distribution)

    def run(
        self, *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run(list(args), cwd=cwd, env=env)

    def clean_env(self, **extra: str) -> dict[str, str]:
        return clean_env(**extra)

    def environment(self, root: Path) -> Environment:
        return Environment(root)


@pytest.fixture(scope="session")
def workspace() -> Workspace:
    """The checkout under test and the helpers that run things from it."""
    return Workspace(REPO, uv())


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    """Build all three distributions once per test session."""
    dist = tmp_path_factory.mktemp("dist")
    run([uv(), "build", "--all-packages", "--out-dir", dist], cwd=REPO)
    built = Wheels(dist)
    for distribution in DISTRIBUTIONS:
        assert built.path(distribution).is_file(), sorted(p.name for p in dist.iterdir())
    return built


class TesseraCli:
    """Runs the workspace's ``tessera-lab`` / ``tessera-serve`` in a work directory.

    The caller's ``TESSERA_*`` variables are dropped, so a test never reaches a user's
    registry, store or receipts tree; state lives in ``<work>/.tessera`` unless overridden.
    """

    bin_dir = Path(sys.executable).parent

    def __call__(
        self, work: Path, *args: str, ok: tuple[int, ...] = (0,), **env: str
    ) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        environ.update(TESSERA_HOME=str(work / ".tessera"), OMP_WAIT_POLICY="passive")
        environ.update(env)
        result = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            cwd=work,
            env=environ,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert result.returncode in ok, f"{args} exited {result.returncode}:\n{result.stderr}"
        return result


@pytest.fixture(scope="session")
def tessera() -> TesseraCli:
    """Run a Tessera CLI as a real subprocess: ``tessera(work, "tessera-lab", ...)``."""
    return TesseraCli()
