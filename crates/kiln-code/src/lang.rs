//! Which language a file is written in, decided from its path alone.

/// A language (or text format) Kiln recognises. Only some have a grammar
/// ([`Lang::has_grammar`]); the rest are chunked by lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Java,
    Go,
    Php,
    C,
    Cpp,
    CSharp,
    Ruby,
    Kotlin,
    Swift,
    Scala,
    Shell,
    Sql,
    Html,
    Css,
    Scss,
    Markdown,
    Json,
    Yaml,
    Toml,
    Xml,
    Dockerfile,
    Makefile,
    Text,
}

impl Lang {
    /// Every variant, in declaration order.
    pub const ALL: [Lang; 28] = [
        Lang::Rust,
        Lang::Python,
        Lang::JavaScript,
        Lang::TypeScript,
        Lang::Tsx,
        Lang::Java,
        Lang::Go,
        Lang::Php,
        Lang::C,
        Lang::Cpp,
        Lang::CSharp,
        Lang::Ruby,
        Lang::Kotlin,
        Lang::Swift,
        Lang::Scala,
        Lang::Shell,
        Lang::Sql,
        Lang::Html,
        Lang::Css,
        Lang::Scss,
        Lang::Markdown,
        Lang::Json,
        Lang::Yaml,
        Lang::Toml,
        Lang::Xml,
        Lang::Dockerfile,
        Lang::Makefile,
        Lang::Text,
    ];

    /// The language of a file, from its extension or a well-known file name
    /// (`Dockerfile`, `Makefile`, `.bashrc`, `Gemfile`, ...). Both `/` and `\` separate
    /// directories. `None`: not a source or text format Kiln knows (the caller may still
    /// treat the file as text if it is UTF-8).
    pub fn from_path(path: &str) -> Option<Lang> {
        let name = file_name(path);
        if name.is_empty() {
            return None;
        }
        if let Some(lang) = by_file_name(name) {
            return Some(lang);
        }
        // `.bashrc` has no extension: its whole name is the "extension" here.
        let ext = match name.rfind('.') {
            Some(i) => &name[i + 1..],
            None => return None,
        };
        if ext.is_empty() || ext.len() > 10 {
            return None;
        }
        by_extension(&ext.to_ascii_lowercase())
    }

