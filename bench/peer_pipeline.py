"""The bare pipeline a competent user would write instead of Tessera: the overhead baseline.

    python bench/peer_pipeline.py MODEL.txt IN.parquet OUT.parquet [--object X.o] [--threads 2]

Reads the booster's columns (and the row keys) batch by batch into one reused C-contiguous
float64 buffer, predicts with lleaves (``--object``: an already compiled object) or
LightGBM, writes keys and scores with ``ParquetWriter``. No guard, job, receipts or ranks.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

KEYS = ("query_id", "candidate_id")


def score(model: str, source: str, target: str, obj: str | None, threads: int = 2) -> None:
    """Score ``source`` into ``target`` with the model text at ``model``."""
    with open(model) as handle:
        names = next(ln for ln in handle if ln.startswith("feature_names=")).split("=")[1].split()
    if obj:
        import lleaves

        booster = lleaves.Model(model_file=model)
        booster.compile(cache=obj)  # loads the object, no compiling
        predict = lambda m: booster.predict(m, n_jobs=threads)  # noqa: E731
    else:
        import lightgbm as lgb

        gbm = lgb.Booster(model_file=model)
        predict = lambda m: gbm.predict(m, num_threads=threads)  # noqa: E731
    buffer = np.empty((65_536, len(names)), dtype=np.float64)
    schema = pa.schema([*(pa.field(k, pa.int64()) for k in KEYS), pa.field("score", pa.float64())])
    reader = pq.ParquetFile(source, pre_buffer=False)
    with pq.ParquetWriter(target, schema, compression="zstd") as writer:
        for batch in reader.iter_batches(batch_size=len(buffer), columns=[*KEYS, *names]):
            matrix = buffer[: batch.num_rows]
            for j, name in enumerate(names):
                matrix[:, j] = batch.column(name).to_numpy(zero_copy_only=False)
            columns = [*(batch.column(k) for k in KEYS), pa.array(predict(matrix))]
            writer.write_batch(pa.record_batch(columns, schema=schema))


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for arg in ("model", "source", "target"):
        cli.add_argument(arg)
    cli.add_argument("--object", default=None)
    cli.add_argument("--threads", type=int, default=2)
    args = cli.parse_args()
    score(args.model, args.source, args.target, args.object, args.threads)
