"""Tessera's main job, end to end, on embedded defaults."""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    """Run every stage that exists so far."""
    for command in (["tessera-lab", "--version"], ["tessera-serve", "--version"]):
        subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
