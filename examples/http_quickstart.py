"""The HTTP service in a few requests, with the curl command a user would type beside each.

Starts ``tessera-serve http`` over the registry of a quick-start run (``examples/quickstart.py``,
run first if ``--work`` is not given), then: readiness, one scoring request, a scoring job,
its events, its prediction set streamed as TSV, and a drifted request that falls back to
the base ordering (and the same request with ``strict: true``, refused with a 422).

    uv run --frozen python examples/http_quickstart.py [--work quickstart-out/<run id>]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tessera_contracts import FEATURE_SCHEMA_METADATA_KEY

MODEL = "quickstart"
HERE = Path(__file__).resolve().parent


def quickstart_work(out: Path) -> Path:
    """Run the quick start (small) and return its run directory."""
    subprocess.run(
        [sys.executable, str(HERE / "quickstart.py"), "--out", str(out), "--rows", "5000"],
        check=True,
    )
    return max((p for p in out.iterdir() if p.name != "receipts"), key=lambda p: p.name)


def request_body(path: Path, queries: int, strict: bool = False) -> dict[str, Any]:
    """The first ``queries`` queries of a candidates file as a columnar JSON body."""
    table = pq.read_table(path)
    first = table.column("query_id").unique()[:queries]
    table = table.filter(pc.is_in(table.column("query_id"), value_set=first))
    schema = json.loads(table.schema.metadata[FEATURE_SCHEMA_METADATA_KEY.encode()])
    rows = {c: table.column(c).to_pylist() for c in table.column_names}
    rows = {k: [None if isinstance(x, float) and x != x else x for x in v] for k, v in rows.items()}
    body: dict[str, Any] = {"model": MODEL, "feature_schema": schema, "rows": rows}
    if strict:
        body["strict"] = True
    return body


class Demo:
    """A running server plus a client; ``step`` prints the curl command, then the answer."""

    def __init__(self, work: Path, port: int) -> None:
        self.work, self.base = work, f"http://127.0.0.1:{port}"
        self.token = secrets.token_urlsafe(24)
        tokens = work / "api-tokens.sha256"
        tokens.write_text(hashlib.sha256(self.token.encode()).hexdigest() + "\n")
        env = {
            **os.environ,
            "TESSERA_HOME": str(work / ".tessera"),
            "TESSERA_API_TOKENS_FILE": str(tokens),
        }
        self.log = (work / "http-server.log").open("wb")
        command = ["tessera-serve", "http", "--port", str(port)]
        print(
            f"$ TESSERA_HOME={work / '.tessera'} TESSERA_API_TOKENS_FILE={tokens} "
            + shlex.join(command)
        )
        print(f"$ export TOKEN={self.token}  # its sha256 is the only thing the server holds")
        self.server = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(
            base_url=self.base, timeout=120, headers={"Authorization": f"Bearer {self.token}"}
        )

    def step(self, title: str, method: str, path: str, body: Any = None) -> httpx.Response:
        curl = f"curl -sS -X {method} {shlex.quote(self.base + path)}"
        if method == "POST":
            curl += ' -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json"'
        if body is not None:
            name = "-".join(re.findall(r"[a-z0-9]+", title.lower())) + ".json"
            (self.work / name).write_text(json.dumps(body))
            curl += f" --data-binary @{name}"
        print(f"\n## {title}\n$ {curl}")
        response = self.client.request(method, path, json=body)
        print(f"-> {response.status_code}")
        return response

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise SystemExit(f"server exited; see {self.work / 'http-server.log'}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise SystemExit("server not ready in 180 s")

    def close(self) -> None:
        self.client.close()
        self.server.terminate()
        self.server.wait(timeout=60)


def short(document: Any, limit: int = 600) -> str:
    text = json.dumps(document, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + " ..."


def run(demo: Demo, work: Path) -> int:
    ready = demo.step("Readiness", "GET", "/readyz").json()
    print(short({"ready": ready["ready"], "models": [m["model"] for m in ready["models"]]}))
    scored = demo.step(
        "Score one request", "POST", "/v1/score", request_body(work / "dataset" / "eval.parquet", 2)
    ).json()
    print(short({k: scored[k] for k in ("job_id", "model", "counts")}))
    print("events:", [e["event"] for e in scored["events"]])
    job = demo.step(
        "Submit a scoring job",
        "POST",
        "/jobs",
        {
            "operation": "score",
            "payload": {"model": MODEL, "input": str(work / "dataset" / "eval.parquet")},
        },
    ).json()
    job_id = job["job_id"]
    while (state := demo.client.get(f"/jobs/{job_id}").json())["status"] == "running":
        time.sleep(0.3)
    demo.step("Poll the job", "GET", f"/jobs/{job_id}")
    print(short({k: state[k] for k in ("id", "status", "rows", "counts")}))
    events = demo.step("Read its events", "GET", f"/jobs/{job_id}/events").json()["events"]
    print([(e["event"], e["fields"].get("rows")) for e in events])
    tsv = demo.step(
        "Stream its prediction set", "GET", f"/scoring/prediction-sets/{job_id}/score.tsv"
    )
    lines = tsv.text.splitlines()
    print("\n".join(lines[:4]), f"\n... ({len(lines) - 1} rows)")
    drifted = request_body(work / "drifted.parquet", 2)
    fell_back = demo.step("A drifted request falls back", "POST", "/v1/score", drifted).json()
    print(
        "sources:",
        sorted(set(fell_back["rows"]["source"])),
        "events:",
        [e["event"] for e in fell_back["events"]],
    )
    refused = demo.step(
        "The same request, strict", "POST", "/v1/score", {**drifted, "strict": True}
    )
    print(short({k: refused.json().get(k) for k in ("type", "status", "detail")}))
    ok = (
        scored["counts"]["reranker"] > 0
        and state["status"] == "succeeded"
        and set(fell_back["rows"]["source"]) == {"fallback"}
        and refused.status_code == 422
    )
    print(
        f"\nhttp quickstart: {'ok' if ok else 'UNEXPECTED RESULT'}; server log: "
        f"{work / 'http-server.log'}; replay the curl lines from {work} with $TOKEN set"
    )
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="a finished quickstart run directory")
    parser.add_argument("--out", type=Path, default=Path("http-quickstart-out"))
    args = parser.parse_args()
    work = (args.work or quickstart_work(args.out.resolve())).resolve()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = Demo(work, port)
    try:
        demo.wait_ready()
        return run(demo, work)
    finally:
        demo.close()


if __name__ == "__main__":
    sys.exit(main())
