//! Fixture repositories of common stacks, scanned end to end.

mod support;

use support::{Fixture, has_framework, names, tool_names};

fn node_ts_app() -> Fixture {
    Fixture::new()
        .file(
            "package.json",
            r#"{
  "name": "orders-api",
  "version": "1.0.0",
  "main": "dist/server.js",
  "scripts": {
    "build": "tsc -p .",
    "test": "jest --ci",
    "lint": "eslint . --ext .ts",
    "start": "node dist/server.js"
  },
  "dependencies": { "express": "^4.19.0", "zod": "^3.23.0" },
  "devDependencies": { "jest": "^29.7.0", "ts-jest": "^29.1.0", "typescript": "^5.4.0", "@types/express": "^4.17.21" }
}"#,
        )
        .file("package-lock.json", "{\n  \"lockfileVersion\": 3\n}\n")
        .file("tsconfig.json", "{ \"compilerOptions\": { \"outDir\": \"dist\" } }\n")
        .file(".eslintrc.json", "{}\n")
        .file(".prettierrc", "{}\n")
        .file(".editorconfig", "root = true\n")
        .file(".github/workflows/ci.yml", "on: push\njobs: {}\n")
        .lines("src/server.ts", 120)
        .lines("src/routes/orders.ts", 200)
        .lines("src/routes/orders.test.ts", 80)
        .lines("src/server.test.ts", 40)
        .lines("README.md", 30)
        .lines("node_modules/express/index.js", 5000)
}

#[test]
fn node_typescript_app_with_jest() {
    let k = node_ts_app()
        .subjects(&[
            "feat(orders): add refunds",
            "fix: validate totals",
            "chore: bump deps",
        ])
        .scan();

    assert_eq!(names(&k), vec![("npm", ".")]);
    assert_eq!(k.languages[0].name, "typescript");
    assert_eq!(k.languages[0].files, 4);
    assert_eq!(k.languages[0].lines, 440);
    assert!(
        k.languages.iter().all(|l| l.name != "javascript"),
        "node_modules is vendored and not counted: {:?}",
        k.languages
    );
    assert!(has_framework(&k, "express") && has_framework(&k, "jest"));
    assert!(!has_framework(&k, "zod"));

    let c = &k.commands;
    assert_eq!(c.install.as_deref(), Some("npm ci"));
    assert_eq!(c.sources.install.as_deref(), Some("package-lock.json"));
    assert_eq!(c.build.as_deref(), Some("npm run build"));
    assert_eq!(c.test.as_deref(), Some("npm test"));
    assert_eq!(c.sources.test.as_deref(), Some("package.json scripts.test"));
    assert_eq!(c.lint.as_deref(), Some("npm run lint"));
    assert_eq!(c.run.as_deref(), Some("npm start"));
    assert!(!c.no_tests);

    // main and the start script point at uncommitted build output; the source is named.
    assert_eq!(k.entry_points, vec!["src/server.ts"]);

    let tools = tool_names(&k);
    for t in ["eslint", "prettier", "editorconfig", "typescript"] {
        assert!(tools.contains(&t), "{t} in {tools:?}");
    }
    assert_eq!(
        k.conventions.test_layout.as_deref(),
        Some("tests beside code")
    );
    assert_eq!(k.conventions.test_patterns[0].pattern, "*.test.ts");
    assert_eq!(k.conventions.test_patterns[0].files, 2);
    assert_eq!(k.conventions.ci[0].system, "github-actions");
    let style = k.conventions.commit_style.as_ref().expect("style");
    assert_eq!(style.style, "conventional commits");

    assert!(
        k.summary.starts_with("A TypeScript (94%) repository"),
        "prose is not named next to code: {}",
        k.summary
    );
    assert!(k.summary.contains("built with npm"), "{}", k.summary);
    assert!(
        k.summary.contains("frameworks: express, jest"),
        "{}",
        k.summary
    );
    assert!(k.summary.contains("Tests: `npm test`"), "{}", k.summary);
    assert!(
        k.summary.contains("Entry points: src/server.ts"),
        "{}",
        k.summary
    );
    assert!(k.notes.is_empty(), "{:?}", k.notes);

    let dirs: Vec<&str> = k.directories.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        dirs,
        vec![
            "src",
            "src/routes",
            ".github",
            ".github/workflows",
            "node_modules",
            "node_modules/express"
        ],
        "own directories first, largest first; vendored last"
    );
    assert_eq!(k.directories[0].files, 4);
    assert_eq!(k.directories[0].lines, 440);
}

