//! The same retrieval scenario on both backends: Qdrant Edge in-process and a Qdrant server
//! over gRPC (the testkit's stand-in, which speaks Qdrant's wire protocol). Everything but
//! the server is real: chunking, sparse vectors, `Rag::plan`/`apply`/`search`, `ServerStore`
//! and the qdrant client. Both must rank alike and hold the same points.
//!
//! The dense half runs when `KILN_RAG__MODEL_DIR` and `KILN_RAG__ORT_LIBRARY` name the
//! installed model, and says so when it is skipped.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use kiln_contracts::rag::{Mode, RagQuery};
use kiln_rag::store::{FileState, Point, VectorQuery, point_id};
use kiln_rag::{Config, Dense, EdgeStore, Rag, ServerStore, SourceFile, Store, VectorStore};
use kiln_runtime::Secret;
use kiln_testkit::qdrant::QdrantStandIn;

const COLLECTION: &str = "test__shop";

fn file(path: &str, text: &str) -> SourceFile {
    // Any content hash will do: the store treats the blob id as opaque.
    let blob = format!("{:016x}", kiln_rag::sparse::term_index(text));
    SourceFile {
        path: path.into(),
        blob,
        text: text.into(),
    }
}

/// A small repository at two commits: the second changes the cart and deletes checkout.ts.
fn commit(second: bool) -> Vec<SourceFile> {
    let cart = "//! The shopping cart.\n\n/// A customer's cart.\npub struct Cart {\n    items: Vec<(String, u32, u64)>,\n}\n\nimpl Cart {\n    /// Adds `qty` of an item at `price_cents` each.\n    pub fn add_item(&mut self, sku: &str, qty: u32, price_cents: u64) {\n        self.items.push((sku.to_owned(), qty, price_cents));\n    }\n\n    /// The cart's total price in cents.\n    pub fn total_cents(&self) -> u64 {\n        self.items.iter().map(|(_, q, p)| *q as u64 * p).sum()\n    }\n}\n";
    let mut files = vec![
        file(
            "src/cart.rs",
            &if second {
                cart.replace("total_cents", "grand_total_with_tax")
            } else {
                cart.to_owned()
            },
        ),
        file(
            "api/orders.py",
            "class OrderService:\n    \"\"\"Places and cancels orders.\"\"\"\n\n    def place_order(self, cart, customer):\n        if not cart:\n            raise ValueError(\"empty cart\")\n        return {\"customer\": customer, \"lines\": list(cart)}\n\n    def cancel_order(self, order_id):\n        return {\"cancelled\": order_id}\n",
        ),
        file(
            "pkg/money/money.go",
            "package money\n\n// Money is an amount in cents.\ntype Money int64\n\n// Format renders the amount as dollars.\nfunc (m Money) Format() string {\n\treturn fmt.Sprintf(\"$%d.%02d\", m/100, m%100)\n}\n",
        ),
        file(
            "src/main/java/shop/Invoice.java",
            "package shop;\n\npublic class Invoice {\n    private final long totalCents;\n\n    public Invoice(long totalCents) { this.totalCents = totalCents; }\n\n    public String renderPdfHeader() {\n        return \"INVOICE \" + totalCents;\n    }\n}\n",
        ),
        file(
            "public/index.php",
            "<?php\nclass ShippingRates {\n    public function rateFor(string $country): int {\n        return $country === 'US' ? 500 : 1500;\n    }\n}\n",
        ),
        file(
            "README.md",
            "# Shop\n\nA small shop: cart, orders, invoices, shipping rates and discount codes.\n",
        ),
    ];
    if !second {
        files.push(file(
            "web/checkout.ts",
            "export interface Discount { code: string; percent: number }\n\nexport function applyDiscountCode(totalCents: number, d: Discount): number {\n  return Math.round(totalCents * (100 - d.percent) / 100);\n}\n",
        ));
    }
    files
}

const QUESTIONS: [&str; 6] = [
    "add an item to the cart",
    "cart total_cents",
    "applyDiscountCode percent",
    "cancel an order",
    "render the invoice pdf header",
    "shipping rate for a country",
];

