//! A stand-in Qdrant server, so the server path of retrieval is tested over Qdrant's real
//! gRPC protocol (the client's own generated server traits) without a Qdrant binary: the
//! requests are translated to Qdrant Edge, Qdrant's own engine, in a temporary directory.
//!
//! It answers exactly what `kiln_rag::ServerStore` sends (collection exists, create and get;
//! upsert, delete by filter, scroll (with vectors when asked), query with prefetches fused by RRF, count, create a
//! field index) and `Unimplemented` for everything else, and refuses requests without the
//! right `api-key` metadata when started with a key.
//!
//! ```ignore
//! let qdrant = QdrantStandIn::start(Some("key")).await;
//! let store = ServerStore::new(qdrant.url(), Some(&Secret::new("key")), timeout);
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use qdrant_client::Payload;
use qdrant_client::qdrant::collections_server::{Collections, CollectionsServer};
use qdrant_client::qdrant::points_server::{Points, PointsServer};
use qdrant_client::qdrant::{self as grpc, condition, r#match, point_id, query, vector_input};
use qdrant_edge::{
    Distance, EdgeConfigBuilder, EdgeShard, EdgeSparseVectorParamsBuilder, EdgeVectorParamsBuilder,
    Filter, Fusion, Modifier, NamedQuery, PointId, PointInsertOperations, PointOperations,
    PointStructPersisted, Prefetch, QueryEnum, QueryRequest, ScoringQuery, ScrollRequest,
    SparseVector, UpdateOperation, VectorInternal, VectorPersisted, VectorStructInternal,
    VectorStructPersisted, WithPayloadInterface, WithVector,
};
use tonic::{Request, Response, Status};

/// Qdrant's limit when a request names none.
const DEFAULT_LIMIT: usize = 10;

/// A running stand-in; it stops when dropped.
pub struct QdrantStandIn {
    url: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl QdrantStandIn {
    /// Serves on 127.0.0.1 (a free port), requiring `api_key` when given.
    pub async fn start(api_key: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("a directory for the stand-in's shards");
        let state = Arc::new(State {
            dir: dir.path().to_path_buf(),
            collections: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the stand-in qdrant");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let key: Option<Arc<str>> = api_key.map(Arc::from);
        let auth = move |req: Request<()>| -> Result<Request<()>, Status> {
            match &key {
                None => Ok(req),
                Some(k) => {
                    let sent = req.metadata().get("api-key").and_then(|v| v.to_str().ok());
                    if sent == Some(&**k) {
                        Ok(req)
                    } else {
                        // As Qdrant: never echo what was sent.
                        Err(Status::unauthenticated("invalid api key"))
                    }
                }
            }
        };
        let service = Service(state.clone());
        let router = tonic::transport::Server::builder()
            .add_service(CollectionsServer::with_interceptor(
                service.clone(),
                auth.clone(),
            ))
            .add_service(PointsServer::with_interceptor(service, auth));
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let server = tokio::spawn(async move {
            if let Err(e) = router.serve_with_incoming(incoming).await {
                eprintln!("stand-in qdrant stopped: {e}");
            }
        });
        Self {
            url,
            state,
            server,
            _dir: dir,
        }
    }

    /// The gRPC endpoint, as `[rag] url` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The RPCs answered so far (after the key check), in order: `"points.upsert"`, ...
    pub fn calls(&self) -> Vec<&'static str> {
        self.state.calls.lock().unwrap().clone()
    }
}

impl Drop for QdrantStandIn {
    fn drop(&mut self) {
        self.server.abort();
        for (_, c) in self.state.collections.lock().unwrap().drain() {
            c.shard.flush();
        }
    }
}

struct State {
    dir: PathBuf,
    collections: Mutex<HashMap<String, Arc<Collection>>>,
    calls: Mutex<Vec<&'static str>>,
}

struct Collection {
    shard: Arc<EdgeShard>,
    /// The configuration as created, returned by `get`.
    vectors: Option<grpc::VectorsConfig>,
    sparse: Option<grpc::SparseVectorConfig>,
}

#[derive(Clone)]
struct Service(Arc<State>);

impl Service {
    fn called(&self, rpc: &'static str) {
        self.0.calls.lock().unwrap().push(rpc);
    }

    fn collection(&self, name: &str) -> Result<Arc<Collection>, Status> {
        self.0
            .collections
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("collection `{name}` does not exist")))
    }

    /// Runs `f` on the collection's shard on a blocking thread (its API is synchronous).
    async fn on_shard<T: Send + 'static>(
        &self,
        name: &str,
        f: impl FnOnce(&EdgeShard) -> Result<T, Status> + Send + 'static,
    ) -> Result<T, Status> {
        let shard = self.collection(name)?.shard.clone();
        tokio::task::spawn_blocking(move || f(&shard))
            .await
            .map_err(|e| Status::internal(format!("shard task: {e}")))?
    }
}

