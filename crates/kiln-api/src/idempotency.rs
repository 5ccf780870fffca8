//! `Idempotency-Key` support: which keys are acceptable, and the fingerprint that tells a
//! retry of the same request from a different request reusing a key.

use sha2::{Digest, Sha256};

use crate::error::Error;

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 200;

/// Checks a header value: 1 to 200 visible ASCII characters.
pub fn validate_key(raw: &[u8]) -> Result<&str, Error> {
    if raw.is_empty() {
        return Err(Error::InvalidIdempotencyKey(
            "it is empty; send 1 to 200 visible ASCII characters",
        ));
    }
    if raw.len() > MAX_KEY_LEN {
        return Err(Error::InvalidIdempotencyKey(
            "it is longer than 200 characters",
        ));
    }
    if !raw.iter().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidIdempotencyKey(
            "use visible ASCII characters only (no spaces, control or non-ASCII characters)",
        ));
    }
    std::str::from_utf8(raw).map_err(|_| Error::InvalidIdempotencyKey("it is not ASCII"))
}

/// SHA-256 (hex) of the canonical form of a JSON body: object keys sorted at every level,
/// no insignificant whitespace. Two bodies that mean the same thing get the same hash.
pub fn request_hash(body: &serde_json::Value) -> String {
    let mut canonical = String::new();
    write_canonical(body, &mut canonical);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_whitespace_do_not_change_the_hash() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"q": 2, "p": 1}], "x": null}}"#)
                .unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a":{"x":null,"y":[1,{"p":1,"q":2}]},"b":1}"#).unwrap();
        assert_eq!(request_hash(&a), request_hash(&b));
        assert_ne!(
            request_hash(&a),
            request_hash(&json!({"b": 2, "a": {"x": null, "y": [1, {"p": 1, "q": 2}]}}))
        );
        assert_ne!(
            request_hash(&json!([1, 2])),
            request_hash(&json!([2, 1])),
            "array order matters"
        );
        assert_eq!(request_hash(&a).len(), 64);
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        assert_eq!(validate_key(b"abc-123_~!").unwrap(), "abc-123_~!");
        assert!(validate_key(&[b'k'; 200]).is_ok());
        for bad in [
            &b""[..],
            &[b'k'; 201],
            b"has space",
            b"tab\t",
            "caf\u{e9}".as_bytes(),
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?} accepted");
        }
    }
}
