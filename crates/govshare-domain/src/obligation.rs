//! Dynamic update of the catalog (R-CAT-4, Art. 17).
//!
//! When a law, administrative regulation or State Council decision changes, or a department's duties change, the
//! department must update the affected catalog entry and submit it to its same-level authority within 10 working
//! days of the change (5 more once, with the authority's consent); the authority must review and publish within 2
//! working days of receiving it.
//!
//! Progress counts from when the obligation is recorded: the department's update and the authority's review are
//! the catalog steps after that moment.
//!
//! What is stored is only what people decide: the trigger and the extension. Where the obligation stands is derived
//! from the entry's own timeline (its `head.approve`, `authority.return` and `authority.publish` events), so the
//! obligation can never disagree with the catalog, and no second write has to accompany each catalog step.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::calendar::{WorkingCalendar, beijing};
use crate::catalog::{EntryEvent, EntryId};
use crate::error::required_text;
use crate::id::define_id;

/// Working days the department has from the change (Art. 17 ¶2).
pub const UPDATE_DAYS: u32 = 10;
/// The one extension the authority may consent to.
pub const EXTENSION_DAYS: u32 = 5;
/// Working days the authority has from receipt to review and publish (Art. 17 ¶3).
pub const REVIEW_DAYS: u32 = 2;

define_id! {
    /// Identity of an update obligation (更新义务).
    pub struct ObligationId, field "obligation_id", message "更新义务标识格式错误"
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// 法律、行政法规、国务院决定调整
    LawChange,
    /// 政府部门职责变化
    DutyChange,
}

impl TriggerKind {
    pub const ALL: [TriggerKind; 2] = [TriggerKind::LawChange, TriggerKind::DutyChange];

    pub fn code(self) -> &'static str {
        match self {
            TriggerKind::LawChange => "law_change",
            TriggerKind::DutyChange => "duty_change",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TriggerKind::LawChange => "法律、行政法规、国务院决定调整",
            TriggerKind::DutyChange => "部门职责变化",
        }
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let input = input.trim();
        Self::ALL.into_iter().find(|k| k.code() == input || k.label() == input).ok_or_else(|| {
            ValidationError::new(
                "kind",
                "unknown_value",
                "更新原因应为「法律、行政法规、国务院决定调整」或「部门职责变化」",
            )
        })
    }
}

/// A department's request for the 5-day extension and the authority's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub reason: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub decision: Option<ExtensionDecision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionDecision {
    pub granted: bool,
    pub note: String,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
}

/// An update obligation, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateObligation {
    pub id: ObligationId,
    pub entry: EntryId,
    pub kind: TriggerKind,
    /// The day the law or the duties changed; the 10 working days count from it.
    pub changed_on: NaiveDate,
    /// What changed (the law, its article, the reorganisation decision …).
    pub description: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    pub extension: Option<Extension>,
}

/// A trigger as entered.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TriggerInput {
    pub kind: String,
    /// YYYY-MM-DD
    pub changed_on: String,
    pub description: String,
}

/// A trigger, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub kind: TriggerKind,
    pub changed_on: NaiveDate,
    pub description: String,
}

impl Trigger {
    /// The change cannot lie in the future, nor so far back that its deadline has long passed unrecorded
    /// (one year: older changes are a supervision matter, not an obligation to open now).
    pub fn parse(input: &TriggerInput, today: NaiveDate) -> Result<Trigger, ValidationError> {
        let kind = TriggerKind::parse(&input.kind)?;
        let changed_on = crate::error::ymd("changed_on", "变化发生日期", &input.changed_on)?;
        if changed_on > today {
            return Err(ValidationError::new("changed_on", "in_future", "变化发生日期不能晚于今天"));
        }
        if (today - changed_on).num_days() > 366 {
            return Err(ValidationError::new("changed_on", "too_old", "变化发生日期不能早于一年前"));
        }
        let description = required_text("description", "变化情况说明", &input.description, 500)?;
        Ok(Trigger { kind, changed_on, description })
    }
}

/// Where an obligation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObligationStage {
    /// The department has yet to submit the updated entry (or the authority returned it).
    AwaitingDepartment,
    /// The updated entry is with the authority.
    AwaitingAuthority,
    /// The updated entry is published.
    Completed,
}

impl ObligationStage {
    pub fn label(self) -> &'static str {
        match self {
            ObligationStage::AwaitingDepartment => "待部门更新报送",
            ObligationStage::AwaitingAuthority => "待主管部门审核发布",
            ObligationStage::Completed => "已完成",
        }
    }
}

