//! Translation of port conditions, updates and sort-key ranges into DynamoDB
//! expressions. Every attribute name goes through a `#n` placeholder and every
//! value through a `:v` placeholder; nothing from the caller is inlined.
//!
//! TTL: DynamoDB deletes expired items late (up to days), so an item whose `ttl`
//! is at or before now must look absent to conditions too. "The item is live" is
//! `attribute_exists(pk) AND (attribute_not_exists(ttl) OR ttl > :now)`;
//! `Condition::NotExists` is its negation, and every other condition holds only on
//! a live item (the port's rule: every condition except `NotExists` requires the
//! item to exist).
//!
//! Parentheses: every compound expression comes out parenthesized exactly once;
//! DynamoDB refuses `((...))` as "redundant parentheses".

use aws_sdk_dynamodb::types::AttributeValue;
use rampart_ports::table::{GSI1_PK, GSI1_SK, TTL_ATTR};
use rampart_ports::{Condition, Index, SortKey, StoreError, Update, Value};
use std::collections::HashMap;

use crate::dynamo_value::Attr;

/// Placeholder maps for one request.
#[derive(Debug, Default)]
pub struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    pub fn new() -> Self {
        Self::default()
    }

    /// The placeholder of an attribute name (one per distinct name).
    pub fn name(&mut self, name: &str) -> String {
        if let Some((ph, _)) = self.names.iter().find(|(_, n)| *n == name) {
            return ph.clone();
        }
        let ph = format!("#n{}", self.names.len());
        self.names.insert(ph.clone(), name.to_owned());
        ph
    }

    pub fn attr(&mut self, value: AttributeValue) -> String {
        let ph = format!(":v{}", self.values.len());
        self.values.insert(ph.clone(), value);
        ph
    }

    pub fn value(&mut self, value: Value) -> Result<String, StoreError> {
        Ok(self.attr(Attr::try_from(value)?.0))
    }

    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// `attribute_exists(pk) AND (attribute_not_exists(ttl) OR ttl > :now)`.
    fn live(&mut self, now_secs: i64) -> String {
        let pk = self.name("pk");
        let ttl = self.name(TTL_ATTR);
        let now = self.attr(AttributeValue::N(now_secs.to_string()));
        format!("(attribute_exists({pk}) AND (attribute_not_exists({ttl}) OR {ttl} > {now}))")
    }

    /// `attribute_not_exists(pk) OR ttl <= :now`: absent or expired.
    fn absent(&mut self, now_secs: i64) -> String {
        let pk = self.name("pk");
        let ttl = self.name(TTL_ATTR);
        let now = self.attr(AttributeValue::N(now_secs.to_string()));
        format!("(attribute_not_exists({pk}) OR {ttl} <= {now})")
    }

    /// The condition expression of a port condition, evaluated at `now_secs`.
    pub fn condition(&mut self, c: &Condition, now_secs: i64) -> Result<String, StoreError> {
        if mentions_not_exists(c) {
            // Guard each leaf on its own so that NotExists can hold inside Or/And.
            self.guarded(c, now_secs)
        } else {
            let live = self.live(now_secs);
            Ok(match self.raw(c)? {
                Bool::True => live,
                Bool::False => self.never(),
                Bool::Expr(e) => format!("({live} AND {e})"),
            })
        }
    }

    /// An expression that is false on every item.
    fn never(&mut self) -> String {
        let pk = self.name("pk");
        format!("(attribute_exists({pk}) AND attribute_not_exists({pk}))")
    }

    fn guarded(&mut self, c: &Condition, now: i64) -> Result<String, StoreError> {
        Ok(match c {
            Condition::NotExists => self.absent(now),
            Condition::Exists => self.live(now),
            Condition::And(cs) | Condition::Or(cs) if cs.is_empty() => {
                if matches!(c, Condition::And(_)) {
                    self.live(now)
                } else {
                    self.never()
                }
            }
            Condition::And(cs) => join(cs.iter().map(|c| self.guarded(c, now)), " AND ")?,
            Condition::Or(cs) => join(cs.iter().map(|c| self.guarded(c, now)), " OR ")?,
            leaf => {
                let live = self.live(now);
                match self.raw(leaf)? {
                    Bool::Expr(e) => format!("({live} AND {e})"),
                    _ => unreachable!("leaves are expressions"),
                }
            }
        })
    }

    /// A condition without NotExists, ignoring existence and TTL.
    fn raw(&mut self, c: &Condition) -> Result<Bool, StoreError> {
        let cmp = |s: &mut Self, a: &str, op: &str, v: &Value| -> Result<Bool, StoreError> {
            let n = s.name(a);
            let v = s.value(v.clone())?;
            Ok(Bool::Expr(format!("{n} {op} {v}")))
        };
        match c {
            Condition::Exists => Ok(Bool::True),
            Condition::NotExists => Err(StoreError::Invalid("NotExists in raw condition".into())),
            Condition::AttrExists(a) => {
                Ok(Bool::Expr(format!("attribute_exists({})", self.name(a))))
            }
            Condition::AttrNotExists(a) => Ok(Bool::Expr(format!(
                "attribute_not_exists({})",
                self.name(a)
            ))),
            Condition::Eq(a, v) => cmp(self, a, "=", v),
            // DynamoDB's `<>` holds for a missing attribute; the port says a
            // comparison against a missing attribute is false.
            Condition::Ne(a, v) => {
                let n = self.name(a);
                let v = self.value(v.clone())?;
                Ok(Bool::Expr(format!(
                    "(attribute_exists({n}) AND {n} <> {v})"
                )))
            }
            Condition::Lt(a, v) => cmp(self, a, "<", v),
            Condition::Le(a, v) => cmp(self, a, "<=", v),
            Condition::Gt(a, v) => cmp(self, a, ">", v),
            Condition::Ge(a, v) => cmp(self, a, ">=", v),
            Condition::And(cs) => {
                let mut parts = Vec::new();
                for c in cs {
                    match self.raw(c)? {
                        Bool::True => {}
                        Bool::False => return Ok(Bool::False),
                        Bool::Expr(e) => parts.push(e),
                    }
                }
                Ok(match parts.len() {
                    0 => Bool::True,
                    1 => Bool::Expr(parts.remove(0)),
                    _ => Bool::Expr(format!("({})", parts.join(" AND "))),
                })
            }
            Condition::Or(cs) => {
                let mut parts = Vec::new();
                for c in cs {
                    match self.raw(c)? {
                        Bool::True => return Ok(Bool::True),
                        Bool::False => {}
                        Bool::Expr(e) => parts.push(e),
                    }
                }
                Ok(match parts.len() {
                    0 => Bool::False,
                    1 => Bool::Expr(parts.remove(0)),
                    _ => Bool::Expr(format!("({})", parts.join(" OR "))),
                })
            }
        }
    }

    /// `SET #a = :v, ... REMOVE #b ... ADD #c :n ...`
    pub fn update(&mut self, u: &Update) -> Result<String, StoreError> {
        let mut clauses = Vec::new();
        if !u.set.is_empty() {
            let mut parts = Vec::new();
            for (name, value) in &u.set {
                let n = self.name(name);
                let v = self.value(value.clone())?;
                parts.push(format!("{n} = {v}"));
            }
            clauses.push(format!("SET {}", parts.join(", ")));
        }
        if !u.remove.is_empty() {
            let parts: Vec<_> = u.remove.iter().map(|n| self.name(n)).collect();
            clauses.push(format!("REMOVE {}", parts.join(", ")));
        }
        if !u.add.is_empty() {
            let mut parts = Vec::new();
            for (name, by) in &u.add {
                let n = self.name(name);
                let v = self.attr(AttributeValue::N(by.to_string()));
                parts.push(format!("{n} {v}"));
            }
            clauses.push(format!("ADD {}", parts.join(", ")));
        }
        Ok(clauses.join(" "))
    }

    /// The key condition of a query on `index`.
    pub fn key_condition(&mut self, index: Index, pk: &str, sk: &SortKey) -> String {
        let (pk_name, sk_name) = match index {
            Index::Primary => ("pk", "sk"),
            Index::Gsi1 => (GSI1_PK, GSI1_SK),
        };
        let p = self.name(pk_name);
        let pv = self.attr(AttributeValue::S(pk.to_owned()));
        let head = format!("{p} = {pv}");
        if *sk == SortKey::All {
            // DynamoDB refuses placeholders that the expression does not use.
            return head;
        }
        let s = self.name(sk_name);
        let mut v = |x: &str| self.attr(AttributeValue::S(x.to_owned()));
        let tail = match sk {
            SortKey::All => unreachable!("handled above"),
            SortKey::BeginsWith(x) => format!("begins_with({s}, {})", v(x)),
            SortKey::Between(a, b) => {
                let a = v(a);
                format!("{s} BETWEEN {a} AND {}", v(b))
            }
            SortKey::Lt(x) => format!("{s} < {}", v(x)),
            SortKey::Le(x) => format!("{s} <= {}", v(x)),
            SortKey::Gt(x) => format!("{s} > {}", v(x)),
            SortKey::Ge(x) => format!("{s} >= {}", v(x)),
        };
        format!("{head} AND {tail}")
    }
}

