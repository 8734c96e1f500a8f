"""Where hosted embedding models live and how to reach them: providers, models, configuration.

Everything here is plain data: which providers exist, their limits, which models they serve
and what those models can do, and ``RemoteConfig``, one model on one endpoint, built from the
environment (and a ``.env`` file) or from the app's sidebar form. Talking to the endpoint is
``core.embedders.remote``'s job.

A key lives only in ``RemoteConfig.api_key``, which is left out of ``repr``; nothing in this
module puts it in a message. ``EndpointPolicy`` says which hosts a user-given address may
reach once the app is served to others.
"""

from __future__ import annotations

import ipaddress
import math
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from core.errors import ExplorerError
from core.modes import Mode
from core.paths import REPO_ROOT

# Inputs of the OpenAI embeddings API are limited to 8192 tokens; one less leaves room for the
# difference between our count and the server's.
OPENAI_MAX_TOKENS = 8191
# Azure API version that accepts `dimensions` (generally available since 2024-10-21).
DEFAULT_AZURE_API_VERSION = "2024-10-21"
# Seconds one embedding call may take in all (every batch, and the SDK's retries and pauses):
# a hanging provider must not freeze a page for minutes.
DEFAULT_DEADLINE = 35.0
# The operator's switch that lets users of a shared app reach private and loopback hosts.
ALLOW_PRIVATE_ENV = "EXPLORER_ALLOW_PRIVATE_ENDPOINTS"


class Provider(Mode):
    """A kind of endpoint speaking the OpenAI embeddings API."""

    OPENAI = "openai"
    AZURE = "azure"
    GITHUB = "github"
    OLLAMA = "ollama"
    COMPATIBLE = "compatible"

    @property
    def spec(self) -> ProviderSpec:
        return PROVIDERS[self]


@dataclass(frozen=True)
class ProviderSpec:
    """What a provider needs and allows.

    ``base_url`` is the default endpoint (None: the user must give one); ``needs_key`` says
    whether requests without a key are pointless; ``max_inputs`` and ``max_request_tokens``
    bound one request; ``wire_format`` is the ``encoding_format`` we ask for (base64 is ~4x
    smaller, but not every compatible server implements it).
    """

    label: str
    base_url: str | None
    needs_key: bool
    max_inputs: int
    max_request_tokens: int
    wire_format: str


PROVIDERS: dict[Provider, ProviderSpec] = {
    Provider.OPENAI: ProviderSpec(
        "OpenAI", "https://api.openai.com/v1", True, 2048, 300_000, "base64"
    ),
    Provider.AZURE: ProviderSpec("Azure OpenAI", None, True, 2048, 300_000, "base64"),
    # GitHub Models' free tier caps a request at 64k input tokens.
    Provider.GITHUB: ProviderSpec(
        "GitHub Models", "https://models.github.ai/inference", True, 2048, 64_000, "float"
    ),
    Provider.OLLAMA: ProviderSpec(
        "Ollama", "http://localhost:11434/v1", False, 512, 300_000, "float"
    ),
    Provider.COMPATIBLE: ProviderSpec(
        "OpenAI-compatible server", None, False, 2048, 300_000, "float"
    ),
}


@dataclass(frozen=True)
class ModelInfo:
    """What we know of a hosted model before calling it.

    ``dims`` is the native output length; ``supports_dimensions`` whether the API shortens
    vectors on request (Matryoshka-trained, so truncation keeps rankings); ``tokenizer`` the
    tiktoken encoding that counts its tokens exactly.
    """

    dims: int
    supports_dimensions: bool
    description: str
    normalized: bool = True
    max_tokens: int = OPENAI_MAX_TOKENS
    tokenizer: str | None = "cl100k_base"


MODELS: dict[str, ModelInfo] = {
    "text-embedding-3-small": ModelInfo(
        1536, True, "OpenAI's small third-generation model (2024), Matryoshka-trained."
    ),
    "text-embedding-3-large": ModelInfo(
        3072, True, "OpenAI's large third-generation model (2024), Matryoshka-trained."
    ),
    "text-embedding-ada-002": ModelInfo(
        1536, False, "OpenAI's second-generation model (2022); fixed 1536 dimensions."
    ),
}


