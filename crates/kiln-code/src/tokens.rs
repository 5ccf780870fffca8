//! Code-aware terms for sparse (BM25) retrieval.
//!
//! Text is split into words at every character that is neither alphanumeric nor `_`
//! (a `-` between two words of letters is kept as a kebab-case join). Each identifier is
//! emitted whole, lowercased, and then split at `_`, `-`, camelCase / PascalCase boundaries
//! (acronyms included: `HTTPServer` is `http` + `server`) and letter/digit boundaries, each
//! part emitted too. Terms of one character are dropped, terms longer than
//! [`MAX_TOKEN_CHARS`] are cut to it; there is no stemming and no stop list.

/// Longest term emitted, in characters; longer ones are cut.
pub const MAX_TOKEN_CHARS: usize = 64;

/// The terms of `text`, lowercased, in text order, repeats kept (term frequency matters):
/// `"getUserName(user_id)"` gives `getusername, get, user, name, user_id, user, id`.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(text.len() / 5 + 1);
    for_each_word(text, |word| emit_word(word, &mut out));
    out
}

/// The terms of a path, each once, in path order:
/// `"src/cartService/add_item.rs"` gives `src, cartservice, cart, service, add_item, add,
/// item, rs`.
pub fn path_terms(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tokens(path) {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Calls `f` with each maximal run of word characters, where runs joined by a single `-`
/// (a word character before it, a letter after it) count as one kebab-case word.
fn for_each_word(text: &str, mut f: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut start: Option<usize> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if is_word_char(c) {
            if start.is_none() {
                start = Some(i);
            }
            continue;
        }
        if c == '-'
            && start.is_some()
            && iter.peek().is_some_and(|&(_, n)| n.is_alphabetic())
            && i > 0
            && bytes[i - 1] != b'-'
        {
            continue;
        }
        if let Some(s) = start.take() {
            f(&text[s..i]);
        }
    }
    if let Some(s) = start {
        f(&text[s..]);
    }
}

fn emit_word(word: &str, out: &mut Vec<String>) {
    if !word.contains('-') {
        emit_ident(word, out);
        return;
    }
    let parts_ok = word
        .split('-')
        .all(|p| p.chars().count() >= 2 && p.chars().next().is_some_and(char::is_alphabetic));
    if parts_ok {
        push(word, out);
    }
    for part in word.split('-') {
        emit_ident(part, out);
    }
}

fn emit_ident(ident: &str, out: &mut Vec<String>) {
    let ident = ident.trim_matches('_');
    if ident.is_empty() {
        return;
    }
    if !ident.contains('_') {
        emit_camel(ident, true, out);
        return;
    }
    push(ident, out);
    for seg in ident.split('_').filter(|s| !s.is_empty()) {
        emit_camel(seg, true, out);
    }
}

/// Emits `seg` whole (if `whole`) and, when it has several camel/digit parts, each part.
fn emit_camel(seg: &str, whole: bool, out: &mut Vec<String>) {
    let mut cuts: [usize; 16] = [0; 16];
    let mut n = 0usize;
    let mut overflow: Vec<usize> = Vec::new();
    let mut add_cut = |at: usize| {
        if n < cuts.len() {
            cuts[n] = at;
            n += 1;
        } else {
            overflow.push(at);
        }
    };
    let mut prev: Option<char> = None;
    let mut chars = seg.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(p) = prev {
            let next = chars.peek().map(|&(_, n)| n);
            let boundary = (p.is_lowercase() && c.is_uppercase())
                || (p.is_uppercase() && c.is_uppercase() && next.is_some_and(char::is_lowercase))
                || (p.is_alphabetic() && c.is_numeric())
                || (p.is_numeric() && c.is_alphabetic());
            if boundary {
                add_cut(i);
            }
        }
        prev = Some(c);
    }
    if whole {
        push(seg, out);
    }
    if n == 0 {
        return;
    }
    let mut last = 0;
    for &cut in cuts[..n].iter().chain(overflow.iter()) {
        push(&seg[last..cut], out);
        last = cut;
    }
    push(&seg[last..], out);
}

