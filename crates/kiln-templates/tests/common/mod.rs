//! Shared helpers for the integration tests: a realistic render context and running a
//! template's commands the way Kiln does (`sh -c` in the workspace root).

use std::path::Path;
use std::process::{Command, Output};

use kiln_templates::{RenderContext, Story, Template, write_files};

/// A context with three stories and text that must survive escaping end to end.
pub fn context() -> RenderContext {
    RenderContext {
        project: "pizzadash".into(),
        title: "Pizza Dash".into(),
        brief: "Let people order pizza online. <script>alert(1)</script> \"Fast\" & 'simple'.\nSecond line."
            .into(),
        epic: "Online ordering".into(),
        stories: vec![
            Story {
                title: "Browse the menu".into(),
                description: "As a customer I want to see every pizza with its \"title\": and price"
                    .into(),
                acceptance: vec!["Each pizza shows a name".into(), "Prices use €".into()],
            },
            Story {
                title: "Track <delivery> & ETA".into(),
                description: "As a customer I want to know when my pizza arrives".into(),
                acceptance: vec!["ETA is shown in minutes".into()],
            },
            Story {
                title: "Pay at the door".into(),
                description: String::new(),
                acceptance: Vec::new(),
            },
        ],
        task_id: "task-0001".into(),
    }
}

/// Renders `template` for [`context`] into `dir`.
pub fn instantiate(template: &Template, dir: &Path) {
    let files = template
        .render(&context())
        .unwrap_or_else(|e| panic!("render {}: {e:?}", template.name()));
    write_files(dir, &files).unwrap_or_else(|e| panic!("write {}: {e:?}", dir.display()));
}

/// Runs `line` with `sh -c` in `dir`, with Kiln's deploy variables cleared so results do not
/// depend on the environment the tests run in.
pub fn sh(dir: &Path, line: &str, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(line).current_dir(dir);
    for var in ["KILN_BUILD_SHA", "BASE_PATH", "PORT", "HOST"] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied());
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run sh -c {line:?}: {e}"))
}

/// Stdout and stderr of `output`, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs every line in `lines` in order and panics with the output if one fails.
pub fn run_all(dir: &Path, phase: &str, lines: &[String], envs: &[(&str, &str)]) {
    for line in lines {
        let output = sh(dir, line, envs);
        assert!(
            output.status.success(),
            "{phase} command {line:?} failed\n{}",
            describe(&output)
        );
    }
}