#[test]
fn npm_default_test_script_is_not_a_test_command() {
    let k = Fixture::new()
        .file(
            "package.json",
            r#"{"name":"x","version":"1.0.0","main":"index.js",
               "scripts":{"test":"echo \"Error: no test specified\" && exit 1"}}"#,
        )
        .lines("index.js", 20)
        .scan();
    assert_eq!(names(&k), vec![("npm", ".")]);
    assert_eq!(k.commands.test, None);
    assert_eq!(k.commands.sources.test, None);
    assert_eq!(k.commands.install.as_deref(), Some("npm install"));
    assert_eq!(k.commands.run.as_deref(), Some("node index.js"));
    assert_eq!(k.entry_points, vec!["index.js"]);
    assert!(
        k.summary.contains("No test command detected"),
        "{}",
        k.summary
    );
}

#[test]
fn pnpm_and_yarn_follow_the_lock_file() {
    let pkg = r#"{"scripts":{"test":"vitest run","build":"vite build","dev":"vite"},
                  "devDependencies":{"vite":"^5","vitest":"^1","react":"^18"}}"#;
    let pnpm = Fixture::new()
        .file("package.json", pkg)
        .file("pnpm-lock.yaml", "lockfileVersion: '9.0'\n")
        .lines("src/main.tsx", 10)
        .file("index.html", "<!doctype html>\n")
        .scan();
    assert_eq!(names(&pnpm), vec![("pnpm", ".")]);
    assert_eq!(
        pnpm.commands.install.as_deref(),
        Some("pnpm install --frozen-lockfile")
    );
    assert_eq!(pnpm.commands.test.as_deref(), Some("pnpm test"));
    assert_eq!(pnpm.commands.build.as_deref(), Some("pnpm run build"));
    assert_eq!(pnpm.commands.run.as_deref(), Some("pnpm run dev"));
    assert!(pnpm.entry_points.contains(&"index.html".to_string()));
    for fw in ["react", "vite", "vitest"] {
        assert!(has_framework(&pnpm, fw), "{fw}");
    }

    let yarn = Fixture::new()
        .file("package.json", pkg)
        .file("yarn.lock", "# yarn lockfile v1\n")
        .lines("src/main.tsx", 10)
        .scan();
    assert_eq!(names(&yarn), vec![("yarn", ".")]);
    assert_eq!(
        yarn.commands.install.as_deref(),
        Some("yarn install --frozen-lockfile")
    );
    assert_eq!(yarn.commands.test.as_deref(), Some("yarn test"));

    let berry = Fixture::new()
        .file("package.json", pkg)
        .file("yarn.lock", "__metadata:\n")
        .file(".yarnrc.yml", "nodeLinker: node-modules\n")
        .lines("src/main.tsx", 10)
        .scan();
    assert_eq!(
        berry.commands.install.as_deref(),
        Some("yarn install --immutable")
    );
}

#[test]
fn js_workspace_members_fold_into_the_root() {
    let k = Fixture::new()
        .file(
            "package.json",
            r#"{"private":true,"workspaces":["packages/*"],"scripts":{"test":"turbo run test"}}"#,
        )
        .file("yarn.lock", "# yarn lockfile v1\n")
        .file(
            "packages/ui/package.json",
            r#"{"name":"ui","dependencies":{"react":"18"}}"#,
        )
        .lines("packages/ui/src/Button.tsx", 50)
        .file(
            "packages/api/package.json",
            r#"{"name":"api","dependencies":{"fastify":"4"}}"#,
        )
        .lines("packages/api/src/index.ts", 50)
        .scan();
    assert_eq!(k.build_systems.len(), 1, "{:?}", k.build_systems);
    assert_eq!(k.build_systems[0].name, "yarn");
    assert!(k.build_systems[0].workspace);
    assert_eq!(k.commands.test.as_deref(), Some("yarn test"));
    assert!(has_framework(&k, "react") && has_framework(&k, "fastify"));
}

