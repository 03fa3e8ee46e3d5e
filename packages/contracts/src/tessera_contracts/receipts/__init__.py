"""The receipts runtime: record, write, summarize, compare and render stage receipts.

Stdlib plus the core contract. The core (``tessera_contracts``) never imports this package:
it holds the receipt, summary and drift *models* both sides validate, while this package is
the code that produces them (environment variables, a ``git`` subprocess, file writes,
Markdown). A change to drift rendering is therefore not a change to the contract.
"""

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
