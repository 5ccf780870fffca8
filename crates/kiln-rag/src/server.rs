//! A Qdrant server over gRPC, for deployments that keep vectors outside the indexer's disk
//! (several indexers, a managed cluster). It stores exactly what `EdgeStore` stores and asks
//! the same questions: the same named vectors (`dense` cosine, `sparse` with the IDF
//! modifier), the same payload, deterministic point ids, dense and sparse prefetches fused
//! by RRF with the same constant, so both backends rank alike.
//!
//! Collections are created on first use and their vector configuration is checked, so a
//! collection made by something else fails loudly instead of ranking wrongly. Every error
//! names the server and the operation; the API key never appears in one.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use kiln_runtime::Secret;
use qdrant_client::qdrant::{
    Condition, CreateCollection, CreateFieldIndexCollection, DeletePoints, Distance, FieldType,
    Filter, Modifier, PayloadExcludeSelector, PointId, PointStruct, PointsSelector, PrefetchQuery,
    Query, QueryPoints, Rrf, ScrollPoints, SparseVectorConfig, SparseVectorParams, UpsertPoints,
    Value, Vector, VectorInput, VectorParams, VectorParamsMap, VectorsConfig, VectorsSelector,
    WithPayloadSelector, points_selector, vectors_config, with_payload_selector,
    with_vectors_selector,
};
use qdrant_client::{Payload, Qdrant, QdrantError};

use crate::edge::RRF_K;
use crate::embed::DIM;
use crate::store::{
    ChunkPayload, DENSE, FileState, Hit, Mode, Point, SPARSE, StoreError, VectorQuery, VectorStore,
    fold_inventory,
};

/// Points per upsert request: a chunk carries up to 4000 characters of text and 384 floats,
/// so this stays well under gRPC's usual 4 MiB message limit.
const UPSERT_BATCH: usize = 64;
/// Paths per delete-by-filter request, as in `EdgeStore`.
const DELETE_BATCH: usize = 512;
/// Points per scroll page.
const SCROLL_PAGE: u32 = 1024;

pub struct ServerStore {
    url: String,
    /// The client, or why it could not be made (an invalid URL): reported by every call, so
    /// a bad setting names itself where it is used.
    client: Result<Qdrant, String>,
    /// Collections known to exist with the right vectors.
    ready: Mutex<HashSet<String>>,
}

