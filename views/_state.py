"""URL state: every widget key a page binds with :func:`bound` is written into the URL once,
at the end of the run, so a copied link reopens the exact view.

``explorer_app.py`` runs the sidebar and the page inside :func:`url_state`; pages call
:func:`bound` (as ``_ui.bound``, which re-exports it) and never list their keys a second time.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, NoReturn, ParamSpec

import streamlit as st

from views._text import md_code

P = ParamSpec("P")

# The keys bound so far in this run, in order (a dict as an ordered set); None outside
# url_state(). A context variable, not a module global: sessions run in their own threads.
_RUN_KEYS: ContextVar[dict[str, None] | None] = ContextVar("url_keys", default=None)


def bound(
    key: str,
    default: Any,
    parse: Callable[[str], Any] = str,
    valid: Callable[[Any], bool] | None = None,
) -> str:
    """Give widget ``key`` its first value from the URL (``?key=...``), else ``default``, and
    put it in the URL at the end of the run.

    Returns ``key`` so it reads inline: ``st.slider("k", 1, 50, key=bound("k", 10, int))``.
    A URL value that does not parse or is not ``valid`` is ignored with a warning. A list
    ``default`` reads every value of a repeated parameter (``?models=a&models=b``). A setting
    whose widget is on another tab is read the same way (``st.session_state[bound(...)]``):
    the value from this session, else from the link, and it stays in the URL meanwhile.
    """
    if key not in st.session_state:
        st.session_state[key] = _from_url(key, default, parse, valid)
    keys = _RUN_KEYS.get()
    if keys is None:
        publish(key)  # outside url_state() (a test app rendering one section): at once
    else:
        keys[key] = None
    return key


def _from_url(
    key: str, default: Any, parse: Callable[[str], Any], valid: Callable[[Any], bool] | None
) -> Any:
    """``key``'s value in the URL, parsed and checked, else ``default`` (with a warning when
    the URL holds a value that does not parse or is not valid)."""
    raw: list[str] | str | None = (
        st.query_params.get_all(key) if isinstance(default, list) else st.query_params.get(key)
    )
    if not raw:
        return default
    shown = md_code(f"{key}={raw!r}")
    try:
        parsed = [parse(r) for r in raw] if isinstance(raw, list) else parse(raw)
        if valid is None or valid(parsed):
            return parsed
        st.warning(f"Ignored the link's {shown}: not a value this page offers.")
    except (ValueError, TypeError):
        st.warning(f"Ignored the link's {shown}: it does not parse.")
    return default


def publish(*keys: str) -> None:
    """Write the current value of each widget ``key`` into the URL (one update for all)."""
    values: dict[str, str | list[str]] = {}
    for key in keys:
        if key not in st.session_state:
            continue
        value = st.session_state[key]
        if isinstance(value, bool):
            value = int(value)
        values[key] = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
    if values:
        st.query_params.update(values)


def _flush() -> None:
    """Publish the keys bound so far in this run and start a new list."""
    keys = _RUN_KEYS.get()
    if keys:
        pending = list(keys)
        keys.clear()
        publish(*pending)


@contextlib.contextmanager
def url_state() -> Iterator[None]:
    """Collect the keys :func:`bound` binds inside the block and publish them when it ends,
    however it ends (an error, or ``st.stop()`` raising ``StopException``). Inside another
    ``url_state()`` (an ``st.fragment`` called during a full run) the outer block publishes;
    a fragment's own rerun publishes its keys when the fragment ends."""
    if _RUN_KEYS.get() is not None:
        yield
        return
    token = _RUN_KEYS.set({})
    try:
        yield
    finally:
        try:
            _flush()
        finally:
            _RUN_KEYS.reset(token)


def fragment(func: Callable[P, None]) -> Callable[P, None]:
    """``st.fragment(func)`` whose own reruns (a change of one of its widgets reruns it alone)
    publish the keys it binds once, when it ends, as a full run does."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        with url_state():
            func(*args, **kwargs)

    return st.fragment(run)


def stop() -> NoReturn:
    """Publish this run's keys, then ``st.stop()``. After ``st.stop()`` every message to the
    browser raises ``StopException`` again, so the keys must go out before it."""
    _flush()
    st.stop()


def as_bool(raw: str) -> bool:
    """Parse ``1/0/true/false`` from a URL."""
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)
