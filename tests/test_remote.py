"""Remote embedders over real HTTP: the real openai client against the classroom server
(``core.serve``) on loopback, with ``tests.fault_server.FaultInjector`` for faults."""

from __future__ import annotations

import json
import logging
import math
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.embedcache import CacheSpace, EmbeddingCache
from core.embedders import providers, remote
from core.embedders.providers import (
    ANY_HOST,
    DEFAULT_AZURE_API_VERSION,
    PUBLIC_ONLY,
    Provider,
    RemoteConfig,
    check_endpoint,
    configs_from_env,
    endpoint_policy,
    load_env,
    public_url,
)
from core.embedders.remote import (
    RemoteEmbedder,
    TokenCounter,
    configured_remote_embedders,
    plan_batches,
    retry_after_seconds,
)
from core.errors import ExplorerError
from core.serve import ServeSettings, create_app, serve_in_thread
from tests.fault_server import (
    TEST_KEY,
    Fault,
    FaultInjector,
    ToyEmbedder,
    banner_server,
    toy_models,
)

REF = Path(__file__).resolve().parents[1].parent / "shared" / "ref"
SENTENCES = ["a cat sat on the mat", "dogs bark", "the stock market fell", "El Rey León", "🙂 ok"]


@pytest.fixture(scope="module")
def keyed():
    """A server that requires TEST_KEY, wrapped in a fault injector: (injector, base URL)."""
    injector = FaultInjector(create_app(toy_models(), ServeSettings(api_key=TEST_KEY)))
    with serve_in_thread(injector) as url:
        yield injector, url


@pytest.fixture(scope="module")
def open_server():
    """A server without a key (Ollama-like): (injector, base URL)."""
    injector = FaultInjector(create_app(toy_models()))
    with serve_in_thread(injector) as url:
        yield injector, url


@pytest.fixture
def server(keyed):
    injector, url = keyed
    injector.reset()
    yield injector, url
    injector.reset()


@pytest.fixture
def cache(tmp_path):
    return EmbeddingCache(tmp_path / "remote")


def expected(name: str, texts, dims: int | None = None) -> np.ndarray:
    """What the served toy model returns, truncated and re-normalised by hand."""
    vectors = toy_models()[name].embed(texts).astype(np.float64)
    if dims:
        vectors = vectors[:, :dims] / np.linalg.norm(vectors[:, :dims], axis=1, keepdims=True)
    return vectors


def compatible(url: str, model: str = "toy", **kwargs) -> RemoteConfig:
    return RemoteConfig(Provider.COMPATIBLE, model, TEST_KEY, f"{url}/v1", **kwargs)


def openai_config(url: str, model: str = "text-embedding-3-small", **kwargs) -> RemoteConfig:
    return RemoteConfig(Provider.OPENAI, model, TEST_KEY, f"{url}/v1", **kwargs)


# ---------------------------------------------------------------- every provider path


def test_single_and_batch_input_through_compatible_provider(server, cache):
    injector, url = server
    embedder = RemoteEmbedder(compatible(url), cache)
    one = embedder.embed("a cat sat on the mat")
    batch = embedder.embed(SENTENCES)
    assert one.shape == (1, 16) and batch.shape == (5, 16)
    assert one.dtype == batch.dtype == np.float32
    np.testing.assert_allclose(batch, expected("toy", SENTENCES), atol=1e-6)
    # The single text was cached, so the batch sent only the four new ones.
    assert injector.embedding_requests == 2
    assert embedder.name == "compatible:toy" and not embedder.local


def test_openai_provider_uses_base64_and_catalogue(server, cache):
    _, url = server
    embedder = RemoteEmbedder(openai_config(url), cache)
    assert (embedder.dims, embedder.supports_mrl, embedder.normalized) == (1536, True, True)
    vectors = embedder.embed(SENTENCES)
    # base64 carries float32 exactly.
    np.testing.assert_array_equal(vectors, toy_models()["text-embedding-3-small"].embed(SENTENCES))


def test_dimensions_come_back_truncated_and_renormalized(server, cache):
    _, url = server
    embedder = RemoteEmbedder(openai_config(url, dimensions=256), cache)
    assert embedder.name == "openai:text-embedding-3-small@256"
    vectors = embedder.embed(SENTENCES)
    assert vectors.shape == (5, 256)
    np.testing.assert_allclose(
        vectors, expected("text-embedding-3-small", SENTENCES, 256), atol=1e-6
    )
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    full = RemoteEmbedder(openai_config(url), cache)
    assert full.with_dimensions(256).name == embedder.name


def test_azure_path_with_key(server, cache):
    injector, url = server
    config = RemoteConfig(
        Provider.AZURE, "text-embedding-3-small", TEST_KEY, url, deployment="emb-small"
    )
    assert config.api_version == DEFAULT_AZURE_API_VERSION
    embedder = RemoteEmbedder(config, cache)
    assert embedder.dims == 1536 and embedder.supports_mrl  # from the model, not the name
    vectors = embedder.embed(SENTENCES[:2])
    np.testing.assert_allclose(vectors, expected("emb-small", SENTENCES[:2]), atol=1e-6)
    assert injector.requests["/openai/deployments/emb-small/embeddings"] == 1
    assert embedder.name == "azure:emb-small"


def test_azure_keyless_uses_an_entra_token_provider(server, cache, monkeypatch):
    injector, url = server
    monkeypatch.setattr(remote, "_entra_token_provider", lambda: lambda: TEST_KEY)
    config = RemoteConfig(Provider.AZURE, "toy", None, url)
    vectors = RemoteEmbedder(config, cache).embed(["hello"])
    np.testing.assert_allclose(vectors, expected("toy", ["hello"]), atol=1e-6)
    assert injector.requests["/openai/deployments/toy/embeddings"] == 1


