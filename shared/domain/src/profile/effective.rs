//! An appliance's effective configuration: the sections its assigned profiles
//! give it, merged by one rule, each stamped with the configuration version in
//! which it last changed, so a check-in can send only what changed since the
//! version the appliance holds.
//!
//! Merge rule, section by section: the profile assigned to the appliance itself
//! wins; otherwise the profiles assigned to its tags, in tag name order, the first
//! that has the section. A section no profile has is absent.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use super::sections::{ProfileName, ProfileSections, Section};
use crate::validation::Invalid;

/// One profile assigned to the appliance, directly or through a tag.
#[derive(Clone, Debug)]
pub struct Assigned<'a> {
    pub profile: &'a ProfileName,
    pub version: u64,
    pub sections: &'a ProfileSections,
    /// `appliance` or `tag:<tag>`.
    pub via: String,
}

/// Where an effective section comes from, and the configuration version in which
/// its content last changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionOrigin {
    pub version: u64,
    pub profile: ProfileName,
    pub profile_version: u64,
    pub via: String,
}

/// The merged sections and, per section, where it came from (with version 0:
/// [`EffectiveConfig::next`] stamps the versions).
pub fn merge_assignments(
    direct: Option<&Assigned<'_>>,
    by_tag_in_name_order: &[Assigned<'_>],
) -> (ProfileSections, BTreeMap<Section, SectionOrigin>) {
    let mut content = ProfileSections::default();
    let mut origins = BTreeMap::new();
    for s in Section::ALL {
        let winner = direct
            .into_iter()
            .chain(by_tag_in_name_order)
            .find(|a| a.sections.has(s));
        if let Some(a) = winner {
            content.copy_section(a.sections, s);
            origins.insert(
                s,
                SectionOrigin {
                    version: 0,
                    profile: a.profile.clone(),
                    profile_version: a.version,
                    via: a.via.clone(),
                },
            );
        }
    }
    (content, origins)
}

/// The materialized configuration of one appliance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveConfig {
    /// Counts up with every change of content; the appliance reports the one it
    /// holds as `config_version`.
    pub version: u64,
    pub content: ProfileSections,
    pub origins: BTreeMap<Section, SectionOrigin>,
    /// Sections removed, with the version that removed them (an appliance holding
    /// an older version is told to drop them).
    pub removed: BTreeMap<Section, u64>,
}

impl EffectiveConfig {
    /// The configuration after the assignments now give `content` with
    /// `origins` (from [`merge_assignments`]); `None` when nothing at all changed.
    /// The version counts up only when some section's content changed: a section
    /// now coming from another profile with the same content is not re-sent.
    pub fn next(
        &self,
        content: &ProfileSections,
        origins: &BTreeMap<Section, SectionOrigin>,
    ) -> Option<EffectiveConfig> {
        let changed: Vec<Section> = Section::ALL
            .into_iter()
            .filter(|s| !self.content.same_section(content, *s))
            .collect();
        let version = if changed.is_empty() {
            self.version
        } else {
            self.version + 1
        };
        let mut next = EffectiveConfig {
            version,
            content: content.clone(),
            origins: BTreeMap::new(),
            removed: self.removed.clone(),
        };
        for s in Section::ALL {
            let stamp = if changed.contains(&s) {
                version
            } else {
                self.origins.get(&s).map_or(version, |o| o.version)
            };
            match origins.get(&s) {
                Some(o) => {
                    next.removed.remove(&s);
                    next.origins.insert(
                        s,
                        SectionOrigin {
                            version: stamp,
                            ..o.clone()
                        },
                    );
                }
                None if changed.contains(&s) => {
                    next.removed.insert(s, version);
                }
                None => {}
            }
        }
        (next != *self).then_some(next)
    }

    /// What an appliance holding `held` needs: every section set or removed after
    /// it, plus the sections in `resend` (withheld earlier, allowed now; a section
    /// once configured is always in `origins` or `removed`, so each is found).
    pub fn changes_since(&self, held: u64, resend: &BTreeSet<Section>) -> ConfigurationChange {
        let mut change = ConfigurationChange {
            version: self.version,
            ..ConfigurationChange::default()
        };
        for (s, o) in &self.origins {
            if o.version > held || resend.contains(s) {
                change.set.copy_section(&self.content, *s);
                change.section_versions.insert(*s, o.version);
            }
        }
        for (s, v) in &self.removed {
            if *v > held || resend.contains(s) {
                change.removed.push(*s);
                change.section_versions.insert(*s, *v);
            }
        }
        change
    }

    /// The version at which section `s` was last set or removed.
    pub fn section_version(&self, s: Section) -> Option<u64> {
        self.origins
            .get(&s)
            .map(|o| o.version)
            .or_else(|| self.removed.get(&s).copied())
    }
}

/// The configuration changes a check-in reply carries: the sections to set (with
/// their content), those to remove, the version of each, and the configuration
/// version the appliance holds once it has taken them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigurationChange {
    pub version: u64,
    #[serde(default)]
    pub set: ProfileSections,
    #[serde(default)]
    pub removed: Vec<Section>,
    #[serde(default)]
    pub section_versions: BTreeMap<Section, u64>,
}

