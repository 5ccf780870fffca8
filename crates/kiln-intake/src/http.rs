//! What the three HTTP clients share: one way to build a client, read `Retry-After` and keep
//! outgoing text inside a service's limits, so the adapters differ only in their wire formats.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Long enough for a slow API, short enough that a hung one does not hold a request forever.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("kiln-intake/", env!("CARGO_PKG_VERSION")))
        .timeout(REQUEST_TIMEOUT)
        .build()
        // Building fails only when the TLS backend cannot initialise, which no request could
        // survive either; the default client reports the same failure on first use.
        .unwrap_or_default()
}

/// `Retry-After` in seconds (integer or fractional); HTTP dates are not used by these APIs.
pub(crate) fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    seconds(value.trim().parse::<f64>().ok()?)
}

/// A non-negative, finite number of seconds as a duration.
pub(crate) fn seconds(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// `text` cut to at most `max` characters, marking the cut so a reader knows text is missing.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Base URLs are configured with or without a trailing slash; paths are joined with one.
pub(crate) fn trim_base(base: impl Into<String>) -> String {
    let mut base = base.into();
    while base.ends_with('/') {
        base.pop();
    }
    base
}

/// A transport error without its URL: the Telegram URL carries the bot token and Discord's
/// the interaction token, and errors end up in logs.
pub(crate) fn scrub(err: reqwest::Error) -> reqwest::Error {
    err.without_url()
}

/// Whether a shared secret sent in a header is the one configured, compared in constant time
/// (over digests, so not even the length leaks). An empty configured secret never matches.
pub(crate) fn same_secret(sent: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    !expected.is_empty()
        && bool::from(Sha256::digest(sent.as_bytes()).ct_eq(&Sha256::digest(expected.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo wörld", 6), "héllo…");
        assert_eq!(truncate("héllo wörld", 6).chars().count(), 6);
    }

    #[test]
    fn retry_after_accepts_integer_and_fractional_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3".parse().expect("header"));
        assert_eq!(retry_after_header(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, "1.5".parse().expect("header"));
        assert_eq!(
            retry_after_header(&headers),
            Some(Duration::from_millis(1500))
        );
        headers.insert(RETRY_AFTER, "-1".parse().expect("header"));
        assert_eq!(retry_after_header(&headers), None);
        assert_eq!(trim_base("http://x//"), "http://x");
    }
}
