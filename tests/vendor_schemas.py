"""The exported cloud configurations checked against what each vendor publishes.

Each vendor's Python SDK carries its REST format as code generated from the published API
description, so the exact JSON ``core.cloud_configs`` exports is checked against it:

- Azure AI Search: ``azure-search-documents`` 11.6.0, whose ``_generated`` models are
  generated from the Search Service / Search Index Swagger of REST API 2025-09-01
  (``SearchIndex`` for Create Index, ``SearchRequest`` for Search Documents).
- Azure Cosmos DB: ``azure-mgmt-cosmosdb`` 9.9.0, generated from the Microsoft.DocumentDB
  Swagger 2025-10-15: ``SqlContainerResource`` is the container body (id, partitionKey,
  indexingPolicy with vectorIndexes, vectorEmbeddingPolicy) the data-plane REST API takes too.
- Qdrant: ``qdrant-client`` 1.15.1, whose pydantic models (``extra="forbid"``) are generated
  from Qdrant 1.15's OpenAPI: ``CreateCollection`` and ``QueryRequest``.
- Weaviate: ``weaviate-client`` 4.24.1: the body its ``collections.create`` would send for the
  same choices (``_CollectionConfigCreate._to_dict``) must hold every key and value we export.

The Azure models are AutoRest (msrest) classes: ``_attribute_map`` names each JSON key and its
type, ``_validation`` the required keys and ranges, ``_subtype_map`` the polymorphic kinds,
and the ``__init__`` annotations name the enums. ``check_msrest`` walks a body through them
and refuses any key the model does not know, so a misspelt key fails.
"""

from __future__ import annotations

import inspect
import re
from enum import Enum
from types import ModuleType
from typing import Any

import pytest

from core.cloud_configs import QUERY_VECTOR, CloudConfig, CloudSettings, Quantization
from core.metrics import Metric

# A list of one of these is an Azure "Collection(...)" field type.
_COLLECTION = re.compile(r"^Collection\((.+)\)$")


def _enum_values(cls: type, attr: str, models: ModuleType) -> set[str] | None:
    """The values of the enum ``cls.__init__`` names for ``attr``, or None when it names none."""
    param = inspect.signature(cls.__init__).parameters.get(attr)
    if param is None:
        return None
    for name in re.findall(r"_models\.(\w+)", str(param.annotation)):
        enum = getattr(models, name, None)
        if isinstance(enum, type) and issubclass(enum, Enum):
            return {str(e.value) for e in enum}
    return None


def _check_value(value: Any, kind: str, where: str, models: ModuleType) -> None:
    """``value`` has the msrest type ``kind`` (``str``, ``int``, ``[X]``, a model name …)."""
    if kind.startswith("["):
        assert isinstance(value, list), f"{where}: expected a list, got {value!r}"
        for i, item in enumerate(value):
            _check_value(item, kind[1:-1], f"{where}[{i}]", models)
    elif kind.startswith("{"):
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        for key, item in value.items():
            _check_value(item, kind[1:-1], f"{where}.{key}", models)
    elif kind == "str":
        assert isinstance(value, str), f"{where}: expected a string, got {value!r}"
    elif kind == "bool":
        assert isinstance(value, bool), f"{where}: expected a boolean, got {value!r}"
    elif kind in ("int", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r}"
    elif kind == "float":
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{where}"
    else:
        check_msrest(value, getattr(models, kind), models, where)


def check_msrest(body: Any, cls: type, models: ModuleType, where: str = "$") -> None:
    """``body`` is a valid JSON form of the AutoRest model ``cls``: every key known, every
    required key present, no read-only key, ranges and enums respected, recursively."""
    assert isinstance(body, dict), f"{where}: expected an object, got {body!r}"
    for attr, kinds in getattr(cls, "_subtype_map", {}).items():
        key = cls._attribute_map[attr]["key"]  # type: ignore[attr-defined]
        assert body.get(key) in kinds, f"{where}.{key}: {body.get(key)!r} not in {set(kinds)}"
        cls = getattr(models, kinds[body[key]])
    by_key = {spec["key"]: (attr, spec["type"]) for attr, spec in cls._attribute_map.items()}  # type: ignore[attr-defined]
    unknown = set(body) - set(by_key)
    assert not unknown, f"{where}: {cls.__name__} has no {sorted(unknown)}"
    rules: dict[str, dict[str, Any]] = getattr(cls, "_validation", {})
    for key, (attr, kind) in by_key.items():
        rule = rules.get(attr, {})
        if key not in body:
            assert not rule.get("required"), f"{where}: {cls.__name__} requires {key}"
            continue
        value = body[key]
        assert not rule.get("readonly"), f"{where}.{key} is read-only"
        _check_value(value, kind, f"{where}.{key}", models)
        if "minimum" in rule:
            assert value >= rule["minimum"], f"{where}.{key} = {value} < {rule['minimum']}"
        if "maximum" in rule:
            assert value <= rule["maximum"], f"{where}.{key} = {value} > {rule['maximum']}"
        if "max_length" in rule:
            assert len(value) <= rule["max_length"], f"{where}.{key} is too long"
        if "min_items" in rule:
            assert len(value) >= rule["min_items"], f"{where}.{key} has too few items"
        if "constant" in rule:
            assert value == getattr(cls, attr), f"{where}.{key} must be {getattr(cls, attr)!r}"
        allowed = _enum_values(cls, attr, models)
        if allowed is not None:
            for item in value if isinstance(value, list) else [value]:
                item = _COLLECTION.sub(r"\1", item)
                assert item in allowed, f"{where}.{key} = {item!r} is not one of {allowed}"


