//! HTTP plumbing the wire adapters share: one client per model, time limits, and the
//! classification of failures into [`Error`] variants the chain can act on.

use std::time::Duration;

use bytes::Bytes;
use kiln_runtime::Secret;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::Value;

use crate::error::truncate_chars;
use crate::{Error, ModelConfig, Provider};

/// Longest body excerpt an error carries.
const EXCERPT_CHARS: usize = 500;

#[derive(Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    provider: Provider,
    model: String,
    timeout: Duration,
    key: Option<Secret>,
}

impl Http {
    pub(crate) fn new(config: &ModelConfig) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidConfig {
            model: config.model.clone(),
            reason: reason.into(),
        };
        if config.model.trim().is_empty() {
            return Err(invalid("model is empty"));
        }
        // Sending without the key the operator configured would fail confusingly later.
        if config.api_key.is_none() && config.api_key_file.is_some() {
            return Err(invalid(
                "api_key_file is set but not resolved (call resolve_key first)",
            ));
        }
        let timeout = Duration::from_secs(config.timeout_secs.max(1));
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .build()
            .map_err(Error::Client)?;
        Ok(Self {
            client,
            provider: config.provider,
            model: config.model.clone(),
            timeout,
            key: config.api_key.clone(),
        })
    }

    pub(crate) fn key(&self) -> Option<&Secret> {
        self.key.as_ref()
    }

    /// `value` as a header value marked sensitive, so `Debug` of the request hides it.
    pub(crate) fn secret_header(
        &self,
        name: &'static str,
        value: &str,
    ) -> Result<(HeaderName, HeaderValue), Error> {
        let mut v = HeaderValue::from_str(value).map_err(|_| Error::InvalidConfig {
            model: self.model.clone(),
            reason: "api key is not a valid header value".into(),
        })?;
        v.set_sensitive(true);
        Ok((HeaderName::from_static(name), v))
    }

    /// Posts `body` to `url`. `whole` limits the entire exchange to the timeout; otherwise
    /// (streaming) only the wait for the response head is limited here and the caller
    /// limits each chunk with [`Http::next_chunk`].
    pub(crate) async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: &Value,
        whole: bool,
    ) -> Result<reqwest::Response, Error> {
        let mut request = self.client.post(url).headers(headers).json(body);
        if whole {
            request = request.timeout(self.timeout);
        }
        let response = tokio::time::timeout(self.timeout, request.send())
            .await
            .map_err(|_| self.timed_out())?
            .map_err(|e| self.transport(e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.status_error(response).await)
    }

    /// The whole body as JSON.
    pub(crate) async fn json(&self, response: reqwest::Response) -> Result<Value, Error> {
        let bytes = tokio::time::timeout(self.timeout, response.bytes())
            .await
            .map_err(|_| self.timed_out())?
            .map_err(|e| self.transport(e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
            reason: format!("response body is not json: {e}"),
        })
    }

    /// The next piece of a streamed body; a stream that stalls for the timeout fails.
    pub(crate) async fn next_chunk(
        &self,
        response: &mut reqwest::Response,
    ) -> Result<Option<Bytes>, Error> {
        tokio::time::timeout(self.timeout, response.chunk())
            .await
            .map_err(|_| self.timed_out())?
            .map_err(|e| self.transport(e))
    }

    fn timed_out(&self) -> Error {
        Error::Timeout {
            provider: self.provider,
            model: self.model.clone(),
            after: self.timeout,
        }
    }

    fn transport(&self, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            self.timed_out()
        } else {
            Error::Connect {
                provider: self.provider,
                model: self.model.clone(),
                source: e.without_url(),
            }
        }
    }

    async fn status_error(&self, response: reqwest::Response) -> Error {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        // The body only adds context; a body that does not arrive must not hide the status.
        let body = tokio::time::timeout(self.timeout, response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        Error::Status {
            status,
            retry_after,
            body_excerpt: excerpt(&body, self.key.as_ref()),
        }
    }
}

/// `Retry-After` in seconds (the form providers use; an HTTP date is ignored).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// The start of an error body, with the key removed in case the provider echoes it.
pub(crate) fn excerpt(body: &str, key: Option<&Secret>) -> String {
    let redacted = match key.map(Secret::expose) {
        Some(k) if !k.is_empty() => body.replace(k, "[redacted]"),
        _ => body.to_string(),
    };
    truncate_chars(redacted.trim(), EXCERPT_CHARS)
}

/// `name` restricted to what providers accept for schema and tool names.
pub(crate) fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "answer".into()
    } else {
        cleaned
    }
}

/// A temperature as the short decimal the caller meant (`0.2`, not `0.20000000298`).
pub(crate) fn temperature(t: f32) -> f64 {
    (f64::from(t) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_redacted() {
        let key = Secret::new("sk-live-123");
        let body = format!("invalid key sk-live-123 {}", "x".repeat(1000));
        let e = excerpt(&body, Some(&key));
        assert!(!e.contains("sk-live-123"));
        assert!(e.starts_with("invalid key [redacted]"));
        assert_eq!(e.chars().count(), 500);
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 2.5 "),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn names_and_temperatures() {
        assert_eq!(safe_name("Plan v1/stories"), "Plan_v1_stories");
        assert_eq!(safe_name(""), "answer");
        assert_eq!(temperature(0.2), 0.2);
    }
}
