//! The working-day calendar (REQUIREMENTS §9) and the deadlines computed from it.
//!
//! A working day is Monday–Friday, minus the official public holidays, plus the official make-up working days
//! (调休), as published each year by the State Council General Office. "Within N working days of receipt"
//! means: the day of receipt is not counted, counting starts on the next working day, and the deadline is the
//! end (23:59:59 北京时间) of the Nth working day. A year without loaded data falls back to weekends only,
//! and every computation that touched such a year says so.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// The official data for 2024–2026 shipped with the platform.
pub const OFFICIAL_2024_2026: &str = include_str!("../data/cn-holidays-2024-2026.json");

/// Longest span a deadline computation walks, a guard against nonsense input (about 20 years of working days).
const MAX_WORKING_DAYS: u32 = 5_000;

/// 北京时间, the zone every deadline of the regulation is counted in (no daylight saving since 1991).
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YearCalendar {
    /// Holiday dates, with the holiday's name (元旦, 春节, …).
    pub holidays: BTreeMap<NaiveDate, String>,
    /// Make-up working days (调休上班), with the holiday they make up for.
    pub makeup_workdays: BTreeMap<NaiveDate, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkingCalendar {
    years: BTreeMap<i32, YearCalendar>,
}

#[derive(Serialize, Deserialize)]
struct FileFormat {
    years: BTreeMap<String, FileYear>,
}

#[derive(Serialize, Deserialize)]
struct FileYear {
    holidays: Vec<FileHoliday>,
    makeup_workdays: Vec<FileMakeup>,
}

#[derive(Serialize, Deserialize)]
struct FileHoliday {
    date: String,
    name: String,
}

#[derive(Serialize, Deserialize)]
struct FileMakeup {
    date: String,
    #[serde(rename = "for")]
    for_holiday: String,
}

fn parse_date(field: &'static str, raw: &str) -> Result<NaiveDate, ValidationError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| ValidationError::new(field, "date_format", format!("日期「{raw}」格式应为 YYYY-MM-DD")))
}

/// A deadline and how it was computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// The last working day.
    pub due_date: NaiveDate,
    /// The end of that day, 23:59:59 北京时间.
    pub due_at: DateTime<Utc>,
    /// Years the computation crossed for which no official data is loaded (weekends-only fallback was used).
    pub unofficial_years: Vec<i32>,
}

impl WorkingCalendar {
    /// The calendar with the official data shipped with the platform.
    pub fn official() -> Self {
        Self::from_json(OFFICIAL_2024_2026).expect("the shipped calendar data is valid")
    }

    /// Parses data in the format of `cn-holidays-2024-2026.json`, checking every entry: dates are real, each sits
    /// in the year it is listed under, holidays are not also make-up days.
    pub fn from_json(text: &str) -> Result<Self, ValidationError> {
        let file: FileFormat = serde_json::from_str(text)
            .map_err(|e| ValidationError::new("calendar", "format", format!("日历数据格式错误：{e}")))?;
        let mut calendar = WorkingCalendar::default();
        for (year_key, data) in file.years {
            let year: i32 = year_key
                .parse()
                .ok()
                .filter(|y| (2000..=2100).contains(y))
                .ok_or_else(|| ValidationError::new("years", "year", format!("年份「{year_key}」无效")))?;
            let mut entry = YearCalendar::default();
            for h in data.holidays {
                let date = parse_date("holidays.date", &h.date)?;
                entry.holidays.insert(date, h.name);
            }
            for m in data.makeup_workdays {
                let date = parse_date("makeup_workdays.date", &m.date)?;
                entry.makeup_workdays.insert(date, m.for_holiday);
            }
            for date in entry.holidays.keys().chain(entry.makeup_workdays.keys()) {
                if date.year() != year {
                    return Err(ValidationError::new(
                        "years",
                        "wrong_year",
                        format!("{date} 列在 {year} 年下，但不属于该年"),
                    ));
                }
            }
            if let Some(both) = entry.holidays.keys().find(|d| entry.makeup_workdays.contains_key(d)) {
                return Err(ValidationError::new("years", "conflict", format!("{both} 不能既是节假日又是调休工作日")));
            }
            if entry.holidays.is_empty() {
                return Err(ValidationError::new(
                    "holidays",
                    "required",
                    format!("{year} 年没有任何节假日，数据不完整"),
                ));
            }
            calendar.years.insert(year, entry);
        }
        Ok(calendar)
    }