impl ServerStore {
    /// A store on the Qdrant server at `url` (its gRPC port, usually 6334). Nothing is sent
    /// until the first call.
    pub fn new(url: &str, api_key: Option<&Secret>, timeout: Duration) -> Self {
        let client = Qdrant::from_url(url)
            .api_key(api_key.map(|k| k.expose().to_owned()))
            .timeout(timeout)
            .connect_timeout(timeout)
            // The check runs a blocking health request at construction and prints to stdout;
            // a mismatch would show up as failed calls anyway.
            .skip_compatibility_check()
            .build()
            .map_err(|e| describe(&e));
        Self {
            url: url.to_owned(),
            client,
            ready: Mutex::new(HashSet::new()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, op: &str, collection: &str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Backend(format!(
            "qdrant server at {}: {op} `{collection}`: {e}",
            self.url
        ))
    }

    fn client(&self, op: &str, collection: &str) -> Result<&Qdrant, StoreError> {
        self.client
            .as_ref()
            .map_err(|e| self.error(op, collection, e))
    }

    /// Creates `collection` unless it exists, and checks its vectors either way.
    async fn ensure(&self, collection: &str) -> Result<&Qdrant, StoreError> {
        let client = self.client("opening collection", collection)?;
        if self
            .ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(collection)
        {
            return Ok(client);
        }
        let exists = client
            .collection_exists(collection)
            .await
            .map_err(|e| self.error("checking collection", collection, describe(&e)))?;
        if !exists && let Err(e) = client.create_collection(create_request(collection)).await {
            // Another indexer may have created it meanwhile: that is as good.
            let now = client.collection_exists(collection).await.unwrap_or(false);
            if !now {
                return Err(self.error("creating collection", collection, describe(&e)));
            }
        }
        let info = client
            .collection_info(collection)
            .await
            .map_err(|e| self.error("reading collection", collection, describe(&e)))?;
        let params = info
            .result
            .and_then(|i| i.config)
            .and_then(|c| c.params)
            .unwrap_or_default();
        check_vectors(&params.vectors_config, &params.sparse_vectors_config)
            .map_err(|why| self.error("checking collection", collection, why))?;
        // Filters by path (deletes, a file's chunks) use the index; creating it again is a
        // no-op on the server.
        client
            .create_field_index(CreateFieldIndexCollection {
                collection_name: collection.to_owned(),
                wait: Some(true),
                field_name: "path".to_owned(),
                field_type: Some(FieldType::Keyword as i32),
                ..Default::default()
            })
            .await
            .map_err(|e| self.error("indexing `path` of", collection, describe(&e)))?;
        self.ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(collection.to_owned());
        Ok(client)
    }

    async fn scroll_all(
        &self,
        collection: &str,
        filter: Option<Filter>,
        with_text: bool,
    ) -> Result<Vec<ChunkPayload>, StoreError> {
        let client = self.ensure(collection).await?;
        let with_payload = if with_text {
            WithPayloadSelector::from(true)
        } else {
            WithPayloadSelector {
                selector_options: Some(with_payload_selector::SelectorOptions::Exclude(
                    PayloadExcludeSelector {
                        fields: vec!["text".to_owned()],
                    },
                )),
            }
        };
        let mut out = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let page = client
                .scroll(ScrollPoints {
                    collection_name: collection.to_owned(),
                    filter: filter.clone(),
                    offset: offset.take(),
                    limit: Some(SCROLL_PAGE),
                    with_payload: Some(with_payload.clone()),
                    with_vectors: Some(false.into()),
                    ..Default::default()
                })
                .await
                .map_err(|e| self.error("scrolling", collection, describe(&e)))?;
            for p in page.result {
                let mut payload = p.payload;
                payload
                    .entry("text".to_owned())
                    .or_insert_with(|| Value::from(String::new()));
                if let Some(c) = payload_of(payload) {
                    out.push(c);
                }
            }
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(out),
            }
        }
    }
}

/// The dense vector of a scrolled point, in the current output form or the older flat one.
fn dense_of(vectors: Option<qdrant_client::qdrant::VectorsOutput>) -> Option<Vec<f32>> {
    use qdrant_client::qdrant::{vector_output, vectors_output};
    let Some(vectors_output::VectorsOptions::Vectors(mut named)) = vectors?.vectors_options else {
        return None;
    };
    let v = named.vectors.remove(DENSE)?;
    #[allow(deprecated)]
    match v.vector {
        Some(vector_output::Vector::Dense(d)) => Some(d.data),
        None if !v.data.is_empty() => Some(v.data),
        _ => None,
    }
}

/// A client error without the response metadata `QdrantError`'s `Display` appends (server
/// headers are noise here).
fn describe(e: &QdrantError) -> String {
    match e {
        QdrantError::ResponseError { status } => {
            format!("{:?}: {}", status.code(), status.message())
        }
        QdrantError::ResourceExhaustedError {
            status,
            retry_after_seconds,
        } => format!("{}, retry after {retry_after_seconds}s", status.message()),
        other => other.to_string(),
    }
}

fn create_request(collection: &str) -> CreateCollection {
    CreateCollection {
        collection_name: collection.to_owned(),
        vectors_config: Some(VectorsConfig {
            config: Some(vectors_config::Config::ParamsMap(VectorParamsMap {
                map: HashMap::from([(
                    DENSE.to_owned(),
                    VectorParams {
                        size: DIM as u64,
                        distance: Distance::Cosine as i32,
                        ..Default::default()
                    },
                )]),
            })),
        }),
        sparse_vectors_config: Some(SparseVectorConfig {
            map: HashMap::from([(
                SPARSE.to_owned(),
                SparseVectorParams {
                    modifier: Some(Modifier::Idf as i32),
                    ..Default::default()
                },
            )]),
        }),
        ..Default::default()
    }
}