fn edge_error(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

fn unimplemented(what: &str) -> Status {
    Status::unimplemented(format!("the stand-in qdrant does not implement {what}"))
}

fn point_id_in(id: Option<grpc::PointId>) -> Result<PointId, Status> {
    match id.and_then(|i| i.point_id_options) {
        Some(point_id::PointIdOptions::Num(n)) => Ok(PointId::NumId(n)),
        Some(point_id::PointIdOptions::Uuid(u)) => u
            .parse()
            .map(PointId::Uuid)
            .map_err(|_| Status::invalid_argument(format!("invalid point id `{u}`"))),
        None => Err(Status::invalid_argument("a point without an id")),
    }
}

fn point_id_out(id: PointId) -> grpc::PointId {
    match id {
        PointId::NumId(n) => n.into(),
        PointId::Uuid(u) => u.to_string().into(),
    }
}

fn payload_in(p: HashMap<String, grpc::Value>) -> qdrant_edge::Payload {
    let serde_json::Value::Object(map) = serde_json::Value::from(Payload::from(p)) else {
        unreachable!("a payload converts to a JSON object")
    };
    qdrant_edge::Payload(map)
}

fn payload_out(p: Option<qdrant_edge::Payload>) -> HashMap<String, grpc::Value> {
    p.map(|p| Payload::from(p.0).into()).unwrap_or_default()
}

/// The filter conditions `ServerStore` uses (keyword matches, nested filters), by way of
/// Qdrant's REST JSON, which Edge reads.
fn filter_in(f: Option<grpc::Filter>) -> Result<Option<Filter>, Status> {
    let Some(f) = f else { return Ok(None) };
    let json = filter_json(f)?;
    serde_json::from_value(json)
        .map(Some)
        .map_err(|e| Status::invalid_argument(format!("filter: {e}")))
}

fn filter_json(f: grpc::Filter) -> Result<serde_json::Value, Status> {
    let list = |cs: Vec<grpc::Condition>| -> Result<Vec<serde_json::Value>, Status> {
        cs.into_iter().map(condition_json).collect()
    };
    if f.min_should.is_some() {
        return Err(unimplemented("min_should"));
    }
    Ok(serde_json::json!({
        "must": list(f.must)?,
        "should": list(f.should)?,
        "must_not": list(f.must_not)?,
    }))
}

fn condition_json(c: grpc::Condition) -> Result<serde_json::Value, Status> {
    match c.condition_one_of {
        Some(condition::ConditionOneOf::Field(field)) => {
            let value = match field.r#match.and_then(|m| m.match_value) {
                Some(r#match::MatchValue::Keyword(k)) => serde_json::json!({ "value": k }),
                Some(r#match::MatchValue::Keywords(ks)) => {
                    serde_json::json!({ "any": ks.strings })
                }
                Some(r#match::MatchValue::Integer(i)) => serde_json::json!({ "value": i }),
                Some(r#match::MatchValue::Boolean(b)) => serde_json::json!({ "value": b }),
                _ => return Err(unimplemented("this field condition")),
            };
            Ok(serde_json::json!({ "key": field.key, "match": value }))
        }
        Some(condition::ConditionOneOf::Filter(f)) => filter_json(f),
        _ => Err(unimplemented("this condition")),
    }
}

fn with_payload_in(w: Option<grpc::WithPayloadSelector>) -> Result<WithPayloadInterface, Status> {
    use grpc::with_payload_selector::SelectorOptions;
    let json = match w.and_then(|w| w.selector_options) {
        None => serde_json::json!(false),
        Some(SelectorOptions::Enable(b)) => serde_json::json!(b),
        Some(SelectorOptions::Include(i)) => serde_json::json!({ "include": i.fields }),
        Some(SelectorOptions::Exclude(e)) => serde_json::json!({ "exclude": e.fields }),
    };
    serde_json::from_value(json).map_err(|e| Status::invalid_argument(format!("with_payload: {e}")))
}

fn with_vectors_in(w: Option<grpc::WithVectorsSelector>) -> Result<WithVector, Status> {
    use grpc::with_vectors_selector::SelectorOptions;
    match w.and_then(|w| w.selector_options) {
        None => Ok(WithVector::Bool(false)),
        Some(SelectorOptions::Enable(b)) => Ok(WithVector::Bool(b)),
        Some(SelectorOptions::Include(names)) => Ok(WithVector::Selector(names.names)),
    }
}

/// Named vectors as a Qdrant server returns them (the typed `vector` field, as servers
/// since 1.10 fill it).
fn vectors_out(v: Option<VectorStructInternal>) -> Result<Option<grpc::VectorsOutput>, Status> {
    use grpc::{vector_output, vectors_output};
    let Some(v) = v else { return Ok(None) };
    let VectorStructInternal::Named(named) = v else {
        return Err(unimplemented("unnamed vectors"));
    };
    let mut vectors = HashMap::new();
    for (name, vector) in named {
        let out = match vector {
            VectorInternal::Dense(data) => vector_output::Vector::Dense(grpc::DenseVector { data }),
            VectorInternal::Sparse(sv) => vector_output::Vector::Sparse(grpc::SparseVector {
                indices: sv.indices,
                values: sv.values,
            }),
            VectorInternal::MultiDense(_) => return Err(unimplemented("multi-vectors")),
        };
        vectors.insert(
            name,
            grpc::VectorOutput {
                vector: Some(out),
                ..Default::default()
            },
        );
    }
    Ok(Some(grpc::VectorsOutput {
        vectors_options: Some(vectors_output::VectorsOptions::Vectors(
            grpc::NamedVectorsOutput { vectors },
        )),
    }))
}

fn sparse_in(indices: Vec<u32>, values: Vec<f32>) -> Result<SparseVector, Status> {
    SparseVector::new(indices, values).map_err(|e| Status::invalid_argument(e.to_string()))
}

fn vector_in(v: grpc::Vector) -> Result<VectorPersisted, Status> {
    match v.vector {
        Some(grpc::vector::Vector::Dense(d)) => Ok(VectorPersisted::Dense(d.data)),
        Some(grpc::vector::Vector::Sparse(s)) => {
            Ok(VectorPersisted::Sparse(sparse_in(s.indices, s.values)?))
        }
        // The deprecated flat `data`/`indices` form is not what this client sends.
        _ => Err(unimplemented("this vector form")),
    }
}

fn scoring_in(q: Option<grpc::Query>, using: Option<String>) -> Result<ScoringQuery, Status> {
    match q.and_then(|q| q.variant) {
        Some(query::Variant::Nearest(input)) => {
            let query = match input.variant {
                Some(vector_input::Variant::Dense(d)) => VectorInternal::Dense(d.data),
                Some(vector_input::Variant::Sparse(s)) => {
                    VectorInternal::Sparse(sparse_in(s.indices, s.values)?)
                }
                _ => return Err(unimplemented("this query vector")),
            };
            Ok(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
                query,
                using,
            })))
        }
        Some(query::Variant::Rrf(rrf)) => Ok(ScoringQuery::Fusion(Fusion::Rrf {
            // Qdrant's default constant.
            k: rrf.k.map_or(60, |k| k as usize),
            weights: (!rrf.weights.is_empty()).then(|| {
                rrf.weights
                    .into_iter()
                    .map(qdrant_edge::external::ordered_float::OrderedFloat)
                    .collect()
            }),
        })),
        Some(_) => Err(unimplemented("this query")),
        None => Err(unimplemented("a query without a query")),
    }
}

