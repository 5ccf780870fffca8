//! Indexer service: follows every commit of every project and records what it indexed.
//!
//! Each commit codegen makes is announced on `<prefix>.index.<project>`. This release
//! records the commit's file inventory (files and bytes) so later stages know the index is
//! current; chunking, embeddings and hybrid retrieval over Qdrant build on this record.

use kiln_contracts::{IndexRequest, Stage};
use kiln_git::Git;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Shutdown};
use kiln_store::records;
use sqlx::PgConnection;

/// Indexer settings (`[indexer]`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {}

/// What was found in one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub commit: String,
    pub files: i32,
    pub bytes: i64,
}

pub struct Indexer {
    git: Git,
}

impl Indexer {
    pub fn new() -> Self {
        Self { git: Git::new() }
    }
}

impl Default for Indexer {
    fn default() -> Self {
        Self::new()
    }
}

impl Handler for Indexer {
    type Input = IndexRequest;
    type Output = Inventory;

    fn binding(&self) -> Binding {
        Binding {
            name: "index",
            stage: Stage::Unspecified,
            active_status: None,
            skip_finished: false,
        }
    }

    async fn work(&self, cx: &Ctx, job: &Job<IndexRequest>) -> Result<Inventory, HandlerError> {
        let repo = cx.repo_path(&job.input.project);
        let files = self
            .git
            .list_files(&repo, &job.input.commit)
            .await
            .map_err(|e| HandlerError::retryable("listing the commit's files", &e))?;
        let bytes = files.iter().map(|f| f.size as i64).sum();
        job.log
            .info(format!(
                "indexed {} files ({bytes} bytes) of {} at {}",
                files.len(),
                job.input.project,
                &job.input.commit[..job.input.commit.len().min(12)]
            ))
            .await;
        Ok(Inventory {
            commit: job.input.commit.clone(),
            files: files.len() as i32,
            bytes,
        })
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        _cx: &Ctx,
        job: &Job<IndexRequest>,
        inv: Inventory,
    ) -> Result<Next, HandlerError> {
        records::insert_index_run(
            &mut *tx,
            job.task.project_id,
            Some(job.task.id),
            &inv.commit,
            inv.files,
            inv.bytes,
        )
        .await?;
        Ok(Next::advance(
            format!("indexed {} files", inv.files),
            vec![],
        ))
    }
}

/// Runs the indexer service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    _config: Config,
    shutdown: Shutdown,
) -> Result<(), kiln_runtime::Error> {
    kiln_runtime::serve_stage(base, "indexer", Indexer::new(), shutdown).await?;
    Ok(())
}
