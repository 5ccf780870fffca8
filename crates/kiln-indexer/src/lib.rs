//! Indexer service: keeps one retrieval collection per project equal to the commit it was
//! last asked about, and answers `<prefix>.rag.query`.
//!
//! Each commit codegen makes is announced on `<prefix>.index.<project>`; the indexer reads
//! the commit's files from git, leaves out what must never be indexed (symlinks, submodules,
//! vendored and generated directories, lockfiles, secrets, binary, minified, LFS pointers,
//! files over the size cap) and brings the collection to the commit incrementally by blob id
//! (`kiln_rag::Rag::plan` / `apply`). A question names its commit, and the indexer first
//! brings the collection there, so a fix round never sees stale code. One lock per project
//! keeps a sync and a question about another commit from interleaving.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use kiln_code::{FileVerdict, SkipReason};
use kiln_contracts::rag::{RagAnswer, RagIndex, RagIndexReply, RagIndexed, RagQuery, RagReply};
use kiln_contracts::{IndexRequest, Stage};
use kiln_git::Git;
use kiln_rag::{Dense, Rag, SourceFile, Store};
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Shutdown};
use kiln_store::records;
use sqlx::PgConnection;

/// Indexer settings are the `[rag]` section (`kiln_rag::Config`).
pub use kiln_rag::Config;

