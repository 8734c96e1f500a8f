"""The classroom server over real HTTP: the plain openai client (a student's code), raw
requests for the error cases, MiniLM against the reference vectors, the command line, and a
load test."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx2
import numpy as np
import openai
import pytest
import uvicorn

from bench.bench_serve import (
    ClassroomRun,
    LoadResult,
    RawRate,
    classroom_table,
    raw_pass_rate,
    run_load,
    student_inputs,
)
from core import serve
from core.errors import ExplorerError
from core.serve import (
    BATCH_CHARS,
    BATCH_TEXTS,
    CHUNK_CHARS,
    CHUNK_TEXTS,
    KEY_ENV,
    ServeSettings,
    _chunks,
    create_app,
    serve_in_thread,
)
from tests.event_loop import run_in_own_thread
from tests.fault_server import TEST_KEY, ToyEmbedder, toy_models

REPO = Path(__file__).resolve().parents[1]
REF = REPO.parent / "shared" / "ref"
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
MINILM = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def url():
    """A keyed toy server with small limits: 8 inputs, 64 KiB bodies."""
    settings = ServeSettings(max_inputs=8, max_body_bytes=64 * 1024, api_key=TEST_KEY)
    with serve_in_thread(create_app(toy_models(), settings)) as base:
        yield base


@pytest.fixture(scope="module")
def client(url):
    with openai.OpenAI(base_url=f"{url}/v1", api_key=TEST_KEY, max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def minilm():
    from core.embedders.registry import get_embedder

    return get_embedder(MINILM)


def post(url: str, body: object, headers: dict | None = None) -> httpx2.Response:
    return httpx2.post(
        f"{url}/v1/embeddings", json=body, headers=AUTH if headers is None else headers
    )


def error_of(response: httpx2.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


# ---------------------------------------------------------------- a student's code


def test_single_string_with_sdk_defaults(client):
    # The SDK asks for base64 by default and decodes it: the server must speak it.
    response = client.embeddings.create(model="toy", input="a cat")
    assert response.model == "toy" and response.object == "list"
    assert len(response.data) == 1 and response.data[0].index == 0
    np.testing.assert_array_equal(
        np.asarray(response.data[0].embedding, dtype=np.float32), ToyEmbedder().embed(["a cat"])[0]
    )
    assert (response.usage.prompt_tokens, response.usage.total_tokens) == (2, 2)


def test_batch_as_floats_keeps_order_and_counts_tokens(client):
    texts = ["one", "two words", "three words here"]
    response = client.embeddings.create(model="toy", input=texts, encoding_format="float")
    assert [d.index for d in response.data] == [0, 1, 2]
    got = np.asarray([d.embedding for d in response.data])
    np.testing.assert_allclose(got, ToyEmbedder().embed(texts), atol=1e-7)
    assert response.usage.prompt_tokens == 1 + 2 + 3


def test_base64_is_little_endian_float32(url):
    response = post(url, {"model": "toy", "input": ["x"], "encoding_format": "base64"})
    raw = base64.b64decode(response.json()["data"][0]["embedding"])
    assert len(raw) == 16 * 4
    np.testing.assert_array_equal(np.frombuffer(raw, "<f4"), ToyEmbedder().embed(["x"])[0])


def test_dimensions_truncate_and_renormalize(client):
    response = client.embeddings.create(model="toy", input="a cat", dimensions=5)
    got = np.asarray(response.data[0].embedding)
    full = ToyEmbedder().embed(["a cat"])[0].astype(np.float64)
    np.testing.assert_allclose(got, full[:5] / np.linalg.norm(full[:5]), atol=1e-6)


def test_models_are_listed_and_retrievable(client):
    ids = [m.id for m in client.models.list()]
    assert ids == list(toy_models())
    card = client.models.retrieve("toy")
    assert card.id == "toy" and card.owned_by == "embeddings-explorer"
    assert card.model_extra == {"dimensions": 16, "supports_dimensions": True}
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


def test_azure_route_serves_the_deployment(url):
    with openai.AzureOpenAI(
        azure_endpoint=url, azure_deployment="toy", api_version="2024-10-21", api_key=TEST_KEY
    ) as azure:
        response = azure.embeddings.create(model="ignored", input="hi", encoding_format="float")
    np.testing.assert_allclose(response.data[0].embedding, ToyEmbedder().embed(["hi"])[0], 1e-6)


def test_health_needs_no_key_and_shows_the_queues(url):
    health = httpx2.get(f"{url}/health").json()
    models = toy_models()
    assert health.pop("passes").keys() <= set(models)  # only models asked for so far
    assert health == {"status": "ok", "queued_texts": dict.fromkeys(models, 0), "loaded": [*models]}


def test_health_counts_the_passes_and_their_texts():
    with serve_in_thread(create_app(toy_models(), ServeSettings(workers=1))) as base:
        assert httpx2.get(f"{base}/health").json()["passes"] == {}
        post(base, {"model": "toy", "input": ["a", "b", "c"]}, {})
        # BATCH_TEXTS + 1 texts: a full pass of chunks, then one more for the last text.
        post(base, {"model": "toy", "input": ["t"] * (BATCH_TEXTS + 1)}, {})
        passes = httpx2.get(f"{base}/health").json()["passes"]
    assert passes == {"toy": {"passes": 3, "texts": 3 + BATCH_TEXTS + 1}}


# ---------------------------------------------------------------- bad requests


@pytest.mark.parametrize(
    ("body", "status", "param", "match"),
    [
        ({"model": "toy", "input": []}, 400, "input", "empty list"),
        ({"model": "toy", "input": ""}, 400, "input", "'input' is empty"),
        ({"model": "toy", "input": ["ok", "  "]}, 400, "input", r"'input\[1\]' is empty"),
        ({"model": "toy", "input": ["t"] * 9}, 400, "input", "9 texts; send at most 8"),
        ({"model": "toy", "input": [[1, 2, 3]]}, 400, "input", "not token ids"),
        ({"model": "toy", "input": 3}, 400, "input", "Invalid value for 'input'"),
        ({"model": "toy"}, 400, "input", "Field required"),
        ({"input": "x"}, 400, "model", "Missing 'model'"),
        ({"model": "nope", "input": "x"}, 404, "model", "'nope' does not exist"),
        ({"model": "flat", "input": "x", "dimensions": 4}, 400, "dimensions", "not ordered"),
        ({"model": "toy", "input": "x", "dimensions": 0}, 400, "dimensions", "1 to 16"),
        ({"model": "toy", "input": "x", "dimensions": 17}, 400, "dimensions", "got 17"),
        ({"model": "toy", "input": "x", "encoding_format": "hex"}, 400, "encoding_format", ""),
    ],
)
def test_bad_requests_get_openai_style_errors(url, body, status, param, match):
    response = post(url, body)
    assert response.status_code == status
    error = error_of(response)
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert re.search(match, error["message"])
    if status == 404:
        assert error["code"] == "model_not_found"


def test_invalid_json(url):
    response = httpx2.post(
        f"{url}/v1/embeddings",
        content=b"{not json",
        headers={**AUTH, "content-type": "application/json"},
    )
    assert response.status_code == 400 and "not valid JSON" in error_of(response)["message"]


def test_oversized_body_declared_and_streamed(url):
    big = {"model": "toy", "input": ["word " * 20_000]}
    response = post(url, big)
    assert response.status_code == 413 and error_of(response)["code"] == "request_too_large"

    def chunks():  # no Content-Length: the limit must hold while streaming
        for _ in range(20):
            yield b"x" * 8192

    streamed = httpx2.post(f"{url}/v1/embeddings", content=chunks(), headers=AUTH)
    assert streamed.status_code == 413 and error_of(streamed)["code"] == "request_too_large"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk-wrong"},
        {"api-key": "sk-wrong"},
        {"Authorization": TEST_KEY},
    ],
)
def test_missing_or_wrong_key_is_401(url, headers):
    response = post(url, {"model": "toy", "input": "x"}, headers)
    assert response.status_code == 401 and error_of(response)["code"] == "invalid_api_key"
    assert TEST_KEY not in response.text


def test_azure_style_api_key_header_is_accepted(url):
    assert post(url, {"model": "toy", "input": "x"}, {"api-key": TEST_KEY}).status_code == 200


def test_unknown_routes_and_methods_answer_in_openai_style(url):
    assert error_of(httpx2.get(f"{url}/v1/nothing", headers=AUTH))["message"] == "Not Found"
    response = httpx2.get(f"{url}/v1/embeddings", headers=AUTH)
    assert response.status_code == 405 and error_of(response)


class SlowRecorder(ToyEmbedder):
    """A toy model that takes 0.5 s per call, records each call's texts, and fails on
    "boom"."""

    def __init__(self):
        super().__init__("slow")
        self.calls: list[list[str]] = []

    def _embed(self, texts):
        self.calls.append(texts)
        if "boom" in texts:
            raise ExplorerError("boom is not embeddable")
        time.sleep(0.5)
        return super()._embed(texts)


def test_concurrent_requests_are_merged_and_a_bad_one_fails_alone():
    model = SlowRecorder()
    later = [f"text {i}" for i in range(1, 6)] + ["boom"]
    app = create_app({"slow": model}, ServeSettings(workers=1))
    with serve_in_thread(app) as base, httpx2.Client(timeout=30) as http:

        def ask(text):
            return http.post(f"{base}/v1/embeddings", json={"model": "slow", "input": text})

        with ThreadPoolExecutor(len(later) + 1) as pool:
            first = pool.submit(ask, "text 0")
            time.sleep(0.2)  # the model is now busy with "text 0"
            rest = [pool.submit(ask, text) for text in later]
            responses = [f.result() for f in [first, *rest]]
    texts = ["text 0", *later]
    assert [r.status_code for r in responses] == [200] * 6 + [400]
    assert "boom is not embeddable" in error_of(responses[-1])["message"]
    for text, response in zip(texts, responses[:6], strict=False):
        got = response.json()["data"][0]["embedding"]
        np.testing.assert_allclose(got, ToyEmbedder("slow").embed([text])[0], atol=1e-6)
    # The six that waited shared one call; it failed on "boom", so each then ran alone.
    assert model.calls[0] == ["text 0"]
    assert sorted(model.calls[1]) == sorted(later)
    assert sorted(c[0] for c in model.calls[2:]) == sorted(later)


def test_an_app_without_models_is_refused():
    with pytest.raises(ExplorerError, match="No models to serve"):
        create_app({})


# ---------------------------------------------------------------- a real model


def test_minilm_through_the_server_matches_the_reference(minilm):
    path = REF / "minilm_reference.json"
    if not path.exists():
        pytest.skip("reference data ../shared/ref is absent")
    reference = json.loads(path.read_text())["vectors"]
    texts = list(reference)
    with serve_in_thread(create_app({MINILM: minilm})) as base:
        with openai.OpenAI(base_url=f"{base}/v1", api_key="-", max_retries=0) as c:
            response = c.embeddings.create(model=MINILM, input=texts)
            refused = post(base, {"model": MINILM, "input": "x", "dimensions": 64}, {})
    got = np.asarray([d.embedding for d in response.data])
    want = np.asarray([reference[t] for t in texts])
    cosines = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cosines.min() >= 0.9999
    assert response.usage.prompt_tokens == sum(minilm.count_tokens(t) for t in texts)
    # MiniLM's dimensions are not ordered, so the server refuses to shorten them.
    assert refused.status_code == 400 and error_of(refused)["param"] == "dimensions"


def test_minilm_merged_passes_give_each_request_its_own_vectors(minilm):
    # 12 clients at once, over the SDK's default base64, on two workers with a wait window:
    # passes merge requests of 2 to 40 words, padded to their longest text, and one request
    # of BATCH_TEXTS + 9 texts is cut into chunks spread over passes. Each must get what the
    # model gives its texts alone, and its own token count.
    rng = np.random.default_rng(1)
    words = "vector cosine token model space query index recall norm".split()

    def text(i: int) -> str:
        return f"{i} " + " ".join(rng.choice(words, 1 + i % 40).tolist())

    requests = [[text(10 * c + j) for j in range(1 + c % 3)] for c in range(12)]
    requests.append([text(500 + i) for i in range(BATCH_TEXTS + 9)])
    settings = ServeSettings(workers=2, batch_wait=0.05)
    with serve_in_thread(create_app({MINILM: minilm}, settings)) as base:

        def ask(texts: list[str]):
            with openai.OpenAI(base_url=f"{base}/v1", api_key="-", max_retries=0) as c:
                return c.embeddings.create(model=MINILM, input=texts)

        with ThreadPoolExecutor(len(requests)) as pool:
            responses = list(pool.map(ask, requests))
    for texts, response in zip(requests, responses, strict=True):
        assert [d.index for d in response.data] == list(range(len(texts)))
        got = np.asarray([d.embedding for d in response.data], dtype=np.float32)
        np.testing.assert_allclose(got, minilm.embed(texts), atol=1e-6)
        assert response.usage.prompt_tokens == sum(minilm.count_tokens(t) for t in texts)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_command_line_server(minilm, tmp_path):
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    env = {**os.environ, KEY_ENV: TEST_KEY}
    command = [sys.executable, "-m", "core.serve", "--port", str(port), "--model", MINILM]
    proc = subprocess.Popen(
        [*command, "--require-key"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        with openai.OpenAI(base_url=f"{base}/v1", api_key=TEST_KEY, max_retries=0) as c:
            response = c.embeddings.create(model=MINILM, input=["hello world"])
        got = np.asarray(response.data[0].embedding)
        np.testing.assert_allclose(got, minilm.embed(["hello world"])[0], atol=1e-5)
        assert post(base, {"model": MINILM, "input": "x"}, {}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    assert TEST_KEY not in (tmp_path / "serve.log").read_text()


def test_require_key_without_the_variable_is_a_usage_error():
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "core.serve", "--require-key"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2 and KEY_ENV in done.stderr


@pytest.mark.slow
def test_load_20_clients_x_50_requests_none_fail(minilm):
    with serve_in_thread(create_app({MINILM: minilm})) as base:
        result = run_load(base, MINILM, clients=20, requests=50)
    assert result.failures == 0 and len(result.latencies) == 1000
    assert result.requests_per_second > 0 and result.percentile_ms(95) < 10_000


# ---------------------------------------------------------------- hardening


@pytest.mark.parametrize(
    ("raw", "param", "where"),
    [
        (rb'{"model": "toy", "input": "\ud800x"}', "input", r"'input' .*\\ud800 at character 0"),
        (rb'{"model": "toy", "input": ["ok", "a\udc00"]}', "input", r"'input\[1\]' .*\\udc00"),
        (rb'{"model": "t\ud800", "input": "x"}', "model", r"'model' .*\\ud800 at character 1"),
        (rb'{"model": "toy", "input": "x", "encoding_format": "\ud800"}', "encoding_format", ""),
    ],
)
def test_unpaired_surrogates_are_a_400_not_a_crash(url, raw, param, where):
    headers = {**AUTH, "content-type": "application/json"}
    response = httpx2.post(f"{url}/v1/embeddings", content=raw, headers=headers)
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == param and "unpaired surrogate" in error["message"]
    assert re.search(where, error["message"])


def test_a_surrogate_pair_is_valid_text(url):
    raw = rb'{"model": "toy", "input": "a \ud83d\ude00", "encoding_format": "float"}'
    headers = {**AUTH, "content-type": "application/json"}
    response = httpx2.post(f"{url}/v1/embeddings", content=raw, headers=headers)
    assert response.status_code == 200
    got = response.json()["data"][0]["embedding"]
    np.testing.assert_allclose(got, ToyEmbedder().embed(["a \U0001f600"])[0], atol=1e-6)


class GatedRecorder(ToyEmbedder):
    """A toy model that records each call's texts and holds every call until ``release`` is
    set, so a test decides when the model is busy."""

    def __init__(self):
        super().__init__("gated")
        self.calls: list[list[str]] = []
        self.busy = threading.Event()
        self.release = threading.Event()

    def _embed(self, texts):
        self.calls.append(list(texts))
        self.busy.set()
        self.release.wait(60)
        return super()._embed(texts)


def wait_for(check, what: str) -> None:
    """Poll ``check`` until it holds (the deadline only stops a broken test from hanging)."""
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, f"never saw: {what}"
        time.sleep(0.02)


def queued(base: str) -> int:
    return httpx2.get(f"{base}/health").json()["queued_texts"]["gated"]


@contextmanager
def gated_server(settings: ServeSettings | None = None):
    """A server of one gated model, by default on one worker (one pass at a time)."""
    settings = settings or ServeSettings(workers=1)
    model = GatedRecorder()
    try:
        with serve_in_thread(create_app({"gated": model}, settings), settings=settings) as base:
            yield model, base
    finally:
        model.release.set()


def send_raw(base: str, body: dict) -> socket.socket:
    """A connection that has sent one embeddings request and not read the answer."""
    data = json.dumps(body).encode()
    head = "POST /v1/embeddings HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    sock = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])))
    sock.sendall(f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def test_a_hung_up_clients_queued_chunks_are_never_computed():
    texts = [f"text {i}" for i in range(512)]
    with gated_server() as (model, base):
        sock = send_raw(base, {"model": "gated", "input": texts})
        model.busy.wait(30)  # the first batch is in the model; the rest waits
        assert model.calls == [texts[:BATCH_TEXTS]]
        wait_for(lambda: queued(base) == 512 - BATCH_TEXTS, "the rest of the request queued")
        sock.close()  # the student's notebook is interrupted
        wait_for(lambda: queued(base) == 0, "the abandoned chunks dropped")
        model.release.set()
        after = post(base, {"model": "gated", "input": "still there?"}, {})
    assert after.status_code == 200
    # Only the batch already running was computed, then the next request: not 512 texts.
    assert model.calls == [texts[:BATCH_TEXTS], ["still there?"]]


def test_a_client_that_hangs_up_during_its_pass_leaves_the_server_serving(caplog):
    with gated_server() as (model, base):
        sock = send_raw(base, {"model": "gated", "input": "going"})
        model.busy.wait(30)  # its only chunk is in the model
        sock.close()
        time.sleep(0.2)  # the server sees the hang-up before the pass ends
        model.release.set()
        after = post(base, {"model": "gated", "input": "staying"}, {})
    assert after.status_code == 200
    assert model.calls == [["going"], ["staying"]]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_closing_a_batcher_cancels_what_waits_and_finishes_what_runs():
    async def scenario() -> None:
        model = GatedRecorder()
        batcher = serve._Batcher("gated", model, 100, workers=1)
        running = batcher.submit(["first"])
        await asyncio.to_thread(model.busy.wait, 30)
        waiting = batcher.submit(["second", "third"])
        closing = asyncio.create_task(asyncio.to_thread(batcher.close))
        await asyncio.sleep(0.1)
        model.release.set()
        await closing
        await asyncio.wait_for(running.done, 30)
        await asyncio.sleep(0)  # the cancel was scheduled on this loop
        assert waiting.done.cancelled() and batcher.queued == 0
        np.testing.assert_array_equal(running.vectors, ToyEmbedder("gated").embed(["first"]))
        assert model.calls == [["first"]]

    run_in_own_thread(scenario())


def test_a_small_request_overtakes_a_big_one_and_chunks_come_back_in_order():
    texts = [f"text {i}" for i in range(3 * BATCH_TEXTS)]
    with gated_server() as (model, base), ThreadPoolExecutor(2) as pool:
        big = pool.submit(post, base, {"model": "gated", "input": texts}, {})
        model.busy.wait(30)
        small = pool.submit(post, base, {"model": "gated", "input": "quick"}, {})
        wait_for(lambda: queued(base) == 2 * BATCH_TEXTS + 1, "both requests queued")
        model.release.set()
        big_response, small_response = big.result(), small.result()
    assert small_response.status_code == 200 and big_response.status_code == 200
    # The next pass after the running one carries the small request, not only big chunks.
    assert "quick" in model.calls[1]
    assert sum(len(c) for c in model.calls) == len(texts) + 1  # nothing computed twice
    got = np.asarray([d["embedding"] for d in big_response.json()["data"]])
    np.testing.assert_allclose(got, ToyEmbedder("gated").embed(texts), atol=1e-6)


@pytest.mark.parametrize(
    "lengths",
    [[5] * 40, [1000] * 7, [5000, 3, 3, 5000], [CHUNK_CHARS] * 3, [1] * CHUNK_TEXTS],
)
def test_chunks_keep_order_and_bound_texts_and_characters(lengths):
    texts = ["x" * n for n in lengths]
    chunks = _chunks(texts)
    assert [t for chunk in chunks for t in chunk] == texts
    for chunk in chunks:
        assert 1 <= len(chunk) <= CHUNK_TEXTS
        assert len(chunk) == 1 or sum(map(len, chunk)) <= CHUNK_CHARS


def test_a_pass_over_long_texts_is_bounded_by_characters():
    texts = [f"{i:04d} " + "y" * 1495 for i in range(24)]  # 1500 characters each
    with gated_server() as (model, base):
        model.release.set()
        response = post(base, {"model": "gated", "input": texts}, {})
    assert response.status_code == 200
    per_pass = -(-BATCH_CHARS // 1500)  # the pass stops once it holds BATCH_CHARS
    assert [len(c) for c in model.calls] == [per_pass] * (24 // per_pass)
    got = np.asarray([d["embedding"] for d in response.json()["data"]])
    np.testing.assert_allclose(got, ToyEmbedder("gated").embed(texts), atol=1e-6)


def test_a_full_queue_is_refused_with_503_until_it_drains():
    settings = ServeSettings(max_inputs=8, max_queued_texts=16, workers=1)
    with gated_server(settings) as (model, base), ThreadPoolExecutor(3) as pool:
        eight = {"model": "gated", "input": ["t"] * 8}
        running = pool.submit(post, base, eight, {})
        model.busy.wait(30)
        waiting = [pool.submit(post, base, eight, {}) for _ in range(2)]
        wait_for(lambda: queued(base) == 16, "16 texts queued")
        refused = post(base, {"model": "gated", "input": "one more"}, {})
        model.release.set()
        answered = [f.result().status_code for f in [running, *waiting]]
        later = post(base, {"model": "gated", "input": "one more"}, {})
    assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
    error = error_of(refused)
    assert error["code"] == "queue_full" and error["type"] == "server_error"
    assert "16 texts are waiting and at most 16 may" in error["message"]
    assert answered == [200, 200, 200] and later.status_code == 200


def test_queue_bound_below_request_limit_is_refused():
    with pytest.raises(ExplorerError, match="max_queued_texts"):
        ServeSettings(max_inputs=64, max_queued_texts=8)


def read_until_closed(sock: socket.socket) -> bytes:
    sock.settimeout(30)  # a guard: the server closes long before
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /v1/embeddings HTTP/1.1\r\nHost: test\r\n"],
    ids=["silent", "half-a-head"],
)
def test_silent_and_unfinished_connections_are_closed(sent):
    settings = ServeSettings(idle_timeout=1)
    with serve_in_thread(create_app(toy_models(), settings), settings=settings) as base:
        sock = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])))
        sock.sendall(sent)
        assert read_until_closed(sock) == b""
        sock.close()


def test_idle_keep_alive_connection_is_closed_after_its_answer():
    settings = ServeSettings(idle_timeout=1)
    with serve_in_thread(create_app(toy_models(), settings), settings=settings) as base:
        sock = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])))
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        received = read_until_closed(sock)
        sock.close()
    assert received.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in received


def test_a_body_that_never_finishes_gets_408_and_the_connection_closes():
    settings = ServeSettings(body_timeout=0.5)
    with serve_in_thread(create_app(toy_models(), settings), settings=settings) as base:
        sock = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])))
        sock.sendall(
            b"POST /v1/embeddings HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"model": "toy", "inp'
        )
        received = read_until_closed(sock)
        sock.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408") and b"connection: close" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "request_timeout" and "within 0.5 s" in error["message"]


class FakeServer(uvicorn.Server):
    """uvicorn.Server that, run as main() runs it (no sockets given), records its config
    instead of binding the address; serve_in_thread (given a socket) still serves."""

    configs: list = []

    def run(self, sockets=None):
        if sockets is not None:
            return super().run(sockets=sockets)
        FakeServer.configs.append(self.config)


@pytest.fixture
def fake_serve(monkeypatch):
    FakeServer.configs = []
    monkeypatch.setattr(serve.uvicorn, "Server", FakeServer)
    monkeypatch.setattr(serve, "load_local_models", lambda names: toy_models())
    lazy = {name: (lambda m=model: m) for name, model in toy_models().items()}
    monkeypatch.setattr(serve, "lazy_local_models", lambda: lazy)
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    return FakeServer.configs


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "teacher.local"])
def test_a_reachable_address_without_a_key_is_refused(fake_serve, capsys, host):
    with pytest.raises(SystemExit) as exited:
        serve.main(["--host", host])
    assert exited.value.code == 2 and not fake_serve
    err = capsys.readouterr().err
    assert f"--host {host} lets other machines in" in err and "--no-key" in err


@pytest.mark.parametrize(
    ("args", "keyed"),
    [
        (["--host", "0.0.0.0", "--no-key"], False),
        (["--host", "0.0.0.0", "--require-key"], True),
        (["--host", "localhost"], False),
        (["--host", "::1"], False),
        ([], False),
    ],
)
def test_a_key_or_an_explicit_no_key_lets_it_serve(fake_serve, args, keyed):
    serve.main(args)
    (config,) = fake_serve
    assert config.host == (args[1] if args else "127.0.0.1")
    assert config.timeout_keep_alive == ServeSettings.idle_timeout
    with serve_in_thread(config.app) as base:
        status = post(base, {"model": "toy", "input": "x"}, {}).status_code
    assert status == (401 if keyed else 200)


def test_require_key_and_no_key_contradict(fake_serve, capsys):
    with pytest.raises(SystemExit):
        serve.main(["--host", "0.0.0.0", "--require-key", "--no-key"])
    assert "not allowed with argument" in capsys.readouterr().err and not fake_serve


# ---------------------------------------------------------------- parallel passes, lazy models


class BoomToy(ToyEmbedder):
    """The toy model, failing any call that holds the text "boom"."""

    def _embed(self, texts):
        if "boom" in texts:
            raise ExplorerError("boom is not embeddable")
        return super()._embed(texts)


def test_many_clients_each_get_their_own_vectors_in_order_and_a_bad_one_fails_alone():
    # 24 clients x 8 requests of 1-3 distinct texts on two workers with a wait window, so
    # passes merge requests of different clients; every 5th request of client 3 has "boom".
    settings = ServeSettings(workers=2, batch_wait=0.01)
    model = BoomToy("boom")
    with serve_in_thread(create_app({"boom": model}, settings)) as base:

        def student(c: int) -> list[tuple[list[str], httpx2.Response]]:
            sent = []
            with httpx2.Client(timeout=60) as http:
                for i in range(8):
                    texts = [f"client {c} request {i} text {j}" for j in range(1 + (c + i) % 3)]
                    if c == 3 and i % 5 == 0:
                        texts.append("boom")
                    body = {"model": "boom", "input": texts, "encoding_format": "float"}
                    sent.append((texts, http.post(f"{base}/v1/embeddings", json=body)))
            return sent

        with ThreadPoolExecutor(24) as pool:
            results = [r for rs in pool.map(student, range(24)) for r in rs]
    failed = [texts for texts, r in results if r.status_code != 200]
    assert failed == [t for t, _ in results if "boom" in t] and len(failed) == 2
    for texts, response in results:
        if "boom" in texts:
            assert response.status_code == 400
            assert "boom is not embeddable" in error_of(response)["message"]
            continue
        data = response.json()["data"]
        assert [d["index"] for d in data] == list(range(len(texts)))
        got = np.asarray([d["embedding"] for d in data])
        np.testing.assert_allclose(got, ToyEmbedder("boom").embed(texts), atol=1e-6)


class CountBoom(ToyEmbedder):
    """A toy model that cannot count the tokens of a text holding "uncountable"."""

    def count_tokens(self, text: str) -> int:
        if "uncountable" in text:
            raise ExplorerError("uncountable text cannot be counted")
        return super().count_tokens(text)


def test_a_failure_after_the_forward_pass_fails_that_request_alone():
    # Token counts are taken on the worker after the pass: a failure there must answer the
    # request (not leave it waiting) and spare the others merged into the same pass.
    model = CountBoom("count")
    with serve_in_thread(create_app({"count": model}, ServeSettings(workers=1))) as base:
        with ThreadPoolExecutor(4) as pool:
            bodies = [{"model": "count", "input": t} for t in ["a", "b c", "uncountable", "d"]]
            responses = list(pool.map(lambda body: post(base, body, {}), bodies))
        after = post(base, {"model": "count", "input": ["e f g"]}, {})
    assert [r.status_code for r in responses] == [200, 200, 400, 200]
    assert "uncountable text cannot be counted" in error_of(responses[2])["message"]
    assert [r.json()["usage"]["prompt_tokens"] for r in (responses[1], after)] == [2, 3]


def test_two_workers_run_two_passes_at_once():
    with gated_server(ServeSettings(workers=2)) as (model, base), ThreadPoolExecutor(2) as pool:
        first = pool.submit(post, base, {"model": "gated", "input": "one"}, {})
        model.busy.wait(30)
        second = pool.submit(post, base, {"model": "gated", "input": "two"}, {})
        # The first pass is still held, yet the second request is in the model too.
        wait_for(lambda: len(model.calls) == 2, "a second pass while the first runs")
        model.release.set()
        responses = [first.result(), second.result()]
    assert model.calls == [["one"], ["two"]]
    for text, response in zip(["one", "two"], responses, strict=True):
        got = response.json()["data"][0]["embedding"]
        np.testing.assert_allclose(got, ToyEmbedder("gated").embed([text])[0], atol=1e-6)


def test_a_free_worker_waits_for_more_requests_while_a_pass_runs():
    settings = ServeSettings(workers=2, batch_wait=1.0)
    with gated_server(settings) as (model, base), ThreadPoolExecutor(4) as pool:
        first = pool.submit(post, base, {"model": "gated", "input": "first"}, {})
        model.busy.wait(30)  # a pass runs: the other worker now gathers a batch
        later = []
        for text in ["a", "b", "c"]:
            later.append(pool.submit(post, base, {"model": "gated", "input": text}, {}))
            time.sleep(0.05)
        wait_for(lambda: len(model.calls) == 2, "the gathered pass")
        model.release.set()
        codes = [f.result().status_code for f in [first, *later]]
    # Idle workers started "first" at once; the three that came within the window shared one.
    assert codes == [200] * 4
    assert model.calls[0] == ["first"] and sorted(model.calls[1]) == ["a", "b", "c"]


@pytest.mark.parametrize(("field", "value"), [("workers", 0), ("batch_wait", -0.1)])
def test_bad_worker_settings_are_refused(field, value):
    with pytest.raises(ExplorerError, match=f"{field} must be"):
        ServeSettings(**{field: value})


class CountingLoader:
    """A model factory that counts its calls, fails the first ``failures`` of them, and takes
    0.2 s (so concurrent first requests overlap the load)."""

    def __init__(self, failures: int = 0):
        self.calls = 0
        self.failures = failures

    def __call__(self) -> ToyEmbedder:
        self.calls += 1
        time.sleep(0.2)
        if self.calls <= self.failures:
            raise OSError("weights not installed")
        return ToyEmbedder("lazy")


def test_a_model_loads_once_on_the_first_request_that_names_it():
    loader = CountingLoader()
    app = create_app({"lazy": loader, "toy": ToyEmbedder("toy")})
    with serve_in_thread(app) as base:
        before = httpx2.get(f"{base}/health").json()
        card = httpx2.get(f"{base}/v1/models/lazy").json()
        assert loader.calls == 0  # listing and health never load
        with ThreadPoolExecutor(8) as pool:
            texts = [f"text {i}" for i in range(8)]
            responses = list(
                pool.map(lambda t: post(base, {"model": "lazy", "input": t}, {}), texts)
            )
        after = httpx2.get(f"{base}/health").json()
        loaded_card = httpx2.get(f"{base}/v1/models/lazy").json()
    assert before["loaded"] == ["toy"] and after["loaded"] == ["lazy", "toy"]
    assert card["dimensions"] is None and card["supports_dimensions"] is None
    assert loaded_card["dimensions"] == 16 and loaded_card["supports_dimensions"] is True
    assert loader.calls == 1
    for text, response in zip(texts, responses, strict=True):
        got = response.json()["data"][0]["embedding"]
        np.testing.assert_allclose(got, ToyEmbedder("lazy").embed([text])[0], atol=1e-6)


def test_a_model_that_fails_to_load_is_a_503_and_is_tried_again():
    loader = CountingLoader(failures=1)
    with serve_in_thread(create_app({"lazy": loader})) as base:
        failed = post(base, {"model": "lazy", "input": "x"}, {})
        again = post(base, {"model": "lazy", "input": "x"}, {})
        bad_input = post(base, {"model": "lazy", "input": ""}, {})
    assert failed.status_code == 503
    error = error_of(failed)
    assert error["code"] == "model_unavailable" and error["param"] == "model"
    assert "'lazy' could not be loaded" in error["message"]
    assert "weights not installed" in error["message"]
    assert again.status_code == 200 and loader.calls == 2
    assert bad_input.status_code == 400  # checked before any load


def test_main_without_model_loads_nothing_at_start(fake_serve, monkeypatch):
    loader = CountingLoader()
    monkeypatch.setattr(serve, "lazy_local_models", lambda: {"lazy": loader})
    serve.main([])
    (config,) = fake_serve
    assert loader.calls == 0 and config.access_log is False
    with serve_in_thread(config.app) as base:
        assert post(base, {"model": "lazy", "input": "x"}, {}).status_code == 200
    assert loader.calls == 1


def test_lazy_local_models_name_every_local_model_without_loading_one():
    from core.embedders.registry import LOCAL_FACTORIES, _loaded

    before = dict(_loaded)
    lazy = serve.lazy_local_models()
    assert list(lazy) == list(LOCAL_FACTORIES) and all(callable(f) for f in lazy.values())
    assert _loaded == before


@pytest.mark.parametrize(("workers", "limited"), [("2", True), ("1", False)])
def test_main_holds_blas_on_one_thread_while_parallel_passes_serve(
    fake_serve, monkeypatch, workers, limited
):
    held = []

    @contextmanager
    def one_thread():
        held.append("in")
        yield
        held.append("out")

    monkeypatch.setattr(serve.blas, "one_thread", one_thread)
    serve.main(["--workers", workers])
    assert held == (["in", "out"] if limited else []) and len(fake_serve) == 1


def test_main_with_model_loads_those_at_start(fake_serve, monkeypatch):
    loader = CountingLoader()
    monkeypatch.setattr(serve, "lazy_local_models", lambda: {"lazy": loader})
    serve.main(["--model", "toy"])
    (config,) = fake_serve
    with serve_in_thread(config.app) as base:
        health = httpx2.get(f"{base}/health").json()
    assert loader.calls == 0 and "toy" in health["loaded"] and "lazy" not in health["queued_texts"]


def test_main_with_no_loadable_model_is_a_usage_error(fake_serve, monkeypatch, capsys):
    monkeypatch.setattr(serve, "load_local_models", lambda names: {})
    with pytest.raises(SystemExit) as exited:
        serve.main(["--model", "all-MiniLM-L6-v2"])
    assert exited.value.code == 2 and not fake_serve
    assert "no local model could be loaded" in capsys.readouterr().err


# ---------------------------------------------------------------- the classroom benchmark


def test_classroom_sentences_are_distinct():
    # No two requests may share a sentence: a server could then answer from a cache.
    texts = [t for client in student_inputs(50, 20, 3) for r in client for t in r]
    assert len(set(texts)) == len(texts)
    assert 50 * 20 < len(texts) < 50 * 20 * 3


def test_raw_pass_rate_embeds_every_text_in_passes_of_the_given_size():
    calls: list[list[str]] = []

    class Recorder(ToyEmbedder):
        def _embed(self, texts):
            calls.append(list(texts))
            return super()._embed(texts)

    texts = [f"sentence {i}" for i in range(50)]
    rate = raw_pass_rate(Recorder(), texts, workers=2, size=8)
    assert calls[0] == texts[:8]  # the warm-up pass
    measured = calls[1:]
    assert sorted(t for c in measured for t in c) == sorted(texts)
    assert sorted(map(len, measured)) == [2] + [8] * 6
    assert rate.per_second > 0 and rate.cpu_ms >= 0


def test_classroom_ratios_and_table_by_hand():
    # 10 requests, 20 sentences in 2 s: 10 sentences/s against 20 raw is 50 %. The clients
    # used 10 x 2 ms = 20 ms, the server 20 x 4 ms = 80 ms: the clients' share is 20 %, and
    # on the 80 % they leave the server reaches 50 / 80 = 62.5 % of raw. Raw CPU 2 ms a
    # sentence against the server's 4 ms: 50 %.
    load = LoadResult(2, 10, 0, 2.0, (0.1,) * 9 + (0.3,), 20)
    run = ClassroomRun(RawRate(20.0, 2.0), RawRate(16.0, 2.5), load, 4.0, 0.5, 2.0, 24)
    assert run.share == pytest.approx(0.5)
    assert run.client_share == pytest.approx(0.2)
    assert run.share_left == pytest.approx(0.625)
    assert run.cpu_share == pytest.approx(0.5)
    lines = classroom_table([run, run]).splitlines()
    assert len(lines) == 5 and lines[0].count("|") == lines[-1].count("|") == 19
    assert lines[-1].startswith("| median | 20 | 24 | 16 | 10 | 50 % | 20 % | 62 % | 5 | 100 | ")
    assert lines[-1].endswith(" | 2.00 | 2.50 | 4.00 | 0.50 | 50 % | 2.00 | 0 |")