    /// The lowercase name, as serialised: `"rust"`, `"typescript"`, `"csharp"`, ...
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::JavaScript => "javascript",
            Lang::TypeScript => "typescript",
            Lang::Tsx => "tsx",
            Lang::Java => "java",
            Lang::Go => "go",
            Lang::Php => "php",
            Lang::C => "c",
            Lang::Cpp => "cpp",
            Lang::CSharp => "csharp",
            Lang::Ruby => "ruby",
            Lang::Kotlin => "kotlin",
            Lang::Swift => "swift",
            Lang::Scala => "scala",
            Lang::Shell => "shell",
            Lang::Sql => "sql",
            Lang::Html => "html",
            Lang::Css => "css",
            Lang::Scss => "scss",
            Lang::Markdown => "markdown",
            Lang::Json => "json",
            Lang::Yaml => "yaml",
            Lang::Toml => "toml",
            Lang::Xml => "xml",
            Lang::Dockerfile => "dockerfile",
            Lang::Makefile => "makefile",
            Lang::Text => "text",
        }
    }

    /// The inverse of [`Lang::name`].
    pub fn from_name(name: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Whether [`crate::chunk`] parses this language with tree-sitter.
    pub fn has_grammar(self) -> bool {
        matches!(
            self,
            Lang::Rust
                | Lang::Python
                | Lang::JavaScript
                | Lang::TypeScript
                | Lang::Tsx
                | Lang::Java
                | Lang::Go
                | Lang::Php
        )
    }

    /// The separator of qualified names: `::` for Rust and PHP, `.` for the others.
    pub fn separator(self) -> &'static str {
        match self {
            Lang::Rust | Lang::Php => "::",
            _ => ".",
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The last component of a path, with `/` or `\` as separators.
pub(crate) fn file_name(path: &str) -> &str {
    let path = path.trim_end_matches(['/', '\\']);
    match path.rfind(['/', '\\']) {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

fn by_file_name(name: &str) -> Option<Lang> {
    let lang = match name {
        "Dockerfile" | "dockerfile" | "Containerfile" => Lang::Dockerfile,
        "Makefile" | "makefile" | "GNUmakefile" => Lang::Makefile,
        ".bashrc" | ".bash_profile" | ".bash_logout" | ".bash_aliases" | ".zshrc" | ".zshenv"
        | ".zprofile" | ".profile" | ".kshrc" => Lang::Shell,
        "Gemfile" | "Rakefile" | "Guardfile" | "Podfile" | "Vagrantfile" | "Brewfile" => Lang::Ruby,
        "BUILD" | "BUILD.bazel" | "WORKSPACE" | "WORKSPACE.bazel" | "Tiltfile" => Lang::Python,
        "CMakeLists.txt" | "LICENSE" | "LICENCE" | "COPYING" | "NOTICE" | "AUTHORS"
        | "CODEOWNERS" | "README" | "CHANGELOG" | "Procfile" | "Jenkinsfile" | ".gitignore"
        | ".gitattributes" | ".dockerignore" | ".editorconfig" => Lang::Text,
        _ => {
            if name.starts_with("Dockerfile.") || name.starts_with("Containerfile.") {
                Lang::Dockerfile
            } else {
                return None;
            }
        }
    };
    Some(lang)
}

fn by_extension(ext: &str) -> Option<Lang> {
    let lang = match ext {
        "rs" => Lang::Rust,
        "py" | "pyi" | "pyw" | "bzl" => Lang::Python,
        "js" | "mjs" | "cjs" | "jsx" => Lang::JavaScript,
        "ts" | "mts" | "cts" => Lang::TypeScript,
        "tsx" => Lang::Tsx,
        "java" => Lang::Java,
        "go" => Lang::Go,
        "php" | "phtml" | "php3" | "php4" | "php5" | "php7" | "php8" | "phps" => Lang::Php,
        "c" | "h" => Lang::C,
        "cc" | "cpp" | "cxx" | "c++" | "hpp" | "hh" | "hxx" | "h++" | "ipp" | "inl" | "tpp" => {
            Lang::Cpp
        }
        "cs" | "csx" => Lang::CSharp,
        "rb" | "rake" | "gemspec" | "ru" => Lang::Ruby,
        "kt" | "kts" => Lang::Kotlin,
        "swift" => Lang::Swift,
        "scala" | "sc" | "sbt" => Lang::Scala,
        "sh" | "bash" | "zsh" | "ksh" | "bats" => Lang::Shell,
        "sql" | "psql" | "ddl" => Lang::Sql,
        "html" | "htm" | "xhtml" => Lang::Html,
        "css" => Lang::Css,
        "scss" | "sass" | "less" => Lang::Scss,
        "md" | "markdown" | "mdx" | "mkd" => Lang::Markdown,
        "json" | "jsonc" | "json5" | "geojson" | "ipynb" => Lang::Json,
        "yaml" | "yml" => Lang::Yaml,
        "toml" => Lang::Toml,
        "xml" | "xsd" | "xsl" | "xslt" | "plist" | "csproj" | "fsproj" | "vbproj" | "props"
        | "targets" | "resx" | "wsdl" => Lang::Xml,
        "dockerfile" | "containerfile" => Lang::Dockerfile,
        "mk" | "mak" => Lang::Makefile,
        "txt" | "text" | "rst" | "adoc" | "asciidoc" | "org" | "ini" | "cfg" | "conf"
        | "properties" | "env" | "proto" | "graphql" | "gql" | "csv" | "tsv" | "gradle" => {
            Lang::Text
        }
        _ => return None,
    };
    Some(lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_map_to_languages() {
        let cases = [
            ("src/main.rs", Lang::Rust),
            ("app/models.py", Lang::Python),
            ("web/index.MJS", Lang::JavaScript),
            ("web/App.jsx", Lang::JavaScript),
            ("web/api.ts", Lang::TypeScript),
            ("web/App.tsx", Lang::Tsx),
            ("src/main/java/A.java", Lang::Java),
            ("cmd/server/main.go", Lang::Go),
            ("public/index.php", Lang::Php),
            ("include/x.h", Lang::C),
            ("lib/x.hpp", Lang::Cpp),
            ("Program.cs", Lang::CSharp),
            ("lib/a.rb", Lang::Ruby),
            ("build.gradle.kts", Lang::Kotlin),
            ("a.swift", Lang::Swift),
            ("a.scala", Lang::Scala),
            ("scripts/deploy.sh", Lang::Shell),
            ("db/001_init.sql", Lang::Sql),
            ("index.html", Lang::Html),
            ("a.css", Lang::Css),
            ("a.scss", Lang::Scss),
            ("README.md", Lang::Markdown),
            ("package.json", Lang::Json),
            (".github/workflows/ci.yml", Lang::Yaml),
            ("Cargo.toml", Lang::Toml),
            ("pom.xml", Lang::Xml),
            ("notes.txt", Lang::Text),
            ("C:\\src\\lib.rs", Lang::Rust),
        ];
        for (path, lang) in cases {
            assert_eq!(Lang::from_path(path), Some(lang), "{path}");
        }
    }

    #[test]
    fn well_known_file_names() {
        assert_eq!(Lang::from_path("Dockerfile"), Some(Lang::Dockerfile));
        assert_eq!(
            Lang::from_path("deploy/Dockerfile.prod"),
            Some(Lang::Dockerfile)
        );
        assert_eq!(Lang::from_path("api.dockerfile"), Some(Lang::Dockerfile));
        assert_eq!(Lang::from_path("Makefile"), Some(Lang::Makefile));
        assert_eq!(Lang::from_path("rules.mk"), Some(Lang::Makefile));
        assert_eq!(Lang::from_path("home/.bashrc"), Some(Lang::Shell));
        assert_eq!(Lang::from_path("Gemfile"), Some(Lang::Ruby));
        assert_eq!(Lang::from_path("LICENSE"), Some(Lang::Text));
    }

    #[test]
    fn unknown_files_are_none() {
        for path in [
            "",
            "dir/",
            "logo.png",
            "a.exe",
            "noext",
            "weird.",
            "x.averyveryverylongext",
        ] {
            assert_eq!(Lang::from_path(path), None, "{path}");
        }
    }

    #[test]
    fn names_match_serde_and_round_trip() {
        for lang in Lang::ALL {
            let json = serde_json::to_string(&lang).unwrap();
            assert_eq!(json, format!("\"{}\"", lang.name()));
            assert_eq!(serde_json::from_str::<Lang>(&json).unwrap(), lang);
            assert_eq!(Lang::from_name(lang.name()), Some(lang));
        }
        assert_eq!(Lang::JavaScript.name(), "javascript");
        assert_eq!(Lang::CSharp.name(), "csharp");
    }

    #[test]
    fn grammars_and_separators() {
        let with: Vec<Lang> = Lang::ALL.into_iter().filter(|l| l.has_grammar()).collect();
        assert_eq!(
            with,
            [
                Lang::Rust,
                Lang::Python,
                Lang::JavaScript,
                Lang::TypeScript,
                Lang::Tsx,
                Lang::Java,
                Lang::Go,
                Lang::Php
            ]
        );
        assert_eq!(Lang::Rust.separator(), "::");
        assert_eq!(Lang::Php.separator(), "::");
        assert_eq!(Lang::Python.separator(), ".");
        assert_eq!(Lang::Go.separator(), ".");
    }
}
