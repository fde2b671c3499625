//! Human numbers (编号): what people read, say and write down instead of an object's UUID. An application is
//! `SQ-2026-000123` (申请编号), a grant `GX-2026-000123` (授权编号): the kind's prefix, the year of creation in
//! Beijing time, and the sequence of that kind in that year, from 1 and without gaps. The store assigns the
//! sequence in the transaction that creates the object; the domain only says how a number is written.

use chrono::{DateTime, Datelike, Utc};

use crate::calendar::beijing;

/// The kinds of object that carry a human number, each with its own sequence per year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberKind {
    /// A sharing application: `SQ` (申请).
    Application,
    /// A grant: `GX` (共享).
    Grant,
    /// A security incident report: `SJ` (事件).
    Incident,
    /// A correction request: `JH` (校核).
    Correction,
    /// A sharing dispute: `ZY` (争议).
    Dispute,
    /// A public complaint or report: `TS` (投诉).
    Complaint,
    /// An order to rectify: `ZG` (整改).
    Order,
    /// A circulated notice: `TB` (通报).
    Notice,
}

impl NumberKind {
    /// The prefix, which is also the kind's name in the store's counters.
    pub fn prefix(self) -> &'static str {
        match self {
            NumberKind::Application => "SQ",
            NumberKind::Grant => "GX",
            NumberKind::Incident => "SJ",
            NumberKind::Correction => "JH",
            NumberKind::Dispute => "ZY",
            NumberKind::Complaint => "TS",
            NumberKind::Order => "ZG",
            NumberKind::Notice => "TB",
        }
    }

    /// The number of the `seq`th object of this kind created in `year`: at least six digits of sequence.
    pub fn format(self, year: i32, seq: i64) -> String {
        format!("{}-{year}-{seq:06}", self.prefix())
    }
}

/// The year a number created at `at` carries: the calendar year in Beijing time.
pub fn number_year(at: DateTime<Utc>) -> i32 {
    at.with_timezone(&beijing()).year()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_prefix_beijing_year_and_six_digits() {
        assert_eq!(NumberKind::Application.format(2026, 123), "SQ-2026-000123");
        assert_eq!(NumberKind::Grant.format(2026, 1), "GX-2026-000001");
        assert_eq!(NumberKind::Grant.format(2026, 1_234_567), "GX-2026-1234567", "never truncated");
        let new_year_in_beijing: DateTime<Utc> = "2025-12-31T16:00:00Z".parse().unwrap();
        assert_eq!(number_year(new_year_in_beijing), 2026);
        assert_eq!(number_year(new_year_in_beijing - chrono::Duration::seconds(1)), 2025);
    }
}
