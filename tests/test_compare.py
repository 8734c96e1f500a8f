from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.compare import Mark, RankComparison, RankRow, compare_rankings
from core.errors import ExplorerError


def marks(result: RankComparison) -> list[Mark]:
    return [row.mark for row in result.rows]


def test_identical_lists():
    result = compare_rankings(["a", "b", "c"], ["a", "b", "c"])
    assert marks(result) == [Mark.SAME] * 3
    assert [row.reference_rank for row in result.rows] == [1, 2, 3]
    assert (result.overlap_at_k, result.spearman, result.moved, result.missing) == (1, 1, 0, 0)
    assert result.k == 3


def test_swapped_pair():
    result = compare_rankings(["a", "b", "c"], ["b", "a", "c"])
    assert marks(result) == [Mark.MOVED, Mark.MOVED, Mark.SAME]
    assert [row.reference_rank for row in result.rows] == [2, 1, 3]
    # Rank differences 1, 1, 0: rho = 1 - 6 * 2 / (3 * (9 - 1)) = 0.5
    assert result.spearman == pytest.approx(0.5)
    assert (result.overlap_at_k, result.moved, result.missing) == (1.0, 2, 0)


def test_disjoint_lists():
    result = compare_rankings(["a", "b"], ["c", "d"])
    assert marks(result) == [Mark.MISSING, Mark.MISSING]
    assert [row.reference_rank for row in result.rows] == [None, None]
    # Union a, b, c, d ranked [1, 2, 3, 3] and [3, 3, 1, 2]; with ties averaged these are
    # [1, 2, 3.5, 3.5] and [3.5, 3.5, 1, 2]: covariance sum -4, variance sums 4.5 -> -8/9.
    assert result.spearman == pytest.approx(-8 / 9)
    assert (result.overlap_at_k, result.moved, result.missing) == (0.0, 0, 2)


def test_partial_overlap():
    result = compare_rankings(["a", "b", "c", "d"], ["a", "c", "e", "b"])
    assert result.rows[2] == RankRow(
        rank=3,
        reference_id="c",
        reference_label="c",
        variant_id="e",
        variant_label="e",
        mark=Mark.MISSING,
        reference_rank=None,
    )
    assert marks(result) == [Mark.SAME, Mark.MOVED, Mark.MISSING, Mark.MOVED]
    assert [row.reference_rank for row in result.rows] == [1, 3, None, 2]
    # Union a..e ranked 1..5 and [1, 4, 2, 5, 3]: sum of d^2 = 10, rho = 1 - 60 / 120.
    assert result.spearman == pytest.approx(0.5)
    assert (result.overlap_at_k, result.moved, result.missing) == (0.75, 2, 1)


def test_single_item():
    assert compare_rankings([7], [7]).spearman == 1.0
    assert compare_rankings([7], [8]).spearman == pytest.approx(-1.0)


def test_labels_from_sequence_and_mapping():
    seq = compare_rankings([2, 0], [0, 1], labels=["zero", "one", "two"])
    assert [(r.reference_label, r.variant_label) for r in seq.rows] == [
        ("two", "zero"),
        ("zero", "one"),
    ]
    mapped = compare_rankings(["x"], ["x"], labels={"x": "El Rey León"})
    assert mapped.rows[0].variant_label == "El Rey León"
    assert Mark.SAME.value == "✅" and Mark.MOVED.value == "↕" and Mark.MISSING == "❌"


@pytest.mark.parametrize(
    ("reference", "variant", "labels", "message"),
    [
        ([], [], None, "The reference ranking is empty"),
        (["a"], [], None, "The variant ranking is empty"),
        (["a", "b"], ["a"], None, "reference has 2 results and the variant 1"),
        (["a", "b", "a"], ["a", "b", "c"], None, r"lists 'a' twice \(ranks 1 and 3\)"),
        ([0, 5], [0, 1], ["zero", "one"], "No label for id 5"),
    ],
)
def test_bad_input(reference, variant, labels, message):
    with pytest.raises(ExplorerError, match=message):
        compare_rankings(reference, variant, labels=labels)


@settings(deadline=None)
@given(st.data())
def test_counts_are_consistent(data):
    pool = list(range(12))
    k = data.draw(st.integers(1, 6))
    reference = data.draw(st.permutations(pool))[:k]
    variant = data.draw(st.permutations(pool))[:k]
    result = compare_rankings(reference, variant)
    shared = set(reference) & set(variant)
    assert result.overlap_at_k == len(shared) / k
    assert marks(result).count(Mark.MISSING) == result.missing == k - len(shared)
    assert result.moved == sum(
        reference.index(v) != i for i, v in enumerate(variant) if v in shared
    )
    assert -1.0 <= result.spearman <= 1.0
    for row in result.rows:
        if row.reference_rank is not None:
            assert reference[row.reference_rank - 1] == row.variant_id
