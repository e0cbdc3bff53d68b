//! The firmware catalog as portal users read it (SPEC 9): the same for every
//! tenant, read only; administrators maintain it with `rampart admin firmware`.

use rampart_domain::firmware_catalog::FirmwareRelease;
use rampart_domain::portal_protocol::ListPage;
use rampart_ports::Cursor;

use super::{PortalService, page_limit, page_of};
use crate::error::ApiError;
use crate::firmware_catalog::catalog_query;
use crate::records::firmware_release;

impl PortalService {
    /// One page of the catalog, oldest version first.
    pub async fn firmware_catalog(
        &self,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<FirmwareRelease>, ApiError> {
        let query = catalog_query()
            .limit(page_limit(limit))
            .after(cursor.map(Cursor));
        page_of(self.table.as_ref(), query, firmware_release::from_item).await
    }
}
