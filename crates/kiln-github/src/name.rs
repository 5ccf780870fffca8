//! Repository names, checked before they reach a URL path or a git argument.

use std::fmt;

/// `owner/name` on GitHub, validated by GitHub's own rules: the owner is 1 to 39 letters,
/// digits or single hyphens (not at either end), the name 1 to 100 letters, digits, `.`, `_`
/// or `-`, and neither `.` nor `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName {
    owner: String,
    name: String,
}

impl RepoName {
    /// Parses `owner/name`; the error says which part is wrong and why.
    pub fn parse(full: &str) -> Result<Self, String> {
        let Some((owner, name)) = full.split_once('/') else {
            return Err(format!("repository `{full}` is not of the form owner/name"));
        };
        let owner_ok = !owner.is_empty()
            && owner.len() <= 39
            && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !owner.starts_with('-')
            && !owner.ends_with('-')
            && !owner.contains("--");
        if !owner_ok {
            return Err(format!(
                "repository owner `{owner}` must be 1 to 39 letters, digits or single hyphens, \
                 not starting or ending with a hyphen"
            ));
        }
        let name_ok = !name.is_empty()
            && name.len() <= 100
            && name != "."
            && name != ".."
            && !name.ends_with(".git")
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !name_ok {
            return Err(format!(
                "repository name `{name}` must be 1 to 100 letters, digits, '.', '_' or '-' \
                 (not `.`, `..` or ending in .git)"
            ));
        }
        Ok(Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The REST path of the repository, `/repos/owner/name`.
    pub fn path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_githubs_rules() {
        let r = RepoName::parse("acme-co/shop.web_2").unwrap();
        assert_eq!((r.owner(), r.name()), ("acme-co", "shop.web_2"));
        assert_eq!(r.path(), "/repos/acme-co/shop.web_2");
        assert_eq!(r.to_string(), "acme-co/shop.web_2");
        for bad in [
            "shop",
            "/shop",
            "acme/",
            "-acme/shop",
            "acme-/shop",
            "ac--me/shop",
            "acme/..",
            "acme/.",
            "acme/shop.git",
            "acme/sh op",
            "acme/shop/x",
            "ac%2fme/shop",
            &format!("{}/x", "a".repeat(40)),
            &format!("acme/{}", "a".repeat(101)),
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
