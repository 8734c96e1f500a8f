"""faiss (faiss-cpu) engines: a flat index, HNSW, IVFFlat, IVF-PQ and IVF-PQ re-ranked by the
full vectors (its ``k_factor``, the rescoring factor), the talk's "in-memory only" row. faiss
is imported on first build, so listing the engines works without it.

Cosine is faiss's inner product on unit vectors; euclidean comes back as L2 distance (faiss
returns it squared). IVF trains k-means on the vectors (``train_seconds``), in a child process
that Cancel kills when the sample is large; a corpus too small for the asked ``nlist`` or PQ
codebook is handled by lowering them, recorded in ``notes``.
"""

from __future__ import annotations

import importlib.util
import math
import tempfile
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.engines.base import (
    Engine,
    EngineInfo,
    ParamSpec,
    ParamValue,
    engine_threads,
    engines_dir,
    library,
)
from core.metrics import Metric

_METRICS = (Metric.COSINE.value, Metric.DOT.value, Metric.EUCLIDEAN.value)
# faiss's k-means warns below this many training points per centroid.
POINTS_PER_CENTROID = 39
# ... and samples down to this many per centroid, so no more are passed to it.
MAX_POINTS_PER_CENTROID = 256
WHERE = "in-memory only (a library, not a service)"
# Training on more values than this runs in a child process that Cancel kills (starting one
# costs about a second; below this, k-means takes about as long in this process).
CHILD_TRAINING_VALUES = 4_000_000


def faiss_reason() -> str | None:
    """Why the faiss engines cannot run here, or None."""
    if importlib.util.find_spec("faiss") is None:
        return "faiss-cpu is not installed (pip install faiss-cpu)."
    return None


def _faiss() -> Any:
    import faiss

    faiss.omp_set_num_threads(engine_threads())
    return faiss


def train_serialized(index: np.ndarray, rows_file: str) -> np.ndarray:
    """The serialised faiss ``index`` trained on the ``(r, d)`` float32 rows saved in the
    ``.npy`` file ``rows_file``, serialised again (run in a child process: arrays cross the
    process boundary, faiss objects do not). The rows are memory-mapped, not copied: the
    sample (100 MB at nlist 256 × 384 dims) is not pickled, piped and unpickled."""
    faiss = _faiss()
    trained = faiss.deserialize_index(index)
    trained.train(np.load(rows_file, mmap_mode="r"))
    return faiss.serialize_index(trained)


def training_rows(vectors: np.ndarray, centroids: int, seed: int = 0) -> np.ndarray:
    """Rows to train ``centroids`` k-means centres on: a seeded sample of at most
    ``MAX_POINTS_PER_CENTROID`` per centre, or the rows repeated up to
    ``POINTS_PER_CENTROID`` per centre when there are fewer (a tiny corpus)."""
    n = vectors.shape[0]
    wanted = POINTS_PER_CENTROID * centroids
    if n < wanted:
        return np.ascontiguousarray(np.resize(vectors, (wanted, vectors.shape[1])))
    cap = MAX_POINTS_PER_CENTROID * centroids
    if n <= cap:
        return vectors
    rows = np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))
    return vectors[rows]


def training_sample_bytes(n: int, dims: int, params: Mapping[str, ParamValue]) -> int:
    """Bytes of the float32 sample an IVF build with ``params`` (``nlist``; ``nbits`` for
    PQ's codebooks) copies from ``n`` × ``dims`` vectors to train on: :func:`training_rows`
    samples only above ``MAX_POINTS_PER_CENTROID`` rows per centre (below, the values
    are lowered and the vectors themselves used); 0 for an index that trains nothing."""
    if "nlist" not in params:
        return 0
    centres = max(int(params["nlist"]), 2 ** int(params.get("nbits", 0)))
    cap = MAX_POINTS_PER_CENTROID * centres
    return cap * dims * 4 if n > cap else 0


