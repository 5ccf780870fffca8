//! One loaded template: its validated manifest plus the file tree it instantiates, read
//! eagerly so rendering never touches the filesystem and cannot fail halfway on I/O.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use include_dir::{Dir, DirEntry};
use minijinja::Value;

use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::render::{self, RenderContext, RenderedFile};
use crate::{Error, toolchain};

/// Folder inside a template holding the tree to instantiate.
pub const FILES_DIR: &str = "files";

/// Where a template was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into the binary.
    Embedded,
    /// Loaded at runtime from this template folder.
    Directory(PathBuf),
    /// Derived from what Kiln learned about a repository it did not write: commands and
    /// toolchains only, nothing to render.
    Project,
}

/// A validated template ready to render.
#[derive(Debug, Clone)]
pub struct Template {
    pub manifest: Manifest,
    origin: Origin,
    /// Keyed by output path, which also proves no two sources collide.
    files: BTreeMap<PathBuf, SourceFile>,
}

#[derive(Debug, Clone)]
struct SourceFile {
    /// Relative to `files/`, as found (still with `.j2`).
    path: PathBuf,
    contents: Cow<'static, [u8]>,
    executable: bool,
}

impl Template {
    /// The template's name (its folder name).
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The short word that picks this template in chat, if it has one.
    pub fn alias(&self) -> Option<&str> {
        self.manifest.alias.as_deref()
    }

    /// Where the template was loaded from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Output paths the template produces, sorted.
    pub fn output_paths(&self) -> impl Iterator<Item = &Path> {
        self.files.keys().map(PathBuf::as_path)
    }

    /// Renders every file for `ctx`, sorted by path. `.j2` files are rendered (and lose the
    /// suffix) with escaping chosen by output file type; all others are copied byte for byte.
    pub fn render(&self, ctx: &RenderContext) -> Result<Vec<RenderedFile>, Error> {
        render::validate_project_name(&ctx.project)?;
        let env = render::environment();
        let value = Value::from_serialize(ctx);
        let mut rendered = Vec::with_capacity(self.files.len());
        for (output, file) in &self.files {
            let contents = if render::is_template(&file.path) {
                let source = self.template_source(file)?;
                env.render_named_str(&template_name(&file.path), source, &value)
                    .map_err(|source| Error::Render {
                        template: self.name().to_owned(),
                        path: file.path.clone(),
                        source: Box::new(source),
                    })?
                    .into_bytes()
            } else {
                file.contents.to_vec()
            };
            rendered.push(RenderedFile {
                path: output.clone(),
                contents,
                executable: file.executable,
            });
        }
        Ok(rendered)
    }

    /// A recipe for a repository Kiln did not scaffold (see [`Origin::Project`]): the
    /// stages run its commands exactly as they run a template's, and it renders no files.
    pub fn for_project(manifest: Manifest) -> Self {
        Self {
            manifest,
            origin: Origin::Project,
            files: BTreeMap::new(),
        }
    }

    /// The `requires` executables that are not on `PATH`, in manifest order.
    pub fn missing_toolchains(&self) -> Vec<String> {
        toolchain::missing_in(&self.manifest.requires, std::env::var_os("PATH").as_deref())
    }

    /// Loads an embedded template folder (`<name>/template.toml`, `<name>/files/**`).
    pub(crate) fn from_embedded(dir: &Dir<'static>) -> Result<Self, Error> {
        let name = folder_name(dir.path())?;
        let location = format!("embedded:{name}");
        let manifest_path = dir.path().join(MANIFEST_FILE);
        let manifest_file = dir
            .get_file(&manifest_path)
            .ok_or_else(|| Error::MissingManifest {
                template: name.to_owned(),
                location: location.clone(),
            })?;
        let manifest_text = manifest_file
            .contents_utf8()
            .ok_or_else(|| Error::NotUtf8 {
                template: name.to_owned(),
                path: PathBuf::from(MANIFEST_FILE),
            })?;
        let manifest =
            Manifest::parse(name, &format!("{location}/{MANIFEST_FILE}"), manifest_text)?;

        let mut files = Vec::new();
        if let Some(root) = dir.get_dir(dir.path().join(FILES_DIR)) {
            collect_embedded(root, root.path(), &mut files);
        }
        Self::new(manifest, Origin::Embedded, files)
    }

