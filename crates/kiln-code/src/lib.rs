//! Reading source code: which language a file is in ([`Lang`]), syntax-aware chunks for
//! retrieval ([`chunk`]), code-aware terms for sparse vectors ([`tokens`], [`path_terms`]),
//! and which files may be indexed at all ([`path_verdict`], [`content_verdict`]).
//!
//! Pure functions: no I/O, no async, no global state.

mod chunk;
mod files;
mod lang;
mod syntax;
mod tokens;

pub use chunk::{Chunk, ChunkKind, ChunkOptions, MAX_PARSE_BYTES, chunk, chunk_as};
pub use files::{
    FileVerdict, MINIFIED_AVG_LINE, MINIFIED_LONG_LINE, SkipReason, content_verdict, path_verdict,
};
pub use lang::Lang;
pub use tokens::{MAX_TOKEN_CHARS, path_terms, tokens};
