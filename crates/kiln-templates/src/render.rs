//! Turning a template's files into an app's files. The brief and stories are untrusted user
//! text, so escaping is chosen by output file type and never left to template authors.

use std::fs;
use std::path::{Component, Path, PathBuf};

use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Suffix marking a file as a minijinja template; it is removed from the output name.
pub const TEMPLATE_SUFFIX: &str = ".j2";

/// Name of the custom auto-escape mode for Markdown output.
const MARKDOWN: &str = "markdown";

/// What a template is rendered with. Every field is available to `.j2` files as a top-level
/// variable (`{{ project }}`, `{% for story in stories %}`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderContext {
    /// App name, e.g. `pizzadash`; see [`validate_project_name`].
    pub project: String,
    /// Human title, e.g. `Pizza Dash`.
    pub title: String,
    /// The task brief as the user wrote it (untrusted).
    pub brief: String,
    /// The epic the planner derived from the brief (untrusted).
    pub epic: String,
    /// User stories (untrusted).
    pub stories: Vec<Story>,
    /// Kiln task id, recorded so a generated app can be traced back to its task.
    pub task_id: String,
}

/// One user story with its acceptance criteria.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Story {
    pub title: String,
    pub description: String,
    pub acceptance: Vec<String>,
}

/// One file of the rendered app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Relative to the workspace root; never absolute, never containing `..`, never under `.git`.
    pub path: PathBuf,
    pub contents: Vec<u8>,
    pub executable: bool,
}

/// Checks that `name` can be an app name everywhere Kiln uses it: npm package name,
/// directory name, URL path segment and DNS label.
pub fn validate_project_name(name: &str) -> Result<(), Error> {
    let invalid = |reason| {
        Err(Error::InvalidProject {
            project: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 63 {
        return invalid("must be 1 to 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return invalid("use only lowercase ASCII letters, digits and '-'");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return invalid("must start with a letter");
    }
    if name.ends_with('-') {
        return invalid("must not end with '-'");
    }
    Ok(())
}

/// Maps a source path (relative to the template's `files/`) to its output path, refusing
/// anything that could escape the workspace or touch git metadata. The error is the reason.
pub(crate) fn output_path(source: &Path) -> Result<PathBuf, &'static str> {
    let mut out = source.to_owned();
    if is_template(source) {
        let name = source
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(TEMPLATE_SUFFIX))
            .filter(|n| !n.is_empty())
            .ok_or("has an empty name once '.j2' is removed")?;
        out.set_file_name(name);
    }
    safe_relative(&out)
}

/// Normalises `path` and checks it stays inside the directory it is joined to and out of
/// `.git`, whose hooks and config would run or reconfigure things on the next git command.
pub(crate) fn safe_relative(path: &Path) -> Result<PathBuf, &'static str> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            // `a/./b` is harmless but ambiguous for duplicate detection; normalise it away.
            Component::CurDir => {}
            Component::ParentDir => return Err("contains '..'"),
            Component::RootDir | Component::Prefix(_) => return Err("is absolute"),
        }
    }
    match out.components().next() {
        None => Err("is empty"),
        Some(Component::Normal(first)) if first == ".git" => Err("is inside .git"),
        Some(_) => Ok(out),
    }
}

/// Whether a source file is rendered rather than copied.
pub(crate) fn is_template(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(TEMPLATE_SUFFIX))
}

/// The escaping for an output file name (already without `.j2`).
pub(crate) fn auto_escape_for(output_name: &str) -> AutoEscape {
    let ext = output_name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" | "ejs" | "xml" | "svg" => AutoEscape::Html,
        // A JSON literal is also a valid JavaScript expression, so data cannot become code.
        "json" | "js" | "mjs" | "cjs" => AutoEscape::Json,
        // READMEs get rendered as HTML by forges and the Kiln UI; escaping keeps user text
        // from becoming links, images or raw HTML there.
        "md" | "markdown" => AutoEscape::Custom(MARKDOWN),
        _ => AutoEscape::None,
    }
}

/// A minijinja environment with Kiln's rules: strict undefined, escaping by file type.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Generated files should end with a newline like hand-written ones.
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|name| {
        auto_escape_for(name.strip_suffix(TEMPLATE_SUFFIX).unwrap_or(name))
    });
    env.set_formatter(format_value);
    env
}

