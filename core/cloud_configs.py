"""One set of vector-index choices, written as each hosted system's own configuration.

The systems that only run in a cloud (Azure AI Search, Azure Cosmos DB for NoSQL, Qdrant,
Weaviate) and pgvector cannot be measured on this machine, but the choices made here —
metric, HNSW parameters, int8/binary quantization, oversampling and rescoring, MRL
truncation — can be exported as the request each of them expects. Each builder follows one
documented API version (cited on the builder). A value outside a system's documented range
is moved to the nearest allowed value and a note says so; a choice the system cannot express
at all (a metric it lacks, more dimensions than it indexes) raises ``ExplorerError``, so no
builder ever emits a configuration the system would reject.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from core.errors import ExplorerError
from core.metrics import Metric
from core.modes import Mode

# Lower-case SQL-style identifiers: valid as a pgvector table/column name without quoting,
# as a Cosmos DB path segment, an Azure field name and a Qdrant/Weaviate vector name.
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Quantization(Mode):
    """How the hosted index stores vectors: full floats, int8 per value, or one bit."""

    NONE = "none"
    INT8 = "int8"
    BINARY = "binary"


@dataclass(frozen=True)
class CloudSettings:
    """The choices every exporter reads.

    ``dims`` is the stored vector length; ``truncate_to`` (MRL) keeps its first values for
    the index; ``oversampling`` multiplies k for the candidates that are rescored with the
    full vectors when ``rescore`` is on. ``name`` names the index/collection/table and
    ``field`` the vector property; both must be lower-case identifiers.
    """

    dims: int
    metric: Metric = Metric.COSINE
    m: int = 16
    ef_construction: int = 200
    ef_search: int = 50
    quantization: Quantization = Quantization.NONE
    rescore: bool = True
    oversampling: float = 4.0
    truncate_to: int | None = None
    k: int = 10
    name: str = "items"
    field: str = "embedding"

    def __post_init__(self) -> None:
        object.__setattr__(self, "metric", Metric.coerce(self.metric))
        object.__setattr__(self, "quantization", Quantization.coerce(self.quantization))
        for what, value, low in (
            ("dims", self.dims, 1),
            ("m", self.m, 2),
            ("ef_construction", self.ef_construction, 1),
            ("ef_search", self.ef_search, 1),
            ("k", self.k, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ExplorerError(f"{what} must be a whole number ≥ {low}, got {value!r}.")
        if not math.isfinite(self.oversampling) or not 1 <= self.oversampling <= 100:
            raise ExplorerError(
                f"oversampling must be between 1 and 100 (× k), got {self.oversampling!r}."
            )
        if self.truncate_to is not None and not 2 <= self.truncate_to < self.dims:
            raise ExplorerError(
                f"MRL truncation keeps 2 … {self.dims - 1} of the {self.dims} dimensions, "
                f"got {self.truncate_to!r}."
            )
        for what, text in (("name", self.name), ("field", self.field)):
            if not isinstance(text, str) or not IDENTIFIER.match(text):
                raise ExplorerError(
                    f"The {what} {text!r} must be a lower-case identifier: a letter or _, "
                    "then letters, digits or _ (at most 63)."
                )

    @property
    def index_dims(self) -> int:
        """The number of dimensions the index holds: the MRL prefix, else all of them."""
        return self.truncate_to or self.dims

    @property
    def candidates(self) -> int:
        """How many candidates a rescoring query fetches: ``ceil(k × oversampling)``."""
        return math.ceil(self.k * self.oversampling)


@dataclass(frozen=True)
class Step:
    """One request or statement: a heading (HTTP method and path, or what SQL does), the
    language for display, and the text; ``body`` is the parsed JSON for JSON steps."""

    title: str
    language: str
    text: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class CloudConfig:
    """A system's configuration for the settings: steps to run, notes on what was adjusted
    or cannot be expressed, and the document (with API version) the format follows."""

    system: str
    source: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()

    @property
    def language(self) -> str:
        """``"sql"`` when every step is SQL, else ``"json"``."""
        return "sql" if all(s.language == "sql" for s in self.steps) else "json"

    @property
    def text(self) -> str:
        """Every step under a comment line with its title, ready to copy."""
        mark = "--" if self.language == "sql" else "//"
        return "\n\n".join(f"{mark} {s.title}\n{s.text}" for s in self.steps) + "\n"

    @property
    def filename(self) -> str:
        """A download name such as ``azure_ai_search.json``."""
        slug = re.sub(r"[^a-z0-9]+", "_", self.system.lower()).strip("_")
        return f"{slug}.{'sql' if self.language == 'sql' else 'txt'}"


# Where a query's vector goes: the exported query bodies are templates for it.
QUERY_VECTOR = "$QUERY_VECTOR"


def _json_step(title: str, body: dict[str, Any]) -> Step:
    return Step(title, "json", json.dumps(body, indent=2), body)


class _Notes:
    """Collects a system's notes and moves values into its documented ranges."""

    def __init__(self, system: str) -> None:
        self.system = system
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)

    def fit(self, what: str, value: int, low: int, high: int) -> int:
        """``value`` clamped to ``[low, high]``; a note names the change."""
        fitted = min(max(value, low), high)
        if fitted != value:
            self.add(f"{what} = {value} is outside {self.system}'s {low} … {high}: using {fitted}.")
        return fitted


