"""How fast and how right a built engine is: latency and recall@k at given search settings,
and the settings a sweep tries. The Engines tab and ``bench/bench_engines.py`` both measure
with these, so their "ms/query" means the same thing.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from core.engines.base import Engine, ParamSpec, ParamValue
from core.search import recall_at_k

# The factors of the current value a sweep tries (clamped to the parameter's range).
SWEEP = (0.25, 0.5, 1, 2, 4, 8, 16, 32)
# Search parameters that are rescoring factors: k × factor candidates from compressed
# codes, re-ranked by the full vectors (faiss-ivfpq-rerank, pgvector-binary).
RESCORING_FACTORS = ("k_factor", "oversample")


@dataclass(frozen=True)
class Measured:
    """One engine at one search setting: ``ms_per_query`` is the median of one-query
    searches (each search's own time, as the engine reports it); ``recall`` is recall@k
    against the exact ids; ``ids`` the ``(q, k)`` ids found."""

    params: tuple[tuple[str, ParamValue], ...]
    ms_per_query: float
    recall: float
    ids: np.ndarray

    @property
    def setting(self) -> str:
        """``name=value, ...``, or ``-`` without search parameters."""
        return ", ".join(f"{name}={value:g}" for name, value in self.params) or "-"


def measure(
    engine: Engine, queries: np.ndarray, truth: np.ndarray, k: int, **params: ParamValue
) -> Measured:
    """Search ``engine`` with each of the ``(q, d)`` ``queries`` alone (what one user's
    query costs) at search parameters ``params``; ``truth`` holds the exact ``(q, k)`` ids.
    Raises ExplorerError when the engine finds fewer than ``k`` at these settings."""
    found = [engine.search(queries[i : i + 1], k, **params) for i in range(len(queries))]
    ids = np.vstack([f.ids for f in found])
    ms = 1000 * statistics.median(f.seconds for f in found)
    return Measured(tuple(params.items()), ms, recall_at_k(truth, ids), ids)


def sweep_values(
    spec: ParamSpec, around: ParamValue, factors: tuple[float, ...] = SWEEP
) -> list[ParamValue]:
    """Values of ``spec`` to try: ``factors`` × ``around``, clamped to its range, distinct,
    ascending."""
    return sorted({spec.kind(min(max(around * f, spec.min), spec.max)) for f in factors})
