//! Definitions found with tree-sitter: what they are called, where they start (with their
//! leading comments and attributes) and end, and, for containers, their members.

use tree_sitter::{Node, Parser};

use crate::chunk::ChunkKind;
use crate::lang::Lang;

/// Containers nested deeper than this are kept whole (leaves), so pathological nesting
/// cannot exhaust the stack.
const MAX_DEPTH: usize = 24;
/// Longest symbol name kept, in bytes.
const MAX_NAME: usize = 200;
/// Parse budget, in tree-sitter progress reports (one per 100 parser operations): a fixed
/// allowance plus one per this many bytes. Ordinary code needs one per 70 to 160 bytes;
/// garbage can make error recovery take seconds per kilobyte, and is cut off instead.
const PARSE_BUDGET_BASE: u64 = 1_000;
const PARSE_BUDGET_BYTES_PER_STEP: u64 = 8;
/// Wall-clock backstop on the same: a fixed allowance plus 1 ms per this many bytes.
const PARSE_DEADLINE_BASE_MS: u64 = 2_000;
const PARSE_DEADLINE_BYTES_PER_MS: u64 = 1_000;

/// One definition, rows 0-based and inclusive.
#[derive(Debug, Clone)]
pub(crate) struct Def {
    pub start: usize,
    pub end: usize,
    /// Qualified name.
    pub name: String,
    /// Further names defined by the same lines (Go's grouped `type (...)`, or definitions
    /// that shared a line and were merged).
    pub extra: Vec<String>,
    pub kind: ChunkKind,
    /// Members of a container, in file order; empty for leaves.
    pub members: Vec<Def>,
}

impl Def {
    /// This definition's names and its members', outermost first, in file order.
    pub fn collect_names(&self, out: &mut Vec<String>) {
        out.push(self.name.clone());
        out.extend(self.extra.iter().cloned());
        for m in &self.members {
            m.collect_names(out);
        }
    }
}

fn grammar(lang: Lang) -> Option<tree_sitter::Language> {
    Some(match lang {
        Lang::Rust => tree_sitter_rust::LANGUAGE.into(),
        Lang::Python => tree_sitter_python::LANGUAGE.into(),
        Lang::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
        Lang::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        Lang::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
        Lang::Java => tree_sitter_java::LANGUAGE.into(),
        Lang::Go => tree_sitter_go::LANGUAGE.into(),
        Lang::Php => tree_sitter_php::LANGUAGE_PHP.into(),
        _ => return None,
    })
}

/// The top-level definitions of `text`, or `None` when `lang` has no grammar or the parser
/// gives up. Definitions containing syntax errors are left out (their lines fall to the
/// caller's windows); a container with an error in one member keeps its other members.
pub(crate) fn definitions(lang: Lang, text: &str) -> Option<Vec<Def>> {
    let language = grammar(lang)?;
    let mut parser = Parser::new();
    parser.set_language(&language).ok()?;
    let tree = parse_bounded(&mut parser, text)?;
    let cx = Cx {
        lang,
        src: text,
        sep: lang.separator(),
    };
    Some(cx.level(tree.root_node(), "", false, 0))
}

/// Parses `text`, giving up (`None`) when the parse runs over its budget.
fn parse_bounded(parser: &mut Parser, text: &str) -> Option<tree_sitter::Tree> {
    let len = text.len() as u64;
    let budget = PARSE_BUDGET_BASE + len / PARSE_BUDGET_BYTES_PER_STEP;
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_millis(
            PARSE_DEADLINE_BASE_MS + len / PARSE_DEADLINE_BYTES_PER_MS,
        );
    let mut reports = 0u64;
    let mut give_up = |_: &tree_sitter::ParseState| {
        reports += 1;
        reports > budget || (reports.is_multiple_of(64) && std::time::Instant::now() > deadline)
    };
    let bytes = text.as_bytes();
    let options = tree_sitter::ParseOptions::new().progress_callback(&mut give_up);
    parser.parse_with_options(
        &mut |offset, _| bytes.get(offset..).unwrap_or_default(),
        None,
        Some(options),
    )
}

enum Shape<'t> {
    Leaf(ChunkKind),
    /// A container whose body holds members; `methods`: its functions are methods.
    Container {
        body: Node<'t>,
        methods: bool,
    },
    /// A node whose body's definitions belong to the enclosing level (PHP's braced
    /// namespaces, Java's enum body declarations).
    Flatten(Node<'t>),
}

struct Found<'t> {
    name: String,
    extra: Vec<String>,
    shape: Shape<'t>,
}

