"""Warm-up at server start: import, in the background, the libraries that later pages need.

Importing scikit-learn and scipy.stats takes about a second on this machine kind; without a
warm-up the first visit to Similarity (its map and clusters) or to a ranking comparison waits
for it, which breaks a talk's one-second steps. The first page the teacher opens starts the
thread, which waits a few seconds so as not to slow that page down (on 2 cores the import
would compete with it for the interpreter); by the time they move on, the imports are done."""

from __future__ import annotations

import importlib
import logging
import threading
import time

import streamlit as st

log = logging.getLogger(__name__)

# Imported by pages after the first one; each is about 0.4-1.2 s cold.
MODULES = ("sklearn.cluster", "sklearn.manifold", "sklearn.decomposition", "scipy.stats")
DELAY_S = 4.0  # after the first page's run has started; it takes about 2-3 s on a cold server


def _import_all(modules: tuple[str, ...], delay: float) -> None:
    time.sleep(delay)
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # the page that needs it says so when opened
            log.warning("Warm-up could not import %s: %s", name, exc)


@st.cache_resource(show_spinner=False)
def warm_up(modules: tuple[str, ...] = MODULES, delay: float = DELAY_S) -> threading.Thread:
    """Start (once per server process) a daemon thread importing ``modules`` after ``delay``
    seconds; returns it."""
    thread = threading.Thread(
        target=_import_all, args=(modules, delay), name="warm-up", daemon=True
    )
    thread.start()
    return thread