def _metric_and_dims(
    system: str,
    s: CloudSettings,
    metrics: dict[Metric, str],
    dims: int,
    high: int,
    low: int = 1,
) -> str:
    """``system``'s name for the settings' metric (:func:`_metric`), after checking its
    vectors' ``dims`` (:func:`_dims`)."""
    name = _metric(system, s, metrics)
    _dims(system, dims, high, low)
    return name


def _metric(system: str, s: CloudSettings, metrics: dict[Metric, str]) -> str:
    """``system``'s name for the settings' metric; ExplorerError when it has none."""
    if s.metric not in metrics:
        offered = ", ".join(metrics.values())
        raise ExplorerError(f"{system} has no {s.metric.value} metric; it offers {offered}.")
    return metrics[s.metric]


def _dims(system: str, dims: int, high: int, low: int = 1, what: str = "vectors") -> None:
    """ExplorerError when ``system`` cannot index ``what`` of ``dims`` dimensions (its range
    is ``low`` … ``high``)."""
    if not low <= dims <= high:
        raise ExplorerError(f"{system} indexes {what} of {low} … {high} dimensions, got {dims}.")


# --- Azure AI Search ---------------------------------------------------------------------
# Follows the Search Service REST API 2025-09-01 (stable): "Create Index" with
# vectorSearch.algorithms/profiles/compressions, as in the spec's example
# specification/search/data-plane/Azure.Search/stable/2025-09-01/examples/
# SearchServiceCreateIndex.json, and learn.microsoft.com/azure/search/
# vector-search-how-to-quantization (rescoringOptions: enableRescoring, defaultOversampling,
# rescoreStorageMethod) and vector-search-how-to-truncate-dimensions (truncationDimension,
# only together with scalar or binary quantization). HNSW ranges from vector-search-how-to-
# create-index: m 4–10, efConstruction 100–1000, efSearch 100–1000; fields 2–4096 dims.
AZURE_API_VERSION = "2025-09-01"
AZURE_METRICS = {Metric.COSINE: "cosine", Metric.DOT: "dotProduct", Metric.EUCLIDEAN: "euclidean"}
AZURE_MAX_DIMS = 4096