def test_azure_keyless_message_when_azure_identity_is_missing(server, cache):
    try:
        import azure.identity  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("azure-identity is installed")
    _, url = server
    with pytest.raises(ExplorerError, match="pip install azure-identity"):
        RemoteEmbedder(RemoteConfig(Provider.AZURE, "toy", None, url), cache).embed(["x"])


def test_github_models_path(server, cache):
    _, url = server
    config = RemoteConfig(Provider.GITHUB, "openai/text-embedding-3-small", TEST_KEY, f"{url}/v1")
    embedder = RemoteEmbedder(config, cache)
    assert embedder.dims == 1536  # known from the catalogue despite the publisher prefix
    np.testing.assert_allclose(
        embedder.embed(["x y"]), expected("text-embedding-3-small", ["x y"]), atol=1e-6
    )


def test_ollama_path_needs_no_key_and_probes_dims(open_server, cache):
    injector, url = open_server
    injector.reset()
    embedder = RemoteEmbedder(RemoteConfig(Provider.OLLAMA, "toy", None, f"{url}/v1"), cache)
    assert embedder.dims == 16  # one probe request
    assert injector.embedding_requests == 1
    # The probe's answer is cached: a fresh embedder learns the width without a request.
    again = RemoteEmbedder(RemoteConfig(Provider.OLLAMA, "toy", None, f"{url}/v1"), cache)
    assert again.dims == 16 and injector.embedding_requests == 1
    np.testing.assert_allclose(again.embed(SENTENCES), expected("toy", SENTENCES), atol=1e-6)


def test_usage_tokens_are_counted(server, cache):
    _, url = server
    embedder = RemoteEmbedder(compatible(url), cache)
    embedder.embed(SENTENCES)
    # The toy model counts words: 6 + 2 + 4 + 3 + 2.
    assert embedder.tokens_spent == 17
    embedder.embed(SENTENCES)
    assert embedder.tokens_spent == 17


def test_second_run_makes_no_request(server, cache):
    injector, url = server
    first = RemoteEmbedder(compatible(url), cache).embed(SENTENCES)
    assert injector.embedding_requests == 1
    again = RemoteEmbedder(compatible(url), cache)
    np.testing.assert_array_equal(again.embed(SENTENCES), first)
    assert injector.embedding_requests == 1 and again.tokens_spent == 0
    assert cache.count(again.space) == len(SENTENCES)


def test_cached_texts_embed_with_the_server_gone(cache):
    with serve_in_thread(create_app(toy_models())) as url:
        config = RemoteConfig(Provider.OLLAMA, "toy", None, f"{url}/v1", max_retries=0)
        first = RemoteEmbedder(config, cache).embed(SENTENCES)
    offline = RemoteEmbedder(config, cache)
    np.testing.assert_array_equal(offline.embed(SENTENCES[::-1]), first[::-1])
    with pytest.raises(ExplorerError, match="Could not connect"):
        offline.embed(["a text never seen"])


def test_a_run_cut_short_keeps_its_finished_batches(server, cache):
    injector, url = server
    texts = [f"item {i}" for i in range(6)]
    config = compatible(url, max_inputs=2, max_retries=0)
    injector.reset(Fault(), Fault(), Fault(500))  # the third request fails
    with pytest.raises(ExplorerError, match=r"failed \(500 Internal Server Error\)"):
        RemoteEmbedder(config, cache).embed(texts)
    injector.reset()
    resumed = RemoteEmbedder(config, cache)
    np.testing.assert_allclose(resumed.embed(texts), expected("toy", texts), atol=1e-6)
    assert injector.embedding_requests == 1 and resumed.tokens_spent == 4


def test_cache_is_per_endpoint_model_and_dims(server, cache):
    injector, url = server
    RemoteEmbedder(openai_config(url), cache).embed(["same text"])
    RemoteEmbedder(openai_config(url, dimensions=64), cache).embed(["same text"])
    RemoteEmbedder(compatible(url), cache).embed(["same text"])
    assert injector.embedding_requests == 3


def test_duplicates_are_sent_once(server, cache):
    injector, url = server
    embedder = RemoteEmbedder(compatible(url), cache)
    vectors = embedder.embed(["dup", "other", "dup"])
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert embedder.tokens_spent == 2


def test_batches_stay_within_max_inputs(server, cache):
    injector, url = server
    texts = [f"text number {i}" for i in range(10)]
    embedder = RemoteEmbedder(compatible(url, max_inputs=4), cache)
    vectors = embedder.embed(texts)
    assert injector.embedding_requests == 3
    np.testing.assert_allclose(vectors, expected("toy", texts), atol=1e-6)


def test_estimate_tokens_before_and_after(server, cache):
    _, url = server
    embedder = RemoteEmbedder(compatible(url), cache)
    texts = ["hello", "é", "a b c d"]
    if embedder.counter.exact:
        pytest.skip("tiktoken counted exactly; the hand values are for the byte estimate")
    # ceil(bytes / 3): 5 bytes -> 2, 2 bytes -> 1, 7 bytes -> 3.
    before = embedder.estimate_tokens(texts)
    assert (before.texts, before.tokens, before.texts_to_send, before.tokens_to_send) == (
        3,
        6,
        3,
        6,
    )
    assert not before.exact
    embedder.embed(texts[:1])
    after = embedder.estimate_tokens(texts)
    assert (after.tokens, after.texts_to_send, after.tokens_to_send) == (6, 2, 4)


def test_overlong_text_is_truncated_by_tokens_before_sending(server, cache):
    _, url = server
    embedder = RemoteEmbedder(openai_config(url), cache)
    assert embedder.counter.exact
    text = "word" + " word" * 8999  # 9,000 tokens in cl100k_base: over the 8,191 limit
    tokens = embedder.counter.encoding.encode(text)
    assert len(tokens) == 9000
    sent = embedder.counter.encoding.decode(tokens[:8191])
    assert sent == "word" + " word" * 8190
    vectors = embedder.embed([text])
    np.testing.assert_array_equal(vectors, toy_models()["text-embedding-3-small"].embed([sent]))


