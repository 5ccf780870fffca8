//! Sparse vectors for BM25-style retrieval. A document's value for a term is BM25's
//! saturated term frequency with length normalisation; the inverse document frequency is
//! left to the store (Qdrant's `idf` modifier computes it over the collection at query
//! time), so the vectors of unchanged chunks never need rewriting as the corpus grows.
//!
//! Terms come from `kiln_code::tokens` (identifiers split at camelCase, snake_case and
//! path separators, plus the whole identifier), hashed to 32-bit indices.

use std::collections::BTreeMap;

/// BM25 saturation and length normalisation, the usual values.
const K1: f32 = 1.2;
const B: f32 = 0.75;
/// Typical terms per chunk: chunks are bounded (`ChunkOptions`), so a constant stands in
/// for the corpus average without a second pass.
const AVG_TERMS: f32 = 120.0;
/// Path and symbol terms count as this many occurrences: a chunk that defines `parse_config`
/// is about it more than one that calls it once.
const NAME_WEIGHT: u32 = 3;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sparse {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Sparse {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// 32-bit FNV-1a: stable across processes and versions (the index depends on it).
pub fn term_index(term: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in term.as_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The document vector of one chunk: its text, plus its path and symbol names weighted up.
pub fn document(path: &str, symbols: &[String], text: &str) -> Sparse {
    let mut counts: BTreeMap<u32, u32> = BTreeMap::new();
    let mut total = 0u32;
    for t in kiln_code::tokens(text) {
        *counts.entry(term_index(&t)).or_default() += 1;
        total += 1;
    }
    let names = kiln_code::path_terms(path)
        .into_iter()
        .chain(symbols.iter().flat_map(|s| kiln_code::tokens(s)));
    for t in names {
        *counts.entry(term_index(&t)).or_default() += NAME_WEIGHT;
        total += NAME_WEIGHT;
    }
    let norm = K1 * (1.0 - B + B * total as f32 / AVG_TERMS);
    let (indices, values) = counts
        .into_iter()
        .map(|(i, tf)| {
            let tf = tf as f32;
            (i, tf * (K1 + 1.0) / (tf + norm))
        })
        .unzip();
    Sparse { indices, values }
}

/// The query vector: each distinct term once (the store multiplies by its IDF).
pub fn query(text: &str) -> Sparse {
    let mut terms: Vec<u32> = kiln_code::tokens(text)
        .iter()
        .map(|t| term_index(t))
        .collect();
    terms.sort_unstable();
    terms.dedup();
    let values = vec![1.0; terms.len()];
    Sparse {
        indices: terms,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_terms_saturate_and_names_count_more() {
        let once = document("src/a.rs", &[], "fn total() { price }");
        let many = document("src/a.rs", &[], "price price price price price price price");
        let i = term_index("price");
        let v = |s: &Sparse| s.values[s.indices.iter().position(|&x| x == i).unwrap()];
        assert!(v(&many) > v(&once));
        assert!(v(&many) < (K1 + 1.0), "BM25 saturates below k1 + 1");
        let named = document("src/price.rs", &["price".into()], "fn total() { price }");
        assert!(v(&named) > v(&once));
    }

    #[test]
    fn query_terms_are_distinct_and_sorted() {
        let q = query("parseConfig parse_config config");
        let mut sorted = q.indices.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(q.indices, sorted);
        assert!(q.indices.contains(&term_index("config")));
        assert!(q.values.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn term_index_is_stable() {
        // Pinned: changing the hash silently invalidates every stored index.
        assert_eq!(term_index(""), 0x811c_9dc5);
        assert_eq!(term_index("a"), 0xe40c_292c);
    }
}
