use super::*;

fn opts() -> ChunkOptions {
    ChunkOptions::default()
}

fn small(max_lines: usize) -> ChunkOptions {
    ChunkOptions {
        max_lines,
        ..ChunkOptions::default()
    }
}

/// (start, end, kind, symbols) of each chunk.
fn shape(chunks: &[Chunk]) -> Vec<(u32, u32, ChunkKind, Vec<&str>)> {
    chunks
        .iter()
        .map(|c| {
            (
                c.start_line,
                c.end_line,
                c.kind,
                c.symbols.iter().map(String::as_str).collect(),
            )
        })
        .collect()
}

/// The properties every chunking must have, checked against the original text.
#[track_caller]
fn check(text: &str, chunks: &[Chunk], o: &ChunkOptions) {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Lines with their breaks, to rebuild any span exactly.
    let raw: Vec<&str> = body.split_inclusive('\n').collect();
    let bare = |i: usize| {
        let l = raw[i].strip_suffix('\n').unwrap_or(raw[i]);
        l.strip_suffix('\r').unwrap_or(l)
    };
    let mut covered = vec![false; raw.len()];
    let mut prev_start = 0;
    for c in chunks {
        assert!(!c.text.trim().is_empty(), "blank chunk {c:?}");
        assert!(
            c.text.len() <= o.max_chunk_chars.max(4),
            "chunk too long: {}",
            c.text.len()
        );
        assert!(
            c.start_line >= 1 && c.start_line <= c.end_line,
            "bad range {c:?}"
        );
        assert!(c.end_line as usize <= raw.len(), "past the end {c:?}");
        assert!(c.start_line >= prev_start, "out of order at {c:?}");
        prev_start = c.start_line;
        let (a, b) = (c.start_line as usize - 1, c.end_line as usize - 1);
        let joined: String = raw[a..=b].concat();
        let expected = joined.strip_suffix('\n').unwrap_or(&joined);
        let expected = expected.strip_suffix('\r').unwrap_or(expected);
        if c.text != expected {
            // Only a single over-long line may be cut into pieces.
            assert_eq!(a, b, "text is not its lines: {c:?}");
            assert!(bare(a).len() > o.max_chunk_chars, "cut a short line: {c:?}");
            assert!(
                bare(a).contains(c.text.as_str()),
                "piece not from its line: {c:?}"
            );
        }
        for flag in &mut covered[a..=b] {
            *flag = true;
        }
    }
    for (i, line) in raw.iter().enumerate() {
        if !line.trim().is_empty() {
            assert!(covered[i], "line {} not covered: {line:?}", i + 1);
        }
    }
}

#[track_caller]
fn chunked(path: &str, text: &str, o: &ChunkOptions) -> Vec<Chunk> {
    let chunks = chunk(path, text, o);
    check(text, &chunks, o);
    chunks
}

const RUST: &str = r#"//! Shopping cart.

use std::collections::HashMap;

/// A line in the cart.
#[derive(Debug, Clone)]
pub struct Item {
    pub sku: String,
    pub qty: u32,
}

pub struct Cart {
    items: HashMap<String, Item>,
}

impl Cart {
    /// An empty cart.
    pub fn new() -> Self {
        Cart { items: HashMap::new() }
    }

    pub fn add_item(&mut self, item: Item) {
        let e = self.items.entry(item.sku.clone()).or_insert(item.clone());
        e.qty += 1;
    }
}

impl<'a> std::fmt::Display for &'a Cart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} items", self.items.len())
    }
}

const LIMIT: usize = 10;

fn main() {
    let mut c = Cart::new();
    c.add_item(Item { sku: "a".into(), qty: 1 });
    println!("{c}");
}
"#;

