//! Keeping a collection equal to one commit's files, incrementally by content hash.
//!
//! `plan` compares the commit's files (path -> git blob id) with what the store holds and
//! names the files to write and the paths to remove; `apply` removes, chunks, embeds and
//! writes them. Unchanged blobs are never read or embedded again. A file counts as stored
//! only when every one of its chunks is (the chunk count travels in each payload), so an
//! `apply` cut short is finished by the next `plan`/`apply` without duplicates: point ids are
//! derived from (path, blob, chunk).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use kiln_code::{ChunkOptions, Lang};

use crate::embed::Embedder;
use crate::sparse;
use crate::store::{ChunkPayload, FileState, Point, StoreError, VectorStore, point_id};

/// Chunk sizes: the dense model reads about 256 tokens (roughly 25 lines of code), so line
/// windows stay near that; a definition up to 60 lines stays whole for the sparse vector and
/// the snippet.
const CHUNKING: ChunkOptions = ChunkOptions {
    max_lines: 60,
    window_lines: 30,
    overlap_lines: 5,
    max_chunk_chars: 4000,
};

/// Texts embedded per model call.
const EMBED_BATCH: usize = 32;
/// Files rewritten together: their old vectors are held for reuse meanwhile.
const REWRITE_GROUP: usize = 256;
/// Characters of a chunk given to the dense model (it reads about 256 tokens anyway).
const EMBED_CHARS: usize = 1500;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] crate::embed::EmbedError),
}

/// Whether dense vectors can be made, and if not, why.
#[derive(Debug, Clone)]
pub enum Dense {
    Ready(Arc<Embedder>),
    Missing(String),
}

impl Dense {
    pub fn embedder(&self) -> Option<&Arc<Embedder>> {
        match self {
            Dense::Ready(e) => Some(e),
            Dense::Missing(_) => None,
        }
    }

    /// The warning to show while retrieval is sparse-only.
    pub fn warning(&self) -> Option<String> {
        match self {
            Dense::Ready(_) => None,
            Dense::Missing(why) => Some(format!(
                "dense retrieval is off, results are BM25 only: {why}"
            )),
        }
    }
}

/// A file to (re)index.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub blob: String,
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// (path, blob) of files to write.
    pub write: Vec<(String, String)>,
    /// Paths no longer in the commit.
    pub delete: Vec<String>,
    pub unchanged: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub files: usize,
    pub deleted: usize,
    pub chunks: usize,
    pub lines: usize,
    /// Chunks given to the model.
    pub embedded: usize,
    /// Chunks of rewritten files whose text was unchanged: their vectors were kept.
    pub reused: usize,
}

pub struct Rag<S> {
    pub(crate) store: S,
    pub(crate) dense: Dense,
    chunking: ChunkOptions,
    /// The store's inventory per collection, loaded once and kept equal to it.
    inventories: Mutex<HashMap<String, HashMap<String, FileState>>>,
}

impl<S: VectorStore> Rag<S> {
    pub fn new(store: S, dense: Dense) -> Self {
        Self {
            store,
            dense,
            chunking: CHUNKING,
            inventories: Mutex::new(HashMap::new()),
        }
    }

