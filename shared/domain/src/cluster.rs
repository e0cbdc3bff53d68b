//! The state of a cluster (SPEC 4.5) as one appliance's view shows it, derived from
//! what both partners last reported.

use serde::{Deserialize, Serialize};

use crate::connection::ConnectionStatus;
use crate::report::ClusterSync;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterState {
    /// No partner license, or its appliance has not enrolled yet.
    Incomplete,
    /// The partner has not checked in within three poll intervals.
    PartnerDisconnected,
    /// A partner reports that synchronisation failed.
    SyncFailed,
    /// A partner reports that it is synchronising.
    Syncing,
    /// Both partners report they are in sync.
    Synced,
    /// Both are there, but not both have reported a sync state yet.
    Unknown,
}

/// What is known of the partner appliance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartnerState {
    pub status: ConnectionStatus,
    pub sync: Option<ClusterSync>,
}

/// The cluster's state from this appliance's sync and its partner's (`None`: no
/// enrolled partner). A failure on either side outranks syncing, which outranks synced.
pub fn cluster_state(own_sync: Option<ClusterSync>, partner: Option<PartnerState>) -> ClusterState {
    let Some(partner) = partner else {
        return ClusterState::Incomplete;
    };
    if partner.status == ConnectionStatus::Disconnected {
        return ClusterState::PartnerDisconnected;
    }
    let both = [own_sync, partner.sync];
    if both.contains(&Some(ClusterSync::Failed)) {
        ClusterState::SyncFailed
    } else if both.contains(&Some(ClusterSync::Syncing)) {
        ClusterState::Syncing
    } else if both == [Some(ClusterSync::Synced); 2] {
        ClusterState::Synced
    } else {
        ClusterState::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ClusterSync::*;

    fn partner(status: ConnectionStatus, sync: Option<ClusterSync>) -> Option<PartnerState> {
        Some(PartnerState { status, sync })
    }

    #[test]
    fn derives_the_state_from_both_partners() {
        let up = ConnectionStatus::Connected;
        assert_eq!(cluster_state(Some(Synced), None), ClusterState::Incomplete);
        assert_eq!(
            cluster_state(
                Some(Synced),
                partner(ConnectionStatus::Disconnected, Some(Synced))
            ),
            ClusterState::PartnerDisconnected
        );
        assert_eq!(
            cluster_state(Some(Synced), partner(up, Some(Failed))),
            ClusterState::SyncFailed
        );
        assert_eq!(
            cluster_state(Some(Failed), partner(up, Some(Syncing))),
            ClusterState::SyncFailed
        );
        assert_eq!(
            cluster_state(Some(Syncing), partner(up, Some(Synced))),
            ClusterState::Syncing
        );
        assert_eq!(
            cluster_state(Some(Synced), partner(up, Some(Synced))),
            ClusterState::Synced
        );
        assert_eq!(
            cluster_state(None, partner(up, Some(Synced))),
            ClusterState::Unknown
        );
    }
}
