"""The big map as a custom component that updates one plotly graph in place.

``st.plotly_chart`` derives a selectable chart's element id from its figure (Streamlit 1.67),
so every rerun that changes the figure (k, the target, a colour) mounts a new graph: new
WebGL contexts, shaders and buffers, then two full redraws. At 100k points that is 1-2 s in a
browser without a GPU, even when only ten highlighted points moved. This component keeps one
graph per session and calls ``Plotly.react``: the base traces (every point) travel in an
element of their own, sent again only when they change, and are decoded once per content
(``base_key``) and reused, so a rerun that changes only the overlay (neighbours, target)
redraws without re-sending, re-parsing or re-uploading 100k points.

plotly.js comes from the plotly package's own offline bundle (``plotly/package_data/
plotly.min.js``), served by Streamlit's component asset route; nothing is fetched from the
internet. Box and lasso selections come back as ``[[trace, index], ...]``, the same shape
:func:`core.mapview.selected_rows` reads from ``st.plotly_chart``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly
import plotly.graph_objects as go
import plotly.io
import streamlit as st
from plotly.io.json import to_json_plotly
from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest
from streamlit.runtime import Runtime

# Streamlit names a manifest-backed component "<project>.<component>".
ASSETS = "explorer.plotly"
PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
_JS = (Path(__file__).with_name("_gl_map.js")).read_text(encoding="utf-8")
_COMPONENT = st.components.v2.component("explorer_gl_map", js=_JS, isolate_styles=False)


def plotly_url() -> str:
    """The URL path of plotly.min.js, served from the plotly package by this server
    (registered once per server runtime as a component asset directory)."""
    manager = Runtime.instance().bidi_component_registry
    if manager.get_component_asset_root(ASSETS) is None:
        project, name = ASSETS.split(".")
        manifest = ComponentManifest(project, "1", [ComponentConfig(name, asset_dir=".")])
        manager.register_from_manifest(manifest, PLOTLY_DIR)
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    parts = [base, "_stcore/bidi-components", ASSETS, "plotly.min.js"]
    return "/" + "/".join(p for p in parts if p)


@dataclass(frozen=True)
class GlBase:
    """The map's base traces (every point) as JSON, and its content key (16 hex digits)."""

    json: str
    key: str


def base_json(fig: go.Figure) -> GlBase:
    """``fig``'s traces as one JSON string (numbers as plotly.py's base64 typed arrays,
    ``bdata``) and the md5 of that string as its key."""
    text = to_json_plotly(fig.to_dict()["data"])
    return GlBase(text, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:16])


def component_data(base: GlBase, overlay: go.Figure, config: Mapping[str, Any]) -> dict[str, str]:
    """The map element's data: the base traces' key (their JSON goes in an element of its
    own, :func:`base_data`), ``overlay``'s traces (drawn on top) and layout, the plotly
    config and where plotly.js is served."""
    figure = overlay.to_dict()
    # plotly.py's white template (axes that make room for their labels) instead of the
    # Streamlit theme st.plotly_chart would apply; new base traces (another colour, filter
    # or projection) clear the drawn selection.
    layout = figure["layout"] | {
        "template": plotly.io.templates["plotly_white"],
        "selectionrevision": base.key,
    }
    # No link to Chart Studio (st.plotly_chart hides it too); resize with the page.
    shown = {**config, "responsive": True, "showSendToCloud": False, "showLink": False}
    return {
        "role": "map",
        "base_key": base.key,
        "overlay": to_json_plotly(figure["data"]),
        "layout": to_json_plotly(layout),
        "config": to_json_plotly(shown),
        "plotly": plotly_url(),
    }


def base_data(base: GlBase) -> dict[str, str]:
    """The base element's data: the base traces' JSON and key. It changes only with the
    traces, so on a rerun that changes k or the target Streamlit sends the browser a
    reference to the element it already holds instead of its megabytes again."""
    return {"role": "base", "base_key": base.key, "base": base.json}


def gl_map(
    base: GlBase, overlay: go.Figure, key: str, config: Mapping[str, Any]
) -> list[dict[str, int]]:
    """Draw the ``base`` traces with ``overlay``'s traces on top (and its layout); return
    the box or lasso selection as plotly points: ``curve_number`` and ``point_index`` per
    selected point; empty before any selection and when the selection was made on other
    base traces (its indices would name other points)."""
    _COMPONENT(key=f"{key}_base", data=base_data(base), default={})
    data = component_data(base, overlay, config)
    result = _COMPONENT(
        key=key, data=data, default={"selection": None}, on_selection_change=lambda: None
    )
    chosen = result.get("selection") if isinstance(result, Mapping) else None
    if not isinstance(chosen, Mapping) or chosen.get("base") != data["base_key"]:
        return []  # nothing selected, or selected on other base traces
    points = chosen.get("points", [])
    return [
        {"curve_number": int(p[0]), "point_index": int(p[1])}
        for p in points
        if isinstance(p, list | tuple) and len(p) == 2
    ]