#[test]
fn rust_definitions_with_docs_and_attributes() {
    let chunks = chunked("src/cart.rs", RUST, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 3, ChunkKind::Window, vec![]),
            (5, 10, ChunkKind::Class, vec!["Item"]),
            (12, 14, ChunkKind::Class, vec!["Cart"]),
            (
                16,
                26,
                ChunkKind::Class,
                vec!["Cart", "Cart::new", "Cart::add_item"]
            ),
            (28, 32, ChunkKind::Class, vec!["Cart", "Cart::fmt"]),
            (34, 34, ChunkKind::Window, vec![]),
            (36, 40, ChunkKind::Function, vec!["main"]),
        ]
    );
    assert!(
        chunks[1]
            .text
            .starts_with("/// A line in the cart.\n#[derive")
    );
    assert!(
        chunks[4]
            .text
            .starts_with("impl<'a> std::fmt::Display for &'a Cart {")
    );
}

#[test]
fn rust_impl_over_max_lines_splits_into_header_and_methods() {
    let chunks = chunked("src/cart.rs", RUST, &small(10));
    assert_eq!(
        shape(&chunks)[3..6],
        [
            (16, 16, ChunkKind::Class, vec!["Cart"]),
            (17, 20, ChunkKind::Method, vec!["Cart", "Cart::new"]),
            // The impl's closing brace goes with its last method.
            (22, 26, ChunkKind::Method, vec!["Cart", "Cart::add_item"]),
        ]
    );
    assert_eq!(chunks[3].text, "impl Cart {");
    assert!(
        chunks[4]
            .text
            .starts_with("    /// An empty cart.\n    pub fn new()")
    );
    assert!(chunks[5].text.ends_with("e.qty += 1;\n    }\n}"));
}

#[test]
fn rust_modules_traits_and_macros() {
    let src = "\
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_works() {
        assert!(true);
    }
}

pub trait Shape {
    fn area(&self) -> f64;
    fn name(&self) -> &str { \"shape\" }
}

macro_rules! square {
    ($x:expr) => { $x * $x };
}
";
    let chunks = chunked("lib.rs", src, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 9, ChunkKind::Class, vec!["tests", "tests::it_works"]),
            (
                11,
                14,
                ChunkKind::Class,
                vec!["Shape", "Shape::area", "Shape::name"]
            ),
            (16, 18, ChunkKind::Function, vec!["square"]),
        ]
    );
    let split = chunked("lib.rs", src, &small(4));
    assert_eq!(
        shape(&split)[..2],
        [
            (1, 3, ChunkKind::Class, vec!["tests"]),
            // Functions in a module are functions, not methods.
            (5, 9, ChunkKind::Function, vec!["tests", "tests::it_works"]),
        ]
    );
}

const PYTHON: &str = r#"import functools
from dataclasses import dataclass

TAX = 0.2


@dataclass
class Cart:
    """A shopping cart."""

    items: list

    # Adds an item.
    @functools.cache
    def add_item(self, item):
        self.items.append(item)
        return self

    @property
    def total(self):
        return sum(i.price for i in self.items)


def checkout(cart):
    return cart.total * (1 + TAX)
"#;

#[test]
fn python_class_with_decorated_methods() {
    let chunks = chunked("shop/cart.py", PYTHON, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 4, ChunkKind::Window, vec![]),
            (
                7,
                21,
                ChunkKind::Class,
                vec!["Cart", "Cart.add_item", "Cart.total"]
            ),
            (24, 25, ChunkKind::Function, vec!["checkout"]),
        ]
    );
    let split = chunked("shop/cart.py", PYTHON, &small(10));
    assert_eq!(
        shape(&split)[1..4],
        [
            (7, 11, ChunkKind::Class, vec!["Cart"]),
            (13, 17, ChunkKind::Method, vec!["Cart", "Cart.add_item"]),
            (19, 21, ChunkKind::Method, vec!["Cart", "Cart.total"]),
        ]
    );
    assert!(split[1].text.starts_with("@dataclass\nclass Cart:"));
    assert!(
        split[2]
            .text
            .starts_with("    # Adds an item.\n    @functools.cache\n    def add_item")
    );
}

