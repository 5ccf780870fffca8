//! Dense vectors: all-MiniLM-L6-v2 through `fastembed` on ONNX Runtime, loaded from local
//! files only (the setup scripts install them from PyPI; nothing is fetched at run time).
//!
//! Loading never panics: every file is checked first and a missing one is named, and the
//! ONNX Runtime library is loaded explicitly (`ort::init_from`) so a wrong path is an error
//! here instead of a panic on first use.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};

/// Dimensions of all-MiniLM-L6-v2's sentence vectors.
pub const DIM: usize = 384;

/// Tokens per input: longer chunks are truncated for the dense vector (the sparse vector
/// still sees the whole chunk).
pub const MAX_TOKENS: usize = 256;
/// Texts per model run.
const BATCH: usize = 16;

/// The files a model directory must hold.
pub const MODEL_FILES: [&str; 5] = [
    "model.onnx",
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "the embedding model is not configured: set [rag] model_dir (KILN_RAG__MODEL_DIR); infra/scripts/setup.sh installs it"
    )]
    NoModelDir,
    #[error(
        "the ONNX Runtime library is not configured: set [rag] ort_library (KILN_RAG__ORT_LIBRARY); infra/scripts/setup.sh installs it"
    )]
    NoRuntime,
    #[error("the embedding model file {} is missing (run infra/scripts/setup.sh to install the model)", .0.display())]
    MissingFile(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot load the ONNX Runtime library {}: {detail}", path.display())]
    Runtime { path: PathBuf, detail: String },
    #[error("cannot load the embedding model from {}: {detail}", path.display())]
    Model { path: PathBuf, detail: String },
    #[error("embedding failed: {0}")]
    Embed(String),
}

/// A loaded sentence-embedding model. Embedding is CPU-bound and blocking: call it from a
/// blocking thread.
pub struct Embedder {
    model: Mutex<TextEmbedding>,
    dir: PathBuf,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("dir", &self.dir).finish()
    }
}

impl Embedder {
    /// Checks that every file the model and the runtime need is there, without loading
    /// anything (cheap enough for `kiln up` to say what is missing before it starts).
    pub fn check<'a>(
        dir: Option<&'a Path>,
        runtime: Option<&'a Path>,
    ) -> Result<(&'a Path, &'a Path), EmbedError> {
        let dir = dir.ok_or(EmbedError::NoModelDir)?;
        let runtime = runtime.ok_or(EmbedError::NoRuntime)?;
        for name in MODEL_FILES {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(EmbedError::MissingFile(path));
            }
        }
        if !runtime.is_file() {
            return Err(EmbedError::MissingFile(runtime.to_path_buf()));
        }
        Ok((dir, runtime))
    }

    /// Loads the model in `dir` on the ONNX Runtime library at `runtime`, with `threads`
    /// intra-op threads.
    pub fn load(
        dir: Option<&Path>,
        runtime: Option<&Path>,
        threads: usize,
    ) -> Result<Self, EmbedError> {
        let (dir, runtime) = Self::check(dir, runtime)?;
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| EmbedError::Read { path, source })
        };
        // A second call in one process keeps the library loaded by the first.
        ort::init_from(runtime).map_err(|e| EmbedError::Runtime {
            path: runtime.to_path_buf(),
            detail: e.to_string(),
        })?;
        let tokenizer = TokenizerFiles {
            tokenizer_file: read("tokenizer.json")?,
            config_file: read("config.json")?,
            special_tokens_map_file: read("special_tokens_map.json")?,
            tokenizer_config_file: read("tokenizer_config.json")?,
        };
        let model = UserDefinedEmbeddingModel::new(read("model.onnx")?, tokenizer)
            .with_pooling(Pooling::Mean);
        let mut options = InitOptionsUserDefined::new();
        options.max_length = MAX_TOKENS;
        options.intra_threads = Some(threads.max(1));
        let model = TextEmbedding::try_new_from_user_defined(model, options).map_err(|e| {
            EmbedError::Model {
                path: dir.to_path_buf(),
                detail: e.to_string(),
            }
        })?;
        Ok(Self {
            model: Mutex::new(model),
            dir: dir.to_path_buf(),
        })
    }

    /// Unit-length vectors of `texts`, in order.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(vec![]);
        }
        // A batch is padded to its longest text, so texts of like length go together:
        // small functions beside a 256-token window would otherwise pay for its length.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let sorted: Vec<&String> = order.iter().map(|&i| &texts[i]).collect();
        let mut model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        let embedded = model
            .embed(sorted, Some(BATCH))
            .map_err(|e| EmbedError::Embed(e.to_string()))?;
        drop(model);
        if embedded.len() != texts.len() {
            return Err(EmbedError::Embed(format!(
                "the model gave {} vectors for {} texts",
                embedded.len(),
                texts.len()
            )));
        }
        let mut out = vec![Vec::new(); texts.len()];
        for (i, v) in order.into_iter().zip(embedded) {
            out[i] = v;
        }
        for v in &mut out {
            normalize(v);
            if v.len() != DIM {
                return Err(EmbedError::Embed(format!(
                    "the model gave {} dimensions, expected {DIM}",
                    v.len()
                )));
            }
        }
        Ok(out)
    }
}

fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