def azure_ai_search(s: CloudSettings) -> CloudConfig:
    """Azure AI Search index definition (``PUT /indexes/{name}``) for the settings."""
    system = "Azure AI Search"
    notes = _Notes(system)
    metric = _metric_and_dims(system, s, AZURE_METRICS, s.dims, AZURE_MAX_DIMS, low=2)
    hnsw = {
        "metric": metric,
        "m": notes.fit("m", s.m, 4, 10),
        "efConstruction": notes.fit("efConstruction", s.ef_construction, 100, 1000),
        "efSearch": notes.fit("efSearch", s.ef_search, 100, 1000),
    }
    profile: dict[str, Any] = {"name": f"{s.field}_profile", "algorithm": "hnsw"}
    vector_search: dict[str, Any] = {
        "algorithms": [{"name": "hnsw", "kind": "hnsw", "hnswParameters": hnsw}],
        "profiles": [profile],
    }
    if s.quantization is Quantization.NONE:
        if s.truncate_to is not None:
            notes.add(
                f"{system} truncates (truncationDimension) only together with scalar or "
                "binary quantization: choose int8 or binary to export the truncation."
            )
        if s.rescore:
            notes.add("Rescoring applies to compressed vectors only; nothing to rescore.")
    else:
        compression: dict[str, Any] = {"name": f"{s.field}_{s.quantization.value}"}
        if s.quantization is Quantization.INT8:
            compression["kind"] = "scalarQuantization"
            compression["scalarQuantizationParameters"] = {"quantizedDataType": "int8"}
        else:
            compression["kind"] = "binaryQuantization"
        rescoring: dict[str, Any] = {"enableRescoring": s.rescore}
        if s.rescore:
            rescoring["defaultOversampling"] = float(s.oversampling)
            rescoring["rescoreStorageMethod"] = "preserveOriginals"
        compression["rescoringOptions"] = rescoring
        if s.truncate_to is not None:
            compression["truncationDimension"] = s.truncate_to
            if s.quantization is Quantization.BINARY and s.truncate_to < 1024:
                notes.add(
                    f"Microsoft recommends truncationDimension ≥ 1024 with binary "
                    f"quantization; {s.truncate_to} may lose noticeable recall."
                )
        vector_search["compressions"] = [compression]
        profile["compression"] = compression["name"]
    index = {
        "name": s.name,
        "fields": [
            {"name": "id", "type": "Edm.String", "key": True, "filterable": True},
            {
                "name": s.field,
                "type": "Collection(Edm.Single)",
                "searchable": True,
                "retrievable": True,
                "dimensions": s.dims,
                "vectorSearchProfile": profile["name"],
            },
        ],
        "vectorSearch": vector_search,
    }
    query = {
        "select": "id",
        "vectorQueries": [
            {
                "kind": "vector",
                "vector": QUERY_VECTOR,
                "fields": s.field,
                "k": s.k,
                "exhaustive": False,
            }
        ],
    }
    return CloudConfig(
        system,
        f"Azure AI Search REST API {AZURE_API_VERSION}: Create Index, Search Documents",
        (
            _json_step(f"PUT /indexes/{s.name}?api-version={AZURE_API_VERSION}", index),
            _json_step(
                f"POST /indexes/{s.name}/docs/search?api-version={AZURE_API_VERSION}"
                f" ({QUERY_VECTOR}: the query's {s.dims} numbers)",
                query,
            ),
        ),
        tuple(notes.items),
    )


# --- Azure Cosmos DB for NoSQL -----------------------------------------------------------
# Follows learn.microsoft.com/azure/cosmos-db/nosql/vector-search and index-vector-data
# (container vector policy: path, dataType, distanceFunction, dimensions; vectorIndexes:
# flat ≤ 505 dims, quantizedFlat and diskANN ≤ 4096) and the @azure/cosmos 4.3 VectorIndex
# reference (quantizationByteSize ≤ min(dims, 512), indexingSearchListSize 25 … 500); the
# Microsoft.DocumentDB Swagger 2025-10-15 (SqlContainerResource, VectorIndex) sets
# quantizationByteSize ≥ 4. Body of the REST "Create a Collection" (POST /dbs/{db}/colls);
# query with VectorDistance.
COSMOS_METRICS = {Metric.COSINE: "cosine", Metric.DOT: "dotproduct", Metric.EUCLIDEAN: "euclidean"}
COSMOS_MAX_DIMS = 4096
COSMOS_MIN_PQ_BYTES = 4


