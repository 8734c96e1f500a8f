"""The talk: its steps in order, each opening a page and tab with the talk's settings; the
tour bar (views/_tour.py) then leads from one step to the next."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.talk import TOUR
from views import _tour, _ui
from views.registry import PAGES

_ui.page_intro(
    "The talk",
    "The talk about embeddings, one step per slide: each step opens the page and tab that "
    "shows it, with the talk's inputs, and a bar above the page with the step's caption. "
    "Previous and Next (or the ← and → keys) move through the talk; the address of a step "
    "(…?tour=7) reopens it. Presenter mode stays on from step to step.",
)

titles = {entry.url_path: entry.title for entry in PAGES}
numbers = range(1, len(TOUR) + 1)
c_start, c_pick, c_open = st.columns([1, 3, 1], vertical_alignment="bottom")
if c_start.button("Start the talk ▶", key="talk_start", type="primary"):
    _tour.go(1)
chosen = c_pick.selectbox(
    "Step",
    numbers,
    key=_ui.bound("talk_step", 1, int, valid=lambda v: v in numbers),
    format_func=lambda n: f"{n}. {TOUR[n - 1].section}: {TOUR[n - 1].title}",
)
if c_open.button("Open this step", key="talk_open"):
    _tour.go(int(chosen))

st.dataframe(
    pd.DataFrame(
        {
            "step": list(numbers),
            "section": [s.section for s in TOUR],
            "slide": [s.title for s in TOUR],
            "page": [titles[s.page] for s in TOUR],
            "tab": [s.tab for s in TOUR],
            "talk data": ["key or upload" if s.needs else "" for s in TOUR],
        }
    ),
    key="talk_steps",
    hide_index=True,
    height=420 if _ui.presenting() else "auto",
)
with st.expander("Where the talk used data this app does not ship"):
    for number, step in enumerate(TOUR, start=1):
        if step.needs:
            st.markdown(f"**{number}. {_ui.md_text(step.title)}**: {_ui.md_text(step.needs)}")
