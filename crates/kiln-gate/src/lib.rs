//! Release gate: combines every verdict of a round into `approved`, `skipped` or `blocked`,
//! listing every reason, so a person can always see why.
//!
//! Hard reasons block; soft reasons skip (wait for a person); info reasons explain an approval.

use kiln_contracts::{Stage, WorkItem};
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Shutdown};
use kiln_store::TaskStatus;
use kiln_store::records::{self, GateDecision, Reason, Review, TestRun};
use sqlx::PgConnection;

/// Gate settings (`[gate]`); the offline policy needs none yet.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {}

fn reason(code: &str, kind: &str, message: impl Into<String>) -> Reason {
    Reason {
        code: code.into(),
        kind: kind.into(),
        message: message.into(),
    }
}

/// Decides a round from its test run and reviews.
pub fn decide(round: i32, test: Option<&TestRun>, reviews: &[Review]) -> GateDecision {
    let mut reasons = Vec::new();
    match test {
        None => reasons.push(reason(
            "tests_missing",
            "hard",
            "no test run was recorded for this round",
        )),
        Some(t) if t.error.is_some() => reasons.push(reason(
            "tests_not_run",
            "hard",
            format!(
                "tests could not run: {}",
                t.error.as_deref().unwrap_or_default()
            ),
        )),
        Some(t) if !t.passed => {
            let failed = t
                .commands
                .iter()
                .find(|c| c.exit_code != Some(0) || c.timed_out)
                .map(|c| {
                    if c.timed_out {
                        format!("`{}` ({}) timed out", c.command, c.phase)
                    } else {
                        format!(
                            "`{}` ({}) exited with {:?}",
                            c.command, c.phase, c.exit_code
                        )
                    }
                })
                .unwrap_or_else(|| "a command failed".into());
            reasons.push(reason(
                "tests_failed",
                "hard",
                format!("tests failed: {failed}"),
            ));
        }
        Some(t) => reasons.push(reason(
            "tests_passed",
            "info",
            format!("{} install/build/test commands passed", t.commands.len()),
        )),
    }
    if reviews.is_empty() {
        reasons.push(reason(
            "review_missing",
            "hard",
            "no reviewer looked at this round",
        ));
    }
    for r in reviews {
        match r.verdict.as_str() {
            "block" => {
                let worst: Vec<String> = r
                    .findings
                    .iter()
                    .filter(|f| f.severity == "critical")
                    .map(|f| match (&f.file, f.line) {
                        (Some(file), Some(line)) => format!("{} at {file}:{line}", f.rule),
                        _ => f.rule.clone(),
                    })
                    .collect();
                reasons.push(reason(
                    "review_blocked",
                    "hard",
                    format!(
                        "reviewer {} blocked the change: {}",
                        r.reviewer,
                        worst.join(", ")
                    ),
                ));
            }
            "concerns" => reasons.push(reason(
                "review_concerns",
                "info",
                format!("reviewer {} raised concerns: {}", r.reviewer, r.summary),
            )),
            _ => reasons.push(reason(
                "review_passed",
                "info",
                format!("reviewer {} passed the change", r.reviewer),
            )),
        }
    }
    let decision = if reasons.iter().any(|r| r.kind == "hard") {
        "blocked"
    } else if reasons.iter().any(|r| r.kind == "soft") {
        "skipped"
    } else {
        "approved"
    };
    GateDecision {
        round,
        decision: decision.into(),
        reasons,
        decided_by: "gate".into(),
    }
}

pub struct Gate;

impl Handler for Gate {
    type Input = WorkItem;
    type Output = GateDecision;

    fn binding(&self) -> Binding {
        Binding {
            name: "gate",
            stage: Stage::Gate,
            active_status: Some(TaskStatus::Gating),
            skip_finished: true,
        }
    }