def model_info(model: str) -> ModelInfo | None:
    """Catalogue entry for ``model``, also under a publisher prefix (``openai/text-...``)."""
    return MODELS.get(model) or MODELS.get(model.rsplit("/", 1)[-1])


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment: safe to show, log and use as a cache key."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def _check_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        # Never echo it: the user info may be a key.
        raise ExplorerError(
            f"The {what} contains a user name or password; put the key in the key field "
            "and give the address alone."
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ExplorerError(
            f"The {what} {public_url(url)!r} is not an http(s) address; give one like "
            "'https://example.com/v1'."
        )


@dataclass(frozen=True)
class RemoteConfig:
    """One hosted model on one endpoint, and how patiently to call it.

    Attributes:
        provider: a ``Provider`` (or its value).
        model: model id (``text-embedding-3-small``, ``openai/text-embedding-3-small`` on
            GitHub, ``nomic-embed-text`` on Ollama). On Azure, the model the deployment runs.
        api_key: secret; never shown, logged or cached. None for keyless endpoints (and for
            Azure's Entra ID sign-in).
        base_url: endpoint; None takes the provider's default. On Azure, the resource
            endpoint (``https://<name>.openai.azure.com``).
        deployment: Azure deployment name (defaults to ``model``).
        api_version: Azure API version.
        dimensions: ask the API for shorter vectors (text-embedding-3-* and compatible
            servers serving an ordered model); None for the native length.
        native_dims: output length of a model the catalogue does not know; None to find out
            with the first request.
        timeout: seconds to wait for one answer.
        deadline: seconds one embedding call may take in all (batches, retries and pauses);
            each request's timeout shrinks to the time left.
        max_retries: further attempts the ``openai`` client makes after a 429, 5xx, timeout
            or dropped connection, pausing as the server asks (``Retry-After`` up to two
            minutes) or with its own exponential backoff (0.5 s doubling up to 8 s).
        max_inputs: texts per request; None takes the provider's limit.
    """

    provider: Provider | str
    model: str
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    dimensions: int | None = None
    native_dims: int | None = None
    timeout: float = 30.0
    deadline: float = DEFAULT_DEADLINE
    max_retries: int = 4
    max_inputs: int | None = None

    def __post_init__(self) -> None:
        provider = Provider.coerce(self.provider)
        object.__setattr__(self, "provider", provider)
        object.__setattr__(self, "model", self.model.strip())
        # A blank form field means "not given".
        for name in ("api_key", "base_url", "deployment", "api_version"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, value.strip() or None)
        if not self.model:
            raise ExplorerError(f"No model given for {provider.spec.label}: name a model.")
        if self.base_url is None and provider.spec.base_url is None:
            where = "resource endpoint" if provider is Provider.AZURE else "base URL"
            raise ExplorerError(f"{provider.spec.label} needs a {where}: give its address.")
        if self.base_url is not None:
            _check_url(self.base_url, "endpoint")
        if provider.spec.needs_key and not self.api_key and provider is not Provider.AZURE:
            raise ExplorerError(f"{provider.spec.label} needs a key: paste it in the key field.")
        if provider is Provider.AZURE and not self.api_version:
            object.__setattr__(self, "api_version", DEFAULT_AZURE_API_VERSION)
        self._check_numbers()
        self._check_dimensions()

    def _check_numbers(self) -> None:
        for name in ("timeout", "deadline"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ExplorerError(f"{name}={value!r} must be a finite number of seconds >= 0.")
        for name in ("timeout", "deadline"):
            if getattr(self, name) == 0:
                raise ExplorerError(f"{name}=0 would fail every request; give seconds > 0.")
        for name, low in (("max_retries", 0), ("max_inputs", 1), ("native_dims", 1)):
            value = getattr(self, name)
            if value is None and name != "max_retries":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ExplorerError(f"{name}={value!r} must be a whole number >= {low}.")

    def _check_dimensions(self) -> None:
        if self.dimensions is None:
            return
        dims = self.dimensions
        if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
            raise ExplorerError(f"dimensions={dims!r} must be a whole number >= 1.")
        info = model_info(self.model)
        if info is None:
            # Unknown models: the server decides, and its refusal becomes a clear error.
            return
        if not info.supports_dimensions:
            raise ExplorerError(
                f"{self.model} does not accept `dimensions`: it always returns {info.dims} "
                "values. Use a text-embedding-3 model, or truncate locally on the MRL page."
            )
        if dims > info.dims:
            raise ExplorerError(
                f"dimensions={dims} is more than {self.model}'s {info.dims}; "
                f"choose 1 to {info.dims}."
            )

    @property
    def kind(self) -> Provider:
        """``provider`` as a ``Provider`` (it is coerced on construction)."""
        return Provider.coerce(self.provider)

    @property
    def spec(self) -> ProviderSpec:
        return self.kind.spec

    @property
    def info(self) -> ModelInfo | None:
        return model_info(self.model)

    @property
    def endpoint(self) -> str:
        """Where requests go, without secrets; on Azure it includes the deployment."""
        base = public_url(self.base_url or self.spec.base_url or "")
        if self.provider is Provider.AZURE:
            return f"{base}/openai/deployments/{self.deployment or self.model}"
        return base

    @property
    def name(self) -> str:
        """Registry name: ``provider:model``, with ``@dims`` when shortened."""
        target = self.deployment if self.provider is Provider.AZURE and self.deployment else None
        base = f"{self.kind.value}:{target or self.model}"
        return f"{base}@{self.dimensions}" if self.dimensions else base


@dataclass(frozen=True)
class EndpointPolicy:
    """Which hosts user-given addresses may reach: with ``allow_private`` False, only hosts
    whose every address is public (not private, loopback, link-local, reserved, multicast or
    unspecified), so that users of a shared app cannot reach the server's own network."""

    allow_private: bool = True


ANY_HOST = EndpointPolicy()
PUBLIC_ONLY = EndpointPolicy(allow_private=False)


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (``127.0.0.1``, ``::1``)."""
    name = (host or "").strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def endpoint_policy(server_address: str | None, env: Mapping[str, str]) -> EndpointPolicy:
    """The policy for addresses users type: any host while the app listens on loopback only
    (``server_address``, as the project's config sets it); public hosts only once it is
    served to others (any other address, or none: Streamlit then listens on every interface),
    unless ``env`` sets ``EXPLORER_ALLOW_PRIVATE_ENDPOINTS=1``."""
    if (server_address or "").strip() and is_loopback_host(server_address):
        return ANY_HOST
    allowed = (env.get(ALLOW_PRIVATE_ENV) or "").strip().lower() in ("1", "true", "yes", "on")
    return ANY_HOST if allowed else PUBLIC_ONLY


def _non_public(address: str) -> str | None:
    """What kind of non-public address ``address`` is (``"loopback"``...), None if public."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    kinds = (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    )
    return next((kind for kind, hit in kinds if hit), None)


def check_endpoint(url: str, policy: EndpointPolicy, what: str = "endpoint") -> None:
    """Raise ExplorerError when ``policy`` forbids ``url``'s host. The host is resolved
    (``socket.getaddrinfo``) and every address it resolves to must be public."""
    if policy.allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ExplorerError(
            f"The {what} {public_url(url)!r} names a host that could not be found; check the "
            "address."
        ) from None
    for info in infos:
        kind = _non_public(str(info[4][0]))
        if kind is not None:
            raise ExplorerError(
                f"The {what} {public_url(url)!r} resolves to a {kind} address. This app is "
                "served to others, so it only calls public addresses; the operator can allow "
                f"private ones with {ALLOW_PRIVATE_ENV}=1."
            )


def _split_dims(entry: str) -> tuple[str, int | None]:
    """``"text-embedding-3-small@256"`` -> ``("text-embedding-3-small", 256)``."""
    model, sep, dims = entry.strip().partition("@")
    if not sep:
        return model, None
    if not dims.isdigit():
        raise ExplorerError(
            f"Model entry {entry.strip()!r}: after '@' give a whole number of dimensions."
        )
    return model, int(dims)


def _models(value: str | None, default: str) -> list[tuple[str, int | None]]:
    return [_split_dims(m) for m in (value or default).split(",") if m.strip()]


def load_env(path: str | None = None) -> dict[str, str]:
    """The process environment over the repo's ``.env`` file (environment wins)."""
    file_values = dotenv_values(path or REPO_ROOT / ".env")
    merged = {k: v for k, v in file_values.items() if v is not None}
    merged.update(os.environ)
    return merged


Getter = Callable[[str], str | None]


def _openai_configs(get: Getter) -> list[RemoteConfig]:
    if not (key := get("OPENAI_API_KEY")):
        return []
    base = get("OPENAI_BASE_URL")
    return [
        RemoteConfig(Provider.OPENAI, m, key, base, dimensions=d)
        for m, d in _models(get("OPENAI_EMBEDDING_MODELS"), ",".join(MODELS))
    ]


def _azure_configs(get: Getter) -> list[RemoteConfig]:
    endpoint, entry = get("AZURE_OPENAI_ENDPOINT"), get("AZURE_OPENAI_EMBEDDING_DEPLOYMENT")
    if not (endpoint and entry):
        return []
    deployment, dims = _split_dims(entry)
    config = RemoteConfig(
        Provider.AZURE,
        get("AZURE_OPENAI_EMBEDDING_MODEL") or deployment,
        api_key=get("AZURE_OPENAI_API_KEY"),
        base_url=endpoint,
        deployment=deployment,
        api_version=get("AZURE_OPENAI_API_VERSION") or get("OPENAI_API_VERSION"),
        dimensions=dims,
    )
    return [config]


def _github_configs(get: Getter) -> list[RemoteConfig]:
    if not (token := get("GITHUB_TOKEN")):
        return []
    base = get("GITHUB_MODELS_ENDPOINT")
    default = "openai/text-embedding-3-small,openai/text-embedding-3-large"
    return [
        RemoteConfig(Provider.GITHUB, m, token, base, dimensions=d)
        for m, d in _models(get("GITHUB_EMBEDDING_MODELS"), default)
    ]


def _ollama_configs(get: Getter) -> list[RemoteConfig]:
    base = get("OLLAMA_BASE_URL")
    return [
        RemoteConfig(Provider.OLLAMA, m, None, base, dimensions=d)
        for m, d in _models(get("OLLAMA_EMBEDDING_MODELS"), "")
    ]


def _compatible_configs(get: Getter) -> list[RemoteConfig]:
    if not (base := get("OPENAI_COMPATIBLE_BASE_URL")):
        return []
    key = get("OPENAI_COMPATIBLE_API_KEY")
    return [
        RemoteConfig(Provider.COMPATIBLE, m, key, base, dimensions=d)
        for m, d in _models(get("OPENAI_COMPATIBLE_MODELS"), "all-MiniLM-L6-v2")
    ]


_READERS: dict[Provider, Callable[[Getter], list[RemoteConfig]]] = {
    Provider.OPENAI: _openai_configs,
    Provider.AZURE: _azure_configs,
    Provider.GITHUB: _github_configs,
    Provider.OLLAMA: _ollama_configs,
    Provider.COMPATIBLE: _compatible_configs,
}


@dataclass(frozen=True)
class EnvConfigs:
    """Models configured in an environment, and one message per provider whose settings
    are unusable (naming the setting, never a key)."""

    configs: tuple[RemoteConfig, ...]
    problems: tuple[str, ...]


def configs_from_env(env: Mapping[str, str]) -> EnvConfigs:
    """One ``RemoteConfig`` per model each configured provider offers.

    Variables (all optional; see ``.env.sample``): ``OPENAI_API_KEY`` [``OPENAI_BASE_URL``,
    ``OPENAI_EMBEDDING_MODELS``]; ``AZURE_OPENAI_ENDPOINT`` + ``AZURE_OPENAI_EMBEDDING_DEPLOYMENT``
    [``AZURE_OPENAI_EMBEDDING_MODEL``, ``AZURE_OPENAI_API_KEY`` (else Entra ID),
    ``AZURE_OPENAI_API_VERSION``]; ``GITHUB_TOKEN`` [``GITHUB_MODELS_ENDPOINT``,
    ``GITHUB_EMBEDDING_MODELS``]; ``OLLAMA_EMBEDDING_MODELS`` [``OLLAMA_BASE_URL``];
    ``OPENAI_COMPATIBLE_BASE_URL`` [``OPENAI_COMPATIBLE_MODELS``, ``OPENAI_COMPATIBLE_API_KEY``].
    Model lists are comma-separated; ``model@256`` adds a shortened variant.
    """

    def get(name: str) -> str | None:
        value = (env.get(name) or "").strip()
        return value or None

    configs: list[RemoteConfig] = []
    problems: list[str] = []
    for provider, read in _READERS.items():
        try:
            configs += read(get)
        except ExplorerError as exc:
            problems.append(f"{provider.spec.label} settings skipped: {exc}")
    return EnvConfigs(tuple(configs), tuple(problems))