#[test]
fn python_nested_classes_are_qualified() {
    let src = "class Outer:\n    class Inner:\n        def m(self):\n            pass\n\n    async def run(self):\n        pass\n";
    let chunks = chunked("a.py", src, &opts());
    assert_eq!(
        shape(&chunks),
        [(
            1,
            7,
            ChunkKind::Class,
            vec!["Outer", "Outer.Inner", "Outer.Inner.m", "Outer.run"]
        )]
    );
    let split = chunked("a.py", src, &small(2));
    assert_eq!(
        shape(&split),
        [
            (1, 1, ChunkKind::Class, vec!["Outer"]),
            (2, 2, ChunkKind::Class, vec!["Outer", "Outer.Inner"]),
            (
                3,
                4,
                ChunkKind::Method,
                vec!["Outer", "Outer.Inner", "Outer.Inner.m"]
            ),
            (6, 7, ChunkKind::Method, vec!["Outer", "Outer.run"]),
        ]
    );
}

const JS: &str = r#"import { api } from './api';

/**
 * A cart.
 */
export class Cart {
  constructor() {
    this.items = [];
  }

  addItem(item) {
    this.items.push(item);
  }

  get total() {
    return this.items.reduce((s, i) => s + i.price, 0);
  }
}

export const formatPrice = (cents) => {
  return `$${(cents / 100).toFixed(2)}`;
};

const parse = function (s) { return JSON.parse(s); };

api.register(Cart);
"#;

#[test]
fn javascript_class_methods_and_arrow_functions() {
    let chunks = chunked("web/cart.js", JS, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 1, ChunkKind::Window, vec![]),
            (
                3,
                18,
                ChunkKind::Class,
                vec!["Cart", "Cart.constructor", "Cart.addItem", "Cart.total"]
            ),
            (20, 22, ChunkKind::Function, vec!["formatPrice"]),
            (24, 24, ChunkKind::Function, vec!["parse"]),
            (26, 26, ChunkKind::Window, vec![]),
        ]
    );
    let split = chunked("web/cart.js", JS, &small(8));
    assert_eq!(
        shape(&split)[1..5],
        [
            (3, 6, ChunkKind::Class, vec!["Cart"]),
            (7, 9, ChunkKind::Method, vec!["Cart", "Cart.constructor"]),
            (11, 13, ChunkKind::Method, vec!["Cart", "Cart.addItem"]),
            (15, 18, ChunkKind::Method, vec!["Cart", "Cart.total"]),
        ]
    );
}

#[test]
fn typescript_interface_class_and_namespace() {
    let src = r#"export interface Item {
  sku: string;
  price: number;
}

export class Cart implements Iterable<Item> {
  private items: Item[] = [];

  @log()
  add(item: Item): void {
    this.items.push(item);
  }

  onChange = (item: Item) => {
    console.log(item);
  };
}

export type Money = { cents: number };

namespace Pricing {
  export function tax(x: number): number {
    return x * 0.2;
  }
}
"#;
    let chunks = chunked("src/cart.ts", src, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 4, ChunkKind::Class, vec!["Item"]),
            (
                6,
                17,
                ChunkKind::Class,
                vec!["Cart", "Cart.add", "Cart.onChange"]
            ),
            (19, 19, ChunkKind::Class, vec!["Money"]),
            (21, 25, ChunkKind::Class, vec!["Pricing", "Pricing.tax"]),
        ]
    );
    let split = chunked("src/cart.ts", src, &small(5));
    assert_eq!(
        shape(&split)[1..4],
        [
            (6, 7, ChunkKind::Class, vec!["Cart"]),
            // The decorator goes with its method.
            (9, 12, ChunkKind::Method, vec!["Cart", "Cart.add"]),
            (14, 17, ChunkKind::Method, vec!["Cart", "Cart.onChange"]),
        ]
    );
}