impl<'t> Found<'t> {
    fn leaf(name: String, kind: ChunkKind) -> Self {
        Found {
            name,
            extra: Vec::new(),
            shape: Shape::Leaf(kind),
        }
    }

    fn container(name: String, body: Node<'t>, methods: bool) -> Self {
        Found {
            name,
            extra: Vec::new(),
            shape: Shape::Container { body, methods },
        }
    }

    fn flatten(body: Node<'t>) -> Self {
        Found {
            name: String::new(),
            extra: Vec::new(),
            shape: Shape::Flatten(body),
        }
    }
}

struct Cx<'s> {
    lang: Lang,
    src: &'s str,
    sep: &'static str,
}

/// The last row a node occupies: a node ending at column 0 ends on the row before.
fn end_row(node: Node<'_>) -> usize {
    let end = node.end_position();
    if end.column == 0 && end.row > node.start_position().row {
        end.row - 1
    } else {
        end.row
    }
}

fn attachable(kind: &str) -> bool {
    matches!(
        kind,
        "comment" | "line_comment" | "block_comment" | "attribute_item" | "decorator"
    )
}

fn children<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.children(&mut cursor).collect()
}

/// The first row of `siblings[idx]` with the comments, attributes and decorators right
/// above it (no blank line between); a comment trailing other code on its line stays there.
fn attached_start(siblings: &[Node<'_>], idx: usize) -> usize {
    let mut start = siblings[idx].start_position().row;
    let mut i = idx;
    while i > 0 {
        let prev = siblings[i - 1];
        if !attachable(prev.kind()) || end_row(prev) + 1 < start {
            break;
        }
        let prev_row = prev.start_position().row;
        if i >= 2 {
            let before = siblings[i - 2];
            if !attachable(before.kind()) && end_row(before) >= prev_row {
                break;
            }
        }
        start = prev_row;
        i -= 1;
    }
    start
}

/// Definitions sharing a row cannot be told apart by lines: merge them into one leaf.
fn merge_overlaps(defs: Vec<Def>) -> Vec<Def> {
    let mut out: Vec<Def> = Vec::with_capacity(defs.len());
    for d in defs {
        match out.last_mut() {
            Some(prev) if d.start <= prev.end => {
                let mut names = Vec::new();
                for m in std::mem::take(&mut prev.members) {
                    m.collect_names(&mut names);
                }
                d.collect_names(&mut names);
                prev.extra.extend(names);
                prev.end = prev.end.max(d.end);
            }
            _ => out.push(d),
        }
    }
    out
}

impl<'s> Cx<'s> {
    fn text(&self, node: Node<'_>) -> &'s str {
        self.src.get(node.byte_range()).unwrap_or("")
    }

    /// A node's text as a symbol name: its first line, trimmed, capped.
    fn name_of(&self, node: Node<'_>) -> Option<String> {
        let t = self.text(node).lines().next().unwrap_or("").trim();
        let t = t.trim_matches(|c| c == '"' || c == '\'' || c == '`');
        if t.is_empty() {
            return None;
        }
        let mut cut = t.len().min(MAX_NAME);
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        Some(t[..cut].to_string())
    }

    fn field_name(&self, node: Node<'_>, field: &str) -> Option<String> {
        self.name_of(node.child_by_field_name(field)?)
    }

    /// The name of a type without references, pointers and generic arguments:
    /// `&mut Cart<T>` is `Cart`.
    fn type_name(&self, mut node: Node<'_>) -> Option<String> {
        for _ in 0..8 {
            match node.kind() {
                "reference_type" | "pointer_type" | "generic_type" => {
                    node = match node.child_by_field_name("type") {
                        Some(n) => n,
                        None => node.named_child(0)?,
                    };
                }
                _ => break,
            }
        }
        let name = self.name_of(node)?;
        Some(match name.find('<') {
            Some(i) if i > 0 => name[..i].trim().to_string(),
            _ => name,
        })
    }

    fn qualify(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}{}{name}", self.sep)
        }
    }

    fn level(&self, parent: Node<'_>, prefix: &str, methods: bool, depth: usize) -> Vec<Def> {
        let siblings = children(parent);
        let mut out = Vec::new();
        for idx in 0..siblings.len() {
            self.item(&siblings, idx, prefix, methods, depth, &mut out);
        }
        merge_overlaps(out)
    }

    fn item(
        &self,
        siblings: &[Node<'_>],
        idx: usize,
        prefix: &str,
        methods: bool,
        depth: usize,
        out: &mut Vec<Def>,
    ) {
        let node = siblings[idx];
        if !node.is_named() || node.is_error() || node.is_missing() {
            return;
        }
        let Some(found) = self.classify(node, methods) else {
            return;
        };
        let start = attached_start(siblings, idx);
        let end = end_row(node);
        let qualify_all = |names: Vec<String>| -> Vec<String> {
            names.iter().map(|n| self.qualify(prefix, n)).collect()
        };
        match found.shape {
            Shape::Flatten(body) => {
                if depth >= MAX_DEPTH {
                    return;
                }
                let inner = children(body);
                for i in 0..inner.len() {
                    self.item(&inner, i, prefix, methods, depth + 1, out);
                }
            }
            Shape::Leaf(kind) => {
                if node.has_error() {
                    return;
                }
                out.push(Def {
                    start,
                    end,
                    name: self.qualify(prefix, &found.name),
                    extra: qualify_all(found.extra),
                    kind,
                    members: Vec::new(),
                });
            }
            Shape::Container { body, methods } => {
                let name = self.qualify(prefix, &found.name);
                let members = if depth < MAX_DEPTH {
                    self.level(body, &name, methods, depth + 1)
                } else if node.has_error() {
                    return;
                } else {
                    Vec::new()
                };
                out.push(Def {
                    start,
                    end,
                    name,
                    extra: qualify_all(found.extra),
                    kind: ChunkKind::Class,
                    members,
                });
            }
        }
    }

    fn classify<'t>(&self, node: Node<'t>, methods: bool) -> Option<Found<'t>> {
        match self.lang {
            Lang::Rust => self.rust(node, methods),
            Lang::Python => self.python(node, methods),
            Lang::JavaScript | Lang::TypeScript | Lang::Tsx => self.js(node, methods),
            Lang::Java => self.java(node, methods),
            Lang::Go => self.go(node),
            Lang::Php => self.php(node, methods),
            _ => None,
        }
    }

    fn function_kind(methods: bool) -> ChunkKind {
        if methods {
            ChunkKind::Method
        } else {
            ChunkKind::Function
        }
    }

    fn rust<'t>(&self, node: Node<'t>, methods: bool) -> Option<Found<'t>> {
        let body = || node.child_by_field_name("body");
        Some(match node.kind() {
            "function_item" => {
                Found::leaf(self.field_name(node, "name")?, Self::function_kind(methods))
            }
            "function_signature_item" if methods => {
                Found::leaf(self.field_name(node, "name")?, ChunkKind::Method)
            }
            "macro_definition" => Found::leaf(self.field_name(node, "name")?, ChunkKind::Function),
            "struct_item" | "enum_item" | "union_item" => {
                Found::leaf(self.field_name(node, "name")?, ChunkKind::Class)
            }
            "trait_item" => Found::container(self.field_name(node, "name")?, body()?, true),
            "impl_item" => {
                let ty = self.type_name(node.child_by_field_name("type")?)?;
                Found::container(ty, body()?, true)
            }
            "mod_item" => Found::container(self.field_name(node, "name")?, body()?, false),
            _ => return None,
        })
    }

    fn python<'t>(&self, node: Node<'t>, methods: bool) -> Option<Found<'t>> {
        Some(match node.kind() {
            "decorated_definition" => {
                return self.python(node.child_by_field_name("definition")?, methods);
            }
            "function_definition" => {
                Found::leaf(self.field_name(node, "name")?, Self::function_kind(methods))
            }
            "class_definition" => Found::container(
                self.field_name(node, "name")?,
                node.child_by_field_name("body")?,
                true,
            ),
            _ => return None,
        })
    }

    fn js<'t>(&self, node: Node<'t>, methods: bool) -> Option<Found<'t>> {
        let is_fn = |n: Node<'_>| {
            matches!(
                n.kind(),
                "arrow_function" | "function_expression" | "function" | "generator_function"
            )
        };
        Some(match node.kind() {
            "export_statement" => {
                if let Some(decl) = node.child_by_field_name("declaration") {
                    return self.js(decl, methods);
                }
                let value = node.child_by_field_name("value")?;
                let name = self
                    .field_name(value, "name")
                    .unwrap_or_else(|| "default".to_string());
                if is_fn(value) {
                    Found::leaf(name, ChunkKind::Function)
                } else if value.kind() == "class" {
                    Found::container(name, value.child_by_field_name("body")?, true)
                } else {
                    return None;
                }
            }
            "expression_statement" | "ambient_declaration" => {
                let inner = node.named_child(0)?;
                match inner.kind() {
                    "internal_module"
                    | "module"
                    | "class_declaration"
                    | "abstract_class_declaration"
                    | "interface_declaration"
                    | "type_alias_declaration"
                    | "enum_declaration" => {
                        return self.js(inner, methods);
                    }
                    _ => return None,
                }
            }
            "function_declaration" | "generator_function_declaration" => {
                Found::leaf(self.field_name(node, "name")?, Self::function_kind(methods))
            }
            "class_declaration" | "abstract_class_declaration" | "class" => Found::container(
                self.field_name(node, "name")?,
                node.child_by_field_name("body")?,
                true,
            ),
            "lexical_declaration" | "variable_declaration" => {
                let mut cursor = node.walk();
                let mut found = None;
                for decl in node.named_children(&mut cursor) {
                    if decl.kind() != "variable_declarator" {
                        continue;
                    }
                    let Some(value) = decl.child_by_field_name("value") else {
                        continue;
                    };
                    let Some(name) = self.field_name(decl, "name") else {
                        continue;
                    };
                    if is_fn(value) {
                        found = Some(Found::leaf(name, ChunkKind::Function));
                    } else if value.kind() == "class" {
                        let Some(body) = value.child_by_field_name("body") else {
                            continue;
                        };
                        found = Some(Found::container(name, body, true));
                    } else {
                        continue;
                    }
                    break;
                }
                found?
            }
            "interface_declaration" | "type_alias_declaration" | "enum_declaration" => {
                Found::leaf(self.field_name(node, "name")?, ChunkKind::Class)
            }
            "internal_module" | "module" => Found::container(
                self.field_name(node, "name")?,
                node.child_by_field_name("body")?,
                false,
            ),
            "method_definition" | "method_signature" | "abstract_method_signature" if methods => {
                Found::leaf(self.field_name(node, "name")?, ChunkKind::Method)
            }
            "field_definition" | "public_field_definition" if methods => {
                if !is_fn(node.child_by_field_name("value")?) {
                    return None;
                }
                let name = self
                    .field_name(node, "property")
                    .or_else(|| self.field_name(node, "name"))?;
                Found::leaf(name, ChunkKind::Method)
            }
            _ => return None,
        })
    }

    fn java<'t>(&self, node: Node<'t>, methods: bool) -> Option<Found<'t>> {
        Some(match node.kind() {
            "class_declaration"
            | "interface_declaration"
            | "enum_declaration"
            | "record_declaration"
            | "annotation_type_declaration" => Found::container(
                self.field_name(node, "name")?,
                node.child_by_field_name("body")?,
                true,
            ),
            "method_declaration"
            | "constructor_declaration"
            | "compact_constructor_declaration" => {
                Found::leaf(self.field_name(node, "name")?, Self::function_kind(methods))
            }
            "enum_body_declarations" => Found::flatten(node),
            _ => return None,
        })
    }

    fn go<'t>(&self, node: Node<'t>) -> Option<Found<'t>> {
        Some(match node.kind() {
            "function_declaration" => {
                Found::leaf(self.field_name(node, "name")?, ChunkKind::Function)
            }
            "method_declaration" => {
                let name = self.field_name(node, "name")?;
                let receiver = node.child_by_field_name("receiver").and_then(|list| {
                    let mut cursor = list.walk();
                    let param = list
                        .named_children(&mut cursor)
                        .find(|p| p.kind() == "parameter_declaration")?;
                    self.type_name(param.child_by_field_name("type")?)
                });
                let name = match receiver {
                    Some(r) => format!("{r}{}{name}", self.sep),
                    None => name,
                };
                Found::leaf(name, ChunkKind::Method)
            }
            "type_declaration" => {
                let mut cursor = node.walk();
                let mut names = node
                    .named_children(&mut cursor)
                    .filter(|s| matches!(s.kind(), "type_spec" | "type_alias"))
                    .filter_map(|s| self.field_name(s, "name"));
                let first = names.next()?;
                let mut found = Found::leaf(first, ChunkKind::Class);
                found.extra = names.collect();
                found
            }
            _ => return None,
        })
    }

    fn php<'t>(&self, node: Node<'t>, methods: bool) -> Option<Found<'t>> {
        Some(match node.kind() {
            "function_definition" => {
                Found::leaf(self.field_name(node, "name")?, Self::function_kind(methods))
            }
            "method_declaration" => Found::leaf(self.field_name(node, "name")?, ChunkKind::Method),
            "class_declaration"
            | "interface_declaration"
            | "trait_declaration"
            | "enum_declaration" => Found::container(
                self.field_name(node, "name")?,
                node.child_by_field_name("body")?,
                true,
            ),
            "namespace_definition" => Found::flatten(node.child_by_field_name("body")?),
            _ => return None,
        })
    }
}
