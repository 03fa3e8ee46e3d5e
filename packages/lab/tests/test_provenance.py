"""provenance: the producer block names the lab, its version and this checkout's commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tessera_lab import __version__
from tessera_lab.provenance import code_git_sha, lab_producer


def test_producer_in_a_checkout() -> None:
    here = Path(__file__).resolve().parent
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True
    ).stdout.strip()
    producer = lab_producer()
    assert producer.name == "tessera-lab"
    assert producer.version == __version__
    assert producer.git_sha == code_git_sha() == head
