//! File classification: which language a file is written in, and which files are not the
//! project's own code (vendored, lock, generated) and so must not shape what Kiln learns.

/// How a language counts in the outline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Code.
    Programming,
    /// Markup and styling (HTML, CSS): counted and named in the outline.
    Markup,
    /// Documentation text: counted, but only named in the outline when nothing else is there.
    Prose,
}

use Kind::{Markup, Programming, Prose};

/// Every language Kiln names: stable id (used in the output), display name, kind.
const LANGS: &[(&str, &str, Kind)] = &[
    ("rust", "Rust", Programming),
    ("python", "Python", Programming),
    ("javascript", "JavaScript", Programming),
    ("typescript", "TypeScript", Programming),
    ("java", "Java", Programming),
    ("kotlin", "Kotlin", Programming),
    ("go", "Go", Programming),
    ("php", "PHP", Programming),
    ("ruby", "Ruby", Programming),
    ("c", "C", Programming),
    ("cpp", "C++", Programming),
    ("csharp", "C#", Programming),
    ("fsharp", "F#", Programming),
    ("vbnet", "Visual Basic", Programming),
    ("swift", "Swift", Programming),
    ("objective-c", "Objective-C", Programming),
    ("shell", "Shell", Programming),
    ("fish", "Fish", Programming),
    ("powershell", "PowerShell", Programming),
    ("batch", "Batchfile", Programming),
    ("scala", "Scala", Programming),
    ("groovy", "Groovy", Programming),
    ("clojure", "Clojure", Programming),
    ("elixir", "Elixir", Programming),
    ("erlang", "Erlang", Programming),
    ("haskell", "Haskell", Programming),
    ("ocaml", "OCaml", Programming),
    ("lua", "Lua", Programming),
    ("perl", "Perl", Programming),
    ("r", "R", Programming),
    ("julia", "Julia", Programming),
    ("dart", "Dart", Programming),
    ("zig", "Zig", Programming),
    ("nim", "Nim", Programming),
    ("crystal", "Crystal", Programming),
    ("solidity", "Solidity", Programming),
    ("sql", "SQL", Programming),
    ("protobuf", "Protocol Buffers", Programming),
    ("graphql", "GraphQL", Programming),
    ("hcl", "HCL", Programming),
    ("nix", "Nix", Programming),
    ("makefile", "Makefile", Programming),
    ("cmake", "CMake", Programming),
    ("dockerfile", "Dockerfile", Programming),
    ("vue", "Vue", Programming),
    ("svelte", "Svelte", Programming),
    ("astro", "Astro", Programming),
    ("elm", "Elm", Programming),
    ("html", "HTML", Markup),
    ("css", "CSS", Markup),
    ("scss", "SCSS", Markup),
    ("less", "Less", Markup),
    ("markdown", "Markdown", Prose),
    ("restructuredtext", "reStructuredText", Prose),
    ("asciidoc", "AsciiDoc", Prose),
    ("tex", "TeX", Prose),
];

/// The language id of a file, from its name (for extension-less build files) or extension.
/// Data formats (JSON, YAML, TOML, XML) are deliberately not languages.
pub(crate) fn language_of(name: &str) -> Option<&'static str> {
    match name {
        "Dockerfile" | "Containerfile" => return Some("dockerfile"),
        "Makefile" | "makefile" | "GNUmakefile" => return Some("makefile"),
        "CMakeLists.txt" => return Some("cmake"),
        "Rakefile" | "Gemfile" => return Some("ruby"),
        "Jenkinsfile" => return Some("groovy"),
        _ => {}
    }
    if name.starts_with("Dockerfile.") {
        return Some("dockerfile");
    }
    let ext = crate::text::extension(name)?;
    let id = match ext.as_str() {
        "rs" => "rust",
        "py" | "pyi" | "pyw" => "python",
        "js" | "mjs" | "cjs" | "jsx" => "javascript",
        "ts" | "mts" | "cts" | "tsx" => "typescript",
        "java" => "java",
        "kt" | "kts" => "kotlin",
        "go" => "go",
        "php" | "phtml" => "php",
        "rb" | "rake" | "gemspec" | "erb" => "ruby",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "c++" | "hpp" | "hh" | "hxx" | "h++" | "ipp" => "cpp",
        "cs" | "csx" => "csharp",
        "fs" | "fsx" | "fsi" => "fsharp",
        "vb" => "vbnet",
        "swift" => "swift",
        "m" | "mm" => "objective-c",
        "sh" | "bash" | "zsh" | "ksh" => "shell",
        "fish" => "fish",
        "ps1" | "psm1" | "psd1" => "powershell",
        "bat" | "cmd" => "batch",
        "scala" | "sc" => "scala",
        "groovy" | "gradle" => "groovy",
        "clj" | "cljs" | "cljc" | "edn" => "clojure",
        "ex" | "exs" | "heex" => "elixir",
        "erl" | "hrl" => "erlang",
        "hs" | "lhs" => "haskell",
        "ml" | "mli" => "ocaml",
        "lua" => "lua",
        "pl" | "pm" => "perl",
        "r" => "r",
        "jl" => "julia",
        "dart" => "dart",
        "zig" => "zig",
        "nim" => "nim",
        "cr" => "crystal",
        "sol" => "solidity",
        "sql" => "sql",
        "proto" => "protobuf",
        "graphql" | "gql" => "graphql",
        "tf" | "tfvars" | "hcl" => "hcl",
        "nix" => "nix",
        "mk" => "makefile",
        "cmake" => "cmake",
        "vue" => "vue",
        "svelte" => "svelte",
        "astro" => "astro",
        "elm" => "elm",
        "html" | "htm" | "xhtml" => "html",
        "css" => "css",
        "scss" | "sass" => "scss",
        "less" => "less",
        "md" | "markdown" | "mdx" => "markdown",
        "rst" => "restructuredtext",
        "adoc" | "asciidoc" => "asciidoc",
        "tex" => "tex",
        _ => return None,
    };
    Some(id)
}

