"""The shared numpy encoder against a plain float64 re-statement of BERT and MPNet."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file
from scipy.special import erf

from core.embedders.transformer import (
    BERT,
    MPNET,
    Architecture,
    Encoder,
    erf_gelu_,
    relative_position_buckets,
)

HIDDEN, HEADS, LAYERS, INNER, VOCAB, POSITIONS, BUCKETS = 8, 2, 2, 16, 30, 48, 32


def bucket_by_hand(query: int, key: int, buckets: int = 32, max_distance: int = 128) -> int:
    """One bucket, straight from the definition (T5/MPNet), in float64 scalar arithmetic."""
    half = buckets // 2
    exact = half // 2
    distance = query - key
    base = half if distance < 0 else 0
    distance = abs(distance)
    if distance < exact:
        return base + distance
    far = exact + int(math.log(distance / exact) / math.log(max_distance / exact) * (half - exact))
    return base + min(far, half - 1)


def test_buckets_at_hand_computed_distances():
    got = relative_position_buckets(600, 32, 128)
    # query 300 against keys before it (query - key = d) and after it (+16)
    before = {0: 0, 1: 1, 7: 7, 8: 8, 15: 9, 16: 10, 31: 11, 32: 12, 64: 14, 127: 15, 128: 15}
    for d, bucket in before.items():
        assert got[300, 300 - d] == bucket, d
        if d:
            assert got[300, 300 + d] == bucket + 16, d
    assert got[599, 0] == 15 and got[0, 599] == 31


def test_buckets_match_the_definition_everywhere():
    n = 512
    got = relative_position_buckets(n, 32, 128)
    expected = np.array([[bucket_by_hand(i, j) for j in range(n)] for i in range(n)])
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == np.int64 and got.min() == 0 and got.max() == 31


@settings(max_examples=50)
@given(
    st.integers(1, 80),
    st.sampled_from([8, 16, 32, 64]),
    st.integers(9, 300),
)
def test_buckets_depend_only_on_the_signed_distance(n, buckets, max_distance):
    max_distance = max(max_distance, buckets // 4 + 1)
    got = relative_position_buckets(n, buckets, max_distance)
    for offset in range(-n + 1, n):
        assert len(set(np.diagonal(got, offset).tolist())) == 1
    row = got[n - 1, ::-1]  # distances 0..n-1, keys at or before the query
    assert np.all(np.diff(row) >= 0) and row.max(initial=0) < buckets // 2
    assert np.all(got[np.triu_indices(n, 1)] >= buckets // 2)


def test_erf_gelu_matches_scipy_on_a_grid():
    # 1250 rows: several of the row blocks erf_gelu_ works in.
    z = np.linspace(-12, 12, 100_000, dtype=np.float32).reshape(-1, 80)
    expected = z.astype(np.float64) * (1.0 + erf(z.astype(np.float64)))
    np.testing.assert_allclose(erf_gelu_(z.copy()), expected, rtol=0, atol=2e-6)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-60, max_value=60, width=32))
def test_erf_gelu_error_is_at_float32_level(value):
    z = np.array([[value]], dtype=np.float32)
    expected = float(z[0, 0]) * (1.0 + erf(float(z[0, 0])))
    assert abs(float(erf_gelu_(z)[0, 0]) - expected) <= 1e-6 * max(1.0, abs(value))


def tiny_checkpoint(folder: Path, arch: Architecture, seed: int) -> dict[str, np.ndarray]:
    """A random 2-layer, 8-wide model in ``arch``'s layout, written as the encoder reads it."""
    rng = np.random.default_rng(seed)

    def rand(*shape: int, scale: float = 0.5) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": rand(VOCAB, HIDDEN),
        "embeddings.position_embeddings.weight": rand(POSITIONS, HIDDEN),
        "embeddings.LayerNorm.weight": 1 + rand(HIDDEN, scale=0.1),
        "embeddings.LayerNorm.bias": rand(HIDDEN, scale=0.1),
    }
    if arch.token_type:
        w[arch.token_type] = rand(2, HIDDEN)
    if arch.relative_bias:
        w[arch.relative_bias] = rand(BUCKETS, HEADS, scale=2.0)
    shapes = {
        arch.query: (HIDDEN, HIDDEN),
        arch.key: (HIDDEN, HIDDEN),
        arch.value: (HIDDEN, HIDDEN),
        arch.attention_out: (HIDDEN, HIDDEN),
        "intermediate.dense": (INNER, HIDDEN),
        "output.dense": (HIDDEN, INNER),
    }
    for i in range(LAYERS):
        for name, shape in shapes.items():
            w[f"encoder.layer.{i}.{name}.weight"] = rand(*shape)
            w[f"encoder.layer.{i}.{name}.bias"] = rand(shape[0], scale=0.1)
        for norm in (arch.attention_norm, "output.LayerNorm"):
            w[f"encoder.layer.{i}.{norm}.weight"] = 1 + rand(HIDDEN, scale=0.1)
            w[f"encoder.layer.{i}.{norm}.bias"] = rand(HIDDEN, scale=0.1)
    save_file(w, str(folder / "model.safetensors"))
    config = {
        "hidden_size": HIDDEN,
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "layer_norm_eps": 1e-5,
    }
    (folder / "config.json").write_text(json.dumps(config))
    return {k: v.astype(np.float64) for k, v in w.items()}