#[test]
fn cargo_workspace_with_axum() {
    let k = Fixture::new()
        .file(
            "Cargo.toml",
            "[workspace]\nresolver = \"3\"\nmembers = [\"crates/*\"]\n\n[workspace.dependencies]\n\
             axum = \"0.8\"\ntokio = { version = \"1\", features = [\"full\"] }\nserde = \"1\"\n\n\
             [workspace.lints.clippy]\ndbg_macro = \"warn\"\n",
        )
        .file("Cargo.lock", &"[[package]]\nname = \"x\"\n".repeat(500))
        .file(
            "crates/api/Cargo.toml",
            "[package]\nname = \"orders-api\"\nversion = \"0.1.0\"\n\n[dependencies]\naxum.workspace = true\ntokio.workspace = true\n",
        )
        .lines("crates/api/src/main.rs", 300)
        .lines("crates/api/tests/http.rs", 90)
        .file(
            "crates/core/Cargo.toml",
            "[package]\nname = \"orders-core\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde.workspace = true\n",
        )
        .file(
            "crates/core/src/lib.rs",
            "pub fn total() -> u32 { 1 }\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {}\n}\n",
        )
        .file("rustfmt.toml", "max_width = 100\n")
        .scan();

    assert_eq!(
        k.build_systems.len(),
        1,
        "members fold into the root: {:?}",
        k.build_systems
    );
    let b = &k.build_systems[0];
    assert_eq!(
        (b.name.as_str(), b.root.as_str(), b.manifest.as_str()),
        ("cargo", ".", "Cargo.toml")
    );
    assert!(b.workspace);
    assert_eq!(k.languages.len(), 1);
    assert_eq!(k.languages[0].name, "rust");
    assert_eq!(k.languages[0].percent, 100.0);

    let c = &k.commands;
    assert_eq!(c.build.as_deref(), Some("cargo build --workspace"));
    assert_eq!(c.test.as_deref(), Some("cargo test --workspace"));
    assert_eq!(c.sources.test.as_deref(), Some("Cargo.toml"));
    assert_eq!(
        c.lint.as_deref(),
        Some("cargo clippy --workspace --all-targets")
    );
    assert_eq!(c.run.as_deref(), Some("cargo run -p orders-api"));

    assert_eq!(k.frameworks, vec!["axum", "tokio"]);
    assert_eq!(k.entry_points, vec!["crates/api/src/main.rs"]);
    let tools = tool_names(&k);
    assert!(
        tools.contains(&"rustfmt") && tools.contains(&"clippy"),
        "{tools:?}"
    );
    let patterns: Vec<(&str, u64)> = k
        .conventions
        .test_patterns
        .iter()
        .map(|p| (p.pattern.as_str(), p.files))
        .collect();
    assert_eq!(
        patterns,
        vec![("#[cfg(test)] modules", 1), ("tests/*.rs", 1)]
    );
    assert!(
        k.summary
            .starts_with("A Rust (100%) repository built with Cargo; frameworks: axum, tokio."),
        "{}",
        k.summary
    );

    let crates = k
        .directories
        .iter()
        .find(|d| d.path == "crates")
        .expect("crates dir");
    assert_eq!(crates.role.as_deref(), Some("source"));
    let api = k
        .directories
        .iter()
        .find(|d| d.path == "crates/api")
        .expect("crates/api");
    assert_eq!(api.files, 3);
    assert_eq!(
        api.role.as_deref(),
        Some("source"),
        "inherits the parent's role"
    );
}

#[test]
fn single_cargo_package_runs_with_cargo_run() {
    let k = Fixture::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"tool\"\nversion = \"0.1.0\"\n[dependencies]\nclap = \"4\"\n",
        )
        .lines("src/main.rs", 40)
        .lines("src/bin/helper.rs", 10)
        .scan();
    assert_eq!(k.commands.build.as_deref(), Some("cargo build"));
    assert_eq!(k.commands.test.as_deref(), Some("cargo test"));
    assert_eq!(k.commands.run.as_deref(), Some("cargo run"));
    assert_eq!(k.entry_points, vec!["src/main.rs", "src/bin/helper.rs"]);
    assert!(k.frameworks.is_empty());
}

