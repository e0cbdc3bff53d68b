//! Query cursors: the position after the last item of a page, as base64url of a
//! small JSON array. It names the index and the partition it was made for, so a
//! cursor replayed against another query is refused instead of silently misread.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart_ports::StoreError;
use rampart_ports::table::{Cursor, Index};

/// Where a page ended. For GSI1 the position needs the index sort key and the
/// primary key, because many items may share one `gsi1sk`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Position {
    Primary {
        sk: String,
    },
    Gsi1 {
        gsi1sk: String,
        pk: String,
        sk: String,
    },
}

const PRIMARY_TAG: &str = "p";
const GSI1_TAG: &str = "g1";

pub(crate) fn encode_cursor(partition: &str, position: &Position) -> Cursor {
    let parts: Vec<&str> = match position {
        Position::Primary { sk } => vec![PRIMARY_TAG, partition, sk],
        Position::Gsi1 { gsi1sk, pk, sk } => vec![GSI1_TAG, partition, gsi1sk, pk, sk],
    };
    let json = serde_json::to_vec(&parts).unwrap_or_default();
    Cursor(URL_SAFE_NO_PAD.encode(json))
}

pub(crate) fn decode_cursor(
    cursor: &Cursor,
    index: Index,
    partition: &str,
) -> Result<Position, StoreError> {
    let bad = || StoreError::Invalid("malformed query cursor".into());
    let json = URL_SAFE_NO_PAD
        .decode(cursor.0.as_bytes())
        .map_err(|_| bad())?;
    let parts: Vec<String> = serde_json::from_slice(&json).map_err(|_| bad())?;
    let position = match (index, parts.as_slice()) {
        (Index::Primary, [tag, p, sk]) if tag == PRIMARY_TAG && p == partition => {
            Position::Primary { sk: sk.clone() }
        }
        (Index::Gsi1, [tag, p, gsi1sk, pk, sk]) if tag == GSI1_TAG && p == partition => {
            Position::Gsi1 {
                gsi1sk: gsi1sk.clone(),
                pk: pk.clone(),
                sk: sk.clone(),
            }
        }
        _ => return Err(bad()),
    };
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let p = Position::Gsi1 {
            gsi1sk: "2026".into(),
            pk: "T#1".into(),
            sk: "x\"y".into(),
        };
        let c = encode_cursor("G", &p);
        assert_eq!(decode_cursor(&c, Index::Gsi1, "G").unwrap(), p);
        assert!(decode_cursor(&c, Index::Primary, "G").is_err());
        assert!(decode_cursor(&c, Index::Gsi1, "other").is_err());
        assert!(decode_cursor(&Cursor("!!".into()), Index::Gsi1, "G").is_err());
        let c = encode_cursor("P", &Position::Primary { sk: "a".into() });
        assert_eq!(
            decode_cursor(&c, Index::Primary, "P").unwrap(),
            Position::Primary { sk: "a".into() }
        );
    }
}
