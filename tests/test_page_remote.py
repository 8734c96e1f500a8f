"""The sidebar form for hosted models, driven against the classroom server on loopback."""

from __future__ import annotations

import pytest

from core.serve import ServeSettings, create_app, load_local_models, serve_in_thread
from tests.page_helpers import open_page, plain

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
