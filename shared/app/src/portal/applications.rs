//! The applications an appliance reports (SPEC 4.4), sorted by name or state, in
//! pages. Starting, stopping and restarting them are jobs (`Operation::Application`).

use rampart_domain::applications::{
    ApplicationSort, ApplicationView, SortDirection, sorted_applications,
};
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::portal_protocol::ListPage;
use rampart_domain::validation::Invalid;

use super::{PortalService, Principal, page_limit};
use crate::error::ApiError;

/// Order and page of the application list.
#[derive(Clone, Debug, Default)]
pub struct ApplicationQuery {
    pub sort: ApplicationSort,
    pub direction: SortDirection,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PortalService {
    /// One page of the applications of the appliance's last report. The cursor is
    /// the position after the last row returned (the list is at most 128 long and
    /// re-sorted each time, so a position is all a page needs).
    pub async fn applications(
        &self,
        who: &Principal,
        tenant: &TenantId,
        id: &ApplianceId,
        q: ApplicationQuery,
    ) -> Result<ListPage<ApplicationView>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let r = self.appliance_record(tenant, id).await?;
        let reported = r.report.map(|x| x.applications).unwrap_or_default();
        let rows = sorted_applications(&reported, q.sort, q.direction);
        let start = match q.cursor {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .ok()
                .filter(|&n| n <= rows.len())
                .ok_or_else(|| Invalid::new("cursor", "not a cursor this list returned"))?,
        };
        let end = (start + page_limit(q.limit) as usize).min(rows.len());
        Ok(ListPage {
            next_cursor: (end < rows.len()).then(|| end.to_string()),
            items: rows[start..end].to_vec(),
        })
    }
}
