"""The server's warm-up imports the slow libraries once, in the background."""

from __future__ import annotations

import sys

from views import _warm


def test_warm_up_imports_in_a_background_thread_once():
    _warm.warm_up.clear()
    try:
        thread = _warm.warm_up(("json", "no_such_module_for_warm_up"), 0.0)
        thread.join(timeout=30)
        assert not thread.is_alive() and thread.daemon
        assert "json" in sys.modules  # a missing module is logged, the rest still imported
        assert (
            _warm.warm_up(("json", "no_such_module_for_warm_up"), 0.0) is thread
        )  # once per server
    finally:
        _warm.warm_up.clear()


def test_warm_up_lists_modules_that_exist():
    import importlib.util

    for name in _warm.MODULES:
        assert importlib.util.find_spec(name) is not None, name
