"""The classroom scenario on the Similarity page, shared by the recorder, the replay bench,
the cycle count (``bench.gc_cycles``) and ``tests/test_concurrency.py``.

A student opens a deep link to the Neighbours tab, moves the k slider, types a target, opens
the Spread tab, moves the threshold and opens the Map tab: six script runs, five of them
widget changes.
"""

from __future__ import annotations

PAGE = "similarity"
# The deep link the teacher hands out.
SIMILARITY_PARAMS: dict[str, str] = {"sim_view": "Neighbours", "sim_target": "queen", "sim_k": "10"}
DEEP_LINK = f"/{PAGE}?" + "&".join(f"{k}={v}" for k, v in SIMILARITY_PARAMS.items())

# One widget change per step: the widget's key, its new value, and how the browser changes
# it (a slider moves by one key press, so that one change is one rerun). Values are what the
# server's session state holds afterwards.
STEPS: list[dict[str, object]] = [
    {"name": "k", "key": "sim_k", "value": 11, "kind": "slider", "press": "ArrowRight"},
    {"name": "target", "key": "sim_target", "value": "river", "kind": "text"},
    {"name": "Spread", "key": "sim_view", "value": "Spread", "kind": "tab"},
    {"name": "threshold", "key": "sim_threshold", "value": 0.49, "kind": "slider",
     "press": "ArrowLeft"},
    {"name": "Map", "key": "sim_view", "value": "Map", "kind": "tab"},
]  # fmt: skip
