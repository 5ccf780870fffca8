//! One store type whatever the backend, chosen by configuration: callers (the indexer) stay
//! concrete and non-generic, and switching to a Qdrant server is a setting, not a rebuild.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::edge::EdgeStore;
use crate::server::ServerStore;
use crate::store::{ChunkPayload, FileState, Hit, Point, StoreError, VectorQuery, VectorStore};

pub enum Store {
    /// Qdrant Edge in-process (the default).
    Edge(EdgeStore),
    /// A Qdrant server over gRPC (`[rag] url`).
    Server(ServerStore),
}

impl Store {
    /// A Qdrant server when `[rag] url` is set, else Qdrant Edge in `[rag] dir` or
    /// `default_dir`.
    pub fn from_config(config: &crate::Config, default_dir: PathBuf) -> Self {
        // An empty `KILN_RAG__URL=` means unset, as it reads.
        match config
            .url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(url) => Store::Server(ServerStore::new(
                url,
                config.api_key.as_ref(),
                Duration::from_secs(config.timeout_secs.max(1)),
            )),
            None => Store::Edge(EdgeStore::new(config.dir.clone().unwrap_or(default_dir))),
        }
    }

    /// Which backend this is and where, for the log (never the API key).
    pub fn describe(&self) -> String {
        match self {
            Store::Edge(e) => format!("qdrant edge in {}", e.dir().display()),
            Store::Server(s) => format!("qdrant server at {}", s.url()),
        }
    }

    /// Flushes what is buffered in-process (Edge shards); a server keeps its own.
    pub fn close(&self) {
        match self {
            Store::Edge(e) => e.close(),
            Store::Server(_) => {}
        }
    }
}

impl VectorStore for Store {
    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), StoreError> {
        match self {
            Store::Edge(s) => s.upsert(collection, points).await,
            Store::Server(s) => s.upsert(collection, points).await,
        }
    }

    async fn delete_paths(&self, collection: &str, paths: Vec<String>) -> Result<(), StoreError> {
        match self {
            Store::Edge(s) => s.delete_paths(collection, paths).await,
            Store::Server(s) => s.delete_paths(collection, paths).await,
        }
    }

    async fn inventory(&self, collection: &str) -> Result<HashMap<String, FileState>, StoreError> {
        match self {
            Store::Edge(s) => s.inventory(collection).await,
            Store::Server(s) => s.inventory(collection).await,
        }
    }

    async fn query(&self, collection: &str, query: VectorQuery) -> Result<Vec<Hit>, StoreError> {
        match self {
            Store::Edge(s) => s.query(collection, query).await,
            Store::Server(s) => s.query(collection, query).await,
        }
    }

    async fn file_chunks(
        &self,
        collection: &str,
        path: &str,
        limit: usize,
    ) -> Result<Vec<ChunkPayload>, StoreError> {
        match self {
            Store::Edge(s) => s.file_chunks(collection, path, limit).await,
            Store::Server(s) => s.file_chunks(collection, path, limit).await,
        }
    }

    async fn dense_chunks(
        &self,
        collection: &str,
        paths: Vec<String>,
    ) -> Result<Vec<(ChunkPayload, Vec<f32>)>, StoreError> {
        match self {
            Store::Edge(s) => s.dense_chunks(collection, paths).await,
            Store::Server(s) => s.dense_chunks(collection, paths).await,
        }
    }

    async fn size_on_disk(&self, collection: &str) -> Option<u64> {
        match self {
            Store::Edge(s) => s.size_on_disk(collection).await,
            Store::Server(s) => s.size_on_disk(collection).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_picks_the_server_and_an_empty_one_does_not() {
        let mut config = crate::Config::default();
        let edge = Store::from_config(&config, PathBuf::from("/tmp/rag"));
        assert_eq!(edge.describe(), "qdrant edge in /tmp/rag");
        config.url = Some(" ".into());
        assert!(matches!(
            Store::from_config(&config, PathBuf::new()),
            Store::Edge(_)
        ));
        config.url = Some("http://qdrant:6334".into());
        config.api_key = Some(kiln_runtime::Secret::new("k-31f0"));
        let server = Store::from_config(&config, PathBuf::new());
        assert_eq!(server.describe(), "qdrant server at http://qdrant:6334");
    }
}
