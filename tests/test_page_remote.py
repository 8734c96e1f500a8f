"""The sidebar form for hosted models, driven against the classroom server on loopback, and
against a fault server that never answers."""

from __future__ import annotations

import pytest
from streamlit import config as st_config

import views._remote
from core.serve import ServeSettings, create_app, load_local_models, serve_in_thread
from tests.fault_server import Fault, FaultInjector, toy_models
from tests.page_helpers import frames, open_page, plain

SERVER_KEY = "sk-classroom-right-key-123"
MODEL = "static-minilm-256"


@pytest.fixture(scope="module")
def server_url():
    app = create_app(load_local_models([MODEL]), ServeSettings(api_key=SERVER_KEY))
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))


def _add_model(at, url: str, key: str):
    at.selectbox(key="rf_provider").select("compatible")
    at.text_input(key="rf_model").input(MODEL)
    at.text_input(key="rf_base_url").input(f"{url}/v1")
    at.text_input(key="rf_key").input(key)
    next(b for b in at.button if b.label == "Add model").click()
    return at.run()


def _all_text(at) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "error", "success", "warning")
        for e in getattr(at, kind)
    ]
    parts += [str(getattr(w, "value", "")) for w in at.text_input]
    return "\n".join(map(str, parts)) + str(dict(at.query_params))


def test_hosted_model_joins_the_pages_after_its_cost_is_shown(server_url):
    at = open_page("similarity")
    at = _add_model(at, server_url, SERVER_KEY)
    assert not at.exception
    name = f"compatible:{MODEL}"
    assert name in at.session_state["models"]
    assert any("tokens" in plain(i.value) and name in plain(i.value) for i in at.info), (
        "cost shown first"
    )
    next(b for b in at.button if plain(b.label) == f"Embed with {name}").click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    # The hosted copy of the static model ranks like the local one: same top neighbours.
    assert SERVER_KEY not in _all_text(at)


def test_wrong_key_is_a_clear_error_without_the_key(server_url):
    wrong = "sk-wrong-key-do-not-show-456"
    at = _add_model(open_page("similarity"), server_url, wrong)
    name = f"compatible:{MODEL}"
    # The first request (asking the model its width) already meets the 401.
    assert not [b for b in at.button if plain(b.label) == f"Embed with {name}"]
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "401" in errors or "key" in errors.lower(), errors
    assert wrong not in _all_text(at)
    # The local models still work: the page went on.
    assert at.dataframe, "the rest of the page still renders"


def test_invalid_form_input_is_reported():
    at = open_page("embed")
    at.selectbox(key="rf_provider").select("compatible")
    at.text_input(key="rf_model").input(MODEL)
    next(b for b in at.button if b.label == "Add model").click()
    at.run()
    assert not at.exception
    assert any("Could not add" in e.value for e in at.error), [e.value for e in at.error]


# ---------------------------------------------------------------- a provider that hangs


@pytest.fixture(scope="module")
def hanging():
    """A server that accepts every request and never answers: (injector, base URL)."""
    injector = FaultInjector(create_app(toy_models()))
    with serve_in_thread(injector) as url:
        yield injector, url


@pytest.fixture
def short_budget(monkeypatch, hanging):
    """Hosted models may add 1 s to a page update (35 s in the app); the server hangs."""
    monkeypatch.setattr(views._remote, "RERUN_SECONDS", 1.0)
    injector, url = hanging
    injector.reset(then=Fault(hang=True))
    yield injector, url
    injector.reset()


def _add_hanging(at, url: str, model: str = "toy"):
    at.selectbox(key="rf_provider").select("compatible")
    at.text_input(key="rf_model").input(model)
    at.text_input(key="rf_base_url").input(f"{url}/v1")
    next(b for b in at.button if b.label == "Add model").click()
    return at.run()


def _models_shown(at) -> list[str]:
    return [m for frame in frames(at, "model") for m in frame["model"]]


def test_a_hanging_model_never_blocks_the_local_models(short_budget):
    injector, url = short_budget
    at = _add_hanging(open_page("similarity", {"models": "static-minilm-256"}), url)
    assert not at.exception, [e.message for e in at.exception]
    errors = " ".join(plain(e.value) for e in at.error)
    assert "compatible:toy" in errors and "did not answer in time" in errors, errors
    assert "1 s in all per page update" in errors
    assert _models_shown(at) == ["static-minilm-256"]
    sent = injector.embedding_requests
    assert sent == 1  # the request had the page update's whole second, then it stopped

    # Later updates leave the paused model alone: no request, the local model still shown.
    at.run()
    assert not at.exception and injector.embedding_requests == sent
    warnings = " ".join(plain(w.value) for w in at.warning)
    assert "compatible:toy is paused" in warnings and "did not answer in time" in warnings
    assert _models_shown(at) == ["static-minilm-256"]

    # Asking for it again calls it again, within the same limit.
    next(b for b in at.button if plain(b.label) == "Try compatible:toy again").click()
    at.run()
    assert not at.exception and injector.embedding_requests == sent + 1
    assert any("did not answer in time" in plain(e.value) for e in at.error)
    assert _models_shown(at) == ["static-minilm-256"]


