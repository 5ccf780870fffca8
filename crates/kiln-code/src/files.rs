//! Which files may be indexed: first from the path and size alone ([`path_verdict`],
//! before reading), then from the bytes ([`content_verdict`]).

use crate::lang::{Lang, file_name};

/// Whether a file goes into the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileVerdict {
    Index,
    Skip(SkipReason),
}

impl FileVerdict {
    pub fn is_index(self) -> bool {
        self == FileVerdict::Index
    }

    pub fn skip_reason(self) -> Option<SkipReason> {
        match self {
            FileVerdict::Index => None,
            FileVerdict::Skip(r) => Some(r),
        }
    }
}

/// Why a file is left out of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    TooLarge,
    Binary,
    NotUtf8,
    Minified,
    Secret,
    LfsPointer,
    Vendored,
    Lockfile,
    Generated,
    /// Excluded by the repository's own `.kiln/project.toml` (`ignore`).
    Ignored,
    /// A symbolic link: never followed.
    Symlink,
}

impl SkipReason {
    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::TooLarge => "too_large",
            SkipReason::Binary => "binary",
            SkipReason::NotUtf8 => "not_utf8",
            SkipReason::Minified => "minified",
            SkipReason::Secret => "secret",
            SkipReason::LfsPointer => "lfs_pointer",
            SkipReason::Vendored => "vendored",
            SkipReason::Lockfile => "lockfile",
            SkipReason::Generated => "generated",
            SkipReason::Ignored => "ignored",
            SkipReason::Symlink => "symlink",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Directories whose contents are dependencies, build output or tool state.
const VENDORED_DIRS: &[&str] = &[
    "node_modules",
    "bower_components",
    "jspm_packages",
    "vendor",
    "dist",
    "build",
    "target",
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".eggs",
    "site-packages",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".angular",
    ".turbo",
    ".parcel-cache",
    ".cache",
    ".yarn",
    ".pnpm-store",
    ".gradle",
    ".terraform",
    ".dart_tool",
    ".nyc_output",
    "elm-stuff",
    "Pods",
    "Carthage",
];

const LOCKFILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "bun.lockb",
    "deno.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pdm.lock",
    "uv.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
    "go.work.sum",
    "mix.lock",
    "pubspec.lock",
    "Podfile.lock",
    "Package.resolved",
    "flake.lock",
    "packages.lock.json",
    "gradle.lockfile",
    "conan.lock",
];

const SECRET_NAMES: &[&str] = &[
    "credentials.json",
    ".npmrc",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".git-credentials",
    ".htpasswd",
    ".pgpass",
    ".dockercfg",
    ".envrc",
];

const SECRET_EXTENSIONS: &[&str] = &[
    "pem", "key", "p12", "pfx", "jks", "keystore", "kdbx", "ppk", "tfstate", "env",
];

/// `.env.<suffix>` files with these suffixes are templates, not secrets.
const ENV_TEMPLATES: &[&str] = &["example", "sample", "template"];

const BINARY_EXTENSIONS: &[&str] = &[
    "png",
    "jpg",
    "jpeg",
    "gif",
    "bmp",
    "ico",
    "icns",
    "webp",
    "tif",
    "tiff",
    "psd",
    "avif",
    "heic",
    "mp3",
    "mp4",
    "m4a",
    "wav",
    "ogg",
    "flac",
    "avi",
    "mov",
    "mkv",
    "webm",
    "zip",
    "tar",
    "gz",
    "tgz",
    "bz2",
    "xz",
    "zst",
    "7z",
    "rar",
    "jar",
    "war",
    "ear",
    "whl",
    "egg",
    "exe",
    "dll",
    "so",
    "dylib",
    "a",
    "lib",
    "o",
    "obj",
    "bin",
    "class",
    "pyc",
    "pyo",
    "wasm",
    "pdf",
    "doc",
    "docx",
    "xls",
    "xlsx",
    "ppt",
    "pptx",
    "odt",
    "ods",
    "ttf",
    "otf",
    "woff",
    "woff2",
    "eot",
    "db",
    "sqlite",
    "sqlite3",
    "iso",
    "dmg",
    "npy",
    "npz",
    "pkl",
    "pickle",
    "parquet",
    "onnx",
    "pt",
    "pth",
    "safetensors",
    "h5",
    "ckpt",
    "DS_Store",
];