def test_unknown_models_truncate_by_the_byte_estimate(server, cache):
    _, url = server
    embedder = RemoteEmbedder(compatible(url, max_inputs=1), cache)
    embedder.max_tokens = 4
    assert not embedder.counter.exact
    vectors = embedder.embed(["abcdefghijklmnop"])  # 16 bytes: 6 estimated tokens
    np.testing.assert_allclose(vectors, expected("toy", ["abcdefghijkl"]), atol=1e-6)


def test_vectors_join_the_dataset_vector_cache(server, tmp_path):
    datasets = pytest.importorskip("core.datasets")
    from core.vectors import embed_dataset, load_cached

    injector, url = server
    dataset = datasets.dataset_from_texts("demo", SENTENCES)
    # With its width known up front the model needs no probe request, so the one request
    # below is the dataset's batch; a second call is served from the vector cache.
    toy_dims = toy_models()["toy"].dims
    config = compatible(url, native_dims=toy_dims)
    embedder = RemoteEmbedder(config, EmbeddingCache(tmp_path / "remote"))
    vectors = embed_dataset(dataset, embedder, root=tmp_path)
    np.testing.assert_allclose(load_cached(dataset, embedder, root=tmp_path), vectors)
    np.testing.assert_allclose(embed_dataset(dataset, embedder, root=tmp_path), vectors)
    assert injector.embedding_requests == 1


# ---------------------------------------------------------------- faults


# The openai client retries and pauses (its own backoff: about 0.5 s, then 1 s, ...; or what
# Retry-After asks for); these tests time its pauses and count the requests that arrive.
QUICK = {"retry-after-ms": "10"}  # keeps a test's retries quick


def test_429_is_retried_after_retry_after(server, cache):
    injector, url = server
    # 0.6 s is longer than the SDK's first backoff (at most 0.5 s): waiting it shows the
    # header was read.
    injector.reset(Fault(429, {"Retry-After": "0.6"}))
    started = time.perf_counter()
    vectors = RemoteEmbedder(compatible(url), cache).embed(["x"])
    assert 0.6 <= time.perf_counter() - started < 3.0
    assert injector.embedding_requests == 2
    np.testing.assert_allclose(vectors, expected("toy", ["x"]), atol=1e-6)


def test_429_retry_after_ms_wins_over_retry_after_and_backoff(server, cache):
    injector, url = server
    injector.reset(Fault(429, {"retry-after-ms": "600", "retry-after": "9"}))
    started = time.perf_counter()
    RemoteEmbedder(compatible(url), cache).embed(["x"])
    # 9 s would be Retry-After's seconds; at most 0.5 s the SDK's first backoff.
    assert 0.6 <= time.perf_counter() - started < 3.0
    assert injector.embedding_requests == 2


def test_too_long_retry_after_gives_up_at_once(server, cache):
    injector, url = server
    injector.reset(Fault(429, {"Retry-After": "3600"}))
    with pytest.raises(
        ExplorerError, match=r"rate-limiting us \(429 Too Many Requests\).*wait 3600 s"
    ):
        RemoteEmbedder(compatible(url), cache).embed(["x"])
    assert injector.embedding_requests == 1


def test_500_is_retried_with_exponential_backoff(server, cache):
    injector, url = server
    injector.reset(Fault(500), Fault(503))
    started = time.perf_counter()
    RemoteEmbedder(compatible(url), cache).embed(["x"])
    # The SDK waits 0.5 s then 1 s, each less up to 25 % of random jitter.
    assert 0.75 * 1.5 <= time.perf_counter() - started < 5.0
    assert injector.embedding_requests == 3


def test_persistent_500_gives_up_with_a_clear_message(server, cache):
    injector, url = server
    injector.reset(*[Fault(500, QUICK)] * 5)
    with pytest.raises(
        ExplorerError, match=r"failed \(500 Internal Server Error\)\. Gave up after 3 attempts"
    ):
        RemoteEmbedder(compatible(url, max_retries=2), cache).embed(["x"])
    assert injector.embedding_requests == 3


def test_a_client_error_is_not_retried(server, cache):
    injector, url = server
    injector.reset(Fault(400))
    with pytest.raises(ExplorerError, match=r"refused the request \(400 Bad Request\)\.$"):
        RemoteEmbedder(compatible(url), cache).embed(["x"])
    assert injector.embedding_requests == 1


def test_the_client_retries_as_configured():
    config = RemoteConfig(Provider.OLLAMA, "m", None, "http://127.0.0.1:9/v1", max_retries=3)
    assert remote.build_client(config).max_retries == 3
    azure = RemoteConfig(Provider.AZURE, "m", "k", "https://a.example", max_retries=1)
    assert remote.build_client(azure).max_retries == 1


def test_slow_answer_times_out_then_retry_succeeds(server, cache):
    injector, url = server
    injector.reset(Fault(delay=1.0))
    embedder = RemoteEmbedder(compatible(url, timeout=0.3), cache)
    np.testing.assert_allclose(embedder.embed(["x"]), expected("toy", ["x"]), atol=1e-6)
    assert injector.embedding_requests == 2


def test_slow_answers_past_the_timeout_give_up(server, cache):
    injector, url = server
    injector.reset(Fault(delay=1.0), Fault(delay=1.0))
    config = compatible(url, timeout=0.3, max_retries=1)
    with pytest.raises(ExplorerError, match=r"did not answer within 0.3 s.*after 2 attempts"):
        RemoteEmbedder(config, cache).embed(["x"])