    async fn work(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<GateDecision, HandlerError> {
        let round = job.input.round as i32;
        let mut conn = cx.db.acquire().await?;
        let tests = records::test_runs(&mut conn, job.task.id).await?;
        let reviews = records::reviews(&mut conn, job.task.id, Some(round)).await?;
        let decision = decide(round, tests.iter().find(|t| t.round == round), &reviews);
        job.log
            .info(format!("gate decision: {}", decision.decision))
            .await;
        for r in &decision.reasons {
            job.log
                .info(format!("  [{}] {}: {}", r.kind, r.code, r.message))
                .await;
        }
        Ok(decision)
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<WorkItem>,
        decision: GateDecision,
    ) -> Result<Next, HandlerError> {
        records::insert_gate_decision(&mut *tx, job.task.id, &decision).await?;
        let because = |kind: &str| {
            decision
                .reasons
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        };
        Ok(match decision.decision.as_str() {
            "approved" => {
                let deploy = WorkItem {
                    stage: Stage::Deploy as i32,
                    ..job.input.clone()
                };
                Next::advance("approved", vec![cx.work_message(&deploy)])
            }
            "skipped" => Next {
                status: Some((TaskStatus::AwaitingReleaseApproval, Some(because("soft")))),
                ..Next::advance("skipped: waiting for a person", vec![])
            },
            _ => {
                let why = because("hard");
                Next {
                    status: Some((TaskStatus::Blocked, Some(why.clone()))),
                    ..Next::advance(format!("blocked: {why}"), vec![])
                }
            }
        })
    }
}

/// Runs the gate service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    _config: Config,
    shutdown: Shutdown,
) -> Result<(), kiln_runtime::Error> {
    kiln_runtime::serve_stage(base, "gate", Gate, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_store::records::{Finding, TestCommand};
    use time::OffsetDateTime;

    fn run(passed: bool, error: Option<&str>) -> TestRun {
        TestRun {
            round: 0,
            commit_sha: "abc".into(),
            passed,
            error: error.map(Into::into),
            started_at: OffsetDateTime::UNIX_EPOCH,
            finished_at: OffsetDateTime::UNIX_EPOCH,
            commands: vec![TestCommand {
                phase: "test".into(),
                command: "npm test".into(),
                exit_code: Some(if passed { 0 } else { 1 }),
                timed_out: false,
                duration_ms: 5,
                output_tail: String::new(),
            }],
        }
    }

    fn review(verdict: &str, findings: Vec<Finding>) -> Review {
        Review {
            round: 0,
            reviewer: "deterministic".into(),
            verdict: verdict.into(),
            summary: "s".into(),
            findings,
        }
    }

    fn codes(d: &GateDecision) -> Vec<(&str, &str)> {
        d.reasons
            .iter()
            .map(|r| (r.code.as_str(), r.kind.as_str()))
            .collect()
    }

    #[test]
    fn passing_tests_and_reviews_approve_with_reasons() {
        let d = decide(0, Some(&run(true, None)), &[review("pass", vec![])]);
        assert_eq!(d.decision, "approved");
        assert_eq!(
            codes(&d),
            [("tests_passed", "info"), ("review_passed", "info")]
        );
    }

    #[test]
    fn failed_tests_block_and_say_which_command() {
        let d = decide(0, Some(&run(false, None)), &[review("pass", vec![])]);
        assert_eq!(d.decision, "blocked");
        assert!(
            d.reasons[0]
                .message
                .contains("`npm test` (test) exited with Some(1)")
        );
    }

    #[test]
    fn a_missing_toolchain_blocks_with_its_name() {
        let d = decide(
            0,
            Some(&run(
                false,
                Some("missing toolchain on the tester host: npm"),
            )),
            &[review("pass", vec![])],
        );
        assert_eq!(d.decision, "blocked");
        assert_eq!(d.reasons[0].code, "tests_not_run");
        assert!(d.reasons[0].message.contains("npm"));
    }

    #[test]
    fn a_reviewer_block_blocks_and_every_reason_is_listed() {
        let secret = Finding {
            rule: "secret".into(),
            severity: "critical".into(),
            file: Some("app.js".into()),
            line: Some(3),
            message: "m".into(),
        };
        let d = decide(0, Some(&run(false, None)), &[review("block", vec![secret])]);
        assert_eq!(d.decision, "blocked");
        assert_eq!(
            codes(&d),
            [("tests_failed", "hard"), ("review_blocked", "hard")]
        );
        assert!(d.reasons[1].message.contains("secret at app.js:3"));
    }

    #[test]
    fn concerns_do_not_block_and_missing_inputs_do() {
        let d = decide(0, Some(&run(true, None)), &[review("concerns", vec![])]);
        assert_eq!(d.decision, "approved");
        let d = decide(0, None, &[]);
        assert_eq!(d.decision, "blocked");
        assert_eq!(
            codes(&d),
            [("tests_missing", "hard"), ("review_missing", "hard")]
        );
    }
}
