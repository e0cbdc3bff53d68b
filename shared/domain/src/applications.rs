//! The applications an appliance reports (SPEC 3.1, 4.4), as the portal lists them:
//! sorted by name or by state, ascending or descending.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::report::AppState;

/// One application and its reported state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationView {
    pub name: String,
    pub state: AppState,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationSort {
    #[default]
    Name,
    State,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortDirection {
    #[default]
    Asc,
    Desc,
}

/// UP before DOWN before N/A: ascending by state puts what runs first.
fn state_rank(s: AppState) -> u8 {
    match s {
        AppState::Up => 0,
        AppState::Down => 1,
        AppState::NotApplicable => 2,
    }
}

/// The applications in the order asked for; by state, ties go by name (always
/// ascending, so equal states read alphabetically either way).
pub fn sorted_applications(
    reported: &BTreeMap<String, AppState>,
    sort: ApplicationSort,
    direction: SortDirection,
) -> Vec<ApplicationView> {
    let mut rows: Vec<ApplicationView> = reported
        .iter()
        .map(|(name, state)| ApplicationView {
            name: name.clone(),
            state: *state,
        })
        .collect();
    match (sort, direction) {
        (ApplicationSort::Name, SortDirection::Asc) => {}
        (ApplicationSort::Name, SortDirection::Desc) => rows.reverse(),
        (ApplicationSort::State, dir) => rows.sort_by(|a, b| {
            let by_state = state_rank(a.state).cmp(&state_rank(b.state));
            let by_state = if dir == SortDirection::Desc {
                by_state.reverse()
            } else {
                by_state
            };
            by_state.then_with(|| a.name.cmp(&b.name))
        }),
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported() -> BTreeMap<String, AppState> {
        [
            ("ips", AppState::Down),
            ("http_proxy", AppState::Up),
            ("vpn", AppState::Up),
            ("mail", AppState::NotApplicable),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_owned(), s))
        .collect()
    }

    fn names(rows: &[ApplicationView]) -> Vec<&str> {
        rows.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn by_name_both_ways() {
        let r = reported();
        let asc = sorted_applications(&r, ApplicationSort::Name, SortDirection::Asc);
        assert_eq!(names(&asc), ["http_proxy", "ips", "mail", "vpn"]);
        let desc = sorted_applications(&r, ApplicationSort::Name, SortDirection::Desc);
        assert_eq!(names(&desc), ["vpn", "mail", "ips", "http_proxy"]);
    }

    #[test]
    fn by_state_both_ways_ties_by_name() {
        let r = reported();
        let asc = sorted_applications(&r, ApplicationSort::State, SortDirection::Asc);
        assert_eq!(names(&asc), ["http_proxy", "vpn", "ips", "mail"]);
        let desc = sorted_applications(&r, ApplicationSort::State, SortDirection::Desc);
        assert_eq!(names(&desc), ["mail", "ips", "http_proxy", "vpn"]);
    }
}
