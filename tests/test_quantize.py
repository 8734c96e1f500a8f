from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import core.quantize
from core.errors import ExplorerError
from core.metrics import cosine_similarity
from core.quantize import (
    Center,
    CodeScore,
    Precision,
    QuantizedIndex,
    ScalarQuantizer,
    binary_quantize,
    code_search,
    hamming_distances,
    hamming_search,
    int8_search,
    pack_bits,
    quantized_search,
    rescore,
    thresholds,
    value_summary,
)
from core.search import exhaustive_search, recall_at_k


def clustered(rng: np.random.Generator, n: int, d: int, clusters: int) -> np.ndarray:
    centers = rng.normal(size=(clusters, d))
    return centers[rng.integers(0, clusters, size=n)] + 0.6 * rng.normal(size=(n, d))


def by_full_sort(scores: np.ndarray, k: int, higher_is_closer: bool) -> np.ndarray:
    key = -scores if higher_is_closer else scores
    ids = np.arange(scores.shape[1])
    return np.array([np.lexsort((ids, row))[:k] for row in key])


# ------------------------------------------------------------------------------ enums


def test_coerce_modes():
    assert Center.coerce("dim-median") is Center.DIM_MEDIAN
    assert Precision.coerce(Precision.INT8) is Precision.INT8
    with pytest.raises(ExplorerError, match="Unknown center 'middle'; choose one of: zero, mean"):
        Center.coerce("middle")
    with pytest.raises(ExplorerError, match="Unknown precision 'int4'.*binary"):
        Precision.coerce("int4")


# ------------------------------------------------------------------------------ int8


def test_scalar_hand_example():
    sq = ScalarQuantizer.fit([[-1.0, 0.0, 1.0]])
    assert not sq.per_dimension
    assert sq.step[0] == pytest.approx(2 / 255)
    # 0 lies 127.5 steps above -1: the nearest (even) level is 128 steps up, code 0.
    np.testing.assert_array_equal(sq.quantize([[-1.0, 0.0, 1.0]]), [[-128, 0, 127]])
    np.testing.assert_allclose(
        sq.dequantize(np.array([[-128, 0, 127]], np.int8)), [[-1, 1 / 255, 1]]
    )
    # Outside the calibrated range values are clipped to the end levels.
    np.testing.assert_array_equal(sq.quantize([[-5.0, 5.0, 0.999]]), [[-128, 127, 127]])
    assert sq.quantize([[0.5]]).dtype == np.int8
    assert sq.dequantize(np.zeros((1, 2), np.int8)).dtype == np.float32


@settings(max_examples=100, deadline=None)
@given(
    x=arrays(
        np.float32,
        st.tuples(st.integers(1, 8), st.integers(1, 6)),
        elements=st.floats(-1e3, 1e3, width=32, allow_subnormal=False),
    ),
    per_dimension=st.booleans(),
)
def test_int8_round_trip_error_is_at_most_half_a_step(x, per_dimension):
    sq = ScalarQuantizer.fit(x, per_dimension=per_dimension)
    x64 = x.astype(np.float64)
    back = sq.dequantize(sq.quantize(x)).astype(np.float64)
    # Half a level, plus float32's own rounding of the dequantized value.
    float32_rounding = np.abs(back) * 2.0**-23 + np.finfo(np.float32).smallest_subnormal
    assert np.all(np.abs(x64 - back) <= sq.step / 2 * (1 + 1e-9) + float32_rounding)


def test_constant_dimension_maps_back_exactly():
    x = np.array([[0.5, 1.0], [0.5, 2.0], [0.5, 3.0]])
    sq = ScalarQuantizer.fit(x, per_dimension=True)
    np.testing.assert_allclose(sq.dequantize(sq.quantize(x))[:, 0], 0.5)


def test_per_dimension_calibration_beats_global_on_mixed_scales():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 16)) * np.logspace(-2, 1, 16)
    errors = {}
    for per_dim in (False, True):
        sq = ScalarQuantizer.fit(x, per_dimension=per_dim)
        errors[per_dim] = np.mean((x - sq.dequantize(sq.quantize(x))) ** 2, axis=0)
    assert errors[True].mean() < errors[False].mean() / 5
    # The small-scale dimensions are where one global step is far too coarse.
    assert errors[True][0] < errors[False][0] / 100


def test_percentile_calibration_ignores_outliers():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 8))
    x[0, 0] = 1000.0
    inliers = x[1:]
    plain = ScalarQuantizer.fit(x)
    robust = ScalarQuantizer.fit(x, percentile=0.5)
    mse = {
        name: np.mean((inliers - sq.dequantize(sq.quantize(inliers))) ** 2)
        for name, sq in (("plain", plain), ("robust", robust))
    }
    assert mse["robust"] < mse["plain"] / 100
    assert robust.high[0] == pytest.approx(np.percentile(x, 99.5))


