//! The firmware catalog in the table (SPEC 9): added to and removed from by an
//! administrator (`rampart admin firmware`), read by the portal (the catalog itself,
//! and the update flags and options of every appliance view).

use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::firmware_catalog::{FirmwareCatalog, FirmwareRelease, MAX_RELEASES};
use rampart_domain::validation::Invalid;
use rampart_ports::{Condition, Query, SortKey, StoreError, Table};

use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::records::firmware_release::{self, PARTITION, PREFIX};

/// The query of the whole catalog, oldest version first.
pub fn catalog_query() -> Query {
    Query::partition(PARTITION).sk(SortKey::BeginsWith(PREFIX.into()))
}

/// The whole catalog: one query (a page per 500 versions).
pub async fn read_catalog(table: &dyn Table) -> Result<FirmwareCatalog, ApiError> {
    let items = all_items(table, catalog_query()).await?;
    let releases = items
        .iter()
        .map(firmware_release::from_item)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Unavailable(e.into()))?;
    Ok(FirmwareCatalog::new(releases))
}

/// Adds a version; a version already in the catalog is refused (remove it first).
pub async fn add_release(table: &dyn Table, release: FirmwareRelease) -> Result<(), ApiError> {
    release.validate()?;
    if read_catalog(table).await?.releases().len() >= MAX_RELEASES {
        return Err(Invalid::new(
            "version",
            format!("the catalog holds at most {MAX_RELEASES}"),
        )
        .into());
    }
    match table
        .put(
            firmware_release::to_item(&release),
            Some(Condition::NotExists),
        )
        .await
    {
        Ok(()) => {
            tracing::info!(version = %release.version, security = release.security,
                "firmware version added to the catalog");
            Ok(())
        }
        Err(StoreError::ConditionFailed) => Err(ApiError::Conflict(format!(
            "firmware {} is already in the catalog",
            release.version
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Removes a version; `NotFound` when it is not in the catalog.
pub async fn remove_release(table: &dyn Table, version: FirmwareVersion) -> Result<(), ApiError> {
    match table
        .delete(&firmware_release::key(version), Some(Condition::Exists))
        .await
    {
        Ok(()) => {
            tracing::info!(%version, "firmware version removed from the catalog");
            Ok(())
        }
        Err(StoreError::ConditionFailed) => Err(ApiError::NotFound),
        Err(e) => Err(e.into()),
    }
}