def _with_vector(body: Any, n: int) -> Any:
    """``body`` with every query-vector placeholder replaced by ``n`` numbers."""
    if isinstance(body, dict):
        return {k: _with_vector(v, n) for k, v in body.items()}
    if isinstance(body, list):
        return [_with_vector(v, n) for v in body]
    if isinstance(body, str) and body.startswith(QUERY_VECTOR):
        return [0.5] * n
    return body


def _bodies(config: CloudConfig) -> list[Any]:
    return [_with_vector(s.body, 4) for s in config.steps if s.body is not None]


def check_azure_ai_search(config: CloudConfig) -> None:
    """Create Index and Search Documents bodies against azure-search-documents' models."""
    index_models = pytest.importorskip("azure.search.documents.indexes._generated.models")
    query_models = pytest.importorskip("azure.search.documents._generated.models")
    index, query = _bodies(config)
    check_msrest(index, index_models.SearchIndex, index_models)
    check_msrest(query, query_models.SearchRequest, query_models)
    # The SDK reads the body back to the same JSON: nothing it would drop or rename.
    assert index_models.SearchIndex.deserialize(index).serialize() == index
    assert query_models.SearchRequest.deserialize(query).serialize() == query


def check_cosmos_db(config: CloudConfig) -> None:
    """The container body against azure-mgmt-cosmosdb's ``SqlContainerResource``."""
    models = pytest.importorskip("azure.mgmt.cosmosdb.models")
    (container,) = _bodies(config)
    check_msrest(container, models.SqlContainerResource, models)
    assert models.SqlContainerResource.deserialize(container).serialize() == container


def check_qdrant(config: CloudConfig) -> None:
    """Create-collection and query bodies against qdrant-client's generated models, which
    forbid unknown fields; dumping them back gives the same JSON."""
    models = pytest.importorskip("qdrant_client.http.models")
    create, query = _bodies(config)
    for body, model in ((create, models.CreateCollection), (query, models.QueryRequest)):
        parsed = model.model_validate(body)
        assert parsed.model_dump(mode="json", exclude_unset=True) == body


def _subset(ours: Any, theirs: Any, where: str = "$") -> None:
    """Every key and value of ``ours`` is in ``theirs`` (lists item by item)."""
    if isinstance(ours, dict):
        assert isinstance(theirs, dict), f"{where}: {theirs!r} is not an object"
        for key, value in ours.items():
            assert key in theirs, f"{where}: the SDK sends no {key!r} (it sends {sorted(theirs)})"
            _subset(value, theirs[key], f"{where}.{key}")
    elif isinstance(ours, list):
        assert isinstance(theirs, list) and len(ours) == len(theirs), f"{where}: {theirs!r}"
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _subset(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs and type(ours) is type(theirs), f"{where}: {ours!r} ≠ {theirs!r}"


WEAVIATE_DISTANCES = {
    Metric.COSINE: "COSINE",
    Metric.DOT: "DOT",
    Metric.EUCLIDEAN: "L2_SQUARED",
    Metric.MANHATTAN: "MANHATTAN",
}


def check_weaviate(config: CloudConfig, s: CloudSettings) -> None:
    """The collection body is what weaviate-client sends for the same choices, built with
    its own ``Configure`` API (every key and value we export is in the SDK's body, and the
    vector configuration is equal as a whole)."""
    cfg = pytest.importorskip("weaviate.classes.config")
    create = pytest.importorskip("weaviate.collections.classes.config")._CollectionConfigCreate
    quantizer = None
    if s.quantization is Quantization.INT8:
        rescore = {"rescore_limit": s.candidates} if s.rescore else {}
        quantizer = cfg.Configure.VectorIndex.Quantizer.sq(training_limit=100000, **rescore)
    elif s.quantization is Quantization.BINARY:
        quantizer = cfg.Configure.VectorIndex.Quantizer.bq()
    index = cfg.Configure.VectorIndex.hnsw(
        distance_metric=getattr(cfg.VectorDistances, WEAVIATE_DISTANCES[s.metric]),
        ef_construction=s.ef_construction,
        max_connections=s.m,
        ef=s.ef_search,
        quantizer=quantizer,
    )
    (ours,) = _bodies(config)
    sdk = create(
        name=ours["class"],
        properties=[cfg.Property(name="label", data_type=cfg.DataType.TEXT)],
        vector_config=[
            cfg.Configure.Vectors.self_provided(name=s.field, vector_index_config=index)
        ],
    )._to_dict()
    _subset(ours, sdk)
    assert ours["vectorConfig"] == sdk["vectorConfig"]


def check_vendor(config: CloudConfig, s: CloudSettings) -> None:
    """``config`` checked against its vendor's SDK (pgvector's SQL runs on a real server in
    tests/test_cloud_configs.py instead)."""
    if config.system == "Azure AI Search":
        check_azure_ai_search(config)
    elif config.system == "Azure Cosmos DB":
        check_cosmos_db(config)
    elif config.system == "Qdrant":
        check_qdrant(config)
    elif config.system == "Weaviate":
        check_weaviate(config, s)
    else:
        assert config.system == "pgvector" and config.language == "sql", config.system