/// The verdict from the path and size alone, before reading the file: vendored or build
/// directories, lockfiles, secret-bearing file names, generated and minified file names,
/// binary extensions, and `size > max_bytes`. Both `/` and `\` separate directories.
pub fn path_verdict(path: &str, size: u64, max_bytes: u64) -> FileVerdict {
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    let ext = lower.rfind('.').map(|i| &lower[i + 1..]).unwrap_or("");
    let dirs = path
        .trim_end_matches(['/', '\\'])
        .rsplit_once(['/', '\\'])
        .map(|(d, _)| d)
        .unwrap_or("");

    if is_secret_name(name, &lower, ext, dirs) {
        return FileVerdict::Skip(SkipReason::Secret);
    }
    if dirs
        .split(['/', '\\'])
        .any(|d| VENDORED_DIRS.contains(&d) || d.ends_with(".egg-info"))
    {
        return FileVerdict::Skip(SkipReason::Vendored);
    }
    if LOCKFILES.contains(&name) || ext == "lock" {
        return FileVerdict::Skip(SkipReason::Lockfile);
    }
    if is_generated_name(&lower, ext) {
        return FileVerdict::Skip(SkipReason::Generated);
    }
    if is_minified_name(&lower) {
        return FileVerdict::Skip(SkipReason::Minified);
    }
    if BINARY_EXTENSIONS.contains(&ext) || name == ".DS_Store" {
        return FileVerdict::Skip(SkipReason::Binary);
    }
    if size > max_bytes {
        return FileVerdict::Skip(SkipReason::TooLarge);
    }
    FileVerdict::Index
}

fn is_secret_name(name: &str, lower: &str, ext: &str, dirs: &str) -> bool {
    if lower == ".env" {
        return true;
    }
    if let Some(suffix) = lower.strip_prefix(".env.") {
        return !ENV_TEMPLATES.contains(&suffix);
    }
    if SECRET_NAMES.contains(&name) {
        return true;
    }
    if ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"]
        .iter()
        .any(|k| lower.starts_with(k))
        && !lower.ends_with(".pub")
    {
        return true;
    }
    if lower.starts_with("client_secret") && ext == "json" {
        return true;
    }
    if name == "credentials" && (dirs == ".aws" || dirs.ends_with("/.aws")) {
        return true;
    }
    if ext == "env" {
        // `prod.env` is an env file; `example.env` and friends are templates.
        return !ENV_TEMPLATES.iter().any(|t| lower.contains(t));
    }
    SECRET_EXTENSIONS.contains(&ext)
}

fn is_generated_name(lower: &str, ext: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        ".pb.go",
        ".pb.gw.go",
        "_pb2.py",
        "_pb2.pyi",
        "_pb2_grpc.py",
        ".pb.cc",
        ".pb.h",
        ".g.dart",
        ".freezed.dart",
        ".designer.cs",
        ".g.cs",
    ];
    if SUFFIXES.iter().any(|s| lower.ends_with(s)) || ext == "map" {
        return true;
    }
    let stem = lower.rsplit_once('.').map(|(s, _)| s).unwrap_or(lower);
    stem.ends_with(".generated")
        || stem.ends_with("_generated")
        || stem.ends_with("-generated")
        || lower.starts_with("zz_generated")
}

fn is_minified_name(lower: &str) -> bool {
    [".min.js", ".min.mjs", ".min.css", "-min.js"]
        .iter()
        .any(|s| lower.ends_with(s))
}

const LFS_MAGIC: &[u8] = b"version https://git-lfs.github.com/spec/v1";

/// A line this long, in a file whose lines average [`MINIFIED_AVG_LINE`] bytes, marks
/// the file as minified.
pub const MINIFIED_LONG_LINE: usize = 1000;
pub const MINIFIED_AVG_LINE: usize = 300;

