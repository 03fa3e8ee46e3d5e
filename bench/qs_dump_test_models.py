"""Write the backend tests' models (binary, rank, sign) and test rows for the QS check."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, "packages/serving/tests/backends")
import conftest as c

out = Path("bench/out/qs_models")
out.mkdir(parents=True, exist_ok=True)
x, y = c._binary_table("binary.train")
text = c._train({"objective": "binary", "num_leaves": 15}, c._with_nans(x, 1), y)
xt, _ = c._binary_table("binary.test")
(out / "binary.txt").write_text(text)
np.save(out / "binary.npy", c._with_nans(xt, 2))
x, y = c._libsvm(c.DATA / "lambdarank" / "rank.train", 301)
g = np.loadtxt(c.DATA / "lambdarank" / "rank.train.query", dtype=int)
text = c._train(
    {"objective": "lambdarank", "num_leaves": 31, "min_data_in_leaf": 10},
    c._with_nans(x, 3, 0.03),
    y,
    group=g,
)
xt, _ = c._libsvm(c.DATA / "lambdarank" / "rank.test", 301)
(out / "rank.txt").write_text(text)
np.save(out / "rank.npy", c._with_nans(xt, 4, 0.03))
rng = np.random.default_rng(5)
x = rng.normal(size=(3000, 4))
y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(float) + 0.5 * (x[:, 2] > 0)
text = c._train({"objective": "regression", "num_leaves": 7}, c._with_nans(x, 7, 0.05), y)
(out / "sign.txt").write_text(text)
np.save(out / "sign.npy", c._with_nans(rng.normal(size=(500, 4)), 6))
print("ok")