    pub fn dense(&self) -> &Dense {
        &self.dense
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub(crate) async fn inventory(
        &self,
        collection: &str,
    ) -> Result<HashMap<String, FileState>, StoreError> {
        if let Some(inv) = self.cached(collection) {
            return Ok(inv);
        }
        let inv = self.store.inventory(collection).await?;
        self.inventories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(collection.to_owned(), inv.clone());
        Ok(inv)
    }

    fn cached(&self, collection: &str) -> Option<HashMap<String, FileState>> {
        self.inventories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(collection)
            .cloned()
    }

    fn forget(&self, collection: &str) {
        self.inventories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(collection);
    }

    /// What must change for `collection` to hold exactly `files` (path -> blob).
    pub async fn plan(
        &self,
        collection: &str,
        files: &BTreeMap<String, String>,
    ) -> Result<Plan, StoreError> {
        let inv = self.inventory(collection).await?;
        let want_dense = self.dense.embedder().is_some();
        let mut plan = Plan::default();
        for (path, blob) in files {
            match inv.get(path) {
                Some(s) if s.complete() && &s.blob == blob && (s.dense || !want_dense) => {
                    plan.unchanged += 1
                }
                _ => plan.write.push((path.clone(), blob.clone())),
            }
        }
        plan.delete = inv
            .keys()
            .filter(|p| !files.contains_key(*p))
            .cloned()
            .collect();
        plan.delete.sort();
        Ok(plan)
    }

    /// Removes `delete` and writes `files` (replacing whatever the store held of their
    /// paths).
    pub async fn apply(
        &self,
        collection: &str,
        files: Vec<SourceFile>,
        delete: Vec<String>,
    ) -> Result<Applied, IndexError> {
        let result = self.apply_inner(collection, files, delete).await;
        // The cache is rebuilt from the store after any failure: it may have changed halfway.
        match &result {
            Ok(_) => {}
            Err(_) => self.forget(collection),
        }
        result
    }

    async fn apply_inner(
        &self,
        collection: &str,
        files: Vec<SourceFile>,
        delete: Vec<String>,
    ) -> Result<Applied, IndexError> {
        let mut applied = Applied {
            deleted: delete.len(),
            ..Applied::default()
        };
        self.store.delete_paths(collection, delete.clone()).await?;
        self.uncache(collection, &delete);

        let mut pending: Vec<Point> = Vec::new();
        let mut states: Vec<(String, FileState)> = Vec::new();
        let mut files = files.into_iter().peekable();
        while files.peek().is_some() {
            // Files are rewritten a group at a time, so the vectors held for reuse stay
            // bounded however many files a commit changes.
            let group: Vec<SourceFile> = files.by_ref().take(REWRITE_GROUP).collect();
            let reuse = self.reusable(collection, &group).await?;
            let paths: Vec<String> = group.iter().map(|f| f.path.clone()).collect();
            self.store.delete_paths(collection, paths.clone()).await?;
            self.uncache(collection, &paths);
            let last = group.len();
            for (i, file) in group.into_iter().enumerate() {
                self.chunk_file(file, &mut pending, &mut states, &mut applied);
                // The group's vectors go with it, so its points are written before the next.
                if pending.len() >= EMBED_BATCH * 4 || i + 1 == last {
                    self.write(
                        collection,
                        std::mem::take(&mut pending),
                        &reuse,
                        &mut applied,
                    )
                    .await?;
                }
            }
        }
        applied.chunks = states.iter().map(|(_, s)| s.chunks as usize).sum();
        if let Some(inv) = self
            .inventories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(collection)
        {
            inv.extend(states);
        }
        Ok(applied)
    }

    fn uncache(&self, collection: &str, paths: &[String]) {
        if let Some(inv) = self
            .inventories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(collection)
        {
            for p in paths {
                inv.remove(p);
            }
        }
    }

    /// The dense vectors already stored for `files`' chunks, by embedding text: a changed
    /// file usually keeps most of its chunks word for word, and those are not embedded again.
    async fn reusable(
        &self,
        collection: &str,
        files: &[SourceFile],
    ) -> Result<HashMap<String, Vec<f32>>, IndexError> {
        let mut reuse = HashMap::new();
        if self.dense.embedder().is_none() {
            return Ok(reuse);
        }
        let loaded = self
            .inventories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(collection);
        if !loaded {
            self.inventory(collection).await?;
        }
        // Read in place: copying the whole inventory for every group would be quadratic.
        let embedded: Vec<String> = {
            let inventories = self.inventories.lock().unwrap_or_else(|p| p.into_inner());
            let inv = inventories.get(collection);
            files
                .iter()
                .filter(|f| inv.and_then(|i| i.get(&f.path)).is_some_and(|s| s.dense))
                .map(|f| f.path.clone())
                .collect()
        };
        if !embedded.is_empty() {
            for (p, v) in self.store.dense_chunks(collection, embedded).await? {
                reuse.insert(embedding_text(&p), v);
            }
        }
        Ok(reuse)
    }

    /// Chunks `file` into points (sparse vectors made, dense ones left to `write`).
    fn chunk_file(
        &self,
        file: SourceFile,
        pending: &mut Vec<Point>,
        states: &mut Vec<(String, FileState)>,
        applied: &mut Applied,
    ) {
        let lang = Lang::from_path(&file.path).unwrap_or(Lang::Text);
        let chunks = kiln_code::chunk(&file.path, &file.text, &self.chunking);
        applied.files += 1;
        applied.lines += file.text.lines().count();
        let total = chunks.len() as u32;
        for (i, c) in chunks.into_iter().enumerate() {
            let payload = ChunkPayload {
                path: file.path.clone(),
                blob: file.blob.clone(),
                lang: lang.name().to_owned(),
                start_line: c.start_line,
                end_line: c.end_line,
                symbols: c.symbols,
                kind: format!("{:?}", c.kind).to_lowercase(),
                text: c.text,
                chunk: i as u32,
                chunks: total,
                dense: false,
            };
            let sparse = sparse::document(&payload.path, &payload.symbols, &payload.text);
            pending.push(Point {
                id: point_id(&payload.path, &payload.blob, payload.chunk),
                dense: None,
                sparse,
                payload,
            });
        }
        states.push((
            file.path,
            FileState {
                blob: file.blob,
                chunks: total,
                present: total,
                dense: self.dense.embedder().is_some(),
                mixed: false,
            },
        ));
    }

    /// Embeds (when the model is there) the points `reuse` has no vector for, and upserts
    /// the batch.
    async fn write(
        &self,
        collection: &str,
        mut points: Vec<Point>,
        reuse: &HashMap<String, Vec<f32>>,
        applied: &mut Applied,
    ) -> Result<(), IndexError> {
        if points.is_empty() {
            return Ok(());
        }
        if let Some(model) = self.dense.embedder() {
            let mut fresh: Vec<usize> = Vec::new();
            let mut texts: Vec<String> = Vec::new();
            for (i, p) in points.iter_mut().enumerate() {
                let text = embedding_text(&p.payload);
                match reuse.get(&text) {
                    Some(v) => {
                        p.dense = Some(v.clone());
                        p.payload.dense = true;
                        applied.reused += 1;
                    }
                    None => {
                        fresh.push(i);
                        texts.push(text);
                    }
                }
            }
            let model = model.clone();
            let vectors = tokio::task::spawn_blocking(move || {
                let mut out = Vec::with_capacity(texts.len());
                for batch in texts.chunks(EMBED_BATCH) {
                    out.extend(model.embed(batch)?);
                }
                Ok::<_, crate::embed::EmbedError>(out)
            })
            .await
            .map_err(|e| StoreError::Backend(format!("embedding task: {e}")))??;
            for (i, v) in fresh.into_iter().zip(vectors) {
                points[i].dense = Some(v);
                points[i].payload.dense = true;
                applied.embedded += 1;
            }
        }
        self.store.upsert(collection, points).await?;
        Ok(())
    }
}

/// What the dense model reads of a chunk: where it is and what it defines, then its text.
pub fn embedding_text(p: &ChunkPayload) -> String {
    let mut s = String::with_capacity(EMBED_CHARS + 64);
    s.push_str(&p.path);
    if !p.symbols.is_empty() {
        s.push(' ');
        s.push_str(&p.symbols.join(" "));
    }
    s.push('\n');
    for ch in p.text.chars() {
        if s.len() >= EMBED_CHARS {
            break;
        }
        s.push(ch);
    }
    s
}
