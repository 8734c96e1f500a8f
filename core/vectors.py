"""Dataset vectors, computed once per (dataset, model) and cached on disk.

Each cache entry is an ``.npy`` matrix with a JSON manifest beside it naming the model, its
dimensions, whether the vectors are unit length and the dataset's fingerprint. A changed
dataset or model version gives a new fingerprint or a mismatching manifest, so the vectors
are recomputed. The directory is bounded (``EXPLORER_CACHE_MAX_BYTES``, least recently used
entries go first; the bundled datasets' vectors stay): see ``core.diskcache``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import diskcache
from core.datasets import DATASETS, Dataset, TextField, load_dataset
from core.embedders.base import Embedder
from core.errors import ExplorerError
from core.paths import cache_dir

log = logging.getLogger(__name__)

BATCH = 256


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


def cache_paths(dataset: Dataset, embedder: Embedder, root: Path | None = None) -> Path:
    """Path of the ``.npy`` file (its manifest has the same stem and ``.json``)."""
    base = (root or cache_dir()) / "vectors"
    stem = (
        f"{_slug(dataset.name)}-{dataset.fingerprint[:12]}_{_slug(embedder.name)}-{embedder.dims}"
    )
    return base / f"{stem}.npy"


def _manifest(dataset: Dataset, embedder: Embedder) -> dict:
    return {
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint,
        "items": len(dataset),
        "model": embedder.name,
        "model_version": embedder.version,
        "dims": embedder.dims,
        "normalized": embedder.normalized,
    }


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    # mkstemp makes the file 0600 and os.replace keeps its mode; the "." prefix tells
    # diskcache.evict that it is a write in progress.
    diskcache.private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def is_cached(dataset: Dataset, embedder: Embedder, root: Path | None = None) -> bool:
    """True when the cache holds an entry for these texts and this model (its manifest is
    checked; the matrix is not read)."""
    npy = cache_paths(dataset, embedder, root)
    meta = npy.with_suffix(".json")
    try:
        return npy.exists() and json.loads(meta.read_text()) == _manifest(dataset, embedder)
    except (OSError, ValueError):
        return False


def load_cached(
    dataset: Dataset, embedder: Embedder, root: Path | None = None
) -> np.ndarray | None:
    """The cached vectors if a valid entry exists, else None."""
    if not is_cached(dataset, embedder, root):
        return None
    npy = cache_paths(dataset, embedder, root)
    try:
        vectors = np.load(npy)
    except (OSError, ValueError) as exc:
        log.warning("Ignoring unreadable vector cache %s: %s", npy, exc)
        return None
    if vectors.shape != (len(dataset), embedder.dims):
        return None
    diskcache.touch(npy)  # its last use, for least-recently-used eviction
    return vectors


def _pinned_prefixes() -> tuple[str, ...]:
    """Stem prefixes of the bundled datasets' entries (every model), which are never evicted."""
    try:
        bundled = {load_dataset(name, tf) for name in DATASETS for tf in TextField}
    except (OSError, ExplorerError) as exc:  # unreadable data files: pin by name alone
        log.warning("Bundled datasets unreadable (%s); pinning their cache entries by name", exc)
        return tuple(f"{_slug(name)}-" for name in DATASETS)
    return tuple(f"{_slug(d.name)}-{d.fingerprint[:12]}_" for d in bundled)


def bound_cache(root: Path | None = None, keep: str | None = None) -> diskcache.Eviction:
    """Evict least recently used vector entries under ``root`` beyond the byte limit
    (``EXPLORER_CACHE_MAX_BYTES``), sparing the bundled datasets' vectors and the ``keep`` stem."""
    prefixes = _pinned_prefixes()
    return diskcache.evict(
        (root or cache_dir()) / "vectors",
        diskcache.limit_from_env(diskcache.MAX_BYTES_ENV, diskcache.DEFAULT_MAX_BYTES),
        keep=keep,
        pinned=lambda stem: stem.startswith(prefixes),
    )


def embedding_seconds(dataset: Dataset, embedder: Embedder, sample: int = 64) -> float:
    """Estimated seconds to embed every text of ``dataset`` on this machine: ``sample`` texts
    spread evenly over it are embedded and timed, and the time scaled by total characters."""
    if not len(dataset):
        return 0.0
    rows = np.unique(np.linspace(0, len(dataset) - 1, min(sample, len(dataset))).astype(int))
    texts = [dataset.texts[i] for i in rows]
    start = time.perf_counter()
    embedder.embed(texts)
    seconds = time.perf_counter() - start
    return seconds * sum(map(len, dataset.texts)) / max(1, sum(map(len, texts)))