def test_scalar_errors():
    with pytest.raises(ExplorerError, match="percentile=50"):
        ScalarQuantizer.fit([[1.0, 2.0]], percentile=50)
    sq = ScalarQuantizer.fit(np.eye(3), per_dimension=True)
    with pytest.raises(ExplorerError, match="2 dimensions but the quantizer was fitted on 3"):
        sq.quantize([[1.0, 2.0]])


def test_int8_search_is_the_exact_integer_dot_product():
    rng = np.random.default_rng(2)
    corpus = rng.integers(-128, 128, size=(300, 40), dtype=np.int8)
    corpus[7] = corpus[3]
    queries = np.vstack([rng.integers(-128, 128, size=(4, 40), dtype=np.int8), corpus[3]])
    dots = queries.astype(np.int64) @ corpus.astype(np.int64).T
    got = int8_search(queries, corpus, 9)
    np.testing.assert_array_equal(got.ids, by_full_sort(dots, 9, True))
    np.testing.assert_array_equal(got.scores, np.take_along_axis(dots, got.ids, axis=1))
    assert got.higher_is_closer
    with pytest.raises(ExplorerError, match="int8 codes, got float64"):
        int8_search(queries.astype(float), corpus, 1)


# ------------------------------------------------------------------------------ binary


def test_thresholds_and_bits_by_center():
    x = np.array([[1.0, -2.0, 3.0], [-1.0, 2.0, 5.0]])
    expected = {
        "zero": [[1, 0, 1], [0, 1, 1]],
        "mean": [[0, 0, 1], [0, 1, 1]],  # global mean 8/6
        "dim-mean": [[1, 0, 0], [0, 1, 1]],  # per dimension 0, 0, 4
        "dim-median": [[1, 0, 0], [0, 1, 1]],  # two rows: median = mean
    }
    for center, bits in expected.items():
        np.testing.assert_array_equal(binary_quantize(x, center), np.array(bits, bool))
    np.testing.assert_allclose(thresholds(x, "mean"), [8 / 6] * 3)
    # Queries use the corpus's centres, not their own.
    np.testing.assert_array_equal(
        binary_quantize([[0.0, 0.0, 4.5]], "dim-mean", fit_on=x), [[0, 0, 1]]
    )
    with pytest.raises(ExplorerError, match="2 dimensions but the centre was computed on 3"):
        binary_quantize([[0.0, 0.0]], "dim-mean", fit_on=x)


def test_dim_median_splits_every_dimension_in_half():
    rng = np.random.default_rng(3)
    x = rng.exponential(size=(1000, 16)) + 0.2  # all positive: zero centre sets every bit
    assert binary_quantize(x, "zero").all()
    ones = binary_quantize(x, "dim-median").sum(axis=0)
    np.testing.assert_array_equal(ones, np.full(16, 500))
    # The global mean cannot balance dimensions with different offsets.
    skewed = x + np.linspace(0, 3, 16)
    per_dim = binary_quantize(skewed, "mean").mean(axis=0)
    assert per_dim[0] < 0.1 and per_dim[-1] > 0.9


def test_pack_bits_layout():
    bits = np.zeros((2, 100), bool)
    bits[0, [0, 2, 3, 7]] = True
    bits[1, 99] = True
    packed = pack_bits(bits)
    assert packed.shape == (2, 13) and packed.dtype == np.uint8
    assert packed[0, 0] == 0b10110001
    # Dimension 99 is bit 3 (from the left) of byte 12; the 4 padding bits stay 0.
    assert packed[1, 12] == 0b00010000
    np.testing.assert_array_equal(np.unpackbits(packed, axis=1)[:, :100], bits)
    with pytest.raises(ExplorerError, match="0/1 bits"):
        pack_bits(np.array([[0.5, 1.0]]))


def naive_hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((len(a), len(b)), dtype=np.int64)
    for i, row_a in enumerate(a):
        for j, row_b in enumerate(b):
            out[i, j] = sum(1 for x, y in zip(row_a, row_b, strict=True) if x != y)
    return out


@pytest.mark.parametrize("d", [7, 8, 64, 100, 128, 130])
def test_hamming_against_a_naive_loop(d):
    rng = np.random.default_rng(d)
    a, b = rng.random((5, d)) > 0.5, rng.random((9, d)) > 0.3
    got = hamming_distances(pack_bits(a), pack_bits(b))
    np.testing.assert_array_equal(got, naive_hamming(a, b))
    assert got.shape == (5, 9)