/// An obligation with its deadlines and progress, derived from the entry's timeline at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObligationStatus {
    pub stage: ObligationStage,
    /// The department's deadline: 10 working days after the change, 15 with a granted extension.
    pub due_at: DateTime<Utc>,
    pub due_date: NaiveDate,
    pub extended: bool,
    /// First submission to the authority after the change.
    pub first_submitted_at: Option<DateTime<Utc>>,
    /// The latest receipt by the authority, and the review deadline counted from it.
    pub received_at: Option<DateTime<Utc>>,
    pub review_due_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    /// The department missed its deadline (submitted late, or not yet and the deadline has passed).
    pub department_late: bool,
    /// The authority missed its review deadline (published late, or not yet and it has passed).
    pub authority_late: bool,
    /// Working days left on the running deadline (negative when overdue); None when completed.
    pub working_days_left: Option<i64>,
    /// Years crossed without official calendar data (weekends-only fallback used).
    pub unofficial_years: Vec<i32>,
}

impl UpdateObligation {
    /// Where the obligation stands at `now`, from the entry's events.
    pub fn status(
        &self,
        events: &[EntryEvent],
        calendar: &WorkingCalendar,
        now: DateTime<Utc>,
    ) -> Result<ObligationStatus, ValidationError> {
        // Deadlines count from the day of the change; steps count once the obligation is on record (a publication
        // earlier the same day is the old catalog, not the update).
        let since = self.changed_on;
        let relevant = |e: &&EntryEvent| e.at > self.recorded_at;
        let extended = self.extension.as_ref().and_then(|x| x.decision.as_ref()).is_some_and(|d| d.granted);
        let days = UPDATE_DAYS + if extended { EXTENSION_DAYS } else { 0 };
        let (due_date, mut unofficial_years) = calendar.add_working_days(since, days)?;
        let due_at = crate::calendar::end_of_day(due_date);

        let published_at = events.iter().filter(relevant).find(|e| e.action == "authority.publish").map(|e| e.at);
        let before_publication = |e: &&EntryEvent| published_at.is_none_or(|p| e.at <= p);
        let submissions: Vec<&EntryEvent> =
            events.iter().filter(relevant).filter(before_publication).filter(|e| e.action == "head.approve").collect();
        let first_submitted_at = submissions.first().map(|e| e.at);
        let last_submission = submissions.last().map(|e| e.at);
        let returned_after = last_submission.is_some_and(|s| {
            events.iter().filter(before_publication).any(|e| e.action == "authority.return" && e.at > s)
        });

        let stage = match (published_at, last_submission) {
            (Some(_), _) => ObligationStage::Completed,
            (None, Some(_)) if !returned_after => ObligationStage::AwaitingAuthority,
            _ => ObligationStage::AwaitingDepartment,
        };
        let review = match last_submission {
            Some(received) => {
                let deadline = calendar.deadline(received, REVIEW_DAYS)?;
                unofficial_years.extend(deadline.unofficial_years.iter().copied());
                Some(deadline)
            }
            None => None,
        };
        let review_due_at = review.as_ref().map(|d| d.due_at);
        let department_late = match first_submitted_at {
            Some(at) => at > due_at,
            None => now > due_at,
        };
        let authority_late = match (review_due_at, published_at) {
            (Some(due), Some(at)) => at > due,
            (Some(due), None) => stage == ObligationStage::AwaitingAuthority && now > due,
            _ => false,
        };
        let working_days_left = match stage {
            ObligationStage::Completed => None,
            ObligationStage::AwaitingAuthority => review.as_ref().zip(last_submission).map(|(d, received)| {
                calendar.working_days_left(now, received.with_timezone(&beijing()).date_naive(), d.due_date)
            }),
            ObligationStage::AwaitingDepartment => Some(calendar.working_days_left(now, since, due_date)),
        };
        unofficial_years.sort_unstable();
        unofficial_years.dedup();
        Ok(ObligationStatus {
            stage,
            due_at,
            due_date,
            extended,
            first_submitted_at,
            received_at: last_submission,
            review_due_at,
            published_at,
            department_late,
            authority_late,
            working_days_left,
            unofficial_years,
        })
    }