fn question(query: &str, mode: Mode) -> RagQuery {
    RagQuery {
        project: "shop".into(),
        commit: None,
        query: query.into(),
        k: 10,
        budget_tokens: 4000,
        paths: vec![],
        mode: Some(mode),
    }
}

/// Brings the collection to a commit the way the indexer does.
async fn sync(rag: &Rag<Store>, files: Vec<SourceFile>) -> kiln_rag::Plan {
    sync_applied(rag, files).await.0
}

async fn sync_applied(
    rag: &Rag<Store>,
    files: Vec<SourceFile>,
) -> (kiln_rag::Plan, kiln_rag::index::Applied) {
    let manifest: BTreeMap<String, String> = files
        .iter()
        .map(|f| (f.path.clone(), f.blob.clone()))
        .collect();
    let plan = rag.plan(COLLECTION, &manifest).await.expect("plan");
    let write: Vec<SourceFile> = files
        .into_iter()
        .filter(|f| plan.write.iter().any(|(p, _)| p == &f.path))
        .collect();
    let applied = rag
        .apply(COLLECTION, write, plan.delete.clone())
        .await
        .expect("apply");
    (plan, applied)
}

/// Every point, as the store reports them.
async fn points(store: &Store) -> usize {
    let inv = store.inventory(COLLECTION).await.expect("inventory");
    inv.values().map(|f| f.present as usize).sum()
}

/// What one backend answered, to compare with the other.
#[derive(Debug, PartialEq)]
struct Transcript {
    /// Per question, the files `search` ranked, best first.
    ranked: Vec<Vec<String>>,
    /// Per question, every matching chunk (path, chunk number, score to 4 decimals) in
    /// score order (equal scores by path and chunk).
    hits: Vec<Vec<(String, u32, i64)>>,
    inventory: BTreeMap<String, FileState>,
    points: usize,
}

async fn transcript(rag: &Rag<Store>, mode: Mode) -> Transcript {
    let mut ranked = Vec::new();
    let mut hits = Vec::new();
    for q in QUESTIONS {
        let found = rag
            .search(COLLECTION, &question(q, mode))
            .await
            .unwrap_or_else(|e| panic!("search {q:?}: {e}"));
        assert_eq!(found.mode, mode, "{q:?}");
        ranked.push(found.files.into_iter().map(|f| f.path).collect());
        let dense = match (mode, rag.dense().embedder()) {
            (Mode::Sparse, _) | (_, None) => None,
            (_, Some(m)) => m.embed(&[q.to_owned()]).expect("embed").into_iter().next(),
        };
        let mut h: Vec<(String, u32, i64)> = rag
            .store()
            .query(
                COLLECTION,
                VectorQuery {
                    mode,
                    dense,
                    sparse: kiln_rag::sparse::query(q),
                    prefetch: 100,
                    // More than there are chunks: no cut-off where equal scores could differ.
                    limit: 1000,
                    paths: None,
                },
            )
            .await
            .expect("query")
            .into_iter()
            .map(|h| {
                (
                    h.payload.path,
                    h.payload.chunk,
                    (h.score * 10_000.0).round() as i64,
                )
            })
            .collect();
        h.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, a.1).cmp(&(&b.0, b.1))));
        hits.push(h);
    }
    let inventory = rag
        .store()
        .inventory(COLLECTION)
        .await
        .expect("inventory")
        .into_iter()
        .collect();
    Transcript {
        ranked,
        hits,
        inventory,
        points: points(rag.store()).await,
    }
}

struct Backends {
    edge: Rag<Store>,
    server: Rag<Store>,
    qdrant: QdrantStandIn,
    _dir: tempfile::TempDir,
}

async fn backends(dense: Dense) -> Backends {
    let dir = tempfile::tempdir().unwrap();
    let qdrant = QdrantStandIn::start(None).await;
    Backends {
        edge: Rag::new(Store::Edge(EdgeStore::new(dir.path())), dense.clone()),
        server: Rag::new(
            Store::Server(ServerStore::new(
                qdrant.url(),
                None,
                Duration::from_secs(30),
            )),
            dense,
        ),
        qdrant,
        _dir: dir,
    }
}

