//! Release gate: combines every verdict of a round into `approved`, `skipped` or `blocked`,
//! listing every reason, so a person can always see why.
//!
//! Hard reasons block (failed or unrunnable tests, a stuck or exhausted fix loop, a reviewer's
//! block, tampered tests, a destructive revision, secrets, protected paths changed without a
//! person's approval); soft reasons skip, holding the deploy step until a person approves
//! (the task's release-approval policy, a project's first deployment when configured); info
//! reasons explain an approval. A person can override a block with `approve`, which the API
//! records with who and why.

use kiln_contracts::{Stage, WorkItem};
use kiln_runtime::harness::Park;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Shutdown};
use kiln_store::TaskStatus;
use kiln_store::people::{TaskOptions, WaitKind};
use kiln_store::records::{self, GateDecision, Reason, Review, TestRun};
use sqlx::{PgConnection, Row};

/// Gate settings (`[gate]`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Hold a project's first deployment for a person's approval.
    pub first_deploy_needs_approval: bool,
}

fn reason(code: &str, kind: &str, message: impl Into<String>) -> Reason {
    Reason {
        code: code.into(),
        kind: kind.into(),
        message: message.into(),
    }
}

/// Everything besides tests and reviews the gate weighs.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The task's policy asks a person to approve releases.
    pub release_approval: bool,
    /// No deployment of this project was ever live, and the gate is configured to hold it.
    pub first_deploy_hold: bool,
    /// Protected paths changed in any round, and whether a person approved them.
    pub protected_paths: Vec<String>,
    /// A change to an existing project that changed nothing, and why (offline mode edits
    /// nothing): shipping it would claim work that was not done.
    pub empty_change: Option<String>,
    /// The project's merge policy is `on_approval`: its pull request is merged only once a
    /// person approved (in Kiln, or with `/kiln approve` or a review on GitHub).
    pub merge_approval: bool,
}

/// Review finding rules that are hard reasons of their own, with their reason code.
const RULE_CODES: &[(&str, &str)] = &[
    ("secret", "secrets"),
    ("tests_tampered", "tamper_guard"),
    ("destructive_revision", "safety_gate"),
];

