//! Answers `<prefix>.deploy.remove`: stops an app on its target, deletes its releases and
//! site, drops its database and marks its live deployment stopped. Every step is idempotent,
//! so a request repeated after a partial failure finishes the job.

use std::sync::Arc;

use futures::StreamExt;
use kiln_contracts::apps::{RemoveApp, RemoveAppReply};
use kiln_runtime::{Ctx, Shutdown};
use kiln_store::records;
use kiln_templates::Catalog;

use crate::targets::Targets;

/// Serves removal requests (queue group `deployer`) until `shutdown`.
pub async fn serve(
    cx: Arc<Ctx>,
    catalog: Catalog,
    targets: Targets,
    databases: kiln_appdb::AppDatabases,
    shutdown: Shutdown,
) {
    let mut sub = match cx
        .nats
        .queue_subscribe(cx.subjects.app_remove(), "deployer".into())
        .await
    {
        Ok(sub) => sub,
        Err(e) => {
            tracing::error!(error = %e, "cannot serve app removal requests");
            return;
        }
    };
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => break,
            msg = sub.next() => match msg { Some(m) => m, None => break },
        };
        let reply = match serde_json::from_slice::<RemoveApp>(&msg.payload) {
            Ok(req) => remove(&cx, &catalog, &targets, &databases, &req.project).await,
            Err(e) => RemoveAppReply::Failed {
                reason: format!("malformed removal request: {e}"),
            },
        };
        if let Some(to) = msg.reply {
            let body = serde_json::to_vec(&reply).unwrap_or_default();
            if let Err(e) = cx.nats.publish(to, body.into()).await {
                tracing::warn!(error = %e, "could not answer an app removal request");
            }
        }
    }
}

async fn remove(
    cx: &Ctx,
    catalog: &Catalog,
    targets: &Targets,
    databases: &kiln_appdb::AppDatabases,
    project: &str,
) -> RemoveAppReply {
    let failed = |reason: String| {
        tracing::warn!(project, reason = %reason, "app not removed");
        RemoveAppReply::Failed { reason }
    };
    let (template, target_name) = match records::project_deploy(&cx.db, project).await {
        Ok(Some(found)) => found,
        Ok(None) => return failed(format!("no project named {project}")),
        Err(e) => return failed(format!("reading the project: {e}")),
    };
    let Some(target) = targets.get(&target_name) else {
        return failed(format!(
            "project {project} deploys to target {target_name:?}, which this deployer does not have"
        ));
    };
    let mut freed = Vec::new();
    if let Err(e) = target.remove(project).await {
        return failed(format!(
            "removing the app from {target_name}: {}",
            kiln_runtime::harness::error_chain(&e)
        ));
    }
    freed.push(format!("process, port and releases on {target_name}"));
    if let Some(db) = catalog
        .get(&template)
        .and_then(|t| t.manifest.database.as_ref())
    {
        if let Err(e) = databases.drop(project, db.kind).await {
            return failed(format!(
                "dropping the {} database: {}",
                db.kind.as_str(),
                kiln_runtime::harness::error_chain(&e)
            ));
        }
        freed.push(format!("{} database and its role", db.kind.as_str()));
    }
    match records::stop_deployments(&cx.db, project).await {
        Ok(n) if n > 0 => freed.push("live deployment marked stopped".into()),
        Ok(_) => {}
        Err(e) => return failed(format!("recording the stop: {e}")),
    }
    tracing::info!(project, target = %target_name, "app removed");
    RemoveAppReply::Removed {
        target: target_name,
        freed,
    }
}
