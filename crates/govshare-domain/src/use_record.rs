//! Records of use kept by the requester (Art. 29 ¶2, R-DEL-5: 政务数据需求部门应当对共享政务数据的使用场景、
//! 使用过程、应用成效、存储情况、销毁情况等进行记录，有关记录保存期限不少于3年).
//!
//! Beyond the platform's own access log, the requester records for each grant, period by period, how it used the
//! data. Periods are calendar-aligned (every `months` months from 1 January: quarters by default) and clipped to
//! the time the grant could be used; the last one is the final record. Each period owes the requester a record
//! within [`USE_RECORD_DAYS`] working days of its end (a duty from the day after the period ends). Records are
//! appended, never changed or deleted; a further record for a period amends it.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ValidationError;
use crate::calendar::beijing;
use crate::error::{keep, required_text};
use crate::grant::{Grant, GrantId, GrantState};
use crate::org::OrgId;

/// Working days after a period ends within which its record is due.
pub const USE_RECORD_DAYS: u32 = 10;
/// The default period: a quarter.
pub const DEFAULT_USE_RECORD_MONTHS: u32 = 3;
/// The longest text of each part of a record, in characters.
pub const MAX_USE_TEXT: usize = 2000;

/// Whether `months` is a period length that divides a year (1, 2, 3, 4, 6 or 12).
pub fn valid_period_months(months: u32) -> bool {
    matches!(months, 1 | 2 | 3 | 4 | 6 | 12)
}

/// One period of a grant's use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsePeriod {
    /// Its position among the grant's planned periods, from 0.
    pub index: usize,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The last period of the grant's use: its record is the final one.
    pub last: bool,
}

impl UsePeriod {
    pub fn label(&self) -> String {
        let kind = if self.last { "终期记录" } else { "定期记录" };
        format!("{} 至 {}（{kind}）", self.start, self.end)
    }
}

/// The calendar-aligned periods of `months` months covering `from..=until`, clipped to it.
fn periods_between(from: NaiveDate, until: NaiveDate, months: u32) -> Vec<UsePeriod> {
    let months = if valid_period_months(months) { months } else { DEFAULT_USE_RECORD_MONTHS };
    let mut out = Vec::new();
    if until < from {
        return out;
    }
    let first_month = (from.month0() / months) * months;
    let mut start = NaiveDate::from_ymd_opt(from.year(), first_month + 1, 1).expect("the first day of a month exists");
    while start <= until {
        let next = start.checked_add_months(Months::new(months)).expect("dates in range");
        let end = next.pred_opt().expect("dates in range");
        out.push(UsePeriod { index: out.len(), start: start.max(from), end: end.min(until), last: false });
        start = next;
    }
    if let Some(last) = out.last_mut() {
        last.last = true;
    }
    out
}

/// The day the grant's use ended early (北京时间), if it did: its termination, or the day before a filed ending.
pub fn ended_on(grant: &Grant) -> Option<(NaiveDate, DateTime<Utc>)> {
    let terminated = (grant.state == GrantState::Terminated)
        .then(|| {
            grant.events.iter().rev().find(|e| matches!(e.action.as_str(), "terminate" | "declare_ended")).map(|e| e.at)
        })
        .flatten()
        .map(|at| (at.with_timezone(&beijing()).date_naive(), at));
    let filed = grant.ends_on.and_then(|d| {
        let last = d.pred_opt()?;
        Some((last, crate::calendar::end_of_day(last)))
    });
    match (terminated, filed) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// A grant's periods of use: `(actual, cut)` — the periods it was (or is to be) used in, the last one clipped at
/// the end of its use, and the planned periods that an early end left out (their duties are cut short).
pub fn use_periods(grant: &Grant, months: u32) -> (Vec<UsePeriod>, Vec<UsePeriod>) {
    let planned = periods_between(grant.valid_from, grant.valid_until, months);
    let Some((last_day, _)) = ended_on(grant).filter(|(d, _)| *d < grant.valid_until) else {
        return (planned, vec![]);
    };
    let actual = periods_between(grant.valid_from, last_day.max(grant.valid_from), months);
    let cut = planned.into_iter().filter(|p| p.index >= actual.len()).collect();
    (actual, cut)
}

/// A record of use for one period (Art. 29 ¶2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UseRecord {
    pub id: Uuid,
    pub grant: GrantId,
    pub requester: OrgId,
    pub provider: OrgId,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// The final record of the grant's use.
    pub last: bool,
    /// 使用场景: in which business the data was used.
    pub scenario: String,
    /// 使用过程: how (systems, people, volumes).
    pub process: String,
    /// 应用成效: what it achieved.
    pub results: String,
    /// 存储情况: where and how the data is kept.
    pub storage: String,
    /// 销毁情况: what was destroyed, when and how (or why nothing yet).
    pub destruction: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// A record as entered.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UseRecordInput {
    /// The first day of the period (YYYY-MM-DD), one of the grant's periods that has ended.
    pub period_start: String,
    pub scenario: String,
    pub process: String,
    pub results: String,
    pub storage: String,
    pub destruction: String,
}

