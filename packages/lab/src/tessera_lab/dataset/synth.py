"""``synth_dataset``: a seeded, realistic re-ranking dataset streamed to the contract layout.

The story: proteins (queries) each get tens to hundreds of candidate ontology terms
from an upstream predictor whose score is ``base_score``. A hidden homology signal
and term priors decide relevance. Feature families see that signal with different
noise: ``knn`` and ``alignment`` carry most of it (alignment is missing when there is
no hit, more often for irrelevant terms), ``annotation_meta`` carries the term prior,
``length`` and ``taxonomy`` carry penalties the upstream scorer ignores. Categories
(ontology aspects) differ in difficulty; snapshot pairs drift a little; ``weight``
(information accretion) is long-tailed. The upstream score is useful but noisy, so
a booster that combines the families clearly beats the base ordering.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from tessera_contracts import ManifestV1, Producer
from tessera_lab.errors import DatasetError

from .columns import (
    BASE_SCORE,
    CANDIDATE_ID,
    CATEGORY,
    LABEL,
    LABEL_KINDS,
    QUERY_ID,
    SNAPSHOT_PAIR,
    WEIGHT,
)
from .writer import write_dataset

FEATURE_SCHEMA: dict[str, list[str]] = {
    "alignment": ["aln_identity", "aln_coverage", "aln_bitscore", "aln_log_evalue"],
    "annotation_meta": ["term_depth", "term_log_freq", "term_n_children"],
    "knn": ["knn_score", "knn_votes", "knn_max_identity"],
    "length": ["query_len", "len_ratio"],
    "taxonomy": ["tax_distance", "tax_same_genus"],
}
CATEGORIES: dict[str, tuple[float, float]] = {
    # name: (share of queries, noise multiplier = difficulty)
    "BPO": (0.45, 1.6),
    "CCO": (0.25, 0.7),
    "MFO": (0.30, 1.0),
}
SNAPSHOT_PAIRS: tuple[str, ...] = ("2023-01..2023-07", "2023-07..2024-01", "2024-01..2024-07")
MIN_CANDIDATES, MAX_CANDIDATES, MEDIAN_CANDIDATES = 10, 500, 60
CHUNK_ROWS = 64 * 1024
TERMS, TERM_STEP = 100_000, 7_919  # candidate term ids; the step is coprime with TERMS
EVAL_QUERY_ID_OFFSET = 1_000_000_000
Arr = np.ndarray[Any, Any]


def _draw_sizes(rng: np.random.Generator, count: int) -> Arr:
    sizes = rng.lognormal(np.log(MEDIAN_CANDIDATES), 0.7, count).round()
    return np.clip(sizes, MIN_CANDIDATES, MAX_CANDIDATES).astype(np.int64)


def _chunk_sizes(
    rng: np.random.Generator, rows: int | None, queries: int | None, chunk_rows: int
) -> Iterator[Arr]:
    """Query sizes chunk by chunk: exactly ``rows`` rows, or exactly ``queries`` queries."""
    if queries is not None:
        per_chunk = max(1, chunk_rows // MEDIAN_CANDIDATES)
        while queries > 0:
            count = min(per_chunk, queries)
            queries -= count
            yield _draw_sizes(rng, count)
        return
    remaining = int(rows or 0)
    while remaining > 0:
        target = min(remaining, chunk_rows)
        sizes = _draw_sizes(rng, target // MIN_CANDIDATES + 1)
        total = np.cumsum(sizes)
        if target == remaining:  # last chunk: truncate the last query to hit ``rows`` exactly
            count = int(np.searchsorted(total, target)) + 1
            sizes = sizes[:count].copy()
            sizes[-1] -= int(total[count - 1]) - target
        else:  # whole queries only
            count = max(1, int(np.searchsorted(total, target, side="right")))
            sizes = sizes[:count]
        remaining -= int(sizes.sum())
        yield sizes


def _sigmoid(x: Arr) -> Arr:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _term_prior(rng: np.random.Generator, n: int) -> tuple[Arr, Arr, Arr, Arr]:
    """Term depth, log frequency, child count and prior: deep, rare terms are less often right."""
    depth = np.clip(rng.poisson(5.0, n) + 1, 1, 15).astype(np.float64)
    log_freq = 9.0 - 0.45 * depth + rng.normal(0.0, 1.0, n)
    children = np.floor(np.exp(rng.normal(2.5 - 0.15 * depth, 1.0))).astype(np.float64)
    prior = 0.35 * (log_freq - 6.0)
    return depth, log_freq, children, prior


def _relevance(
    rng: np.random.Generator, q: Arr, nq: int, prior: Arr
) -> tuple[Arr, Arr, Arr, Arr, Arr]:
    """The hidden homology signal, the penalties the upstream scorer ignores, and the
    latent relevance they make (``homology, query_len, log_ratio, tax, latent``)."""
    n = len(q)
    homology = rng.normal(0.0, 1.0, n)
    query_len = np.round(np.exp(rng.normal(np.log(420.0), 0.5, nq)))[q]
    log_ratio = rng.normal(0.0, 0.45, n)
    tax = np.clip(rng.poisson(3.0, n), 0, 12).astype(np.float64)
    relevance = 1.3 * homology + prior - 1.6 * np.abs(log_ratio) - 0.18 * tax
    relevance += rng.normal(0.0, 0.6, nq)[q]  # some proteins are easier than others
    latent = relevance + rng.normal(0.0, 0.5, n)
    return homology, query_len, log_ratio, tax, latent


def _labels(latent: Arr, label_kind: str) -> Arr:
    if label_kind == "binary":
        return (latent > 1.6).astype(np.int64)
    return np.digitize(latent, [1.3, 2.2, 3.0]).astype(np.int64)


def _knn_features(
    rng: np.random.Generator, homology: Arr, noise: Arr, pair_index: int
) -> dict[str, Arr]:
    """Nearest-neighbour features: a strong view of the signal; votes drift with the pair."""
    n = len(homology)
    knn_raw = homology + rng.normal(0.0, 0.7, n) * noise
    knn_score = _sigmoid(1.5 * knn_raw - 1.0)
    knn_votes = rng.poisson(np.clip(2.0 * (1.0 + 0.25 * pair_index) * np.exp(0.6 * knn_raw), 0, 80))
    knn_max_identity = np.clip(0.35 + 0.12 * knn_raw + rng.normal(0, 0.08, n), 0.0, 1.0)
    return {"knn_score": knn_score, "knn_votes": knn_votes, "knn_max_identity": knn_max_identity}


def _alignment_features(
    rng: np.random.Generator, homology: Arr, noise: Arr, log_ratio: Arr, query_len: Arr
) -> dict[str, Arr]:
    """Alignment features, missing (NaN) where there is no hit, more often for irrelevant terms."""
    n = len(homology)
    aln_raw = homology + rng.normal(0.0, 1.0, n) * noise
    hit = aln_raw + rng.normal(0.0, 0.7, n) > -0.3
    aln_identity = np.clip(0.3 + 0.13 * aln_raw + rng.normal(0, 0.05, n), 0.05, 1.0)
    aln_coverage = np.clip(rng.beta(5.0, 2.0, n) * np.exp(-np.abs(log_ratio)), 0.0, 1.0)
    aln_bitscore = aln_identity * aln_coverage * query_len * 1.8 + rng.normal(0.0, 5.0, n)
    aln_log_evalue = -aln_bitscore / 12.0 + rng.normal(0.0, 1.0, n)
    values = (aln_identity, aln_coverage, aln_bitscore, aln_log_evalue)
    for column in values:
        column[~hit] = np.nan
    return dict(zip(FEATURE_SCHEMA["alignment"], values, strict=True))


def _penalty_features(rng: np.random.Generator, tax: Arr, log_ratio: Arr) -> dict[str, Arr]:
    """Taxonomy and length features (the penalties), each sometimes missing."""
    n = len(tax)
    tax_distance = tax.copy()
    tax_distance[rng.random(n) < 0.05] = np.nan
    same_genus = np.where(np.isnan(tax_distance), np.nan, (tax <= 2).astype(np.float64))
    len_ratio = np.exp(log_ratio)
    len_ratio[rng.random(n) < 0.02] = np.nan
    return {"len_ratio": len_ratio, "tax_distance": tax_distance, "tax_same_genus": same_genus}


def _chunk(
    rng: np.random.Generator,
    sizes: Arr,
    first_query_id: int,
    pair_index: int,
    pair: str,
    label_kind: str,
) -> pa.RecordBatch:
    """One chunk of whole queries as a record batch (the draws' order fixes the bytes)."""
    nq, n = len(sizes), int(sizes.sum())
    q = np.repeat(np.arange(nq), sizes)
    names = list(CATEGORIES)
    shares = np.array([CATEGORIES[c][0] for c in names])
    cat_q = rng.choice(len(names), size=nq, p=shares / shares.sum())
    noise = np.array([CATEGORIES[c][1] for c in names])[cat_q][q]
    depth, log_freq, children, prior = _term_prior(rng, n)
    homology, query_len, log_ratio, tax, latent = _relevance(rng, q, nq, prior)
    label = _labels(latent, label_kind)
    # Features: noisy views of the signal; ``noise`` scales with the category's difficulty.
    features = {
        **_knn_features(rng, homology, noise, pair_index),
        **_alignment_features(rng, homology, noise, log_ratio, query_len),
        **_penalty_features(rng, tax, log_ratio),
        "term_depth": depth,
        "term_log_freq": log_freq,
        "term_n_children": children,
        "query_len": query_len,
    }
    # The upstream scorer: a useful but noisy view, blind to length and taxonomy.
    base = 0.9 * homology + 0.5 * prior + rng.normal(0.0, 1.1, n) * noise
    base_score = _sigmoid(base + rng.normal(0.0, 0.8, nq)[q])
    weight = (rng.pareto(1.6, n) * (0.15 + 0.08 * depth)).round(4)
    weight[rng.random(n) < 0.08] = 0.0
    columns: dict[str, Any] = {
        QUERY_ID: (first_query_id + q).astype(np.int64),
        CANDIDATE_ID: _candidate_ids(rng.integers(0, TERMS, n), sizes, depth),
        LABEL: label,
        CATEGORY: pa.DictionaryArray.from_arrays(cat_q[q].astype(np.int32), names),
        SNAPSHOT_PAIR: pa.array(np.full(n, pair, dtype=object), pa.string()),
        BASE_SCORE: base_score,
        WEIGHT: weight,
    }
    for family_columns in FEATURE_SCHEMA.values():
        for column in family_columns:
            columns[column] = features[column].astype(np.float32)
    return pa.RecordBatch.from_pydict(columns)


def _candidate_ids(draws: Arr, sizes: Arr, depth: Arr) -> Arr:
    """Term ids ``depth * TERMS + term``, distinct within each query.

    A query's terms walk ``TERM_STEP`` apart (coprime with ``TERMS``) from its first row's
    draw, so no two of its candidates share a term while queries stay under ``TERMS`` rows.
    """
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    q = np.repeat(np.arange(len(sizes)), sizes)
    position = np.arange(len(q)) - offsets[q]
    terms = (draws[offsets][q] + position * TERM_STEP) % TERMS
    return np.asarray(depth.astype(np.int64) * TERMS + terms, dtype=np.int64)


def _split_budget(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _split_stream(
    seed: int,
    split_index: int,
    budget: int,
    by_queries: bool,
    pairs: Sequence[str],
    label_kind: str,
    chunk_rows: int,
) -> Iterator[pa.RecordBatch]:
    next_query = EVAL_QUERY_ID_OFFSET * split_index
    for pair_index, (pair, part) in enumerate(
        zip(pairs, _split_budget(budget, len(pairs)), strict=True)
    ):
        sizes_rng = np.random.default_rng([seed, split_index, pair_index, 0])
        rows_rng = np.random.default_rng([seed, split_index, pair_index, 1])
        rows, queries = (None, part) if by_queries else (part, None)
        for sizes in _chunk_sizes(sizes_rng, rows, queries, chunk_rows):
            yield _chunk(rows_rng, sizes, next_query, pair_index, pair, label_kind)
            next_query += len(sizes)


def synth_dataset(
    out_dir: str | Path,
    *,
    rows: int = 20_000,
    seed: int = 0,
    name: str | None = None,
    queries: int | None = None,
    label_kind: str = "binary",
    eval_fraction: float = 0.2,
    snapshot_pairs: int = len(SNAPSHOT_PAIRS),
    created_at: datetime | None = None,
    producer: Producer | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ManifestV1:
    """Generate and write a synthetic dataset; ``queries`` (if given) replaces ``rows``."""
    if label_kind not in LABEL_KINDS:
        raise DatasetError(f"label_kind must be one of {list(LABEL_KINDS)}, found {label_kind!r}")
    if not 0.0 < eval_fraction < 1.0:
        raise DatasetError(f"eval_fraction must be in (0, 1), found {eval_fraction}")
    if not 2 <= snapshot_pairs <= len(SNAPSHOT_PAIRS):
        raise DatasetError(f"snapshot_pairs must be 2..{len(SNAPSHOT_PAIRS)}, not {snapshot_pairs}")
    pairs = SNAPSHOT_PAIRS[-snapshot_pairs:]
    total = queries if queries is not None else rows
    minimum = 4 * len(pairs) if queries is not None else 100 * len(pairs)
    unit = "queries" if queries is not None else "rows"
    if total < minimum:
        raise DatasetError(f"synth needs at least {minimum} {unit}, found {total}")
    eval_budget = max(len(pairs), round(total * eval_fraction))
    budgets = (total - eval_budget, eval_budget)
    chunk_rows = max(chunk_rows, MAX_CANDIDATES)  # a chunk always fits a whole query
    train, eval_ = (
        _split_stream(seed, i, budgets[i], queries is not None, pairs, label_kind, chunk_rows)
        for i in range(2)
    )
    return write_dataset(
        out_dir,
        name=name or f"synth-{total}{'q' if queries is not None else 'r'}-seed{seed}",
        train=train,
        eval=eval_,
        feature_schema=FEATURE_SCHEMA,
        label_kind=label_kind,
        snapshot_pairs=list(pairs),
        categories=list(CATEGORIES),
        producer=producer,
        created_at=created_at,
    )