    /// Loads a template folder from disk (`<dir>/template.toml`, `<dir>/files/**`).
    pub(crate) fn from_dir(dir: &Path) -> Result<Self, Error> {
        let name = folder_name(dir)?;
        let manifest_path = dir.join(MANIFEST_FILE);
        if !manifest_path.is_file() {
            return Err(Error::MissingManifest {
                template: name.to_owned(),
                location: dir.display().to_string(),
            });
        }
        let manifest_text =
            fs::read_to_string(&manifest_path).map_err(|source| Error::ReadFile {
                path: manifest_path.clone(),
                source,
            })?;
        let manifest = Manifest::parse(name, &manifest_path.display().to_string(), &manifest_text)?;

        let mut files = Vec::new();
        let root = dir.join(FILES_DIR);
        if root.exists() {
            collect_dir(name, &root, &root, &mut files)?;
        }
        Self::new(manifest, Origin::Directory(dir.to_owned()), files)
    }

    /// Checks every file once at load time, so a broken template never reaches a task.
    fn new(manifest: Manifest, origin: Origin, sources: Vec<SourceFile>) -> Result<Self, Error> {
        let mut template = Template {
            manifest,
            origin,
            files: BTreeMap::new(),
        };
        let env = render::environment();
        for file in sources {
            let output = render::output_path(&file.path).map_err(|reason| Error::UnsafePath {
                template: template.name().to_owned(),
                path: file.path.clone(),
                reason,
            })?;
            if render::is_template(&file.path) {
                let source = template.template_source(&file)?;
                env.template_from_named_str(&template_name(&file.path), source)
                    .map_err(|source| Error::Syntax {
                        template: template.name().to_owned(),
                        path: file.path.clone(),
                        source: Box::new(source),
                    })?;
            }
            if template.files.contains_key(&output) {
                return Err(Error::DuplicateOutput {
                    template: template.name().to_owned(),
                    path: output,
                });
            }
            template.files.insert(output, file);
        }
        Ok(template)
    }

    fn template_source<'a>(&self, file: &'a SourceFile) -> Result<&'a str, Error> {
        std::str::from_utf8(&file.contents).map_err(|_| Error::NotUtf8 {
            template: self.name().to_owned(),
            path: file.path.clone(),
        })
    }
}

/// The name minijinja sees: it picks the auto-escape mode and labels errors, so it is the
/// source path with `/` separators on every platform.
fn template_name(path: &Path) -> String {
    path.iter()
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Template names end up in CLI arguments, URLs and log lines; keep them boring.
fn folder_name(dir: &Path) -> Result<&str, Error> {
    let location = || dir.display().to_string();
    let invalid = |name: &str, reason| Error::InvalidTemplateName {
        name: name.to_owned(),
        location: location(),
        reason,
    };
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| invalid(&dir.to_string_lossy(), "folder name is not valid UTF-8"))?;
    if name.is_empty() || name.len() > 64 {
        return Err(invalid(name, "must be 1 to 64 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid(
            name,
            "use only lowercase ASCII letters, digits and '-'",
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(invalid(name, "must not start or end with '-'"));
    }
    Ok(name)
}

fn collect_embedded(dir: &Dir<'static>, root: &Path, out: &mut Vec<SourceFile>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(sub) => collect_embedded(sub, root, out),
            DirEntry::File(file) => {
                // include_dir paths are relative to the embedded root, so strip the
                // template's `files/` prefix; the fallback keeps the full path, which
                // output_path would still vet.
                let path = file
                    .path()
                    .strip_prefix(root)
                    .unwrap_or(file.path())
                    .to_owned();
                // The embedded tree carries no permissions; shell scripts are the only
                // files a template needs to be runnable.
                let executable = path.extension().is_some_and(|ext| ext == "sh")
                    || template_name(&path).ends_with(".sh.j2");
                out.push(SourceFile {
                    path,
                    contents: Cow::Borrowed(file.contents()),
                    executable,
                });
            }
        }
    }
}

