//! Credentials of appliances seen by this warm process. A credential never
//! changes after enrollment, so a cached one is only dropped when its appliance
//! turns out to be gone; that is what makes an idle check-in a single write.

use std::collections::HashMap;
use std::sync::RwLock;

use rampart_domain::ids::ApplianceId;

use crate::records::credential::Credential;

/// Above this many entries the cache starts over rather than grow without bound.
const MAX_ENTRIES: usize = 200_000;

#[derive(Default)]
pub(super) struct CredentialCache {
    entries: RwLock<HashMap<ApplianceId, Credential>>,
}

impl CredentialCache {
    pub(super) fn get(&self, id: &ApplianceId) -> Option<Credential> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    pub(super) fn insert(&self, c: Credential) {
        let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(c.appliance.clone(), c);
    }

    pub(super) fn remove(&self, id: &ApplianceId) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}
