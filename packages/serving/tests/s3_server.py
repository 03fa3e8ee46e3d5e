"""A real S3-protocol server on loopback for the tests: moto in server mode, as a subprocess.

``S3Server.start()`` runs ``moto_server`` on a free 127.0.0.1 port and waits until it answers;
``env()`` gives the standard AWS variables (endpoint included) that point a client at it;
``new_bucket()`` creates an empty bucket, so tests sharing the server never see each other.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

MOTO_SERVER = Path(sys.executable).parent / "moto_server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class S3Server:
    """A running ``moto_server`` subprocess."""

    process: subprocess.Popen[bytes]
    endpoint: str

    @classmethod
    def start(cls, timeout_s: float = 60.0) -> S3Server:
        port = _free_port()
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                    return cls(process, endpoint)
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError(f"moto_server did not start on {endpoint}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def env(self) -> dict[str, str]:
        """The standard AWS variables a client reads to reach this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "tessera-test",
            "AWS_SECRET_ACCESS_KEY": "tessera-test-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def new_bucket(self) -> str:
        """Create an empty bucket and return its name."""
        import boto3

        name = f"tessera-{uuid.uuid4().hex[:20]}"
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="tessera-test",
            aws_secret_access_key="tessera-test-secret",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=name)
        return name