def test_hanging_models_share_one_page_update_budget(short_budget, monkeypatch):
    injector, url = short_budget
    monkeypatch.setenv("OPENAI_COMPATIBLE_BASE_URL", f"{url}/v1")
    monkeypatch.setenv("OPENAI_COMPATIBLE_MODELS", "hang-a,hang-b")
    chosen = ["static-minilm-256", "compatible:hang-a", "compatible:hang-b"]
    at = open_page("similarity", {"models": chosen})
    errors = [plain(e.value) for e in at.error]
    assert len(errors) == 2 and all("1 s in all per page update" in e for e in errors), errors
    # The first model spent the update's second; the second had none left and sent nothing.
    assert injector.embedding_requests == 1
    assert _models_shown(at) == ["static-minilm-256"]


# ---------------------------------------------------------------- served to others


@pytest.fixture
def served_to_others():
    """The app as `streamlit run --server.address 0.0.0.0` serves it."""
    old = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    yield
    st_config.set_option("server.address", old)


def test_private_addresses_are_refused_when_served_to_others(
    served_to_others, hanging, monkeypatch
):
    injector, url = hanging
    injector.reset()
    monkeypatch.delenv("EXPLORER_ALLOW_PRIVATE_ENDPOINTS", raising=False)
    at = _add_hanging(open_page("similarity", {"models": "static-minilm-256"}), url)
    assert not at.exception
    errors = " ".join(plain(e.value) for e in at.error)
    assert "Could not add the model" in errors and "resolves to a loopback address" in errors
    assert "compatible:toy" not in at.session_state["models"]
    assert injector.requests == {}

    # The operator's switch lets them through.
    monkeypatch.setenv("EXPLORER_ALLOW_PRIVATE_ENDPOINTS", "1")
    at = _add_hanging(at, url)
    assert not at.exception and "compatible:toy" in at.session_state["models"]


def test_a_hanging_model_is_paused_on_the_embed_page_too(short_budget):
    injector, url = short_budget
    at = _add_hanging(open_page("embed", {"models": "static-minilm-256", "embed_all": "0"}), url)
    assert not at.exception, [e.message for e in at.exception]
    assert any("did not answer in time" in plain(e.value) for e in at.error)
    sent = injector.embedding_requests
    at.text_input(key="embed_text").input("king").run()
    # Paused: the new text is embedded by the local model only, and nothing is sent.
    assert not at.exception and injector.embedding_requests == sent
    assert any("compatible:toy is paused" in plain(w.value) for w in at.warning)
    assert [m.value for m in at.metric if m.label == "dimensions"] == ["256"]


def test_a_hosted_model_added_in_the_sidebar_joins_the_model_table(server_url):
    at = _add_model(open_page("home"), server_url, SERVER_KEY)
    assert not at.exception
    name = f"compatible:{MODEL}"
    table = at.dataframe[0].value.set_index("model")
    assert table.loc[name, "kind"] == "hosted (configured)"
    assert table.loc[name, "runs"] == f"OpenAI-compatible server at {server_url}/v1"
    # Its length is unknown until it answers: the table never sends a probe to find out.
    assert table.loc[name, "dimensions"] == "–"
    at.switch_page("views/embed.py").run()
    assert not at.exception
    shown = [plain(s.value) for s in at.subheader]
    assert name in shown
    table = at.dataframe[0].value.set_index("model")
    assert table.loc[name, "dimensions"] == "256"  # learnt from its first answer


def test_an_openai_model_shows_its_exact_token_cost_before_anything_is_sent(server_url):
    from core.datasets import load_dataset
    from core.embedders.remote import load_offline_encoding

    at = open_page("similarity")
    at.selectbox(key="rf_provider").select("compatible")
    at.text_input(key="rf_model").input("text-embedding-3-small")
    at.text_input(key="rf_base_url").input(f"{server_url}/v1")
    at.text_input(key="rf_key").input(SERVER_KEY)
    next(b for b in at.button if b.label == "Add model").click()
    at.run()
    assert not at.exception
    encoding = load_offline_encoding("cl100k_base")
    texts = load_dataset("words").texts
    tokens = sum(max(1, len(encoding.encode(t))) for t in texts)
    cost = next(plain(i.value) for i in at.info if "text-embedding-3-small" in plain(i.value))
    assert f"costs {tokens:,} tokens (counted exactly" in cost, cost
