//! The deterministic outline: a few sentences built only from the detected fields.

use crate::lang::{self, Kind};
use crate::overrides::MAX_SUMMARY;
use crate::stack;
use crate::text;
use crate::{Knowledge, LanguageShare};

/// Joins `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The first few items and how many more there are.
fn some_of(items: &[String], max: usize) -> String {
    let shown: Vec<String> = items.iter().take(max).cloned().collect();
    let mut out = shown.join(", ");
    if items.len() > max {
        out.push_str(&format!(" and {} more", items.len() - max));
    }
    out
}

fn percent(l: &LanguageShare) -> String {
    if l.percent < 1.0 {
        "<1%".to_string()
    } else {
        format!("{:.0}%", l.percent)
    }
}

fn article(word: &str) -> &'static str {
    let vowel = word.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']);
    if vowel || matches!(word, "HTML" | "F#" | "R" | "SQL" | "SCSS" | "HCL") {
        "An"
    } else {
        "A"
    }
}

pub(crate) fn outline(k: &Knowledge) -> String {
    let mut sentences: Vec<String> = Vec::new();

    // Languages and build systems.
    let mut shown: Vec<&LanguageShare> = k
        .languages
        .iter()
        .filter(|l| lang::kind_of(&l.name) != Kind::Prose && l.percent >= 1.0)
        .take(3)
        .collect();
    if shown.is_empty() {
        shown = k.languages.iter().take(1).collect();
    }
    let langs: Vec<String> = shown
        .iter()
        .map(|l| format!("{} ({})", lang::display_name(&l.name), percent(l)))
        .collect();
    let mut first = if langs.is_empty() {
        "A repository with no recognised source code".to_string()
    } else {
        let first_word = lang::display_name(&shown[0].name);
        format!("{} {} repository", article(first_word), join_and(&langs))
    };
    let mut systems: Vec<String> = Vec::new();
    for b in &k.build_systems {
        let d = stack::display(&b.name).to_string();
        if !systems.contains(&d) {
            systems.push(d);
        }
    }
    if systems.is_empty() {
        first.push_str(" with no recognised build system");
    } else {
        let more = systems.len().saturating_sub(4);
        systems.truncate(4);
        let mut list = join_and(&systems);
        if more > 0 {
            list.push_str(&format!(" (and {more} more)"));
        }
        first.push_str(&format!(" built with {list}"));
    }
    if !k.frameworks.is_empty() {
        first.push_str(&format!("; frameworks: {}", some_of(&k.frameworks, 8)));
    }
    sentences.push(first);

    // Commands.
    let c = &k.commands;
    if let Some(t) = &c.test {
        sentences.push(format!("Tests: `{t}`"));
    } else if c.no_tests {
        sentences.push("No tests (declared by the project)".to_string());
    } else {
        sentences.push("No test command detected".to_string());
    }
    if let Some(b) = &c.build {
        sentences.push(format!("Build: `{b}`"));
    }

    if !k.entry_points.is_empty() {
        sentences.push(format!("Entry points: {}", some_of(&k.entry_points, 3)));
    }

    // Conventions.
    let mut conv: Vec<String> = Vec::new();
    let mut tools: Vec<String> = Vec::new();
    for t in k.conventions.tools.iter().filter(|t| t.kind != "editor") {
        if !tools.contains(&t.name) {
            tools.push(t.name.clone());
        }
    }
    if !tools.is_empty() {
        conv.push(some_of(&tools, 5));
    }
    if let Some(layout) = &k.conventions.test_layout {
        conv.push(layout.clone());
    }
    if let Some(style) = &k.conventions.commit_style {
        conv.push(style.style.clone());
    }
    if !conv.is_empty() {
        sentences.push(format!("Conventions: {}", conv.join("; ")));
    }
    let mut ci: Vec<String> = Vec::new();
    for c in &k.conventions.ci {
        if !ci.contains(&c.system) {
            ci.push(c.system.clone());
        }
    }
    if !ci.is_empty() {
        sentences.push(format!("CI: {}", join_and(&ci)));
    }
    if k.deploy.is_some() {
        sentences.push("Has a deploy recipe".to_string());
    }

    sentences.push(format!("{} files, {} lines", k.files, k.lines));
    if !k.secrets.is_empty() {
        let n = k.secrets.len();
        sentences.push(format!(
            "{n} {} flagged as {}; their content is never read",
            if n == 1 { "file" } else { "files" },
            if n == 1 { "a secret" } else { "secrets" },
        ));
    }

    let mut out = String::new();
    for s in sentences {
        out.push_str(&s);
        out.push_str(". ");
    }
    text::clean(out.trim_end(), MAX_SUMMARY)
}
