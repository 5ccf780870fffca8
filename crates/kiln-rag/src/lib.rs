//! Retrieval of code context: syntax-aware chunks (`kiln-code`), dense vectors from a local
//! all-MiniLM-L6-v2 (`embed`), BM25-style sparse vectors (`sparse`), stored in Qdrant Edge
//! in-process (`edge`, the default) or on a Qdrant server over gRPC (`server`) behind the
//! `VectorStore` trait (`store`; `backend::Store` picks one from `Config`), kept equal to a commit
//! incrementally (`index`) and searched with fusion, boosts and a token budget (`search`).
//!
//! Without the model, everything still works sparse-only and says so (`Dense::Missing`).

pub mod backend;
pub mod edge;
pub mod embed;
pub mod index;
pub mod search;
pub mod server;
pub mod sparse;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

pub use backend::Store;
pub use edge::EdgeStore;
pub use embed::{EmbedError, Embedder};
pub use index::{Applied, Dense, IndexError, Plan, Rag, SourceFile};
pub use search::Found;
pub use server::ServerStore;
pub use store::{Mode, VectorStore};

/// Retrieval settings (`[rag]`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory of the embedding model (model.onnx, tokenizer.json, config.json,
    /// special_tokens_map.json, tokenizer_config.json). `infra/scripts/setup.sh` installs it
    /// and exports `KILN_RAG__MODEL_DIR`.
    pub model_dir: Option<PathBuf>,
    /// The ONNX Runtime shared library (`libonnxruntime.so.1.32.0`), exported by the setup
    /// script as `KILN_RAG__ORT_LIBRARY`.
    pub ort_library: Option<PathBuf>,
    /// Where Qdrant Edge keeps its shards; default `<data_dir>/rag`. Unused with `url`.
    pub dir: Option<PathBuf>,
    /// A Qdrant server's gRPC endpoint (`http://qdrant:6334`, port 6334, not the REST
    /// port 6333); set, the collections live there instead of in Qdrant Edge in-process.
    /// `KILN_RAG__URL`.
    pub url: Option<String>,
    /// The server's API key (`KILN_RAG__API_KEY`), sent as the `api-key` header; use TLS
    /// (`https://`) when the server is not on a private network.
    pub api_key: Option<kiln_runtime::Secret>,
    /// Seconds a request to the server may take (connecting included).
    pub timeout_secs: u64,
    /// Dense (semantic) retrieval; off, search is BM25-only (and the model is not loaded).
    pub dense: bool,
    /// Threads the embedding model may use.
    pub threads: usize,
    /// Files larger than this are not indexed.
    pub max_file_bytes: u64,
    /// Commits with more files than this index only this many (source code with a grammar
    /// first, then the rest, each by path) and say so.
    pub max_files: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            model_dir: None,
            ort_library: None,
            dir: None,
            url: None,
            api_key: None,
            timeout_secs: 30,
            dense: true,
            threads: 2,
            max_file_bytes: 512 * 1024,
            max_files: 50_000,
        }
    }
}

impl Config {
    /// Why dense retrieval will not be available, checked from the files alone; `None`
    /// when everything the model needs is in place.
    pub fn dense_warning(&self) -> Option<String> {
        let why = if !self.dense {
            "dense retrieval is turned off ([rag] dense = false)".to_owned()
        } else {
            Embedder::check(self.model_dir.as_deref(), self.ort_library.as_deref())
                .err()?
                .to_string()
        };
        Dense::Missing(why).warning()
    }

    /// Loads the model, or says why it cannot (retrieval then runs sparse-only).
    pub fn dense(&self) -> Dense {
        if !self.dense {
            return Dense::Missing("dense retrieval is turned off ([rag] dense = false)".into());
        }
        match Embedder::load(
            self.model_dir.as_deref(),
            self.ort_library.as_deref(),
            self.threads,
        ) {
            Ok(e) => Dense::Ready(Arc::new(e)),
            Err(e) => Dense::Missing(e.to_string()),
        }
    }
}

/// The collection of `project` under subject prefix `prefix` (tests and tenants stay apart).
pub fn collection_name(prefix: &str, project: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{}__{}", clean(prefix), clean(project))
}