def test_hamming_in_blocks(monkeypatch):
    rng = np.random.default_rng(4)
    a, b = rng.random((10, 100)) > 0.5, rng.random((30, 100)) > 0.5
    whole = hamming_distances(pack_bits(a), pack_bits(b))
    monkeypatch.setattr(core.quantize, "_XOR_BLOCK", 3 * 30 * 13)  # 3 queries per block
    np.testing.assert_array_equal(hamming_distances(pack_bits(a), pack_bits(b)), whole)


def test_hamming_search_ties_by_id():
    rng = np.random.default_rng(5)
    bits = rng.random((40, 20)) > 0.5
    bits[[11, 30]] = bits[4]
    packed = pack_bits(bits)
    got = hamming_search(packed[[4, 0]], packed, 6)
    dist = naive_hamming(bits[[4, 0]], bits)
    np.testing.assert_array_equal(got.ids, by_full_sort(dist, 6, False))
    np.testing.assert_array_equal(got.ids[0, :3], [4, 11, 30])
    np.testing.assert_array_equal(got.scores, np.take_along_axis(dist, got.ids, axis=1))
    assert not got.higher_is_closer and got.metric == "hamming"
    with pytest.raises(ExplorerError, match="13 wide but the corpus is 3"):
        hamming_distances(np.zeros((1, 13), np.uint8), packed)


# ------------------------------------------------------------------------------ rescoring


def test_rescore_hand_example():
    corpus = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.2]])
    got = rescore([1.0, 0.0], corpus, np.array([[2, 1, 3]]), 2, "cosine")
    np.testing.assert_array_equal(got.ids, [[3, 2]])
    np.testing.assert_allclose(got.scores, [[1 / np.sqrt(1.04), 1 / np.sqrt(2)]])


def test_rescore_over_every_id_is_exhaustive_search():
    rng = np.random.default_rng(6)
    corpus, queries = rng.normal(size=(60, 5)), rng.normal(size=(4, 5))
    everything = np.tile(rng.permutation(60), (4, 1))
    for metric in ("cosine", "dot", "euclidean", "manhattan"):
        got = rescore(queries, corpus, everything, 8, metric)
        exact = exhaustive_search(queries, corpus, 8, metric)
        np.testing.assert_array_equal(got.ids, exact.ids)
        np.testing.assert_allclose(got.scores, exact.scores)


@pytest.mark.parametrize(
    "cands, k, match",
    [
        ([[0, 1, 1]], 2, "same candidate id twice"),
        ([[0, 9]], 1, "from 0 to 3"),
        ([[0, 1]], 3, "k=3 is larger than the 2 candidates"),
        ([[0, 1], [1, 2]], 1, "2 candidate rows for 1 queries"),
    ],
)
def test_rescore_errors(cands, k, match):
    with pytest.raises(ExplorerError, match=match):
        rescore([1.0, 0.0], np.eye(4, 2) + 0.1, np.array(cands), k)


@pytest.fixture(scope="module")
def clusters():
    rng = np.random.default_rng(7)
    x = clustered(rng, 2050, 64, 40)
    corpus, queries = x[:2000], x[2000:]
    return corpus, queries, exhaustive_search(queries, corpus, 10, "cosine").ids


@pytest.mark.parametrize("precision, center", [("int8", "zero"), ("binary", "zero")])
def test_oversampling_and_rescoring_restore_recall(clusters, precision, center):
    corpus, queries, exact = clusters
    index = QuantizedIndex.build(corpus, precision, center)
    recall = {o: recall_at_k(exact, index.search(queries, 10, o).final.ids) for o in (1, 4, 10)}
    # Measured with this seed: int8 0.81 -> 1.0, binary 0.40 -> 0.94 -> 1.0.
    assert recall[1] < 0.9
    assert recall[4] >= recall[1] + 0.1 and recall[4] >= 0.9
    assert recall[10] >= 0.99


def test_rescore_result_explains_the_change(clusters):
    corpus, queries, exact = clusters
    result = quantized_search(queries, corpus, 10, "binary", "dim-median", oversample=4)
    assert result.candidates.ids.shape == (50, 40) and result.final.ids.shape == (50, 10)
    assert result.precision is Precision.BINARY and result.oversample == 4
    moved = 0
    for q in range(50):
        rescued, dropped = result.rescued(q), result.dropped(q)
        assert len(rescued) == len(dropped)
        assert set(result.final.ids[q]) <= set(result.candidates.ids[q])
        assert set(rescued).isdisjoint(result.quantized_top_k[q])
        assert set(dropped).isdisjoint(result.final.ids[q])
        moved += len(rescued)
    assert moved > 0
    # The rescored top k carries the exact cosine of each returned id, best first.
    exact_of_found = np.take_along_axis(cosine_similarity(queries, corpus), result.final.ids, 1)
    np.testing.assert_allclose(result.final.scores, exact_of_found, atol=1e-12)
    assert np.all(np.diff(result.final.scores, axis=1) <= 0)
    assert result.seconds == result.candidates.seconds + result.final.seconds