def cosmos_db(s: CloudSettings) -> CloudConfig:
    """Azure Cosmos DB for NoSQL container with a vector embedding and indexing policy."""
    system = "Azure Cosmos DB"
    notes = _Notes(system)
    dims = s.index_dims
    metric = _metric_and_dims(system, s, COSMOS_METRICS, dims, COSMOS_MAX_DIMS)
    if s.truncate_to is not None:
        notes.add(
            f"{system} cannot truncate vectors: store the first {dims} values of each "
            "vector (re-normalised) yourself; the policy below declares that length."
        )
    path = f"/{s.field}"
    index: dict[str, Any] = {"path": path, "type": "diskANN"}
    # DiskANN's candidate list while building plays the role of HNSW's ef_construction.
    index["indexingSearchListSize"] = notes.fit(
        "indexingSearchListSize (from ef_construction)", s.ef_construction, 25, 500
    )
    if s.quantization is not Quantization.NONE and dims < COSMOS_MIN_PQ_BYTES:
        notes.add(
            f"{system}'s quantizationByteSize is at least {COSMOS_MIN_PQ_BYTES} and at most "
            f"the {dims} dimensions: left to the service's default."
        )
    elif s.quantization is not Quantization.NONE:
        # Cosmos DB compresses with product quantization; this byte budget per vector equals
        # the chosen scheme's: one byte per dimension (int8) or one bit (binary).
        per_vector = dims if s.quantization is Quantization.INT8 else math.ceil(dims / 8)
        index["quantizationByteSize"] = notes.fit(
            "quantizationByteSize", per_vector, COSMOS_MIN_PQ_BYTES, min(dims, 512)
        )
        notes.add(
            f"{system} compresses with product quantization, not {s.quantization.value}: "
            f"quantizationByteSize = {index['quantizationByteSize']} bytes per vector "
            "matches its size."
        )
    notes.add(
        f"DiskANN in {system} has no M or ef_search setting, and re-ranks its compressed "
        "candidates with the full vectors itself (no oversampling setting)."
    )
    container = {
        "id": s.name,
        "partitionKey": {"paths": ["/id"], "kind": "Hash", "version": 2},
        "vectorEmbeddingPolicy": {
            "vectorEmbeddings": [
                {
                    "path": path,
                    "dataType": "float32",
                    "distanceFunction": metric,
                    "dimensions": dims,
                }
            ]
        },
        "indexingPolicy": {
            "indexingMode": "consistent",
            "automatic": True,
            "includedPaths": [{"path": "/*"}],
            # The vector itself stays out of the range index (documented recommendation).
            "excludedPaths": [{"path": '/"_etag"/?'}, {"path": f"{path}/*"}],
            "vectorIndexes": [index],
        },
    }
    query = (
        f"SELECT TOP {s.k} c.id, VectorDistance(c.{s.field}, @query) AS score\n"
        f"FROM c\nORDER BY VectorDistance(c.{s.field}, @query)"
    )
    return CloudConfig(
        system,
        "Azure Cosmos DB for NoSQL: vector search, vector indexing policies (2024-2025)",
        (
            _json_step("POST /dbs/{database}/colls (container properties)", container),
            Step("NoSQL query (@query: the query vector)", "sql", query),
        ),
        tuple(notes.items),
    )


# --- Qdrant --------------------------------------------------------------------------------
# Follows the Qdrant REST API v1.15 (api.qdrant.tech/v-1-15-x): "Create a collection"
# (vectors size/distance, hnsw_config m/ef_construct ≥ 4, quantization_config scalar int8 or
# binary with always_ram) and "Query points" (params.hnsw_ef, params.quantization rescore /
# oversampling; prefetch + using for a second named vector), and the quantization guide.
QDRANT_METRICS = {
    Metric.COSINE: "Cosine",
    Metric.DOT: "Dot",
    Metric.EUCLIDEAN: "Euclid",
    Metric.MANHATTAN: "Manhattan",
}
QDRANT_MAX_DIMS = 65536


def qdrant(s: CloudSettings) -> CloudConfig:
    """Qdrant collection (``PUT /collections/{name}``) and the matching query body."""
    system = "Qdrant"
    notes = _Notes(system)
    distance = _metric_and_dims(system, s, QDRANT_METRICS, s.dims, QDRANT_MAX_DIMS)
    collection: dict[str, Any] = {
        "hnsw_config": {
            "m": s.m,
            "ef_construct": notes.fit("ef_construct", s.ef_construction, 4, 10**6),
        },
    }
    vectors: dict[str, Any] = {s.field: {"size": s.dims, "distance": distance}}
    mrl = f"{s.field}_first_{s.truncate_to}" if s.truncate_to else None
    if mrl:
        # Qdrant stores what it is sent: the MRL prefix becomes its own named vector, searched
        # first, and the full vector re-ranks its candidates.
        vectors[mrl] = {"size": s.truncate_to, "distance": distance}
        notes.add(
            f"Upsert both vectors per point: {s.field} (all {s.dims} values) and {mrl} "
            f"(the first {s.truncate_to}, re-normalised)."
        )
    collection = {"vectors": vectors, **collection}
    if s.quantization is Quantization.INT8:
        collection["quantization_config"] = {
            "scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}
        }
    elif s.quantization is Quantization.BINARY:
        collection["quantization_config"] = {"binary": {"always_ram": True}}
    params: dict[str, Any] = {"hnsw_ef": s.ef_search, "exact": False}
    if s.quantization is not Quantization.NONE:
        params["quantization"] = {"ignore": False, "rescore": s.rescore}
        if s.rescore:
            params["quantization"]["oversampling"] = float(s.oversampling)
    query: dict[str, Any] = {
        "query": QUERY_VECTOR,
        "using": s.field,
        "limit": s.k,
        "params": params,
    }
    if mrl:
        query = {
            "prefetch": {
                "query": f"{QUERY_VECTOR}_FIRST_{s.truncate_to}",
                "using": mrl,
                "limit": s.candidates,
                "params": params,
            },
            "query": QUERY_VECTOR,
            "using": s.field,
            "limit": s.k,
        }
    return CloudConfig(
        system,
        "Qdrant REST API v1.15: Create a collection, Query points",
        (
            _json_step(f"PUT /collections/{s.name}", collection),
            _json_step(
                f"POST /collections/{s.name}/points/query ({QUERY_VECTOR}: the query's numbers)",
                query,
            ),
        ),
        tuple(notes.items),
    )