def test_malformed_json_is_not_retried(server, cache):
    injector, url = server
    injector.reset(Fault(malformed=True))
    with pytest.raises(ExplorerError, match="answered with something that is not JSON"):
        RemoteEmbedder(compatible(url), cache).embed(["x"])
    assert injector.embedding_requests == 1


def test_bad_key_gets_a_401_message(server, cache):
    injector, url = server
    config = RemoteConfig(Provider.COMPATIBLE, "toy", "sk-wrong-key-123456", f"{url}/v1")
    with pytest.raises(ExplorerError, match=r"rejected the key \(401 Unauthorized\)") as info:
        RemoteEmbedder(config, cache).embed(["x"])
    assert "sk-wrong" not in str(info.value)
    assert injector.embedding_requests == 1


def test_injected_403_and_404_messages(server, cache):
    injector, url = server
    injector.reset(Fault(403))
    with pytest.raises(ExplorerError, match=r"refused access to 'toy' \(403 Forbidden\)"):
        RemoteEmbedder(compatible(url), cache).embed(["x"])
    with pytest.raises(ExplorerError, match=r"has no model 'nope' \(404 Not Found\)"):
        RemoteEmbedder(compatible(url, "nope"), cache).embed(["x"])
    azure = RemoteConfig(Provider.AZURE, "text-embedding-3-small", TEST_KEY, url, deployment="x")
    injector.reset(Fault(404))
    with pytest.raises(ExplorerError, match="has no deployment 'x'"):
        RemoteEmbedder(azure, cache).embed(["x"])


def test_server_refusal_of_dimensions_is_explained(server, cache):
    _, url = server
    with pytest.raises(
        ExplorerError, match=r"\(400 Bad Request\)\. It may not accept dimensions=8"
    ):
        RemoteEmbedder(compatible(url, "flat", dimensions=8), cache).embed(["x"])


def test_unexpected_width_is_an_error(server, cache):
    _, url = server
    embedder = RemoteEmbedder(openai_config(url, "text-embedding-3-large"), cache)
    with pytest.raises(ExplorerError, match="returned 16-dimensional vectors, expected 3072"):
        embedder.embed(["x"])


def test_connection_refused_is_retried_then_explained(cache):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = compatible(f"http://127.0.0.1:{port}", max_retries=2)
    with pytest.raises(
        ExplorerError, match=r"Could not connect to .*127.0.0.1:\d+/v1.*Gave up after 3 attempts"
    ):
        RemoteEmbedder(config, cache).embed(["x"])


def test_errors_carry_no_sdk_exception(server, cache):
    # The SDK's exception holds the request, whose headers hold the key.
    injector, url = server
    injector.reset(Fault(401))
    with pytest.raises(ExplorerError) as info:
        RemoteEmbedder(compatible(url), cache).embed(["x"])
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_server_messages_are_never_shown(server, cache):
    injector, url = server
    echo = f"No model for key {TEST_KEY[:10]}****{TEST_KEY[-4:]} or {TEST_KEY}"
    injector.reset(Fault(404, message=echo))
    with pytest.raises(ExplorerError, match=r"\(404 Not Found\)") as info:
        RemoteEmbedder(compatible(url), cache).embed(["x"])
    assert "No model for key" not in str(info.value)
    assert TEST_KEY[-4:] not in str(info.value) and TEST_KEY[:10] not in str(info.value)


def test_no_key_in_cache_files_logs_or_messages(server, tmp_path):
    """Run successes and every failure with DEBUG logging on, then grep everything written."""
    injector, url = server
    log_file = tmp_path / "suite.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    messages = []
    try:
        cache = EmbeddingCache(tmp_path / "remote")
        configs = [
            compatible(url),
            openai_config(url, dimensions=32),
            RemoteConfig(
                Provider.AZURE, "text-embedding-3-small", TEST_KEY, url, deployment="emb-small"
            ),
        ]
        for config in configs:
            RemoteEmbedder(config, cache).embed(SENTENCES)
            messages += [repr(config), str(config), repr(RemoteEmbedder(config, cache))]
        failing = compatible(url, "other", max_retries=1, deadline=0.5)
        for faults in [
            [Fault(401)],
            [Fault(404, message=f"no such model for {TEST_KEY}")],
            [Fault(500), Fault(502)],
            [Fault(429, {"Retry-After": "0.01"}), Fault(429)],
            [Fault(malformed=True)],
            [Fault(body=f"<html>{TEST_KEY}</html>".encode(), content_type="text/html")],
            [Fault(400, message=f"bad key {TEST_KEY}")],
            [Fault(trickle=True), Fault(hang=True)],
        ]:
            injector.reset(*faults)
            with pytest.raises(ExplorerError) as info:
                RemoteEmbedder(failing, cache).embed(["x"])
            messages.append(str(info.value))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert log_file.stat().st_size > 0 and len(written) >= 2
    for path in written:
        assert TEST_KEY.encode() not in path.read_bytes(), path
    for message in messages:
        assert TEST_KEY not in message


# ---------------------------------------------------------------- configuration


def test_configured_from_environment():
    env = {
        "OPENAI_API_KEY": TEST_KEY,
        "OPENAI_EMBEDDING_MODELS": "text-embedding-3-small, text-embedding-3-small@256",
        "AZURE_OPENAI_ENDPOINT": "https://demo.openai.azure.com/",
        "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "emb@512",
        "AZURE_OPENAI_EMBEDDING_MODEL": "text-embedding-3-large",
        "AZURE_OPENAI_API_KEY": TEST_KEY,
        "GITHUB_TOKEN": TEST_KEY,
        "OLLAMA_EMBEDDING_MODELS": "nomic-embed-text",
        "OPENAI_COMPATIBLE_BASE_URL": "http://127.0.0.1:8000/v1",
    }
    embedders = configured_remote_embedders(env)
    assert [e.name for e in embedders] == [
        "openai:text-embedding-3-small",
        "openai:text-embedding-3-small@256",
        "azure:emb@512",
        "github:openai/text-embedding-3-small",
        "github:openai/text-embedding-3-large",
        "ollama:nomic-embed-text",
        "compatible:all-MiniLM-L6-v2",
    ]
    azure = embedders[2]
    assert isinstance(azure, RemoteEmbedder)
    assert azure.config.endpoint == "https://demo.openai.azure.com/openai/deployments/emb"
    assert azure.dims == 512 and azure.supports_mrl
    assert configured_remote_embedders({}) == []