class FaissEngine(Engine):
    """The steps every faiss index shares: make, train (IVF), add in chunks, search, size."""

    # What training does, as a build in progress names it.
    _training_step = "training k-means for the cells"

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._index: Any = None
        self._bytes = 0
        self._bits = 0
        self._cells = 1  # k-means cells an IVF index trains (its nlist)

    @abstractmethod
    def _make(self, faiss: Any, dims: int, metric: int, n: int) -> Any:
        """A new, empty index for ``n`` vectors of ``dims`` dimensions."""

    def _search_parameters(self, faiss: Any, params: dict[str, ParamValue]) -> Any:
        """faiss's per-call search parameters, or None."""
        return None

    def _build(
        self, vectors: np.ndarray, metric: Metric, chunks: Callable[[], Iterator[slice]]
    ) -> None:
        faiss = _faiss()
        kind = faiss.METRIC_L2 if metric is Metric.EUCLIDEAN else faiss.METRIC_INNER_PRODUCT
        index = self._make(faiss, vectors.shape[1], kind, vectors.shape[0])
        if not index.is_trained:
            start = time.perf_counter()
            sample = training_rows(vectors, max(self._cells, self._codebook_size()))
            index = self._train(faiss, index, sample)
            self._train_seconds = time.perf_counter() - start
        for rows in chunks():
            index.add(vectors[rows])
        self._index = index
        self._bytes = int(faiss.serialize_index(index).nbytes)

    def _codebook_size(self) -> int:
        """Centres of the largest k-means the index trains besides its cells (PQ's)."""
        return 1

    def _train(self, faiss: Any, index: Any, rows: np.ndarray) -> Any:
        """``index`` trained on the ``(r, d)`` ``rows``: here when that is quick, else in a
        child process that ``should_stop()`` can kill (then Cancelled is raised)."""
        if rows.size <= CHILD_TRAINING_VALUES:
            index.train(rows)
            return index
        with tempfile.TemporaryDirectory(dir=engines_dir()) as folder:
            rows_file = str(Path(folder) / "training.npy")
            np.save(rows_file, np.ascontiguousarray(rows, dtype=np.float32))
            trained = self._in_child(
                self._training_step,
                rows.size,
                train_serialized,
                faiss.serialize_index(index),
                rows_file,
            )
        return faiss.deserialize_index(trained)

    def _search(
        self, queries: np.ndarray, k: int, params: dict[str, ParamValue]
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        found = self._index.search(queries, k, params=self._search_parameters(faiss, params))
        scores, ids = found
        scores = scores.astype(np.float64)
        if self.metric is Metric.EUCLIDEAN:
            scores = np.sqrt(np.maximum(scores, 0.0))
        return ids, scores

    def _index_bytes(self) -> int:
        return self._bytes

    def _release(self) -> None:
        self._index = None
        self._bytes = 0
        self._train_seconds = None


class FaissFlatEngine(FaissEngine):
    """``IndexFlatIP`` / ``IndexFlatL2``: exact search by faiss's own kernels."""

    info = EngineInfo(
        name="faiss-flat",
        algorithm="exact",
        library=library("faiss-cpu"),
        where_deployed=WHERE,
        metrics=_METRICS,
        summary="faiss's brute-force index: exact, every vector scored.",
    )

    def _make(self, faiss: Any, dims: int, metric: int, n: int) -> Any:
        return faiss.IndexFlat(dims, metric)


class FaissHnswEngine(FaissEngine):
    """``IndexHNSWFlat``: faiss's HNSW graph over the full vectors."""

    info = EngineInfo(
        name="faiss-hnsw",
        algorithm="HNSW",
        library=library("faiss-cpu"),
        where_deployed=WHERE,
        metrics=_METRICS,
        build_params=(
            ParamSpec("M", 32, 16, 2, 100, "Links per node: better recall, bigger index."),
            ParamSpec(
                "efConstruction", 40, 200, 8, 2000, "Candidates while inserting: a better graph."
            ),
        ),
        search_params=(
            ParamSpec(
                "efSearch", 16, 50, 1, 5000, "Candidates while searching: slower, more exact."
            ),
        ),
        summary="faiss's HNSW graph: the same algorithm as hnswlib, other defaults.",
    )

    def _make(self, faiss: Any, dims: int, metric: int, n: int) -> Any:
        index = faiss.IndexHNSWFlat(dims, int(self._params["M"]), metric)
        index.hnsw.efConstruction = int(self._params["efConstruction"])
        return index

    def _search_parameters(self, faiss: Any, params: dict[str, ParamValue]) -> Any:
        return faiss.SearchParametersHNSW(efSearch=int(params["efSearch"]))


NLIST = ParamSpec(
    "nlist",
    256,
    None,
    1,
    65_536,
    "k-means cells the vectors are split into (faiss has no default; about 4·√n is usual). "
    f"Lowered to n/{POINTS_PER_CENTROID} on a small corpus.",
)
NPROBE = ParamSpec(
    "nprobe", 1, None, 1, 65_536, "Cells searched per query: more cells, higher recall, slower."
)


class FaissIvfFlatEngine(FaissEngine):
    """``IndexIVFFlat``: k-means cells over full vectors; a query scans ``nprobe`` cells."""

    info = EngineInfo(
        name="faiss-ivfflat",
        algorithm="IVFFlat",
        library=library("faiss-cpu"),
        where_deployed="pgvector (ivfflat); faiss in memory",
        metrics=_METRICS,
        build_params=(NLIST,),
        search_params=(NPROBE,),
        summary="Inverted file: vectors grouped by their nearest k-means centre; a query "
        "scans the nprobe nearest groups.",
    )

    def _nlist(self, n: int) -> int:
        asked = int(self._params["nlist"])
        nlist = min(asked, max(1, n // POINTS_PER_CENTROID))
        if nlist < asked:
            self.notes.append(
                f"nlist lowered from {asked} to {nlist}: faiss's k-means wants at least "
                f"{POINTS_PER_CENTROID} vectors per cell and there are {n:,}."
            )
        self._cells = nlist
        return nlist

    def _make(self, faiss: Any, dims: int, metric: int, n: int) -> Any:
        return faiss.IndexIVFFlat(faiss.IndexFlat(dims, metric), dims, self._nlist(n), metric)

    def _search_parameters(self, faiss: Any, params: dict[str, ParamValue]) -> Any:
        return faiss.SearchParametersIVF(nprobe=int(params["nprobe"]))


class FaissIvfPqEngine(FaissIvfFlatEngine):
    """``IndexIVFPQ``: IVF cells holding product-quantised codes of ``m`` × ``nbits`` bits;
    its scores are the codes' estimates, not exact similarities."""

    info = EngineInfo(
        name="faiss-ivfpq",
        algorithm="IVF-PQ",
        library=library("faiss-cpu"),
        where_deployed="in-memory only (faiss); PQ is the talk's further reading",
        metrics=_METRICS,
        build_params=(
            NLIST,
            ParamSpec(
                "m",
                48,
                None,
                1,
                1024,
                "Sub-vectors per code (faiss has no default; lowered to a divisor of the "
                "dimensions): more is bigger and more exact.",
            ),
            ParamSpec(
                "nbits",
                8,
                None,
                1,
                12,
                "Bits per sub-vector code (2^nbits centres each); lowered on a small corpus.",
            ),
        ),
        search_params=(NPROBE,),
        summary="IVF plus product quantization: each vector stored as m small codes, "
        "compared through lookup tables.",
    )

    def _make(self, faiss: Any, dims: int, metric: int, n: int) -> Any:
        asked_m, asked_bits = int(self._params["m"]), int(self._params["nbits"])
        m = max(d for d in range(1, min(asked_m, dims) + 1) if dims % d == 0)
        if m != asked_m:
            self.notes.append(f"m lowered from {asked_m} to {m}, a divisor of {dims} dimensions.")
        bits = max(1, min(asked_bits, int(math.log2(max(2, n // POINTS_PER_CENTROID)))))
        if bits != asked_bits:
            self.notes.append(
                f"nbits lowered from {asked_bits} to {bits}: {2**asked_bits} centres per "
                f"sub-vector need {POINTS_PER_CENTROID * 2**asked_bits:,} vectors to train; "
                f"there are {n:,}."
            )
        self._bits = bits
        quantizer = faiss.IndexFlat(dims, metric)
        return faiss.IndexIVFPQ(quantizer, dims, self._nlist(n), m, bits, metric)

    _training_step = "training k-means for the cells and the PQ codebooks"

    def _codebook_size(self) -> int:
        return int(2**self._bits)


# Talk value 4: the talk's rescoring factor (pgvector-binary's oversample); at faiss's own
# default, 1, nothing is re-ranked beyond the k found and the row is plain IVF-PQ's.
K_FACTOR = ParamSpec(
    "k_factor",
    1.0,
    4.0,
    1.0,
    100.0,
    "Rescoring factor: the IVF-PQ search returns k × k_factor candidates, re-ranked by "
    "their exact similarity to the query; higher is slower and closer to exact.",
    kind=float,
)


class FaissIvfPqRerankEngine(FaissIvfPqEngine):
    """``IndexRefineFlat`` over ``IndexIVFPQ``: the PQ codes find ``k × k_factor``
    candidates, the full vectors (kept beside the codes) re-rank them exactly."""

    info = EngineInfo(
        name="faiss-ivfpq-rerank",
        algorithm="IVF-PQ + rerank",
        library=library("faiss-cpu"),
        where_deployed="in-memory only (faiss); as Azure AI Search's and Qdrant's rescoring",
        metrics=_METRICS,
        build_params=FaissIvfPqEngine.info.build_params,
        search_params=(K_FACTOR, NPROBE),
        summary="The talk's oversample and rescore on compressed codes: IVF-PQ candidates "
        "re-ranked with the original vectors, which the index keeps too.",
    )

    def _make(self, faiss: Any, dims: int, metric: int, n: int) -> Any:
        return faiss.IndexRefineFlat(super()._make(faiss, dims, metric, n))

    def _search_parameters(self, faiss: Any, params: dict[str, ParamValue]) -> Any:
        ivf = super()._search_parameters(faiss, params)
        refine = faiss.IndexRefineSearchParameters(
            k_factor=float(params["k_factor"]), base_index_params=ivf
        )
        refine.referenced_objects = [ivf]  # faiss holds a raw pointer to it
        return refine
