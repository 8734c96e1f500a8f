"""Reference top-k against a variant top-k (quantized, truncated, another model or metric).

The variant's list is read row by row: each of its items is marked by where the reference
put it, so a table of both lists shows at a glance what the change kept, moved and lost.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from core.errors import ExplorerError


class Mark(str, Enum):
    """Where the reference ranked the variant's item at this row."""

    SAME = "✅"  # at the same rank
    MOVED = "↕"  # in the reference top-k, at another rank
    MISSING = "❌"  # not in the reference top-k: it pushed a reference item out


@dataclass(frozen=True)
class RankRow:
    """One row of the side-by-side table; ``rank`` and ``reference_rank`` count from 1."""

    rank: int
    reference_id: Hashable
    reference_label: str
    variant_id: Hashable
    variant_label: str
    mark: Mark
    reference_rank: int | None


@dataclass(frozen=True)
class RankComparison:
    """How far a variant top-k is from the reference top-k.

    ``overlap_at_k``: share of reference items the variant also returns (0..1).
    ``spearman``: Spearman rank correlation over the union of both lists, an item absent
    from a list ranked k+1 there (ties averaged); 1.0 for identical lists, negative when the
    lists are disjoint. ``moved``: shared items at a different rank. ``missing``: reference
    items the variant lost (equal to the number of rows marked MISSING).
    """

    rows: tuple[RankRow, ...]
    overlap_at_k: float
    spearman: float
    moved: int
    missing: int

    @property
    def k(self) -> int:
        return len(self.rows)


def _checked(ids: Sequence[Hashable], name: str) -> list[Hashable]:
    items = list(ids)
    if not items:
        raise ExplorerError(f"The {name} ranking is empty: run a search first.")
    seen: dict[Hashable, int] = {}
    for rank, item in enumerate(items, start=1):
        if item in seen:
            raise ExplorerError(
                f"The {name} ranking lists {item!r} twice (ranks {seen[item]} and {rank}); "
                "a top-k must not repeat items."
            )
        seen[item] = rank
    return items


def _label(item: Hashable, labels: Mapping[Hashable, str] | None) -> str:
    if labels is None:
        return str(item)
    try:
        return str(labels[item])
    except (KeyError, TypeError):
        raise ExplorerError(f"No label for id {item!r}: the labels do not cover it.") from None


def _spearman(reference: list[Hashable], variant: list[Hashable]) -> float:
    if reference == variant:
        # Also covers k = 1, where a correlation of one item is undefined.
        return 1.0
    k = len(reference)
    union = list(dict.fromkeys(reference + variant))
    ref_rank = {item: r for r, item in enumerate(reference, start=1)}
    var_rank = {item: r for r, item in enumerate(variant, start=1)}
    a = np.array([ref_rank.get(item, k + 1) for item in union], dtype=np.float64)
    b = np.array([var_rank.get(item, k + 1) for item in union], dtype=np.float64)
    # Imported when first needed: scipy.stats takes seconds to import, and core.search (so
    # core.mrl and the classroom server) imports this module for compare_search.
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def compare_rankings(
    reference_ids: Sequence[Hashable],
    variant_ids: Sequence[Hashable],
    labels: Sequence[str] | Mapping[Hashable, str] | None = None,
) -> RankComparison:
    """Compare two top-k lists of item ids, best first, of the same length k.

    ``labels[id]`` gives an item's display label (a sequence for integer ids, or a mapping);
    without ``labels`` the id itself is shown.
    """
    reference = _checked(reference_ids, "reference")
    variant = _checked(variant_ids, "variant")
    if len(reference) != len(variant):
        raise ExplorerError(
            f"The reference has {len(reference)} results and the variant {len(variant)}; "
            "compare top-k lists of the same k."
        )
    names: Mapping[Hashable, str] | None = (
        labels
        if labels is None or isinstance(labels, Mapping)
        else {i: label for i, label in enumerate(labels)}
    )
    ref_rank = {item: r for r, item in enumerate(reference, start=1)}
    rows = []
    for rank, (ref_item, var_item) in enumerate(zip(reference, variant, strict=True), start=1):
        where = ref_rank.get(var_item)
        if where is None:
            mark = Mark.MISSING
        elif where == rank:
            mark = Mark.SAME
        else:
            mark = Mark.MOVED
        rows.append(
            RankRow(
                rank=rank,
                reference_id=ref_item,
                reference_label=_label(ref_item, names),
                variant_id=var_item,
                variant_label=_label(var_item, names),
                mark=mark,
                reference_rank=where,
            )
        )
    shared = len(ref_rank.keys() & set(variant))
    return RankComparison(
        rows=tuple(rows),
        overlap_at_k=shared / len(reference),
        spearman=_spearman(reference, variant),
        moved=sum(row.mark is Mark.MOVED for row in rows),
        missing=len(reference) - shared,
    )
