"""The receipts runtime: record, write, summarize, compare and render stage receipts.

Stdlib plus the core contract. The core (``tessera_contracts``) never imports this package:
it holds the receipt, summary and drift *models* both sides validate, while this package is
the code that produces them (environment variables, a ``git`` subprocess, file writes,
Markdown). A change to drift rendering is therefore not a change to the contract.
"""

import importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from .commands import (
        add_drift_options,
        add_summarize_command,
        print_drift,
        summarize_command,
    )
    from .context import (
        PIPELINE_ENV,
        RECEIPTS_DIR_ENV,
        RUN_ID_ENV,
        git_commit,
        resolve_pipeline,
        resolve_run_id,
    )
    from .drift import (
        DRIFT_THRESHOLD_ENV,
        FAIL_ON_CHOICES,
        compare_runs,
        drift_reaches,
        resolve_drift_threshold,
    )
    from .files import load_receipts, receipt_path, write_receipt
    from .markdown import render_drift_markdown, render_receipt_markdown, render_summary_markdown
    from .recorder import ReceiptRecorder
    from .report import RunReport, find_previous_run, write_run_report
    from .summary import summarize_run

# Each name loads its module on first use: recording a receipt (``ReceiptRecorder``) needs
# none of the summary, drift and Markdown code, nor the drift and summary models.
_EXPORTS: dict[str, str] = {
    "DRIFT_THRESHOLD_ENV": "tessera_contracts.receipts.drift",
    "FAIL_ON_CHOICES": "tessera_contracts.receipts.drift",
    "PIPELINE_ENV": "tessera_contracts.receipts.context",
    "RECEIPTS_DIR_ENV": "tessera_contracts.receipts.context",
    "RUN_ID_ENV": "tessera_contracts.receipts.context",
    "ReceiptRecorder": "tessera_contracts.receipts.recorder",
    "RunReport": "tessera_contracts.receipts.report",
    "add_drift_options": "tessera_contracts.receipts.commands",
    "add_summarize_command": "tessera_contracts.receipts.commands",
    "compare_runs": "tessera_contracts.receipts.drift",
    "drift_reaches": "tessera_contracts.receipts.drift",
    "find_previous_run": "tessera_contracts.receipts.report",
    "git_commit": "tessera_contracts.receipts.context",
    "load_receipts": "tessera_contracts.receipts.files",
    "print_drift": "tessera_contracts.receipts.commands",
    "receipt_path": "tessera_contracts.receipts.files",
    "render_drift_markdown": "tessera_contracts.receipts.markdown",
    "render_receipt_markdown": "tessera_contracts.receipts.markdown",
    "render_summary_markdown": "tessera_contracts.receipts.markdown",
    "resolve_drift_threshold": "tessera_contracts.receipts.drift",
    "resolve_pipeline": "tessera_contracts.receipts.context",
    "resolve_run_id": "tessera_contracts.receipts.context",
    "summarize_command": "tessera_contracts.receipts.commands",
    "summarize_run": "tessera_contracts.receipts.summary",
    "write_receipt": "tessera_contracts.receipts.files",
    "write_run_report": "tessera_contracts.receipts.report",
}

__all__ = [
    "DRIFT_THRESHOLD_ENV",
    "FAIL_ON_CHOICES",
    "PIPELINE_ENV",
    "RECEIPTS_DIR_ENV",
    "RUN_ID_ENV",
    "ReceiptRecorder",
    "RunReport",
    "add_drift_options",
    "add_summarize_command",
    "compare_runs",
    "drift_reaches",
    "find_previous_run",
    "git_commit",
    "load_receipts",
    "print_drift",
    "receipt_path",
    "render_drift_markdown",
    "render_receipt_markdown",
    "render_summary_markdown",
    "resolve_drift_threshold",
    "resolve_pipeline",
    "resolve_run_id",
    "summarize_command",
    "summarize_run",
    "write_receipt",
    "write_run_report",
]


def __getattr__(name: str) -> _typing.Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tessera_contracts.receipts' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
