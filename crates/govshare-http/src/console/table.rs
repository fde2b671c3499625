//! The console's one table pattern: filters, sort and page live in the URL (a link or a reload shows the same
//! rows), the server filters, sorts and pages, and the same filtered rows export to Excel.
//!
//! A page parses its query with [`TableState::from_query`], asks the service for `offset()`/`per_page` rows of
//! the filtered set and the total, sets [`TableState::total`], and renders `table_pager.html` below its table.
//! `?format=xlsx` asks for the export: the page then fetches up to [`EXPORT_LIMIT`] rows and answers
//! with [`xlsx`].

use std::cmp::Ordering;
use std::collections::HashMap;

use axum::response::Response;
use chrono::{NaiveDate, TimeZone};
use govshare_service::ServiceError;

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

    /// The rows to show of a list the service hands over whole (one organisation's box of applications, its
    /// grants, its people — bounded by what one organisation holds, unlike the audit and usage logs, which the
    /// store filters and pages): keeps the rows `keep` accepts, orders them by `order` (which compares two rows
    /// by the sort column it is given, ascending), sets the total and returns this page — or, for an export,
    /// the first [`EXPORT_LIMIT`] rows.
    pub fn page_of<T>(
        &mut self,
        rows: Vec<T>,
        keep: impl Fn(&T) -> bool,
        order: impl Fn(&str, &T, &T) -> Ordering,
    ) -> Vec<T> {
        let mut rows: Vec<T> = rows.into_iter().filter(|r| keep(r)).collect();
        // A stable sort: rows equal in the sort column keep the service's order.
        rows.sort_by(|a, b| if self.desc { order(&self.sort, b, a) } else { order(&self.sort, a, b) });
        self.total = rows.len() as u64;
        let (skip, take) = if self.export {
            (0, EXPORT_LIMIT as usize)
        } else {
            (usize::try_from(self.offset()).unwrap_or(usize::MAX), self.per_page as usize)
        };
        rows.into_iter().skip(skip).take(take).collect()
    }
}

/// Whether `text` contains the search words `query` (each word, case-insensitively), for a table's 关键词 filter.
pub fn matches_words(query: &str, text: &[&str]) -> bool {
    let haystack = text.join(" ").to_lowercase();
    query.split_whitespace().all(|word| haystack.contains(&word.to_lowercase()))
}

/// A date filter (年-月-日, 北京时间) as the instant it starts; a bad date is reported, never guessed.
pub fn day_start(
    field: &'static str,
    text: &str,
    next_day: bool,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ServiceError> {
    if text.is_empty() {
        return Ok(None);
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ServiceError::Validation(govshare_domain::ValidationError::new(
            field,
            "date",
            format!(
                "{}应为「年-月-日」格式的日期，如 2026-12-01",
                if field == "from" { "起始日期" } else { "截止日期" }
            ),
        ))
    })?;
    let day = if next_day { day.succ_opt().unwrap_or(day) } else { day };
    let start = govshare_domain::calendar::beijing()
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .map(|t| t.with_timezone(&chrono::Utc));
    Ok(start)
}

/// The filtered rows as an Excel file named `file_name` (Chinese is fine; `ascii_name` is the fallback).
pub fn xlsx(ascii_name: &str, file_name: &str, headers: &[&str], rows: &[Vec<String>]) -> Result<Response, Response> {
    let sheet = file_name.trim_end_matches(".xlsx");
    let bytes = govshare_interchange::table_xlsx(sheet, headers, rows)
        .map_err(|e| super::error_page(&ApiError::Service(ServiceError::Internal(Box::new(e)))))?;
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

    #[test]
    fn a_whole_list_is_filtered_sorted_and_paged_on_the_server() {
        let rows: Vec<u32> = (1..=120).collect();
        let order = |_: &str, a: &u32, b: &u32| a.cmp(b);
        let mut t = state(&[("page", "2"), ("per", "10")]);
        assert_eq!(t.page_of(rows.clone(), |n| n % 2 == 0, order), (82..=100).rev().step_by(2).collect::<Vec<_>>());
        assert_eq!(t.total, 60, "the total counts the filtered rows, not the page");
        let mut asc = state(&[("dir", "asc"), ("per", "10")]);
        assert_eq!(asc.page_of(rows.clone(), |_| true, order), (1..=10).collect::<Vec<_>>());
        let mut beyond = state(&[("page", "99")]);
        assert!(beyond.page_of(rows.clone(), |_| true, order).is_empty());
        let mut export = state(&[("page", "2"), ("format", "xlsx")]);
        assert_eq!(export.page_of(rows, |_| true, order).len(), 120, "an export holds every filtered row");
        assert!(matches_words("gx 公安", &["GX-2026-000001", "省公安厅"]));
        assert!(!matches_words("gx 民政", &["GX-2026-000001", "省公安厅"]));
    }
}
