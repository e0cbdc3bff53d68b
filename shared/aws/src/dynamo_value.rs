//! Conversions between the table port's [`Value`] and DynamoDB's `AttributeValue`.
//!
//! Both types are foreign to this crate, so the conversions go through the local
//! newtype [`Attr`]. Both directions are fallible: a non-finite float has no
//! DynamoDB number form, and a stored value may not decode (an unparsable number,
//! a type this port does not know). Error messages name the problem, never the value.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use rampart_ports::table::Attrs;
use rampart_ports::{Item, Key, StoreError, Value};
use std::collections::HashMap;

/// A DynamoDB attribute value, as converted from or to a port [`Value`].
#[derive(Clone, Debug, PartialEq)]
pub struct Attr(pub AttributeValue);

impl TryFrom<Value> for Attr {
    type Error = StoreError;

    fn try_from(v: Value) -> Result<Self, StoreError> {
        Ok(Attr(match v {
            Value::S(s) => AttributeValue::S(s),
            Value::N(n) => AttributeValue::N(n.to_string()),
            Value::F(f) => AttributeValue::N(float_to_decimal(f)?),
            Value::B(b) => AttributeValue::B(Blob::new(b)),
            Value::Bool(b) => AttributeValue::Bool(b),
            Value::L(l) => AttributeValue::L(
                l.into_iter()
                    .map(|v| Attr::try_from(v).map(|a| a.0))
                    .collect::<Result<_, _>>()?,
            ),
            Value::M(m) => AttributeValue::M(
                m.into_iter()
                    .map(|(k, v)| Attr::try_from(v).map(|a| (k, a.0)))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Null => AttributeValue::Null(true),
        }))
    }
}

impl TryFrom<Attr> for Value {
    type Error = StoreError;

    fn try_from(a: Attr) -> Result<Self, StoreError> {
        Ok(match a.0 {
            AttributeValue::S(s) => Value::S(s),
            AttributeValue::N(n) => parse_number(&n)?,
            AttributeValue::B(b) => Value::B(b.into_inner()),
            AttributeValue::Bool(b) => Value::Bool(b),
            AttributeValue::Null(_) => Value::Null,
            AttributeValue::L(l) => Value::L(
                l.into_iter()
                    .map(|a| Value::try_from(Attr(a)))
                    .collect::<Result<_, _>>()?,
            ),
            AttributeValue::M(m) => Value::M(
                m.into_iter()
                    .map(|(k, a)| Value::try_from(Attr(a)).map(|v| (k, v)))
                    .collect::<Result<_, _>>()?,
            ),
            // The port never writes sets; read one written by other tooling as a list.
            AttributeValue::Ss(s) => Value::L(s.into_iter().map(Value::S).collect()),
            AttributeValue::Ns(n) => Value::L(
                n.iter()
                    .map(|n| parse_number(n))
                    .collect::<Result<_, _>>()?,
            ),
            AttributeValue::Bs(b) => {
                Value::L(b.into_iter().map(|b| Value::B(b.into_inner())).collect())
            }
            _ => {
                return Err(StoreError::Corrupt(
                    "unknown DynamoDB attribute type".into(),
                ));
            }
        })
    }
}

/// A DynamoDB number: `N` when it is a whole number that fits an i64, else `F`.
fn parse_number(s: &str) -> Result<Value, StoreError> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(Value::N(n));
    }
    let f: f64 = s
        .parse()
        .map_err(|_| StoreError::Corrupt("stored number does not parse".into()))?;
    if !f.is_finite() {
        return Err(StoreError::Corrupt("stored number out of range".into()));
    }
    // Whole numbers written in another form ("1E+3", "2.0") are still integers.
    if f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63) {
        return Ok(Value::N(f as i64));
    }
    Ok(Value::F(f))
}

/// The shortest decimal string that reads back as the same f64, in a form DynamoDB
/// accepts (plain notation for ordinary magnitudes, exponent notation otherwise).
fn float_to_decimal(f: f64) -> Result<String, StoreError> {
    if !f.is_finite() {
        return Err(StoreError::Invalid(
            "a non-finite float cannot be stored".into(),
        ));
    }
    let a = f.abs();
    if a == 0.0 || (1e-7..1e21).contains(&a) {
        Ok(format!("{f}"))
    } else {
        Ok(format!("{f:e}"))
    }
}