    /// The department asks for the extension: once, with a reason, while it still has the entry and before the
    /// original deadline has passed.
    pub fn request_extension(
        &self,
        status: &ObligationStatus,
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Extension, ValidationError> {
        let reason = required_text("reason", "延期理由", reason, 500)?;
        if self.extension.is_some() {
            return Err(ValidationError::new("extension", "once", "延期只能申请一次（第十七条）"));
        }
        if status.stage != ObligationStage::AwaitingDepartment {
            return Err(ValidationError::new("extension", "stage", "目录已报送主管部门，无需延期"));
        }
        if now > status.due_at {
            return Err(ValidationError::new("extension", "overdue", "更新期限已过，不能再申请延期"));
        }
        Ok(Extension { reason, requested_by: by.to_owned(), requested_at: now, decision: None })
    }

    /// The authority consents or refuses; a refusal needs a reason.
    pub fn decide_extension(
        &self,
        granted: bool,
        note: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Extension, ValidationError> {
        let Some(extension) = &self.extension else {
            return Err(ValidationError::new("extension", "not_requested", "该义务没有待审批的延期申请"));
        };
        if extension.decision.is_some() {
            return Err(ValidationError::new("extension", "decided", "延期申请已经审批"));
        }
        let note = note.trim();
        if !granted && note.is_empty() {
            return Err(ValidationError::new("note", "required", "不同意延期时应说明理由"));
        }
        let decision = ExtensionDecision { granted, note: note.to_owned(), decided_by: by.to_owned(), decided_at: now };
        Ok(Extension { decision: Some(decision), ..extension.clone() })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::calendar::beijing;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// 北京时间 on a date.
    fn at(date: &str, h: u32) -> DateTime<Utc> {
        beijing().from_local_datetime(&d(date).and_hms_opt(h, 0, 0).unwrap()).unwrap().with_timezone(&Utc)
    }

    fn event(action: &str, when: DateTime<Utc>) -> EntryEvent {
        EntryEvent {
            version: 2,
            at: when,
            actor: "u".into(),
            actor_name: "某人".into(),
            action: action.into(),
            note: String::new(),
        }
    }

    fn obligation(changed_on: &str) -> UpdateObligation {
        UpdateObligation {
            id: ObligationId::new(),
            entry: EntryId::new(),
            kind: TriggerKind::LawChange,
            changed_on: d(changed_on),
            description: "《社会救助暂行办法》修订".into(),
            recorded_by: "reviewer".into(),
            recorded_at: at(changed_on, 10),
            extension: None,
        }
    }

    fn cal() -> WorkingCalendar {
        WorkingCalendar::official()
    }

    #[test]
    fn ten_working_days_from_the_change_skip_the_national_day_holiday() {
        // A change on Tue 2025-09-30: 10 working days skip 1–8 October (holiday) and count the make-up Saturday
        // 2025-10-11: Oct 9, 10, 11, 13, 14, 15, 16, 17, 20, 21.
        let o = obligation("2025-09-30");
        let s = o.status(&[], &cal(), at("2025-10-09", 9)).unwrap();
        assert_eq!(s.due_date, d("2025-10-21"));
        assert_eq!(s.stage, ObligationStage::AwaitingDepartment);
        assert!(!s.department_late);
        assert_eq!(s.working_days_left, Some(10));
        let late = o.status(&[], &cal(), at("2025-10-22", 0)).unwrap();
        assert!(late.department_late);
        assert_eq!(late.working_days_left, Some(-1));
    }

    #[test]
    fn a_granted_extension_adds_five_working_days_a_refused_one_nothing() {
        let mut o = obligation("2026-03-02"); // Monday
        let base = o.status(&[], &cal(), at("2026-03-03", 9)).unwrap();
        assert_eq!(base.due_date, d("2026-03-16"));
        let requested = o.request_extension(&base, "涉及多个处室数据项调整", "mzt.head", at("2026-03-10", 9)).unwrap();
        o.extension = Some(requested);
        assert_eq!(o.status(&[], &cal(), at("2026-03-10", 9)).unwrap().due_date, d("2026-03-16"), "not yet granted");
        assert_eq!(o.request_extension(&base, "再次申请", "mzt.head", at("2026-03-11", 9)).unwrap_err().rule, "once");
        let mut refused = o.clone();
        assert_eq!(refused.decide_extension(false, " ", "reviewer", at("2026-03-11", 9)).unwrap_err().field, "note");
        refused.extension =
            Some(refused.decide_extension(false, "理由不充分", "reviewer", at("2026-03-11", 9)).unwrap());
        assert_eq!(refused.status(&[], &cal(), at("2026-03-11", 9)).unwrap().due_date, d("2026-03-16"));
        o.extension = Some(o.decide_extension(true, "", "reviewer", at("2026-03-11", 9)).unwrap());
        let extended = o.status(&[], &cal(), at("2026-03-11", 9)).unwrap();
        assert!(extended.extended);
        assert_eq!(extended.due_date, d("2026-03-23"));
        assert_eq!(o.decide_extension(true, "", "reviewer", at("2026-03-12", 9)).unwrap_err().rule, "decided");
    }

    #[test]
    fn no_extension_after_the_deadline_or_once_submitted() {
        let o = obligation("2026-03-02");
        let late = o.status(&[], &cal(), at("2026-03-17", 9)).unwrap();
        assert_eq!(o.request_extension(&late, "晚了", "h", at("2026-03-17", 9)).unwrap_err().rule, "overdue");
        let events = [event("head.approve", at("2026-03-05", 9))];
        let submitted = o.status(&events, &cal(), at("2026-03-05", 10)).unwrap();
        assert_eq!(o.request_extension(&submitted, "x", "h", at("2026-03-05", 10)).unwrap_err().rule, "stage");
        assert!(o.request_extension(&late, "", "h", at("2026-03-05", 10)).is_err(), "a reason is required");
    }

    #[test]
    fn the_authority_has_two_working_days_from_receipt() {
        let o = obligation("2026-04-27"); // Monday before the Labour Day holiday (May 1–5, 2026)
        // Received Thursday 2026-04-30: the review deadline skips the holiday; 2026-05-09 (Saturday) is a make-up day.
        let events = [event("draft.edit", at("2026-04-28", 9)), event("head.approve", at("2026-04-30", 16))];
        let s = o.status(&events, &cal(), at("2026-04-30", 17)).unwrap();
        assert_eq!(s.stage, ObligationStage::AwaitingAuthority);
        assert_eq!(s.received_at, Some(at("2026-04-30", 16)));
        let review_due = s.review_due_at.unwrap().with_timezone(&beijing()).date_naive();
        assert_eq!(review_due, cal().add_working_days(d("2026-04-30"), 2).unwrap().0);
        assert!(review_due >= d("2026-05-06"), "the holiday is skipped: {review_due}");
        assert!(!s.department_late && !s.authority_late);

        let later = at("2026-05-20", 9);
        assert!(o.status(&events, &cal(), later).unwrap().authority_late);
        let mut done = events.to_vec();
        done.push(event("authority.publish", at("2026-05-06", 10)));
        let s = o.status(&done, &cal(), later).unwrap();
        assert_eq!(s.stage, ObligationStage::Completed);
        assert_eq!(s.working_days_left, None);
        assert_eq!(s.authority_late, at("2026-05-06", 10) > s.review_due_at.unwrap());
    }

    #[test]
    fn a_return_gives_the_entry_back_and_the_next_receipt_restarts_the_review_clock() {
        let o = obligation("2026-06-01");
        let events = [event("head.approve", at("2026-06-03", 9)), event("authority.return", at("2026-06-04", 9))];
        let s = o.status(&events, &cal(), at("2026-06-04", 10)).unwrap();
        assert_eq!(s.stage, ObligationStage::AwaitingDepartment);
        assert_eq!(s.first_submitted_at, Some(at("2026-06-03", 9)), "submitted in time the first time");
        let mut again = events.to_vec();
        again.push(event("head.approve", at("2026-06-10", 9)));
        let s = o.status(&again, &cal(), at("2026-06-10", 10)).unwrap();
        assert_eq!(s.stage, ObligationStage::AwaitingAuthority);
        assert_eq!(s.received_at, Some(at("2026-06-10", 9)));
        assert!(!s.department_late);
    }

    #[test]
    fn steps_before_the_change_do_not_count() {
        let o = obligation("2026-06-10");
        let events = [event("head.approve", at("2026-06-01", 9)), event("authority.publish", at("2026-06-02", 9))];
        let s = o.status(&events, &cal(), at("2026-06-11", 9)).unwrap();
        assert_eq!(s.stage, ObligationStage::AwaitingDepartment);
        assert_eq!(s.published_at, None);
    }

    #[test]
    fn trigger_input_is_validated_field_by_field() {
        let today = d("2026-11-23");
        let ok = TriggerInput {
            kind: "部门职责变化".into(),
            changed_on: "2026-11-20".into(),
            description: "机构改革".into(),
        };
        assert_eq!(Trigger::parse(&ok, today).unwrap().kind, TriggerKind::DutyChange);
        let cases = [
            (TriggerInput { kind: "随便".into(), ..ok.clone() }, "kind", "unknown_value"),
            (TriggerInput { changed_on: "2026/11/20".into(), ..ok.clone() }, "changed_on", "date_format"),
            (TriggerInput { changed_on: "2026-11-24".into(), ..ok.clone() }, "changed_on", "in_future"),
            (TriggerInput { changed_on: "2025-01-01".into(), ..ok.clone() }, "changed_on", "too_old"),
            (TriggerInput { description: " ".into(), ..ok.clone() }, "description", "required"),
        ];
        for (input, field, rule) in cases {
            let err = Trigger::parse(&input, today).unwrap_err();
            assert_eq!((err.field.as_ref(), err.rule), (field, rule), "{input:?}");
        }
    }
}