/// The verdict from the file's bytes: Git LFS pointers, NUL bytes (binary), invalid UTF-8,
/// private key blocks and well-known token formats (secret), minified code, and the
/// generated-file markers tools write at the top of a file (`Code generated ... DO NOT
/// EDIT`, the `@generated` tag, `<auto-generated>`).
pub fn content_verdict(path: &str, bytes: &[u8]) -> FileVerdict {
    if bytes.starts_with(LFS_MAGIC) {
        return FileVerdict::Skip(SkipReason::LfsPointer);
    }
    if bytes.contains(&0) {
        return FileVerdict::Skip(SkipReason::Binary);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return FileVerdict::Skip(SkipReason::NotUtf8);
    };
    if has_secret(text) {
        return FileVerdict::Skip(SkipReason::Secret);
    }
    if is_minified_name(&file_name(path).to_ascii_lowercase()) || looks_minified(path, text) {
        return FileVerdict::Skip(SkipReason::Minified);
    }
    if has_generated_marker(text) {
        return FileVerdict::Skip(SkipReason::Generated);
    }
    FileVerdict::Index
}

fn looks_minified(path: &str, text: &str) -> bool {
    if matches!(Lang::from_path(path), Some(Lang::Markdown | Lang::Text)) {
        // Prose is often written one paragraph per line.
        return false;
    }
    if text.len() <= MINIFIED_LONG_LINE {
        return false;
    }
    let mut lines = 0usize;
    let mut longest = 0usize;
    for line in text.split('\n') {
        lines += 1;
        longest = longest.max(line.len());
    }
    if text.ends_with('\n') {
        lines -= 1;
    }
    longest > MINIFIED_LONG_LINE && text.len() / lines.max(1) > MINIFIED_AVG_LINE
}

fn has_generated_marker(text: &str) -> bool {
    for line in text.lines().take(10) {
        let t = line.trim_start();
        let comment = ["//", "#", "/*", "*", "<!--", "--", ";", "'"]
            .iter()
            .any(|c| t.starts_with(c));
        if !comment {
            continue;
        }
        if (t.contains("Code generated") && t.contains("DO NOT EDIT"))
            || t.contains(concat!("@", "generated"))
            || t.contains("<auto-generated")
        {
            return true;
        }
    }
    false
}

fn has_secret(text: &str) -> bool {
    has_private_key(text) || has_aws_key(text) || has_github_token(text) || has_slack_token(text)
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// A `-----BEGIN ... PRIVATE KEY-----` line followed by key material (base64, or the
/// `Proc-Type:` header of an encrypted PEM), also inside a string with `\n` escapes. A
/// source file that only names the marker (a PEM parser) is not a secret.
fn has_private_key(text: &str) -> bool {
    const BEGIN: &str = "-----BEGIN ";
    for (i, _) in text.match_indices(BEGIN) {
        let rest = &text[i + BEGIN.len()..];
        let Some(close) = rest.get(..rest.len().min(64)).and_then(|r| r.find("-----")) else {
            continue;
        };
        let label = &rest[..close];
        let label_ok = label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ');
        if !label_ok || !(label.ends_with("PRIVATE KEY") || label.ends_with("PRIVATE KEY BLOCK")) {
            continue;
        }
        let mut body = &rest.as_bytes()[close + 5..];
        loop {
            if body.starts_with(b"\\n") || body.starts_with(b"\\r") {
                body = &body[2..];
            } else if body.first().is_some_and(u8::is_ascii_whitespace) {
                body = &body[1..];
            } else {
                break;
            }
        }
        if body.starts_with(b"Proc-Type:") {
            return true;
        }
        let run = body
            .iter()
            .take_while(|&&b| is_alnum(b) || b == b'+' || b == b'/' || b == b'=')
            .count();
        if run >= 40 {
            return true;
        }
    }
    false
}

fn bounded(bytes: &[u8], at: usize, len: usize) -> bool {
    let before = at == 0 || !is_alnum(bytes[at - 1]);
    let after = bytes.get(at + len).is_none_or(|&b| !is_alnum(b));
    before && after
}

/// `AKIA` / `ASIA` and 16 uppercase letters or digits, not AWS's documentation example.
fn has_aws_key(text: &str) -> bool {
    let bytes = text.as_bytes();
    for prefix in ["AKIA", "ASIA"] {
        for (i, _) in text.match_indices(prefix) {
            let Some(id) = bytes.get(i + 4..i + 20) else {
                continue;
            };
            if id
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                && bounded(bytes, i, 20)
                && !id.ends_with(b"EXAMPLE")
            {
                return true;
            }
        }
    }
    false
}

/// Classic tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and 36 letters or digits) and
/// fine-grained ones (`github_pat_` and 22 or more of letters, digits and `_`).
fn has_github_token(text: &str) -> bool {
    let bytes = text.as_bytes();
    for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
        for (i, _) in text.match_indices(prefix) {
            if i > 0 && is_alnum(bytes[i - 1]) {
                continue;
            }
            let run = bytes[i + 4..].iter().take_while(|&&b| is_alnum(b)).count();
            if run >= 36 {
                return true;
            }
        }
    }
    for (i, _) in text.match_indices("github_pat_") {
        if i > 0 && is_alnum(bytes[i - 1]) {
            continue;
        }
        let run = bytes[i + 11..]
            .iter()
            .take_while(|&&b| is_alnum(b) || b == b'_')
            .count();
        if run >= 22 {
            return true;
        }
    }
    false
}