def test_a_bad_provider_is_skipped_and_reported(caplog):
    env = {
        "OPENAI_API_KEY": TEST_KEY,
        "OPENAI_EMBEDDING_MODELS": "text-embedding-ada-002@256",
        "OLLAMA_EMBEDDING_MODELS": "nomic-embed-text",
    }
    result = configs_from_env(env)
    assert [c.name for c in result.configs] == ["ollama:nomic-embed-text"]
    assert len(result.problems) == 1 and "does not accept `dimensions`" in result.problems[0]
    with caplog.at_level(logging.WARNING):
        assert len(configured_remote_embedders(env)) == 1
    assert "OpenAI settings skipped" in caplog.text and TEST_KEY not in caplog.text


def test_env_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("OLLAMA_EMBEDDING_MODELS=from-file\nOLLAMA_BASE_URL=http://h:1/v1\n")
    monkeypatch.setenv("OLLAMA_EMBEDDING_MODELS", "from-env")
    merged = load_env(str(env_file))
    assert merged["OLLAMA_EMBEDDING_MODELS"] == "from-env"
    assert merged["OLLAMA_BASE_URL"] == "http://h:1/v1"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"provider": "bing"}, "Unknown provider 'bing'; choose one of: openai, azure"),
        ({"api_key": None}, "OpenAI needs a key"),
        ({"model": " "}, "No model given"),
        ({"base_url": "ftp://x"}, "not an http"),
        ({"dimensions": 4000}, "dimensions=4000 is more than text-embedding-3-small's 1536"),
        ({"model": "text-embedding-ada-002", "dimensions": 256}, "does not accept"),
        ({"dimensions": 0}, "dimensions=0 must be a whole number >= 1"),
        ({"timeout": 0}, "timeout=0"),
        ({"max_retries": -1}, "max_retries=-1"),
        ({"max_inputs": 0}, "max_inputs=0"),
    ],
)
def test_config_validation(kwargs, match):
    args = {"provider": "openai", "model": "text-embedding-3-small", "api_key": TEST_KEY}
    with pytest.raises(ExplorerError, match=match):
        RemoteConfig(**{**args, **kwargs})


def test_blank_form_fields_mean_not_given():
    config = RemoteConfig("openai", " text-embedding-3-small ", f" {TEST_KEY} ", base_url="  ")
    assert config.model == "text-embedding-3-small" and config.api_key == TEST_KEY
    assert config.endpoint == "https://api.openai.com/v1"
    with pytest.raises(ExplorerError, match="OpenAI needs a key"):
        RemoteConfig("openai", "text-embedding-3-small", "   ")


def test_config_never_shows_the_key():
    url = f"https://user:{TEST_KEY}@example.com/v1"
    with pytest.raises(ExplorerError, match="user name or password") as info:
        RemoteConfig(Provider.COMPATIBLE, "m", None, url)
    assert TEST_KEY not in str(info.value)
    config = RemoteConfig(Provider.OPENAI, "text-embedding-3-small", TEST_KEY)
    assert TEST_KEY not in repr(config) and TEST_KEY not in repr(RemoteEmbedder(config))
    assert public_url("http://u:p@h:8/v1/?key=s#f") == "http://h:8/v1"


def test_keyless_endpoints_never_receive_the_openai_key(open_server, cache, monkeypatch):
    # The SDK falls back to $OPENAI_API_KEY when given no key; a classroom server must not
    # receive the user's real key that way.
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    _, url = open_server
    client = remote.build_client(RemoteConfig(Provider.OLLAMA, "toy", None, f"{url}/v1"))
    assert client.api_key == remote.NO_KEY


# ---------------------------------------------------------------- pure helpers


def test_token_estimate_by_hand():
    counter = TokenCounter()
    assert [counter.count(t) for t in ["hello", "é", "a b c d", "x" * 9]] == [2, 1, 3, 3]
    assert counter.truncate("abcdefgh", 2) == "abcdef"
    # A cut inside a multi-byte character drops the partial character.
    assert counter.truncate("ééé", 1) == "é"


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# Token ids of cl100k_base published with tiktoken ("hello world", "tiktoken is great!").
KNOWN_CL100K = {
    "hello world": [15339, 1917],
    "tiktoken is great!": [83, 1609, 5963, 374, 2294, 0],
}


def test_openai_models_count_tokens_exactly_with_no_network(no_network, monkeypatch):
    monkeypatch.setattr(remote, "_counters", {})  # load the encoding afresh, offline
    config = RemoteConfig(Provider.OPENAI, "text-embedding-ada-002", TEST_KEY)
    embedder = RemoteEmbedder(config)
    counter = embedder.counter
    assert counter.exact and counter.encoding.name == "cl100k_base_offline"
    for text, ids in KNOWN_CL100K.items():
        assert counter.encoding.encode(text) == ids
        assert embedder.count_tokens(text) == len(ids)
    # Every text decodes back from its tokens, and the counts are of those tokens.
    for text in ["El Rey León", "🙂 ok", "naïve café", "   spaces   ", "<|endoftext|> is text"]:
        ids = counter.encoding.encode(text, disallowed_special=())
        assert counter.encoding.decode(ids) == text
        assert counter.count(text) == len(ids)
    # Special-token text from a user is counted as ordinary text, not refused.
    assert counter.count("<|endoftext|>") > 1
    assert counter.truncate("tiktoken is great!", 4) == "tiktoken is"  # t, ik, token, " is"
    assert remote.token_counter("cl100k_base") is counter  # loaded once
    estimate = embedder.estimate_tokens(["hello world", "tiktoken is great!"])
    assert (estimate.tokens, estimate.exact) == (8, True)