def reference_forward(w: dict[str, np.ndarray], arch: Architecture, ids: list[int]) -> np.ndarray:
    """Last hidden states of one unpadded sequence, float64, head by head, as written in the
    BERT and MPNet papers and the PyTorch originals (post-LayerNorm, exact GELU)."""

    def norm(x: np.ndarray, prefix: str) -> np.ndarray:
        centred = x - x.mean(axis=1, keepdims=True)
        scaled = centred / np.sqrt((centred**2).mean(axis=1, keepdims=True) + 1e-5)
        return scaled * w[prefix + ".weight"] + w[prefix + ".bias"]

    def linear(x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]

    n, head = len(ids), HIDDEN // HEADS
    # MPNet numbers positions from its padding id (1) + 1, BERT from 0.
    first = 2 if arch.relative_bias else 0
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][first + np.arange(n)]
    if arch.token_type:
        x = x + w[arch.token_type][0]
    x = norm(x, "embeddings.LayerNorm")
    bias = np.zeros((n, n, HEADS))
    if arch.relative_bias:
        table = w[arch.relative_bias]
        for i in range(n):
            for j in range(n):
                bias[i, j] = table[bucket_by_hand(i, j, BUCKETS, arch.max_distance)]
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}."
        q, k, v = (linear(x, p + name) for name in (arch.query, arch.key, arch.value))
        context = np.zeros_like(x)
        for h in range(HEADS):
            cols = slice(h * head, (h + 1) * head)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(head) + bias[:, :, h]
            probs = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            context[:, cols] = probs @ v[:, cols]
        x = norm(x + linear(context, p + arch.attention_out), p + arch.attention_norm)
        inner = linear(x, p + "intermediate.dense")
        inner = 0.5 * inner * (1 + erf(inner / math.sqrt(2)))
        x = norm(x + linear(inner, p + "output.dense"), p + "output.LayerNorm")
    return x


# MPNet's buckets with a short max distance, so 40-token sequences reach the capped bucket.
SHORT_MPNET = replace(MPNET, max_distance=20)


@pytest.mark.parametrize("arch", [BERT, MPNET, SHORT_MPNET], ids=["bert", "mpnet", "mpnet-20"])
def test_unpadded_batch_matches_the_plain_forward_pass(tmp_path, arch):
    weights = tiny_checkpoint(tmp_path, arch, seed=3)
    encoder = Encoder(tmp_path, arch)
    rng = np.random.default_rng(5)
    lengths = [1, 5, 17, 40]
    seqs = [rng.integers(0, VOCAB, size=n).tolist() for n in lengths]
    hidden = encoder.forward(np.concatenate(seqs), np.array(lengths))
    assert hidden.shape == (sum(lengths), HIDDEN) and hidden.dtype == np.float32
    rows = np.split(hidden, np.cumsum(lengths)[:-1])
    for row, seq in zip(rows, seqs, strict=True):
        np.testing.assert_allclose(row, reference_forward(weights, arch, seq), atol=2e-5)


@pytest.mark.parametrize("arch", [BERT, MPNET], ids=["bert", "mpnet"])
def test_a_batch_of_equal_lengths_needs_no_padding(tmp_path, arch):
    weights = tiny_checkpoint(tmp_path, arch, seed=4)
    encoder = Encoder(tmp_path, arch)
    seqs = np.random.default_rng(6).integers(0, VOCAB, size=(3, 9))
    hidden = encoder.forward(seqs.reshape(-1), np.array([9, 9, 9]))
    for row, seq in zip(hidden.reshape(3, 9, HIDDEN), seqs, strict=True):
        np.testing.assert_allclose(row, reference_forward(weights, arch, seq.tolist()), atol=2e-5)


def test_attention_bias_shapes(tmp_path):
    (tmp_path / "bert").mkdir()
    (tmp_path / "mpnet").mkdir()
    tiny_checkpoint(tmp_path / "bert", BERT, seed=1)
    weights = tiny_checkpoint(tmp_path / "mpnet", MPNET, seed=1)
    mask = np.array([[True, True, True], [True, False, False]])
    bert = Encoder(tmp_path / "bert", BERT)
    assert bert.position_bias is None
    np.testing.assert_array_equal(bert.attention_bias(mask)[1, 0, 0], [0, -1e9, -1e9])
    mpnet = Encoder(tmp_path / "mpnet", MPNET)
    # Positions after the offset: POSITIONS - 2 usable rows, as many as the bias covers.
    assert mpnet.position.shape == (POSITIONS - 2, HIDDEN)
    assert mpnet.position_bias is not None
    assert mpnet.position_bias.shape == (HEADS, POSITIONS - 2, POSITIONS - 2)
    bias = mpnet.attention_bias(mask)
    assert bias.shape == (2, HEADS, 3, 3)
    table = weights[MPNET.relative_bias or ""]
    # query 0, key 2: the key comes 2 after the query, bucket 16 + 2
    assert bias[0, 1, 0, 2] == pytest.approx(table[18, 1])
    assert bias[1, 1, 0, 2] == pytest.approx(table[18, 1] - 1e9)