fn prefetch_in(p: grpc::PrefetchQuery) -> Result<Prefetch, Status> {
    if p.params.is_some() || p.score_threshold.is_some() {
        return Err(unimplemented("prefetch params or score threshold"));
    }
    Ok(Prefetch {
        prefetches: p
            .prefetch
            .into_iter()
            .map(prefetch_in)
            .collect::<Result<_, _>>()?,
        query: Some(scoring_in(p.query, p.using)?),
        limit: p.limit.map_or(DEFAULT_LIMIT, |l| l as usize),
        params: None,
        filter: filter_in(p.filter)?,
        score_threshold: None,
    })
}

fn distance_in(d: i32) -> Result<Distance, Status> {
    match grpc::Distance::try_from(d) {
        Ok(grpc::Distance::Cosine) => Ok(Distance::Cosine),
        Ok(grpc::Distance::Euclid) => Ok(Distance::Euclid),
        Ok(grpc::Distance::Dot) => Ok(Distance::Dot),
        Ok(grpc::Distance::Manhattan) => Ok(Distance::Manhattan),
        _ => Err(Status::invalid_argument(format!("unknown distance {d}"))),
    }
}

fn edge_config(c: &grpc::CreateCollection) -> Result<qdrant_edge::EdgeConfig, Status> {
    let mut config = EdgeConfigBuilder::new();
    match c.vectors_config.as_ref().and_then(|v| v.config.as_ref()) {
        Some(grpc::vectors_config::Config::ParamsMap(m)) => {
            for (name, p) in &m.map {
                config = config.vector(
                    name.as_str(),
                    EdgeVectorParamsBuilder::new(p.size as usize, distance_in(p.distance)?).build(),
                );
            }
        }
        Some(grpc::vectors_config::Config::Params(_)) => {
            return Err(unimplemented("an unnamed vector"));
        }
        None => {}
    }
    for (name, p) in c.sparse_vectors_config.iter().flat_map(|s| &s.map) {
        let mut params = EdgeSparseVectorParamsBuilder::new();
        if p.modifier == Some(grpc::Modifier::Idf as i32) {
            params = params.modifier(Modifier::Idf);
        }
        config = config.sparse_vector(name.as_str(), params.build());
    }
    Ok(config.build())
}

