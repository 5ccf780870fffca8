//! JSON messages of `<prefix>.rag.query`, the request/reply retrieval the indexer answers.
//! The indexer first brings the project's index to the commit asked about, so an answer
//! never shows code from another commit.

use serde::{Deserialize, Serialize};

/// Which vectors rank the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Dense and sparse candidates fused with reciprocal rank fusion.
    Hybrid,
    /// all-MiniLM-L6-v2 vectors only.
    Dense,
    /// BM25-style sparse vectors only.
    Sparse,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Hybrid => "hybrid",
            Mode::Dense => "dense",
            Mode::Sparse => "sparse",
        }
    }
}

/// A retrieval question about one commit of one project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RagQuery {
    pub project: String,
    /// The commit the question is about; the project's base branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub query: String,
    /// Files to return.
    #[serde(default = "default_k")]
    pub k: usize,
    /// Tokens the snippets may take (about four characters each).
    #[serde(default = "default_budget")]
    pub budget_tokens: usize,
    /// Files whose chunks must be in the snippets whatever they score (files named in errors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

fn default_k() -> usize {
    10
}

fn default_budget() -> usize {
    4000
}

/// A file, ranked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileHit {
    pub path: String,
    pub score: f32,
    /// Its chunks among the candidates.
    pub chunks: usize,
}

/// Lines of a file given to the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snippet {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub lang: String,
    pub symbols: Vec<String>,
    pub score: f32,
    pub text: String,
}

/// What was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RagAnswer {
    pub commit: String,
    /// The ranking actually used: `sparse` when the embedding model is missing.
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    pub files: Vec<FileHit>,
    pub snippets: Vec<Snippet>,
    /// Tokens the snippets take.
    pub tokens: usize,
    /// Time spent answering, including bringing the index to the commit.
    pub took_ms: u64,
}

/// The indexer's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RagReply {
    Answer(RagAnswer),
    Failed { reason: String },
}

/// Bring a project's index to a commit now (the base branch when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RagIndex {
    pub project: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// What indexing a commit did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RagIndexed {
    pub commit: String,
    /// Files of the commit in the index.
    pub files: usize,
    /// Files (re)written this time, their chunks and lines; paths removed.
    pub written: usize,
    pub chunks: usize,
    pub lines: usize,
    pub deleted: usize,
    /// Files left out, by reason (`secret`, `binary`, `vendored`, ...).
    pub skipped: std::collections::BTreeMap<String, usize>,
    /// Whether dense vectors were made; when not, why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    pub took_ms: u64,
}

/// The indexer's reply to [`RagIndex`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RagIndexReply {
    Indexed(RagIndexed),
    Failed { reason: String },
}
