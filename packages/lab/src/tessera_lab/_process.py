"""``configure``: the process-wide settings a lab program opts into, applied on request.

Importing the lab changes nothing outside it; the ``tessera-lab`` CLI (or a script that
wants the same behaviour) calls :func:`configure` once, before training.
"""

from __future__ import annotations

from tessera_lab.threads import prefer_passive_wait


def configure() -> None:
    """Apply the lab's process-wide defaults: passive OpenMP waiting, headless plotting.

    Settings the environment already holds win (``OMP_WAIT_POLICY``, ``MPLBACKEND``).
    Call before LightGBM or matplotlib's pyplot are first imported; later calls are harmless.
    """
    import os

    prefer_passive_wait()
    os.environ.setdefault("MPLBACKEND", "Agg")
