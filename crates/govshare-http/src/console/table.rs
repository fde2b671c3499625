//! The console's one table pattern: filters, sort and page live in the URL (a link or a reload shows the same
//! rows), the server filters, sorts and pages, and the same filtered rows export to Excel.
//!
//! A page parses its query with [`TableState::from_query`], asks the service for `offset()`/`per_page` rows of
//! the filtered set and the total, sets [`TableState::total`], and renders `table_pager.html` below its table.
//! `?format=xlsx` asks for the export: the page then fetches up to [`EXPORT_LIMIT`] rows and answers
//! with [`xlsx`].

use std::collections::HashMap;

use axum::response::Response;

use crate::api::interchange::{XLSX, attachment_named};
use crate::error::ApiError;

/// Rows per page unless the URL says otherwise (`per=`, 10 to 200).
pub const PER_PAGE: u32 = 50;
/// The most rows one export holds; the page says so when the filter selects more.
pub const EXPORT_LIMIT: u32 = 10_000;

#[derive(Debug, Clone)]
pub struct TableState {
    path: &'static str,
    filters: Vec<(&'static str, String)>,
    pub sort: String,
    pub desc: bool,
    pub page: u64,
    pub per_page: u32,
    pub total: u64,
    pub export: bool,
}

impl TableState {
    /// The state of a table at `path` from its query: the named filters (empty ones dropped), `sort`
    /// (one of `sorts`, else the first), `dir` (`asc`/`desc`, else `default_desc`), `page` (from 1), `per`.
    pub fn from_query(
        path: &'static str,
        query: &HashMap<String, String>,
        filters: &[&'static str],
        sorts: &[&str],
        default_desc: bool,
    ) -> Self {
        let get = |k: &str| query.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let sort = get("sort").filter(|s| sorts.contains(s)).or(sorts.first().copied()).unwrap_or("").to_owned();
        TableState {
            path,
            filters: filters.iter().filter_map(|k| get(k).map(|v| (*k, v.to_owned()))).collect(),
            sort,
            desc: match get("dir") {
                Some("asc") => false,
                Some("desc") => true,
                _ => default_desc,
            },
            page: get("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1),
            per_page: get("per").and_then(|p| p.parse().ok()).map_or(PER_PAGE, |p: u32| p.clamp(10, 200)),
            total: 0,
            export: get("format") == Some("xlsx"),
        }
    }

    /// A filter's value, or "" when unset.
    pub fn filter(&self, key: &str) -> &str {
        self.filters.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v.as_str())
    }

    pub fn is_filtered(&self) -> bool {
        !self.filters.is_empty()
    }

    pub fn offset(&self) -> u64 {
        // A hostile `page=` cannot overflow: the offset saturates (and selects nothing).
        (self.page - 1).saturating_mul(u64::from(self.per_page))
    }

    pub fn pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.per_page)).max(1)
    }

    /// This table's URL with some parameters changed (an empty value removes one).
    pub fn href(&self, changes: &[(&str, String)]) -> String {
        let mut params: Vec<(String, String)> =
            self.filters.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        params.push(("sort".into(), self.sort.clone()));
        params.push(("dir".into(), if self.desc { "desc" } else { "asc" }.into()));
        if self.page > 1 {
            params.push(("page".into(), self.page.to_string()));
        }
        if self.per_page != PER_PAGE {
            params.push(("per".into(), self.per_page.to_string()));
        }
        for (key, value) in changes {
            params.retain(|(k, _)| k != key);
            if !value.is_empty() {
                params.push(((*key).to_owned(), value.clone()));
            }
        }
        let query = serde_urlencoded::to_string(&params).unwrap_or_default();
        if query.is_empty() { self.path.to_owned() } else { format!("{}?{query}", self.path) }
    }

    /// The link of a column header: sorts by it, or turns the order round when it is the sort already.
    pub fn sort_href(&self, column: &str) -> String {
        let desc = if self.sort == column { !self.desc } else { true };
        self.href(&[
            ("sort", column.to_owned()),
            ("dir", if desc { "desc" } else { "asc" }.into()),
            ("page", String::new()),
        ])
    }

    /// The arrow shown beside the sorted column.
    pub fn sort_mark(&self, column: &str) -> &'static str {
        match (self.sort == column, self.desc) {
            (false, _) => "",
            (true, true) => "↓",
            (true, false) => "↑",
        }
    }

    /// `aria-sort` of a column header.
    pub fn aria_sort(&self, column: &str) -> &'static str {
        match (self.sort == column, self.desc) {
            (false, _) => "none",
            (true, true) => "descending",
            (true, false) => "ascending",
        }
    }

    pub fn prev_href(&self) -> Option<String> {
        (self.page > 1).then(|| self.href(&[("page", (self.page - 1).to_string())]))
    }

    pub fn next_href(&self) -> Option<String> {
        (self.page < self.pages()).then(|| self.href(&[("page", (self.page + 1).to_string())]))
    }

    pub fn export_href(&self) -> String {
        self.href(&[("format", "xlsx".into()), ("page", String::new())])
    }

    pub fn clear_href(&self) -> String {
        self.path.to_owned()
    }

    /// "共 123 条,第 2/3 页"
    pub fn summary(&self) -> String {
        format!("共 {} 条，第 {}/{} 页", self.total, self.page.min(self.pages()), self.pages())
    }

    /// Whether an export would leave rows out.
    pub fn export_truncated(&self) -> bool {
        self.total > u64::from(EXPORT_LIMIT)
    }
}

