"""Clusters on the map: HDBSCAN (scikit-learn's) on the vectors or on the map's coordinates,
each cluster named by its most distinctive words (class-based TF-IDF, as in BERTopic).

c-TF-IDF treats each cluster as one document made of its members' texts. For term ``t`` and
cluster ``c``, ``tf[c, t]`` is the count of ``t`` in ``c`` divided by the count of all terms
in ``c``; ``idf[t] = log(1 + A / f[t])`` with ``A`` the mean number of terms per cluster and
``f[t]`` the count of ``t`` over every cluster. A word scores high when it is frequent in one
cluster and rare overall.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.cluster import HDBSCAN
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.neighbors import NearestNeighbors

from core.errors import ExplorerError
from core.metrics import as_matrix
from core.modes import Mode

NOISE = "noise"
NOISE_ID = -1
# Above these many rows HDBSCAN clusters a seeded random sample and every other row joins
# the cluster of its nearest sampled row. scikit-learn's default (Prim's tree over distances
# computed one pair at a time) grows with rows² x dims. `python -m bench.bench_project`, MiniLM
# vectors, seconds a user waits on the 2 cores, quiet (1-min load 1-4) / shared with a soak
# (load 7-13): the 2-D map 1.3 / 2.9 at 10k, 50 / 76 at 100k, so the map's cap is the 100k it
# draws. 384-D vectors with the default: 309 at 10k and over 15 minutes at 100k (loaded);
# from the whole distance matrix (BRUTE_ROWS, the same labels) 3.8 / 14 at 10k, but that
# matrix does not fit in memory much above 10k: the vectors' cap is BRUTE_ROWS.
#
# Up to BRUTE_ROWS unit vectors, the vectors are clustered from their whole distance matrix
# (sklearn's "brute": BLAS products, 0.8 GB of float64 at 10k, about twice that at its peak)
# instead of one pair at a time: 13x faster at 3k, the same clusters. It is quadratic in
# memory, and scipy's BLAS crashed the process at 20k, so larger inputs (only
# python -m bench.bench_project lifts the vectors' cap) keep the default.
BRUTE_ROWS = 10_000
MAX_ROWS = {"map": 100_000, "vectors": BRUTE_ROWS}
TOP_WORDS = 3


class ClusterSpace(Mode):
    """What HDBSCAN clusters: the full vectors (by angle) or the map's coordinates."""

    VECTORS = "vectors"
    MAP = "map"


def class_tfidf(docs: Sequence[str]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """c-TF-IDF of one document per class: ``(classes, terms)`` float64 scores and the
    ``(terms,)`` vocabulary (CountVectorizer's default tokens: words of 2+ letters,
    lower-cased, English stop words dropped)."""
    if not docs:
        raise ExplorerError("c-TF-IDF needs at least one class.")
    vectorizer = CountVectorizer(stop_words="english")
    try:
        counts = sparse.csr_matrix(vectorizer.fit_transform(docs), dtype=np.float64)
    except ValueError:  # nothing but stop words and one-letter tokens
        return sparse.csr_matrix((len(docs), 0)), np.array([], dtype=object)
    per_class = np.asarray(counts.sum(axis=1)).ravel()
    tf = sparse.diags(1.0 / np.where(per_class > 0, per_class, 1.0)) @ counts
    per_term = np.asarray(counts.sum(axis=0)).ravel()
    idf = np.log1p(per_class.mean() / per_term)
    return sparse.csr_matrix(tf @ sparse.diags(idf)), vectorizer.get_feature_names_out()


def distinctive_words(
    texts: Sequence[str], ids: np.ndarray, top: int = TOP_WORDS
) -> dict[int, tuple[str, ...]]:
    """Each cluster id's ``top`` highest c-TF-IDF words (ties by word), over the ``texts`` of
    its members; noise (``-1``) is not a class."""
    if len(texts) != ids.shape[0]:
        raise ExplorerError(f"{len(texts)} texts for {ids.shape[0]} cluster ids: give one each.")
    clusters = [int(c) for c in np.unique(ids) if c != NOISE_ID]
    docs = [" ".join(texts[int(i)] for i in np.flatnonzero(ids == c)) for c in clusters]
    if not docs:
        return {}
    scores, vocab = class_tfidf(docs)
    out: dict[int, tuple[str, ...]] = {}
    for row, c in enumerate(clusters):
        line = scores.getrow(row)
        order = sorted(zip(-line.data, vocab[line.indices], strict=True))[:top]
        out[c] = tuple(str(word) for _, word in order)
    return out


@dataclass(frozen=True)
class Clustering:
    """HDBSCAN's answer: ``ids`` int64 ``(n,)`` (``-1`` noise), each cluster's distinctive
    ``words``, and how long it took (seconds, clustering and naming). ``sampled``: how many
    rows HDBSCAN itself saw when the rest joined their nearest one's cluster, else None."""

    ids: np.ndarray
    words: dict[int, tuple[str, ...]]
    space: ClusterSpace
    min_cluster_size: int
    seconds: float
    sampled: int | None = None

    @property
    def count(self) -> int:
        """Number of clusters (noise not counted)."""
        return len(set(self.ids.tolist()) - {NOISE_ID})

    def name(self, cluster: int) -> str:
        """``"3: dog, cat, puppy"``, or ``noise``."""
        if cluster == NOISE_ID:
            return NOISE
        words = ", ".join(self.words.get(cluster, ())) or "no words"
        return f"{cluster}: {words}"

    def names(self) -> tuple[str, ...]:
        """Every row's cluster name (a column the map can colour by)."""
        named = {c: self.name(c) for c in {*self.ids.tolist()}}
        return tuple(named[int(c)] for c in self.ids)


def cluster(
    points: np.ndarray | list,
    texts: Sequence[str],
    space: str | ClusterSpace,
    min_cluster_size: int = 10,
    max_rows: int | None = None,
    seed: int = 0,
) -> Clustering:
    """HDBSCAN over ``points`` ``(n, d)``: unit-length vectors (Euclidean distance between
    unit vectors orders pairs like cosine) or map coordinates as they are; clusters named
    by the c-TF-IDF of ``texts`` (one per row). Above ``max_rows`` (default
    :data:`MAX_ROWS` of the space) HDBSCAN runs on a seeded random sample and every other
    row takes the label of its nearest sampled row (noise included)."""
    space = ClusterSpace.coerce(space)
    x = as_matrix(points).astype(np.float64)
    n = x.shape[0]
    cap = MAX_ROWS[space.value] if max_rows is None else max_rows
    if not 2 <= min_cluster_size <= min(n, cap):
        raise ExplorerError(
            f"The smallest cluster size must be between 2 and the {min(n, cap)} points "
            f"clustered, got {min_cluster_size}."
        )
    if space is ClusterSpace.VECTORS:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms > 0, norms, 1.0)
    start = time.perf_counter()
    sample = None
    if n > cap:
        sample = np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))
    fitted = x if sample is None else x[sample]
    brute = space is ClusterSpace.VECTORS and fitted.shape[0] <= BRUTE_ROWS
    hdbscan = HDBSCAN(
        min_cluster_size=min_cluster_size, algorithm="brute" if brute else "auto", copy=True
    )
    ids = np.asarray(hdbscan.fit_predict(fitted), dtype=np.int64)
    if sample is not None:
        nearest = NearestNeighbors(n_neighbors=1).fit(fitted).kneighbors(x, return_distance=False)
        ids = ids[nearest[:, 0]]
    words = distinctive_words(texts, ids)
    return Clustering(
        ids,
        words,
        space,
        min_cluster_size,
        time.perf_counter() - start,
        None if sample is None else cap,
    )
