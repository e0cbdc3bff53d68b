//! Which appliances a job is for (SPEC 5): one, a list, or all with a tag. A tag is
//! resolved once, when the job is created; appliances tagged later are not included.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::ids::ApplianceId;
use crate::validation::{self, Invalid};

/// The most appliances one job fans out to, whichever way they are named.
pub const MAX_TARGETS: usize = 1000;
/// The longest tag, as the appliance patch accepts it.
pub const MAX_TAG_CHARS: usize = 32;

/// A job's target. On the wire: `{"appliance": id}`, `{"list": [ids]}` or
/// `{"tag": name}`. Deserializing validates it (a list: 1 to [`MAX_TARGETS`] ids,
/// duplicates dropped keeping the first; a tag: 1 to 32 characters, no control
/// characters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "JobTargetWire")]
pub enum JobTarget {
    Appliance(ApplianceId),
    List(Vec<ApplianceId>),
    Tag(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum JobTargetWire {
    Appliance(ApplianceId),
    List(Vec<ApplianceId>),
    Tag(String),
}

impl TryFrom<JobTargetWire> for JobTarget {
    type Error = Invalid;

    fn try_from(w: JobTargetWire) -> Result<Self, Invalid> {
        match w {
            JobTargetWire::Appliance(id) => Ok(Self::Appliance(id)),
            JobTargetWire::List(ids) => Self::list(ids),
            JobTargetWire::Tag(tag) => Self::tag(tag),
        }
    }
}

fn dedup_keep_order(ids: Vec<ApplianceId>) -> Vec<ApplianceId> {
    let mut seen = BTreeSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}

impl JobTarget {
    /// A list target: duplicates dropped (the first occurrence kept, in order), then
    /// 1 to [`MAX_TARGETS`] distinct appliances.
    pub fn list(ids: Vec<ApplianceId>) -> Result<Self, Invalid> {
        let ids = dedup_keep_order(ids);
        if ids.is_empty() {
            return Err(Invalid::new("list", "at least one appliance"));
        }
        if ids.len() > MAX_TARGETS {
            return Err(Invalid::new(
                "list",
                format!("at most {MAX_TARGETS} appliances"),
            ));
        }
        Ok(Self::List(ids))
    }

    pub fn tag(tag: impl Into<String>) -> Result<Self, Invalid> {
        let tag = tag.into();
        validation::text("tag", &tag, MAX_TAG_CHARS)?;
        Ok(Self::Tag(tag))
    }

    /// The appliances the job fans out to, at creation. `tagged` answers which
    /// appliances (of the job's tenant) carry a tag; its answer is sorted and
    /// deduplicated. Refused when nothing matches or more than [`MAX_TARGETS`] do.
    pub fn resolve(
        &self,
        tagged: impl FnOnce(&str) -> Vec<ApplianceId>,
    ) -> Result<Vec<ApplianceId>, Invalid> {
        match self {
            Self::Appliance(id) => Ok(vec![id.clone()]),
            Self::List(ids) => Ok(dedup_keep_order(ids.clone())),
            Self::Tag(tag) => {
                let ids: Vec<ApplianceId> = tagged(tag)
                    .into_iter()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                if ids.is_empty() {
                    return Err(Invalid::new("tag", "no appliance has this tag"));
                }
                if ids.len() > MAX_TARGETS {
                    return Err(Invalid::new(
                        "tag",
                        format!("more than {MAX_TARGETS} appliances have this tag"),
                    ));
                }
                Ok(ids)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ApplianceId {
        ApplianceId::from_random([n; 16])
    }

    #[test]
    fn lists_are_deduplicated_in_order_and_bounded() {
        let JobTarget::List(ids) =
            JobTarget::list(vec![id(2), id(1), id(2), id(3), id(1)]).unwrap()
        else {
            panic!()
        };
        assert_eq!(ids, vec![id(2), id(1), id(3)]);
        assert!(JobTarget::list(vec![]).is_err());
        let many: Vec<ApplianceId> = (0..=MAX_TARGETS)
            .map(|i| ApplianceId::from_random(u128::try_from(i).unwrap().to_be_bytes()))
            .collect();
        assert!(JobTarget::list(many[..MAX_TARGETS].to_vec()).is_ok());
        assert_eq!(JobTarget::list(many.clone()).unwrap_err().field, "list");
        // Duplicates do not count against the limit.
        let mut doubled = many[..MAX_TARGETS].to_vec();
        doubled.extend_from_slice(&many[..10]);
        assert!(JobTarget::list(doubled).is_ok());
    }

    #[test]
    fn tags_are_resolved_once() {
        assert!(JobTarget::tag("").is_err());
        assert!(JobTarget::tag("a\tb").is_err());
        assert!(JobTarget::tag("x".repeat(33)).is_err());
        let t = JobTarget::tag("berlin").unwrap();
        let got = t
            .resolve(|tag| {
                assert_eq!(tag, "berlin");
                vec![id(3), id(1), id(3)]
            })
            .unwrap();
        assert_eq!(got, vec![id(1), id(3)]);
        assert_eq!(t.resolve(|_| vec![]).unwrap_err().field, "tag");
        assert_eq!(
            JobTarget::Appliance(id(9))
                .resolve(|_| unreachable!())
                .unwrap(),
            vec![id(9)]
        );
    }

    #[test]
    fn wire_form_validates() {
        let cases = [
            (
                JobTarget::Appliance(id(1)),
                serde_json::json!({"appliance": id(1).as_str()}),
            ),
            (
                JobTarget::list(vec![id(1), id(2)]).unwrap(),
                serde_json::json!({"list": [id(1).as_str(), id(2).as_str()]}),
            ),
            (
                JobTarget::tag("berlin").unwrap(),
                serde_json::json!({"tag": "berlin"}),
            ),
        ];
        for (target, json) in cases {
            assert_eq!(serde_json::to_value(&target).unwrap(), json);
            assert_eq!(serde_json::from_value::<JobTarget>(json).unwrap(), target);
        }
        let deduped: JobTarget =
            serde_json::from_value(serde_json::json!({"list": [id(1).as_str(), id(1).as_str()]}))
                .unwrap();
        assert_eq!(deduped, JobTarget::List(vec![id(1)]));
        for bad in [
            serde_json::json!({"list": []}),
            serde_json::json!({"tag": ""}),
            serde_json::json!({"appliance": "ap_nope"}),
            serde_json::json!({"everything": true}),
        ] {
            assert!(
                serde_json::from_value::<JobTarget>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