#[test]
fn maven_spring_boot_with_wrapper() {
    let pom = r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.3.0</version>
  </parent>
  <groupId>com.example</groupId>
  <artifactId>demo</artifactId>
  <dependencies>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
    </dependency>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-test</artifactId>
      <scope>test</scope>
    </dependency>
  </dependencies>
</project>
"#;
    let k = Fixture::new()
        .file("pom.xml", pom)
        .file("mvnw", "#!/bin/sh\n")
        .file("mvnw.cmd", "@echo off\n")
        .file(".mvn/wrapper/maven-wrapper.properties", "distributionUrl=x\n")
        .file(
            "src/main/java/com/example/demo/DemoApplication.java",
            "package com.example.demo;\n\n@SpringBootApplication\npublic class DemoApplication {\n    public static void main(String[] args) {\n        SpringApplication.run(DemoApplication.class, args);\n    }\n}\n",
        )
        .lines("src/main/java/com/example/demo/OrderController.java", 80)
        .file(
            "src/test/java/com/example/demo/DemoApplicationTests.java",
            "class DemoApplicationTests {\n    @Test\n    void contextLoads() {}\n    public static void main(String[] a) {}\n}\n",
        )
        .file("src/main/resources/application.properties", "server.port=8080\n")
        .scan();

    assert_eq!(names(&k), vec![("maven", ".")]);
    let c = &k.commands;
    assert_eq!(c.build.as_deref(), Some("./mvnw -B -q package -DskipTests"));
    assert_eq!(c.test.as_deref(), Some("./mvnw -B -q test"));
    assert_eq!(c.sources.test.as_deref(), Some("pom.xml + mvnw"));
    assert_eq!(c.run.as_deref(), Some("./mvnw spring-boot:run"));
    assert_eq!(c.install, None);
    assert_eq!(k.frameworks, vec!["spring-boot"]);
    assert_eq!(
        k.entry_points,
        vec!["src/main/java/com/example/demo/DemoApplication.java"],
        "a main in test sources is not an entry point"
    );
    assert_eq!(
        k.conventions.test_layout.as_deref(),
        Some("tests/ directory")
    );
    assert_eq!(k.conventions.test_patterns[0].pattern, "*Tests.java");
    let role = |p: &str| {
        k.directories
            .iter()
            .find(|d| d.path == p)
            .and_then(|d| d.role.clone())
    };
    assert_eq!(role("src").as_deref(), Some("source"));
    assert_eq!(role("src/test").as_deref(), Some("tests"));
}

#[test]
fn maven_without_wrapper_uses_mvn() {
    let k = Fixture::new()
        .file("pom.xml", "<project><artifactId>lib</artifactId><dependencies><dependency><artifactId>junit-jupiter</artifactId></dependency></dependencies></project>")
        .lines("src/main/java/Lib.java", 10)
        .scan();
    assert_eq!(k.commands.test.as_deref(), Some("mvn -B -q test"));
    assert_eq!(k.commands.run, None);
    assert_eq!(k.frameworks, vec!["junit"]);
}

#[test]
fn gradle_multi_project_with_wrapper() {
    let k = Fixture::new()
        .file("settings.gradle.kts", "rootProject.name = \"shop\"\ninclude(\"app\", \"lib\")\n")
        .file("gradlew", "#!/bin/sh\n")
        .file(
            "app/build.gradle.kts",
            "plugins {\n    id(\"org.springframework.boot\") version \"3.3.0\"\n    kotlin(\"jvm\")\n}\ndependencies {\n    testImplementation(\"org.junit.jupiter:junit-jupiter\")\n}\n",
        )
        .file("lib/build.gradle.kts", "plugins { `java-library` }\n")
        .lines("app/src/main/kotlin/App.kt", 30)
        .scan();
    assert_eq!(k.build_systems.len(), 1, "{:?}", k.build_systems);
    assert_eq!(k.build_systems[0].manifest, "settings.gradle.kts");
    assert!(k.build_systems[0].workspace);
    assert_eq!(k.commands.test.as_deref(), Some("./gradlew test"));
    assert_eq!(k.commands.build.as_deref(), Some("./gradlew assemble"));
    assert_eq!(k.commands.run.as_deref(), Some("./gradlew bootRun"));
    assert!(has_framework(&k, "spring-boot") && has_framework(&k, "junit"));
}

