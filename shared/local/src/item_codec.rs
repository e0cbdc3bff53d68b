//! The stored form of an item's attributes: a compact, tagged binary encoding that
//! round-trips every `Value` variant exactly (an `F` stays an `F` even when whole,
//! NaN and infinities survive, bytes stay bytes), which JSON could not promise.
//!
//! Layout: a version byte, then the attribute map. Every length is a u32 LE.
//! Values are one tag byte followed by the payload.

use rampart_ports::StoreError;
use rampart_ports::table::{Attrs, Value};
use std::collections::BTreeMap;

const FORMAT_V1: u8 = 1;

const TAG_S: u8 = 0;
const TAG_N: u8 = 1;
const TAG_F: u8 = 2;
const TAG_B: u8 = 3;
const TAG_BOOL: u8 = 4;
const TAG_L: u8 = 5;
const TAG_M: u8 = 6;
const TAG_NULL: u8 = 7;

/// Nesting deeper than this is refused on decode so a corrupt blob cannot blow the stack.
const MAX_DEPTH: usize = 64;

pub(crate) fn encode_attrs(attrs: &Attrs) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(FORMAT_V1);
    encode_map(attrs, &mut out);
    out
}

pub(crate) fn decode_attrs(bytes: &[u8]) -> Result<Attrs, StoreError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    match r.u8()? {
        FORMAT_V1 => {}
        v => return Err(corrupt(format!("unknown item format {v}"))),
    }
    let attrs = r.map(0)?;
    if r.pos != bytes.len() {
        return Err(corrupt("trailing bytes after item".into()));
    }
    Ok(attrs)
}

fn encode_len(len: usize, out: &mut Vec<u8>) {
    // Items are bounded far below 4 GiB by the port's callers; saturate rather than wrap.
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    encode_len(b.len(), out);
    out.extend_from_slice(b);
}

fn encode_map(map: &BTreeMap<String, Value>, out: &mut Vec<u8>) {
    encode_len(map.len(), out);
    for (name, value) in map {
        encode_bytes(name.as_bytes(), out);
        encode_value(value, out);
    }
}

fn encode_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::S(s) => {
            out.push(TAG_S);
            encode_bytes(s.as_bytes(), out);
        }
        Value::N(n) => {
            out.push(TAG_N);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Value::F(f) => {
            out.push(TAG_F);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::B(b) => {
            out.push(TAG_B);
            encode_bytes(b, out);
        }
        Value::Bool(b) => {
            out.push(TAG_BOOL);
            out.push(u8::from(*b));
        }
        Value::L(items) => {
            out.push(TAG_L);
            encode_len(items.len(), out);
            for item in items {
                encode_value(item, out);
            }
        }
        Value::M(map) => {
            out.push(TAG_M);
            encode_map(map, out);
        }
        Value::Null => out.push(TAG_NULL),
    }
}

fn corrupt(msg: String) -> StoreError {
    StoreError::Corrupt(msg)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or_else(|| corrupt("item truncated".into()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }

    fn array8(&mut self) -> Result<[u8; 8], StoreError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(a)
    }

    fn len(&mut self) -> Result<usize, StoreError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a) as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let n = self.len()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, StoreError> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| corrupt("string is not UTF-8".into()))
    }

    fn map(&mut self, depth: usize) -> Result<BTreeMap<String, Value>, StoreError> {
        let n = self.len()?;
        let mut map = BTreeMap::new();
        for _ in 0..n {
            let name = self.string()?;
            let value = self.value(depth + 1)?;
            map.insert(name, value);
        }
        Ok(map)
    }

    fn value(&mut self, depth: usize) -> Result<Value, StoreError> {
        if depth > MAX_DEPTH {
            return Err(corrupt("item nested too deeply".into()));
        }
        Ok(match self.u8()? {
            TAG_S => Value::S(self.string()?),
            TAG_N => Value::N(i64::from_le_bytes(self.array8()?)),
            TAG_F => Value::F(f64::from_bits(u64::from_le_bytes(self.array8()?))),
            TAG_B => Value::B(self.bytes()?.to_vec()),
            TAG_BOOL => match self.u8()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(corrupt(format!("bad boolean {b}"))),
            },
            TAG_L => {
                let n = self.len()?;
                // Each element is at least one byte: cap the reservation by what remains.
                let mut items = Vec::with_capacity(n.min(self.buf.len() - self.pos));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::L(items)
            }
            TAG_M => Value::M(self.map(depth + 1)?),
            TAG_NULL => Value::Null,
            t => return Err(corrupt(format!("unknown value tag {t}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Attrs {
        let mut inner = BTreeMap::new();
        inner.insert("x".to_owned(), Value::F(2.0));
        inner.insert(
            "y".to_owned(),
            Value::L(vec![Value::Null, Value::Bool(true)]),
        );
        let mut a = Attrs::new();
        a.insert("s".into(), Value::S("héllo".into()));
        a.insert("n".into(), Value::N(i64::MIN));
        a.insert("f_whole".into(), Value::F(3.0));
        a.insert("f_neg0".into(), Value::F(-0.0));
        a.insert("f_inf".into(), Value::F(f64::INFINITY));
        a.insert("b".into(), Value::B(vec![0, 255, 7]));
        a.insert("empty_b".into(), Value::B(vec![]));
        a.insert("bool".into(), Value::Bool(false));
        a.insert("m".into(), Value::M(inner));
        a.insert("l".into(), Value::L(vec![]));
        a.insert("null".into(), Value::Null);
        a
    }

    #[test]
    fn every_variant_round_trips_exactly() {
        let a = sample();
        let decoded = decode_attrs(&encode_attrs(&a)).unwrap();
        assert_eq!(decoded, a);
        // A whole float stays a float, and -0.0 keeps its sign.
        assert!(matches!(decoded["f_whole"], Value::F(_)));
        assert!(decoded["f_neg0"].as_f64().unwrap().is_sign_negative());
    }

    #[test]
    fn nan_round_trips_bit_for_bit() {
        let mut a = Attrs::new();
        a.insert("nan".into(), Value::F(f64::NAN));
        let decoded = decode_attrs(&encode_attrs(&a)).unwrap();
        match decoded["nan"] {
            Value::F(f) => assert_eq!(f.to_bits(), f64::NAN.to_bits()),
            ref other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_or_garbage_input_is_corrupt_not_a_panic() {
        let bytes = encode_attrs(&sample());
        for cut in 0..bytes.len() {
            assert!(decode_attrs(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_attrs(&[9, 0, 0, 0, 0]).is_err());
        assert!(decode_attrs(&[1, 1, 0, 0, 0, 1, 0, 0, 0, b'a', 99]).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_attrs(&long).is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut v = Value::Null;
        for _ in 0..200 {
            v = Value::L(vec![v]);
        }
        let mut a = Attrs::new();
        a.insert("deep".into(), v);
        assert!(decode_attrs(&encode_attrs(&a)).is_err());
    }
}