/// Whether a collection's vectors are the ones this store writes and queries.
fn check_vectors(
    dense: &Option<VectorsConfig>,
    sparse: &Option<SparseVectorConfig>,
) -> Result<(), String> {
    let dense = match dense.as_ref().and_then(|c| c.config.as_ref()) {
        Some(vectors_config::Config::ParamsMap(m)) => m.map.get(DENSE),
        _ => None,
    };
    match dense {
        Some(v) if v.size == DIM as u64 && v.distance == Distance::Cosine as i32 => {}
        Some(v) => {
            return Err(format!(
                "vector `{DENSE}` is {}-d {:?}, not {DIM}-d cosine",
                v.size,
                Distance::try_from(v.distance).unwrap_or(Distance::UnknownDistance)
            ));
        }
        None => return Err(format!("it has no vector named `{DENSE}`")),
    }
    match sparse.as_ref().and_then(|s| s.map.get(SPARSE)) {
        Some(s) if s.modifier == Some(Modifier::Idf as i32) => Ok(()),
        Some(_) => Err(format!("sparse vector `{SPARSE}` lacks the idf modifier")),
        None => Err(format!("it has no sparse vector named `{SPARSE}`")),
    }
}

fn paths_filter(paths: &[String]) -> Filter {
    Filter::must([Condition::matches("path", paths.to_vec())])
}

fn payload_of(p: HashMap<String, Value>) -> Option<ChunkPayload> {
    serde_json::from_value(serde_json::Value::from(Payload::from(p))).ok()
}

fn point(p: Point) -> Result<PointStruct, StoreError> {
    let mut vectors = HashMap::new();
    if let Some(d) = p.dense {
        vectors.insert(DENSE.to_owned(), Vector::new_dense(d));
    }
    vectors.insert(
        SPARSE.to_owned(),
        Vector::new_sparse(p.sparse.indices, p.sparse.values),
    );
    let payload = serde_json::to_value(&p.payload)
        .map_err(|e| StoreError::Backend(format!("chunk payload: {e}")))?;
    let payload = Payload::try_from(payload)
        .map_err(|_| StoreError::Backend("payload is not an object".into()))?;
    Ok(PointStruct::new(p.id.to_string(), vectors, payload))
}

fn prefetch(query: Query, using: &str, limit: usize, filter: Option<Filter>) -> PrefetchQuery {
    PrefetchQuery {
        query: Some(query),
        using: Some(using.to_owned()),
        limit: Some(limit as u64),
        filter,
        ..Default::default()
    }
}

