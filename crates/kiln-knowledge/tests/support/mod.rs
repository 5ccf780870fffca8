//! Fixture repositories built in code.

#![allow(dead_code)]

use kiln_knowledge::{Knowledge, ScanFile, ScanInput, scan, scan_repository};

#[derive(Default, Clone)]
pub struct Fixture {
    files: Vec<(String, Option<String>, Option<String>)>,
    subjects: Vec<String>,
}

impl Fixture {
    pub fn new() -> Self {
        Self::default()
    }

    /// A text file.
    pub fn file(mut self, path: &str, text: &str) -> Self {
        self.files
            .push((path.to_string(), Some(text.to_string()), None));
        self
    }

    /// A text file of `lines` lines.
    pub fn lines(self, path: &str, lines: usize) -> Self {
        let text = "x = 1\n".repeat(lines);
        self.file(path, &text)
    }

    /// A file the indexer skipped, with no text.
    pub fn skipped(mut self, path: &str, reason: &str) -> Self {
        self.files
            .push((path.to_string(), None, Some(reason.to_string())));
        self
    }

    /// A file the indexer skipped but still passed text for (to prove it is not used).
    pub fn skipped_with_text(mut self, path: &str, reason: &str, text: &str) -> Self {
        self.files.push((
            path.to_string(),
            Some(text.to_string()),
            Some(reason.to_string()),
        ));
        self
    }

    pub fn subjects(mut self, subjects: &[&str]) -> Self {
        self.subjects = subjects.iter().map(|s| s.to_string()).collect();
        self
    }

    fn run(&self, f: fn(&ScanInput<'_>) -> Knowledge) -> Knowledge {
        let files: Vec<ScanFile<'_>> = self
            .files
            .iter()
            .map(|(path, text, skipped)| ScanFile {
                path,
                size: text.as_ref().map_or(1000, |t| t.len() as u64),
                text: text.as_deref(),
                skipped: skipped.as_deref(),
            })
            .collect();
        let subjects: Vec<&str> = self.subjects.iter().map(String::as_str).collect();
        f(&ScanInput {
            files: &files,
            commit_subjects: &subjects,
        })
    }

    pub fn scan(&self) -> Knowledge {
        self.run(scan)
    }

    pub fn scan_repository(&self) -> Knowledge {
        self.run(scan_repository)
    }
}

pub fn names(k: &Knowledge) -> Vec<(&str, &str)> {
    k.build_systems
        .iter()
        .map(|b| (b.name.as_str(), b.root.as_str()))
        .collect()
}

pub fn has_framework(k: &Knowledge, name: &str) -> bool {
    k.frameworks.iter().any(|f| f == name)
}

pub fn tool_names(k: &Knowledge) -> Vec<&str> {
    k.conventions
        .tools
        .iter()
        .map(|t| t.name.as_str())
        .collect()
}
