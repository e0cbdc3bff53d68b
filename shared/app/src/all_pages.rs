//! Reading a whole query, page after page, for the views that need every item
//! (a tenant's appliances to filter and sort, its licenses to find a partner).

use rampart_ports::{Item, Query, StoreError, Table};

/// Every item the query matches, in order.
pub async fn all_items(table: &dyn Table, query: Query) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table.query(query.clone().limit(500).after(cursor)).await?;
        out.extend(page.items);
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}
