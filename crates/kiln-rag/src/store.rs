//! Where chunks and their vectors live: one collection per project, behind one trait so the
//! same index and queries run on Qdrant Edge in-process (the embedded default, `edge.rs`) and
//! on a Qdrant server.
//!
//! Every point is one chunk, keyed by a deterministic id (path, blob, chunk number): writing
//! a file again writes the same points, so an index interrupted mid-commit and repeated never
//! holds duplicates. The store is its own record of what it holds (`inventory`), so there is no
//! second bookkeeping to drift from it.

use std::collections::HashMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

pub use kiln_contracts::rag::Mode;

use crate::sparse::Sparse;

/// Names of the two vectors of every point.
pub const DENSE: &str = "dense";
pub const SPARSE: &str = "sparse";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("vector store: {0}")]
    Backend(String),
    #[error("vector store I/O on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// What a point carries besides its vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkPayload {
    pub path: String,
    /// The git blob id of the file: its content hash.
    pub blob: String,
    pub lang: String,
    pub start_line: u32,
    pub end_line: u32,
    pub symbols: Vec<String>,
    pub kind: String,
    pub text: String,
    /// This chunk's number in its file, and how many the file has: a file is indexed only
    /// when all of them are present.
    pub chunk: u32,
    pub chunks: u32,
    /// Whether the point has a dense vector (false when the model was missing).
    pub dense: bool,
}

#[derive(Debug, Clone)]
pub struct Point {
    pub id: uuid::Uuid,
    pub dense: Option<Vec<f32>>,
    pub sparse: Sparse,
    pub payload: ChunkPayload,
}

/// What the store holds of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub blob: String,
    pub chunks: u32,
    pub present: u32,
    pub dense: bool,
    /// More than one blob of this path is present (an interrupted rewrite).
    pub mixed: bool,
}

impl FileState {
    pub fn complete(&self) -> bool {
        !self.mixed && self.present == self.chunks
    }
}

#[derive(Debug, Clone)]
pub struct VectorQuery {
    pub mode: Mode,
    pub dense: Option<Vec<f32>>,
    pub sparse: Sparse,
    /// Candidates each prefetch contributes before fusion.
    pub prefetch: usize,
    pub limit: usize,
    /// Only chunks of these paths, when given.
    pub paths: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub score: f32,
    pub payload: ChunkPayload,
}

/// A place for chunk points. Collections are created on first use.
pub trait VectorStore: Send + Sync {
    fn upsert(
        &self,
        collection: &str,
        points: Vec<Point>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes every chunk of these paths.
    fn delete_paths(
        &self,
        collection: &str,
        paths: Vec<String>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Path -> what is stored of it.
    fn inventory(
        &self,
        collection: &str,
    ) -> impl Future<Output = Result<HashMap<String, FileState>, StoreError>> + Send;
    fn query(
        &self,
        collection: &str,
        query: VectorQuery,
    ) -> impl Future<Output = Result<Vec<Hit>, StoreError>> + Send;
    /// Chunks of one file in line order, up to `limit`.
    fn file_chunks(
        &self,
        collection: &str,
        path: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ChunkPayload>, StoreError>> + Send;
    /// The chunks stored for these paths that carry a dense vector, with their text and
    /// that vector: what rewriting a changed file reuses instead of embedding again.
    fn dense_chunks(
        &self,
        collection: &str,
        paths: Vec<String>,
    ) -> impl Future<Output = Result<Vec<(ChunkPayload, Vec<f32>)>, StoreError>> + Send;
    /// Bytes on disk, when the store can tell.
    fn size_on_disk(&self, collection: &str) -> impl Future<Output = Option<u64>> + Send;
}

/// Folds stored payloads into per-file states.
pub fn fold_inventory<'a>(
    payloads: impl IntoIterator<Item = &'a ChunkPayload>,
) -> HashMap<String, FileState> {
    let mut out: HashMap<String, FileState> = HashMap::new();
    for p in payloads {
        match out.get_mut(&p.path) {
            None => {
                out.insert(
                    p.path.clone(),
                    FileState {
                        blob: p.blob.clone(),
                        chunks: p.chunks,
                        present: 1,
                        dense: p.dense,
                        mixed: false,
                    },
                );
            }
            Some(state) => {
                if state.blob != p.blob {
                    state.mixed = true;
                }
                state.present += 1;
                state.dense &= p.dense;
            }
        }
    }
    out
}

/// The point id of chunk `chunk` of `path` at `blob`.
pub fn point_id(path: &str, blob: &str, chunk: u32) -> uuid::Uuid {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(path.as_bytes());
    h.update([0]);
    h.update(blob.as_bytes());
    h.update([0]);
    h.update(chunk.to_be_bytes());
    let d = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&d[..16]);
    // Shape it as a version-8 (custom) UUID so servers that validate ids accept it.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(path: &str, blob: &str, chunk: u32, chunks: u32) -> ChunkPayload {
        ChunkPayload {
            path: path.into(),
            blob: blob.into(),
            lang: "rust".into(),
            start_line: 1,
            end_line: 2,
            symbols: vec![],
            kind: "window".into(),
            text: String::new(),
            chunk,
            chunks,
            dense: true,
        }
    }

    #[test]
    fn inventory_sees_partial_and_mixed_files() {
        let ps = [
            payload("a.rs", "1", 0, 2),
            payload("a.rs", "1", 1, 2),
            payload("b.rs", "1", 0, 3),
            payload("c.rs", "1", 0, 1),
            payload("c.rs", "2", 0, 1),
        ];
        let inv = fold_inventory(&ps);
        assert!(inv["a.rs"].complete());
        assert!(!inv["b.rs"].complete(), "1 of 3 chunks");
        assert!(inv["c.rs"].mixed && !inv["c.rs"].complete());
    }

    #[test]
    fn point_ids_are_deterministic_and_distinct() {
        assert_eq!(point_id("a", "b", 0), point_id("a", "b", 0));
        assert_ne!(point_id("a", "b", 0), point_id("a", "b", 1));
        assert_ne!(point_id("a", "b", 0), point_id("a", "c", 0));
        assert_ne!(point_id("ab", "", 0), point_id("a", "b", 0));
    }
}