#[test]
fn tsx_component_and_default_export() {
    let src = r#"import React from 'react';

type Props = { label: string; onClick: () => void };

export const Button: React.FC<Props> = ({ label, onClick }) => {
  return <button onClick={onClick}>{label}</button>;
};

export default function App() {
  return <Button label="Buy" onClick={() => {}} />;
}
"#;
    let chunks = chunked("web/Button.tsx", src, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 1, ChunkKind::Window, vec![]),
            (3, 3, ChunkKind::Class, vec!["Props"]),
            (5, 7, ChunkKind::Function, vec!["Button"]),
            (9, 11, ChunkKind::Function, vec!["App"]),
        ]
    );
}

#[test]
fn java_class_with_constructor_and_annotated_methods() {
    let src = r#"package shop;

import java.util.ArrayList;
import java.util.List;

/** A cart. */
public class Cart {
    private final List<String> items = new ArrayList<>();

    public Cart() {}

    /** Adds an item. */
    @Deprecated
    public void addItem(String sku) {
        items.add(sku);
    }

    public int size() {
        return items.size();
    }

    enum State { OPEN, CLOSED; boolean open() { return this == OPEN; } }
}
"#;
    let chunks = chunked("src/main/java/shop/Cart.java", src, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 4, ChunkKind::Window, vec![]),
            (
                6,
                23,
                ChunkKind::Class,
                vec![
                    "Cart",
                    "Cart.Cart",
                    "Cart.addItem",
                    "Cart.size",
                    "Cart.State",
                    "Cart.State.open"
                ]
            ),
        ]
    );
    let split = chunked("src/main/java/shop/Cart.java", src, &small(10));
    assert_eq!(
        shape(&split)[1..],
        [
            (6, 8, ChunkKind::Class, vec!["Cart"]),
            (10, 10, ChunkKind::Method, vec!["Cart", "Cart.Cart"]),
            (12, 16, ChunkKind::Method, vec!["Cart", "Cart.addItem"]),
            (18, 20, ChunkKind::Method, vec!["Cart", "Cart.size"]),
            (
                22,
                23,
                ChunkKind::Class,
                vec!["Cart", "Cart.State", "Cart.State.open"]
            ),
        ]
    );
}

#[test]
fn go_struct_and_methods_with_receivers() {
    let src = r#"package shop

import "fmt"

// Cart holds items.
type Cart struct {
	Items []string
}

// Add appends an item.
func (c *Cart) Add(sku string) {
	c.Items = append(c.Items, sku)
}

func (c Cart) String() string {
	return fmt.Sprintf("%d items", len(c.Items))
}

func (s *Set[T]) Has(v T) bool { return s.m[v] }

type (
	ID   string
	Tags []string
)

func NewCart() *Cart {
	return &Cart{}
}
"#;
    let chunks = chunked("shop/cart.go", src, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 3, ChunkKind::Window, vec![]),
            (5, 8, ChunkKind::Class, vec!["Cart"]),
            (10, 13, ChunkKind::Method, vec!["Cart.Add"]),
            (15, 17, ChunkKind::Method, vec!["Cart.String"]),
            (19, 19, ChunkKind::Method, vec!["Set.Has"]),
            (21, 24, ChunkKind::Class, vec!["ID", "Tags"]),
            (26, 28, ChunkKind::Function, vec!["NewCart"]),
        ]
    );
}

#[test]
fn php_class_with_methods_and_functions() {
    let src = r#"<?php

namespace App\Shop;

use App\Item;

/**
 * A cart.
 */
#[Entity]
class Cart
{
    private array $items = [];

    public function addItem(Item $item): void
    {
        $this->items[] = $item;
    }

    public function count(): int
    {
        return count($this->items);
    }
}

function helper() { return 1; }
"#;
    let chunks = chunked("src/Shop/Cart.php", src, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 5, ChunkKind::Window, vec![]),
            (
                7,
                24,
                ChunkKind::Class,
                vec!["Cart", "Cart::addItem", "Cart::count"]
            ),
            (26, 26, ChunkKind::Function, vec!["helper"]),
        ]
    );
    let split = chunked("src/Shop/Cart.php", src, &small(10));
    assert_eq!(
        shape(&split)[1..4],
        [
            (7, 13, ChunkKind::Class, vec!["Cart"]),
            (15, 18, ChunkKind::Method, vec!["Cart", "Cart::addItem"]),
            (20, 24, ChunkKind::Method, vec!["Cart", "Cart::count"]),
        ]
    );
}

