"""The dask engine: one booster trained on LightGBM's Dask interface (``lightgbm.dask``).

The rows of a cell are cut into one partition of whole queries per worker (the group sizes
travel with their partition), partition ``i`` is placed on the ``i``-th worker in address
order, and LightGBM's data-parallel learner trains one model across them. LightGBM gives
each rank the partition it holds and builds the feature bins from the ranks' data, so the
lab pins partition ``i`` to rank ``i``: the same spec, data, seed and number of workers give
the same model bytes. The network parameters LightGBM writes into the model text (worker
addresses, ports) are removed, so ``model.txt`` names no machine.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from importlib.metadata import version
from itertools import pairwise
from typing import Any

import numpy as np

from tessera_lab.booster import SMOKE_ROUNDS, Fit, lightgbm_params
from tessera_lab.errors import TrainingError
from tessera_lab.progress import Progress
from tessera_lab.protocol import Cell, Rows, training_weights
from tessera_lab.spec import DaskEngine, Spec

Arr = np.ndarray[Any, Any]
_IGNORED_PARAMETER = re.compile(r"Parameter (num_threads|n_jobs) will be ignored")
_NETWORK_LINE = re.compile(r"^\[(machines|local_listen_port): [^\n]*\]\n", re.MULTILINE)


def check_dask_installed(where: str) -> None:
    """Fail with one line, before any work, when the dask extra is not installed."""
    missing = []
    for module in ("dask.array", "distributed", "pandas"):
        try:
            import_module(module)
        except ImportError:
            missing.append(module.split(".")[0])
    if missing:
        raise TrainingError(
            f"{where}: engine: the dask engine needs {' and '.join(missing)} (not installed); "
            "install the lab's dask extra (pip install 'tessera-lab[dask]')"
        )


def query_partitions(group_sizes: Arr, parts: int) -> list[tuple[int, int, int, int]]:
    """At most ``parts`` runs of whole queries with about equal rows.

    Each run is ``(first row, end row, first query, end query)``; none is empty.
    """
    ends = np.cumsum(group_sizes)
    total, queries = int(ends[-1]), len(group_sizes)
    targets = [k * total / parts for k in range(1, parts)]
    cuts = {int(np.searchsorted(ends, t, side="left")) + 1 for t in targets}
    bounds = [0, *sorted(c for c in cuts if 0 < c < queries), queries]
    row_at = np.concatenate([[0], ends])
    return [(int(row_at[q0]), int(row_at[q1]), q0, q1) for q0, q1 in pairwise(bounds)]


def canonical_model_text(text: str) -> str:
    """The model text without the machine list and port LightGBM records for the network."""
    return _NETWORK_LINE.sub("", text)


@cache
def _ranked_client_class() -> type[Any]:
    client_module = import_module("distributed.client")
    base: Any = client_module.Client

    class RankedClient(base):  # type: ignore[misc]
        """A client whose ``who_has`` keeps the order of the futures it is asked about.

        LightGBM numbers its ranks in ``who_has`` order; the stock client answers in set
        order, which would hand partition 0 to a different rank from run to run.
        """

        def who_has(self, futures: Any = None, **kwargs: Any) -> Any:
            answer = super().who_has(futures, **kwargs)
            if futures is None:
                return answer
            order = dict.fromkeys(f.key for f in self.futures_of(futures))
            return client_module.WhoHas({key: answer[key] for key in order if key in answer})

    return RankedClient


class _QuietLightGBM:
    """LightGBM's logger during a Dask fit: network chatter dropped, other warnings kept.

    ``lightgbm.dask`` warns that each worker's own thread count replaces ``num_threads``
    and ``n_jobs``: that is the lab's intent, so that warning is dropped too.
    """

    def info(self, message: str) -> None:
        del message

    def warning(self, message: str) -> None:
        if not _IGNORED_PARAMETER.match(message):
            warnings.warn(f"LightGBM: {message}", RuntimeWarning, stacklevel=2)


@contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    """Point file descriptor 1 at /dev/null for the block (an in-process cluster's fit).

    LightGBM's log level and log callback are per thread, and its network start-up runs
    before the parameters (``verbosity``) are read, so on Dask worker threads it prints
    its Info lines straight to the process's standard output, which is the CLI's report.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


@contextmanager
def _quiet_lightgbm(in_process: bool) -> Iterator[None]:
    import lightgbm as lgb

    basic = lgb.basic
    previous = (
        getattr(basic, "_LOGGER", None),
        getattr(basic, "_INFO_METHOD_NAME", "info"),
        getattr(basic, "_WARNING_METHOD_NAME", "warning"),
    )
    lgb.register_logger(_QuietLightGBM())
    try:
        with _stdout_to_devnull() if in_process else nullcontext():
            yield
    finally:
        if previous[0] is not None:
            lgb.register_logger(
                previous[0], info_method_name=previous[1], warning_method_name=previous[2]
            )


@dataclass
class DaskSession:
    """A connected client and the workers the partitions go to (in address order)."""

    engine: DaskEngine
    client: Any
    workers: list[str]
    partitions: list[dict[str, int]] = field(default_factory=list)

    def _place(self, rows: Rows, weighting: str) -> dict[str, Any]:
        da = import_module("dask.array")

        sizes = rows.group_sizes()
        weight = training_weights(rows, weighting)
        columns: dict[str, list[Any]] = {"X": [], "y": [], "group": [], "weight": []}
        self.partitions = []
        cuts = query_partitions(sizes, len(self.workers))
        for worker, (r0, r1, q0, q1) in zip(self.workers, cuts, strict=False):
            pieces = {"X": rows.features[r0:r1], "y": rows.label[r0:r1], "group": sizes[q0:q1]}
            if weight is not None:
                pieces["weight"] = weight[r0:r1]
            arrays = {k: da.from_array(v, chunks=v.shape) for k, v in pieces.items()}
            placed = self.client.persist(list(arrays.values()), workers=[worker])
            for key, array in zip(arrays, placed, strict=True):
                columns[key].append(array)
            self.partitions.append({"rows": r1 - r0, "queries": q1 - q0})
        return {k: da.concatenate(v) if v else None for k, v in columns.items()}

    def fit(
        self, rows: Rows, names: list[str], spec: Spec, params: Mapping[str, Any], rounds: int
    ) -> str:
        """Train ``rounds`` rounds on ``rows`` across the workers; return the model text."""
        from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRanker

        data = self._place(rows, spec.weighting)
        options = {k: v for k, v in params.items() if k != "num_threads"}  # set per worker
        ranker = spec.objective == "lambdarank"
        model = (DaskLGBMRanker if ranker else DaskLGBMClassifier)(
            client=self.client, n_estimators=rounds, **options
        )
        extra = {"group": data["group"]} if ranker else {}
        try:
            with _quiet_lightgbm(in_process=self.engine.scheduler == "local"):
                model.fit(
                    data["X"], data["y"], sample_weight=data["weight"], feature_name=names, **extra
                )
        except Exception as exc:  # LightGBM, Dask and the network each raise their own
            raise TrainingError(
                f"dask engine ({self.engine.scheduler}): training failed: "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc
        return canonical_model_text(model.booster_.model_to_string())

    def record(self) -> dict[str, Any]:
        """What ``report/engine.json`` says about the engine and the last fit's partitions."""
        return {
            "kind": "dask",
            "scheduler": self.engine.scheduler,
            "workers": len(self.workers),
            "threads_per_worker": [self.client.ncores()[w] for w in self.workers],
            "partitions": self.partitions,
            "versions": {name: version(name) for name in ("dask", "distributed", "lightgbm")},
        }


def _connect(engine: DaskEngine, threads: int, where: str) -> tuple[Any, Any]:
    import logging

    client_class = _ranked_client_class()
    if engine.scheduler == "local":
        cluster = import_module("distributed").LocalCluster(
            n_workers=engine.workers, threads_per_worker=threads, processes=False,
            dashboard_address=None, silence_logs=logging.ERROR,
        )  # fmt: skip
        return cluster, client_class(cluster, timeout=engine.connect_timeout_s)
    try:
        client = client_class(engine.scheduler, timeout=engine.connect_timeout_s)
    except (OSError, TimeoutError) as exc:
        raise TrainingError(
            f"{where}: engine.scheduler: cannot reach the Dask scheduler at {engine.scheduler} "
            f"within {engine.connect_timeout_s:g} s ({type(exc).__name__}); start it or fix "
            "the address"
        ) from None
    try:
        client.wait_for_workers(engine.workers, timeout=engine.connect_timeout_s)
    except (OSError, TimeoutError):
        found = len(client.scheduler_info().get("workers", {}))
        client.close()
        raise TrainingError(
            f"{where}: engine.workers: expected {engine.workers} workers at {engine.scheduler} "
            f"within {engine.connect_timeout_s:g} s, found {found}; start more workers or "
            "lower engine.workers"
        ) from None
    return None, client


@contextmanager
def dask_session(engine: DaskEngine, threads: int, where: str) -> Iterator[DaskSession]:
    """Connect (or start a local in-process cluster) for the duration of the block."""
    check_dask_installed(where)
    cluster, client = _connect(engine, threads, where)
    try:
        workers = sorted(client.scheduler_info()["workers"])[: engine.workers]
        yield DaskSession(engine=engine, client=client, workers=workers)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def fit_cell_dask(
    session: DaskSession,
    cell: Cell,
    names: list[str],
    spec: Spec,
    *,
    smoke: bool = False,
    progress: Progress | None = None,
    label: str = "train",
) -> Fit:
    """Train ``cell.train`` for exactly ``num_boost_round`` rounds on the session's workers."""
    import lightgbm as lgb

    rounds = min(spec.num_boost_round, SMOKE_ROUNDS) if smoke else spec.num_boost_round
    params = lightgbm_params(spec, smoke=smoke)
    if progress is not None:
        progress.message(f"{label}: {rounds} rounds on {len(session.workers)} Dask workers")
    text = session.fit(cell.train, names, spec, params, rounds)
    booster = lgb.Booster(model_str=text)
    if progress is not None:
        progress.round(label, rounds, rounds, None, None, None)
        progress.done()
    return Fit(booster, booster.current_iteration(), booster.current_iteration())
