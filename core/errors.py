"""The one error type the engine raises for bad input; pages turn it into ``st.error``."""

from __future__ import annotations


class ExplorerError(ValueError):
    """Bad input (values, shapes, files, provider answers) with a message a user can act on."""
