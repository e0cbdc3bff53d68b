//! How the list commands page: `--all` follows the cursors to the end, and one
//! page is printed as JSON or as a table with a hint at the next page.

use std::future::Future;
use std::io::Write;

use rampart_domain::portal_protocol::ListPage;
use serde::Serialize;

use crate::portal_cmd::write_json;

/// Every page from `cursor` on, in order, as one page without a cursor.
/// `fetch` gets each page's cursor; `progress(items, pages)` is called after each
/// page that has a next one. Stops at a cursor that repeats, which a broken
/// server could otherwise send forever. Also returns how many pages it took.
pub async fn fetch_all<T, E, Fut>(
    mut cursor: Option<String>,
    mut fetch: impl FnMut(Option<String>) -> Fut,
    mut progress: impl FnMut(usize, usize),
) -> Result<(ListPage<T>, usize), E>
where
    Fut: Future<Output = Result<ListPage<T>, E>>,
{
    let mut items = Vec::new();
    let mut pages = 0usize;
    loop {
        let page = fetch(cursor.clone()).await?;
        pages += 1;
        items.extend(page.items);
        match page.next_cursor {
            Some(c) if Some(&c) != cursor.as_ref() => {
                progress(items.len(), pages);
                cursor = Some(c);
            }
            _ => {
                let all = ListPage {
                    items,
                    next_cursor: None,
                };
                return Ok((all, pages));
            }
        }
    }
}

/// Every item of a list, from its first page to its last.
pub async fn every_page<T, E, Fut>(fetch: impl FnMut(Option<String>) -> Fut) -> Result<Vec<T>, E>
where
    Fut: Future<Output = Result<ListPage<T>, E>>,
{
    let (all, _) = fetch_all(None, fetch, |_, _| {}).await?;
    Ok(all.items)
}

/// `page` as JSON, or as `table` with `<more> --cursor C for the next page` on
/// stderr when there is a next page (`more` says what, and whether `--all` helps).
pub fn write_page<T: Serialize, W: Write>(
    out: &mut W,
    json: bool,
    page: &ListPage<T>,
    table: impl FnOnce(&[T], &mut W) -> anyhow::Result<()>,
    more: &str,
) -> anyhow::Result<()> {
    if json {
        return write_json(out, page);
    }
    table(&page.items, out)?;
    if let Some(c) = &page.next_cursor {
        eprintln!("{more} --cursor {c} for the next page");
    }
    Ok(())
}