fn format_value(
    out: &mut Output<'_>,
    state: &State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if state.auto_escape() == AutoEscape::Custom(MARKDOWN) && !value.is_safe() {
        let text = value.to_string();
        let mut escaped = String::with_capacity(text.len());
        for c in text.chars() {
            // CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones
            // that can start emphasis, links, code, HTML, headings, lists, tables or breaks.
            if matches!(
                c,
                '\\' | '`'
                    | '*'
                    | '_'
                    | '['
                    | ']'
                    | '('
                    | ')'
                    | '<'
                    | '>'
                    | '&'
                    | '#'
                    | '+'
                    | '-'
                    | '.'
                    | '!'
                    | '|'
                    | '~'
                    | '='
                    | '{'
                    | '}'
                    | ':'
            ) {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        out.write_str(&escaped).map_err(minijinja::Error::from)
    } else {
        minijinja::escape_formatter(out, state, value)
    }
}

/// Writes rendered files under `root`, creating directories and setting the executable bit.
/// Existing files are overwritten; nothing else under `root` is touched.
pub fn write_files(root: &Path, files: &[RenderedFile]) -> Result<(), Error> {
    for file in files {
        // Re-check here because RenderedFile is a plain struct anyone can build.
        let relative = safe_relative(&file.path).map_err(|reason| Error::UnsafeWrite {
            path: file.path.clone(),
            reason,
        })?;
        let target = root.join(relative);
        let write_err = |source| Error::Write {
            path: target.clone(),
            source,
        };
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(write_err)?;
        }
        fs::write(&target, &file.contents).map_err(write_err)?;
        set_executable(&target, file.executable).map_err(write_err)?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_executable(path: &Path, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut permissions = fs::metadata(path)?.permissions();
    let mode = permissions.mode();
    // Grant execute to whoever can read, mirroring how `chmod +x` is usually meant.
    let new_mode = if executable {
        mode | ((mode & 0o444) >> 2)
    } else {
        mode & !0o111
    };
    if new_mode != mode {
        permissions.set_mode(new_mode);
        fs::set_permissions(path, permissions)?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_executable(_path: &Path, _executable: bool) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_path_strips_j2_and_keeps_others() {
        assert_eq!(
            output_path(Path::new("views/index.html.j2")).expect("valid path"),
            Path::new("views/index.html")
        );
        assert_eq!(
            output_path(Path::new("./styles.css")).expect("valid path"),
            Path::new("styles.css")
        );
        assert_eq!(
            output_path(Path::new(".gitignore")).expect("valid path"),
            Path::new(".gitignore")
        );
    }

    #[test]
    fn output_path_refuses_escapes_and_git() {
        for (path, reason) in [
            ("../evil", "'..'"),
            ("a/../../evil", "'..'"),
            ("/etc/passwd", "absolute"),
            (".git/config", ".git"),
            (".git", ".git"),
            ("./.git/hooks/pre-commit.j2", ".git"),
            (".git.j2", ".git"),
            (".j2", "empty name"),
            ("", "empty"),
        ] {
            match output_path(Path::new(path)) {
                Ok(out) => panic!("{path:?} accepted as {out:?}"),
                Err(e) => assert!(
                    e.contains(reason),
                    "{path:?}: expected reason containing {reason:?}, got {e}"
                ),
            }
        }
        // Only the top-level .git is git metadata; a nested folder of that name is data.
        output_path(Path::new("docs/.git-notes")).expect("dotfile under docs is fine");
    }

    #[test]
    fn escaping_is_chosen_by_output_name() {
        assert_eq!(auto_escape_for("index.html"), AutoEscape::Html);
        assert_eq!(auto_escape_for("a.HTM"), AutoEscape::Html);
        assert_eq!(auto_escape_for("views/index.ejs"), AutoEscape::Html);
        assert_eq!(auto_escape_for("kiln.json"), AutoEscape::Json);
        assert_eq!(auto_escape_for("app.js"), AutoEscape::Json);
        assert_eq!(auto_escape_for("README.md"), AutoEscape::Custom(MARKDOWN));
        assert_eq!(auto_escape_for("build.sh"), AutoEscape::None);
        assert_eq!(auto_escape_for("Makefile"), AutoEscape::None);
    }

    #[test]
    fn project_names() {
        for ok in ["pizzadash", "a", "todo-app2", "x1"] {
            validate_project_name(ok).unwrap_or_else(|e| panic!("{ok:?} rejected: {e}"));
        }
        for bad in [
            "",
            "Pizza",
            "-pizza",
            "pizza-",
            "1pizza",
            "pizza dash",
            "pizza_dash",
            "../x",
            "naïve",
            &"a".repeat(64),
        ] {
            assert!(
                validate_project_name(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    fn render_one(
        name: &str,
        source: &str,
        ctx: &RenderContext,
    ) -> Result<String, minijinja::Error> {
        environment().render_named_str(name, source, Value::from_serialize(ctx))
    }

    fn hostile() -> RenderContext {
        RenderContext {
            project: "demo".into(),
            title: "Demo".into(),
            brief: "<script>alert(1)</script> \"quoted\" \\ back\nline [x](javascript:alert(1))"
                .into(),
            ..RenderContext::default()
        }
    }

    #[test]
    fn html_escapes_untrusted_text() {
        let out = render_one("x.html.j2", "<p>{{ brief }}</p>", &hostile()).expect("render html");
        assert!(
            !out.contains("<script>"),
            "raw script tag in HTML output: {out}"
        );
        assert!(
            out.contains("&lt;script&gt;"),
            "script tag not escaped: {out}"
        );
        assert!(!out.contains("\"quoted\""), "quotes not escaped: {out}");
    }

    #[test]
    fn json_escapes_untrusted_text_into_string_literals() {
        let ctx = hostile();
        let out = render_one("x.js.j2", "const brief = {{ brief }};\n", &ctx).expect("render js");
        let literal = out
            .strip_prefix("const brief = ")
            .and_then(|s| s.strip_suffix(";\n"))
            .unwrap_or_else(|| panic!("unexpected JS output: {out}"));
        let parsed: String = serde_json::from_str(literal)
            .unwrap_or_else(|e| panic!("not a JSON string literal ({e}): {literal}"));
        assert_eq!(parsed, ctx.brief);
    }

    #[test]
    fn markdown_escapes_untrusted_text() {
        let out = render_one("README.md.j2", "{{ brief }}", &hostile()).expect("render md");
        assert!(
            out.contains(r"\<script\>"),
            "HTML not escaped in markdown: {out}"
        );
        assert!(
            out.contains(r"\[x\]\(javascript\:alert\(1\)\)"),
            "link not escaped in markdown: {out}"
        );
    }

    #[test]
    fn other_files_are_not_escaped() {
        let out = render_one("notes.txt.j2", "{{ brief }}", &hostile()).expect("render txt");
        assert_eq!(out, hostile().brief);
    }

    #[test]
    fn undefined_variables_are_errors() {
        let ctx = hostile();
        for source in [
            "{{ breif }}",
            "{% for s in storys %}{% endfor %}",
            "{{ title.nope }}",
        ] {
            let err = match render_one("x.txt.j2", source, &ctx) {
                Ok(out) => panic!("{source:?} rendered as {out:?} instead of failing"),
                Err(e) => e,
            };
            assert_eq!(
                err.kind(),
                minijinja::ErrorKind::UndefinedError,
                "{source:?}: {err}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn write_files_creates_dirs_and_sets_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("create tempdir");
        let files = vec![
            RenderedFile {
                path: "bin/run.sh".into(),
                contents: b"#!/bin/sh\n".to_vec(),
                executable: true,
            },
            RenderedFile {
                path: "data/a.txt".into(),
                contents: b"a".to_vec(),
                executable: false,
            },
        ];
        write_files(dir.path(), &files).expect("write files");
        let mode = |p: &str| {
            fs::metadata(dir.path().join(p))
                .unwrap_or_else(|e| panic!("stat {p}: {e}"))
                .permissions()
                .mode()
        };
        assert_ne!(mode("bin/run.sh") & 0o100, 0, "run.sh should be executable");
        assert_eq!(
            mode("data/a.txt") & 0o111,
            0,
            "a.txt should not be executable"
        );
        assert_eq!(
            fs::read(dir.path().join("data/a.txt")).expect("read back"),
            b"a"
        );

        let evil = [RenderedFile {
            path: "../escape".into(),
            contents: Vec::new(),
            executable: false,
        }];
        assert!(
            matches!(
                write_files(dir.path(), &evil),
                Err(Error::UnsafeWrite { .. })
            ),
            "write_files must refuse paths outside root"
        );
    }
}
