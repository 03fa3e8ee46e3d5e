"""Receipts, run summaries and drift reports rendered as Markdown for a person to read."""

from __future__ import annotations

from tessera_contracts._drift import DriftReport
from tessera_contracts._receipts import Receipt
from tessera_contracts._summary import RunSummary


def render_summary_markdown(summary: RunSummary) -> str:
    """A readable ``summary.md`` body: verdict, one table row per stage, then the errors."""
    verdict = "PASSED" if summary.passed else f"FAILED (stopped at `{summary.stopped_at}`)"
    lines = [
        f"# Run `{summary.run_id}` of pipeline `{summary.pipeline}`: {verdict}",
        "",
        f"- started: {summary.started_at.isoformat()}",
        f"- finished: {summary.finished_at.isoformat()}",
        f"- run fingerprint: `{summary.run_fingerprint[:16]}`",
        "",
        "| stage | result | in | accepted | rejected | quarantined | skipped | unit "
        "| inputs | outputs | duration (s) |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---|---:|",
    ]
    for s in summary.stages:
        st = s.stats
        lines.append(
            f"| {s.stage} | {'ok' if s.passed else '**FAILED**'} | {st.records_in} "
            f"| {st.accepted} | {st.rejected} | {st.quarantined} | {st.skipped} | {st.unit} "
            f"| `{s.inputs_sha256[:12]}` | `{s.outputs_sha256[:12]}` | {s.duration_s:.2f} |"
        )
    for stage in summary.missing_stages:
        lines.append(f"| {stage} | **not run** | | | | | | | | | |")
    problems = [(s.stage, e.class_, e.message) for s in summary.stages for e in s.errors]
    warnings = [(s.stage, w) for s in summary.stages for w in s.warnings]
    if problems:
        lines += ["", "## Errors", ""]
        lines += [f"- `{stage}` {cls}: {msg}" for stage, cls, msg in problems]
    if warnings:
        lines += ["", "## Warnings", ""]
        lines += [f"- `{stage}`: {msg}" for stage, msg in warnings]
    return "\n".join(lines) + "\n"


def render_receipt_markdown(receipt: Receipt) -> str:
    """One receipt for a person: verdict, counts, then every input and output file."""
    st = receipt.stats
    lines = [
        f"### `{receipt.stage}`: {'ok' if receipt.validation.passed else 'FAILED'}"
        f" (run `{receipt.run_id}`, pipeline `{receipt.pipeline}`)",
        "",
        f"- {receipt.started_at.isoformat()} .. {receipt.finished_at.isoformat()}"
        f" ({receipt.duration_s:.2f} s), {receipt.producer.name} {receipt.producer.version}"
        f" at {receipt.git_commit or 'unknown commit'}",
        f"- {st.unit}: in {st.records_in}, accepted {st.accepted}, rejected {st.rejected},"
        f" quarantined {st.quarantined}, skipped {st.skipped}",
        f"- fingerprint `{receipt.fingerprint}`",
    ]
    if receipt.parameters:
        params = ", ".join(f"{k}={v!r}" for k, v in sorted(receipt.parameters.items()))
        lines.append(f"- parameters: {params}")
    for title, files in (("inputs", receipt.inputs), ("outputs", receipt.outputs)):
        lines.append(f"- {title} (aggregate `{files.aggregate_sha256[:16]}`):")
        lines += [
            f"  - `{f.path}` {f.kind} sha256 `{f.sha256[:16]}` {f.bytes} bytes"
            + (f", {f.records} records" if f.records is not None else "")
            for f in files.files
        ]
    lines += [f"- error {e.class_}: {e.message}" for e in receipt.validation.errors]
    lines += [f"- warning: {w}" for w in receipt.validation.warnings]
    return "\n".join(lines) + "\n"


def render_drift_markdown(report: DriftReport) -> str:
    """A readable drift section: overall severity, then one line per stage with its reasons."""
    if report.previous_run_id is None:
        return "## Drift\n\nFirst run of this pipeline: nothing to compare with.\n"
    lines = [
        f"## Drift vs run `{report.previous_run_id}`: {report.severity.upper()}",
        "",
        f"Count threshold: {report.threshold_pct:g}%."
        + (" **Deterministic violation.**" if report.deterministic_violation else ""),
        "",
        "| stage | severity | inputs | outputs | records_in | notes |",
        "|---|---|---|---|---|---|",
    ]
    for s in report.stages:
        rec = s.counts.get("records_in")
        count = f"{rec.previous} -> {rec.current}" if rec else ""
        lines.append(
            f"| {s.stage} | {s.severity} | {_same(s.inputs_match)} | {_same(s.outputs_match)} "
            f"| {count} | {'; '.join(s.reasons) or '-'} |"
        )
    return "\n".join(lines) + "\n"


def _same(match: bool | None) -> str:
    return "-" if match is None else "same" if match else "changed"