fn fastapi_app(pyproject: &str, lock: (&str, &str)) -> Fixture {
    Fixture::new()
        .file("pyproject.toml", pyproject)
        .file(lock.0, lock.1)
        .file("app/__init__.py", "")
        .file(
            "app/main.py",
            "from fastapi import FastAPI\n\nfrom app.routes import router\n\napp = FastAPI(title=\"Orders\")\napp.include_router(router)\n",
        )
        .lines("app/routes.py", 60)
        .file("tests/__init__.py", "")
        .file("tests/test_main.py", "def test_health(client):\n    assert client.get('/health').status_code == 200\n")
        .file("tests/conftest.py", "import pytest\n")
}

#[test]
fn python_fastapi_with_poetry() {
    let k = fastapi_app(
        "[tool.poetry]\nname = \"orders\"\nversion = \"0.1.0\"\n\n[tool.poetry.dependencies]\n\
         python = \"^3.12\"\nfastapi = \"^0.111\"\nuvicorn = \"^0.30\"\n\n\
         [tool.poetry.group.dev.dependencies]\npytest = \"^8.2\"\nruff = \"^0.4\"\n\n\
         [tool.ruff]\nline-length = 100\n\n[tool.black]\nline-length = 100\n\n\
         [build-system]\nrequires = [\"poetry-core\"]\nbuild-backend = \"poetry.core.masonry.api\"\n",
        ("poetry.lock", "# generated\n"),
    )
    .scan();
    assert_eq!(names(&k), vec![("poetry", ".")]);
    let c = &k.commands;
    assert_eq!(c.install.as_deref(), Some("poetry install"));
    assert_eq!(c.test.as_deref(), Some("poetry run pytest"));
    assert_eq!(
        c.sources.test.as_deref(),
        Some("pyproject.toml (pytest dependency)")
    );
    assert_eq!(c.lint.as_deref(), Some("poetry run ruff check ."));
    assert_eq!(c.run.as_deref(), Some("poetry run uvicorn app.main:app"));
    assert_eq!(k.frameworks, vec!["fastapi", "pytest"]);
    assert_eq!(k.entry_points, vec!["app/main.py"]);
    let tools = tool_names(&k);
    assert!(
        tools.contains(&"black") && tools.contains(&"ruff"),
        "{tools:?}"
    );
    assert_eq!(
        k.conventions.test_layout.as_deref(),
        Some("tests/ directory")
    );
    assert_eq!(k.conventions.test_patterns[0].pattern, "test_*.py");
    assert_eq!(k.languages[0].name, "python");
}

#[test]
fn python_fastapi_with_uv() {
    let k = fastapi_app(
        "[project]\nname = \"orders\"\nversion = \"0.1.0\"\nrequires-python = \">=3.12\"\n\
         dependencies = [\"fastapi[standard]>=0.111\"]\n\n[dependency-groups]\ndev = [\"pytest>=8\"]\n",
        ("uv.lock", "version = 1\n"),
    )
    .scan();
    assert_eq!(names(&k), vec![("uv", ".")]);
    assert_eq!(k.commands.install.as_deref(), Some("uv sync"));
    assert_eq!(k.commands.test.as_deref(), Some("uv run pytest"));
    assert_eq!(
        k.commands.run.as_deref(),
        Some("uv run uvicorn app.main:app")
    );
    assert_eq!(k.commands.lint, None);
    assert!(has_framework(&k, "fastapi"));
}

#[test]
fn python_pip_with_tests_directory_but_no_pytest_dependency() {
    let k = Fixture::new()
        .file("requirements.txt", "Flask==3.0.3\ngunicorn\n")
        .file(
            "app.py",
            "from flask import Flask\n\napp = Flask(__name__)\n",
        )
        .file("tests/test_app.py", "def test_x():\n    assert True\n")
        .scan();
    assert_eq!(names(&k), vec![("pip", ".")]);
    assert_eq!(
        k.commands.install.as_deref(),
        Some("pip install -r requirements.txt")
    );
    assert_eq!(k.commands.test.as_deref(), Some("python -m pytest"));
    assert_eq!(k.commands.sources.test.as_deref(), Some("tests/test_*.py"));
    assert_eq!(k.commands.run.as_deref(), Some("flask --app app:app run"));
    assert_eq!(k.entry_points, vec!["app.py"]);
    assert!(has_framework(&k, "flask"));
}