    /// Adds or replaces the years of `other`.
    pub fn merge(&mut self, other: WorkingCalendar) {
        self.years.extend(other.years);
    }

    pub fn years(&self) -> impl Iterator<Item = (&i32, &YearCalendar)> {
        self.years.iter()
    }

    /// One year's data in the file format (`{"years":{"2027":{…}}}`), for storing and re-loading with [`Self::from_json`].
    pub fn year_json(&self, year: i32) -> Option<String> {
        let data = self.years.get(&year)?;
        let file_year = FileYear {
            holidays: data.holidays.iter().map(|(d, n)| FileHoliday { date: d.to_string(), name: n.clone() }).collect(),
            makeup_workdays: data
                .makeup_workdays
                .iter()
                .map(|(d, h)| FileMakeup { date: d.to_string(), for_holiday: h.clone() })
                .collect(),
        };
        let file = FileFormat { years: BTreeMap::from([(year.to_string(), file_year)]) };
        serde_json::to_string(&file).ok()
    }

    /// Whether deadlines computed today could silently use the weekends-only fallback: the current year has no
    /// official data, or it is December and next year has none yet.
    pub fn missing_years(&self, today: NaiveDate) -> Vec<i32> {
        let mut missing = Vec::new();
        if !self.covers(today.year()) {
            missing.push(today.year());
        }
        if today.month() == 12 && !self.covers(today.year() + 1) {
            missing.push(today.year() + 1);
        }
        missing
    }

    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.years.get(&date.year()) {
            Some(year) if year.makeup_workdays.contains_key(&date) => true,
            Some(year) if year.holidays.contains_key(&date) => false,
            _ => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The Nth working day after `start` (`start` itself is never counted). Also returns the years crossed without
    /// official data.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Result<(NaiveDate, Vec<i32>), ValidationError> {
        if n > MAX_WORKING_DAYS {
            return Err(ValidationError::new("working_days", "range", format!("工作日数不能超过 {MAX_WORKING_DAYS}")));
        }
        let mut date = start;
        let mut counted = 0;
        let mut unofficial = BTreeSet::new();
        while counted < n {
            date = date
                .checked_add_days(Days::new(1))
                .ok_or_else(|| ValidationError::new("date", "range", "日期超出范围"))?;
            if !self.covers(date.year()) {
                unofficial.insert(date.year());
            }
            if self.is_working_day(date) {
                counted += 1;
            }
        }
        Ok((date, unofficial.into_iter().collect()))
    }

    /// The deadline for something that must be done "within `n` working days" of `received_at`.
    pub fn deadline(&self, received_at: DateTime<Utc>, n: u32) -> Result<Deadline, ValidationError> {
        let received_day = received_at.with_timezone(&beijing()).date_naive();
        let (due_date, unofficial_years) = self.add_working_days(received_day, n)?;
        Ok(Deadline { due_date, due_at: end_of_day(due_date), unofficial_years })
    }

    /// Working days left at `now` of a period that started on `start` (its own day not counted: "within N working
    /// days of receipt") and ends on `due_date`: the period's working days not yet over, today included while it
    /// is one of them; negative (the working days since) once `due_date` has passed. On the day of receipt of a
    /// 10-day period, 10; on its due date, 1.
    pub fn working_days_left(&self, now: DateTime<Utc>, start: NaiveDate, due_date: NaiveDate) -> i64 {
        let today = now.with_timezone(&beijing()).date_naive();
        if today > due_date {
            return -(self.working_days_between(due_date, today) as i64);
        }
        let from = if today > start { today.pred_opt().unwrap_or(today) } else { start };
        self.working_days_between(from, due_date) as i64
    }

    /// Working days in `(from, to]`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days().skip(1).take_while(|d| *d <= to).filter(|d| self.is_working_day(*d)).count() as u32
    }
}