def test_quantized_search_clamps_candidates_and_rejects_bad_input():
    corpus = np.random.default_rng(8).normal(size=(12, 4))
    result = quantized_search(corpus[0], corpus, 5, "int8", oversample=10)
    assert result.candidates.k == 12 and result.final.ids[0, 0] == 0
    with pytest.raises(ExplorerError, match="oversample=0"):
        quantized_search(corpus[0], corpus, 5, oversample=0)
    with pytest.raises(ExplorerError, match="'float32' is not quantized"):
        quantized_search(corpus[0], corpus, 5, "float32")
    with pytest.raises(ExplorerError, match="k=13 is larger than the 12"):
        quantized_search(corpus[0], corpus, 13)


# ------------------------------------------------------------------------------ the talk's way


def notebook_int8(x: np.ndarray) -> np.ndarray:
    """The talk's notebook, written out: the global min and max of every number, scaled to
    [0, 1], times 255, rounded, minus 128."""
    low, high = x.min(), x.max()
    return (np.round((x - low) / (high - low) * 255) - 128).astype(np.int8)


def cosine_ranks(q: np.ndarray, c: np.ndarray, k: int, exclude: int | None = None) -> np.ndarray:
    """Brute-force top k by cosine of float64 rows (a zero row scores 0), ties to the lower id."""
    qn, cn = np.linalg.norm(q, axis=1), np.linalg.norm(c, axis=1)
    sims = (q @ c.T) / np.where(np.outer(qn, cn) > 0, np.outer(qn, cn), np.inf)
    if exclude is not None:
        sims[:, exclude] = -np.inf
    return by_full_sort(sims, k, higher_is_closer=True)


def test_code_scores_rank_like_the_talks_notebooks():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 24))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    index = QuantizedIndex.build(x, "int8", score="cosine")
    assert np.array_equal(index.codes, notebook_int8(unit))
    found = index.search(x[:5], 7).candidates
    assert np.array_equal(
        found.ids,
        cosine_ranks(notebook_int8(unit)[:5].astype(float), notebook_int8(unit).astype(float), 7),
    )
    # Binary with the global mean as centre, ranked by the cosine of the 0/1 vectors.
    bits = (unit > unit.mean()).astype(float)
    index = QuantizedIndex.build(x, "binary", "mean", score="cosine")
    found = index.search(x[:5], 7).candidates
    assert np.array_equal(found.ids, cosine_ranks(bits[:5], bits, 7))
    shared = bits[:5] @ bits.T
    expected = shared / np.sqrt(np.outer(bits[:5].sum(1), bits.sum(1)))
    assert np.allclose(found.scores, np.take_along_axis(expected, found.ids, axis=1), atol=1e-6)


def test_native_and_cosine_code_scores_can_disagree():
    # Hamming counts the shared 0s, cosine only the shared 1s: [1,0,0,0] is 1 bit from
    # [0,0,0,0] but shares no 1 (cosine 0), and 2 bits from [1,1,0,0] (cosine 0.71).
    corpus = np.array([[0.0, 0, 0, 0], [1, 1, 0, 0]]) - 0.5
    query = np.array([[1.0, 0, 0, 0]]) - 0.5
    native = QuantizedIndex.build(corpus, "binary", metric="dot").search(query, 1)
    cosine = QuantizedIndex.build(corpus, "binary", metric="dot", score="cosine").search(query, 1)
    assert native.candidates.ids[0, 0] == 0 and cosine.candidates.ids[0, 0] == 1
    assert cosine.candidates.scores[0, 0] == pytest.approx(1 / np.sqrt(2))


def test_code_cosine_leave_one_out_matches_brute_force():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(120, 33))
    for precision in ("int8", "binary"):
        index = QuantizedIndex.build(x, precision, "dim-mean", score=CodeScore.COSINE)
        rows = np.arange(len(x))
        found = code_search(index, 5, rows)
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        codes = (
            notebook_int8(unit).astype(float)
            if precision == "int8"
            else (unit > unit.mean(axis=0)).astype(float)
        )
        expected = [cosine_ranks(codes[[i]], codes, 5, exclude=i)[0] for i in rows]
        assert np.array_equal(found.ids, np.array(expected))