/// Blobs read from git per `cat-file --batch`.
const READ_BATCH: usize = 256;

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Synced {
    pub commit: String,
    /// Files in the commit that are indexed.
    pub files: usize,
    pub bytes: u64,
    /// Files (re)written, chunks written, files removed.
    pub written: usize,
    pub chunks: usize,
    pub deleted: usize,
    pub lines: usize,
    /// Chunks embedded, and chunks of rewritten files whose vectors were kept.
    pub embedded: usize,
    pub reused: usize,
    /// Files left out, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Files over `max_files` that were not indexed.
    pub truncated: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("reading the repository: {0}")]
    Git(#[from] kiln_git::Error),
    #[error(transparent)]
    Index(#[from] kiln_rag::IndexError),
    #[error(transparent)]
    Store(#[from] kiln_rag::store::StoreError),
}

impl SyncError {
    fn into_handler(self) -> HandlerError {
        match self {
            SyncError::Git(kiln_git::Error::UnknownRevision { .. }) => {
                HandlerError::Permanent(self.to_string())
            }
            e => HandlerError::retryable("indexing the commit", &e),
        }
    }
}

/// What the indexer shares between its work consumer and its question answerer.
pub struct Indexer {
    git: Git,
    rag: Rag<Store>,
    config: Config,
    /// One lock per collection, held across a sync (and a question's search after it).
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Blobs found not indexable by content (binary, secret, ...): not read again.
    refused: Mutex<HashMap<String, SkipReason>>,
}

impl Indexer {
    /// An indexer over the Qdrant server `[rag] url` names, else Qdrant Edge shards in
    /// `[rag] dir` or `dir`.
    pub fn new(config: Config, dir: PathBuf, dense: Dense) -> Self {
        Self {
            git: Git::new(),
            rag: Rag::new(Store::from_config(&config, dir), dense),
            config,
            locks: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
        }
    }

    pub fn rag(&self) -> &Rag<Store> {
        &self.rag
    }

    fn lock(&self, collection: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(collection.to_owned())
            .or_default()
            .clone()
    }

    /// Brings `collection` to `commit` of the bare repository `repo`.
    pub async fn sync(
        &self,
        repo: &std::path::Path,
        collection: &str,
        commit: &str,
    ) -> Result<Synced, SyncError> {
        let lock = self.lock(collection);
        let _held = lock.lock().await;
        self.sync_locked(repo, collection, commit).await
    }

    async fn sync_locked(
        &self,
        repo: &std::path::Path,
        collection: &str,
        commit: &str,
    ) -> Result<Synced, SyncError> {
        let listed = self.git.list_files(repo, commit).await?;
        let overrides = self.overrides(repo, &listed).await?;
        let mut synced = Synced {
            commit: commit.to_owned(),
            ..Synced::default()
        };
        let mut skip =
            |r: SkipReason| *synced.skipped.entry(r.as_str().to_owned()).or_default() += 1;
        let mut manifest: BTreeMap<String, String> = BTreeMap::new();
        let mut sizes: HashMap<String, u64> = HashMap::new();
        {
            let refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            for f in listed {
                if f.symlink {
                    skip(SkipReason::Symlink);
                    continue;
                }
                if let FileVerdict::Skip(r) =
                    kiln_code::path_verdict(&f.path, f.size, self.config.max_file_bytes)
                {
                    skip(r);
                    continue;
                }
                if overrides.as_ref().is_some_and(|o| o.ignored(&f.path)) {
                    skip(SkipReason::Ignored);
                    continue;
                }
                if let Some(r) = refused.get(&f.oid) {
                    skip(*r);
                    continue;
                }
                sizes.insert(f.path.clone(), f.size);
                manifest.insert(f.path, f.oid);
            }
        }
        if manifest.len() > self.config.max_files {
            // Over the cap, code the chunker understands is kept first, then other text,
            // each by path: a repository of generated fixtures keeps its sources searchable.
            let mut ranked: Vec<&String> = manifest.keys().collect();
            ranked.sort_by_key(|p| {
                let code = kiln_code::Lang::from_path(p).is_some_and(|l| l.has_grammar());
                (!code, *p)
            });
            let extra: Vec<String> = ranked
                .into_iter()
                .skip(self.config.max_files)
                .cloned()
                .collect();
            synced.truncated = extra.len();
            for p in extra {
                manifest.remove(&p);
            }
        }
        let plan = self.rag.plan(collection, &manifest).await?;
        let mut files = Vec::with_capacity(plan.write.len());
        for batch in plan.write.chunks(READ_BATCH) {
            let oids: Vec<String> = batch.iter().map(|(_, b)| b.clone()).collect();
            let blobs = self.git.read_blobs(repo, &oids).await?;
            for ((path, blob), bytes) in batch.iter().zip(blobs) {
                let Some(bytes) = bytes else { continue };
                match kiln_code::content_verdict(path, &bytes) {
                    FileVerdict::Index => files.push(SourceFile {
                        path: path.clone(),
                        blob: blob.clone(),
                        // content_verdict refuses invalid UTF-8.
                        text: String::from_utf8_lossy(&bytes).into_owned(),
                    }),
                    FileVerdict::Skip(r) => {
                        skip(r);
                        manifest.remove(path);
                        self.refused
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(blob.clone(), r);
                    }
                }
            }
        }
        // A file refused by content may still have points from an earlier blob.
        let mut delete = plan.delete;
        let writing: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
        delete.extend(
            plan.write
                .iter()
                .filter(|(p, _)| !writing.contains(p.as_str()) && !manifest.contains_key(p))
                .map(|(p, _)| p.clone()),
        );
        let applied = self.rag.apply(collection, files, delete).await?;
        synced.files = manifest.len();
        synced.bytes = manifest.keys().filter_map(|p| sizes.get(p)).sum();
        synced.written = applied.files;
        synced.chunks = applied.chunks;
        synced.deleted = applied.deleted;
        synced.lines = applied.lines;
        synced.embedded = applied.embedded;
        synced.reused = applied.reused;
        Ok(synced)
    }

    /// Scans `commit` into project knowledge (kiln-knowledge, with the repository's
    /// `.kiln/project.toml` applied) and stores it, once per commit (`kiln-learn`). Secrets
    /// are flagged by path only; their content is never read into the scan.
    pub async fn learn(
        &self,
        cx: &Ctx,
        project: &str,
        repo: &std::path::Path,
        commit: &str,
    ) -> Result<bool, String> {
        kiln_learn::ensure(&cx.db, &self.git, project, repo, commit)
            .await
            .map(|learned| learned.is_some_and(|l| l.scanned))
            .map_err(|e| kiln_runtime::harness::error_chain(&e))
    }

    /// The repository, collection and commit a request is about: `commit`, or the
    /// project's base branch.
    async fn resolve(
        &self,
        cx: &Ctx,
        project: &str,
        commit: Option<&str>,
    ) -> Result<(PathBuf, String, String), String> {
        if !kiln_store::auth::valid_name(project) {
            return Err(format!("invalid project name {project:?}"));
        }
        let repo = cx.repo_path(project);
        if !repo.exists() {
            return Err(format!("project {project:?} has no repository"));
        }
        let commit = match commit {
            Some(c) => self
                .git
                .resolve_commit(&repo, c)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no commit {c:?} in project {project:?}"))?,
            None => self
                .git
                .branch_head(&repo, kiln_git::BASE_BRANCH)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!(
                        "project {project:?} has no {} branch yet",
                        kiln_git::BASE_BRANCH
                    )
                })?,
        };
        Ok((
            repo,
            kiln_rag::collection_name(cx.subjects.prefix(), project),
            commit,
        ))
    }

    /// The commit's `.kiln/project.toml`, when it has a valid one (its `ignore` globs keep
    /// paths out of the index; a broken file is reported by the knowledge scan).
    async fn overrides(
        &self,
        repo: &std::path::Path,
        listed: &[kiln_git::FileEntry],
    ) -> Result<Option<kiln_knowledge::Overrides>, SyncError> {
        let Some(f) = listed
            .iter()
            .find(|f| f.path == kiln_knowledge::PROJECT_FILE && !f.symlink)
        else {
            return Ok(None);
        };
        let blob = self
            .git
            .read_blobs(repo, std::slice::from_ref(&f.oid))
            .await?;
        Ok(blob
            .into_iter()
            .next()
            .flatten()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|text| kiln_knowledge::parse_project_toml(&text).ok()))
    }

    /// Answers one question; the commit asked about is indexed first.
    pub async fn answer(&self, cx: &Ctx, q: &RagQuery) -> Result<RagAnswer, String> {
        let started = Instant::now();
        if q.query.trim().is_empty() && q.paths.is_empty() {
            return Err("the query is empty".into());
        }
        let (repo, collection, commit) = self.resolve(cx, &q.project, q.commit.as_deref()).await?;
        // The lock spans the sync and the search: a question about another commit waits
        // instead of moving the collection under this one.
        let lock = self.lock(&collection);
        let held = lock.lock().await;
        self.sync_locked(&repo, &collection, &commit)
            .await
            .map_err(|e| e.to_string())?;
        let found = self
            .rag
            .search(&collection, q)
            .await
            .map_err(|e| e.to_string())?;
        drop(held);
        if let Err(e) = self.learn(cx, &q.project, &repo, &commit).await {
            tracing::warn!(project = %q.project, error = %e, "project knowledge not stored");
        }
        Ok(RagAnswer {
            commit,
            mode: found.mode,
            warning: found.warning,
            files: found.files,
            snippets: found.snippets,
            tokens: found.tokens,
            took_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Brings a project's index to a commit now.
    pub async fn index_now(&self, cx: &Ctx, r: &RagIndex) -> Result<RagIndexed, String> {
        let started = Instant::now();
        let (repo, collection, commit) = self.resolve(cx, &r.project, r.commit.as_deref()).await?;
        let s = self
            .sync(&repo, &collection, &commit)
            .await
            .map_err(|e| e.to_string())?;
        self.learn(cx, &r.project, &repo, &commit).await?;
        Ok(RagIndexed {
            commit: s.commit,
            files: s.files,
            written: s.written,
            chunks: s.chunks,
            lines: s.lines,
            deleted: s.deleted,
            skipped: s.skipped,
            warning: self.rag.dense().warning(),
            took_ms: started.elapsed().as_millis() as u64,
        })
    }
}

/// The stage handler for `<prefix>.index.<project>`.
#[derive(Clone)]
pub struct IndexStage(pub Arc<Indexer>);

impl Handler for IndexStage {
    type Input = IndexRequest;
    type Output = Synced;

    fn binding(&self) -> Binding {
        Binding {
            name: "index",
            stage: Stage::Unspecified,
            active_status: None,
            skip_finished: false,
        }
    }

    async fn work(&self, cx: &Ctx, job: &Job<IndexRequest>) -> Result<Synced, HandlerError> {
        let repo = cx.repo_path(&job.input.project);
        let collection = kiln_rag::collection_name(cx.subjects.prefix(), &job.input.project);
        let synced = self
            .0
            .sync(&repo, &collection, &job.input.commit)
            .await
            .map_err(SyncError::into_handler)?;
        if let Err(e) = self
            .0
            .learn(cx, &job.input.project, &repo, &synced.commit)
            .await
        {
            return Err(HandlerError::Retryable(format!(
                "scanning the commit into project knowledge: {e}"
            )));
        }
        let skipped: Vec<String> = synced
            .skipped
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        job.log
            .info(format!(
                "indexed {} files of {} at {}: {} written ({} chunks, {} lines; {} embedded, {} kept), {} removed{}{}",
                synced.files,
                job.input.project,
                &synced.commit[..synced.commit.len().min(12)],
                synced.written,
                synced.chunks,
                synced.lines,
                synced.embedded,
                synced.reused,
                synced.deleted,
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!("; left out: {}", skipped.join(", "))
                },
                if synced.truncated > 0 {
                    format!(
                        "; {} files over the {}-file cap not indexed",
                        synced.truncated, self.0.config.max_files
                    )
                } else {
                    String::new()
                }
            ))
            .await;
        if let Some(w) = self.0.rag.dense().warning() {
            job.log.warn(w).await;
        }
        Ok(synced)
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        _cx: &Ctx,
        job: &Job<IndexRequest>,
        s: Synced,
    ) -> Result<Next, HandlerError> {
        records::insert_index_run(
            &mut *tx,
            job.task.project_id,
            Some(job.task.id),
            &s.commit,
            s.files as i32,
            s.bytes as i64,
        )
        .await?;
        Ok(Next::advance(format!("indexed {} files", s.files), vec![]))
    }
}

/// Answers `<prefix>.rag.query` and `<prefix>.rag.index` (queue group `indexer`, so
/// replicas share them) until `shutdown`. Each request runs on its own task.
pub async fn serve_requests(cx: Arc<Ctx>, indexer: Arc<Indexer>, shutdown: Shutdown) {
    let subscribed = async {
        let q = cx
            .nats
            .queue_subscribe(cx.subjects.rag_query(), "indexer".into())
            .await?;
        let i = cx
            .nats
            .queue_subscribe(cx.subjects.rag_index(), "indexer".into())
            .await?;
        Ok::<_, async_nats::SubscribeError>((q, i))
    };
    let (mut queries, mut indexing) = match subscribed.await {
        Ok(subs) => subs,
        Err(e) => {
            tracing::error!(error = %e, "cannot serve retrieval requests");
            return;
        }
    };
    loop {
        let (msg, is_query) = tokio::select! {
            _ = shutdown.cancelled() => break,
            msg = queries.next() => match msg { Some(m) => (m, true), None => break },
            msg = indexing.next() => match msg { Some(m) => (m, false), None => break },
        };
        let cx = cx.clone();
        let indexer = indexer.clone();
        tokio::spawn(async move {
            let body = if is_query {
                let reply = match serde_json::from_slice::<RagQuery>(&msg.payload) {
                    Ok(q) => match indexer.answer(&cx, &q).await {
                        Ok(a) => RagReply::Answer(a),
                        Err(reason) => {
                            tracing::warn!(project = %q.project, %reason, "retrieval question failed");
                            RagReply::Failed { reason }
                        }
                    },
                    Err(e) => RagReply::Failed {
                        reason: format!("malformed retrieval question: {e}"),
                    },
                };
                serde_json::to_vec(&reply)
            } else {
                let reply = match serde_json::from_slice::<RagIndex>(&msg.payload) {
                    Ok(r) => match indexer.index_now(&cx, &r).await {
                        Ok(done) => {
                            tracing::info!(project = %r.project, commit = %done.commit, files = done.files, written = done.written, took_ms = done.took_ms, "indexed");
                            RagIndexReply::Indexed(done)
                        }
                        Err(reason) => {
                            tracing::warn!(project = %r.project, %reason, "indexing failed");
                            RagIndexReply::Failed { reason }
                        }
                    },
                    Err(e) => RagIndexReply::Failed {
                        reason: format!("malformed indexing request: {e}"),
                    },
                };
                serde_json::to_vec(&reply)
            };
            if let Some(to) = msg.reply
                && let Err(e) = cx.nats.publish(to, body.unwrap_or_default().into()).await
            {
                tracing::warn!(error = %e, "could not answer a retrieval request");
            }
        });
    }
}

/// Runs the indexer service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), kiln_runtime::Error> {
    let dir = config
        .dir
        .clone()
        .unwrap_or_else(|| base.runtime.data_dir.join("rag"));
    // The runtime first: it answers health checks and pause broadcasts while the model loads.
    let runtime = kiln_runtime::Runtime::start(base, "indexer", &shutdown).await?;
    runtime.serve_health(&shutdown).await?;
    let loading = config.clone();
    let dense = tokio::task::spawn_blocking(move || loading.dense())
        .await
        .unwrap_or_else(|e| Dense::Missing(format!("loading the model failed: {e}")));
    match &dense {
        Dense::Ready(_) => tracing::info!("dense retrieval ready (all-MiniLM-L6-v2)"),
        Dense::Missing(why) => {
            tracing::warn!(reason = %why, "embedding model unavailable: retrieval is sparse-only")
        }
    }
    if let Some(w) = dense.warning() {
        runtime.cx.warnings.set("rag.dense", w);
    }
    let indexer = Arc::new(Indexer::new(config, dir, dense));
    tracing::info!(backend = %indexer.rag().store().describe(), "vector store");
    let queries = tokio::spawn(serve_requests(
        runtime.cx.clone(),
        indexer.clone(),
        shutdown.clone(),
    ));
    runtime.run(IndexStage(indexer.clone()), shutdown).await?;
    let _ = queries.await;
    indexer.rag().store().close();
    runtime.finish().await;
    Ok(())
}
