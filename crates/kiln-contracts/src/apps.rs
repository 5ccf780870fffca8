//! JSON messages of `<prefix>.deploy.remove`, the request/reply that deletes a deployed app.
//! Request/reply (not the work stream) because a person waits on the answer and a removal
//! is idempotent: when no deployer answers, nothing happened and the caller can ask again.

use serde::{Deserialize, Serialize};

/// Remove `project`'s app: stop it, delete its releases and site, drop its database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveApp {
    pub project: String,
}

/// A deployer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RemoveAppReply {
    Removed {
        /// Deploy target the app ran on.
        target: String,
        /// What was freed, for the person who asked.
        freed: Vec<String>,
    },
    Failed {
        reason: String,
    },
}