/// 23:59:59 北京时间 of `date`, in UTC.
pub fn end_of_day(date: NaiveDate) -> DateTime<Utc> {
    let local = date.and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("valid time"));
    beijing().from_local_datetime(&local).single().expect("fixed offsets are unambiguous").with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn add(start: &str, n: u32) -> String {
        WorkingCalendar::official().add_working_days(d(start), n).unwrap().0.to_string()
    }

    #[test]
    fn ordinary_weeks() {
        assert_eq!(add("2026-11-23", 1), "2026-11-24", "Monday + 1 = Tuesday; the day of receipt is not counted");
        assert_eq!(add("2026-11-27", 1), "2026-11-30", "Friday + 1 = Monday");
        assert_eq!(add("2026-11-23", 10), "2026-12-07");
        assert_eq!(add("2026-11-23", 0), "2026-11-23");
    }

    #[test]
    fn receipt_on_a_non_working_day_counts_from_the_next_working_day() {
        assert_eq!(add("2026-11-28", 1), "2026-11-30", "received Saturday: Monday is the first working day");
        assert_eq!(add("2026-10-03", 1), "2026-10-08", "received during the National Day holiday");
        assert_eq!(add("2026-02-18", 1), "2026-02-24", "received during Spring Festival");
    }

    #[test]
    fn national_day_and_make_up_days() {
        // 2025: Oct 1–8 off, Sunday Sep 28 and Saturday Oct 11 are working days.
        assert_eq!(add("2025-09-30", 1), "2025-10-09", "just before National Day");
        assert_eq!(add("2025-09-26", 1), "2025-09-28", "the make-up Sunday counts");
        assert_eq!(
            add("2025-09-27", 1),
            "2025-09-28",
            "received on Saturday, the make-up Sunday is the next working day"
        );
        assert_eq!(add("2025-10-10", 1), "2025-10-11", "the make-up Saturday counts");
        // Sep 26, 28*, 29, 30, Oct 9, 10, 11*, 13, 14, 15 (* make-up days).
        assert_eq!(add("2025-09-25", 10), "2025-10-15");
        // 2026: Sep 25–27 (Mid-Autumn) and Oct 1–7 off; Sunday Sep 20 and Saturday Oct 10 are working days.
        assert_eq!(add("2026-09-18", 1), "2026-09-20");
        assert_eq!(add("2026-09-30", 1), "2026-10-08");
        assert_eq!(add("2026-09-30", 3), "2026-10-10");
    }

    #[test]
    fn year_boundaries_and_missing_years() {
        let cal = WorkingCalendar::official();
        assert_eq!(add("2025-12-31", 1), "2026-01-04", "Jan 1–3 2026 off; Sunday Jan 4 is a make-up day");
        assert_eq!(add("2025-12-31", 2), "2026-01-05");
        assert!(cal.is_working_day(d("2026-01-04")));
        let (date, unofficial) = cal.add_working_days(d("2026-12-30"), 3).unwrap();
        assert_eq!(date, d("2027-01-04"), "2027 falls back to weekends only");
        assert_eq!(unofficial, vec![2027]);
        let (_, none) = cal.add_working_days(d("2026-12-01"), 3).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn deadlines_end_at_midnight_beijing_time() {
        let cal = WorkingCalendar::official();
        // 2026-11-23 17:30 Beijing = 09:30 UTC.
        let received = Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0).unwrap();
        let deadline = cal.deadline(received, 1).unwrap();
        assert_eq!(deadline.due_date, d("2026-11-24"));
        assert_eq!(deadline.due_at, Utc.with_ymd_and_hms(2026, 11, 24, 15, 59, 59).unwrap());
        // 23:30 UTC on the 22nd is already Monday the 23rd in Beijing.
        let late = Utc.with_ymd_and_hms(2026, 11, 22, 23, 30, 0).unwrap();
        assert_eq!(cal.deadline(late, 1).unwrap().due_date, d("2026-11-24"));
    }

    #[test]
    fn days_left() {
        let cal = WorkingCalendar::official();
        let monday_morning = Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap();
        let earlier = d("2026-11-16");
        assert_eq!(cal.working_days_left(monday_morning, earlier, d("2026-11-24")), 2, "today and tomorrow");
        assert_eq!(cal.working_days_left(monday_morning, earlier, d("2026-11-23")), 1, "the due date itself");
        assert_eq!(cal.working_days_left(monday_morning, earlier, d("2026-11-20")), -1, "one working day overdue");
        // Received today: today is not one of the period's days (people say "10 left", not 11).
        let today = d("2026-11-23");
        let (due, _) = cal.add_working_days(today, 10).unwrap();
        assert_eq!(cal.working_days_left(monday_morning, today, due), 10);
        let (due, _) = cal.add_working_days(today, 20).unwrap();
        assert_eq!(cal.working_days_left(monday_morning, today, due), 20);
        let (due, _) = cal.add_working_days(today, 1).unwrap();
        assert_eq!(cal.working_days_left(monday_morning, today, due), 1, "a 1-day period on its day of receipt");
        // The next working day still counts while it lasts.
        let tuesday = Utc.with_ymd_and_hms(2026, 11, 24, 1, 0, 0).unwrap();
        let (due, _) = cal.add_working_days(today, 10).unwrap();
        assert_eq!(cal.working_days_left(tuesday, today, due), 10);
        // Received on a Saturday: Monday is the first day, and on Saturday all 10 are left.
        let saturday = Utc.with_ymd_and_hms(2026, 11, 21, 1, 0, 0).unwrap();
        let (due, _) = cal.add_working_days(d("2026-11-21"), 10).unwrap();
        assert_eq!(cal.working_days_left(saturday, d("2026-11-21"), due), 10);
    }

    #[test]
    fn bad_data_is_refused_with_the_reason() {
        let wrong_year =
            r#"{"years":{"2027":{"holidays":[{"date":"2026-01-01","name":"元旦"}],"makeup_workdays":[]}}}"#;
        assert_eq!(WorkingCalendar::from_json(wrong_year).unwrap_err().rule, "wrong_year");
        let both = r#"{"years":{"2027":{"holidays":[{"date":"2027-01-01","name":"元旦"}],"makeup_workdays":[{"date":"2027-01-01","for":"元旦"}]}}}"#;
        assert_eq!(WorkingCalendar::from_json(both).unwrap_err().rule, "conflict");
        let bad_date = r#"{"years":{"2027":{"holidays":[{"date":"2027-02-30","name":"春节"}],"makeup_workdays":[]}}}"#;
        assert_eq!(WorkingCalendar::from_json(bad_date).unwrap_err().rule, "date_format");
        assert_eq!(WorkingCalendar::from_json("[]").unwrap_err().rule, "format");
        let ok = r#"{"years":{"2027":{"holidays":[{"date":"2027-01-01","name":"元旦"}],"makeup_workdays":[]}}}"#;
        let mut cal = WorkingCalendar::official();
        cal.merge(WorkingCalendar::from_json(ok).unwrap());
        assert!(cal.covers(2027) && cal.covers(2026));
        assert!(!cal.is_working_day(d("2027-01-01")));
    }

    #[test]
    fn year_json_round_trips_and_missing_years_are_reported() {
        let cal = WorkingCalendar::official();
        let again = WorkingCalendar::from_json(&cal.year_json(2025).unwrap()).unwrap();
        assert_eq!(again.years().next().map(|(y, c)| (*y, c.clone())), cal.years.get(&2025).map(|c| (2025, c.clone())));
        assert_eq!(cal.year_json(2030), None);
        assert!(cal.missing_years(d("2026-11-23")).is_empty());
        assert_eq!(cal.missing_years(d("2026-12-01")), vec![2027]);
        assert_eq!(cal.missing_years(d("2027-03-01")), vec![2027]);
    }

    #[test]
    fn shipped_data_matches_the_shared_calendar_counts() {
        let cal = WorkingCalendar::official();
        let counts: Vec<(i32, usize, usize)> =
            cal.years().map(|(y, c)| (*y, c.holidays.len(), c.makeup_workdays.len())).collect();
        assert_eq!(counts, vec![(2024, 28, 8), (2025, 28, 5), (2026, 33, 6)]);
    }

    proptest! {
        /// The result is a working day, strictly after the start, with exactly n working days in between.
        #[test]
        fn add_working_days_counts_exactly(offset in 0u64..1100, n in 1u32..40) {
            let cal = WorkingCalendar::official();
            let start = d("2024-01-01").checked_add_days(Days::new(offset)).unwrap();
            let (due, _) = cal.add_working_days(start, n).unwrap();
            prop_assert!(due > start);
            prop_assert!(cal.is_working_day(due));
            let between = start.iter_days().skip(1).take_while(|x| *x <= due).filter(|x| cal.is_working_day(*x)).count();
            prop_assert_eq!(between as u32, n);
        }
    }
}
