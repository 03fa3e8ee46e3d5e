"""Whether an open registry can serve now: database at the code's revision, store answering."""

from __future__ import annotations

from tessera_serving.registry.engine import Registry
from tessera_serving.registry.migrate import check_revision

_PROBE_SHA = "0" * 64


def registry_problems(registry: Registry) -> list[str]:
    """One line per reason ``registry`` cannot serve (empty when it can)."""
    problems: list[str] = []
    try:
        with registry.errors():
            check_revision(registry.engine)
    except Exception as exc:
        problems.append(f"registry: {_first_line(exc)}")
    try:
        registry.store.exists(_PROBE_SHA)
    except Exception as exc:
        problems.append(f"artifact store: {_first_line(exc)}")
    return problems


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