fn collect_dir(
    template: &str,
    dir: &Path,
    root: &Path,
    out: &mut Vec<SourceFile>,
) -> Result<(), Error> {
    let read_dir_err = |source| Error::ReadDir {
        path: dir.to_owned(),
        source,
    };
    let mut entries = fs::read_dir(dir)
        .map_err(read_dir_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_dir_err)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        // symlink_metadata so links are seen as links, not as what they point to.
        let meta = fs::symlink_metadata(&path).map_err(|source| Error::ReadFile {
            path: path.clone(),
            source,
        })?;
        let relative = path.strip_prefix(root).unwrap_or(&path).to_owned();
        if meta.is_dir() {
            collect_dir(template, &path, root, out)?;
        } else if meta.is_file() {
            let contents = fs::read(&path).map_err(|source| Error::ReadFile {
                path: path.clone(),
                source,
            })?;
            out.push(SourceFile {
                path: relative,
                contents: Cow::Owned(contents),
                executable: is_executable(&meta),
            });
        } else {
            return Err(Error::UnsupportedFileType {
                template: template.to_owned(),
                path: relative,
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

/// Folder names under `templates/` in the source tree, sorted: what the binary embeds.
#[cfg(test)]
pub(crate) fn shipped_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("templates folder")
        .map(|e| {
            e.expect("templates entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{Catalog, ServeKind, Story};

    /// A context full of text that would break HTML, JSON and Markdown if left unescaped.
    pub(crate) fn hostile_context() -> RenderContext {
        RenderContext {
            project: "pizzadash".into(),
            title: "Pizza \"Dash\" & <Co>".into(),
            brief: "<script>alert(1)</script>\nOrder pizza; it's \\ fast. [x](javascript:alert(1))"
                .into(),
            epic: "Ordering </title>".into(),
            stories: vec![
                Story {
                    title: "Browse the <b>menu</b>".into(),
                    description: "As a customer I see \"all\" pizzas".into(),
                    acceptance: vec![
                        "Shows <img src=x onerror=alert(1)>".into(),
                        "Prices in €".into(),
                    ],
                },
                Story {
                    title: "Checkout".into(),
                    description: String::new(),
                    acceptance: Vec::new(),
                },
            ],
            task_id: "task-01J\u{2028}X".into(),
        }
    }

    /// Writes a template folder `<root>/<name>` with `manifest` and `files`.
    pub(crate) fn write_template(root: &Path, name: &str, manifest: &str, files: &[(&str, &str)]) {
        let dir = root.join(name);
        fs::create_dir_all(dir.join(FILES_DIR)).expect("create template dir");
        fs::write(dir.join(MANIFEST_FILE), manifest).expect("write manifest");
        for (path, contents) in files {
            let path = dir.join(FILES_DIR).join(path);
            fs::create_dir_all(path.parent().expect("file has a parent")).expect("mkdir");
            fs::write(path, contents).expect("write template file");
        }
    }

    pub(crate) fn manifest(name: &str) -> String {
        format!(
            r#"
name = "{name}"
title = "Test"
description = "A test template"
stack = "test"
requires = ["sh"]
deploy = ["local"]
[commands]
build = ["sh build.sh"]
[serve]
kind = "static"
static_dir = "dist"
health_path = "/"
version_path = "/__kiln/version"
"#
        )
    }

    fn embedded(name: &str) -> Template {
        let catalog = Catalog::embedded().unwrap_or_else(|e| panic!("embedded catalog: {e}"));
        catalog
            .get(name)
            .unwrap_or_else(|| panic!("embedded template {name} missing"))
            .clone()
    }

    fn render(template: &Template, ctx: &RenderContext) -> BTreeMap<PathBuf, RenderedFile> {
        template
            .render(ctx)
            .unwrap_or_else(|e| panic!("render {}: {e:?}", template.name()))
            .into_iter()
            .map(|f| (f.path.clone(), f))
            .collect()
    }

    fn text<'a>(files: &'a BTreeMap<PathBuf, RenderedFile>, path: &str) -> &'a str {
        let file = files
            .get(Path::new(path))
            .unwrap_or_else(|| panic!("{path} not rendered; got {:?}", files.keys()));
        std::str::from_utf8(&file.contents).unwrap_or_else(|e| panic!("{path} not UTF-8: {e}"))
    }

    fn json(files: &BTreeMap<PathBuf, RenderedFile>, path: &str) -> serde_json::Value {
        let body = text(files, path);
        serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{path} is not valid JSON ({e}):\n{body}"))
    }

    fn assert_kiln_json_matches(kiln: &serde_json::Value, ctx: &RenderContext) {
        let back: RenderContext = serde_json::from_value(kiln.clone())
            .unwrap_or_else(|e| panic!("kiln.json does not match RenderContext ({e}): {kiln}"));
        assert_eq!(&back, ctx, "kiln.json must round-trip the render context");
    }

    fn load_err(root: &Path) -> Error {
        match Catalog::load(Some(root)) {
            Ok(c) => panic!(
                "load should fail, got {:?}",
                c.list().map(Template::name).collect::<Vec<_>>()
            ),
            Err(e) => e,
        }
    }

    #[test]
    fn embedded_catalog_has_valid_static_site_and_node_express() {
        let catalog = Catalog::embedded().unwrap_or_else(|e| panic!("embedded catalog: {e:?}"));
        let names: Vec<_> = catalog.list().map(Template::name).collect();
        assert_eq!(names, shipped_names(), "sorted embedded templates");

        let site = catalog.get("static-site").expect("static-site listed");
        assert_eq!(site.origin(), &Origin::Embedded);
        assert_eq!(site.manifest.requires, ["sh"]);
        assert!(site.manifest.commands.install.is_empty());
        assert_eq!(site.manifest.commands.build, ["sh build.sh"]);
        assert_eq!(site.manifest.commands.test, ["sh test.sh"]);
        assert_eq!(site.manifest.serve.kind, ServeKind::Static);
        assert_eq!(
            site.manifest.serve.static_dir.as_deref(),
            Some(Path::new("dist"))
        );
        assert_eq!(site.manifest.serve.health_path, "/");
        assert_eq!(site.manifest.serve.version_path, "/__kiln/version");

        let node = catalog.get("node-express").expect("node-express listed");
        assert_eq!(node.manifest.requires, ["node", "npm"]);
        assert_eq!(node.manifest.deploy, ["local", "ssh", "docker"]);
        assert_eq!(
            node.manifest.commands.install,
            ["npm install --no-audit --no-fund --loglevel=error"]
        );
        assert_eq!(node.manifest.commands.test, ["npm test"]);
        assert_eq!(node.manifest.serve.kind, ServeKind::Process);
        assert_eq!(node.manifest.serve.run.as_deref(), Some("node server.js"));
        assert_eq!(node.manifest.serve.health_path, "/healthz");

        assert!(catalog.get("no-such-template").is_none());
    }

    #[test]
    fn static_site_renders_expected_files_with_escaping() {
        let ctx = hostile_context();
        let files = render(&embedded("static-site"), &ctx);
        let paths: Vec<_> = files
            .keys()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            paths,
            [
                "README.md",
                "build.sh",
                "index.html",
                "kiln.json",
                "styles.css",
                "test.sh"
            ]
        );
        assert!(
            files[Path::new("build.sh")].executable,
            "build.sh should be executable"
        );
        assert!(
            files[Path::new("test.sh")].executable,
            "test.sh should be executable"
        );
        assert!(
            !files[Path::new("index.html")].executable,
            "index.html is not executable"
        );

        let html = text(&files, "index.html");
        for raw in ["<script>", "<b>menu", "<img", "<Co>", "Ordering </title>"] {
            assert!(
                !html.contains(raw),
                "unescaped {raw:?} in index.html:\n{html}"
            );
        }
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "brief not escaped:\n{html}"
        );
        assert!(html.contains(r#"<meta name="kiln-project" content="pizzadash">"#));
        assert_eq!(
            html.matches(r#"<section class="story""#).count(),
            ctx.stories.len(),
            "one section per story"
        );
        assert!(
            html.contains("<li>Prices in €</li>"),
            "acceptance criteria listed:\n{html}"
        );

        assert_kiln_json_matches(&json(&files, "kiln.json"), &ctx);

        let readme = text(&files, "README.md");
        assert!(
            !readme.contains("<script>"),
            "raw HTML in README:\n{readme}"
        );
        assert!(
            !readme.contains("[x](javascript"),
            "raw link in README:\n{readme}"
        );

        let css = &files[Path::new("styles.css")].contents;
        let site = embedded("static-site");
        let source = site
            .files
            .get(Path::new("styles.css"))
            .expect("styles.css source");
        assert_eq!(
            css,
            &source.contents.to_vec(),
            "plain files are copied byte for byte"
        );
    }

    #[test]
    fn node_express_renders_valid_json_files() {
        let ctx = hostile_context();
        let files = render(&embedded("node-express"), &ctx);
        for path in [
            ".gitignore",
            "README.md",
            "app.js",
            "kiln.json",
            "package.json",
            "public/styles.css",
            "server.js",
            "test/app.test.js",
            "views/index.ejs",
        ] {
            assert!(
                files.contains_key(Path::new(path)),
                "{path} missing: {:?}",
                files.keys()
            );
        }
        assert_kiln_json_matches(&json(&files, "kiln.json"), &ctx);

        let package = json(&files, "package.json");
        assert_eq!(package["name"], "pizzadash");
        assert_eq!(package["description"], ctx.title.as_str());
        assert_eq!(package["private"], true);
        assert_eq!(package["type"], "commonjs");
        // A test that hangs fails by name; a handle left open cannot hold the run.
        assert_eq!(
            package["scripts"]["test"],
            "node --test --test-timeout=60000 --test-force-exit"
        );
        assert_eq!(package["scripts"]["start"], "node server.js");
        assert_eq!(package["dependencies"]["express"], "^4.21.2");
        assert_eq!(package["dependencies"]["ejs"], "^3.1.10");
    }

    #[test]
    fn empty_stories_render() {
        let ctx = RenderContext {
            project: "empty".into(),
            title: "Empty".into(),
            ..RenderContext::default()
        };
        for name in ["static-site", "node-express"] {
            let files = render(&embedded(name), &ctx);
            assert_kiln_json_matches(&json(&files, "kiln.json"), &ctx);
        }
        let files = render(&embedded("static-site"), &ctx);
        assert!(text(&files, "index.html").contains("No stories yet."));
    }

    #[test]
    fn render_rejects_invalid_project_names() {
        let ctx = RenderContext {
            project: "../Pizza".into(),
            ..hostile_context()
        };
        match embedded("static-site").render(&ctx) {
            Ok(_) => panic!("invalid project name accepted"),
            Err(e) => assert!(matches!(e, Error::InvalidProject { .. }), "{e:?}"),
        }
    }

    #[test]
    fn undefined_variable_fails_render_naming_the_file() {
        let root = tempfile::tempdir().expect("create tempdir");
        write_template(
            root.path(),
            "typo",
            &manifest("typo"),
            &[
                ("ok.txt.j2", "{{ project }}"),
                ("notes/bad.txt.j2", "{{ projcet }}"),
            ],
        );
        let catalog = Catalog::load(Some(root.path())).unwrap_or_else(|e| panic!("load: {e:?}"));
        let template = catalog.get("typo").expect("typo template loaded");
        match template.render(&hostile_context()) {
            Ok(files) => panic!("render with a typo succeeded: {files:?}"),
            Err(e @ Error::Render { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("typo") && text.contains("notes/bad.txt.j2"),
                    "{text}"
                );
                let source = std::error::Error::source(&e).expect("render error has a source");
                assert!(source.to_string().contains("undefined"), "{source}");
            }
            Err(e) => panic!("expected a render error, got {e:?}"),
        }
    }

    #[test]
    fn syntax_errors_fail_at_load() {
        let root = tempfile::tempdir().expect("create tempdir");
        write_template(
            root.path(),
            "broken",
            &manifest("broken"),
            &[("a.txt.j2", "{% if %}")],
        );
        let err = load_err(root.path());
        assert!(matches!(err, Error::Syntax { .. }), "{err:?}");
        assert!(
            err.to_string().contains("broken") && err.to_string().contains("a.txt.j2"),
            "{err}"
        );
    }

    #[test]
    fn git_metadata_and_duplicate_outputs_fail_at_load() {
        let root = tempfile::tempdir().expect("create tempdir");
        write_template(
            root.path(),
            "hook",
            &manifest("hook"),
            &[(".git/hooks/post-checkout", "x")],
        );
        let err = load_err(root.path());
        assert!(
            matches!(&err, Error::UnsafePath { template, reason, .. } if template == "hook" && reason.contains(".git")),
            "{err:?}"
        );

        let root = tempfile::tempdir().expect("create tempdir");
        write_template(
            root.path(),
            "dup",
            &manifest("dup"),
            &[("a.txt", "plain"), ("a.txt.j2", "{{ project }}")],
        );
        let err = load_err(root.path());
        assert!(
            matches!(&err, Error::DuplicateOutput { path, .. } if path == Path::new("a.txt")),
            "{err:?}"
        );
    }

    #[test]
    fn invalid_manifests_in_override_dir_name_template_and_problem() {
        let cases: [(&str, String, &str); 4] = [
            ("mismatch", manifest("other-name"), "field name"),
            (
                "unknown",
                manifest("unknown")
                    .replace("stack = \"test\"", "stack = \"test\"\ncolour = \"red\""),
                "colour",
            ),
            (
                "nodir",
                manifest("nodir").replace("static_dir = \"dist\"\n", ""),
                "serve.static_dir",
            ),
            (
                "dotdot",
                manifest("dotdot").replace("\"dist\"", "\"../dist\""),
                "'..'",
            ),
        ];
        for (name, text, expected) in cases {
            let root = tempfile::tempdir().expect("create tempdir");
            write_template(root.path(), name, &text, &[]);
            let err = load_err(root.path());
            let mut chain = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                chain = format!("{chain}: {s}");
                source = s.source();
            }
            assert!(
                chain.contains(&format!("template {name}")),
                "{name}: template not named in {chain}"
            );
            assert!(
                chain.contains(expected),
                "{name}: {expected:?} not in {chain}"
            );
        }
    }

    #[test]
    fn missing_manifest_is_an_error() {
        let root = tempfile::tempdir().expect("create tempdir");
        fs::create_dir_all(root.path().join("empty/files")).expect("mkdir");
        let err = load_err(root.path());
        assert!(
            matches!(&err, Error::MissingManifest { template, .. } if template == "empty"),
            "{err:?}"
        );
    }

    #[test]
    fn missing_toolchains_reports_absent_executables() {
        let root = tempfile::tempdir().expect("create tempdir");
        let text = manifest("tools").replace(
            "requires = [\"sh\"]",
            "requires = [\"sh\", \"kiln-no-such-tool-7f3a\"]",
        );
        write_template(root.path(), "tools", &text, &[]);
        let catalog = Catalog::load(Some(root.path())).unwrap_or_else(|e| panic!("load: {e:?}"));
        let template = catalog.get("tools").expect("tools template loaded");
        assert_eq!(template.missing_toolchains(), ["kiln-no-such-tool-7f3a"]);
    }

    #[cfg(unix)]
    #[test]
    fn directory_templates_keep_the_executable_bit() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("create tempdir");
        write_template(
            root.path(),
            "modes",
            &manifest("modes"),
            &[
                ("run", "#!/bin/sh\n"),
                ("data.sh", "not run"),
                ("gen.j2", "{{ project }}"),
            ],
        );
        let files_dir = root.path().join("modes").join(FILES_DIR);
        for (name, mode) in [("run", 0o755), ("data.sh", 0o644), ("gen.j2", 0o750)] {
            fs::set_permissions(files_dir.join(name), fs::Permissions::from_mode(mode))
                .expect("chmod");
        }
        let catalog = Catalog::load(Some(root.path())).unwrap_or_else(|e| panic!("load: {e:?}"));
        let files = render(
            catalog.get("modes").expect("modes loaded"),
            &hostile_context(),
        );
        assert!(
            files[Path::new("run")].executable,
            "run is 0755 in the source"
        );
        assert!(
            !files[Path::new("data.sh")].executable,
            "data.sh is 0644 in the source"
        );
        assert!(
            files[Path::new("gen")].executable,
            "rendered file keeps its source's mode"
        );
        assert_eq!(text(&files, "gen"), "pizzadash");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_in_template_files_are_refused() {
        let root = tempfile::tempdir().expect("create tempdir");
        write_template(root.path(), "links", &manifest("links"), &[]);
        std::os::unix::fs::symlink("/etc/hostname", root.path().join("links/files/host"))
            .expect("create symlink");
        let err = load_err(root.path());
        assert!(
            matches!(&err, Error::UnsupportedFileType { path, .. } if path == Path::new("host")),
            "{err:?}"
        );
    }
}