enum Bool {
    True,
    False,
    Expr(String),
}

fn join(
    parts: impl Iterator<Item = Result<String, StoreError>>,
    sep: &str,
) -> Result<String, StoreError> {
    let mut parts = parts.collect::<Result<Vec<_>, _>>()?;
    // DynamoDB refuses redundant parentheses, `((...))`.
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        format!("({})", parts.join(sep))
    })
}

fn mentions_not_exists(c: &Condition) -> bool {
    match c {
        Condition::NotExists => true,
        Condition::And(cs) | Condition::Or(cs) => cs.iter().any(mentions_not_exists),
        _ => false,
    }
}

/// Whether `c` holds on an absent (or expired) item: only through `NotExists`.
pub fn holds_when_absent(c: &Condition) -> bool {
    match c {
        Condition::NotExists => true,
        Condition::And(cs) => cs.iter().all(holds_when_absent),
        Condition::Or(cs) => cs.iter().any(holds_when_absent),
        _ => false,
    }
}

/// Refuses updates DynamoDB would reject (key attributes, one name twice), so the
/// caller gets `Invalid` rather than a service error.
pub fn validate_update(u: &Update) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::new();
    let names = u
        .set
        .iter()
        .map(|(n, _)| n)
        .chain(&u.remove)
        .chain(u.add.iter().map(|(n, _)| n));
    for n in names {
        if n == "pk" || n == "sk" {
            return Err(StoreError::Invalid(format!("attribute {n} is the key")));
        }
        if !seen.insert(n.as_str()) {
            return Err(StoreError::Invalid(format!("attribute {n} updated twice")));
        }
    }
    for (n, v) in &u.set {
        check_ttl_value(n, v)?;
    }
    Ok(())
}

