//! Task status vocabulary (design.md §3), shared by every service and the API.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Queued,
    Planning,
    AwaitingClarification,
    AwaitingPlanApproval,
    Generating,
    Testing,
    Fixing,
    Reviewing,
    Gating,
    AwaitingReleaseApproval,
    AwaitingBudgetApproval,
    Deploying,
    Verifying,
    /// Parked by the kill switch; resumes where it stopped when the pause is lifted.
    Paused,
    Deployed,
    /// A change on a project without a deploy recipe: it passed the gate and is on the
    /// project's main branch; nothing was deployed.
    Merged,
    Blocked,
    Failed,
    Cancelled,
    RolledBack,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 20] = [
        TaskStatus::Queued,
        TaskStatus::Planning,
        TaskStatus::AwaitingClarification,
        TaskStatus::AwaitingPlanApproval,
        TaskStatus::Generating,
        TaskStatus::Testing,
        TaskStatus::Fixing,
        TaskStatus::Reviewing,
        TaskStatus::Gating,
        TaskStatus::AwaitingReleaseApproval,
        TaskStatus::AwaitingBudgetApproval,
        TaskStatus::Deploying,
        TaskStatus::Verifying,
        TaskStatus::Paused,
        TaskStatus::Deployed,
        TaskStatus::Merged,
        TaskStatus::Blocked,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
        TaskStatus::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Planning => "planning",
            TaskStatus::AwaitingClarification => "awaiting_clarification",
            TaskStatus::AwaitingPlanApproval => "awaiting_plan_approval",
            TaskStatus::Generating => "generating",
            TaskStatus::Testing => "testing",
            TaskStatus::Fixing => "fixing",
            TaskStatus::Reviewing => "reviewing",
            TaskStatus::Gating => "gating",
            TaskStatus::AwaitingReleaseApproval => "awaiting_release_approval",
            TaskStatus::AwaitingBudgetApproval => "awaiting_budget_approval",
            TaskStatus::Deploying => "deploying",
            TaskStatus::Verifying => "verifying",
            TaskStatus::Paused => "paused",
            TaskStatus::Deployed => "deployed",
            TaskStatus::Merged => "merged",
            TaskStatus::Blocked => "blocked",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Terminal statuses never change again; stages that find one skip their work.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Deployed
                | TaskStatus::Merged
                | TaskStatus::Blocked
                | TaskStatus::Failed
                | TaskStatus::Cancelled
                | TaskStatus::RolledBack
        )
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_name_and_serde() {
        for st in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(st.as_str()), Some(st));
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
        }
        assert_eq!(TaskStatus::parse("done"), None);
    }

    #[test]
    fn exactly_the_design_terminals_are_terminal() {
        let terminal: Vec<_> = TaskStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .map(TaskStatus::as_str)
            .collect();
        assert_eq!(
            terminal,
            [
                "deployed",
                "merged",
                "blocked",
                "failed",
                "cancelled",
                "rolled_back"
            ]
        );
    }
}
