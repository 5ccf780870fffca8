//! Qdrant Edge in-process: one shard directory per collection under the indexer's data
//! directory. Shards are opened on first use and kept open; every call runs on a blocking
//! thread (the shard's API is synchronous).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use qdrant_edge::{
    Distance, EdgeConfigBuilder, EdgeShard, EdgeSparseVectorParamsBuilder, EdgeVectorParamsBuilder,
    Filter, Fusion, Modifier, NamedQuery, Payload, PointId, PointInsertOperations, PointOperations,
    PointStructPersisted, Prefetch, QueryEnum, QueryRequest, ScoringQuery, ScrollRequest,
    SparseVector, UpdateOperation, VectorInternal, VectorPersisted, VectorStructInternal,
    VectorStructPersisted, WithPayloadInterface, WithVector,
};

use crate::embed::DIM;
use crate::store::{
    ChunkPayload, DENSE, FileState, Hit, Mode, Point, SPARSE, StoreError, VectorQuery, VectorStore,
    fold_inventory,
};

/// Reciprocal rank fusion's constant (Qdrant's default).
pub const RRF_K: usize = 60;

pub struct EdgeStore {
    dir: PathBuf,
    shards: Mutex<HashMap<String, Arc<EdgeShard>>>,
}

impl EdgeStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            shards: Mutex::new(HashMap::new()),
        }
    }

    fn shard(&self, collection: &str) -> Result<Arc<EdgeShard>, StoreError> {
        let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = shards.get(collection) {
            return Ok(s.clone());
        }
        let path = self.dir.join(collection);
        std::fs::create_dir_all(&path).map_err(|source| StoreError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let shard = if path.join("edge_config.json").exists() {
            EdgeShard::load(&path, None)
        } else {
            EdgeShard::new(&path, config())
        }
        .map_err(backend)?;
        let shard = Arc::new(shard);
        shards.insert(collection.to_owned(), shard.clone());
        Ok(shard)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        collection: &str,
        f: impl FnOnce(&EdgeShard) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let shard = self.shard(collection)?;
        tokio::task::spawn_blocking(move || f(&shard))
            .await
            .map_err(|e| StoreError::Backend(format!("edge task: {e}")))?
    }

    /// Where the shards live.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Flushes and forgets every open shard (their files stay).
    pub fn close(&self) {
        let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        for (_, s) in shards.drain() {
            s.flush();
        }
    }
}

