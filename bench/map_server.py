"""``python -m bench.map_server run explorer_app.py <flags>``: ``streamlit run`` of
``bench/map_app.py`` instead, so that ``StreamlitServer(launcher="bench.map_server")`` serves
the map benchmark with the project's launch settings."""

from __future__ import annotations

import sys

from streamlit.web import cli

if __name__ == "__main__":
    sys.argv = ["streamlit", "run", "bench/map_app.py", *sys.argv[3:]]
    sys.exit(cli.main())