#[test]
fn oversized_function_is_windowed_keeping_its_symbols() {
    let mut src = String::from("use a::b;\n\nfn big() {\n");
    for i in 0..198 {
        src.push_str(&format!("    let x{i} = {i};\n"));
    }
    src.push_str("}\n");
    // Lines: 1 `use`, 2 blank, 3..=202 the function (200 lines).
    let chunks = chunked("big.rs", &src, &opts());
    let got = shape(&chunks);
    assert_eq!(got[0], (1, 1, ChunkKind::Window, vec![]));
    let windows: Vec<(u32, u32)> = got[1..].iter().map(|c| (c.0, c.1)).collect();
    assert_eq!(
        windows,
        [
            (3, 42),
            (35, 74),
            (67, 106),
            (99, 138),
            (131, 170),
            (163, 202)
        ]
    );
    for c in &chunks[1..] {
        assert_eq!(c.symbols, ["big"]);
        assert_eq!(c.kind, ChunkKind::Function);
    }
}

#[test]
fn long_container_header_is_windowed() {
    let mut src = String::from("public class Big {\n");
    for i in 0..100 {
        src.push_str(&format!("    int f{i} = {i};\n"));
    }
    src.push_str("    void m() {}\n}\n");
    let chunks = chunked("Big.java", &src, &opts());
    let got = shape(&chunks);
    assert_eq!(
        got,
        [
            (1, 40, ChunkKind::Class, vec!["Big"]),
            (33, 72, ChunkKind::Class, vec!["Big"]),
            (65, 101, ChunkKind::Class, vec!["Big"]),
            (102, 103, ChunkKind::Method, vec!["Big", "Big.m"]),
        ]
    );
}

#[test]
fn definitions_sharing_a_line_are_merged() {
    let src = "fn a() {} fn b() {}\nfn c() {}\n";
    let chunks = chunked("x.rs", src, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 1, ChunkKind::Function, vec!["a", "b"]),
            (2, 2, ChunkKind::Function, vec!["c"]),
        ]
    );
}

#[test]
fn syntax_errors_fall_back_to_windows_locally() {
    let src =
        "fn good() {\n    1\n}\n\nfn broken( {\n    let = ;\n\nfn also_good() -> u32 {\n    2\n}\n";
    let chunks = chunked("x.rs", src, &opts());
    assert_eq!(chunks[0].symbols, ["good"]);
    assert!(
        chunks
            .iter()
            .all(|c| !c.symbols.iter().any(|s| s == "broken")),
        "{chunks:?}"
    );
    assert!(chunks.iter().any(|c| c.text.contains("let = ;")));
}

#[test]
fn gaps_between_definitions_are_windows_without_symbols() {
    let mut src = String::from("import os\nimport sys\n\nX = 1\n\n\nY = 2\n\ndef f():\n    pass\n");
    src.push_str("\n\n# trailing comment\nprint(f())\n");
    let chunks = chunked("m.py", &src, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 7, ChunkKind::Window, vec![]),
            (9, 10, ChunkKind::Function, vec!["f"]),
            (13, 14, ChunkKind::Window, vec![]),
        ]
    );
}

#[test]
fn a_trailing_comment_stays_with_its_code() {
    let src = "fn a() {} // about a\nfn b() {}\n\n// detached\n\nfn c() {}\n";
    let chunks = chunked("x.rs", src, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 1, ChunkKind::Function, vec!["a"]),
            (2, 2, ChunkKind::Function, vec!["b"]),
            (4, 4, ChunkKind::Window, vec![]),
            (6, 6, ChunkKind::Function, vec!["c"]),
        ]
    );
}

