"""A Streamlit script for timing the map: the Similarity page's Map tab over a synthetic
dataset of ``MAP_BENCH_N`` rows (default 100,000) of 384-D vectors in 30 uneven groups, with
a numeric column. Run by ``bench.bench_map`` (headless and in Chromium). ``MAP_BENCH_GL_POINTS``
overrides :data:`views._map.GL_MAP_POINTS` (above it the map is the in-place component), so
both ways of drawing can be timed on the same data."""

from __future__ import annotations

import os

import numpy as np
import streamlit as st

from core.datasets import Dataset
from core.vectors import VectorSet, array_digest
from views import _map, _ui
from views._map import dataset_map

# MiniLM's 384 dimensions, 30 groups.
DIMS = 384
GROUPS = 30


@st.cache_resource
def synthetic(n: int) -> _ui.Workspace:
    """``n`` unit vectors around 30 random directions, group sizes falling off like 1/rank;
    a ``score`` column (a number per row) and the group as the category."""
    rng = np.random.default_rng(0)
    weights = 1 / np.arange(1, GROUPS + 1)
    groups = rng.choice(GROUPS, n, p=weights / weights.sum())
    centres = rng.normal(size=(GROUPS, DIMS))
    x = (centres[groups] + 1.5 * rng.normal(size=(n, DIMS))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x.flags.writeable = False
    labels = tuple(f"item {i}" for i in range(n))
    dataset = Dataset(
        f"synthetic-{n}",
        labels,
        labels,
        tuple(f"group {g:02d}" for g in groups),
        extra={"score": tuple(np.round(rng.normal(size=n), 3).tolist())},
    )
    return _ui.Workspace(
        dataset, {"synthetic": VectorSet(dataset, "synthetic", x, digest=array_digest(x))}
    )


_map.GL_MAP_POINTS = int(os.environ.get("MAP_BENCH_GL_POINTS", _map.GL_MAP_POINTS))
_ui.page_intro("Map benchmark", "The Map tab over a synthetic dataset.")
dataset_map(synthetic(int(os.environ.get("MAP_BENCH_N", "100000"))))
