"""Fragment reruns on a real server: a widget inside a page's ``st.fragment`` section reruns
that section alone, shows the right numbers, and still puts its value in the URL, whose link
reopens the same view.

AppTest always reruns the whole script, so this drives ``streamlit run`` over its websocket
as a browser does: a ``rerun_script`` message naming the changed widget and its fragment."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import numpy as np
import pyarrow as pa
import pytest
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.typing import Subprotocol

from bench.classroom_client import StreamlitServer, widget_key
from core.embedders.registry import get_embedder
from tests.event_loop import run_in_own_thread
from tests.page_helpers import array

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[StreamlitServer]:
    srv = StreamlitServer()
    try:
        yield srv
    finally:
        srv.close()
    assert "Traceback" not in srv.log_text(), srv.log_text()


@dataclass
class Run:
    """What one script run sent: its elements (type name -> list) and each delta's fragment."""

    elements: dict[str, list[Any]] = field(default_factory=dict)
    fragments: set[str] = field(default_factory=set)
    exceptions: list[str] = field(default_factory=list)

    def frames(self) -> list[Any]:
        return [
            pa.ipc.open_stream(df.arrow_data.data).read_all().to_pandas()
            for df in self.elements.get("dataframe", [])
        ]

    def metrics(self) -> dict[str, str]:
        return {m.label: m.body for m in self.elements.get("metric", [])}

    def figures(self) -> list[dict[str, Any]]:
        return [json.loads(c.spec) for c in self.elements.get("plotly_chart", [])]


class Session:
    """One browser tab on ``page``: widget ids and fragments by key, the URL's query."""

    def __init__(self, url: str, page: str, query: dict[str, Any]) -> None:
        self.url, self.page, self.query = url, page, urlencode(query, doseq=True)
        self.ids: dict[str, str] = {}
        self.fragment_of: dict[str, str] = {}

    async def __aenter__(self) -> Session:
        stream = self.url.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(
            stream, subprotocols=[Subprotocol("streamlit")], max_size=None
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def run(self, key: str | None = None, **value: Any) -> Run:
        """A rerun: the first run of the page, or widget ``key`` set to ``value`` (one
        ``string_value=...``-style field), in the fragment that holds it."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_name = self.page
        state.context_info.url = f"{self.url}/{self.page}"
        if key is not None:
            widget = WidgetState(id=self.ids[key])
            for name, v in value.items():
                if name == "string_array_value":
                    widget.string_array_value.data.append(v)
                elif name == "double_array_value":
                    widget.double_array_value.data.append(v)
                else:
                    setattr(widget, name, v)
            state.widget_states.widgets.append(widget)
            state.fragment_id = self.fragment_of[key]
        await self.ws.send(msg.SerializeToString())
        return await self._read()

    async def _read(self) -> Run:
        run = Run()
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await asyncio.wait_for(self.ws.recv(), 120))
            kind = fwd.WhichOneof("type")
            if kind == "page_info_changed":
                self.query = fwd.page_info_changed.query_string
            elif kind == "script_finished":
                if fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    return run
            elif kind == "delta":
                run.fragments.add(fwd.delta.fragment_id)
                if fwd.delta.WhichOneof("type") != "new_element":
                    continue
                el = fwd.delta.new_element
                name = el.WhichOneof("type")
                body = getattr(el, name)
                run.elements.setdefault(name, []).append(body)
                if name == "exception":
                    run.exceptions.append(body.message)
                widget = widget_key(getattr(body, "id", "") or "")
                if widget is not None:
                    self.ids[widget] = body.id
                    self.fragment_of[widget] = fwd.delta.fragment_id

    def url_query(self) -> dict[str, list[str]]:
        return parse_qs(self.query)


def _only_the_fragment(run: Run, session: Session, key: str) -> None:
    assert not run.exceptions, run.exceptions
    assert session.fragment_of[key], f"{key} is not inside a fragment"
    assert run.fragments == {session.fragment_of[key]}, run.fragments


def test_search_k_reruns_the_results_alone_and_its_link_reopens_them(server, words) -> None:
    labels, vectors = words
    query = get_embedder("all-MiniLM-L6-v2").embed(["a loyal dog"])[0]

    async def scenario() -> tuple[Run, Run, dict[str, list[str]]]:
        async with Session(server.url, "search", {"search_k": "5"}) as tab:
            first = await tab.run()
            assert len(first.frames()[0]) == 5
            changed = await tab.run("search_k", double_array_value=7)
            _only_the_fragment(changed, tab, "search_k")
            link = tab.url_query()
        async with Session(server.url, "search", link) as other:
            return changed, await other.run(), link

    changed, reopened, link = run_in_own_thread(scenario())
    v = vectors["all-MiniLM-L6-v2"].astype(np.float64)
    sims = v @ query / (np.linalg.norm(v, axis=1) * np.linalg.norm(query))
    best = [labels[i] for i in np.argsort(-sims, kind="stable")[:7]]
    table = changed.frames()[0]
    assert table["exhaustive"].tolist() == best
    # Every setting stays in the link, the sidebar's and the tab's too.
    assert link["search_k"] == ["7"] and link["search_view"] == ["3 · Results"]
    assert link["dataset"] == ["words"] and link["search_query"] == ["a loyal dog"]
    assert reopened.frames()[0]["exhaustive"].tolist() == best


def test_metrics_normalise_redraws_the_drawing_for_the_new_vectors(server) -> None:
    async def scenario() -> tuple[Run, Run, dict[str, list[str]]]:
        link = {"met_a": "1, 0", "met_b": "0, 2"}
        async with Session(server.url, "metrics", link) as tab:
            normalised = await tab.run()
            raw = await tab.run("met_norm", bool_value=False)
            _only_the_fragment(raw, tab, "met_norm")
            return normalised, raw, tab.url_query()

    normalised, raw, link = run_in_own_thread(scenario())
    assert normalised.metrics()["euclidean"] == f"{math.sqrt(2):.3g}"
    assert raw.metrics()["euclidean"] == f"{math.sqrt(5):.3g}"
    assert raw.metrics()["dot product"] == "0"
    # The b arrow ends at b: (0, 1) once normalised, (0, 2) as typed.
    for run, tip in ((normalised, 1.0), (raw, 2.0)):
        (figure,) = run.figures()
        arrow_b = next(t for t in figure["data"] if t["name"] == "b")
        np.testing.assert_allclose(array(arrow_b["y"]), [0.0, tip])
    assert link["met_norm"] == ["0"] and link["met_a"] == ["1, 0"]


def test_embed_text_reruns_the_chart_and_numbers_alone(server) -> None:
    async def scenario() -> tuple[Run, dict[str, list[str]]]:
        async with Session(server.url, "embed", {}) as tab:
            await tab.run()
            changed = await tab.run("embed_text", string_value="king")
            _only_the_fragment(changed, tab, "embed_text")
            return changed, tab.url_query()

    changed, link = run_in_own_thread(scenario())
    (figure,) = changed.figures()
    for model in ("static-minilm-256", "all-MiniLM-L6-v2"):
        trace = next(t for t in figure["data"] if t["name"] == model)
        expected = get_embedder(model).embed(["king"])[0]
        np.testing.assert_allclose(array(trace["y"]), expected, atol=1e-6)
    assert link["embed_text"] == ["king"] and link["embed_all"] == ["1"]