def test_encodings_without_an_offline_copy_fall_back_to_the_estimate(no_network, monkeypatch):
    monkeypatch.setattr(remote, "_counters", {})
    # tiktoken would download o200k_base; it must never be asked for it.
    assert remote.load_offline_encoding("o200k_base") is None
    assert not remote.token_counter("o200k_base").exact
    assert not remote.token_counter(None).exact
    monkeypatch.setitem(remote.OFFLINE_ENCODINGS, "cl100k_base", "no_such_offline_encoding")
    assert remote.load_offline_encoding("cl100k_base") is None


@settings(deadline=None)
@given(
    st.lists(st.integers(1, 50), max_size=60),
    st.integers(1, 8),
    st.integers(1, 120),
)
def test_plan_batches_respects_limits_and_order(counts, max_inputs, max_tokens):
    batches = plan_batches(counts, max_inputs, max_tokens)
    assert [i for b in batches for i in b] == list(range(len(counts)))
    for b in batches:
        assert 1 <= len(b) <= max_inputs
        assert len(b) == 1 or sum(counts[i] for i in b) <= max_tokens
    # Greedy: the next text would not have fitted in the previous batch.
    for prev, nxt in zip(batches, batches[1:], strict=False):
        grown = sum(counts[i] for i in prev) + counts[nxt[0]]
        assert len(prev) == max_inputs or grown > max_tokens


def test_retry_after_forms():
    assert retry_after_seconds({"Retry-After": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({}) is None and retry_after_seconds({"retry-after": "soon"}) is None
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 28 <= retry_after_seconds({"Retry-After": date}) <= 30


def test_cache_space_keys_and_roundtrip(tmp_path):
    cache = EmbeddingCache(tmp_path)
    space = CacheSpace("http://h/v1", "m", 8)
    assert space.key != CacheSpace("http://h/v1", "m", None).key
    vectors = np.arange(16, dtype=np.float32).reshape(2, 8)
    cache.put(space, ["a", "b"], vectors)
    got = cache.get(space, ["b", "zz", "a"])
    np.testing.assert_array_equal(got[0], vectors[1])
    assert got[1] is None
    np.testing.assert_array_equal(got[2], vectors[0])
    with pytest.raises(ExplorerError, match="one row per text"):
        cache.put(space, ["a"], vectors)


def test_a_corrupt_cache_is_a_miss_not_a_failure(tmp_path, caplog):
    cache = EmbeddingCache(tmp_path)
    cache.path.parent.mkdir(parents=True, exist_ok=True)
    cache.path.write_bytes(b"this is not a database" * 100)
    space = CacheSpace("http://h/v1", "m")
    with caplog.at_level(logging.WARNING):
        assert cache.get(space, ["a"]) == [None]
        cache.put(space, ["a"], np.ones((1, 4), dtype=np.float32))
    assert "unreadable" in caplog.text


def test_toy_embedder_is_deterministic_and_unit_length():
    toy = ToyEmbedder()
    a, b = toy.embed(["same"]), toy.embed(["same"])
    np.testing.assert_array_equal(a, b)
    assert math.isclose(float(np.linalg.norm(a)), 1.0, rel_tol=1e-6)


def test_env_sample_documents_every_variable_read():
    seen: set[str] = set()

    class Recording(dict):
        def get(self, key, default=None):
            seen.add(key)
            return super().get(key, default)

    triggers = {
        "OPENAI_API_KEY": TEST_KEY,
        "AZURE_OPENAI_ENDPOINT": "https://a.openai.azure.com",
        "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "d",
        "GITHUB_TOKEN": TEST_KEY,
        "OLLAMA_EMBEDDING_MODELS": "m",
        "OPENAI_COMPATIBLE_BASE_URL": "http://h/v1",
    }
    assert len(configs_from_env(Recording(triggers)).configs) == 8
    sample = (Path(__file__).resolve().parents[1] / ".env.sample").read_text()
    documented = {line.lstrip("# ").split("=")[0] for line in sample.splitlines() if "=" in line}
    assert seen <= documented, seen - documented


def test_registry_lists_configured_remote_models(monkeypatch):
    from core.embedders.registry import get_embedder, list_embedders

    monkeypatch.setenv("OLLAMA_EMBEDDING_MODELS", "registry-probe-model")
    assert "ollama:registry-probe-model" in list_embedders()
    embedder = get_embedder("ollama:registry-probe-model")
    assert isinstance(embedder, RemoteEmbedder) and not embedder.local


def test_repr_of_an_unknown_model_sends_no_probe():
    # Port 9 (discard) on loopback: any request would fail, so repr must not make one.
    embedder = RemoteEmbedder(RemoteConfig(Provider.OLLAMA, "m", None, "http://127.0.0.1:9/v1"))
    assert repr(embedder) == "RemoteEmbedder(name='ollama:m', dims=None)"


# ---------------------------------------------------------------- deadlines (issue 10 §3)


@pytest.fixture
def quick(server):
    """The keyed server, and a compatible config with a 0.5 s deadline per call."""
    injector, url = server
    return injector, compatible(url, deadline=0.5, max_retries=4)


def test_a_hanging_provider_stops_at_the_deadline(quick, cache):
    injector, config = quick
    injector.reset(then=Fault(hang=True))
    with pytest.raises(ExplorerError, match="did not answer in time") as info:
        RemoteEmbedder(config, cache).embed(["x"])
    assert "0.5 s in all per call" in str(info.value)
    # The request's timeout shrank to the time left (not the 30 s timeout), so the first
    # attempt used the whole deadline and no retry was started after it.
    assert injector.embedding_requests == 1


def test_an_answer_trickled_byte_by_byte_is_cut_at_the_deadline(quick, cache):
    # Each byte arrives well within the read timeout, so only the deadline can end it.
    injector, config = quick
    injector.reset(then=Fault(trickle=True))
    with pytest.raises(ExplorerError, match="did not answer in time"):
        RemoteEmbedder(config, cache).embed(["x"])
    injector.reset()
    again = RemoteEmbedder(config, cache)
    np.testing.assert_allclose(again.embed(["x"]), expected("toy", ["x"]), atol=1e-6)


def test_batches_share_one_deadline_and_finished_ones_are_kept(server, cache):
    injector, url = server
    config = compatible(url, max_inputs=1, deadline=1.0)
    injector.reset(Fault(), then=Fault(hang=True))
    texts = ["one", "two", "three"]
    with pytest.raises(ExplorerError, match="1 of 3 texts are embedded and cached"):
        RemoteEmbedder(config, cache).embed(texts)
    assert injector.embedding_requests == 2  # the third batch was never sent
    injector.reset()
    resumed = RemoteEmbedder(config, cache)
    np.testing.assert_allclose(resumed.embed(texts), expected("toy", texts), atol=1e-6)
    assert injector.embedding_requests == 2


@pytest.mark.parametrize("fault", [Fault(500), Fault(429, {"Retry-After": "0.8"})])
def test_the_deadline_cuts_the_sdks_pause_and_no_retry_follows(server, cache, fault):
    injector, url = server
    injector.reset(then=fault)
    started = time.perf_counter()
    with pytest.raises(ExplorerError, match=r"did not answer in time.*0\.3 s in all per call"):
        RemoteEmbedder(compatible(url, deadline=0.3), cache).embed(["x"])
    assert time.perf_counter() - started < 1.0
    # The SDK was pausing (0.5 s of backoff, or 0.8 s as asked) when the deadline came; its
    # client was closed then, so the retry it planned never reaches the server.
    time.sleep(1.0)
    assert injector.embedding_requests == 1


def test_a_time_budget_is_shared_by_every_call_in_it(server, open_server, cache):
    hanging, url = server
    healthy, open_url = open_server
    hanging.reset(then=Fault(hang=True))
    healthy.reset()
    cached = RemoteEmbedder(RemoteConfig(Provider.OLLAMA, "toy", None, f"{open_url}/v1"), cache)
    cached.embed(["already here"])
    requests_before = healthy.embedding_requests
    with remote.time_budget(0.5, "page update") as budget:
        with pytest.raises(ExplorerError, match=r"0\.5 s in all per page update"):
            RemoteEmbedder(compatible(url), cache).embed(["x"])
        assert budget.left == 0
        # The next model gets no time at all: it fails without sending anything...
        with pytest.raises(ExplorerError, match="did not answer in time"):
            cached.embed(["a new text"])
        # ...but texts it has cached need no time.
        np.testing.assert_allclose(
            cached.embed(["already here"]), expected("toy", ["already here"]), atol=1e-6
        )
    assert healthy.embedding_requests == requests_before
    # Outside the budget the call has its own deadline again.
    np.testing.assert_allclose(cached.embed(["a new text"]), expected("toy", ["a new text"]))


# ---------------------------------------------------------------- what messages show (§4)

SECRET = "db-password=hunter2"


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        (400, "400 Bad Request"),
        (403, "403 Forbidden"),
        (404, "404 Not Found"),
        (418, "418 I'm a Teapot"),
        (500, "500 Internal Server Error"),
        (503, "503 Service Unavailable"),
    ],
)
def test_errors_show_the_status_never_the_body(server, cache, status, shown):
    injector, url = server
    injector.reset(Fault(status, message=f"internal: {SECRET}"))
    config = compatible(url, max_retries=0)
    with pytest.raises(ExplorerError) as info:
        RemoteEmbedder(config, cache).embed(["x"])
    assert shown in str(info.value) and "hunter2" not in str(info.value)