/// Display name for a language id; the id itself when unknown.
pub(crate) fn display_name(id: &str) -> &str {
    LANGS
        .iter()
        .find(|(i, _, _)| *i == id)
        .map_or(id, |(_, d, _)| d)
}

/// Kind of a language id (programming when unknown).
pub(crate) fn kind_of(id: &str) -> Kind {
    LANGS
        .iter()
        .find(|(i, _, _)| *i == id)
        .map_or(Programming, |(_, _, k)| *k)
}

/// Skip reasons from the indexer that mean "not the project's own code".
const EXCLUDING_SKIPS: &[&str] = &["vendored", "minified", "lfs_pointer", "generated"];

/// Directory names whose content is third-party or build output.
const VENDORED_DIRS: &[&str] = &[
    "node_modules",
    "bower_components",
    "jspm_packages",
    "vendor",
    "third_party",
    "third-party",
    "thirdparty",
    "Pods",
    "Carthage",
    ".yarn",
    ".pnpm-store",
    ".venv",
    "venv",
    "site-packages",
    "__pycache__",
    ".tox",
    ".git",
    ".hg",
    ".svn",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".gradle",
    ".cache",
    "dist",
    "coverage",
];

/// Lock files: real files of the project, but generated and never source.
pub(crate) const LOCK_FILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "bun.lock",
    "deno.lock",
    "Cargo.lock",
    "poetry.lock",
    "uv.lock",
    "pdm.lock",
    "Pipfile.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
    "go.work.sum",
    "gradle.lockfile",
    "packages.lock.json",
    "mix.lock",
    "pubspec.lock",
    "Package.resolved",
    "flake.lock",
];

/// True when a directory path contains a vendored or build-output directory.
pub(crate) fn in_vendored_dir(dir: &str) -> bool {
    !dir.is_empty() && dir.split('/').any(|seg| VENDORED_DIRS.contains(&seg))
}

/// Why a file is not counted as the project's own code, if it is not.
pub(crate) fn exclusion(
    path: &str,
    skipped: Option<&str>,
    text: Option<&str>,
) -> Option<&'static str> {
    if let Some(reason) = skipped
        && let Some(r) = EXCLUDING_SKIPS.iter().find(|r| **r == reason)
    {
        return Some(r);
    }
    if in_vendored_dir(crate::text::parent(path)) {
        return Some("vendored");
    }
    let name = crate::text::file_name(path);
    if LOCK_FILES.contains(&name) {
        return Some("lock");
    }
    let lower = name.to_ascii_lowercase();
    let generated_suffixes = [
        ".min.js",
        ".min.css",
        ".min.mjs",
        ".map",
        ".pb.go",
        "_pb2.py",
        "_pb2_grpc.py",
        ".pb.cc",
        ".pb.h",
        ".g.dart",
        ".freezed.dart",
        ".designer.cs",
        ".g.cs",
    ];
    if generated_suffixes.iter().any(|s| lower.ends_with(s))
        || lower.contains(".generated.")
        || lower.starts_with("zz_generated")
    {
        return Some("generated");
    }
    if let Some(text) = text {
        let mut end = text.len().min(600);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let head = &text[..end];
        if head.contains("@generated")
            || (head.contains("Code generated") && head.contains("DO NOT EDIT"))
        {
            return Some("generated");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_extensions_and_names() {
        assert_eq!(language_of("main.rs"), Some("rust"));
        assert_eq!(language_of("App.TSX"), Some("typescript"));
        assert_eq!(language_of("x.hpp"), Some("cpp"));
        assert_eq!(language_of("Dockerfile"), Some("dockerfile"));
        assert_eq!(language_of("data.json"), None);
        assert_eq!(language_of("README.md").map(kind_of), Some(Kind::Prose));
        assert_eq!(display_name("csharp"), "C#");
        assert_eq!(display_name("cpp"), "C++");
        assert_eq!(display_name("unknown-thing"), "unknown-thing");
    }

    #[test]
    fn excludes_vendored_lock_and_generated() {
        assert_eq!(
            exclusion("node_modules/x/index.js", None, None),
            Some("vendored")
        );
        assert_eq!(exclusion("web/dist/app.js", None, None), Some("vendored"));
        assert_eq!(exclusion("Cargo.lock", None, None), Some("lock"));
        assert_eq!(
            exclusion("static/app.min.js", None, None),
            Some("generated")
        );
        assert_eq!(exclusion("api/x.pb.go", None, None), Some("generated"));
        assert_eq!(
            exclusion(
                "gen.go",
                None,
                Some("// Code generated by x. DO NOT EDIT.\n")
            ),
            Some("generated")
        );
        assert_eq!(
            exclusion("src/lib.rs", Some("minified"), None),
            Some("minified")
        );
        assert_eq!(exclusion("src/lib.rs", None, Some("fn main() {}")), None);
        assert_eq!(exclusion("src/vendors.rs", None, None), None);
    }
}
