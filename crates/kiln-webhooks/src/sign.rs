//! Signing of outgoing requests, and the check a subscriber runs to trust them.
//!
//! `Kiln-Signature: t=<unix secs>,v1=<hex hmac_sha256(secret, "<t>.<body>")>`. The key is
//! the whole secret string (`whsec_...`) as bytes. The timestamp is signed with the body,
//! so a captured request cannot be replayed outside the subscriber's tolerance.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::Error;

/// `t=<unix secs>,v1=<hex signature>`.
pub const SIGNATURE: &str = "Kiln-Signature";
/// The CloudEvents id of the task event; the same for every subscriber and every attempt.
pub const EVENT_ID: &str = "Kiln-Event-Id";
/// The event kind (`created`, `stage_finished`, `deployed`, ...).
pub const EVENT_KIND: &str = "Kiln-Event-Kind";
/// This subscriber's delivery of the event; the same for every attempt, so a subscriber
/// that saw it already can skip it.
pub const DELIVERY_ID: &str = "Kiln-Delivery-Id";
/// Which attempt this is, from 1.
pub const ATTEMPT: &str = "Kiln-Attempt";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Kiln-Signature` value of `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// Checks a `Kiln-Signature` header against `body`: the timestamp must be within
/// `tolerance` of `now` (either side) and one `v1` signature must match, compared in
/// constant time. Several `v1` entries are allowed so a key can be rotated.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: OffsetDateTime,
    tolerance: Duration,
) -> Result<(), Error> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(Error::SignatureMalformed)?;
        match key {
            "t" => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| Error::SignatureMalformed)?,
                )
            }
            "v1" => signatures.push(hex::decode(value).map_err(|_| Error::SignatureMalformed)?),
            // Later schemes are ignored, so subscribers keep working when one is added.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Error::SignatureMalformed)?;
    if signatures.is_empty() {
        return Err(Error::SignatureMalformed);
    }
    let age = now.unix_timestamp().saturating_sub(timestamp);
    if age.unsigned_abs() > tolerance.as_secs() {
        return Err(Error::SignatureStale { age_secs: age });
    }
    let expected = mac(secret, timestamp, body);
    if signatures
        .iter()
        .any(|s| expected.clone().verify_slice(s).is_ok())
    {
        Ok(())
    } else {
        Err(Error::SignatureMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_0123456789abcdef";
    const MINUTES: Duration = Duration::from_secs(300);

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    #[test]
    fn a_signed_body_verifies() {
        let header = sign(SECRET, 1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        verify(SECRET, &header, b"{\"a\":1}", at(1_700_000_030), MINUTES).unwrap();
    }

    #[test]
    fn matches_an_independent_computation() {
        // Python: hmac.new(b"whsec_test", b'1700000000.{"kind":"created"}', sha256).hexdigest()
        assert_eq!(
            sign("whsec_test", 1_700_000_000, br#"{"kind":"created"}"#),
            "t=1700000000,v1=6d2c452d2931462dedc7467633368dc709c5bfe270e8287d2412cc6eadbe4140"
        );
    }

    #[test]
    fn a_changed_body_or_secret_is_refused() {
        let header = sign(SECRET, 100, b"body");
        let now = at(100);
        assert!(matches!(
            verify(SECRET, &header, b"bodY", now, MINUTES),
            Err(Error::SignatureMismatch)
        ));
        assert!(matches!(
            verify("whsec_other", &header, b"body", now, MINUTES),
            Err(Error::SignatureMismatch)
        ));
    }

    #[test]
    fn a_changed_timestamp_is_refused() {
        let header = sign(SECRET, 100, b"body").replace("t=100", "t=101");
        assert!(matches!(
            verify(SECRET, &header, b"body", at(100), MINUTES),
            Err(Error::SignatureMismatch)
        ));
    }

    #[test]
    fn old_and_future_timestamps_are_refused() {
        let header = sign(SECRET, 1000, b"body");
        assert!(matches!(
            verify(SECRET, &header, b"body", at(1301), MINUTES),
            Err(Error::SignatureStale { age_secs: 301 })
        ));
        assert!(matches!(
            verify(SECRET, &header, b"body", at(699), MINUTES),
            Err(Error::SignatureStale { age_secs: -301 })
        ));
        verify(SECRET, &header, b"body", at(1300), MINUTES).unwrap();
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let good = sign(SECRET, 5, b"b");
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=5,v1={},v1={v1},v0=zz", "00".repeat(32));
        verify(SECRET, &header, b"b", at(5), MINUTES).unwrap();
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in [
            "",
            "t=5",
            "v1=00",
            "t=x,v1=00",
            "t=5,v1=zz",
            "t=5;v1=00",
            "garbage",
        ] {
            assert!(
                matches!(
                    verify(SECRET, header, b"b", at(5), MINUTES),
                    Err(Error::SignatureMalformed)
                ),
                "{header:?} accepted"
            );
        }
    }
}