#[test]
fn python_without_any_tests_has_no_test_command() {
    let k = Fixture::new()
        .file("requirements.txt", "requests\n")
        .lines("script.py", 30)
        .scan();
    assert_eq!(names(&k), vec![("pip", ".")]);
    assert_eq!(k.commands.test, None);
    assert_eq!(
        k.commands.install.as_deref(),
        Some("pip install -r requirements.txt")
    );
}

#[test]
fn go_module_with_cmd_and_tests() {
    let k = Fixture::new()
        .file(
            "go.mod",
            "module github.com/acme/orders\n\ngo 1.22\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.10.0\n\tgithub.com/stretchr/testify v1.9.0 // indirect\n)\n",
        )
        .file("go.sum", &"github.com/x v1 h1:abc=\n".repeat(200))
        .file("cmd/orders/main.go", "package main\n\nfunc main() {\n\tserve()\n}\n")
        .lines("internal/handler/handler.go", 150)
        .lines("internal/handler/handler_test.go", 70)
        .lines("internal/store/store_test.go", 30)
        .file(".golangci.yml", "linters:\n  enable: [govet]\n")
        .scan();
    assert_eq!(names(&k), vec![("go", ".")]);
    let c = &k.commands;
    assert_eq!(c.install.as_deref(), Some("go mod download"));
    assert_eq!(c.build.as_deref(), Some("go build ./..."));
    assert_eq!(c.test.as_deref(), Some("go test ./..."));
    assert_eq!(c.lint.as_deref(), Some("golangci-lint run"));
    assert_eq!(c.run.as_deref(), Some("go run ./cmd/orders"));
    assert_eq!(k.entry_points, vec!["cmd/orders/main.go"]);
    assert_eq!(k.frameworks, vec!["gin", "testify"]);
    assert_eq!(
        k.conventions.test_layout.as_deref(),
        Some("tests beside code")
    );
    assert_eq!(k.conventions.test_patterns[0].pattern, "*_test.go");
    assert_eq!(k.conventions.test_patterns[0].files, 2);
    assert!(tool_names(&k).contains(&"golangci-lint"));
    assert_eq!(
        k.languages.len(),
        1,
        "go.sum is a lock file: {:?}",
        k.languages
    );
}

#[test]
fn laravel_with_phpunit() {
    let k = Fixture::new()
        .file(
            "composer.json",
            r#"{
    "name": "laravel/laravel",
    "require": { "php": "^8.2", "laravel/framework": "^11.0" },
    "require-dev": { "phpunit/phpunit": "^11.0", "laravel/pint": "^1.13" },
    "scripts": { "post-autoload-dump": ["@php artisan package:discover"] }
}"#,
        )
        .file("composer.lock", "{}\n")
        .file("artisan", "#!/usr/bin/env php\n<?php\n")
        .file(
            "public/index.php",
            "<?php\nrequire __DIR__.'/../vendor/autoload.php';\n",
        )
        .lines("app/Http/Controllers/OrderController.php", 90)
        .lines("tests/Feature/OrderTest.php", 40)
        .file("phpunit.xml", "<phpunit/>\n")
        .lines(
            "vendor/laravel/framework/src/Foundation/Application.php",
            3000,
        )
        .scan();
    assert_eq!(names(&k), vec![("composer", ".")]);
    let c = &k.commands;
    assert_eq!(c.install.as_deref(), Some("composer install"));
    assert_eq!(c.test.as_deref(), Some("vendor/bin/phpunit"));
    assert_eq!(
        c.sources.test.as_deref(),
        Some("composer.json phpunit/phpunit")
    );
    assert_eq!(c.lint.as_deref(), Some("vendor/bin/pint --test"));
    assert_eq!(c.run.as_deref(), Some("php artisan serve"));
    assert_eq!(k.frameworks, vec!["laravel", "phpunit"]);
    assert_eq!(k.entry_points, vec!["artisan", "public/index.php"]);
    let php = k.languages.iter().find(|l| l.name == "php").expect("php");
    assert_eq!(php.files, 3, "vendor/ is not counted");
    assert_eq!(k.conventions.test_patterns[0].pattern, "*Test.php");
    let vendor = k
        .directories
        .iter()
        .find(|d| d.path == "vendor")
        .expect("vendor listed");
    assert_eq!(vendor.role.as_deref(), Some("vendored"));
}