impl ConfigurationChange {
    /// Every section the change touches, set ones first.
    pub fn sections(&self) -> Vec<Section> {
        let mut all = self.set.present();
        all.extend(self.removed.iter().copied());
        all
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.removed.is_empty()
    }

    /// The appliance's check of what the console sent.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.set.validate()?;
        let sections = self.sections();
        let distinct: BTreeSet<Section> = sections.iter().copied().collect();
        if distinct.len() != sections.len() {
            return Err(Invalid::new(
                "removed",
                "a section is set and removed at once",
            ));
        }
        if sections
            .iter()
            .any(|s| !self.section_versions.contains_key(s))
        {
            return Err(Invalid::new(
                "section_versions",
                "a version for every section",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::sections::{CloudShield, Fail2ban};

    fn name(s: &str) -> ProfileName {
        ProfileName::parse(s).unwrap()
    }

    fn f2b(retries: u32) -> ProfileSections {
        ProfileSections {
            fail2ban: Some(Fail2ban {
                enabled: true,
                max_retries: retries,
                ban_time_secs: 600,
            }),
            ..ProfileSections::default()
        }
    }

    fn merged(
        direct: Option<(&ProfileName, &ProfileSections)>,
        tags: &[(&ProfileName, &ProfileSections, &str)],
    ) -> (ProfileSections, BTreeMap<Section, SectionOrigin>) {
        let d = direct.map(|(p, s)| Assigned {
            profile: p,
            version: 1,
            sections: s,
            via: "appliance".into(),
        });
        let t: Vec<Assigned<'_>> = tags
            .iter()
            .map(|(p, s, tag)| Assigned {
                profile: p,
                version: 1,
                sections: s,
                via: format!("tag:{tag}"),
            })
            .collect();
        merge_assignments(d.as_ref(), &t)
    }

    #[test]
    fn the_direct_assignment_wins_then_tags_in_name_order() {
        let (a, b, c) = (name("a"), name("b"), name("c"));
        let shield = ProfileSections {
            cloud_shield: Some(CloudShield { enabled: true }),
            ..f2b(9)
        };
        let (content, origins) = merged(
            Some((&a, &f2b(3))),
            &[(&b, &shield, "berlin"), (&c, &f2b(7), "zurich")],
        );
        assert_eq!(content.fail2ban.unwrap().max_retries, 3);
        assert_eq!(origins[&Section::Fail2ban].profile, a);
        assert_eq!(origins[&Section::CloudShield].via, "tag:berlin");
        let (content, _) = merged(None, &[(&c, &f2b(7), "zurich")]);
        assert_eq!(content.fail2ban.unwrap().max_retries, 7);
    }

    #[test]
    fn only_changed_sections_get_a_new_version() {
        let p = name("p");
        let shield = ProfileSections {
            cloud_shield: Some(CloudShield { enabled: true }),
            ..f2b(3)
        };
        let (c1, o1) = merged(Some((&p, &shield)), &[]);
        let v1 = EffectiveConfig::default().next(&c1, &o1).unwrap();
        assert_eq!(v1.version, 1);
        assert_eq!(
            v1.changes_since(0, &BTreeSet::new()).sections(),
            vec![Section::Fail2ban, Section::CloudShield]
        );
        assert!(v1.next(&c1, &o1).is_none(), "nothing changed");

        let changed = ProfileSections {
            cloud_shield: Some(CloudShield { enabled: true }),
            ..f2b(4)
        };
        let (c2, o2) = merged(Some((&p, &changed)), &[]);
        let v2 = v1.next(&c2, &o2).unwrap();
        assert_eq!(v2.version, 2);
        let change = v2.changes_since(1, &BTreeSet::new());
        assert_eq!(change.sections(), vec![Section::Fail2ban]);
        assert_eq!(change.section_versions[&Section::Fail2ban], 2);
        assert_eq!(change.validate(), Ok(()));
        // A withheld section comes again on request.
        let again = v2.changes_since(2, &BTreeSet::from([Section::CloudShield]));
        assert_eq!(again.sections(), vec![Section::CloudShield]);

        // Unassigned: both sections are removed at version 3.
        let v3 = v2
            .next(&ProfileSections::default(), &BTreeMap::new())
            .unwrap();
        assert_eq!(v3.version, 3);
        let change = v3.changes_since(2, &BTreeSet::new());
        assert_eq!(
            change.removed,
            vec![Section::Fail2ban, Section::CloudShield]
        );
        assert!(change.set.is_empty());
        assert!(v3.changes_since(3, &BTreeSet::new()).is_empty());
    }

    #[test]
    fn the_same_content_from_another_profile_is_not_resent() {
        let (p, q) = (name("p"), name("q"));
        let (c1, o1) = merged(Some((&p, &f2b(3))), &[]);
        let v1 = EffectiveConfig::default().next(&c1, &o1).unwrap();
        let (c2, o2) = merged(None, &[(&q, &f2b(3), "x")]);
        let v1b = v1.next(&c2, &o2).unwrap();
        assert_eq!(v1b.version, 1);
        assert_eq!(v1b.origins[&Section::Fail2ban].profile, q);
        assert!(v1b.changes_since(1, &BTreeSet::new()).is_empty());
    }
}