/// An item as DynamoDB stores it: `pk` and `sk` as strings beside the attributes.
pub fn item_to_map(item: Item) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut map = key_to_map(&item.key);
    for (name, value) in item.attrs {
        map.insert(name, Attr::try_from(value)?.0);
    }
    Ok(map)
}

pub fn key_to_map(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk.clone())),
        ("sk".to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// The port item of a stored DynamoDB item.
pub fn map_to_item(mut map: HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    let mut key_part = |name: &str| match map.remove(name) {
        Some(AttributeValue::S(s)) => Ok(s),
        _ => Err(StoreError::Corrupt(format!(
            "stored item has no string {name}"
        ))),
    };
    let key = Key {
        pk: key_part("pk")?,
        sk: key_part("sk")?,
    };
    let attrs = map
        .into_iter()
        .map(|(k, a)| Value::try_from(Attr(a)).map(|v| (k, v)))
        .collect::<Result<Attrs, _>>()?;
    Ok(Item { key, attrs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn round_trip(v: Value) -> Value {
        Value::try_from(Attr::try_from(v).unwrap()).unwrap()
    }

    #[test]
    fn every_value_round_trips() {
        let nested = Value::M(BTreeMap::from([
            (
                "a".to_owned(),
                Value::L(vec![Value::N(1), Value::S("x".into())]),
            ),
            ("b".to_owned(), Value::Null),
            ("c".to_owned(), Value::B(vec![0, 255])),
        ]));
        for v in [
            Value::S(String::new()),
            Value::S("héllo".into()),
            Value::N(0),
            Value::N(-42),
            Value::N(i64::MAX),
            Value::N(i64::MIN),
            Value::F(1.5),
            Value::F(-0.1),
            Value::F(1e-300),
            Value::F(6.02e23),
            Value::B(vec![]),
            Value::Bool(true),
            Value::Bool(false),
            Value::Null,
            Value::L(vec![]),
            nested,
        ] {
            assert_eq!(round_trip(v.clone()), v);
        }
    }

    #[test]
    fn numbers_map_to_decimal_strings() {
        let n = |v| match Attr::try_from(v).unwrap().0 {
            AttributeValue::N(s) => s,
            other => panic!("not a number: {other:?}"),
        };
        assert_eq!(n(Value::N(-7)), "-7");
        assert_eq!(n(Value::F(0.25)), "0.25");
        assert_eq!(n(Value::F(1e300)), "1e300");
    }

    #[test]
    fn whole_floats_read_back_as_integers() {
        assert_eq!(round_trip(Value::F(2.0)), Value::N(2));
        for (s, v) in [
            ("1E+3", Value::N(1000)),
            ("2.0", Value::N(2)),
            ("2.5", Value::F(2.5)),
        ] {
            assert_eq!(
                Value::try_from(Attr(AttributeValue::N(s.into()))).unwrap(),
                v
            );
        }
    }

    #[test]
    fn non_finite_floats_and_bad_numbers_are_refused() {
        assert!(matches!(
            Attr::try_from(Value::F(f64::NAN)),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            Attr::try_from(Value::L(vec![Value::F(f64::INFINITY)])),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            Value::try_from(Attr(AttributeValue::N("twelve".into()))),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn sets_read_as_lists() {
        let v = Value::try_from(Attr(AttributeValue::Ns(vec!["1".into(), "1.5".into()]))).unwrap();
        assert_eq!(v, Value::L(vec![Value::N(1), Value::F(1.5)]));
    }

    #[test]
    fn items_keep_their_key_apart_from_their_attributes() {
        let item = Item::new(Key::new("p", "s")).with("n", 3);
        let map = item_to_map(item.clone()).unwrap();
        assert_eq!(map["pk"], AttributeValue::S("p".into()));
        assert_eq!(map_to_item(map).unwrap(), item);
        let no_sk = HashMap::from([("pk".to_owned(), AttributeValue::S("p".into()))]);
        assert!(matches!(map_to_item(no_sk), Err(StoreError::Corrupt(_))));
    }
}
