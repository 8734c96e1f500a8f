"""A static word-piece model distilled here from all-MiniLM-L6-v2, Model2Vec-style.

Distillation (:func:`build`, about half a minute on 2 cores): every ordinary word piece of
MiniLM's vocabulary goes through the encoder alone, as ``[CLS] piece [SEP]``, and is
mean-pooled like a sentence. PCA (an eigendecomposition of the covariance: no randomness)
turns the 384-d means into 256 dimensions ordered by variance, so cutting the tail keeps the
most information, as MRL does.
Each row is then scaled by a SIF weight ``sif / (sif + p)``, with ``p`` a Zipf probability from
the piece's vocabulary index (BERT's vocabulary is roughly in frequency order), which shrinks
frequent pieces such as "the". ``[unusedN]`` and special pieces keep zero rows.

Serving: a text's vector is the mean of its pieces' rows, L2-normalised; unknown pieces are
skipped. The folder has model2vec's layout (``model.safetensors`` holding ``embeddings``,
``tokenizer.json``, ``config.json``): ``model2vec.StaticModel`` serves it when it loads,
otherwise the same mean runs on numpy (one sparse-matrix product per call). Both give the same
vectors.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

from core.diskcache import private_dir
from core.embedders.base import Embedder
from core.embedders.minilm import MiniLMEmbedder
from core.errors import ExplorerError
from core.modes import Mode
from core.paths import cache_dir

if TYPE_CHECKING:
    from model2vec import StaticModel

log = logging.getLogger(__name__)

NAME = "static-minilm-256"
DIMS = 256
MAX_TOKENS = 512
SIF_COEFFICIENT = 1e-4
# Bumped whenever build() would produce different vectors, so old caches are rebuilt.
BUILD_VERSION = 1
_UNUSED = re.compile(r"\[unused\d+\]")
_FILES = ("model.safetensors", "tokenizer.json", "config.json")
# Re-entrant: ensure_built holds it while build takes it again.
_BUILD_LOCK = threading.RLock()


class Backend(Mode):
    """What turns token ids into vectors: the model2vec package, or numpy here."""

    MODEL2VEC = "model2vec"
    NUMPY = "numpy"


def default_folder() -> Path:
    """Where the distilled model lives: ``<cache dir>/static-minilm-256``."""
    return cache_dir() / NAME


def is_built(folder: Path) -> bool:
    """Whether ``folder`` holds a complete model from the current :data:`BUILD_VERSION`."""
    if not all((folder / f).is_file() for f in _FILES):
        return False
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return config.get("build_version") == BUILD_VERSION


def distillable_ids(tokenizer: Tokenizer) -> np.ndarray:
    """Ids of the ordinary word pieces: neither special (``[CLS]``...) nor ``[unusedN]``."""
    special = {i for i, t in tokenizer.get_added_tokens_decoder().items() if t.special}
    vocab = tokenizer.get_vocab()
    return np.array(
        sorted(i for tok, i in vocab.items() if i not in special and not _UNUSED.fullmatch(tok)),
        dtype=np.int64,
    )


def sif_weights(n: int, sif: float = SIF_COEFFICIENT) -> np.ndarray:
    """SIF weights ``sif / (sif + p_r)`` for ranks r = 1..n with Zipf ``p_r ~ 1 / (r + 1)``.

    Shape ``(n,)``, increasing from ~0.02 for the most frequent piece towards 1.
    """
    inverse_rank = 1.0 / np.arange(2, n + 2, dtype=np.float64)
    proba = inverse_rank / inverse_rank.sum()
    return sif / (sif + proba)


def distil(teacher: MiniLMEmbedder) -> np.ndarray:
    """The static table: float32 ``(vocab size, 256)``, zero rows for skipped pieces."""
    # Imported here: serving the built model should not pay for importing scikit-learn.
    from sklearn.decomposition import PCA

    tokenizer = teacher.tokenizer
    ids = distillable_ids(tokenizer)
    started = time.perf_counter()
    means = teacher.pooled([[teacher.cls_id, int(i), teacher.sep_id] for i in ids])
    log.info("Encoded %d word pieces in %.1f s", len(ids), time.perf_counter() - started)
    pca = PCA(n_components=DIMS, svd_solver="covariance_eigh")
    reduced = pca.fit_transform(means.astype(np.float64))
    log.info(
        "PCA to %d dims keeps %.1f%% of the variance",
        DIMS,
        100 * pca.explained_variance_ratio_.sum(),
    )
    reduced *= sif_weights(len(ids))[:, None]
    table = np.zeros((tokenizer.get_vocab_size(), DIMS), dtype=np.float32)
    table[ids] = reduced
    return table


def build(folder: Path | None = None, teacher: MiniLMEmbedder | None = None) -> Path:
    """Distil the static model from MiniLM and write it to ``folder``; returns the folder.

    Files are written to a temporary sibling and moved into place, so an interrupted build
    never leaves a half-written model behind.
    """
    folder = folder or default_folder()
    teacher = teacher or MiniLMEmbedder()
    with _BUILD_LOCK:
        log.info("Distilling %s from %s into %s", NAME, teacher.name, folder)
        table = distil(teacher)
        private_dir(folder.parent)  # 0700, like every cache folder
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            save_file({"embeddings": table}, str(staging / "model.safetensors"))
            teacher.tokenizer.save(str(staging / "tokenizer.json"))
            config = {
                "model_type": "model2vec",
                "architectures": ["StaticModel"],
                "tokenizer_name": "sentence-transformers/all-MiniLM-L6-v2",
                "apply_pca": DIMS,
                "sif_coefficient": SIF_COEFFICIENT,
                "hidden_dim": DIMS,
                "seq_length": 1_000_000,
                "normalize": True,
                "max_length": MAX_TOKENS,
                "build_version": BUILD_VERSION,
            }
            (staging / "config.json").write_text(json.dumps(config, indent=2))
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    log.info("Wrote %s", folder)
    return folder


def ensure_built(folder: Path | None = None) -> Path:
    """``folder`` (default: the cache), distilled first if it is missing or outdated."""
    folder = folder or default_folder()
    with _BUILD_LOCK:
        if not is_built(folder):
            log.info("%s is missing from %s; building it now (about 30 s)", NAME, folder)
            build(folder)
    return folder


class StaticEmbedder(Embedder):
    """Static word-piece vectors distilled from all-MiniLM-L6-v2: 256-d, PCA-ordered.

    Builds the model into the cache on first use. ``backend`` picks the server; by default
    model2vec when it loads, else numpy (``self.backend`` says which one is in use).
    """

    name = NAME
    dims = DIMS
    normalized = True
    supports_mrl = True
    max_tokens = MAX_TOKENS
    description = (
        "Distilled here from all-MiniLM-L6-v2: one fixed vector per word piece (PCA-ordered, "
        "frequency-weighted), averaged. No context, but thousands of sentences per second."
    )
    local = True
    version = str(BUILD_VERSION)

    def __init__(self, folder: Path | None = None, backend: str | Backend | None = None) -> None:
        folder = ensure_built(folder)
        self.folder = folder
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._unk = self._tokenizer.token_to_id("[UNK]")
        self._table = load_file(str(folder / "model.safetensors"))["embeddings"]
        # model2vec cuts texts to max_length * median piece length characters before
        # tokenising; the numpy path does the same so both give identical vectors.
        vocab = self._tokenizer.get_vocab()
        self._char_cut = MAX_TOKENS * int(statistics.median(len(t) for t in vocab))
        self._model2vec: StaticModel | None = None
        wanted = Backend.coerce(backend) if backend is not None else None
        if wanted in (None, Backend.MODEL2VEC):
            self._model2vec = self._load_model2vec(folder, required=wanted is Backend.MODEL2VEC)
        self.backend = Backend.MODEL2VEC if self._model2vec is not None else Backend.NUMPY

    @staticmethod
    def _load_model2vec(folder: Path, required: bool) -> StaticModel | None:
        try:
            from model2vec import StaticModel

            return StaticModel.from_pretrained(folder, normalize=True, max_length=MAX_TOKENS)
        except (ImportError, OSError, ValueError, KeyError) as err:
            if required:
                raise ExplorerError(f"model2vec cannot load {folder}: {err}") from err
            log.info("Serving %s on numpy: model2vec cannot load it (%s)", NAME, err)
            return None

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text`` (no special tokens here), before truncation to 512."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Ids of the pieces each text is averaged over: known pieces among the first 512."""
        encodings = self._tokenizer.encode_batch_fast(
            [t[: self._char_cut] for t in texts], add_special_tokens=False
        )
        return [[i for i in e.ids[:MAX_TOKENS] if i != self._unk] for e in encodings]

    def _mean_rows(self, texts: list[str]) -> np.ndarray:
        ids = self.token_ids(texts)
        counts = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        indptr = np.concatenate([[0], np.cumsum(counts)])
        flat = np.fromiter((i for row in ids for i in row), dtype=np.int64, count=int(indptr[-1]))
        # Row r of this sparse matrix has 1/count at each of text r's piece ids, so its
        # product with the table is the mean of those rows (a zero row for no pieces).
        scale = np.repeat(1.0 / np.maximum(counts, 1), counts).astype(np.float32)
        averaging = sp.csr_matrix((scale, flat, indptr), shape=(len(ids), self._table.shape[0]))
        return np.asarray(averaging @ self._table, dtype=np.float32)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._model2vec is not None:
            vectors = self._model2vec.encode(texts, use_multiprocessing=False)
        else:
            vectors = self._mean_rows(texts)
        lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
        empty = np.flatnonzero(lengths[:, 0] == 0)
        if empty.size:
            shown = ", ".join(f"{int(i)} ({texts[i][:30]!r})" for i in empty[:3])
            raise ExplorerError(
                f"{NAME} knows none of the word pieces in text {shown}: it only has vectors "
                "for pieces of English words and common characters. Add some words."
            )
        return np.asarray(vectors / lengths, dtype=np.float32)


def main(argv: Sequence[str] | None = None) -> None:
    """Build the static model into the cache (``python -m core.embedders.static``)."""
    parser = argparse.ArgumentParser(description=f"Distil {NAME} from all-MiniLM-L6-v2.")
    parser.add_argument("--folder", type=Path, default=None, help="default: the cache folder")
    parser.add_argument("--force", action="store_true", help="rebuild even if it exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = args.folder or default_folder()
    if is_built(folder) and not args.force:
        log.info("%s is already built in %s", NAME, folder)
        return
    build(folder)


if __name__ == "__main__":
    main()
