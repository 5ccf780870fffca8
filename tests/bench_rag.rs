//! `kiln bench rag` end to end on a tiny repository the test makes, so the command path
//! (definition, mirrors, cold and incremental indexing, search, report) runs without the
//! internet. BM25 only: the figures of interest come from real repositories, not from here.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{git, write};

use serde_json::Value;

/// A three-language shop with two commits; returns both commit ids.
fn make_repo(dir: &Path) -> (String, String) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"]);
    write(
        dir,
        "src/cart.rs",
        "/// A customer's cart.\npub struct Cart {\n    items: Vec<(String, u32, u64)>,\n}\n\nimpl Cart {\n    /// The total price of every item in cents.\n    pub fn total_cents(&self) -> u64 {\n        self.items.iter().map(|(_, q, p)| *q as u64 * p).sum()\n    }\n}\n",
    );
    write(
        dir,
        "billing/tax.py",
        "def vat_amount(net_cents, rate):\n    \"\"\"Value added tax on a net amount, rounded half up.\"\"\"\n    return int(net_cents * rate + 0.5)\n",
    );
    write(
        dir,
        "shipping/parcel.go",
        "package shipping\n\n// ParcelWeight sums the grams of every parcel in a delivery.\nfunc ParcelWeight(grams []int) int {\n\ttotal := 0\n\tfor _, g := range grams {\n\t\ttotal += g\n\t}\n\treturn total\n}\n",
    );
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "shop"]);
    let first = git(dir, &["rev-parse", "HEAD"]);
    write(
        dir,
        "billing/tax.py",
        "def vat_amount(net_cents, rate):\n    \"\"\"Value added tax on a net amount, rounded half to even.\"\"\"\n    return round(net_cents * rate)\n",
    );
    write(
        dir,
        "billing/invoice.py",
        "def invoice_number(year, seq):\n    return f\"{year}-{seq:05d}\"\n",
    );
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "rounding"]);
    let second = git(dir, &["rev-parse", "HEAD"]);
    (first, second)
}

fn bench(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["bench", "rag"])
        .args(args)
        .current_dir(cwd)
        .env("KILN_RAG__DENSE", "false")
        .env("KILN_RUNTIME__LOG_FILTER", "warn")
        .output()
        .expect("run kiln bench rag")
}

#[test]
fn the_benchmark_runs_on_local_mirrors() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, second) = make_repo(&tmp.path().join("mirrors/acme+shop"));
    write(
        tmp.path(),
        "rag.toml",
        &format!(
            r#"
[[repo]]
name = "acme/shop"
url = "https://example.invalid/acme/shop.git"
branch = "main"

[[case]]
id = "shop-vat"
repo = "acme/shop"
commit = "{second}"
query = """
Fix vat_amount rounding

Value added tax must round half to even."""
expected = ["billing/tax.py"]

[[case]]
id = "shop-parcel"
repo = "acme/shop"
commit = "{first}"
query = "fix: ParcelWeight ignores the grams of the last parcel in a delivery"
expected = ["shipping/parcel.go", "shipping/missing.go"]
"#
        ),
    );
    let out = bench(
        &["--cases", "rag.toml", "--mirrors", "mirrors", "--json"],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kiln bench rag failed: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));

    assert!(
        report["dense"]["Err"]
            .as_str()
            .is_some_and(|w| w.contains("dense = false")),
        "dense is reported unavailable with its reason: {}",
        report["dense"]
    );
    assert_eq!(report["cases"].as_array().map(Vec::len), Some(2));
    let bm25 = &report["quality"]["bm25"];
    assert_eq!(
        bm25["acc1"], 1.0,
        "both queries name their file's words: {report:#}"
    );
    assert_eq!(bm25["mrr"], 1.0, "{report:#}");
    assert!(
        report["quality"]["hybrid"].is_null(),
        "no hybrid without the model"
    );

    let repo = &report["repos"][0];
    // Cases run oldest commit first: the parcel case's commit is indexed cold.
    assert_eq!(repo["cold_files"], 3, "{repo:#}");
    assert!(repo["cold_lines"].as_u64().unwrap() > 20, "{repo:#}");
    let steps = repo["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{repo:#}");
    assert_eq!(steps[0]["commit"], second.as_str());
    assert_eq!(
        steps[0]["files"], 2,
        "only the changed and the new file: {repo:#}"
    );
    assert!(repo["size_bytes"].as_u64().unwrap() > 0, "{repo:#}");
    assert_eq!(repo["unreachable"], serde_json::json!([]));
    assert_eq!(report["latency"]["bm25"]["queries"], 2);
}

#[test]
fn a_repository_with_neither_mirror_nor_clone_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("mirrors")).unwrap();
    write(
        tmp.path(),
        "rag.toml",
        r#"
[[repo]]
name = "acme/absent"
url = "file:///nonexistent/acme/absent.git"
branch = "main"

[[case]]
id = "absent-1"
repo = "acme/absent"
commit = "0123456789abcdef0123456789abcdef01234567"
query = "Fix something"
expected = ["src/lib.rs"]
"#,
    );
    let out = bench(
        &[
            "--cases",
            "rag.toml",
            "--mirrors",
            "mirrors",
            "--cache",
            "cache",
        ],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "it must fail: {stderr}");
    assert!(
        stderr.contains("repository acme/absent: no mirror under mirrors, and cloning"),
        "{stderr}"
    );
}
