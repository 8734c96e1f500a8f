"""The tour bar: with ``?tour=N`` in the URL, every page opens at step N's settings and shows
the step's controls (Previous and Next, which the arrow keys press; the step counter and
caption): above the title, or in presenter mode beside it, in place of the page's folded
introduction, so a step takes no more of the screen than the page alone.

``_ui.sidebar()`` calls :func:`bar` before anything else of a run, so a step's settings are in
place before any widget reads them; ``_ui.page_intro`` calls :func:`controls`. The steps
themselves are ``core.talk.TOUR``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

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


def _current() -> int | None:
    """The step the URL asks for; None without one or with a bad one (``bar`` says why)."""
    try:
        return tour_step(st.query_params.get(URL_KEY))
    except ExplorerError:
        return None


def bar() -> None:
    """Apply the step the URL asks for, when its settings are not applied yet (a link such as
    ``?tour=7`` opened on any page resumes there); warns about a step that does not exist."""
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


def controls(where: Any) -> bool:
    """Draw the step's row in container ``where``: Previous, Next, the counter and caption
    (the section is left out in presenter mode, where the page title beside it names it).
    Returns False, drawing nothing, when no tour step is open."""
    number = _current()
    if number is None:
        return False
    step = TOUR[number - 1]
    row = where.container(key="tour_bar", horizontal=True, vertical_alignment="center", wrap=False)
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
    section = "" if presenting() else f" · {md_text(step.section)}"
    line = f"**{number} / {len(TOUR)}**{section} · **{md_text(step.title)}**: "
    row.markdown(line + md_text(step.caption) + _CSS, unsafe_allow_html=True, width="stretch")
    if step.needs:
        with row.popover("Talk data", key="tour_data"):
            st.markdown(md_text(step.needs))
    if back:
        go(number - 1)
    if ahead:
        go(number + 1)
    return True
