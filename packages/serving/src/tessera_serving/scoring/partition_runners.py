"""Where a partitioned job's partitions run: a Dask cluster or a local process pool.

Both yield, for each partition, its ``PartitionResult`` or the exception it raised. Dask
reschedules the partition of a worker that died; the pool is restarted (up to
``POOL_ATTEMPTS`` times) for the partitions whose process died. Workers end with their
coordinator, even killed with ``kill -9``: Dask's through its nanny pipe, the pool's through
``exit_with_parent`` (otherwise they would idle forever, or commit after the job was rerun).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tessera_serving.errors import ConfigurationError, ScoringError
from tessera_serving.scoring.partition_worker import PartitionResult, PartitionTask, score_partition

POOL_ATTEMPTS = 3
PARENT_CHECK_S = 0.5


def dask_client(dask: Any, workers: int) -> tuple[Any, Any]:
    """A ``(client, cluster_to_close)`` for ``dask`` (an address, ``local`` or a Client)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigurationError(
            "Dask scoring needs the dask extra: install tessera-serving[dask]"
        ) from None
    if isinstance(dask, Client):
        return dask, None
    if dask == "local":
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return Client(cluster), cluster
    return Client(str(dask)), None


def on_dask(dask: Any, workers: int, tasks: list[PartitionTask]) -> Iterator[Any]:
    from distributed import as_completed

    client, cluster = dask_client(dask, workers)
    try:
        futures = client.map(score_partition, tasks, pure=False)
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:
                yield exc
    finally:
        if cluster is not None:
            client.close()
            cluster.close()


def exit_with_parent(parent: int) -> None:
    """Pool worker initializer: exit as soon as the coordinator ``parent`` is gone; a worker
    blocks on a queue whose other end it holds itself, so it would never see EOF."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="tessera-parent-watch", daemon=True).start()


def on_pool(workers: int, tasks: list[PartitionTask]) -> Iterator[Any]:
    """A spawn-started process pool; partitions whose process died run again in a new pool."""
    todo = list(tasks)
    for attempt in range(POOL_ATTEMPTS):
        context = multiprocessing.get_context("spawn")
        broken: list[PartitionTask] = []
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            pending: dict[Future[PartitionResult], PartitionTask] = {
                pool.submit(score_partition, t): t for t in todo
            }
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    task = pending.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        broken.append(task)
                    except Exception as exc:
                        yield exc
        if not broken:
            return
        if attempt == POOL_ATTEMPTS - 1:
            names = [t.partition for t in broken]
            yield ScoringError(f"partitions {names[:3]}: their worker died {POOL_ATTEMPTS} times")
        todo = broken