def embed_dataset(
    dataset: Dataset,
    embedder: Embedder,
    root: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Vectors of every text in ``dataset``, float32 ``(len(dataset), dims)``, from cache or
    computed in batches (``on_progress(done, total)`` after each) and then cached."""
    cached = load_cached(dataset, embedder, root)
    if cached is not None:
        return cached
    total = len(dataset)
    parts = []
    for start in range(0, total, BATCH):
        parts.append(embedder.embed(list(dataset.texts[start : start + BATCH])))
        if on_progress:
            on_progress(min(start + BATCH, total), total)
    vectors = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, embedder.dims))
    npy = cache_paths(dataset, embedder, root)
    _atomic_write(npy, lambda p: np.save(p, vectors))
    _atomic_write(
        npy.with_suffix(".json"),
        lambda p: p.write_text(json.dumps(_manifest(dataset, embedder), indent=2)),
    )
    log.info("Cached %s vectors for %s in %s", embedder.name, dataset.name, npy)
    try:
        bound_cache(root, keep=npy.stem)
    except OSError as exc:  # a full cache never fails the embedding itself
        log.warning("Could not bound the vector cache: %s", exc)
    return vectors


def array_digest(vectors: np.ndarray) -> str:
    """32 hex digits of BLAKE2b over a matrix's dtype, shape and bytes: equal digests mean
    equal matrices (about 1 ms per MB)."""
    h = hashlib.blake2b(f"{vectors.dtype.str}{vectors.shape}".encode(), digest_size=16)
    h.update(np.ascontiguousarray(vectors).data)
    return h.hexdigest()


@dataclass(frozen=True)
class VectorSet:
    """A dataset's vectors under one model, ready for the pages.

    ``embedder`` is None for imported vectors: their items can be compared with each other,
    but free text cannot be embedded into their space.
    """

    dataset: Dataset
    model: str
    vectors: np.ndarray
    embedder: Embedder | None = None
    # For imported vectors: ``array_digest(vectors)``, computed once where the file is parsed.
    digest: str | None = field(default=None, repr=False)

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def key(self) -> str:
        """What these vectors are, for caches every session of the server shares: the
        dataset's content fingerprint with the model's identity (name and version; a hosted
        model's version names its endpoint and dimensions), or with a digest of the bytes for
        imported vectors. Two sessions share a cache entry only when their vectors are equal;
        a display name alone never keys anything."""
        if self.embedder is not None:
            source = f"{self.embedder.name}@{self.embedder.version}"
        else:
            source = self.digest or array_digest(self.vectors)
        return f"{self.dataset.fingerprint}:{source}"

    def vector_for(self, target: str) -> np.ndarray:
        """``(1, dims)`` vector of a dataset label, or of free text embedded by the model."""
        return self.timed_vector_for(target)[0]

    def timed_vector_for(self, target: str) -> tuple[np.ndarray, float]:
        """``vector_for(target)`` and the seconds it took: the lookup for a dataset label, the
        model's embedding for free text (a local model's, measured when it first embedded
        that text: see :func:`embed_once`)."""
        start = time.perf_counter()
        target = target.strip()
        if not target:
            raise ExplorerError("The target is empty: type a word, a title or a sentence.")
        if target in self.dataset.labels:
            vector = self.vectors[self.dataset.index_of(target)][np.newaxis, :]
            return vector, time.perf_counter() - start
        if self.embedder is None:
            raise ExplorerError(
                f"{target!r} is not an item of {self.dataset.name}, and imported vectors have "
                "no model to embed free text: pick one of the dataset's items."
            )
        return embed_once(self.embedder, target)


# Free text each local model embedded, per model object (a server loads each model once, so
# every session shares it): a page embeds its typed target again on every rerun of its
# section, and a class types the same few words. At most TEXT_CACHE_SIZE texts per model,
# least recently used first out; an entry goes with its model.
TEXT_CACHE_SIZE = 256
_TEXTS: weakref.WeakKeyDictionary[Embedder, OrderedDict[str, tuple[np.ndarray, float]]] = (
    weakref.WeakKeyDictionary()
)
_TEXTS_LOCK = threading.Lock()


def embed_once(embedder: Embedder, text: str) -> tuple[np.ndarray, float]:
    """``(1, dims)`` float32 vector of ``text`` under ``embedder`` and the seconds the
    embedding took. A local model embeds each text once per process (later calls get a copy
    of that vector with that time); a hosted model is asked every time (it keeps its own disk
    cache and this session's token budget)."""
    if embedder.local:
        with _TEXTS_LOCK:
            texts = _TEXTS.setdefault(embedder, OrderedDict())
            hit = texts.get(text)
            if hit is not None:
                texts.move_to_end(text)
                return hit[0].copy(), hit[1]
    start = time.perf_counter()
    vector = embedder.embed([text])
    seconds = time.perf_counter() - start
    if embedder.local:
        with _TEXTS_LOCK:
            texts = _TEXTS.setdefault(embedder, OrderedDict())
            texts[text] = (vector.copy(), seconds)
            while len(texts) > TEXT_CACHE_SIZE:
                texts.popitem(last=False)
    return vector, seconds
