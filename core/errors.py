"""The one error type the engine raises for bad input; pages turn it into ``st.error``."""

from __future__ import annotations


class ExplorerError(ValueError):
    """Bad input (values, shapes, files, provider answers) with a message a user can act on."""


class ProviderError(ExplorerError):
    """A hosted model did not answer usably (time limit, HTTP error, malformed answer);
    ``model`` names it, so a page can set it aside instead of calling it on every update."""

    def __init__(self, model: str, message: str) -> None:
        super().__init__(message)
        self.model = model