fn config() -> qdrant_edge::EdgeConfig {
    EdgeConfigBuilder::new()
        .vector(
            DENSE,
            EdgeVectorParamsBuilder::new(DIM, Distance::Cosine).build(),
        )
        .sparse_vector(
            SPARSE,
            EdgeSparseVectorParamsBuilder::new()
                .modifier(Modifier::Idf)
                .build(),
        )
        .build()
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn paths_filter(paths: &[String]) -> Result<Filter, StoreError> {
    serde_json::from_value(serde_json::json!({
        "must": [{ "key": "path", "match": { "any": paths } }]
    }))
    .map_err(backend)
}

fn payload_of(p: Option<Payload>) -> Option<ChunkPayload> {
    serde_json::from_value(serde_json::Value::Object(p?.0)).ok()
}

fn scroll_all(
    shard: &EdgeShard,
    filter: Option<Filter>,
    with_text: bool,
) -> Result<Vec<ChunkPayload>, StoreError> {
    let mut out = Vec::new();
    let mut offset: Option<PointId> = None;
    loop {
        let mut req: ScrollRequest =
            serde_json::from_value(serde_json::json!({ "limit": 1024 })).map_err(backend)?;
        req.offset = offset;
        req.filter = filter.clone();
        req.with_payload = Some(if with_text {
            WithPayloadInterface::Bool(true)
        } else {
            serde_json::from_value(serde_json::json!({ "exclude": ["text"] })).map_err(backend)?
        });
        req.with_vector = WithVector::Bool(false);
        let (records, next) = shard.scroll(req).map_err(backend)?;
        for r in records {
            if let Some(p) = payload_of(r.payload.map(|mut p| {
                p.0.entry("text")
                    .or_insert(serde_json::Value::String(String::new()));
                p
            })) {
                out.push(p);
            }
        }
        match next {
            Some(n) => offset = Some(n),
            None => return Ok(out),
        }
    }
}

fn prefetch(query: ScoringQuery, limit: usize, filter: Option<Filter>) -> Prefetch {
    Prefetch {
        prefetches: vec![],
        query: Some(query),
        limit,
        params: None,
        filter,
        score_threshold: None,
    }
}

impl VectorStore for EdgeStore {
    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        self.blocking(collection, move |shard| {
            let mut list = Vec::with_capacity(points.len());
            for p in points {
                let mut vectors = HashMap::new();
                if let Some(d) = p.dense {
                    vectors.insert(DENSE.to_owned(), VectorPersisted::Dense(d));
                }
                let sparse =
                    SparseVector::new(p.sparse.indices, p.sparse.values).map_err(backend)?;
                vectors.insert(SPARSE.to_owned(), VectorPersisted::Sparse(sparse));
                let serde_json::Value::Object(payload) =
                    serde_json::to_value(&p.payload).map_err(backend)?
                else {
                    return Err(StoreError::Backend("payload is not an object".into()));
                };
                list.push(PointStructPersisted {
                    id: PointId::Uuid(p.id),
                    vector: VectorStructPersisted::Named(vectors),
                    payload: Some(Payload(payload)),
                });
            }
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(list)),
                ))
                .map_err(backend)
        })
        .await
    }

    async fn delete_paths(&self, collection: &str, paths: Vec<String>) -> Result<(), StoreError> {
        if paths.is_empty() {
            return Ok(());
        }
        self.blocking(collection, move |shard| {
            for batch in paths.chunks(512) {
                let filter = paths_filter(batch)?;
                shard
                    .update(UpdateOperation::PointOperation(
                        PointOperations::DeletePointsByFilter(filter),
                    ))
                    .map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn inventory(&self, collection: &str) -> Result<HashMap<String, FileState>, StoreError> {
        self.blocking(collection, |shard| {
            let all = scroll_all(shard, None, false)?;
            Ok(fold_inventory(&all))
        })
        .await
    }

    async fn query(&self, collection: &str, q: VectorQuery) -> Result<Vec<Hit>, StoreError> {
        self.blocking(collection, move |shard| {
            let filter = q.paths.as_deref().map(paths_filter).transpose()?;
            let dense = q.dense.map(|d| {
                ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
                    query: VectorInternal::Dense(d),
                    using: Some(DENSE.into()),
                }))
            });
            let sparse = if q.sparse.is_empty() {
                None
            } else {
                let v = SparseVector::new(q.sparse.indices, q.sparse.values).map_err(backend)?;
                Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
                    query: VectorInternal::Sparse(v),
                    using: Some(SPARSE.into()),
                })))
            };
            let (prefetches, query) = match (q.mode, dense, sparse) {
                (Mode::Hybrid, Some(d), Some(s)) => (
                    vec![
                        prefetch(d, q.prefetch, filter.clone()),
                        prefetch(s, q.prefetch, filter.clone()),
                    ],
                    ScoringQuery::Fusion(Fusion::Rrf {
                        k: RRF_K,
                        weights: None,
                    }),
                ),
                (Mode::Hybrid | Mode::Dense, Some(d), _) => (vec![], d),
                (Mode::Hybrid | Mode::Sparse, _, Some(s)) => (vec![], s),
                _ => return Ok(vec![]),
            };
            let request = QueryRequest {
                prefetches,
                query: Some(query),
                filter,
                score_threshold: None,
                limit: q.limit,
                offset: 0,
                params: None,
                with_vector: WithVector::Bool(false),
                with_payload: WithPayloadInterface::Bool(true),
            };
            let points = shard.query(request).map_err(backend)?;
            Ok(points
                .into_iter()
                .filter_map(|p| {
                    Some(Hit {
                        score: p.score,
                        payload: payload_of(p.payload)?,
                    })
                })
                .collect())
        })
        .await
    }

    async fn file_chunks(
        &self,
        collection: &str,
        path: &str,
        limit: usize,
    ) -> Result<Vec<ChunkPayload>, StoreError> {
        let path = path.to_owned();
        self.blocking(collection, move |shard| {
            let mut chunks = scroll_all(shard, Some(paths_filter(&[path])?), true)?;
            chunks.sort_by_key(|c| c.chunk);
            chunks.truncate(limit);
            Ok(chunks)
        })
        .await
    }

    async fn dense_chunks(
        &self,
        collection: &str,
        paths: Vec<String>,
    ) -> Result<Vec<(ChunkPayload, Vec<f32>)>, StoreError> {
        self.blocking(collection, move |shard| {
            let mut out = Vec::new();
            for batch in paths.chunks(512) {
                let mut offset: Option<PointId> = None;
                loop {
                    let mut req: ScrollRequest =
                        serde_json::from_value(serde_json::json!({ "limit": 1024 }))
                            .map_err(backend)?;
                    req.offset = offset;
                    req.filter = Some(paths_filter(batch)?);
                    req.with_payload = Some(WithPayloadInterface::Bool(true));
                    req.with_vector = WithVector::Selector(vec![DENSE.into()]);
                    let (records, next) = shard.scroll(req).map_err(backend)?;
                    for r in records {
                        let dense = match r.vector {
                            Some(VectorStructInternal::Named(mut named)) => named.remove(DENSE),
                            _ => None,
                        };
                        if let (Some(VectorInternal::Dense(v)), Some(p)) =
                            (dense, payload_of(r.payload))
                        {
                            out.push((p, v));
                        }
                    }
                    match next {
                        Some(n) => offset = Some(n),
                        None => break,
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn size_on_disk(&self, collection: &str) -> Option<u64> {
        let path = self.dir.join(collection);
        tokio::task::spawn_blocking(move || dir_size(&path))
            .await
            .ok()
            .flatten()
    }
}

fn dir_size(path: &Path) -> Option<u64> {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()? {
            let entry = entry.ok()?;
            let meta = entry.metadata().ok()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    Some(total)
}