/// The scenario on one backend; returns what it saw after each commit.
async fn scenario(rag: &Rag<Store>, mode: Mode) -> (Transcript, Transcript) {
    let first = sync(rag, commit(false)).await;
    assert_eq!((first.write.len(), first.delete.len()), (7, 0));
    let at_first = transcript(rag, mode).await;
    assert_eq!(at_first.inventory.len(), 7);
    assert!(at_first.inventory.values().all(FileState::complete));

    // The same commit again: nothing to write, and no point more.
    let again = sync(rag, commit(false)).await;
    assert_eq!((again.write.len(), again.unchanged), (0, 7), "{again:?}");
    assert_eq!(points(rag.store()).await, at_first.points);

    // A file's points written again as they are (an apply repeated after a crash) replace
    // themselves: ids are deterministic.
    let chunks = rag
        .store()
        .file_chunks(COLLECTION, "src/cart.rs", 100)
        .await
        .expect("file chunks");
    assert!(chunks.len() >= 2, "{chunks:?}");
    assert!(
        chunks
            .windows(2)
            .all(|w| w[0].start_line <= w[1].start_line)
    );
    let same: Vec<Point> = chunks
        .into_iter()
        .map(|p| Point {
            id: point_id(&p.path, &p.blob, p.chunk),
            dense: rag.dense().embedder().map(|m| {
                let text = kiln_rag::index::embedding_text(&p);
                m.embed(&[text]).expect("embed").remove(0)
            }),
            sparse: kiln_rag::sparse::document(&p.path, &p.symbols, &p.text),
            payload: p,
        })
        .collect();
    rag.store().upsert(COLLECTION, same).await.expect("upsert");
    assert_eq!(points(rag.store()).await, at_first.points, "no duplicates");
    assert_eq!(
        transcript(rag, mode).await,
        at_first,
        "nothing else changed"
    );

    // The second commit: cart.rs rewritten, checkout.ts deleted with all its points. Only
    // the chunk whose text changed is embedded again; the others keep their vectors.
    let (second, applied) = sync_applied(rag, commit(true)).await;
    if rag.dense().embedder().is_some() {
        assert!(
            applied.reused >= 1 && applied.embedded >= 1,
            "unchanged chunks of cart.rs are reused, the changed one embedded: {applied:?}"
        );
        assert_eq!(
            applied.reused + applied.embedded,
            applied.chunks,
            "{applied:?}"
        );
    } else {
        assert_eq!((applied.reused, applied.embedded), (0, 0), "{applied:?}");
    }
    assert_eq!(
        second.write,
        vec![("src/cart.rs".to_owned(), commit(true)[0].blob.clone())]
    );
    assert_eq!(second.delete, vec!["web/checkout.ts".to_owned()]);
    let at_second = transcript(rag, mode).await;
    assert!(!at_second.inventory.contains_key("web/checkout.ts"));
    assert!(
        at_second
            .hits
            .iter()
            .flatten()
            .all(|(p, _, _)| p != "web/checkout.ts"),
        "a deleted file's chunks are still found"
    );
    assert!(
        rag.store()
            .file_chunks(COLLECTION, "web/checkout.ts", 10)
            .await
            .expect("file chunks")
            .is_empty()
    );
    assert_eq!(
        at_second.points,
        at_second
            .inventory
            .values()
            .map(|f| f.chunks as usize)
            .sum::<usize>()
    );
    (at_first, at_second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_rank_alike_and_hold_the_same_points_sparse_only() {
    let b = backends(Dense::Missing("not used by this test".into())).await;
    let edge = scenario(&b.edge, Mode::Sparse).await;
    let server = scenario(&b.server, Mode::Sparse).await;
    assert_eq!(edge.0, server.0, "first commit");
    assert_eq!(edge.1, server.1, "second commit");
    // The scenario means something: questions find their files.
    assert_eq!(edge.0.ranked[0][0], "src/cart.rs", "{:?}", edge.0.ranked);
    assert_eq!(
        edge.0.ranked[2][0], "web/checkout.ts",
        "{:?}",
        edge.0.ranked
    );
    assert_eq!(edge.0.ranked[1][0], "src/cart.rs", "{:?}", edge.0.ranked);

    // The server path really went over the wire, and the server counts what we counted.
    let calls = b.qdrant.calls();
    for rpc in [
        "collections.create",
        "points.upsert",
        "points.delete",
        "points.query",
        "points.scroll",
    ] {
        assert!(calls.contains(&rpc), "{rpc} was never called: {calls:?}");
    }
    assert_eq!(
        calls.iter().filter(|c| **c == "collections.create").count(),
        1,
        "the collection is created once"
    );
    let client = qdrant_client::Qdrant::from_url(b.qdrant.url())
        .skip_compatibility_check()
        .build()
        .unwrap();
    let counted = client
        .count(qdrant_client::qdrant::CountPointsBuilder::new(COLLECTION).exact(true))
        .await
        .expect("count")
        .result
        .expect("a count")
        .count;
    assert_eq!(counted as usize, server.1.points);
    assert!(b.edge.store().size_on_disk(COLLECTION).await.is_some());
    assert_eq!(b.server.store().size_on_disk(COLLECTION).await, None);
}

/// The installed model, when the environment names it.
fn model() -> Option<Config> {
    let var = |k: &str| std::env::var_os(k).map(PathBuf::from);
    let config = Config {
        model_dir: Some(var("KILN_RAG__MODEL_DIR")?),
        ort_library: Some(var("KILN_RAG__ORT_LIBRARY")?),
        threads: 1,
        ..Config::default()
    };
    Some(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_rank_alike_with_dense_vectors() {
    let Some(config) = model() else {
        eprintln!(
            "skipped: KILN_RAG__MODEL_DIR and KILN_RAG__ORT_LIBRARY are not set, so the dense \
             half of the comparison did not run (infra/scripts/setup.sh installs the model)"
        );
        return;
    };
    let dense = config.dense();
    if let Some(why) = dense.warning() {
        panic!("the environment names a model that does not load: {why}");
    }
    let b = backends(dense).await;
    let edge = scenario(&b.edge, Mode::Hybrid).await;
    let server = scenario(&b.server, Mode::Hybrid).await;
    assert_eq!(edge.0, server.0, "first commit");
    assert_eq!(edge.1, server.1, "second commit");
    assert!(edge.0.inventory.values().all(|f| f.dense));
    assert_eq!(edge.0.ranked[0][0], "src/cart.rs", "{:?}", edge.0.ranked);

    // Reused vectors are exactly what embedding again would give: the second commit indexed
    // from nothing ranks and scores the same.
    let dir = tempfile::tempdir().unwrap();
    let fresh = Rag::new(Store::Edge(EdgeStore::new(dir.path())), config.dense());
    sync(&fresh, commit(true)).await;
    assert_eq!(transcript(&fresh, Mode::Hybrid).await, edge.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_is_refused_with_a_clear_error_that_does_not_repeat_it() {
    let qdrant = QdrantStandIn::start(Some("right-key-4b1d")).await;
    let store = |key: Option<&str>| {
        ServerStore::new(
            qdrant.url(),
            key.map(Secret::new).as_ref(),
            Duration::from_secs(30),
        )
    };
    for key in [Some("wrong-key-9f3e"), None] {
        let e = store(key)
            .inventory(COLLECTION)
            .await
            .expect_err("refused without the right key")
            .to_string();
        assert!(e.contains(qdrant.url()), "names the server: {e}");
        assert!(e.contains(COLLECTION), "names the collection: {e}");
        assert!(e.contains("Unauthenticated"), "says why: {e}");
        assert!(
            !e.contains("wrong-key-9f3e") && !e.contains("right-key-4b1d"),
            "a key in the error: {e}"
        );
    }
    assert!(
        qdrant.calls().is_empty(),
        "nothing was served without the key"
    );
    // The right key is sent and accepted.
    let ok = store(Some("right-key-4b1d"));
    assert_eq!(
        ok.inventory(COLLECTION)
            .await
            .expect("inventory with the key"),
        HashMap::new()
    );
}

#[tokio::test]
async fn an_unreachable_server_names_itself_and_the_operation() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let store = ServerStore::new(&url, Some(&Secret::new("k-77c1")), Duration::from_secs(5));
    let e = store
        .delete_paths(COLLECTION, vec!["a.rs".into()])
        .await
        .expect_err("nothing listens")
        .to_string();
    assert!(e.contains(&url) && e.contains("checking collection"), "{e}");
    assert!(!e.contains("k-77c1"), "{e}");
}