#[test]
fn markdown_splits_at_headings_outside_code_fences() {
    let mut src = String::new();
    for s in 0..4 {
        src.push_str(&format!("## Section {s}\n\n"));
        if s == 1 {
            src.push_str("```sh\n# not a heading\n```\n");
        }
        for l in 0..20 {
            src.push_str(&format!("Line {l} of section {s}.\n"));
        }
        src.push('\n');
    }
    let chunks = chunked("docs/guide.md", &src, &opts());
    let starts: Vec<&str> = chunks
        .iter()
        .map(|c| c.text.lines().next().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "## Section 0",
            "## Section 1",
            "## Section 2",
            "## Section 3"
        ]
    );
    assert!(chunks.iter().all(|c| c.kind == ChunkKind::Section));
    // Short sections are packed together.
    let short = "# A\none\n# B\ntwo\nSetext\n===\nthree\n";
    let packed = chunked("r.md", short, &opts());
    assert_eq!(shape(&packed), [(1, 7, ChunkKind::Section, vec![])]);
    let tight = ChunkOptions {
        window_lines: 2,
        ..ChunkOptions::default()
    };
    let split = chunked("r.md", short, &tight);
    assert_eq!(
        split
            .iter()
            .map(|c| (c.start_line, c.end_line))
            .collect::<Vec<_>>(),
        [(1, 2), (3, 4), (5, 7)]
    );
}

#[test]
fn files_without_a_grammar_are_line_windows() {
    let src: String = (1..=100).map(|i| format!("line {i}\n")).collect();
    let chunks = chunked("notes.txt", &src, &opts());
    assert_eq!(
        chunks
            .iter()
            .map(|c| (c.start_line, c.end_line))
            .collect::<Vec<_>>(),
        [(1, 40), (33, 72), (65, 100)]
    );
    assert!(
        chunks
            .iter()
            .all(|c| c.kind == ChunkKind::Window && c.symbols.is_empty())
    );
    // A file that fits in `max_lines` is one chunk; unknown extensions too.
    let short: String = (1..=60).map(|i| format!("x{i}\n")).collect();
    assert_eq!(
        shape(&chunked("data.unknownext", &short, &opts())),
        [(1, 60, ChunkKind::Window, vec![])]
    );
    let c = chunked("Dockerfile", "FROM rust:1.95\n\nRUN cargo build\n", &opts());
    assert_eq!(c[0].text, "FROM rust:1.95\n\nRUN cargo build");
}

#[test]
fn crlf_and_bom_are_handled() {
    let src = "\u{feff}fn a() {\r\n    1\r\n}\r\n\r\nfn b() {}\r\n";
    let chunks = chunked("x.rs", src, &opts());
    assert_eq!(
        shape(&chunks),
        [
            (1, 3, ChunkKind::Function, vec!["a"]),
            (5, 5, ChunkKind::Function, vec!["b"]),
        ]
    );
    assert_eq!(chunks[0].text, "fn a() {\r\n    1\r\n}");
    assert_eq!(chunks[1].text, "fn b() {}");
}

#[test]
fn a_giant_single_line_is_cut_to_max_chars() {
    let line = "word ".repeat(30_000);
    let o = opts();
    for path in ["min.js", "x.txt", "x.rs"] {
        let chunks = chunked(path, &line, &o);
        assert!(chunks.len() >= 25, "{}", chunks.len());
        assert!(chunks.iter().all(|c| c.start_line == 1 && c.end_line == 1));
        let rebuilt: String = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(rebuilt, line, "pieces rebuild the line");
    }
    let no_spaces = "é".repeat(10_000);
    let chunks = chunked("x.txt", &no_spaces, &o);
    assert_eq!(
        chunks.iter().map(|c| c.text.len()).sum::<usize>(),
        no_spaces.len()
    );
}

#[test]
fn long_lines_split_a_chunk_by_characters() {
    let o = ChunkOptions {
        max_chunk_chars: 100,
        ..ChunkOptions::default()
    };
    let src: String = (0..30)
        .map(|i| format!("let variable_{i} = {i}; // comment\n"))
        .collect();
    let chunks = chunked("x.txt", &src, &o);
    assert!(chunks.len() > 1);
    assert!(chunks.iter().all(|c| c.text.len() <= 100));
}