/// Lowercases, caps at [`MAX_TOKEN_CHARS`], drops one-character terms.
fn push(term: &str, out: &mut Vec<String>) {
    if term.is_ascii() {
        if term.len() < 2 {
            return;
        }
        let cut = &term[..term.len().min(MAX_TOKEN_CHARS)];
        out.push(cut.to_ascii_lowercase());
        return;
    }
    let mut s = String::with_capacity(term.len());
    let mut count = 0usize;
    for c in term.chars().flat_map(char::to_lowercase) {
        if count == MAX_TOKEN_CHARS {
            break;
        }
        s.push(c);
        count += 1;
    }
    if count >= 2 {
        out.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Vec<String> {
        tokens(s)
    }

    #[test]
    fn camel_case_emits_whole_and_parts() {
        assert_eq!(t("getUserName"), ["getusername", "get", "user", "name"]);
        assert_eq!(t("CartService"), ["cartservice", "cart", "service"]);
    }

    #[test]
    fn acronyms_split_before_the_next_word() {
        assert_eq!(
            t("HTTPServerError"),
            ["httpservererror", "http", "server", "error"]
        );
        assert_eq!(t("parseJSON"), ["parsejson", "parse", "json"]);
        assert_eq!(
            t("XMLHttpRequest"),
            ["xmlhttprequest", "xml", "http", "request"]
        );
    }

    #[test]
    fn snake_case_emits_whole_segments_and_camel_parts() {
        assert_eq!(t("add_item"), ["add_item", "add", "item"]);
        assert_eq!(t("__init__"), ["init"]);
        assert_eq!(
            t("get_userName"),
            ["get_username", "get", "username", "user", "name"]
        );
        assert_eq!(
            t("MAX_RETRY_COUNT"),
            ["max_retry_count", "max", "retry", "count"]
        );
    }

    #[test]
    fn kebab_case_is_joined_and_split() {
        assert_eq!(
            t("max-width: 10px"),
            ["max-width", "max", "width", "10px", "10", "px"]
        );
        // Subtraction of one-letter names is not a kebab word; the parts are too short.
        assert!(t("a-b").is_empty());
        assert_eq!(t("x - offset"), ["offset"]);
        assert_eq!(t("--dry-run"), ["dry-run", "dry", "run"]);
        assert_eq!(t("utf-8"), ["utf"]);
    }

    #[test]
    fn punctuation_splits_and_short_terms_drop() {
        assert_eq!(
            t("fn total(&self) -> u32 { self.items.len() }"),
            ["fn", "total", "self", "u32", "32", "self", "items", "len"]
        );
        assert_eq!(t("a = b + c; i++"), Vec::<String>::new());
        assert_eq!(t("Cart::add_item"), ["cart", "add_item", "add", "item"]);
    }

    #[test]
    fn numbers_of_two_or_more_digits_are_kept() {
        assert_eq!(t("x = 42 + 7"), ["42"]);
        assert_eq!(t("sha256"), ["sha256", "sha", "256"]);
        assert_eq!(t("v2"), ["v2"]);
    }

    #[test]
    fn long_terms_are_capped() {
        let long = "a".repeat(200);
        let out = t(&long);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), MAX_TOKEN_CHARS);
        let uni = "é".repeat(100);
        assert_eq!(t(&uni)[0].chars().count(), MAX_TOKEN_CHARS);
    }

    #[test]
    fn unicode_words_are_lowercased() {
        assert_eq!(t("Größe ÜberWert"), ["größe", "überwert", "über", "wert"]);
        assert_eq!(t("名前 = 1"), ["名前"]);
    }

    #[test]
    fn many_camel_parts_do_not_lose_any() {
        let word = "aB1c2";
        let out = t("AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTt");
        assert_eq!(out.len(), 21, "{out:?}");
        assert_eq!(out[20], "tt");
        // Single-letter parts are dropped, the whole stays.
        assert_eq!(t(word), [word.to_lowercase()]);
    }

    #[test]
    fn path_terms_split_and_dedup() {
        assert_eq!(
            path_terms("src/cartService/add_item.rs"),
            [
                "src",
                "cartservice",
                "cart",
                "service",
                "add_item",
                "add",
                "item",
                "rs"
            ]
        );
        assert_eq!(path_terms("cart/cart.py"), ["cart", "py"]);
        assert!(path_terms("").is_empty());
    }

    #[test]
    fn empty_and_symbol_only_text() {
        assert!(t("").is_empty());
        assert!(t("{}();,.!@#$%^&*").is_empty());
    }
}
