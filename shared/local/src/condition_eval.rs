//! Evaluates a `Condition` against the live item a write targets, with the port's
//! semantics (which are DynamoDB's): every leaf except `NotExists` needs the item to
//! exist; comparisons against a missing attribute are false; ordering compares
//! numbers numerically (`N` and `F` together) and strings bytewise, nothing else.

use rampart_ports::table::{Attrs, Condition, Value};
use std::cmp::Ordering;

/// `item` is the live item (already TTL-filtered), or None when absent.
pub(crate) fn holds(condition: &Condition, item: Option<&Attrs>) -> bool {
    match condition {
        Condition::NotExists => item.is_none(),
        Condition::Exists => item.is_some(),
        Condition::And(all) => all.iter().all(|c| holds(c, item)),
        Condition::Or(any) => any.iter().any(|c| holds(c, item)),
        leaf => item.is_some_and(|attrs| leaf_holds(leaf, attrs)),
    }
}

fn leaf_holds(condition: &Condition, attrs: &Attrs) -> bool {
    match condition {
        Condition::AttrExists(name) => attrs.contains_key(name),
        Condition::AttrNotExists(name) => !attrs.contains_key(name),
        Condition::Eq(name, v) => attrs.get(name).is_some_and(|a| values_equal(a, v)),
        // A missing attribute makes every comparison false, `Ne` included.
        Condition::Ne(name, v) => attrs.get(name).is_some_and(|a| !values_equal(a, v)),
        Condition::Lt(name, v) => ordered(attrs.get(name), v, Ordering::is_lt),
        Condition::Le(name, v) => ordered(attrs.get(name), v, Ordering::is_le),
        Condition::Gt(name, v) => ordered(attrs.get(name), v, Ordering::is_gt),
        Condition::Ge(name, v) => ordered(attrs.get(name), v, Ordering::is_ge),
        Condition::Exists | Condition::NotExists | Condition::And(_) | Condition::Or(_) => {
            unreachable!("handled by holds")
        }
    }
}

fn ordered(attr: Option<&Value>, v: &Value, test: fn(Ordering) -> bool) -> bool {
    attr.and_then(|a| compare(a, v)).is_some_and(test)
}

/// Ordering where the port defines one; None for mixed or unordered types (and NaN).
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::N(x), Value::N(y)) => Some(x.cmp(y)),
        (Value::S(x), Value::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::N(_) | Value::F(_) => v.as_f64(),
        _ => None,
    }
}

/// Equality as a number store sees it: `N(1)` equals `F(1.0)` (DynamoDB keeps one
/// number type), everything else structurally.
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::N(x), Value::N(y)) => x == y,
        (Value::N(_) | Value::F(_), Value::N(_) | Value::F(_)) => {
            compare(a, b) == Some(Ordering::Equal)
        }
        (Value::L(x), Value::L(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::M(x), Value::M(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kp, p), (kq, q))| kp == kq && values_equal(p, q))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Attrs {
        let mut a = Attrs::new();
        a.insert("n".into(), Value::N(5));
        a.insert("f".into(), Value::F(2.5));
        a.insert("s".into(), Value::S("b".into()));
        a.insert("bool".into(), Value::Bool(true));
        a
    }

    #[test]
    fn existence() {
        let a = item();
        assert!(holds(&Condition::Exists, Some(&a)));
        assert!(!holds(&Condition::Exists, None));
        assert!(holds(&Condition::NotExists, None));
        assert!(!holds(&Condition::NotExists, Some(&a)));
        // Leaves other than NotExists need the item.
        assert!(!holds(&Condition::AttrNotExists("x".into()), None));
        assert!(holds(&Condition::AttrNotExists("x".into()), Some(&a)));
        let create_or_match = Condition::Or(vec![Condition::NotExists, Condition::eq("n", 5)]);
        assert!(holds(&create_or_match, None));
        assert!(holds(&create_or_match, Some(&a)));
    }

    #[test]
    fn comparisons() {
        let a = item();
        let a = Some(&a);
        assert!(holds(&Condition::Lt("n".into(), Value::F(5.5)), a));
        assert!(holds(&Condition::Gt("f".into(), Value::N(2)), a));
        assert!(holds(&Condition::Ge("n".into(), Value::N(5)), a));
        assert!(holds(&Condition::Le("s".into(), Value::S("b".into())), a));
        assert!(holds(&Condition::Lt("s".into(), Value::S("c".into())), a));
        assert!(!holds(&Condition::Lt("s".into(), Value::N(1)), a));
        assert!(!holds(&Condition::Lt("bool".into(), Value::Bool(true)), a));
        assert!(!holds(&Condition::Lt("missing".into(), Value::N(1)), a));
        assert!(!holds(&Condition::Ne("missing".into(), Value::N(1)), a));
        assert!(holds(&Condition::Ne("n".into(), Value::N(1)), a));
        assert!(holds(&Condition::Eq("n".into(), Value::F(5.0)), a));
    }
}