impl VectorStore for ServerStore {
    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        let client = self.ensure(collection).await?;
        let points = points
            .into_iter()
            .map(point)
            .collect::<Result<Vec<_>, _>>()?;
        for batch in points.chunks(UPSERT_BATCH) {
            client
                .upsert_points(UpsertPoints {
                    collection_name: collection.to_owned(),
                    // Acknowledged only once applied: the next inventory must see them.
                    wait: Some(true),
                    points: batch.to_vec(),
                    ..Default::default()
                })
                .await
                .map_err(|e| self.error("upserting points into", collection, describe(&e)))?;
        }
        Ok(())
    }

    async fn delete_paths(&self, collection: &str, paths: Vec<String>) -> Result<(), StoreError> {
        if paths.is_empty() {
            return Ok(());
        }
        let client = self.ensure(collection).await?;
        for batch in paths.chunks(DELETE_BATCH) {
            client
                .delete_points(DeletePoints {
                    collection_name: collection.to_owned(),
                    wait: Some(true),
                    points: Some(PointsSelector {
                        points_selector_one_of: Some(points_selector::PointsSelectorOneOf::Filter(
                            paths_filter(batch),
                        )),
                    }),
                    ..Default::default()
                })
                .await
                .map_err(|e| self.error("deleting points from", collection, describe(&e)))?;
        }
        Ok(())
    }

    async fn inventory(&self, collection: &str) -> Result<HashMap<String, FileState>, StoreError> {
        let all = self.scroll_all(collection, None, false).await?;
        Ok(fold_inventory(&all))
    }

    async fn query(&self, collection: &str, q: VectorQuery) -> Result<Vec<Hit>, StoreError> {
        let client = self.ensure(collection).await?;
        let filter = q.paths.as_deref().map(paths_filter);
        let dense = q
            .dense
            .map(|d| Query::new_nearest(VectorInput::new_dense(d)));
        let sparse = (!q.sparse.is_empty()).then(|| {
            Query::new_nearest(VectorInput::new_sparse(q.sparse.indices, q.sparse.values))
        });
        let mut request = QueryPoints {
            collection_name: collection.to_owned(),
            filter: filter.clone(),
            limit: Some(q.limit as u64),
            with_payload: Some(true.into()),
            with_vectors: Some(false.into()),
            ..Default::default()
        };
        match (q.mode, dense, sparse) {
            (Mode::Hybrid, Some(d), Some(s)) => {
                request.prefetch = vec![
                    prefetch(d, DENSE, q.prefetch, filter.clone()),
                    prefetch(s, SPARSE, q.prefetch, filter),
                ];
                request.query = Some(Query::new_rrf(Rrf {
                    k: Some(RRF_K as u32),
                    weights: vec![],
                }));
            }
            (Mode::Hybrid | Mode::Dense, Some(d), _) => {
                request.query = Some(d);
                request.using = Some(DENSE.to_owned());
            }
            (Mode::Hybrid | Mode::Sparse, _, Some(s)) => {
                request.query = Some(s);
                request.using = Some(SPARSE.to_owned());
            }
            _ => return Ok(vec![]),
        }
        let found = client
            .query(request)
            .await
            .map_err(|e| self.error("querying", collection, describe(&e)))?;
        Ok(found
            .result
            .into_iter()
            .filter_map(|p| {
                Some(Hit {
                    score: p.score,
                    payload: payload_of(p.payload)?,
                })
            })
            .collect())
    }

    async fn file_chunks(
        &self,
        collection: &str,
        path: &str,
        limit: usize,
    ) -> Result<Vec<ChunkPayload>, StoreError> {
        let mut chunks = self
            .scroll_all(collection, Some(paths_filter(&[path.to_owned()])), true)
            .await?;
        chunks.sort_by_key(|c| c.chunk);
        chunks.truncate(limit);
        Ok(chunks)
    }

    async fn dense_chunks(
        &self,
        collection: &str,
        paths: Vec<String>,
    ) -> Result<Vec<(ChunkPayload, Vec<f32>)>, StoreError> {
        let client = self.ensure(collection).await?;
        let mut out = Vec::new();
        for batch in paths.chunks(DELETE_BATCH) {
            let mut offset: Option<PointId> = None;
            loop {
                let page = client
                    .scroll(ScrollPoints {
                        collection_name: collection.to_owned(),
                        filter: Some(paths_filter(batch)),
                        offset: offset.take(),
                        limit: Some(SCROLL_PAGE),
                        with_payload: Some(true.into()),
                        with_vectors: Some(
                            with_vectors_selector::SelectorOptions::from(VectorsSelector {
                                names: vec![DENSE.to_owned()],
                            })
                            .into(),
                        ),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| self.error("scrolling", collection, describe(&e)))?;
                for p in page.result {
                    if let (Some(v), Some(c)) = (dense_of(p.vectors), payload_of(p.payload)) {
                        out.push((c, v));
                    }
                }
                match page.next_page_offset {
                    Some(next) => offset = Some(next),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    /// The server's disk is not ours to measure.
    async fn size_on_disk(&self, _collection: &str) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collection_made_here_passes_its_own_check() {
        let c = create_request("x");
        assert_eq!(
            check_vectors(&c.vectors_config, &c.sparse_vectors_config),
            Ok(())
        );
    }

    #[test]
    fn other_vectors_are_refused_with_the_reason() {
        let mut c = create_request("x");
        if let Some(vectors_config::Config::ParamsMap(m)) =
            c.vectors_config.as_mut().and_then(|v| v.config.as_mut())
        {
            m.map.get_mut(DENSE).unwrap().size = 768;
        }
        let why = check_vectors(&c.vectors_config, &c.sparse_vectors_config).unwrap_err();
        assert!(why.contains("768-d"), "{why}");
        let c = create_request("x");
        let why = check_vectors(&c.vectors_config, &None).unwrap_err();
        assert!(why.contains("no sparse vector named `sparse`"), "{why}");
    }

    #[test]
    fn an_invalid_url_is_reported_by_the_call_that_needs_it() {
        let store = ServerStore::new("not a url", None, Duration::from_secs(1));
        let Err(e) = store.client("upserting points into", "c") else {
            panic!("a client for an invalid url")
        };
        assert!(e.to_string().contains("qdrant server at not a url"), "{e}");
    }
}
