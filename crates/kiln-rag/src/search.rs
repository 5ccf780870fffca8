//! Answering a retrieval question: dense and sparse candidates fused by reciprocal rank,
//! exact path and symbol mentions boosted, chunks grouped by file, and snippets packed into
//! the caller's token budget, files the caller names first.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::edge::RRF_K;
use crate::index::Rag;
use crate::sparse;
use kiln_contracts::rag::{FileHit, Mode, RagQuery, Snippet};

use crate::store::{ChunkPayload, StoreError, VectorQuery, VectorStore};

/// Candidates each of the dense and sparse prefetches brings to fusion.
const PREFETCH: usize = 100;
/// A boost worth this many places at the top of a ranked list.
const SYMBOL_BOOST: f32 = 0.5 / RRF_K as f32;
const PATH_BOOST: f32 = 1.0 / RRF_K as f32;
/// Chunks of a file that count after its best one, each at this fraction: rank-based scores
/// differ little between neighbours, so a larger weight would rank big files first.
const EXTRA_CHUNK_WEIGHT: f32 = 0.02;

/// What a search found, before the indexer adds which commit it was about.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The ranking actually used (sparse when the dense model is missing).
    pub mode: Mode,
    pub warning: Option<String>,
    pub files: Vec<FileHit>,
    pub snippets: Vec<Snippet>,
    pub tokens: usize,
}

/// Rough token count of a snippet as a model sees it (text plus a header line).
pub fn tokens_of(text: &str) -> usize {
    text.len().div_ceil(4) + 12
}

impl<S: VectorStore> Rag<S> {
    pub async fn search(
        &self,
        collection: &str,
        q: &RagQuery,
    ) -> Result<Found, crate::index::IndexError> {
        let k = q.k.clamp(1, 100);
        let wanted = q.mode.unwrap_or(Mode::Hybrid);
        let mut warning = None;
        let dense = match (wanted, self.dense.embedder()) {
            (Mode::Sparse, _) => None,
            (_, Some(model)) => {
                let model = model.clone();
                let text = vec![q.query.clone()];
                let v = tokio::task::spawn_blocking(move || model.embed(&text))
                    .await
                    .map_err(|e| StoreError::Backend(format!("embedding task: {e}")))??;
                v.into_iter().next()
            }
            (_, None) => {
                warning = self.dense.warning();
                None
            }
        };
        let mode = match (wanted, &dense) {
            (Mode::Sparse, _) | (_, None) => Mode::Sparse,
            (m, Some(_)) => m,
        };
        let inventory = self.inventory(collection).await?;
        let hits = self
            .store
            .query(
                collection,
                VectorQuery {
                    mode,
                    dense,
                    sparse: sparse::query(&q.query),
                    prefetch: PREFETCH,
                    limit: (k * 5).max(40),
                    paths: None,
                },
            )
            .await?;

        // Rank-based scores, so the three modes and the boosts share one scale.
        let words = mentioned(&q.query);
        let mentioned_paths: Vec<&String> = inventory
            .keys()
            .filter(|p| path_mentioned(p, &words))
            .collect();
        let mut scored: Vec<(f32, ChunkPayload)> = hits
            .into_iter()
            .enumerate()
            .map(|(rank, h)| {
                let mut s = 1.0 / (RRF_K + rank + 1) as f32;
                if symbol_mentioned(&h.payload.symbols, &words) {
                    s += SYMBOL_BOOST;
                }
                if mentioned_paths.contains(&&h.payload.path) {
                    s += PATH_BOOST;
                }
                (s, h.payload)
            })
            .collect();
        // A file named in the question counts even when no chunk of it ranked.
        let ranked: HashSet<String> = scored.iter().map(|(_, p)| p.path.clone()).collect();
        for path in mentioned_paths
            .iter()
            .filter(|p| !ranked.contains(p.as_str()))
            .take(5)
        {
            for c in self.store.file_chunks(collection, path, 2).await? {
                scored.push((PATH_BOOST, c));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));

        let mut by_file: BTreeMap<String, (f32, usize)> = BTreeMap::new();
        for (s, p) in &scored {
            let e = by_file.entry(p.path.clone()).or_insert((0.0, 0));
            e.0 += if e.1 == 0 { *s } else { s * EXTRA_CHUNK_WEIGHT };
            e.1 += 1;
        }
        let mut files: Vec<FileHit> = by_file
            .into_iter()
            .map(|(path, (score, chunks))| FileHit {
                path,
                score,
                chunks,
            })
            .collect();
        files.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.path.cmp(&b.path))
        });
        files.truncate(k);

        // Snippets: the caller's files first, then the best chunks of the top files.
        let mut budget = q.budget_tokens;
        let mut snippets = Vec::new();
        let mut taken: HashSet<(String, u32)> = HashSet::new();
        let mut take =
            |s: f32, c: &ChunkPayload, budget: &mut usize, snippets: &mut Vec<Snippet>| {
                let cost = tokens_of(&c.text);
                if cost > *budget || !taken.insert((c.path.clone(), c.chunk)) {
                    return;
                }
                *budget -= cost;
                snippets.push(Snippet {
                    path: c.path.clone(),
                    start_line: c.start_line,
                    end_line: c.end_line,
                    lang: c.lang.clone(),
                    symbols: c.symbols.clone(),
                    score: s,
                    text: c.text.clone(),
                });
            };
        for path in &q.paths {
            let own: Vec<&(f32, ChunkPayload)> = scored
                .iter()
                .filter(|(_, c)| &c.path == path)
                .take(2)
                .collect();
            if own.is_empty() {
                for c in self.store.file_chunks(collection, path, 2).await? {
                    take(0.0, &c, &mut budget, &mut snippets);
                }
            } else {
                for (s, c) in own {
                    take(*s, c, &mut budget, &mut snippets);
                }
            }
        }
        let top: HashMap<&str, usize> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_str(), i))
            .collect();
        for (s, c) in scored
            .iter()
            .filter(|(_, c)| top.contains_key(c.path.as_str()))
        {
            take(*s, c, &mut budget, &mut snippets);
        }
        Ok(Found {
            mode,
            warning,
            files,
            tokens: q.budget_tokens - budget,
            snippets,
        })
    }
}

