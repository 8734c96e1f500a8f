"""core.mapview: column kinds and colours, stratified samples, filters and selection maths,
checked against hand-computed cases, brute force and hypothesis properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.datasets import Dataset
from core.errors import ExplorerError
from core.mapview import (
    MISSING,
    OTHER,
    ColumnKind,
    as_numbers,
    category_mask,
    centroid,
    colour_by,
    dataset_columns,
    distinct_values,
    quantile_bins,
    range_mask,
    rows_to_draw,
    selected_rows,
    stratified_sample,
)


def test_numbers_read_as_numbers_with_missing_as_nan() -> None:
    np.testing.assert_array_equal(
        as_numbers([1, "2.5", None, " ", float("nan"), 3]), [1, 2.5, np.nan, np.nan, np.nan, 3]
    )
    assert as_numbers([1, "two"]) is None
    assert as_numbers([True, 1]) is None  # booleans are categories
    assert as_numbers(["inf", 1]) is None
    assert as_numbers([None, ""]) is None  # nothing to scale


def test_categorical_colours_keep_the_most_frequent_and_group_the_rest() -> None:
    values = ["b", "a", "b", "c", "a", "b", "d", None, "e"]
    c = colour_by("col", values, max_categories=2)
    assert c.kind is ColumnKind.CATEGORICAL
    # b (3), a (2) kept; c, d, e (1 each) grouped; the empty value is its own group.
    assert c.names == ("b", "a", OTHER, MISSING)
    assert c.codes.tolist() == [0, 1, 0, 2, 1, 0, 2, 3, 2]
    assert c.grouped == 3
    every = colour_by("col", values)
    assert every.names == ("b", "a", "c", "d", "e", MISSING) and every.grouped == 0
    # A real value called "other" keeps its name; the group gets a distinct one.
    clash = colour_by("col", ["other", "other", "x", "y"], max_categories=1)
    assert clash.names == ("other", "other (2 values)")
    with pytest.raises(ExplorerError, match="max_categories must be at least 1, got 0"):
        colour_by("col", values, max_categories=0)


def test_numeric_colours_carry_values_and_decile_strata() -> None:
    values = list(range(100)) + [None]
    c = colour_by("year", values)
    assert c.kind is ColumnKind.NUMERIC and c.names == ()
    assert c.numbers is not None and np.isnan(c.numbers[-1])
    # Deciles of 0..99: ten values per bin, the missing one in bin -1.
    assert np.bincount(c.codes[:-1]).tolist() == [10] * 10 and c.codes[-1] == -1
    assert c.codes[:-1].tolist() == [i // 10 for i in range(100)]
    assert quantile_bins(np.array([np.nan, np.nan])).tolist() == [-1, -1]


def test_dataset_columns_are_category_then_extra() -> None:
    d = Dataset("d", ("a", "b"), ("a", "b"), ("x", "y"), extra={"year": (1, 2), "tag": ("p", "q")})
    assert dataset_columns(d) == {"category": ("x", "y"), "year": (1, 2), "tag": ("p", "q")}


def test_stratified_sample_by_hand() -> None:
    strata = np.array([0] * 60 + [1] * 30 + [2] * 10)
    rows = stratified_sample(strata, 10, seed=1)
    assert np.bincount(strata[rows]).tolist() == [6, 3, 1]
    assert np.all(np.diff(rows) > 0)
    # Shares 7.5, 2.5 -> floors 7, 2 and the largest remainder (tie: first) gets the 10th.
    uneven = np.array([0] * 75 + [1] * 25)
    assert np.bincount(uneven[stratified_sample(uneven, 10)]).tolist() == [8, 2]
    # A rare stratum keeps one row even when its share rounds to zero.
    rare = np.array([0] * 999 + [1])
    assert np.bincount(rare[stratified_sample(rare, 10)]).tolist() == [9, 1]
    # Three one-row strata take their minimum from the big one: 3.88 rounds down to 1.
    minimums = np.array([0] * 97 + [1, 2, 3])
    assert np.bincount(minimums[stratified_sample(minimums, 4)]).tolist() == [1, 1, 1, 1]
    np.testing.assert_array_equal(stratified_sample(strata, 500), np.arange(100))
    with pytest.raises(ExplorerError, match="cannot hold one row of each of 3 groups"):
        stratified_sample(strata, 2)
    with pytest.raises(ExplorerError, match="at least 1 row, got 0"):
        stratified_sample(strata, 0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=300),
    st.integers(1, 300),
    st.integers(0, 5),
)
def test_stratified_sample_properties(values: list[int], size: int, seed: int) -> None:
    strata = np.array(values)
    groups = len(set(values))
    if size < groups and size < len(values):
        with pytest.raises(ExplorerError):
            stratified_sample(strata, size, seed)
        return
    rows = stratified_sample(strata, size, seed)
    assert rows.size == min(size, len(values))
    assert np.unique(rows).size == rows.size and np.all(np.diff(rows) > 0)
    counts = np.bincount(strata, minlength=7)
    got = np.bincount(strata[rows], minlength=7)
    share = counts * rows.size / len(values)
    present = counts > 0
    assert np.all(got[present] >= 1) and np.all(got <= counts)
    # Every stratum within one row of its share, except where the one-row minimum lifts it.
    assert np.all((np.abs(got - share) < 1 + 1e-9)[present] | (got == 1)[present])
    np.testing.assert_array_equal(rows, stratified_sample(strata, size, seed))


def test_rows_to_draw_samples_only_above_the_cap() -> None:
    strata = np.array([0, 1] * 50)
    mask = np.arange(100) < 80
    all_rows = rows_to_draw(mask, strata, max_points=100)
    assert not all_rows.sampled and all_rows.matching == 80
    np.testing.assert_array_equal(all_rows.rows, np.arange(80))
    sample = rows_to_draw(mask, strata, max_points=20)
    assert sample.sampled and sample.matching == 80 and sample.rows.size == 20
    assert set(sample.rows) <= set(range(80))
    assert np.bincount(strata[sample.rows]).tolist() == [10, 10]


def test_filters() -> None:
    values = ["a", "b", None, "a"]
    assert category_mask(values, ["a", MISSING]).tolist() == [True, False, True, True]
    numbers = np.array([1.0, 5.0, np.nan, 3.0])
    assert range_mask(numbers, 2, 5).tolist() == [False, True, False, True]
    with pytest.raises(ExplorerError, match="low end 5 is above its high end 2"):
        range_mask(numbers, 5, 2)
    assert distinct_values(["b", "a", "b", None]) == ["b", MISSING, "a"]
    assert distinct_values(["b", "a", "b"], limit=1) == ["b"]


def test_selected_rows_map_trace_points_to_dataset_rows() -> None:
    traces = [np.array([4, 7, 9]), np.array([0, 2])]
    points = [
        {"curve_number": 1, "point_index": 1},
        {"curve_number": 0, "point_number": 2},
        {"curve_number": 0, "point_index": 0},
        {"curve_number": 1, "point_index": 1},  # twice: listed once
        {"curve_number": 2, "point_index": 0},  # a marker trace drawn on top: ignored
        {"curve_number": 0},  # no index
    ]
    assert selected_rows(points, traces).tolist() == [2, 4, 9]
    assert selected_rows([], traces).dtype == np.int64
    with pytest.raises(ExplorerError, match="point 5 of trace 0, which has 3"):
        selected_rows([{"curve_number": 0, "point_index": 5}], traces)


def test_centroid_is_the_mean_direction() -> None:
    x = np.array([[2.0, 0.0], [0.0, 5.0], [1.0, 1.0]])
    np.testing.assert_allclose(centroid(x, np.array([0, 1])), [[2**-0.5, 2**-0.5]])
    with pytest.raises(ExplorerError, match="selection is empty"):
        centroid(x, np.array([], dtype=np.int64))
    with pytest.raises(ExplorerError, match="length 0"):
        centroid(np.zeros((2, 2)), np.array([0]))
    with pytest.raises(ExplorerError, match="cancel out"):
        centroid(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([0, 1]))