/// The filtered rows as an Excel file named `file_name` (Chinese is fine; `ascii_name` is the fallback).
pub fn xlsx(ascii_name: &str, file_name: &str, headers: &[&str], rows: &[Vec<String>]) -> Result<Response, Response> {
    let sheet = file_name.trim_end_matches(".xlsx");
    let bytes = govshare_interchange::table_xlsx(sheet, headers, rows)
        .map_err(|e| super::error_page(&ApiError::Service(govshare_service::ServiceError::Internal(Box::new(e)))))?;
    Ok(attachment_named(XLSX, ascii_name, file_name, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(query: &[(&str, &str)]) -> TableState {
        let q = query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        TableState::from_query("/console/audit", &q, &["actor", "action"], &["at", "actor"], true)
    }

    #[test]
    fn the_state_round_trips_through_the_url() {
        let mut t = state(&[("actor", "user:gat.head"), ("page", "2"), ("sort", "nonsense"), ("evil", "x")]);
        t.total = 120;
        assert_eq!(t.filter("actor"), "user:gat.head");
        assert_eq!(t.sort, "at", "an unknown sort falls back to the first");
        assert_eq!(t.offset(), 50);
        assert_eq!(t.pages(), 3);
        assert_eq!(t.href(&[]), "/console/audit?actor=user%3Agat.head&sort=at&dir=desc&page=2");
        assert_eq!(t.next_href().unwrap(), "/console/audit?actor=user%3Agat.head&sort=at&dir=desc&page=3");
        assert_eq!(t.prev_href().unwrap(), "/console/audit?actor=user%3Agat.head&sort=at&dir=desc&page=1");
        assert_eq!(t.sort_href("at"), "/console/audit?actor=user%3Agat.head&sort=at&dir=asc");
        assert!(t.export_href().ends_with("&format=xlsx"));
        let last = state(&[("page", "3")]);
        assert!(last.next_href().is_none() && state(&[]).prev_href().is_none());
        assert_eq!(state(&[("per", "100000")]).per_page, 200);
        assert_eq!(state(&[("page", "0")]).page, 1);
        assert_eq!(state(&[("page", &u64::MAX.to_string())]).offset(), u64::MAX, "no overflow on a hostile page");
    }
}