/// The question's words as written (paths and identifiers keep their punctuation).
fn mentioned(query: &str) -> Vec<String> {
    query
        .split(|c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    '`' | '"' | '\'' | ',' | '(' | ')' | '[' | ']' | '<' | '>' | ';'
                )
        })
        .map(|w| w.trim_end_matches([':', '.', '!', '?']).to_owned())
        .filter(|w| w.len() >= 3)
        .collect()
}

/// A path counts as named when a word is the path, ends it after a `/`, or is its file name.
fn path_mentioned(path: &str, words: &[String]) -> bool {
    words.iter().any(|w| {
        (w.contains('.') || w.contains('/'))
            && (path == w
                || path.ends_with(&format!("/{w}"))
                || path.rsplit('/').next() == Some(w.as_str()))
    })
}

/// A symbol counts as named when a word equals it or its last segment (`Cart::add` or `add`).
fn symbol_mentioned(symbols: &[String], words: &[String]) -> bool {
    symbols.iter().any(|s| {
        let last = s.rsplit([':', '.']).next().unwrap_or(s);
        words
            .iter()
            .any(|w| w == s || (last.len() >= 3 && w.trim_end_matches("()") == last))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_named_by_full_path_suffix_or_file_name() {
        let words = mentioned("the bug is in `src/cart.rs`: see also Money.java, and app.");
        assert!(path_mentioned("src/cart.rs", &words));
        assert!(path_mentioned("core/src/main/Money.java", &words));
        assert!(
            !path_mentioned("src/app.rs", &words),
            "a bare word is not a path"
        );
        assert!(!path_mentioned("src/scart.rs", &words));
    }

    #[test]
    fn symbols_are_named_by_their_last_segment() {
        let words = mentioned("why does add_item() drop the discount");
        assert!(symbol_mentioned(&["Cart::add_item".into()], &words));
        assert!(!symbol_mentioned(&["Cart::remove_item".into()], &words));
        assert!(!symbol_mentioned(&["a".into()], &words));
    }
}