/// Decides a round from its test run, reviews and context.
pub fn decide(
    round: i32,
    test: Option<&TestRun>,
    reviews: &[Review],
    cx: &Context,
) -> GateDecision {
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
                    if let Some(limit) = &c.limit_hit {
                        format!("`{}` ({}) was stopped by the {limit}", c.command, c.phase)
                    } else if c.timed_out {
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
            if let Some(stop) = &t.stop_reason {
                let code = if stop.starts_with("stuck") {
                    "stuck"
                } else {
                    "fix_rounds_exhausted"
                };
                reasons.push(reason(code, "hard", stop.clone()));
            }
        }
        Some(t) if !t.commands.iter().any(|c| c.phase == "test") => reasons.push(reason(
            "untested",
            "soft",
            format!(
                "the project has no test command, so nothing tested the change ({} install/build \
                 commands passed); a person must approve it, or set [commands] test in .kiln/project.toml",
                t.commands.len()
            ),
        )),
        Some(t) => reasons.push(reason(
            "tests_passed",
            "info",
            format!(
                "{} install/build/test commands passed{}",
                t.commands.len(),
                if t.round > 0 {
                    format!(" after {} fix rounds", t.round)
                } else {
                    String::new()
                }
            ),
        )),
    }
    if test.is_some_and(|t| t.isolation.as_deref() == Some("none")) {
        reasons.push(reason(
            "unsandboxed",
            "info",
            "generated code ran without a sandbox: the operator set [sandbox] mode = \"none\"",
        ));
    }
    if reviews.is_empty() {
        reasons.push(reason(
            "review_missing",
            "hard",
            "no reviewer looked at this round",
        ));
    }
    for r in reviews {
        let mut special = false;
        for (rule, code) in RULE_CODES {
            let hits: Vec<String> = r
                .findings
                .iter()
                .filter(|f| f.rule == *rule)
                .map(|f| match (&f.file, f.line) {
                    (Some(file), Some(line)) => format!("{file}:{line}: {}", f.message),
                    (Some(file), None) => format!("{file}: {}", f.message),
                    _ => f.message.clone(),
                })
                .collect();
            if !hits.is_empty() {
                special = true;
                reasons.push(reason(code, "hard", hits.join("; ")));
            }
        }
        match r.verdict.as_str() {
            "block" if !special => {
                let worst: Vec<String> = r
                    .findings
                    .iter()
                    .filter(|f| f.severity == "critical" || f.severity == "high")
                    .map(|f| match (&f.file, f.line) {
                        (Some(file), Some(line)) => format!("{file}:{line}: {}", f.message),
                        _ => f.message.clone(),
                    })
                    .collect();
                reasons.push(reason(
                    "review_blocked",
                    "hard",
                    format!(
                        "reviewer {} blocked the change: {}",
                        r.reviewer,
                        if worst.is_empty() {
                            r.summary.clone()
                        } else {
                            worst.join("; ")
                        }
                    ),
                ));
            }
            "block" => {}
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
    if !cx.protected_paths.is_empty() {
        reasons.push(reason(
            "protected_paths",
            "hard",
            format!(
                "the change touches protected paths ({}); a person must approve it",
                cx.protected_paths.join(", ")
            ),
        ));
    }
    if let Some(why) = &cx.empty_change {
        reasons.push(reason("no_change", "hard", why.clone()));
    }
    if cx.release_approval {
        reasons.push(reason(
            "release_approval",
            "soft",
            "the task's approval policy asks a person to approve the release",
        ));
    }
    if cx.merge_approval {
        reasons.push(reason(
            "merge_approval",
            "soft",
            "the project's merge policy is on_approval: a person approves the merge (in Kiln, with /kiln approve on the pull request, or an approving review)",
        ));
    }
    if cx.first_deploy_hold {
        reasons.push(reason(
            "first_deployment",
            "soft",
            "a project's first deployment waits for a person's approval",
        ));
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

pub struct Gate {
    config: Config,
}

impl Gate {
    pub fn new(config: Config) -> Self {
        Self { config }
    }
}

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
        let task = &job.task;
        let round = job.input.round as i32;
        let mut conn = cx.db.acquire().await?;
        let tests = records::test_runs(&mut conn, task.id).await?;
        let reviews = records::reviews(&mut conn, task.id, Some(round)).await?;
        let commits = records::commits(&mut *conn, task.id).await?;
        let empty_change = (task.kind == "change" && commits.iter().all(|c| c.files_changed == 0))
            .then(|| {
                if task.llm_mode == "offline" {
                    let tested = tests
                        .last()
                        .is_some_and(|t| t.commands.iter().any(|c| c.phase == "test"));
                    format!(
                        "offline mode makes no change to an existing repository (no model is \
                     configured); {}",
                        if tested {
                            "the project's own tests ran on its current code"
                        } else {
                            "its current code was checked, without a test command to run"
                        }
                    )
                } else {
                    "the change is empty: no round changed a file".to_owned()
                }
            });
        let mut protected_paths: Vec<String> = commits
            .into_iter()
            .flat_map(|c| c.protected_paths)
            .collect();
        protected_paths.sort();
        protected_paths.dedup();
        let ever_live = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM deployments WHERE project_id = $1 AND status IN ('live', 'superseded')) AS live",
        )
        .bind(task.project_id)
        .fetch_one(&mut *conn)
        .await?
        .try_get::<bool, _>("live")?;
        let merge_approval = kiln_store::github::host(&mut *conn, &task.project)
            .await?
            .is_some_and(|h| h.github().is_some() && h.merge_policy == "on_approval");
        let context = Context {
            merge_approval,
            release_approval: TaskOptions::of(&task.options).approval.release(),
            first_deploy_hold: self.config.first_deploy_needs_approval && !ever_live,
            protected_paths,
            empty_change,
        };
        let decision = decide(
            round,
            tests.iter().find(|t| t.round == round),
            &reviews,
            &context,
        );
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
        let deploy = cx.work_message(&WorkItem {
            stage: Stage::Deploy as i32,
            ..job.input.clone()
        });
        Ok(match decision.decision.as_str() {
            "approved" => Next::advance("approved", vec![deploy]),
            "skipped" => {
                let why = because("soft");
                let park = Park {
                    kind: WaitKind::ReleaseApproval,
                    message: deploy,
                    detail: serde_json::json!({ "reasons": decision.reasons }),
                };
                Next::wait(
                    format!("skipped: {why}"),
                    park,
                    format!("waiting for release approval: {why}"),
                )
            }
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
    config: Config,
    shutdown: Shutdown,
) -> Result<(), kiln_runtime::Error> {
    kiln_runtime::serve_stage(base, "gate", Gate::new(config), shutdown).await
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
            stop_reason: None,
            fingerprint: None,
            started_at: OffsetDateTime::UNIX_EPOCH,
            finished_at: OffsetDateTime::UNIX_EPOCH,
            commands: vec![TestCommand {
                phase: "test".into(),
                command: "npm test".into(),
                exit_code: Some(if passed { 0 } else { 1 }),
                timed_out: false,
                duration_ms: 5,
                output_tail: String::new(),
                limit_hit: None,
            }],
            isolation: Some("bubblewrap".into()),
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

    fn finding(rule: &str) -> Finding {
        Finding {
            rule: rule.into(),
            severity: "critical".into(),
            file: Some("test/app.test.js".into()),
            line: Some(3),
            message: "m".into(),
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
        let d = decide(
            0,
            Some(&run(true, None)),
            &[review("pass", vec![])],
            &Context::default(),
        );
        assert_eq!(d.decision, "approved");
        assert_eq!(
            codes(&d),
            [("tests_passed", "info"), ("review_passed", "info")]
        );
    }

    #[test]
    fn failed_tests_block_and_say_which_command_and_why_the_loop_stopped() {
        let mut t = run(false, None);
        t.stop_reason = Some("stuck: fix round 2 repeated round 1".into());
        let d = decide(0, Some(&t), &[review("pass", vec![])], &Context::default());
        assert_eq!(d.decision, "blocked");
        assert!(
            d.reasons[0]
                .message
                .contains("`npm test` (test) exited with Some(1)")
        );
        assert_eq!(d.reasons[1].code, "stuck");
        t.stop_reason = Some("tests still fail after 3 fix rounds".into());
        let d = decide(0, Some(&t), &[review("pass", vec![])], &Context::default());
        assert_eq!(d.reasons[1].code, "fix_rounds_exhausted");
    }

    #[test]
    fn a_sandbox_limit_is_named_and_an_unsandboxed_run_is_recorded() {
        let mut t = run(false, None);
        t.commands[0].limit_hit = Some("memory limit of 256 MiB".into());
        t.isolation = Some("none".into());
        let d = decide(0, Some(&t), &[review("pass", vec![])], &Context::default());
        assert_eq!(d.decision, "blocked");
        assert!(
            d.reasons[0]
                .message
                .contains("`npm test` (test) was stopped by the memory limit of 256 MiB"),
            "{:?}",
            d.reasons
        );
        assert!(
            codes(&d).contains(&("unsandboxed", "info")),
            "{:?}",
            d.reasons
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
            &Context::default(),
        );
        assert_eq!(d.decision, "blocked");
        assert_eq!(d.reasons[0].code, "tests_not_run");
        assert!(d.reasons[0].message.contains("npm"));
    }

    #[test]
    fn guards_and_secrets_are_hard_reasons_of_their_own() {
        let d = decide(
            0,
            Some(&run(true, None)),
            &[review(
                "block",
                vec![
                    finding("tests_tampered"),
                    finding("destructive_revision"),
                    finding("secret"),
                ],
            )],
            &Context::default(),
        );
        assert_eq!(d.decision, "blocked");
        assert_eq!(
            codes(&d),
            [
                ("tests_passed", "info"),
                ("secrets", "hard"),
                ("tamper_guard", "hard"),
                ("safety_gate", "hard")
            ]
        );
        assert!(d.reasons[2].message.contains("test/app.test.js:3"));
    }

    #[test]
    fn a_reviewer_block_and_protected_paths_block_with_every_reason_listed() {
        let mut f = finding("story_alignment");
        f.rule = "alignment".into();
        let cx = Context {
            merge_approval: false,
            protected_paths: vec![".github/workflows/ci.yml".into()],
            ..Context::default()
        };
        let d = decide(0, Some(&run(false, None)), &[review("block", vec![f])], &cx);
        assert_eq!(
            codes(&d),
            [
                ("tests_failed", "hard"),
                ("review_blocked", "hard"),
                ("protected_paths", "hard")
            ]
        );
    }

    #[test]
    fn approval_policies_skip_instead_of_blocking() {
        let cx = Context {
            merge_approval: false,
            release_approval: true,
            first_deploy_hold: true,
            ..Context::default()
        };
        let d = decide(
            0,
            Some(&run(true, None)),
            &[review("concerns", vec![])],
            &cx,
        );
        assert_eq!(d.decision, "skipped");
        assert_eq!(
            codes(&d),
            [
                ("tests_passed", "info"),
                ("review_concerns", "info"),
                ("release_approval", "soft"),
                ("first_deployment", "soft")
            ]
        );
        let d = decide(0, None, &[], &Context::default());
        assert_eq!(
            codes(&d),
            [("tests_missing", "hard"), ("review_missing", "hard")]
        );
    }

    #[test]
    fn a_project_without_tests_is_untested_and_an_empty_change_blocks() {
        let mut untested = run(true, None);
        untested.commands[0].phase = "install".into();
        let d = decide(
            0,
            Some(&untested),
            &[review("pass", vec![])],
            &Context::default(),
        );
        assert_eq!(d.decision, "skipped", "untested is soft: a person decides");
        assert_eq!(codes(&d), [("untested", "soft"), ("review_passed", "info")]);
        assert!(d.reasons[0].message.contains("no test command"));

        let cx = Context {
            merge_approval: false,
            empty_change: Some("offline mode makes no change".into()),
            ..Context::default()
        };
        let d = decide(0, Some(&run(true, None)), &[review("pass", vec![])], &cx);
        assert_eq!(d.decision, "blocked");
        assert_eq!(
            codes(&d),
            [
                ("tests_passed", "info"),
                ("review_passed", "info"),
                ("no_change", "hard")
            ]
        );
    }
}
