"""The code expanders' snippets (views/_snippets.py) run as written and print what core
computes: the talk's plain-Python functions and their numpy versions agree with
core.metrics / core.similarity on hand-computed and random vectors."""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.similarity import target_neighbors
from views._snippets import cosine_similarity_code, most_similar_code


def run(code: str, **names: Any) -> list[Any]:
    """Execute ``code`` with ``names`` defined; every printed line, evaluated."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<snippet>", "exec"), dict(names))  # noqa: S102
    return [eval(line, {"np": np}) for line in out.getvalue().splitlines()]  # noqa: S307


def test_cosine_snippet_gives_the_talks_value_for_v1_v2() -> None:
    printed = run(cosine_similarity_code("v1 = [1, 2, 3]\nv2 = [3, 1, 2]\n"))
    # (1*3 + 2*1 + 3*2) / (sqrt(14) * sqrt(14)) = 11/14
    assert printed == [pytest.approx(11 / 14), pytest.approx(11 / 14)]


floats = st.floats(-10, 10, allow_nan=False).filter(lambda x: abs(x) > 1e-3)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(floats, floats), min_size=1, max_size=8))
def test_cosine_snippet_matches_the_formula_on_any_pair(pairs: list[tuple[float, float]]) -> None:
    v1, v2 = [p[0] for p in pairs], [p[1] for p in pairs]
    plain, numpy = run(cosine_similarity_code(f"v1 = {v1!r}\nv2 = {v2!r}\n"))
    expected = sum(a * b for a, b in pairs) / (math.hypot(*v1) * math.hypot(*v2))
    assert plain == pytest.approx(expected, abs=1e-9)
    assert numpy == pytest.approx(expected, abs=1e-9)


def test_most_similar_snippet_matches_core_target_neighbors() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(40, 6))
    labels = [f"item{i}" for i in range(40)]
    target = "item3"
    plain, numpy = run(
        most_similar_code("target_vector = vectors[3]\n", target, k=5),
        labels=labels,
        vectors=vectors,
    )
    expected = target_neighbors(vectors[3], vectors, 5, exclude=3).most
    assert [label for label, _ in plain] == [labels[int(i)] for i in expected.ids[0]]
    for got in (plain, numpy):
        assert [label for label, _ in got] == [label for label, _ in plain]
        np.testing.assert_allclose([s for _, s in got], expected.scores[0], atol=1e-12)
