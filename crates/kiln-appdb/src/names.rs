//! Names of app databases and roles, derived rather than stored (see the crate docs), and
//! the quoting of the few identifiers and literals that cannot be bind parameters.

use sha2::{Digest, Sha256};

use crate::Error;

/// Longest app name accepted (the deployer's own limit).
const MAX_APP_LEN: usize = 63;

/// How many characters of the app name the database name keeps: `kiln_` + 18 + `_` + 8
/// hex = 32, MySQL's limit for user names.
const PREFIX_LEN: usize = 18;

/// Name of the database and of its role/user for `app` in `namespace`:
/// `kiln_<app prefix>_<hash8>`, at most 32 characters of `[a-z0-9_]`.
pub fn object_name(namespace: &str, app: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(namespace.as_bytes());
    hasher.update([0]);
    hasher.update(app.as_bytes());
    let hash = hex::encode(&hasher.finalize()[..4]);
    let prefix: String = app
        .chars()
        .take(PREFIX_LEN)
        .map(|c| if c == '-' { '_' } else { c })
        .collect();
    format!("kiln_{prefix}_{hash}")
}

/// Refuses app names outside `[a-z][a-z0-9-]*` (at most 63 characters), so derived names
/// are always plain identifiers.
pub(crate) fn check_app(app: &str) -> Result<(), Error> {
    let reason = if app.is_empty() {
        "it is empty"
    } else if app.len() > MAX_APP_LEN {
        "it is longer than 63 characters"
    } else if !app.starts_with(|c: char| c.is_ascii_lowercase()) {
        "it must start with a lowercase letter"
    } else if !app
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        "only lowercase letters, digits and '-' are allowed"
    } else {
        return Ok(());
    };
    Err(Error::InvalidApp {
        app: app.to_owned(),
        reason,
    })
}

/// Postgres identifier in double quotes.
pub(crate) fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// MySQL identifier in backticks.
pub(crate) fn my_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// SQL string literal for both servers. Only ever given derived names, hex passwords and
/// base64 verifiers; a backslash (which MySQL would read as an escape unless
/// `NO_BACKSLASH_ESCAPES` is set) would be a bug, so it is refused outright.
pub(crate) fn literal(text: &str) -> String {
    assert!(!text.contains('\\'), "literal must not contain a backslash");
    format!("'{}'", text.replace('\'', "''"))
}

/// A database name as a MySQL `GRANT` pattern, where `_` and `%` are wildcards: escaped, so
/// the grant covers exactly this database.
pub(crate) fn my_grant_db(name: &str) -> String {
    my_ident(&name.replace('_', "\\_").replace('%', "\\%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable_short_and_distinct() {
        let name = object_name("kiln", "todo-app");
        assert!(name.starts_with("kiln_todo_app_"), "{name}");
        assert_eq!(name.len(), "kiln_todo_app_".len() + 8);

        let long_a = "a".repeat(40) + "-one";
        let long_b = "a".repeat(40) + "-two";
        let (a, b) = (object_name("kiln", &long_a), object_name("kiln", &long_b));
        assert_ne!(a, b, "apps sharing a long prefix still differ");
        assert_eq!(a.len(), 32, "{a}");
        assert!(object_name("kiln", &"z".repeat(63)).len() <= 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }

    #[test]
    fn names_depend_on_the_namespace() {
        assert_ne!(
            object_name("kiln", "shop"),
            object_name("kiln_test_1", "shop")
        );
        assert_eq!(object_name("kiln", "shop"), object_name("kiln", "shop"));
    }

    #[test]
    fn app_names_are_checked() {
        for good in ["a", "todo-app", "x1", &"a".repeat(63)] {
            assert!(check_app(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1app",
            "App",
            "a_b",
            "a b",
            "a\"b",
            "é",
            &"a".repeat(64),
        ] {
            assert!(check_app(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(pg_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(my_ident("a`b"), "`a``b`");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(my_grant_db("kiln_a_1"), "`kiln\\_a\\_1`");
    }
}