def test_code_cosine_in_blocks(monkeypatch):
    rng = np.random.default_rng(9)
    codes = rng.integers(-128, 128, size=(50, 10)).astype(np.int8)
    whole = core.quantize.code_cosine_search(codes[:7], codes, 4, 10)
    monkeypatch.setattr(core.quantize, "_SCORE_BLOCK", 64)
    blocked = core.quantize.code_cosine_search(codes[:7], codes, 4, 10)
    assert np.array_equal(whole.ids, blocked.ids)
    assert np.allclose(whole.scores, blocked.scores)


def test_code_cosine_zero_codes_and_errors():
    zero = np.zeros((1, 2), dtype=np.uint8)  # 16 bits, all 0
    ones = np.full((2, 2), 255, dtype=np.uint8)
    found = core.quantize.code_cosine_search(zero, ones, 2, 16)
    assert np.array_equal(found.scores, [[0.0, 0.0]]) and np.array_equal(found.ids, [[0, 1]])
    with pytest.raises(ExplorerError, match="int8 or packed bits"):
        core.quantize.code_cosine_search(zero, ones.astype(np.int8), 1, 16)
    with pytest.raises(ExplorerError, match="k"):
        core.quantize.code_cosine_search(zero, ones, 3, 16)


def test_value_summary():
    x = np.array([[3.0, 4.0], [0.0, -2.0]])
    unit = np.array([[0.6, 0.8], [0.0, -1.0]])
    s = value_summary(x)
    assert (s.low, s.high, s.mean) == pytest.approx((-1.0, 0.8, unit.mean()))
    raw = value_summary(x, "dot")
    assert (raw.low, raw.high, raw.mean) == pytest.approx((-2.0, 4.0, 1.25))
    with pytest.raises(ExplorerError, match="at least one vector"):
        value_summary(np.zeros((0, 3)))


# ------------------------------------------------------------------------------ the talk's data

PELICULAS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "ref"
    / "openai-peliculas"
    / "peliculas_text-embedding-3-small-1536.json"
)


def _talk_rankings(vectors: dict[str, list[float]], query: str, k: int) -> dict[str, list[str]]:
    """The talk's notebook steps in plain Python (no numpy): int8 from the global min and max
    (to [0, 1], x 255, rounded, - 128), binary above the global mean, each ranked by the cosine
    similarity of the codes; ties keep the file's order."""

    def cosine(a: list[float] | list[int], b: list[float] | list[int]) -> float:
        dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
        return dot / math.sqrt(math.fsum(x * x for x in a) * math.fsum(y * y for y in b))

    values = [x for v in vectors.values() for x in v]
    low, high, mean = min(values), max(values), math.fsum(values) / len(values)
    int8 = {t: [round((x - low) / (high - low) * 255) - 128 for x in v] for t, v in vectors.items()}
    bits = {t: [1 if x > mean else 0 for x in v] for t, v in vectors.items()}
    others = [t for t in vectors if t != query]
    return {
        name: sorted(others, key=lambda t: -cosine(codes[query], codes[t]))[:k]
        for name, codes in (("float", vectors), ("int8", int8), ("binary", bits))
    }


def test_the_talks_quantization_on_its_own_vectors():
    # 62 movie titles embedded by text-embedding-3-small (1536-d, unit length): the default
    # quantization (global range, global mean, cosine of the codes) ranks as the talk does.
    if not PELICULAS.exists():
        pytest.skip(f"{PELICULAS} is absent (the shared reference data is not in a clone)")
    vectors = json.loads(PELICULAS.read_text())
    titles = list(vectors)
    matrix = np.array(list(vectors.values()))
    summary = value_summary(matrix)
    flat = [x for v in vectors.values() for x in v]
    assert (summary.low, summary.high) == pytest.approx((min(flat), max(flat)), abs=1e-6)
    assert summary.mean == pytest.approx(math.fsum(flat) / len(flat), abs=1e-9)
    for query in ("Bambi", "El Rey León", "La Sirenita"):
        talk = _talk_rankings(vectors, query, 10)
        row = titles.index(query)
        for precision, center in (("int8", "zero"), ("binary", "mean")):
            index = QuantizedIndex.build(matrix, precision, center, score=CodeScore.COSINE)
            found = code_search(index, 10, np.array([row]))
            assert [titles[i] for i in found.ids[0]] == talk[precision], (query, precision)
        exact = exhaustive_search(matrix[row], matrix, 10, exclude=row)
        assert [titles[i] for i in exact.ids[0]] == talk["float"]