def test_a_service_that_is_not_http_is_not_quoted(cache):
    # h11 quotes the bytes it could not parse in its exception; the message must not.
    with banner_server(f"+OK {SECRET}\r\n".encode()) as url:
        config = compatible(url, max_retries=0)
        with pytest.raises(ExplorerError, match="Could not connect") as info:
            RemoteEmbedder(config, cache).embed(["x"])
    assert "hunter2" not in str(info.value) and "+OK" not in str(info.value)


# ---------------------------------------------------------------- private hosts (§4)


@pytest.mark.parametrize(
    ("address", "env", "public_only"),
    [
        (None, {}, True),
        ("", {}, True),
        ("localhost", {}, False),
        ("127.0.0.1", {}, False),
        ("::1", {}, False),
        ("0.0.0.0", {}, True),
        ("192.168.1.20", {}, True),
        ("classroom.example.org", {}, True),
        ("0.0.0.0", {"EXPLORER_ALLOW_PRIVATE_ENDPOINTS": "1"}, False),
        ("0.0.0.0", {"EXPLORER_ALLOW_PRIVATE_ENDPOINTS": "0"}, True),
    ],
)
def test_the_policy_follows_the_server_address(address, env, public_only):
    assert endpoint_policy(address, env) == (PUBLIC_ONLY if public_only else ANY_HOST)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:8000/v1", "loopback"),
        ("http://localhost:11434/v1", "loopback"),
        ("http://[::1]/v1", "loopback"),
        ("http://[::ffff:127.0.0.1]/v1", "loopback"),
        ("http://169.254.169.254/latest", "link-local"),
        ("http://10.0.0.7/v1", "private"),
        ("https://192.168.1.1/v1", "private"),
        ("http://0.0.0.0:8000/v1", "unspecified"),
        ("http://100.64.0.1/v1", "non-public"),
    ],
)
def test_public_only_refuses_non_public_addresses(url, kind):
    check_endpoint(url, ANY_HOST)  # allowed when the app is not served to others
    with pytest.raises(ExplorerError, match=f"resolves to a {kind} address") as info:
        check_endpoint(url, PUBLIC_ONLY)
    assert "EXPLORER_ALLOW_PRIVATE_ENDPOINTS=1" in str(info.value)