/// `xoxb-`, `xoxa-`, `xoxp-`, `xoxr-`, `xoxs-` and 10 or more of letters, digits and `-`,
/// at least one a digit.
fn has_slack_token(text: &str) -> bool {
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices("xox") {
        if i > 0 && is_alnum(bytes[i - 1]) {
            continue;
        }
        let (Some(&kind), Some(&dash)) = (bytes.get(i + 3), bytes.get(i + 4)) else {
            continue;
        };
        if !b"baprs".contains(&kind) || dash != b'-' {
            continue;
        }
        let body: Vec<u8> = bytes[i + 5..]
            .iter()
            .take_while(|&&b| is_alnum(b) || b == b'-')
            .copied()
            .collect();
        if body.len() >= 10 && body.iter().any(u8::is_ascii_digit) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 1 << 20;

    fn skip(r: SkipReason) -> FileVerdict {
        FileVerdict::Skip(r)
    }

    #[test]
    fn ordinary_source_is_indexed() {
        for p in [
            "src/main.rs",
            "app/models/user.py",
            "web/src/App.tsx",
            "README.md",
            "docs/build-guide.md",
            "src/builder.rs",
            "crates/kiln-code/src/files.rs",
            "keys.rs",
            "id_rsa.pub",
            ".github/workflows/ci.yml",
        ] {
            assert_eq!(path_verdict(p, 100, MAX), FileVerdict::Index, "{p}");
        }
    }

    #[test]
    fn vendored_and_build_directories() {
        for p in [
            "node_modules/react/index.js",
            "web/node_modules/a/b.js",
            "vendor/github.com/x/y.go",
            "dist/app.js",
            "build/classes/A.java",
            "target/debug/build.rs",
            ".git/config",
            "pkg/__pycache__/a.py",
            ".venv/lib/python3.12/site.py",
            "web/.next/server/page.js",
            "lib\\vendor\\x.php",
            "py/foo.egg-info/PKG-INFO",
        ] {
            assert_eq!(path_verdict(p, 100, MAX), skip(SkipReason::Vendored), "{p}");
        }
        // The name alone is not a directory.
        assert_eq!(path_verdict("src/vendor.rs", 1, MAX), FileVerdict::Index);
        assert_eq!(path_verdict("target", 1, MAX), FileVerdict::Index);
    }

    #[test]
    fn lockfiles() {
        for p in [
            "Cargo.lock",
            "web/package-lock.json",
            "yarn.lock",
            "pnpm-lock.yaml",
            "poetry.lock",
            "go.sum",
            "composer.lock",
            "Gemfile.lock",
            "some/tool.lock",
        ] {
            assert_eq!(path_verdict(p, 100, MAX), skip(SkipReason::Lockfile), "{p}");
        }
        assert_eq!(path_verdict("go.mod", 100, MAX), FileVerdict::Index);
        assert_eq!(path_verdict("package.json", 100, MAX), FileVerdict::Index);
    }

    #[test]
    fn secret_file_names() {
        for p in [
            ".env",
            "app/.env",
            ".env.local",
            ".env.production",
            "deploy/prod.env",
            "home/.ssh/id_rsa",
            "id_ed25519",
            "certs/server.pem",
            "certs/server.key",
            "a.p12",
            "a.pfx",
            "config/credentials.json",
            ".npmrc",
            ".pypirc",
            ".netrc",
            "home/.aws/credentials",
            "client_secret_123.apps.googleusercontent.com.json",
        ] {
            assert_eq!(path_verdict(p, 100, MAX), skip(SkipReason::Secret), "{p}");
        }
        for p in [
            ".env.example",
            ".env.sample",
            ".env.template",
            "example.env",
        ] {
            assert_eq!(path_verdict(p, 100, MAX), FileVerdict::Index, "{p}");
        }
    }

    #[test]
    fn generated_minified_binary_and_size_by_path() {
        assert_eq!(
            path_verdict("api/user.pb.go", 1, MAX),
            skip(SkipReason::Generated)
        );
        assert_eq!(
            path_verdict("api/user_pb2.py", 1, MAX),
            skip(SkipReason::Generated)
        );
        assert_eq!(
            path_verdict("app.js.map", 1, MAX),
            skip(SkipReason::Generated)
        );
        assert_eq!(
            path_verdict("schema_generated.rs", 1, MAX),
            skip(SkipReason::Generated)
        );
        assert_eq!(
            path_verdict("static/jquery.min.js", 1, MAX),
            skip(SkipReason::Minified)
        );
        assert_eq!(
            path_verdict("static/site.min.css", 1, MAX),
            skip(SkipReason::Minified)
        );
        assert_eq!(path_verdict("logo.PNG", 1, MAX), skip(SkipReason::Binary));
        assert_eq!(path_verdict("lib/x.so", 1, MAX), skip(SkipReason::Binary));
        assert_eq!(
            path_verdict("src/big.rs", MAX + 1, MAX),
            skip(SkipReason::TooLarge)
        );
        assert_eq!(path_verdict("src/big.rs", MAX, MAX), FileVerdict::Index);
    }

    #[test]
    fn content_of_ordinary_source_is_indexed() {
        let src = "fn main() {\n    println!(\"hi\");\n}\n";
        assert_eq!(
            content_verdict("src/main.rs", src.as_bytes()),
            FileVerdict::Index
        );
        assert_eq!(content_verdict("empty.rs", b""), FileVerdict::Index);
        let bom = "\u{feff}print('x')\n";
        assert_eq!(content_verdict("a.py", bom.as_bytes()), FileVerdict::Index);
    }

    #[test]
    fn binary_and_encoding() {
        assert_eq!(
            content_verdict("a.dat", b"abc\0def"),
            skip(SkipReason::Binary)
        );
        assert_eq!(
            content_verdict("latin1.txt", b"caf\xe9 au lait"),
            skip(SkipReason::NotUtf8)
        );
    }

    #[test]
    fn lfs_pointer() {
        let ptr = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n";
        assert_eq!(
            content_verdict("model.bin", ptr.as_bytes()),
            skip(SkipReason::LfsPointer)
        );
        // Mentioning the spec elsewhere is not a pointer.
        let doc = format!("# LFS\n{ptr}");
        assert_eq!(
            content_verdict("doc.md", doc.as_bytes()),
            FileVerdict::Index
        );
    }

    #[test]
    fn minified_by_shape_and_name() {
        let line = "var a=function(b){return b+1};".repeat(100);
        assert_eq!(
            content_verdict("app.js", line.as_bytes()),
            skip(SkipReason::Minified)
        );
        assert_eq!(
            content_verdict("lib.min.js", b"var a = 1;\n"),
            skip(SkipReason::Minified)
        );
        // One long line in an otherwise normal file is not minification.
        let mut normal = "let x = 1;\n".repeat(200);
        normal.push_str(&"x".repeat(1500));
        assert_eq!(
            content_verdict("app.js", normal.as_bytes()),
            FileVerdict::Index
        );
        // Prose written one paragraph per line is not minified.
        let prose = format!("{}\n\n{}\n", "word ".repeat(300), "more ".repeat(300));
        assert_eq!(
            content_verdict("notes.md", prose.as_bytes()),
            FileVerdict::Index
        );
    }

    #[test]
    fn private_keys_are_secret_but_their_markers_are_not() {
        let begin = concat!("-----BEGIN", " RSA PRIVATE KEY-----");
        let end = concat!("-----END", " RSA PRIVATE KEY-----");
        let material = "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB";
        let pem = format!("{begin}\n{material}\n{end}\n");
        assert_eq!(
            content_verdict("k.txt", pem.as_bytes()),
            skip(SkipReason::Secret)
        );
        let json = format!(
            "{{\"type\": \"service_account\", \"private_key\": \"{}\\n{material}\\n\"}}",
            concat!("-----BEGIN", " PRIVATE KEY-----")
        );
        assert_eq!(
            content_verdict("sa.json", json.as_bytes()),
            skip(SkipReason::Secret)
        );
        let parser = format!("const HEADER: &str = \"{begin}\";\nfn parse() {{}}\n");
        assert_eq!(
            content_verdict("pem.rs", parser.as_bytes()),
            FileVerdict::Index
        );
        let public = format!(
            "{}\n{material}\n",
            concat!("-----BEGIN", " PUBLIC KEY-----")
        );
        assert_eq!(
            content_verdict("pub.pem.txt", public.as_bytes()),
            FileVerdict::Index
        );
    }

    #[test]
    fn token_formats_are_secret() {
        let cases = [
            format!(
                "aws_access_key_id = {}\n",
                concat!("AKIA", "QWERTYUIOPASDFGH")
            ),
            format!(
                "TOKEN={}\n",
                concat!("ghp_", "abcdefghijklmnopqrstuvwxyz0123456789")
            ),
            format!(
                "token: {}\n",
                concat!(
                    "github_pat_",
                    "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
                )
            ),
            format!("SLACK={}\n", concat!("xoxb", "-123456789012-abcdefghijkl")),
        ];
        for c in &cases {
            assert_eq!(
                content_verdict("config.txt", c.as_bytes()),
                skip(SkipReason::Secret),
                "{c}"
            );
        }
        let benign = [
            // AWS's documentation example key.
            concat!("AKIA", "IOSFODNN7EXAMPLE"),
            // Too short, or part of a longer word.
            concat!("AKIA", "1234"),
            concat!("XAKIA", "QWERTYUIOPASDFGH"),
            concat!("ghp_", "short"),
            concat!("xoxb", "-notatoken"),
            "let xoxo = 1;",
        ];
        for b in benign {
            assert_eq!(
                content_verdict("a.txt", b.as_bytes()),
                FileVerdict::Index,
                "{b}"
            );
        }
    }

    #[test]
    fn generated_markers_at_the_top() {
        let go = "// Code generated by protoc-gen-go. DO NOT EDIT.\npackage api\n";
        assert_eq!(
            content_verdict("api.go", go.as_bytes()),
            skip(SkipReason::Generated)
        );
        let tagged = format!("# {} by tool\nx = 1\n", concat!("@", "generated"));
        assert_eq!(
            content_verdict("x.py", tagged.as_bytes()),
            skip(SkipReason::Generated)
        );
        let later = format!("{}// Code generated. DO NOT EDIT.\n", "x = 1\n".repeat(20));
        assert_eq!(
            content_verdict("x.go", later.as_bytes()),
            FileVerdict::Index
        );
    }

    #[test]
    fn reasons_serialise_as_their_names() {
        for r in [
            SkipReason::TooLarge,
            SkipReason::Binary,
            SkipReason::NotUtf8,
            SkipReason::Minified,
            SkipReason::Secret,
            SkipReason::LfsPointer,
            SkipReason::Vendored,
            SkipReason::Lockfile,
            SkipReason::Generated,
        ] {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert_eq!(SkipReason::LfsPointer.as_str(), "lfs_pointer");
        assert!(FileVerdict::Index.is_index());
        assert_eq!(
            FileVerdict::Skip(SkipReason::Binary).skip_reason(),
            Some(SkipReason::Binary)
        );
    }
}