fn polyglot() -> Fixture {
    Fixture::new()
        .file(
            "backend/Cargo.toml",
            "[package]\nname = \"backend\"\nversion = \"0.1.0\"\n[dependencies]\naxum = \"0.8\"\n",
        )
        .lines("backend/src/main.rs", 900)
        .file(
            "frontend/package.json",
            r#"{"scripts":{"test":"vitest run","build":"vite build"},"dependencies":{"react":"18"},"devDependencies":{"vite":"5","vitest":"1"}}"#,
        )
        .file("frontend/pnpm-lock.yaml", "lockfileVersion: '9.0'\n")
        .lines("frontend/src/App.tsx", 300)
        .file("ml/requirements.txt", "numpy\npytest\n")
        .lines("ml/train.py", 100)
        .lines("scripts/deploy.sh", 20)
        .lines("docs/architecture.md", 50)
}

#[test]
fn polyglot_monorepo_picks_the_largest_subproject() {
    let k = polyglot().scan();
    let systems = names(&k);
    assert_eq!(systems[0], ("cargo", "backend"), "{systems:?}");
    assert!(systems.contains(&("pnpm", "frontend")));
    assert!(systems.contains(&("pip", "ml")));
    assert_eq!(k.commands.test.as_deref(), Some("cd backend && cargo test"));
    assert_eq!(k.commands.run.as_deref(), Some("cd backend && cargo run"));
    for fw in ["axum", "react", "vite", "vitest", "pytest"] {
        assert!(has_framework(&k, fw), "{fw} in {:?}", k.frameworks);
    }
    let langs: Vec<&str> = k.languages.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(&langs[..3], &["rust", "typescript", "python"]);
    assert!(
        k.summary.starts_with("A Rust (66%), TypeScript (22%) and Python (7%) repository built with Cargo, pnpm and pip"),
        "{}",
        k.summary
    );
    let role = |p: &str| {
        k.directories
            .iter()
            .find(|d| d.path == p)
            .and_then(|d| d.role.clone())
    };
    assert_eq!(role("docs").as_deref(), Some("docs"));
    assert_eq!(role("scripts").as_deref(), Some("scripts"));
    assert_eq!(k.directories[0].path, "backend", "largest first");
}

#[test]
fn polyglot_monorepo_with_root_makefile_uses_make() {
    let k = polyglot()
        .file(
            "Makefile",
            ".PHONY: test build\n\nbuild:\n\tcd backend && cargo build\n\ntest:\n\tcd backend && cargo test\n\tcd frontend && pnpm test\n",
        )
        .scan();
    assert_eq!(names(&k)[0], ("make", "."));
    assert_eq!(k.commands.test.as_deref(), Some("make test"));
    assert_eq!(
        k.commands.sources.test.as_deref(),
        Some("Makefile target test")
    );
    assert_eq!(k.commands.build.as_deref(), Some("make build"));
    assert_eq!(k.commands.install, None);
}

#[test]
fn makefile_fills_gaps_of_the_primary_build_system() {
    let k = Fixture::new()
        .file("requirements.txt", "requests\n")
        .lines("tool.py", 40)
        .file(
            "Makefile",
            "test:\n\t./run-tests.sh\nlint:\n\tshellcheck *.sh\n",
        )
        .scan();
    assert_eq!(names(&k), vec![("pip", "."), ("make", ".")]);
    assert_eq!(
        k.commands.install.as_deref(),
        Some("pip install -r requirements.txt")
    );
    assert_eq!(k.commands.test.as_deref(), Some("make test"));
    assert_eq!(k.commands.lint.as_deref(), Some("make lint"));
}