def test_every_address_of_a_name_must_be_public(monkeypatch):
    answers = {
        "public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        "mixed.example": ["93.184.216.34", "10.1.2.3"],
    }

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(providers.socket, "getaddrinfo", fake_getaddrinfo)
    check_endpoint("https://public.example/v1", PUBLIC_ONLY)
    with pytest.raises(ExplorerError, match="resolves to a private address"):
        check_endpoint("https://mixed.example/v1", PUBLIC_ONLY)
    with pytest.raises(ExplorerError, match="could not be found"):
        check_endpoint("https://nowhere.example/v1", PUBLIC_ONLY)


def test_a_public_only_embedder_sends_nothing_to_loopback(server, cache):
    injector, url = server
    embedder = RemoteEmbedder(compatible(url), cache, policy=PUBLIC_ONLY)
    with pytest.raises(ExplorerError, match="resolves to a loopback address"):
        embedder.embed(["x"])
    assert injector.embedding_requests == 0
    assert embedder.with_dimensions(8).policy == PUBLIC_ONLY


def test_a_public_only_client_does_not_follow_redirects(server, cache, monkeypatch):
    # A public address could otherwise send the request on to a private one.
    injector, url = server
    monkeypatch.setattr(remote, "check_endpoint", lambda *args: None)  # loopback counts as public
    moved = Fault(307, {"Location": f"{url}/v1/embeddings"})
    injector.reset(moved)
    with pytest.raises(ExplorerError, match=r"\(307 Temporary Redirect\)\. It redirects"):
        RemoteEmbedder(compatible(url), cache, policy=PUBLIC_ONLY).embed(["x"])
    assert injector.embedding_requests == 1
    injector.reset(moved)
    RemoteEmbedder(compatible(url), cache).embed(["x"])  # followed when private hosts are fine
    assert injector.embedding_requests == 2


# ---------------------------------------------------------------- malformed answers (§4)


def _answer(*items: dict, usage: int = 2) -> bytes:
    answer = {"object": "list", "data": list(items), "usage": {"prompt_tokens": usage}}
    return json.dumps(answer).encode()


def _item(index, embedding) -> dict:
    return {"object": "embedding", "index": index, "embedding": embedding}


@pytest.mark.parametrize(
    ("body", "content_type", "match"),
    [
        (b"<html><body>Sign in</body></html>", "text/html; charset=utf-8", "an HTML page"),
        (b"\n  <!DOCTYPE html><title>502</title>", "application/json", "an HTML page"),
        (b"hello", "application/json", "not JSON"),
        (b"[" * 100_000, "application/json", "not JSON"),
        (b'{"object": "list"}', "application/json", "without a `data` list"),
        (_answer(_item(0, [0.1, 0.2])), "application/json", "returned 1 embeddings for 2 texts"),
        (_answer(_item(0, [1, 2]), _item(0, [3, 4])), "", "index 0 more than once"),
        (_answer(_item(0, [1, 2]), _item(5, [3, 4])), "", "no embedding for index 1"),
        (_answer(_item(0, [1, 2]), _item("1", [3, 4])), "", "without a whole-number `index`"),
        (_answer(_item(0, [1, 2]), _item(1, [1, 2, 3])), "", r"different lengths \(2, 3\)"),
        (
            b'{"data": [{"index": 0, "embedding": [1, 2]}, {"index": 1, "embedding": [NaN, 1]}]}',
            "",
            r"NaN or infinite values \(embedding 1\)",
        ),
        (
            _answer(_item(0, [1e39, 2]), _item(1, [1, 2])),
            "",
            r"NaN or infinite values \(embedding 0\)",
        ),
        (_answer(_item(0, "not base64!"), _item(1, [1, 2])), "", "embedding 0 as something other"),
        (_answer(_item(0, [1, "2"]), _item(1, [1, 2])), "", "embedding 0 as something other"),
        (_answer(_item(0, []), _item(1, [])), "", "embedding 0 as something other"),
    ],
)
def test_malformed_answers_get_specific_messages(server, cache, body, content_type, match):
    injector, url = server
    injector.reset(Fault(body=body, content_type=content_type or "application/json"))
    with pytest.raises(ExplorerError, match=match) as info:
        RemoteEmbedder(compatible(url), cache).embed(["a", "b"])
    assert str(info.value).startswith("OpenAI-compatible server at http://127.0.0.1")
    assert injector.embedding_requests == 1  # a malformed answer is not retried


def test_answers_in_any_index_order_are_put_back_in_input_order(server, cache):
    injector, url = server
    body = _answer(_item(1, [0.0, 1.0]), _item(0, [1.0, 0.0]), usage=7)
    injector.reset(Fault(body=body))
    embedder = RemoteEmbedder(compatible(url), cache)
    np.testing.assert_array_equal(embedder.embed(["a", "b"]), [[1, 0], [0, 1]])
    assert embedder.tokens_spent == 7


def test_attempts_are_read_from_the_sdks_retry_count_header():
    import httpx2
    import openai

    def error(count: str) -> openai.APIError:
        headers = {"x-stainless-retry-count": count}
        request = httpx2.Request("POST", "http://h/v1/embeddings", headers=headers)
        return openai.APIError("failed", request, body=None)

    assert remote._attempts(error("2")) == 3
    assert remote._attempts(error("not a number")) == 1