impl UseRecord {
    /// Checks a record against the grant's periods; every problem at once. Only a period whose last day is
    /// `today` or earlier can be recorded.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        input: &UseRecordInput,
        grant: &Grant,
        months: u32,
        today: NaiveDate,
        id: Uuid,
        recorded_by: &str,
        recorded_at: DateTime<Utc>,
    ) -> Result<UseRecord, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let (periods, _) = use_periods(grant, months);
        let period = match input.period_start.trim() {
            "" => {
                problems.push(ValidationError::new("period_start", "required", "请选择记录的期间"));
                None
            }
            raw => match crate::error::ymd("period_start", "期间起始日期", raw) {
                Err(e) => {
                    problems.push(e);
                    None
                }
                Ok(d) => match periods.iter().find(|p| p.start == d) {
                    None => {
                        problems.push(ValidationError::new(
                            "period_start",
                            "not_a_period",
                            format!("{d} 不是该授权的记录期间起始日期"),
                        ));
                        None
                    }
                    Some(p) if p.end > today => {
                        problems.push(ValidationError::new(
                            "period_start",
                            "not_ended",
                            format!("该期间至 {} 结束，结束后再记录", p.end),
                        ));
                        None
                    }
                    Some(p) => Some(*p),
                },
            },
        };
        let text = |problems: &mut Vec<ValidationError>, field: &'static str, label: &str, value: &str| {
            keep(problems, required_text(field, label, value, MAX_USE_TEXT))
        };
        let scenario = text(&mut problems, "scenario", "使用场景", &input.scenario);
        let process = text(&mut problems, "process", "使用过程", &input.process);
        let results = text(&mut problems, "results", "应用成效", &input.results);
        let storage = text(&mut problems, "storage", "存储情况", &input.storage);
        let destruction = text(&mut problems, "destruction", "销毁情况", &input.destruction);
        match (period, scenario, process, results, storage, destruction) {
            (Some(p), Some(scenario), Some(process), Some(results), Some(storage), Some(destruction))
                if problems.is_empty() =>
            {
                Ok(UseRecord {
                    id,
                    grant: grant.id,
                    requester: grant.requester,
                    provider: grant.provider,
                    period_start: p.start,
                    period_end: p.end,
                    last: p.last,
                    scenario,
                    process,
                    results,
                    storage,
                    destruction,
                    recorded_by: recorded_by.to_owned(),
                    recorded_at,
                })
            }
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_are_calendar_aligned_and_clipped() {
        let p = periods_between(d("2026-11-15"), d("2027-08-10"), 3);
        let spans: Vec<(String, String, bool)> =
            p.iter().map(|p| (p.start.to_string(), p.end.to_string(), p.last)).collect();
        assert_eq!(
            spans,
            [
                ("2026-11-15".into(), "2026-12-31".into(), false),
                ("2027-01-01".into(), "2027-03-31".into(), false),
                ("2027-04-01".into(), "2027-06-30".into(), false),
                ("2027-07-01".into(), "2027-08-10".into(), true),
            ]
        );
        assert_eq!(periods_between(d("2026-01-01"), d("2026-12-31"), 12).len(), 1);
        assert_eq!(periods_between(d("2026-02-10"), d("2026-03-05"), 1).len(), 2);
        assert_eq!(periods_between(d("2026-02-10"), d("2026-02-10"), 6)[0].end, d("2026-02-10"));
        assert!(periods_between(d("2026-02-10"), d("2026-02-09"), 3).is_empty());
        assert!(valid_period_months(4) && !valid_period_months(5) && !valid_period_months(0));
    }
}
