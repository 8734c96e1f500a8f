"""Helpers for AppTest page tests: open a page (optionally from a deep link) and read what it
shows (plotly figures, dataframes, metrics) as plain Python values."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "explorer_app.py"


def open_page(page: str, params: dict[str, str | list[str]] | None = None) -> AppTest:
    """Run the app on ``views/<page>.py``, as if opened from a URL with query ``params``."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def plain(markdown: str) -> str:
    """What the browser shows for markdown whose punctuation was backslash-escaped
    (``views._text.md_text``): the escapes and invisible word joiners removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def plain_table(at: AppTest, index: int = 0) -> pd.DataFrame:
    """``st.table`` number ``index`` with its markdown cells as the browser shows them."""
    return at.table[index].value.map(lambda v: plain(v) if isinstance(v, str) else v)


def figures(at: AppTest) -> list[dict[str, Any]]:
    """Every plotly chart's figure JSON, in page order."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def array(value: Any) -> np.ndarray:
    """A plotly data array: plain JSON lists, or plotly 6+'s ``{"dtype", "bdata"}`` form."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def frames(at: AppTest, *columns: str) -> list[pd.DataFrame]:
    """The page's dataframes (in page order) that have all of ``columns``."""
    tables = [df.value for df in at.dataframe]
    return [t for t in tables if set(columns) <= set(t.columns)]


def metrics(at: AppTest) -> dict[str, str]:
    """``st.metric`` label -> displayed value (first occurrence of each label)."""
    out: dict[str, str] = {}
    for m in at.metric:
        out.setdefault(plain(m.label), m.value)
    return out


def texts(at: AppTest) -> str:
    """All markdown and caption text on the page, joined, for substring checks."""
    return "\n".join(plain(m.value) for m in [*at.markdown, *at.caption])


def presenter_styled(at: AppTest) -> bool:
    """True when the page carries presenter mode's stylesheet (large type, tight top)."""
    from views._ui import _PRESENTER_CSS

    return any(m.value.strip() == _PRESENTER_CSS.strip() for m in at.markdown)


def show_tab(at: AppTest, key: str, label: str) -> AppTest:
    """Open tab ``label`` of the page's lazy tabs ``key`` (only its section runs) and rerun."""
    at.session_state[key] = label
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at