# --- Weaviate ------------------------------------------------------------------------------
# Follows docs.weaviate.io (v1.2x): config-refs/indexing/vector-index (hnsw: distance,
# efConstruction, maxConnections, ef; bq {enabled}; sq {enabled, trainingLimit,
# rescoreLimit}) and config-refs/distances (cosine, dot, l2-squared, manhattan); the
# collection is created with POST /v1/schema using a named vector in vectorConfig.
WEAVIATE_METRICS = {
    Metric.COSINE: "cosine",
    Metric.DOT: "dot",
    Metric.EUCLIDEAN: "l2-squared",
    Metric.MANHATTAN: "manhattan",
}


def weaviate(s: CloudSettings) -> CloudConfig:
    """Weaviate collection definition (``POST /v1/schema``) with one named vector."""
    system = "Weaviate"
    notes = _Notes(system)
    index: dict[str, Any] = {
        "distance": WEAVIATE_METRICS[s.metric],
        "maxConnections": s.m,
        "efConstruction": s.ef_construction,
        "ef": s.ef_search,
    }
    if s.metric is Metric.EUCLIDEAN:
        notes.add("Weaviate ranks by squared Euclidean distance (l2-squared): same order.")
    if s.quantization is Quantization.INT8:
        index["sq"] = {"enabled": True, "trainingLimit": 100000}
        if s.rescore:
            index["sq"]["rescoreLimit"] = s.candidates
        else:
            notes.add("Weaviate's scalar quantization always rescores its candidates.")
    elif s.quantization is Quantization.BINARY:
        index["bq"] = {"enabled": True}
        notes.add(
            "With binary quantization Weaviate's HNSW rescores candidates with the original "
            "vectors itself; ef sets how many it considers."
        )
    if s.truncate_to is not None:
        notes.add(
            f"Weaviate cannot truncate vectors: send the first {s.truncate_to} values "
            "(re-normalised) as this named vector."
        )
    # Weaviate collection names start with a capital letter.
    cls = "".join(part.capitalize() for part in s.name.split("_") if part) or "Items"
    collection = {
        "class": cls,
        "vectorConfig": {
            s.field: {
                "vectorizer": {"none": {}},
                "vectorIndexType": "hnsw",
                "vectorIndexConfig": index,
            }
        },
        "properties": [{"name": "label", "dataType": ["text"]}],
    }
    return CloudConfig(
        system,
        "Weaviate REST /v1/schema, vector index reference (v1.2x)",
        (_json_step("POST /v1/schema", collection),),
        tuple(notes.items),
    )


# --- pgvector ------------------------------------------------------------------------------
# Follows the pgvector 0.8 README (github.com/pgvector/pgvector): HNSW WITH (m 2–100,
# ef_construction 4–1000 and ≥ 2·m), SET hnsw.ef_search (1–1000, also the most rows an
# index scan returns), operator classes vector_*_ops / halfvec_*_ops / bit_hamming_ops,
# indexable dims vector ≤ 2000, halfvec ≤ 4000, bit ≤ 64000, and its "Binary Quantization"
# and "Subvectors" sections (expression indexes, re-rank with the full vectors).
PG_OPS = {
    Metric.COSINE: ("cosine", "<=>"),
    Metric.DOT: ("ip", "<#>"),
    Metric.EUCLIDEAN: ("l2", "<->"),
    Metric.MANHATTAN: ("l1", "<+>"),
}
PG_MAX_DIMS = {"vector": 2000, "halfvec": 4000, "bit": 64000}


