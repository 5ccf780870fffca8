//! Opaque pagination cursors: the `(created_at, id)` of the last task of a page, so the next
//! page starts exactly after it however many tasks arrive meanwhile.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use uuid::Uuid;

/// 16 bytes of Unix nanoseconds (big endian) followed by the 16 bytes of the id.
const LEN: usize = 32;

/// The cursor pointing after a task created at `created_at` with `id`.
pub fn encode(created_at: OffsetDateTime, id: Uuid) -> String {
    let mut raw = [0u8; LEN];
    raw[..16].copy_from_slice(&created_at.unix_timestamp_nanos().to_be_bytes());
    raw[16..].copy_from_slice(id.as_bytes());
    URL_SAFE_NO_PAD.encode(raw)
}

/// Reads a cursor made by [`encode`]; `None` for anything else.
pub fn decode(cursor: &str) -> Option<(OffsetDateTime, Uuid)> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let raw: [u8; LEN] = raw.try_into().ok()?;
    let mut nanos = [0u8; 16];
    nanos.copy_from_slice(&raw[..16]);
    let created_at = OffsetDateTime::from_unix_timestamp_nanos(i128::from_be_bytes(nanos)).ok()?;
    let id = Uuid::from_slice(&raw[16..]).ok()?;
    Some((created_at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_microsecond_timestamps_and_ids() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_754_000_000_123_456_000).unwrap();
        let id = Uuid::now_v7();
        let c = encode(at, id);
        assert!(
            c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{c}"
        );
        assert_eq!(decode(&c), Some((at, id)));
    }

    #[test]
    fn refuses_what_it_did_not_issue() {
        let good = encode(OffsetDateTime::UNIX_EPOCH, Uuid::nil());
        for bad in [
            "",
            "x",
            "not base64!",
            &good[..good.len() - 1],
            &format!("{good}AA"),
        ] {
            assert_eq!(decode(bad), None, "{bad:?} accepted");
        }
        // Far outside the representable range of dates.
        let mut raw = [0u8; LEN];
        raw[..16].copy_from_slice(&i128::MAX.to_be_bytes());
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode(raw)), None);
    }
}