#[test]
fn unknown_stack_invents_no_commands() {
    let k = Fixture::new()
        .lines("README.md", 40)
        .file("notes.txt", "todo\n")
        .file("data/records.csv", "a,b\n1,2\n")
        .skipped("images/logo.png", "binary")
        .scan();
    assert!(k.build_systems.is_empty());
    assert_eq!(k.commands, kiln_knowledge::Commands::default());
    assert!(k.frameworks.is_empty());
    assert!(k.entry_points.is_empty());
    assert_eq!(k.files, 4);
    assert!(
        k.summary.contains("no recognised build system"),
        "{}",
        k.summary
    );
    assert!(
        k.summary.contains("No test command detected"),
        "{}",
        k.summary
    );
}

#[test]
fn static_site_entry_is_index_html() {
    let k = Fixture::new()
        .file("index.html", "<!doctype html>\n<html></html>\n")
        .lines("css/site.css", 50)
        .lines("js/site.js", 20)
        .scan();
    assert!(k.build_systems.is_empty());
    assert_eq!(k.entry_points, vec!["index.html"]);
    assert_eq!(k.commands.test, None);
    assert!(
        k.summary
            .starts_with("A CSS (69%), JavaScript (28%) and HTML (3%) repository"),
        "{}",
        k.summary
    );
}

#[test]
fn rails_and_dotnet_are_recognised() {
    let rails = Fixture::new()
        .file("Gemfile", "source 'https://rubygems.org'\ngem 'rails', '~> 7.1'\ngroup :test do\n  gem 'rspec-rails'\nend\n")
        .file("Gemfile.lock", "GEM\n")
        .file("config.ru", "run Rails.application\n")
        .lines("app/models/order.rb", 40)
        .lines("spec/models/order_spec.rb", 20)
        .scan();
    assert_eq!(names(&rails), vec![("bundler", ".")]);
    assert_eq!(rails.commands.test.as_deref(), Some("bundle exec rspec"));
    assert_eq!(rails.commands.run.as_deref(), Some("bin/rails server"));
    assert!(has_framework(&rails, "rails") && has_framework(&rails, "rspec"));

    let dotnet = Fixture::new()
        .file("Shop.sln", "Microsoft Visual Studio Solution File\n")
        .file("src/Shop.Api/Shop.Api.csproj", "<Project Sdk=\"Microsoft.NET.Sdk.Web\"></Project>\n")
        .file("src/Shop.Api/Program.cs", "var app = WebApplication.Create(args);\napp.Run();\n")
        .file(
            "tests/Shop.Tests/Shop.Tests.csproj",
            "<Project Sdk=\"Microsoft.NET.Sdk\"><ItemGroup><PackageReference Include=\"Microsoft.NET.Test.Sdk\" /><PackageReference Include=\"xunit\" /></ItemGroup></Project>\n",
        )
        .lines("tests/Shop.Tests/OrderTests.cs", 30)
        .scan();
    assert_eq!(names(&dotnet), vec![("dotnet", ".")]);
    assert_eq!(
        dotnet.commands.build.as_deref(),
        Some("dotnet build Shop.sln")
    );
    assert_eq!(
        dotnet.commands.test.as_deref(),
        Some("dotnet test Shop.sln")
    );
    assert_eq!(dotnet.entry_points, vec!["src/Shop.Api/Program.cs"]);
    assert!(has_framework(&dotnet, "aspnetcore") && has_framework(&dotnet, "xunit"));
}

#[test]
fn go_workspace_names_each_module() {
    let k = Fixture::new()
        .file("go.work", "go 1.22\n\nuse (\n\t./api\n\t./lib\n)\n")
        .file("api/go.mod", "module example.com/api\n\ngo 1.22\n")
        .file("api/main.go", "package main\n\nfunc main() {}\n")
        .file("lib/go.mod", "module example.com/lib\n\ngo 1.22\n")
        .lines("lib/lib.go", 20)
        .scan();
    assert_eq!(k.build_systems.len(), 1, "{:?}", k.build_systems);
    assert!(k.build_systems[0].workspace);
    assert_eq!(
        k.commands.build.as_deref(),
        Some("go build ./api/... ./lib/...")
    );
    assert_eq!(
        k.commands.test.as_deref(),
        Some("go test ./api/... ./lib/...")
    );
    assert_eq!(k.entry_points, vec!["api/main.go"]);
}
