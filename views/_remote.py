"""Hosted models added from the sidebar form, kept per browser session.

A key typed into the form lives only in this session's memory: it is never written back to a
widget, the URL, a log or a cache, and other sessions of the same server cannot use it.

Hosted models may add at most ``RERUN_SECONDS`` to one page update, all calls together; a
model that failed is paused for the session (the page goes on without it) until the user
asks to try it again. Once the app is served to others, addresses typed in the form must
resolve to public hosts unless the operator sets ``EXPLORER_ALLOW_PRIVATE_ENDPOINTS=1``.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.datasets import Dataset
from core.embedders.base import Embedder
from core.embedders.providers import (
    EndpointPolicy,
    Provider,
    RemoteConfig,
    check_endpoint,
    endpoint_policy,
    load_env,
)
from core.embedders.remote import RemoteEmbedder, TimeBudget, use_budget
from core.errors import ExplorerError, ProviderError
from core.vectors import embed_dataset, load_cached
from views._text import md_text

_STATE = "remote_models"
_PAUSED = "remote_paused"
# Seconds hosted models may add to one page update in all (every model, batch and retry).
RERUN_SECONDS = 35.0


def form_policy() -> EndpointPolicy:
    """Hosts the form's addresses may reach: any while Streamlit's ``server.address`` is
    loopback (the project's config), public ones once it serves the app to others (unless
    the operator allows private ones in the environment or ``.env``)."""
    return endpoint_policy(st.get_option("server.address"), load_env())


def session_models() -> dict[str, Embedder]:
    """Hosted models this session added with the form, by name."""
    return st.session_state.setdefault(_STATE, {})


def _add_from_form() -> None:
    """Form callback: build the model from the fields, then blank the key field so the key is
    never sent back to the browser. Runs before the rerun, when widget state may change."""
    state = st.session_state
    try:
        policy = form_policy()
        config = RemoteConfig(
            state["rf_provider"],
            state["rf_model"].strip(),
            api_key=state["rf_key"].strip() or None,
            base_url=state["rf_base_url"].strip() or None,
            deployment=state["rf_deployment"].strip() or None,
            api_version=state["rf_api_version"].strip() or None,
            dimensions=int(state["rf_dims"]) or None,
        )
        check_endpoint(config.base_url or config.spec.base_url or "", policy)
        model = RemoteEmbedder(config, policy=policy)
    except ExplorerError as exc:
        state["rf_message"] = ("error", f"Could not add the model: {exc}")
    else:
        session_models()[model.name] = model
        _paused().pop(model.name, None)
        chosen = list(state.get("models") or [])
        state["models"] = chosen if model.name in chosen else [*chosen, model.name]
        state["rf_message"] = ("success", f"Added {model.name}.")
    finally:
        state["rf_key"] = ""


def remote_form() -> None:
    """A sidebar form that adds a hosted model (OpenAI, Azure, GitHub Models, Ollama or any
    OpenAI-compatible server) to this session's model list.

    The sidebar draws it once at the top of every page update, so this also starts the
    update's time budget for hosted models: every call after it spends from the same
    ``RERUN_SECONDS``."""
    use_budget(TimeBudget(RERUN_SECONDS, "page update"))
    with st.sidebar.expander("Add a hosted model"), st.form("remote_form"):
        st.selectbox("Provider", [p.value for p in Provider], key="rf_provider")
        st.text_input("Model", "text-embedding-3-small", key="rf_model")
        st.text_input("Base URL / Azure endpoint (optional)", key="rf_base_url")
        st.text_input("API key", type="password", key="rf_key")
        st.text_input("Azure deployment (optional)", key="rf_deployment")
        st.text_input("Azure API version (optional)", key="rf_api_version")
        st.number_input("Dimensions (0 = native)", 0, 4096, 0, key="rf_dims")
        st.form_submit_button("Add model", on_click=_add_from_form)
    message = st.session_state.pop("rf_message", None)
    if message:
        kind, text = message
        (st.sidebar.error if kind == "error" else st.sidebar.success)(md_text(text))
    _paused_buttons()


def _paused() -> dict[str, str]:
    """Hosted models that failed in this session, with the message they failed with."""
    return st.session_state.setdefault(_PAUSED, {})


class Paused(ExplorerError):
    """A hosted model of this session is set aside after a failure, until "Try again"."""


def pause(exc: ProviderError) -> None:
    """Set the model that failed aside for this session: later updates go on without it
    instead of waiting for it again (a hanging provider costs one update, not every one)."""
    _paused()[exc.model] = str(exc)


def check_paused(name: str) -> None:
    """Raise :class:`Paused` when model ``name`` is set aside in this session."""
    message = _paused().get(name)
    if message is not None:
        raise Paused(
            f"{name} is paused after an error, so this page goes on without it (“Try {name} "
            f"again” in the sidebar calls it again): {message}"
        )


def _paused_buttons() -> None:
    for name in list(_paused()):
        st.sidebar.button(
            md_text(f"Try {name} again"),
            key=f"remote_retry_{name}",
            on_click=_retry,
            args=(name,),
        )


def _retry(name: str) -> None:
    """Lift the pause on ``name``: the next update calls it again."""
    _paused().pop(name, None)


def remote_vectors(dataset: Dataset, model: Embedder) -> np.ndarray | None:
    """The dataset's vectors under a hosted model: from cache, or after the user confirms the
    token cost (shown first) with a progress bar while it runs. None until then."""
    cached = load_cached(dataset, model)
    if cached is not None:
        return cached
    estimate = model.estimate_tokens(list(dataset.texts))  # type: ignore[attr-defined]
    how = (
        "counted exactly with the model's tokenizer"
        if estimate.exact
        else "estimated from the text's length"
    )
    st.info(
        md_text(
            f"{model.name}: embedding {len(dataset)} texts of {dataset.name} costs "
            f"{'' if estimate.exact else 'about '}{estimate.tokens_to_send:,} tokens ({how}; "
            f"{estimate.texts_to_send} texts not yet cached)."
        )
    )
    if not st.button(md_text(f"Embed with {model.name}"), key=f"remote_go_{model.name}"):
        return None
    bar = st.progress(0.0, text=md_text(f"Embedding with {model.name}…"))

    def on_progress(done: int, total: int) -> None:
        bar.progress(done / total)

    try:
        return embed_dataset(dataset, model, on_progress=on_progress)
    finally:
        bar.empty()