/// Implements `$trait` with the given methods and answers `Unimplemented` for the listed
/// others (the generated traits have no default methods).
macro_rules! service {
    (
        impl $trait:ident for $ty:ty { $($own:tt)* }
        unimplemented { $($name:ident($req:ident) -> $resp:ident;)* }
    ) => {
        #[tonic::async_trait]
        impl $trait for $ty {
            $($own)*
            $(
                async fn $name(
                    &self,
                    _request: Request<grpc::$req>,
                ) -> Result<Response<grpc::$resp>, Status> {
                    Err(unimplemented(concat!(stringify!($trait), ".", stringify!($name))))
                }
            )*
        }
    };
}

service! {
    impl Collections for Service {
        async fn collection_exists(
            &self,
            request: Request<grpc::CollectionExistsRequest>,
        ) -> Result<Response<grpc::CollectionExistsResponse>, Status> {
            self.called("collections.exists");
            let name = request.into_inner().collection_name;
            let exists = self.0.collections.lock().unwrap().contains_key(&name);
            Ok(Response::new(grpc::CollectionExistsResponse {
                result: Some(grpc::CollectionExists { exists }),
                time: 0.0,
            }))
        }

        async fn create(
            &self,
            request: Request<grpc::CreateCollection>,
        ) -> Result<Response<grpc::CollectionOperationResponse>, Status> {
            self.called("collections.create");
            let c = request.into_inner();
            let name = c.collection_name.clone();
            if name.is_empty() || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_".contains(ch)) {
                return Err(Status::invalid_argument(format!("invalid collection name `{name}`")));
            }
            let config = edge_config(&c)?;
            let path = self.0.dir.join(&name);
            let mut collections = self.0.collections.lock().unwrap();
            if collections.contains_key(&name) {
                return Err(Status::already_exists(format!("collection `{name}` already exists")));
            }
            std::fs::create_dir_all(&path).map_err(edge_error)?;
            let shard = EdgeShard::new(&path, config).map_err(edge_error)?;
            collections.insert(
                name,
                Arc::new(Collection {
                    shard: Arc::new(shard),
                    vectors: c.vectors_config,
                    sparse: c.sparse_vectors_config,
                }),
            );
            Ok(Response::new(grpc::CollectionOperationResponse { result: true, time: 0.0 }))
        }

        async fn get(
            &self,
            request: Request<grpc::GetCollectionInfoRequest>,
        ) -> Result<Response<grpc::GetCollectionInfoResponse>, Status> {
            self.called("collections.get");
            let c = self.collection(&request.into_inner().collection_name)?;
            let info = c.shard.info();
            Ok(Response::new(grpc::GetCollectionInfoResponse {
                result: Some(grpc::CollectionInfo {
                    status: grpc::CollectionStatus::Green as i32,
                    segments_count: info.segments_count as u64,
                    points_count: Some(info.points_count as u64),
                    config: Some(grpc::CollectionConfig {
                        params: Some(grpc::CollectionParams {
                            shard_number: 1,
                            vectors_config: c.vectors.clone(),
                            sparse_vectors_config: c.sparse.clone(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                time: 0.0,
            }))
        }
    }
    unimplemented {
        list(ListCollectionsRequest) -> ListCollectionsResponse;
        update(UpdateCollection) -> CollectionOperationResponse;
        delete(DeleteCollection) -> CollectionOperationResponse;
        update_aliases(ChangeAliases) -> CollectionOperationResponse;
        list_collection_aliases(ListCollectionAliasesRequest) -> ListAliasesResponse;
        list_aliases(ListAliasesRequest) -> ListAliasesResponse;
        collection_cluster_info(CollectionClusterInfoRequest) -> CollectionClusterInfoResponse;
        update_collection_cluster_setup(UpdateCollectionClusterSetupRequest) -> UpdateCollectionClusterSetupResponse;
        create_shard_key(CreateShardKeyRequest) -> CreateShardKeyResponse;
        delete_shard_key(DeleteShardKeyRequest) -> DeleteShardKeyResponse;
        list_shard_keys(ListShardKeysRequest) -> ListShardKeysResponse;
    }
}

fn updated() -> Response<grpc::PointsOperationResponse> {
    Response::new(grpc::PointsOperationResponse {
        result: Some(grpc::UpdateResult {
            operation_id: None,
            status: grpc::UpdateStatus::Completed as i32,
        }),
        ..Default::default()
    })
}

service! {
    impl Points for Service {
        async fn upsert(
            &self,
            request: Request<grpc::UpsertPoints>,
        ) -> Result<Response<grpc::PointsOperationResponse>, Status> {
            self.called("points.upsert");
            let r = request.into_inner();
            if r.update_filter.is_some() {
                return Err(unimplemented("conditional upserts"));
            }
            let mut list = Vec::with_capacity(r.points.len());
            for p in r.points {
                let vectors = match p.vectors.and_then(|v| v.vectors_options) {
                    Some(grpc::vectors::VectorsOptions::Vectors(named)) => named
                        .vectors
                        .into_iter()
                        .map(|(name, v)| Ok((name, vector_in(v)?)))
                        .collect::<Result<HashMap<_, _>, Status>>()?,
                    _ => return Err(unimplemented("unnamed vectors")),
                };
                list.push(PointStructPersisted {
                    id: point_id_in(p.id)?,
                    vector: VectorStructPersisted::Named(vectors),
                    payload: Some(payload_in(p.payload)),
                });
            }
            // Applied before answering, whatever `wait` says: the stand-in has no queue.
            self.on_shard(&r.collection_name, move |shard| {
                shard
                    .update(UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                        PointInsertOperations::PointsList(list),
                    )))
                    .map_err(edge_error)
            })
            .await?;
            Ok(updated())
        }

        async fn delete(
            &self,
            request: Request<grpc::DeletePoints>,
        ) -> Result<Response<grpc::PointsOperationResponse>, Status> {
            self.called("points.delete");
            let r = request.into_inner();
            let filter = match r.points.and_then(|p| p.points_selector_one_of) {
                Some(grpc::points_selector::PointsSelectorOneOf::Filter(f)) => filter_in(Some(f))?,
                _ => return Err(unimplemented("deleting points by id")),
            };
            let filter = filter.ok_or_else(|| Status::invalid_argument("no filter"))?;
            self.on_shard(&r.collection_name, move |shard| {
                shard
                    .update(UpdateOperation::PointOperation(
                        PointOperations::DeletePointsByFilter(filter),
                    ))
                    .map_err(edge_error)
            })
            .await?;
            Ok(updated())
        }

        async fn create_field_index(
            &self,
            request: Request<grpc::CreateFieldIndexCollection>,
        ) -> Result<Response<grpc::PointsOperationResponse>, Status> {
            self.called("points.create_field_index");
            let r = request.into_inner();
            if r.field_type != Some(grpc::FieldType::Keyword as i32) || r.field_index_params.is_some() {
                return Err(unimplemented("indexes other than a plain keyword index"));
            }
            let index: qdrant_edge::CreateIndex = serde_json::from_value(serde_json::json!({
                "field_name": r.field_name,
                "field_schema": "keyword",
            }))
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
            self.on_shard(&r.collection_name, move |shard| {
                shard
                    .update(UpdateOperation::FieldIndexOperation(
                        qdrant_edge::FieldIndexOperations::CreateIndex(index),
                    ))
                    .map_err(edge_error)
            })
            .await?;
            Ok(updated())
        }

        async fn scroll(
            &self,
            request: Request<grpc::ScrollPoints>,
        ) -> Result<Response<grpc::ScrollResponse>, Status> {
            self.called("points.scroll");
            let r = request.into_inner();
            if r.order_by.is_some() {
                return Err(unimplemented("ordered scrolls"));
            }
            let mut req: ScrollRequest = serde_json::from_value(serde_json::json!({}))
                .map_err(|e| Status::internal(e.to_string()))?;
            req.offset = r.offset.map(|o| point_id_in(Some(o))).transpose()?;
            req.limit = Some(r.limit.map_or(DEFAULT_LIMIT, |l| l as usize));
            req.filter = filter_in(r.filter)?;
            req.with_payload = Some(with_payload_in(r.with_payload)?);
            req.with_vector = with_vectors_in(r.with_vectors)?;
            let (records, next) = self
                .on_shard(&r.collection_name, move |shard| {
                    shard.scroll(req).map_err(edge_error)
                })
                .await?;
            Ok(Response::new(grpc::ScrollResponse {
                next_page_offset: next.map(point_id_out),
                result: records
                    .into_iter()
                    .map(|rec| {
                        Ok(grpc::RetrievedPoint {
                            id: Some(point_id_out(rec.id)),
                            payload: payload_out(rec.payload),
                            vectors: vectors_out(rec.vector)?,
                            ..Default::default()
                        })
                    })
                    .collect::<Result<_, Status>>()?,
                ..Default::default()
            }))
        }

        async fn query(
            &self,
            request: Request<grpc::QueryPoints>,
        ) -> Result<Response<grpc::QueryResponse>, Status> {
            self.called("points.query");
            let r = request.into_inner();
            if r.params.is_some() || r.score_threshold.is_some() || r.lookup_from.is_some() {
                return Err(unimplemented("query params, score threshold or lookup"));
            }
            let request = QueryRequest {
                prefetches: r
                    .prefetch
                    .into_iter()
                    .map(prefetch_in)
                    .collect::<Result<_, _>>()?,
                query: Some(scoring_in(r.query, r.using)?),
                filter: filter_in(r.filter)?,
                score_threshold: None,
                limit: r.limit.map_or(DEFAULT_LIMIT, |l| l as usize),
                offset: r.offset.unwrap_or(0) as usize,
                params: None,
                with_vector: with_vectors_in(r.with_vectors)?,
                with_payload: with_payload_in(r.with_payload)?,
            };
            let points = self
                .on_shard(&r.collection_name, move |shard| {
                    shard.query(request).map_err(edge_error)
                })
                .await?;
            Ok(Response::new(grpc::QueryResponse {
                result: points
                    .into_iter()
                    .map(|p| grpc::ScoredPoint {
                        id: Some(point_id_out(p.id)),
                        payload: payload_out(p.payload),
                        score: p.score,
                        version: p.version,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }))
        }

        async fn count(
            &self,
            request: Request<grpc::CountPoints>,
        ) -> Result<Response<grpc::CountResponse>, Status> {
            self.called("points.count");
            let r = request.into_inner();
            let filter = filter_in(r.filter)?;
            let count = self
                .on_shard(&r.collection_name, move |shard| {
                    shard
                        .count(qdrant_edge::CountRequest { filter, exact: true })
                        .map_err(edge_error)
                })
                .await?;
            Ok(Response::new(grpc::CountResponse {
                result: Some(grpc::CountResult { count: count as u64 }),
                ..Default::default()
            }))
        }
    }
    unimplemented {
        get(GetPoints) -> GetResponse;
        update_vectors(UpdatePointVectors) -> PointsOperationResponse;
        delete_vectors(DeletePointVectors) -> PointsOperationResponse;
        set_payload(SetPayloadPoints) -> PointsOperationResponse;
        overwrite_payload(SetPayloadPoints) -> PointsOperationResponse;
        delete_payload(DeletePayloadPoints) -> PointsOperationResponse;
        clear_payload(ClearPayloadPoints) -> PointsOperationResponse;
        delete_field_index(DeleteFieldIndexCollection) -> PointsOperationResponse;
        create_vector_name(CreateVectorNameRequest) -> PointsOperationResponse;
        delete_vector_name(DeleteVectorNameRequest) -> PointsOperationResponse;
        search(SearchPoints) -> SearchResponse;
        search_batch(SearchBatchPoints) -> SearchBatchResponse;
        search_groups(SearchPointGroups) -> SearchGroupsResponse;
        recommend(RecommendPoints) -> RecommendResponse;
        recommend_batch(RecommendBatchPoints) -> RecommendBatchResponse;
        recommend_groups(RecommendPointGroups) -> RecommendGroupsResponse;
        discover(DiscoverPoints) -> DiscoverResponse;
        discover_batch(DiscoverBatchPoints) -> DiscoverBatchResponse;
        update_batch(UpdateBatchPoints) -> UpdateBatchResponse;
        query_batch(QueryBatchPoints) -> QueryBatchResponse;
        query_groups(QueryPointGroups) -> QueryGroupsResponse;
        facet(FacetCounts) -> FacetResponse;
        search_matrix_pairs(SearchMatrixPoints) -> SearchMatrixPairsResponse;
        search_matrix_offsets(SearchMatrixPoints) -> SearchMatrixOffsetsResponse;
    }
}