def pgvector(s: CloudSettings) -> CloudConfig:
    """pgvector DDL, the session setting and the search query (``$1`` is the query vector)."""
    system = "pgvector"
    notes = _Notes(system)
    ops, op = PG_OPS[s.metric]
    table, col, d, m = s.name, s.field, s.dims, s.index_dims
    m_links = notes.fit("m", s.m, 2, 100)
    efc = notes.fit("ef_construction", s.ef_construction, max(4, 2 * m_links), 1000)
    # The indexed expression: the column itself, its MRL prefix, and/or a cheaper type.
    source = f"subvector({col}, 1, {m})" if s.truncate_to else col
    if s.quantization is Quantization.BINARY:
        kind, expr, op_class, qexpr, qop = (
            "bit",
            f"binary_quantize({source})::bit({m})",
            "bit_hamming_ops",
            f"binary_quantize({'subvector($1, 1, ' + str(m) + ')' if s.truncate_to else '$1'})",
            "<~>",
        )
    else:
        kind = "vector"
        if s.truncate_to or s.quantization is Quantization.INT8 or m > PG_MAX_DIMS["vector"]:
            kind = "halfvec"
        if s.quantization is Quantization.INT8:
            notes.add("pgvector has no int8 type; halfvec (2 bytes per value) is its closest.")
        elif kind == "halfvec" and not s.truncate_to:
            notes.add(f"pgvector indexes vector only up to 2000 dims: indexing halfvec({m}).")
        if kind == "vector":
            expr, qexpr = col, "$1"
        else:
            expr = f"({source})::halfvec({m})"
            qexpr = (
                f"(subvector($1, 1, {m}))::halfvec({m})" if s.truncate_to else f"$1::halfvec({m})"
            )
        op_class, qop = f"{kind}_{ops}_ops", op
    _dims(system, m, PG_MAX_DIMS[kind], what=kind)  # every metric has an operator class
    approximate = kind != "vector"
    reranked = approximate and s.rescore
    limit = s.candidates if reranked else s.k
    ef = notes.fit("hnsw.ef_search", s.ef_search, 1, 1000)
    if ef < limit:
        notes.add(
            f"An HNSW scan returns at most hnsw.ef_search rows: raised to {min(limit, 1000)} "
            f"for the {limit} candidates."
        )
        ef = min(limit, 1000)
    # PostgreSQL cuts identifiers at 63 bytes: keep the suffix that says what the index is.
    index_name = f"{table}_{col}"[: 63 - len(kind) - 6] + f"_{kind}_hnsw"
    on = expr if expr == col else f"({expr})"
    steps = [
        Step("Once per database", "sql", "CREATE EXTENSION IF NOT EXISTS vector;"),
        Step(
            "The table: full vectors are kept (and re-rank the candidates)",
            "sql",
            f"CREATE TABLE {table} (\n    id bigint PRIMARY KEY,\n    {col} vector({d})\n);",
        ),
        Step(
            "The HNSW index",
            "sql",
            f"CREATE INDEX {index_name} ON {table}\n    USING hnsw ({on} {op_class})\n"
            f"    WITH (m = {m_links}, ef_construction = {efc});",
        ),
        Step("Per session (or SET LOCAL in a transaction)", "sql", f"SET hnsw.ef_search = {ef};"),
    ]
    search = f"SELECT id FROM {table}\nORDER BY {expr} {qop} {qexpr}\nLIMIT {limit}"
    if reranked:
        # The candidates carry their full vectors out of the subquery for the re-rank.
        search = search.replace("SELECT id FROM", f"SELECT id, {col} FROM", 1)
        full = (
            f"SELECT id FROM (\n    {search.replace(chr(10), chr(10) + '    ')}\n) AS candidates\n"
            f"ORDER BY {col} {op} $1\nLIMIT {s.k};"
        )
        title = f"Search: {limit} candidates from the index, re-ranked by the full vectors"
        steps.append(Step(title, "sql", full))
    else:
        if approximate:
            notes.add("Rescoring is off: the index's approximate order is the answer.")
        steps.append(Step("Search ($1: the query vector)", "sql", search + ";"))
    return CloudConfig(
        system,
        "pgvector 0.8 README: HNSW, halfvec, binary quantization, subvectors",
        tuple(steps),
        tuple(notes.items),
    )


BUILDERS = {
    "Azure AI Search": azure_ai_search,
    "Azure Cosmos DB": cosmos_db,
    "Qdrant": qdrant,
    "Weaviate": weaviate,
    "pgvector": pgvector,
}


@dataclass(frozen=True)
class CloudExport:
    """A system's configuration, or the reason it cannot express the settings."""

    system: str
    config: CloudConfig | None = None
    reason: str = field(default="")


def export_all(s: CloudSettings) -> list[CloudExport]:
    """Every system's export for the settings, in ``BUILDERS`` order."""
    out = []
    for system, build in BUILDERS.items():
        try:
            out.append(CloudExport(system, build(s)))
        except ExplorerError as err:
            out.append(CloudExport(system, reason=str(err)))
    return out
