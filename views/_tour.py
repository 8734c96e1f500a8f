"""The tour bar: with ``?tour=N`` in the URL, every page opens with one row above it (Previous
and Next, which the arrow keys press; the step counter and caption) and step N's settings.

``_ui.sidebar()`` calls :func:`bar` before anything else of a run, so a step's settings are in
place before any widget reads them. The steps themselves are ``core.talk.TOUR``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

import streamlit as st

from core.errors import ExplorerError
from core.talk import TOUR, URL_KEY, tour_step
from views._text import md_text
from views._ui import presenting
from views.registry import PAGES

_AT = "_tour_at"  # session state: the step whose settings were applied last
_SCRIPTS = {entry.url_path: entry.path for entry in PAGES}
# The bar sits where presenter mode's see-through header is: above it, so that its buttons
# take clicks (the header's toolbar would catch them); a caption on two lines grows the row
# instead of scrolling inside it.
_CSS = """<style>
.st-key-tour_bar { position: relative; z-index: 1000000; overflow: visible; }
.st-key-tour_bar [data-testid="stMarkdownContainer"] { margin-bottom: 0; }
.st-key-tour_bar p { margin: 0; font-size: 0.9rem; line-height: 1.35; }
</style>"""


def go(number: int, keep: Mapping[str, list[str]] | None = None) -> NoReturn:
    """Open step ``number`` (from 1): its page with its settings, and the query parameters
    ``keep`` that the step does not set. The step's keys are dropped from this session first,
    so each page reads them from the step's URL, with its own parsing and checks; every other
    choice (dataset, models, uploads) stays."""
    step = TOUR[number - 1]
    for key in step.params:
        st.session_state.pop(key, None)
    st.session_state[_AT] = number
    query: dict[str, str | list[str]] = {**(keep or {}), **step.query(number, presenting())}
    st.switch_page(_SCRIPTS[step.page], query_params=query)


def bar() -> None:
    """The tour bar, when the URL asks for a step; opens the step first when its settings are
    not applied yet (a link such as ``?tour=7`` opened on any page resumes there)."""
    try:
        number = tour_step(st.query_params.get(URL_KEY))
    except ExplorerError as exc:
        st.warning(md_text(exc))
        return
    if number is None:
        st.session_state.pop(_AT, None)
        return
    if st.session_state.get(_AT) != number:
        # A link opened (or reloaded) at a step keeps the other settings it carries.
        go(number, {key: st.query_params.get_all(key) for key in st.query_params})
    step = TOUR[number - 1]
    row = st.container(key="tour_bar", horizontal=True, vertical_alignment="center", wrap=False)
    back = row.button(
        "Previous", key="tour_prev", disabled=number == 1, shortcut="Left", help="Previous step"
    )
    ahead = row.button(
        "Next",
        key="tour_next",
        type="primary",
        disabled=number == len(TOUR),
        shortcut="Right",
        help="Next step",
    )
    line = f"**{number} / {len(TOUR)}** · {md_text(step.section)} · **{md_text(step.title)}**: "
    row.markdown(line + md_text(step.caption) + _CSS, unsafe_allow_html=True, width="stretch")
    if step.needs:
        with row.popover("Talk data", key="tour_data"):
            st.markdown(md_text(step.needs))
    if back:
        go(number - 1)
    if ahead:
        go(number + 1)