/// `ttl` must be whole seconds (`N`): any other type would make TTL filtering in
/// code and in conditions disagree.
pub fn check_ttl_value(name: &str, v: &Value) -> Result<(), StoreError> {
    if name == TTL_ATTR && !matches!(v, Value::N(_)) {
        return Err(StoreError::Invalid("ttl must be whole seconds (N)".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(c: &Condition) -> (String, Expr) {
        let mut e = Expr::new();
        let s = e.condition(c, 100).unwrap();
        (s, e)
    }

    #[test]
    fn names_and_values_are_placeholders() {
        let (s, e) = cond(&Condition::eq("status", "open").and(Condition::lt("n", 3)));
        assert!(!s.contains("status") && !s.contains("open"), "{s}");
        let names = e.names().unwrap();
        assert!(names.values().any(|n| n == "status"));
        assert!(names.values().any(|n| n == "ttl"));
        let values = e.values().unwrap();
        assert!(
            values
                .values()
                .any(|v| *v == AttributeValue::S("open".into()))
        );
        assert!(
            values
                .values()
                .any(|v| *v == AttributeValue::N("100".into()))
        );
    }

    #[test]
    fn not_exists_accepts_expired_items() {
        let (s, _) = cond(&Condition::NotExists);
        assert_eq!(s, "(attribute_not_exists(#n0) OR #n1 <= :v0)");
    }

    #[test]
    fn other_conditions_require_a_live_item() {
        let (s, _) = cond(&Condition::AttrNotExists("x".into()));
        assert!(
            s.starts_with(
                "((attribute_exists(#n0) AND (attribute_not_exists(#n1) OR #n1 > :v0)) AND"
            ),
            "{s}"
        );
        let (s, _) = cond(&Condition::Or(vec![
            Condition::NotExists,
            Condition::eq("a", 1),
        ]));
        assert!(s.contains(" OR ((attribute_exists("), "{s}");
    }

    #[test]
    fn empty_or_never_holds_and_empty_and_means_live() {
        let (s, _) = cond(&Condition::Or(vec![]));
        assert_eq!(s, "(attribute_exists(#n0) AND attribute_not_exists(#n0))");
        let (s, _) = cond(&Condition::And(vec![]));
        assert!(s.starts_with("(attribute_exists(#n0) AND"), "{s}");
    }

    #[test]
    fn no_expression_has_redundant_parentheses() {
        let nested = Condition::And(vec![
            Condition::Or(vec![Condition::And(vec![Condition::eq("a", 1)])]),
            Condition::Or(vec![Condition::NotExists]),
            Condition::And(vec![Condition::Or(vec![
                Condition::NotExists,
                Condition::Exists,
            ])]),
        ]);
        for c in [
            nested.clone(),
            Condition::And(vec![nested]),
            Condition::Ne("x".into(), Value::N(1)),
        ] {
            let (s, _) = cond(&c);
            assert!(!redundant_parens(&s), "{s}");
            let mut e = Expr::new();
            let (_, with_guard) = update_expressions_for_test(&mut e, &c);
            assert!(!redundant_parens(&with_guard), "{with_guard}");
        }
        assert!(redundant_parens("((a AND b))"));
        assert!(!redundant_parens("((a) AND b)"));
    }

    /// Whether `s` has a group that is nothing but another group: `((...))`.
    fn redundant_parens(s: &str) -> bool {
        let b = s.as_bytes();
        let close_of = |open: usize| {
            let mut depth = 0;
            for (i, c) in b.iter().enumerate().skip(open) {
                match c {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            return i;
                        }
                    }
                    _ => {}
                }
            }
            b.len()
        };
        (0..b.len().saturating_sub(1))
            .any(|i| b[i] == b'(' && b[i + 1] == b'(' && close_of(i + 1) + 1 == close_of(i))
    }

    fn update_expressions_for_test(e: &mut Expr, c: &Condition) -> (String, String) {
        crate::dynamo_table::update_expressions(
            e,
            &Update::new().set("a", 1),
            &Some(c.clone()),
            100,
        )
        .unwrap()
    }

    #[test]
    fn holds_when_absent_follows_not_exists() {
        assert!(holds_when_absent(&Condition::NotExists));
        assert!(!holds_when_absent(&Condition::AttrNotExists("a".into())));
        assert!(holds_when_absent(&Condition::Or(vec![
            Condition::Exists,
            Condition::NotExists
        ])));
        assert!(!holds_when_absent(&Condition::And(vec![
            Condition::Exists,
            Condition::NotExists
        ])));
    }

    #[test]
    fn updates_list_each_clause_once() {
        let mut e = Expr::new();
        let u = Update::new()
            .set("a", 1)
            .set("b", "x")
            .remove("c")
            .add("d", 2);
        assert_eq!(
            e.update(&u).unwrap(),
            "SET #n0 = :v0, #n1 = :v1 REMOVE #n2 ADD #n3 :v2"
        );
        assert!(validate_update(&Update::new().set("pk", "x")).is_err());
        assert!(validate_update(&Update::new().set("a", 1).remove("a")).is_err());
        assert!(validate_update(&Update::new().set("ttl", "soon")).is_err());
        assert!(validate_update(&u).is_ok());
    }

    #[test]
    fn key_conditions_use_the_index_key_names() {
        let mut e = Expr::new();
        let k = e.key_condition(Index::Gsi1, "p", &SortKey::Between("a".into(), "b".into()));
        assert_eq!(k, "#n0 = :v0 AND #n1 BETWEEN :v1 AND :v2");
        assert_eq!(e.names().unwrap()["#n1"], "gsi1sk");
    }
}
