//! Applies an `Update` to an item's attributes the way DynamoDB's UpdateItem does:
//! sets, then removes, then atomic adds (a missing attribute counts as 0).

use rampart_ports::StoreError;
use rampart_ports::table::{Attrs, Update, Value};
use std::collections::HashSet;

/// Refuses updates DynamoDB would refuse, so both adapters fail the same calls:
/// touching the key, or naming one attribute twice ("overlapping paths").
pub(crate) fn validate_update(update: &Update) -> Result<(), StoreError> {
    let names = update
        .set
        .iter()
        .map(|(n, _)| n)
        .chain(&update.remove)
        .chain(update.add.iter().map(|(n, _)| n));
    let mut seen = HashSet::new();
    for name in names {
        if name == "pk" || name == "sk" {
            return Err(StoreError::Invalid(format!("attribute {name} is the key")));
        }
        if name.is_empty() {
            return Err(StoreError::Invalid("empty attribute name".into()));
        }
        if !seen.insert(name.as_str()) {
            return Err(StoreError::Invalid(format!(
                "attribute {name} appears twice in one update"
            )));
        }
    }
    Ok(())
}

/// `attrs` is the live item's attributes (empty when it is absent or expired).
pub(crate) fn apply_update(attrs: &mut Attrs, update: &Update) -> Result<(), StoreError> {
    for (name, value) in &update.set {
        attrs.insert(name.clone(), value.clone());
    }
    for name in &update.remove {
        attrs.remove(name);
    }
    for (name, by) in &update.add {
        let next = match attrs.get(name) {
            None => Value::N(*by),
            Some(Value::N(n)) => Value::N(
                n.checked_add(*by)
                    .ok_or_else(|| StoreError::Invalid(format!("{name} would overflow")))?,
            ),
            Some(Value::F(f)) => Value::F(f + *by as f64),
            Some(_) => {
                return Err(StoreError::Invalid(format!(
                    "cannot add to non-numeric attribute {name}"
                )));
            }
        };
        attrs.insert(name.clone(), next);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_remove_add() {
        let mut a = Attrs::new();
        a.insert("gone".into(), Value::Bool(true));
        a.insert("count".into(), Value::N(2));
        let u = Update::new()
            .set("name", "x")
            .remove("gone")
            .add("count", 3)
            .add("fresh", -1);
        validate_update(&u).unwrap();
        apply_update(&mut a, &u).unwrap();
        assert_eq!(a.get("name"), Some(&Value::S("x".into())));
        assert!(!a.contains_key("gone"));
        assert_eq!(a.get("count"), Some(&Value::N(5)));
        assert_eq!(a.get("fresh"), Some(&Value::N(-1)));
    }

    #[test]
    fn refusals() {
        assert!(validate_update(&Update::new().set("pk", "x")).is_err());
        assert!(validate_update(&Update::new().set("a", "x").remove("a")).is_err());
        let mut a = Attrs::new();
        a.insert("s".into(), Value::S("x".into()));
        assert!(apply_update(&mut a, &Update::new().add("s", 1)).is_err());
        a.insert("n".into(), Value::N(i64::MAX));
        assert!(apply_update(&mut a, &Update::new().add("n", 1)).is_err());
    }
}