#[test]
fn never_panics_on_garbage() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: Vec<char> =
        "{}()[];:,.<>=+-*/\\\"'`#@!?$%&|^~ \n\n\r\tabcXYZ_019fnclassdefimplé€😀"
            .chars()
            .collect();
    let paths = [
        "a.rs", "a.py", "a.js", "a.ts", "a.tsx", "A.java", "a.go", "a.php", "a.md", "a.txt",
    ];
    for round in 0..30 {
        let len = (next() % 2000) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        for p in paths {
            let o = ChunkOptions {
                max_lines: 1 + round % 7,
                window_lines: 1 + round % 5,
                overlap_lines: round % 6,
                max_chunk_chars: 1 + round * 13,
            };
            chunked(p, &text, &o);
        }
    }
}

#[test]
fn empty_and_blank_inputs_give_no_chunks() {
    for p in ["a.rs", "a.py", "a.md", "a.txt", "a.php"] {
        assert!(chunk(p, "", &opts()).is_empty());
        assert!(chunk(p, "\n\n   \n\t\r\n", &opts()).is_empty());
        assert!(chunk(p, "\u{feff}", &opts()).is_empty());
    }
}

#[test]
fn deep_nesting_does_not_overflow() {
    let mut src = String::new();
    for i in 0..300 {
        src.push_str(&" ".repeat(i));
        src.push_str(&format!("class C{i}:\n"));
    }
    src.push_str(&" ".repeat(300));
    src.push_str("pass\n");
    chunked("deep.py", &src, &small(3));
    let braces = format!("{}{}", "mod m {".repeat(2000), "}".repeat(2000));
    chunked("deep.rs", &braces, &opts());
}

#[test]
fn coverage_over_a_mixed_file_with_many_options() {
    let texts = [
        ("src/cart.rs", RUST.to_string()),
        ("shop/cart.py", PYTHON.to_string()),
        ("web/cart.js", JS.to_string()),
        ("mixed.rs", format!("{RUST}\n{}\n{RUST}", "x".repeat(7000))),
        ("mixed.py", format!("{PYTHON}\n\n\n{PYTHON}")),
        (
            "page.php",
            format!(
                "<html>\n<body>\n{}\n</body>\n",
                "<?php echo 1; ?>\n".repeat(50)
            ),
        ),
    ];
    for (path, text) in &texts {
        for max_lines in [1, 2, 5, 10, 80] {
            for (window_lines, overlap_lines) in [(1, 0), (3, 1), (40, 8), (10, 20)] {
                let o = ChunkOptions {
                    max_lines,
                    window_lines,
                    overlap_lines,
                    max_chunk_chars: 500,
                };
                chunked(path, text, &o);
            }
        }
    }
}

#[test]
fn chunks_serialise_with_lowercase_kinds() {
    let c = chunk("a.py", "def f():\n    pass\n", &opts());
    let json = serde_json::to_value(&c[0]).unwrap();
    assert_eq!(json["kind"], "function");
    assert_eq!(json["start_line"], 1);
    assert_eq!(json["symbols"][0], "f");
    assert_eq!(ChunkKind::Window.as_str(), "window");
}

#[test]
fn chunk_as_overrides_the_language() {
    let src = "def f():\n    pass\n";
    assert_eq!(chunk_as(Some(Lang::Python), src, &opts())[0].symbols, ["f"]);
    assert!(chunk_as(None, src, &opts())[0].symbols.is_empty());
}

#[test]
fn overloads_and_repeated_impls_name_each_symbol_once() {
    let java = "class A {\n    void f(int x) {}\n    void f(String s) {}\n}\n";
    assert_eq!(chunked("A.java", java, &opts())[0].symbols, ["A", "A.f"]);
    let rust = "mod m {\n    impl S { fn a() {} }\n    impl S { fn a() {} }\n}\n";
    assert_eq!(
        chunked("m.rs", rust, &opts())[0].symbols,
        ["m", "m::S", "m::S::a"]
    );
}
