//! Duties: every obligation to act that the platform tracks, in one shape — who owes it (an organisation and the
//! role that must act), to whom, about what, under which article, since when, due when (working days, from the
//! [`WorkingCalendar`]), and when it was met.
//!
//! Each workflow keeps the rules of its own clocks (the application module decides its periods, the obligation
//! module its own) and states the result as duties, derived from its timeline alone: [`application_duties`],
//! [`entry_duties`], [`obligation_duties`]. A step never edits a duty directly; the store writes the duties derived
//! after the step, in the step's transaction, so the ledger cannot disagree with the timeline. Keys name a duty by
//! the event that opened it, which never changes (timelines only grow), so a step only adds duties or closes them.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::application::{Application, ClockKind, Reply, Step, reminder_due};
use chrono::TimeZone;

use crate::calendar::{WorkingCalendar, beijing, end_of_day};
use crate::catalog::{CatalogEntry, EntryStatus};
use crate::error::ValidationError;
use crate::grant::Grant;
use crate::obligation::{EXTENSION_DAYS, REVIEW_DAYS, UPDATE_DAYS, UpdateObligation};
use crate::org::OrgId;
use crate::role::Role;

/// What must be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DutyKind {
    /// The requester's clerk revises an application its head sent back.
    ReviseApplication,
    /// The requester's head approves (sends) or returns an application.
    ApproveApplication,
    /// The provider replies to an application (Art. 21): its clerk drafts, its head approves.
    Reply,
    /// The provider's authority decides on an extension of the reply period (Art. 21).
    DecideReplyExtension,
    /// The requester supplies the materials the supplement notice listed (Art. 21 ¶2).
    Supplement,
    /// The provider delivers the data (Art. 22).
    Deliver,
    /// The department's head approves a catalog draft for the authority, or sends it back (Art. 16).
    ApproveEntry,
    /// The department's clerk revises a catalog draft that was sent back.
    ReviseEntry,
    /// The authority reviews and publishes a submitted catalog entry (Art. 16; within 2 working days for an update,
    /// Art. 17 ¶3).
    ReviewEntry,
    /// The department updates its catalog after a change of law or duties (Art. 17 ¶2).
    UpdateCatalog,
    /// The authority decides on the extension of a catalog update (Art. 17 ¶2).
    DecideUpdateExtension,
    /// The requester rectifies a misuse its access was suspended for, by the deadline set (Art. 27 ¶2).
    Rectify,
    /// Whoever suspended the access lifts the suspension or terminates the grant once the rectification is
    /// reported (Art. 27 ¶2).
    DecideRectification,
    /// The provider's same-level authority records the filing of a provider's ending of a running sharing
    /// service (Art. 27 ¶3); the ending takes effect only once it is recorded.
    RecordFiling,
    /// The requester's head sends (or withdraws) a change request its department filed (Art. 25 ¶1).
    SendChange,
    /// The provider answers a change request (Art. 25 ¶1): its clerk drafts, its head decides, within
    /// [`crate::change::CHANGE_REPLY_DAYS`] working days of receipt.
    DecideChange,
    /// The requester records how it used a grant's data in a period (Art. 29 ¶2), within
    /// [`crate::use_record::USE_RECORD_DAYS`] working days of the period's end.
    RecordUse,
    /// The requester confirms the disposal of the data once the grant's use ended (Art. 27 ¶1), within
    /// [`crate::disposal::DISPOSAL_DAYS`] working days; missed, an Art. 40 (4) candidate.
    Dispose,
    /// The provider acknowledges a confirmed disposal, or sends it back.
    AcknowledgeDisposal,
    /// The provider's same-level authority acknowledges the aggregation risk of a grant made or widened (Art. 25
    /// ¶2); until then the grant is not usable.
    AcknowledgeAggregation,
    /// The provider verifies, corrects and answers a correction request (Art. 26) within
    /// [`crate::correction::CORRECTION_DAYS`] working days of receipt; missed, an Art. 39 (6) candidate.
    AnswerCorrection,
    /// The coordinating authority coordinates a dispute the departments could not settle (Art. 28) within its
    /// configured period; missed, an Art. 41 (2) candidate.
    CoordinateDispute,
    /// The department (or authority) a public complaint or report went to handles and answers it (Art. 37 ¶2).
    HandleComplaint,
    /// The department ordered to rectify (责令改正, Art. 39–41) reports its rectification by the order's deadline.
    RectifyOrder,
    /// The authority that ordered a rectification verifies the department's report.
    VerifyRectification,
    /// The provider that stopped a running service on its own restores it, or ends it as Art. 27 ¶3 requires
    /// (negotiated, filed); the stop itself is an Art. 39 (7) candidate.
    RestoreService,
}

impl DutyKind {
    pub const ALL: [DutyKind; 26] = [
        DutyKind::ReviseApplication,
        DutyKind::ApproveApplication,
        DutyKind::Reply,
        DutyKind::DecideReplyExtension,
        DutyKind::Supplement,
        DutyKind::Deliver,
        DutyKind::ApproveEntry,
        DutyKind::ReviseEntry,
        DutyKind::ReviewEntry,
        DutyKind::UpdateCatalog,
        DutyKind::DecideUpdateExtension,
        DutyKind::Rectify,
        DutyKind::DecideRectification,
        DutyKind::RecordFiling,
        DutyKind::SendChange,
        DutyKind::DecideChange,
        DutyKind::RecordUse,
        DutyKind::Dispose,
        DutyKind::AcknowledgeDisposal,
        DutyKind::AcknowledgeAggregation,
        DutyKind::AnswerCorrection,
        DutyKind::CoordinateDispute,
        DutyKind::HandleComplaint,
        DutyKind::RectifyOrder,
        DutyKind::VerifyRectification,
        DutyKind::RestoreService,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DutyKind::ReviseApplication => "revise_application",
            DutyKind::ApproveApplication => "approve_application",
            DutyKind::Reply => "reply",
            DutyKind::DecideReplyExtension => "decide_reply_extension",
            DutyKind::Supplement => "supplement",
            DutyKind::Deliver => "deliver",
            DutyKind::ApproveEntry => "approve_entry",
            DutyKind::ReviseEntry => "revise_entry",
            DutyKind::ReviewEntry => "review_entry",
            DutyKind::UpdateCatalog => "update_catalog",
            DutyKind::DecideUpdateExtension => "decide_update_extension",
            DutyKind::Rectify => "rectify",
            DutyKind::DecideRectification => "decide_rectification",
            DutyKind::RecordFiling => "record_filing",
            DutyKind::SendChange => "send_change",
            DutyKind::DecideChange => "decide_change",
            DutyKind::RecordUse => "record_use",
            DutyKind::Dispose => "dispose",
            DutyKind::AcknowledgeDisposal => "acknowledge_disposal",
            DutyKind::AcknowledgeAggregation => "acknowledge_aggregation",
            DutyKind::AnswerCorrection => "answer_correction",
            DutyKind::CoordinateDispute => "coordinate_dispute",
            DutyKind::HandleComplaint => "handle_complaint",
            DutyKind::RectifyOrder => "rectify_order",
            DutyKind::VerifyRectification => "verify_rectification",
            DutyKind::RestoreService => "restore_service",
        }
    }

    pub fn parse(code: &str) -> Option<DutyKind> {
        DutyKind::ALL.into_iter().find(|k| k.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            DutyKind::ReviseApplication => "修改退回的共享申请",
            DutyKind::ApproveApplication => "审核共享申请",
            DutyKind::Reply => "答复共享申请",
            DutyKind::DecideReplyExtension => "审批答复延期",
            DutyKind::Supplement => "补正申请材料",
            DutyKind::Deliver => "共享交付数据",
            DutyKind::ApproveEntry => "审核目录并报送",
            DutyKind::ReviseEntry => "修改退回的目录",
            DutyKind::ReviewEntry => "审核发布目录",
            DutyKind::UpdateCatalog => "更新政务数据目录",
            DutyKind::DecideUpdateExtension => "审批目录更新延期",
            DutyKind::Rectify => "整改违规使用",
            DutyKind::DecideRectification => "审查整改情况",
            DutyKind::RecordFiling => "共享服务终止、变更备案",
            DutyKind::SendChange => "审核变更申请",
            DutyKind::DecideChange => "答复变更申请",
            DutyKind::RecordUse => "记录数据使用情况",
            DutyKind::Dispose => "处置共享数据并确认",
            DutyKind::AcknowledgeDisposal => "确认需求部门的数据处置",
            DutyKind::AcknowledgeAggregation => "确认数据汇聚风险",
            DutyKind::AnswerCorrection => "核实更正并反馈校核结果",
            DutyKind::CoordinateDispute => "协调处理共享争议",
            DutyKind::HandleComplaint => "办理投诉举报",
            DutyKind::RectifyOrder => "按责令改正要求整改",
            DutyKind::VerifyRectification => "核查整改情况",
            DutyKind::RestoreService => "恢复暂停的共享服务或依法备案终止",
        }
    }

    /// What its deadline is called in reminders and overdue marks.
    pub fn deadline_name(self) -> &'static str {
        match self {
            DutyKind::Reply => "答复期限",
            DutyKind::Deliver => "共享交付期限",
            DutyKind::DecideReplyExtension => "延期审批期限",
            DutyKind::UpdateCatalog => "目录更新报送期限",
            DutyKind::ReviewEntry => "目录更新审核发布期限",
            DutyKind::DecideUpdateExtension => "目录更新延期审批期限",
            DutyKind::Rectify => "整改期限",
            DutyKind::DecideChange => "答复期限",
            DutyKind::RecordUse => "使用情况记录期限",
            DutyKind::Dispose => "数据处置期限",
            DutyKind::AnswerCorrection => "校核反馈期限",
            DutyKind::CoordinateDispute => "协调处理期限",
            DutyKind::RectifyOrder => "整改期限",
            _ => "办理期限",
        }
    }

    /// The article that imposes it.
    pub fn article(self) -> &'static str {
        match self {
            DutyKind::ReviseApplication | DutyKind::ApproveApplication => "第二十条",
            DutyKind::Reply | DutyKind::DecideReplyExtension | DutyKind::Supplement => "第二十一条",
            DutyKind::Deliver => "第二十二条",
            DutyKind::ApproveEntry | DutyKind::ReviseEntry | DutyKind::ReviewEntry => "第十六条",
            DutyKind::UpdateCatalog | DutyKind::DecideUpdateExtension => "第十七条",
            DutyKind::Rectify
            | DutyKind::DecideRectification
            | DutyKind::RecordFiling
            | DutyKind::Dispose
            | DutyKind::AcknowledgeDisposal => "第二十七条",
            DutyKind::SendChange | DutyKind::DecideChange | DutyKind::AcknowledgeAggregation => "第二十五条",
            DutyKind::RecordUse => "第二十九条",
            DutyKind::AnswerCorrection => "第二十六条",
            DutyKind::CoordinateDispute => "第二十八条",
            DutyKind::HandleComplaint => "第三十七条",
            DutyKind::RectifyOrder | DutyKind::VerifyRectification => "第三十九条至第四十一条",
            DutyKind::RestoreService => "第二十七条",
        }
    }
}

/// What a duty is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Application,
    Entry,
    Obligation,
    Grant,
    Correction,
    Dispute,
    Complaint,
    Order,
}

impl SubjectKind {
    pub fn code(self) -> &'static str {
        match self {
            SubjectKind::Application => "application",
            SubjectKind::Entry => "entry",
            SubjectKind::Obligation => "obligation",
            SubjectKind::Grant => "grant",
            SubjectKind::Correction => "correction",
            SubjectKind::Dispute => "dispute",
            SubjectKind::Complaint => "complaint",
            SubjectKind::Order => "order",
        }
    }

    pub fn parse(code: &str) -> Option<SubjectKind> {
        [
            SubjectKind::Application,
            SubjectKind::Entry,
            SubjectKind::Obligation,
            SubjectKind::Grant,
            SubjectKind::Correction,
            SubjectKind::Dispute,
            SubjectKind::Complaint,
            SubjectKind::Order,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// One duty, open or closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duty {
    /// Stable name: subject, kind and the index of the event that opened it.
    pub key: String,
    pub kind: DutyKind,
    pub subject_kind: SubjectKind,
    pub subject_id: uuid::Uuid,
    /// What it is about, for people: the catalog entry's name.
    pub title: String,
    /// Who owes it, and the role there that must act now.
    pub owner: OrgId,
    pub role: Role,
    /// To whom it is owed (the other department), if anyone.
    pub counterpart: Option<OrgId>,
    pub started_at: DateTime<Utc>,
    /// The statutory period in working days, with any granted extension; None where the regulation sets none.
    pub days: Option<u32>,
    pub due_at: Option<DateTime<Utc>>,
    /// When it stopped being owed: met, or cut short (a withdrawal, an ended obligation).
    pub closed_at: Option<DateTime<Utc>>,
    /// Closed because it was done (false: cut short).
    pub met: bool,
}

impl Duty {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    /// Met after its due time, or open past it at `now`.
    pub fn late(&self, now: DateTime<Utc>) -> bool {
        match (self.due_at, self.closed_at) {
            (Some(due), Some(closed)) => self.met && closed > due,
            (Some(due), None) => now > due,
            _ => false,
        }
    }

    pub fn due_date(&self) -> Option<NaiveDate> {
        self.due_at.map(|d| d.with_timezone(&beijing()).date_naive())
    }

    /// Working days left at `now` (negative when overdue), as people count them: the day the period starts is not
    /// one of its days, so on the day of receipt of a 10-working-day period 10 are left; on a later working day
    /// that day still counts; on the due date 1 is left.
    pub fn working_days_left(&self, calendar: &WorkingCalendar, now: DateTime<Utc>) -> Option<i64> {
        let due = self.due_date()?;
        Some(calendar.working_days_left(now, self.started_at.with_timezone(&beijing()).date_naive(), due))
    }

    /// Whether the party is reminded at `now`: inside the period (never on the day it starts), with 1 working day
    /// left on a period shorter than 10 days, up to 3 on a longer one ([`reminder_due`]).
    pub fn reminder_due(&self, calendar: &WorkingCalendar, now: DateTime<Utc>) -> bool {
        let today = now.with_timezone(&beijing()).date_naive();
        let start = self.started_at.with_timezone(&beijing()).date_naive();
        let Some(left) = self.working_days_left(calendar, now) else { return false };
        today > start && reminder_due(self.days.unwrap_or(1), left)
    }

    /// The console page where it is acted on.
    pub fn link(&self) -> String {
        match self.subject_kind {
            SubjectKind::Application => format!("/console/applications/{}", self.subject_id),
            SubjectKind::Entry => format!("/console/catalog/{}", self.subject_id),
            SubjectKind::Obligation => "/console/catalog/obligations".to_owned(),
            SubjectKind::Grant => format!("/console/grants/{}", self.subject_id),
            SubjectKind::Correction => format!("/console/corrections/{}", self.subject_id),
            SubjectKind::Dispute => format!("/console/disputes/{}", self.subject_id),
            SubjectKind::Complaint => format!("/console/complaints/{}", self.subject_id),
            SubjectKind::Order => format!("/console/supervision/orders/{}", self.subject_id),
        }
    }
}

/// An instant as the store keeps it (microseconds), so a duty read back equals the one derived.
pub fn stored_instant(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

struct Builder<'a> {
    subject_kind: SubjectKind,
    subject_id: uuid::Uuid,
    title: &'a str,
    duties: Vec<Duty>,
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: DutyKind,
        opened_by: usize,
        owner: OrgId,
        role: Role,
        counterpart: Option<OrgId>,
        started_at: DateTime<Utc>,
        period: Option<(u32, DateTime<Utc>)>,
    ) -> usize {
        // Instants as the store keeps them (microseconds), so a duty read back equals the one derived.
        let (started_at, period) =
            (started_at.trunc_subsecs(6), period.map(|(days, due)| (days, due.trunc_subsecs(6))));
        self.duties.push(Duty {
            key: format!("{}:{}:{}:{opened_by}", self.subject_kind.code(), self.subject_id, kind.code()),
            kind,
            subject_kind: self.subject_kind,
            subject_id: self.subject_id,
            title: self.title.to_owned(),
            owner,
            role,
            counterpart,
            started_at,
            days: period.map(|p| p.0),
            due_at: period.map(|p| p.1),
            closed_at: None,
            met: false,
        });
        self.duties.len() - 1
    }

    /// Closes the open duty at `index` (if still open).
    fn close(&mut self, index: Option<usize>, at: DateTime<Utc>, met: bool) {
        if let Some(d) = index.and_then(|i| self.duties.get_mut(i))
            && d.closed_at.is_none()
        {
            d.closed_at = Some(at.trunc_subsecs(6));
            d.met = met;
        }
    }
}

/// The duty of a correction request (Art. 26): the provider's clerk answers within
/// [`crate::correction::CORRECTION_DAYS`] working days of receipt; the answer closes it. A provider's own
/// correction owes nothing.
pub fn correction_duties(c: &crate::correction::Correction, title: &str, calendar: &WorkingCalendar) -> Vec<Duty> {
    let mut b = Builder { subject_kind: SubjectKind::Correction, subject_id: c.id.0, title, duties: vec![] };
    if let Some(requester) = c.requester {
        let days = crate::correction::CORRECTION_DAYS;
        let period = calendar.deadline(c.received_at, days).ok().map(|d| (days, d.due_at));
        let open =
            b.push(DutyKind::AnswerCorrection, 0, c.provider, Role::Clerk, Some(requester), c.received_at, period);
        if let Some(answer) = &c.answer {
            b.close(Some(open), answer.at, true);
        }
    }
    b.duties
}

/// The duty of a dispute (Art. 28): once negotiation failed, the coordinating authority's reviewer coordinates
/// within the period fixed then; agreement or the referral to the people's government closes it.
pub fn dispute_duties(d: &crate::dispute::Dispute, calendar: &WorkingCalendar) -> Vec<Duty> {
    use crate::dispute::{Stage, StepKind};
    let mut b = Builder { subject_kind: SubjectKind::Dispute, subject_id: d.id.0, title: &d.title, duties: vec![] };
    let mut open = None;
    for (i, s) in d.steps.iter().enumerate() {
        match (s.stage, s.kind) {
            (Stage::Negotiation, StepKind::Escalate) => {
                if let Some(coordinator) = d.coordinator {
                    let days = d.coordination_days.unwrap_or(crate::dispute::COORDINATION_DAYS);
                    let period = calendar.deadline(s.at, days).ok().map(|x| (days, x.due_at));
                    let role = Role::AuthorityReviewer;
                    open =
                        Some(b.push(DutyKind::CoordinateDispute, i, coordinator, role, Some(d.opener), s.at, period));
                }
            }
            (Stage::Coordination, StepKind::Agree | StepKind::Refer) => b.close(open.take(), s.at, true),
            _ => {}
        }
    }
    b.duties
}

/// The duty of a public complaint (Art. 37 ¶2): its handler answers within the period fixed at filing; a transfer
/// hands the same deadline to the new handler; an answer or a declining closes it.
pub fn complaint_duties(
    c: &crate::complaint::Complaint,
    calendar: &WorkingCalendar,
    authorities: &[OrgId],
) -> Vec<Duty> {
    use crate::complaint::ComplaintStep;
    let mut b = Builder { subject_kind: SubjectKind::Complaint, subject_id: c.id.0, title: &c.title, duties: vec![] };
    let period = calendar.deadline(c.received_at, c.days).ok().map(|d| (c.days, d.due_at));
    let role_of = |org: OrgId| if authorities.contains(&org) { Role::AuthorityReviewer } else { Role::Clerk };
    let mut open = None;
    for (i, e) in c.events.iter().enumerate() {
        match e.step {
            // The filing names its first handler (the case's `handler` is the current one).
            ComplaintStep::File => {
                let first = e.to.unwrap_or(c.handler);
                open = Some(b.push(DutyKind::HandleComplaint, i, first, role_of(first), None, e.at, period));
            }
            ComplaintStep::Transfer => {
                b.close(open.take(), e.at, false);
                if let Some(to) = e.to {
                    open = Some(b.push(DutyKind::HandleComplaint, i, to, role_of(to), None, c.received_at, period));
                }
            }
            ComplaintStep::Answer | ComplaintStep::Decline => b.close(open.take(), e.at, true),
            ComplaintStep::Accept | ComplaintStep::Note => {}
        }
    }
    b.duties
}

/// The duties of a grant after sharing, from its events (Art. 27 ¶2): a suspension for misuse owes the requester's
/// head a rectification by the date it set; the reported rectification owes whoever suspended (the provider's
/// head, or the authority that acted) a decision; lifting the suspension or terminating the grant closes both.
/// `title` is the entry's name.
/// A provider's proposed ending (Art. 27 ¶3) owes the provider's same-level `authority` (when known) the recording
/// of its filing, until it is recorded or the grant ends otherwise.
/// A change request (Art. 25 ¶1) owes the requester's head its sending, then the provider its answer within
/// [`crate::change::CHANGE_REPLY_DAYS`] working days (its clerk drafts, its head decides); a withdrawal or the
/// grant's termination cuts both short.
pub fn grant_duties(grant: &Grant, title: &str, calendar: &WorkingCalendar, authority: Option<OrgId>) -> Vec<Duty> {
    let mut b = Builder { subject_kind: SubjectKind::Grant, subject_id: grant.id.0, title, duties: vec![] };
    let (mut rectify, mut decide, mut filing): (Option<usize>, Option<usize>, Option<usize>) = (None, None, None);
    let (mut send, mut answer): (Option<usize>, Option<usize>) = (None, None);
    let mut restore: Option<usize> = None;
    let mut suspender = grant.provider;
    for (i, e) in grant.events.iter().enumerate() {
        match e.action.as_str() {
            "request_change" => {
                send = Some(b.push(DutyKind::SendChange, i, grant.requester, Role::WorkUnitHead, None, e.at, None));
            }
            "send_change" => {
                b.close(send.take(), e.at, true);
                let period = calendar
                    .deadline(e.at, crate::change::CHANGE_REPLY_DAYS)
                    .ok()
                    .map(|d| (crate::change::CHANGE_REPLY_DAYS, d.due_at));
                let (provider, requester) = (grant.provider, grant.requester);
                answer = Some(b.push(DutyKind::DecideChange, i, provider, Role::Clerk, Some(requester), e.at, period));
            }
            "draft_change_decision" | "return_change_decision" => {
                if let Some(d) = answer.and_then(|a| b.duties.get_mut(a)) {
                    d.role = if e.action == "draft_change_decision" { Role::WorkUnitHead } else { Role::Clerk };
                }
            }
            "decide_change" => b.close(answer.take(), e.at, true),
            "withdraw_change" => {
                b.close(send.take(), e.at, false);
                b.close(answer.take(), e.at, false);
            }
            "suspend" => {
                // A running service stopped by its provider on its own (not for misuse, not for an incident)
                // owes its restoration, or an ending negotiated and filed (Art. 27 ¶3): an Art. 39 (7) candidate.
                if e.misuse.is_none() && e.incident.is_none() && e.org == Some(grant.provider) {
                    let (provider, requester) = (grant.provider, grant.requester);
                    restore = Some(b.push(
                        DutyKind::RestoreService,
                        i,
                        provider,
                        Role::WorkUnitHead,
                        Some(requester),
                        e.at,
                        None,
                    ));
                }
                if let Some(m) = &e.misuse {
                    suspender = e.org.unwrap_or(grant.provider);
                    let start = e.at.with_timezone(&beijing()).date_naive();
                    let days = calendar.working_days_left(e.at, start, m.rectify_by).max(0) as u32;
                    let due = end_of_day(m.rectify_by);
                    let role = Role::WorkUnitHead;
                    rectify = Some(b.push(
                        DutyKind::Rectify,
                        i,
                        grant.requester,
                        role,
                        Some(suspender),
                        e.at,
                        Some((days, due)),
                    ));
                }
            }
            "rectify" => {
                b.close(rectify.take(), e.at, true);
                let role = if suspender == grant.provider { Role::WorkUnitHead } else { Role::AuthorityReviewer };
                decide =
                    Some(b.push(DutyKind::DecideRectification, i, suspender, role, Some(grant.requester), e.at, None));
            }
            "resume" | "terminate" => {
                b.close(restore.take(), e.at, true);
                b.close(rectify.take(), e.at, false);
                b.close(decide.take(), e.at, true);
                if e.action == "terminate" {
                    for open in [filing.take(), send.take(), answer.take()] {
                        b.close(open, e.at, false);
                    }
                }
            }
            "propose_termination" | "propose_narrowing" => {
                if let Some(authority) = authority {
                    let role = Role::AuthorityReviewer;
                    filing = Some(b.push(DutyKind::RecordFiling, i, authority, role, Some(grant.provider), e.at, None));
                }
            }
            "record_filing" => {
                b.close(filing.take(), e.at, true);
                b.close(restore.take(), e.at, true);
            }
            _ => {}
        }
    }
    if let (Some(w), Some(authority)) = (&grant.aggregation, authority) {
        let role = Role::AuthorityReviewer;
        let i = b.push(
            DutyKind::AcknowledgeAggregation,
            w.opened_by,
            authority,
            role,
            Some(grant.provider),
            w.found_at,
            None,
        );
        if let Some(ack) = &w.acknowledged {
            b.close(Some(i), ack.at, true);
        }
    }
    b.duties
}

/// The records of use a grant owes (Art. 29 ¶2): one per period of its use ([`crate::use_record::use_periods`]),
/// owed by the requester's clerk from the day after the period ends, due within
/// [`crate::use_record::USE_RECORD_DAYS`] working days, met by the period's first record. Planned periods an early
/// end left out are cut short at that end. `title` is the entry's name.
pub fn use_record_duties(
    grant: &Grant,
    title: &str,
    calendar: &WorkingCalendar,
    months: u32,
    records: &[crate::use_record::UseRecord],
) -> Vec<Duty> {
    use crate::use_record::{USE_RECORD_DAYS, ended_on, use_periods};
    let mut b = Builder { subject_kind: SubjectKind::Grant, subject_id: grant.id.0, title, duties: vec![] };
    let (actual, cut) = use_periods(grant, months);
    let (requester, provider) = (grant.requester, grant.provider);
    for p in actual.iter().chain(&cut) {
        let start = end_of_day(p.end);
        let period = calendar.deadline(start, USE_RECORD_DAYS).ok().map(|d| (USE_RECORD_DAYS, d.due_at));
        let i = b.push(DutyKind::RecordUse, p.index, requester, Role::Clerk, Some(provider), start, period);
        if p.index >= actual.len() {
            let at = ended_on(grant).map(|(_, at)| at).unwrap_or(start);
            b.close(Some(i), at, false);
        } else if let Some(first) = records.iter().filter(|r| r.period_start == p.start).map(|r| r.recorded_at).min() {
            b.close(Some(i), first, true);
        }
    }
    b.duties
}

/// The disposal a grant owes once its use ends (Art. 27 ¶1): the requester's confirmation from the end (its expiry,
/// known in advance, or an earlier termination or filed ending), due within [`crate::disposal::DISPOSAL_DAYS`]
/// working days; a confirmation owes the provider its acknowledgement; a confirmation sent back owes a new one,
/// due as long from then.
pub fn disposal_duties(grant: &Grant, title: &str, calendar: &WorkingCalendar) -> Vec<Duty> {
    use crate::disposal::DISPOSAL_DAYS;
    let mut b = Builder { subject_kind: SubjectKind::Grant, subject_id: grant.id.0, title, duties: vec![] };
    let (requester, provider) = (grant.requester, grant.provider);
    let ended = match crate::use_record::ended_on(grant) {
        Some((day, at)) if day < grant.valid_until => at,
        _ => end_of_day(grant.valid_until),
    };
    let period = |from: DateTime<Utc>| calendar.deadline(from, DISPOSAL_DAYS).ok().map(|d| (DISPOSAL_DAYS, d.due_at));
    let mut dispose = Some(b.push(DutyKind::Dispose, 0, requester, Role::Clerk, Some(provider), ended, period(ended)));
    let mut acknowledge = None;
    for (i, e) in grant.events.iter().enumerate() {
        match e.action.as_str() {
            "confirm_disposal" => {
                b.close(dispose.take(), e.at, true);
                acknowledge =
                    Some(b.push(DutyKind::AcknowledgeDisposal, i, provider, Role::Clerk, Some(requester), e.at, None));
            }
            "return_disposal" => {
                b.close(acknowledge.take(), e.at, true);
                dispose =
                    Some(b.push(DutyKind::Dispose, i, requester, Role::Clerk, Some(provider), e.at, period(e.at)));
            }
            "acknowledge_disposal" => b.close(acknowledge.take(), e.at, true),
            _ => {}
        }
    }
    b.duties
}

/// The duties of an application, from its timeline. `authority` is the provider's same-level authority, which
/// decides extensions (none known: the extension duty is not stated).
pub fn application_duties(
    app: &Application,
    calendar: &WorkingCalendar,
    authority: Option<OrgId>,
) -> Result<Vec<Duty>, ValidationError> {
    let status = app.status(calendar, app.created_at)?;
    let mut b = Builder {
        subject_kind: SubjectKind::Application,
        subject_id: app.id.0,
        title: &app.entry_name,
        duties: vec![],
    };
    let (requester, provider) = (app.requester, app.provider);
    let (mut revise, mut approve, mut supplement, mut extension) = (None, None, None, None);
    let (mut reply, mut deliver): (Option<usize>, Option<usize>) = (None, None);
    for (i, e) in app.events.iter().enumerate() {
        match &e.step {
            Step::Create { .. } | Step::Edit { .. } => {}
            Step::Submit => {
                b.close(revise.take(), e.at, true);
                approve =
                    Some(b.push(DutyKind::ApproveApplication, i, requester, Role::WorkUnitHead, None, e.at, None));
            }
            Step::Return { .. } => {
                b.close(approve.take(), e.at, true);
                revise = Some(b.push(DutyKind::ReviseApplication, i, requester, Role::Clerk, None, e.at, None));
            }
            Step::Send { .. } | Step::Supplement { .. } => {
                b.close(approve.take(), e.at, true);
                b.close(supplement.take(), e.at, true);
                let period = status.periods.iter().find(|p| p.kind == ClockKind::Reply && p.started_by == i);
                let period = period.map(|p| (p.days, p.due_at));
                reply = Some(b.push(DutyKind::Reply, i, provider, Role::Clerk, Some(requester), e.at, period));
            }
            Step::Withdraw { .. } => {
                for open in [revise.take(), approve.take(), supplement.take(), extension.take(), reply.take()] {
                    b.close(open, e.at, false);
                }
            }
            Step::DraftReply { .. } => {
                if let Some(d) = reply.and_then(|r| b.duties.get_mut(r)) {
                    d.role = Role::WorkUnitHead;
                }
            }
            Step::ReturnReply { .. } => {
                if let Some(d) = reply.and_then(|r| b.duties.get_mut(r)) {
                    d.role = Role::Clerk;
                }
            }
            Step::ApproveReply { .. } => {
                b.close(reply.take(), e.at, true);
                b.close(extension.take(), e.at, false);
                match status_reply_at(app, i) {
                    Some(Reply::Supplement { .. }) => {
                        let duty = b.push(DutyKind::Supplement, i, requester, Role::Clerk, Some(provider), e.at, None);
                        supplement = Some(duty);
                    }
                    Some(Reply::Approve { .. }) => {
                        let period = status.periods.iter().find(|p| p.kind == ClockKind::Delivery && p.started_by == i);
                        let period = period.map(|p| (p.days, p.due_at));
                        deliver =
                            Some(b.push(DutyKind::Deliver, i, provider, Role::Clerk, Some(requester), e.at, period));
                    }
                    _ => {}
                }
            }
            Step::RequestExtension { .. } => {
                if let Some(authority) = authority {
                    // Decided while the reply period runs: it is due when the reply is.
                    let due = reply.and_then(|r| b.duties[r].due_at);
                    let duty = b.push(
                        DutyKind::DecideReplyExtension,
                        i,
                        authority,
                        Role::AuthorityReviewer,
                        Some(provider),
                        e.at,
                        None,
                    );
                    b.duties[duty].due_at = due;
                    extension = Some(duty);
                }
            }
            Step::DecideExtension { .. } => b.close(extension.take(), e.at, true),
            Step::RecordDelivery { .. } => b.close(deliver.take(), e.at, true),
        }
    }
    Ok(b.duties)
}

/// The reply the head approved at event `at`: the last one drafted before it.
fn status_reply_at(app: &Application, at: usize) -> Option<&Reply> {
    app.events[..at].iter().rev().find_map(|e| match &e.step {
        Step::DraftReply { reply } => Some(reply),
        _ => None,
    })
}

/// The duties of a catalog entry's own workflow (approval by the head, revision, review by the authority), from
/// its timeline. `authority` is the department's same-level authority. A review of an update under an obligation
/// (`update_open`: an obligation of the entry is recorded and not completed when it is received) has the 2-day period
/// of Art. 17 ¶3.
pub fn entry_duties(
    entry: &CatalogEntry,
    calendar: &WorkingCalendar,
    authority: Option<OrgId>,
    obligations: &[UpdateObligation],
) -> Result<Vec<Duty>, ValidationError> {
    let title = &entry.latest().content.name;
    let mut b = Builder { subject_kind: SubjectKind::Entry, subject_id: entry.id.0, title, duties: vec![] };
    let (mut approve, mut revise, mut review) = (None, None, None);
    for (i, e) in entry.events.iter().enumerate() {
        match e.action.as_str() {
            "draft.submit" => {
                b.close(revise.take(), e.at, true);
                approve = Some(b.push(DutyKind::ApproveEntry, i, entry.provider, Role::WorkUnitHead, None, e.at, None));
            }
            "head.approve" => {
                b.close(approve.take(), e.at, true);
                if let Some(authority) = authority {
                    // An update answers an obligation recorded before it and not yet met by a publication.
                    let published_between = |from: DateTime<Utc>| {
                        entry.events.iter().any(|x| x.action == "authority.publish" && x.at > from && x.at < e.at)
                    };
                    let under_obligation =
                        obligations.iter().any(|o| o.recorded_at < e.at && !published_between(o.recorded_at));
                    let period = if under_obligation {
                        Some((REVIEW_DAYS, calendar.deadline(e.at, REVIEW_DAYS)?.due_at))
                    } else {
                        None
                    };
                    review = Some(b.push(
                        DutyKind::ReviewEntry,
                        i,
                        authority,
                        Role::AuthorityReviewer,
                        Some(entry.provider),
                        e.at,
                        period,
                    ));
                }
            }
            "head.reject" => {
                b.close(approve.take(), e.at, true);
                revise = Some(b.push(DutyKind::ReviseEntry, i, entry.provider, Role::Clerk, None, e.at, None));
            }
            "authority.return" => {
                b.close(review.take(), e.at, true);
                revise = Some(b.push(DutyKind::ReviseEntry, i, entry.provider, Role::Clerk, None, e.at, None));
            }
            "authority.publish" => b.close(review.take(), e.at, true),
            _ => {}
        }
    }
    Ok(b.duties)
}

/// The duties of a catalog update obligation: the department's update (10 working days from the change, 15 with
/// the extension; met by the first submission to the authority), and the authority's decision on an extension
/// request. The department's clerk acts, or its head while the draft awaits the head's approval.
pub fn obligation_duties(
    obligation: &UpdateObligation,
    entry: &CatalogEntry,
    calendar: &WorkingCalendar,
    authority: Option<OrgId>,
) -> Result<Vec<Duty>, ValidationError> {
    let status = obligation.status(&entry.events, calendar, obligation.recorded_at)?;
    let title = &entry.latest().content.name;
    let mut b = Builder { subject_kind: SubjectKind::Obligation, subject_id: obligation.id.0, title, duties: vec![] };
    let started = beijing()
        .from_local_datetime(&obligation.changed_on.and_time(chrono::NaiveTime::MIN))
        .single()
        .map_or(obligation.recorded_at, |t| t.with_timezone(&Utc));
    let role = if entry.latest().status == EntryStatus::AwaitingHead { Role::WorkUnitHead } else { Role::Clerk };
    let days = UPDATE_DAYS + if status.extended { EXTENSION_DAYS } else { 0 };
    let update = b.push(DutyKind::UpdateCatalog, 0, entry.provider, role, None, started, Some((days, status.due_at)));
    if let Some(at) = status.first_submitted_at {
        b.close(Some(update), at, true);
    }
    if let (Some(x), Some(authority)) = (&obligation.extension, authority) {
        let decide = b.push(
            DutyKind::DecideUpdateExtension,
            1,
            authority,
            Role::AuthorityReviewer,
            Some(entry.provider),
            x.requested_at,
            None,
        );
        // Decided before the original period ends: it is due then.
        b.duties[decide].due_at =
            Some(calendar.add_working_days(obligation.changed_on, UPDATE_DAYS).map(|(d, _)| end_of_day(d))?);
        match (&x.decision, status.first_submitted_at) {
            (Some(d), _) => b.close(Some(decide), d.decided_at, true),
            (None, Some(at)) => b.close(Some(decide), at, false),
            (None, None) => {}
        }
    }
    Ok(b.duties)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use chrono::Duration;
    use proptest::prelude::*;

    use super::*;
    use crate::catalog::{EntryContent, EntryEvent, EntryId, EntryVersion, GradeScheme};
    use crate::obligation::{Extension, ExtensionDecision, ObligationId, TriggerKind};

    const DEPARTMENT: OrgId = OrgId(uuid::Uuid::from_u128(2));
    const AUTHORITY: OrgId = OrgId(uuid::Uuid::from_u128(3));

    fn grant_with(events: Vec<(&str, OrgId, Option<crate::grant::Misuse>)>) -> Grant {
        use crate::grant::{GrantEvent, GrantId, GrantState};
        let at = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
        let events: Vec<GrantEvent> = events
            .into_iter()
            .enumerate()
            .map(|(i, (action, org, misuse))| GrantEvent {
                at: at + Duration::days(i as i64),
                actor: "user:x".into(),
                action: action.into(),
                reason: "r".into(),
                org: Some(org),
                misuse,
                ..GrantEvent::default()
            })
            .collect();
        let state = match events.last().map(|e| e.action.as_str()) {
            Some("suspend" | "rectify") => GrantState::Suspended,
            Some("terminate") => GrantState::Terminated,
            _ => GrantState::Active,
        };
        Grant {
            id: GrantId(uuid::Uuid::from_u128(9)),
            number: "GX-2026-000001".into(),
            application: crate::application::ApplicationId(uuid::Uuid::from_u128(8)),
            requester: REQUESTER_ORG,
            provider: DEPARTMENT,
            entry: EntryId(uuid::Uuid::from_u128(7)),
            items: vec![],
            purpose: String::new(),
            row_scope: None,
            delivery: BTreeSet::new(),
            valid_from: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            valid_until: NaiveDate::from_ymd_opt(2027, 12, 1).unwrap(),
            rate_per_minute: 1,
            daily_rows: 1,
            state,
            further_purposes: vec![],
            third_parties: vec![],
            past_terms: vec![],
            terms_since: None,
            aggregation: None,
            scheduled_narrowing: None,
            ends_on: None,
            hash_key: String::new(),
            created_at: at,
            events,
        }
    }

    const REQUESTER_ORG: OrgId = OrgId(uuid::Uuid::from_u128(4));

    /// Art. 27 ¶2 on a grant: a misuse suspension owes the requester's head a rectification due at the end of the
    /// date set; reporting it meets that duty and owes the suspender (provider head, or the authority with its
    /// reviewer role) a decision; lifting or terminating closes what is open, a rectification not reported cut
    /// short; a suspension for another reason owes nothing.
    #[test]
    fn a_misuse_suspension_owes_a_rectification_then_a_decision() {
        let by = NaiveDate::from_ymd_opt(2026, 12, 15).unwrap();
        let misuse = || Some(crate::grant::Misuse { grounds: crate::grant::MisuseGrounds::ThirdParty, rectify_by: by });
        let calendar = WorkingCalendar::official();
        // A plain stop by the provider owes the service's restoration (Art. 27 ¶3); by its authority, nothing.
        let plain = grant_with(vec![("create", DEPARTMENT, None), ("suspend", DEPARTMENT, None)]);
        let duties = grant_duties(&plain, "t", &calendar, Some(AUTHORITY));
        assert_eq!(
            duties.iter().map(|d| (d.kind, d.owner, d.is_open())).collect::<Vec<_>>(),
            [(DutyKind::RestoreService, DEPARTMENT, true)]
        );
        let resumed =
            grant_with(vec![("create", DEPARTMENT, None), ("suspend", DEPARTMENT, None), ("resume", DEPARTMENT, None)]);
        let duties = grant_duties(&resumed, "t", &calendar, Some(AUTHORITY));
        assert!(duties.len() == 1 && duties[0].met && !duties[0].is_open());
        let by_authority = grant_with(vec![("create", DEPARTMENT, None), ("suspend", AUTHORITY, None)]);
        assert!(grant_duties(&by_authority, "t", &calendar, Some(AUTHORITY)).is_empty());

        let open = grant_with(vec![("create", DEPARTMENT, None), ("suspend", DEPARTMENT, misuse())]);
        let duties = grant_duties(&open, "t", &calendar, Some(AUTHORITY));
        assert_eq!(duties.len(), 1);
        let d = &duties[0];
        assert_eq!(
            (d.kind, d.owner, d.role, d.counterpart),
            (DutyKind::Rectify, REQUESTER_ORG, Role::WorkUnitHead, Some(DEPARTMENT))
        );
        assert_eq!((d.due_date(), d.is_open(), d.link()), (Some(by), true, format!("/console/grants/{}", open.id)));

        let reported = grant_with(vec![
            ("create", DEPARTMENT, None),
            ("suspend", AUTHORITY, misuse()),
            ("rectify", REQUESTER_ORG, None),
        ]);
        let duties = grant_duties(&reported, "t", &calendar, Some(AUTHORITY));
        assert_eq!(
            duties.iter().map(|d| (d.kind, d.is_open(), d.met)).collect::<Vec<_>>(),
            [(DutyKind::Rectify, false, true), (DutyKind::DecideRectification, true, false)]
        );
        assert_eq!((duties[1].owner, duties[1].role), (AUTHORITY, Role::AuthorityReviewer));

        let lifted_early = grant_with(vec![
            ("create", DEPARTMENT, None),
            ("suspend", DEPARTMENT, misuse()),
            ("resume", DEPARTMENT, None),
        ]);
        let duties = grant_duties(&lifted_early, "t", &calendar, Some(AUTHORITY));
        assert_eq!(
            duties.iter().map(|d| (d.kind, d.is_open(), d.met)).collect::<Vec<_>>(),
            [(DutyKind::Rectify, false, false)]
        );

        let decided = grant_with(vec![
            ("create", DEPARTMENT, None),
            ("suspend", DEPARTMENT, misuse()),
            ("rectify", REQUESTER_ORG, None),
            ("terminate", DEPARTMENT, None),
        ]);
        assert!(grant_duties(&decided, "t", &calendar, Some(AUTHORITY)).iter().all(|d| !d.is_open() && d.met));
    }

    /// Art. 25 ¶1 on a grant: a filed change request owes the requester's head its sending; once sent the provider
    /// owes the answer within 10 working days (the clerk drafts, the head decides: the role follows the step); a
    /// withdrawal cuts it short.
    #[test]
    fn a_change_request_owes_its_sending_then_an_answer_in_ten_working_days() {
        use crate::grant::GrantEvent;
        let calendar = WorkingCalendar::official();
        let kinds = |g: &Grant| {
            grant_duties(g, "t", &calendar, Some(AUTHORITY))
                .into_iter()
                .map(|d| (d.kind, d.owner, d.role, d.is_open(), d.met))
                .collect::<Vec<_>>()
        };
        let filed = grant_with(vec![("create", DEPARTMENT, None), ("request_change", REQUESTER_ORG, None)]);
        assert_eq!(kinds(&filed), [(DutyKind::SendChange, REQUESTER_ORG, Role::WorkUnitHead, true, false)]);
        let sent = grant_with(vec![
            ("create", DEPARTMENT, None),
            ("request_change", REQUESTER_ORG, None),
            ("send_change", REQUESTER_ORG, None),
        ]);
        let duties = grant_duties(&sent, "t", &calendar, Some(AUTHORITY));
        // Sent on Thursday 2026-12-03 (北京时间): ten working days later is Thursday 2026-12-17.
        assert_eq!((duties[1].kind, duties[1].days), (DutyKind::DecideChange, Some(10)));
        assert_eq!(duties[1].due_date(), NaiveDate::from_ymd_opt(2026, 12, 17));
        assert_eq!(
            (duties[1].owner, duties[1].role, duties[1].counterpart),
            (DEPARTMENT, Role::Clerk, Some(REQUESTER_ORG))
        );
        let mut drafted = sent.clone();
        drafted.events.push(GrantEvent { action: "draft_change_decision".into(), ..drafted.events[2].clone() });
        assert_eq!(kinds(&drafted)[1], (DutyKind::DecideChange, DEPARTMENT, Role::WorkUnitHead, true, false));
        let mut decided = drafted.clone();
        decided.events.push(GrantEvent { action: "decide_change".into(), ..drafted.events[2].clone() });
        assert_eq!(kinds(&decided)[1], (DutyKind::DecideChange, DEPARTMENT, Role::WorkUnitHead, false, true));
        let mut withdrawn = drafted.clone();
        withdrawn.events.push(GrantEvent { action: "withdraw_change".into(), ..drafted.events[2].clone() });
        assert_eq!(kinds(&withdrawn)[1], (DutyKind::DecideChange, DEPARTMENT, Role::WorkUnitHead, false, false));
    }

    /// Art. 29 ¶2: each quarter of a grant's use owes a record from the day after it ends, due 10 working days
    /// later, met by its first record; a termination clips the last quarter and cuts the later ones short.
    #[test]
    fn each_period_of_use_owes_a_record_after_it_ends() {
        use crate::use_record::UseRecord;
        let calendar = WorkingCalendar::official();
        // Valid 2026-12-01 … 2027-12-01: five quarters (Dec 2026, four of 2027, the last one day).
        let g = grant_with(vec![("create", DEPARTMENT, None)]);
        let duties = use_record_duties(&g, "t", &calendar, 3, &[]);
        assert_eq!(duties.len(), 5);
        let first = &duties[0];
        assert_eq!((first.kind, first.owner, first.role), (DutyKind::RecordUse, REQUESTER_ORG, Role::Clerk));
        assert_eq!(
            first.started_at.with_timezone(&beijing()).date_naive(),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        );
        // 2027-01-01 is a holiday: ten working days after 2026-12-31 end on 2027-01-15 (weekends only counted
        // when the calendar has no 2027 data; the official file covers 2024–2026).
        assert!(first.due_date().unwrap() >= NaiveDate::from_ymd_opt(2027, 1, 14).unwrap());
        let record = UseRecord {
            id: uuid::Uuid::from_u128(1),
            grant: g.id,
            requester: REQUESTER_ORG,
            provider: DEPARTMENT,
            period_start: g.valid_from,
            period_end: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            last: false,
            scenario: "s".into(),
            process: "p".into(),
            results: "r".into(),
            storage: "s".into(),
            destruction: "d".into(),
            recorded_by: "user:x".into(),
            recorded_at: chrono::Utc.with_ymd_and_hms(2027, 1, 5, 2, 0, 0).unwrap(),
        };
        let met = use_record_duties(&g, "t", &calendar, 3, std::slice::from_ref(&record));
        assert_eq!((met[0].is_open(), met[0].met, met[0].closed_at), (false, true, Some(record.recorded_at)));
        assert!(met[1..].iter().all(Duty::is_open));

        // Terminated on 2026-12-02 (北京时间): the December quarter ends that day and is the last; the rest are cut.
        let ended = grant_with(vec![("create", DEPARTMENT, None), ("terminate", DEPARTMENT, None)]);
        let duties = use_record_duties(&ended, "t", &calendar, 3, &[]);
        assert_eq!(duties.len(), 5, "the same keys as planned");
        assert_eq!(
            duties[0].started_at.with_timezone(&beijing()).date_naive(),
            NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
        );
        assert!(duties[0].is_open());
        assert!(duties[1..].iter().all(|d| !d.is_open() && !d.met), "cut short");
        assert_eq!(
            duties.iter().map(|d| d.key.clone()).collect::<Vec<_>>(),
            use_record_duties(&g, "t", &calendar, 3, &[]).iter().map(|d| d.key.clone()).collect::<Vec<_>>()
        );
    }

    proptest! {
        /// Art. 27 ¶1 over any sequence of disposal steps: at most one disposal step is owed at a time — the
        /// requester's confirmation while none is in force, the provider's acknowledgement while one waits — and
        /// nothing stays owed once the provider acknowledged.
        #[test]
        fn a_disposal_owes_one_step_at_a_time(steps in prop::collection::vec(0..3u8, 0..12)) {
            use crate::disposal::DisposalConfirmation;
            use crate::grant::GrantEvent;
            let calendar = WorkingCalendar::official();
            let mut g = grant_with(vec![("create", DEPARTMENT, None), ("terminate", DEPARTMENT, None)]);
            for (i, step) in steps.iter().enumerate() {
                let d = g.disposal();
                // Only the steps the service allows in the current state.
                let action = match (step, d.confirmation.is_some(), d.acknowledged) {
                    (_, true, true) => break,
                    (0, false, _) => "confirm_disposal",
                    (1, true, false) => "return_disposal",
                    (2, true, false) => "acknowledge_disposal",
                    _ => continue,
                };
                let confirmation = (action == "confirm_disposal").then(|| DisposalConfirmation {
                    method: crate::disposal::DisposalMethod::Delete,
                    done_on: g.valid_from,
                    responsible: "r".into(),
                    evidence: "e".into(),
                });
                let at = g.events.last().unwrap().at + Duration::days(1 + i as i64);
                g.events.push(GrantEvent {
                    at,
                    actor: "user:x".into(),
                    action: action.into(),
                    disposal_confirmation: confirmation,
                    ..GrantEvent::default()
                });
            }
            let duties = disposal_duties(&g, "t", &calendar);
            let open: Vec<DutyKind> = duties.iter().filter(|d| d.is_open()).map(|d| d.kind).collect();
            let d = g.disposal();
            let expected = match (d.confirmation.is_some(), d.acknowledged) {
                (false, _) => vec![DutyKind::Dispose],
                (true, false) => vec![DutyKind::AcknowledgeDisposal],
                (true, true) => vec![],
            };
            prop_assert_eq!(open, expected, "events {:?}", g.events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>());
            prop_assert!(duties.iter().filter(|d| d.kind == DutyKind::Dispose).all(|d| d.due_at.is_some()), "every confirmation has a due date");
        }
    }

    /// A catalog step: the entry's action, or the obligation's extension request or decision.
    #[derive(Debug, Clone)]
    enum CatalogStep {
        Action(&'static str),
        RequestExtension,
        Decide(bool),
    }

    fn any_step() -> impl Strategy<Value = CatalogStep> {
        prop_oneof![
            prop_oneof![
                Just("draft.edit"),
                Just("draft.submit"),
                Just("head.approve"),
                Just("head.reject"),
                Just("authority.return"),
                Just("authority.publish"),
                Just("revision.create"),
            ]
            .prop_map(CatalogStep::Action),
            Just(CatalogStep::RequestExtension),
            any::<bool>().prop_map(CatalogStep::Decide),
        ]
    }

    /// The entry's status after `action`, if the workflow allows it.
    fn next(status: EntryStatus, action: &str) -> Option<EntryStatus> {
        use EntryStatus as S;
        match (status, action) {
            (S::Draft | S::Returned, "draft.edit") => Some(S::Draft),
            (S::Draft | S::Returned, "draft.submit") => Some(S::AwaitingHead),
            (S::AwaitingHead, "head.approve") => Some(S::SubmittedToAuthority),
            (S::AwaitingHead, "head.reject") | (S::SubmittedToAuthority, "authority.return") => Some(S::Returned),
            (S::SubmittedToAuthority, "authority.publish") => Some(S::Published),
            (S::Published, "revision.create") => Some(S::Draft),
            _ => None,
        }
    }

    fn duties(entry: &CatalogEntry, o: &UpdateObligation, cal: &WorkingCalendar) -> Vec<Duty> {
        let mut all = entry_duties(entry, cal, Some(AUTHORITY), std::slice::from_ref(o)).unwrap();
        all.extend(obligation_duties(o, entry, cal, Some(AUTHORITY)).unwrap());
        all
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// A published entry's update obligation and the entry's own workflow: the ledger kept step by step equals
        /// the duties derived from the whole timeline, no duty disappears, and the open duties are exactly those of
        /// who must act now.
        #[test]
        fn catalog_duties_kept_step_by_step_equal_those_of_the_whole_timeline(
            start_minutes in 0i64..(60 * 24 * 300),
            steps in proptest::collection::vec((any_step(), 0i64..(60 * 24 * 4)), 1..30),
        ) {
            let cal = WorkingCalendar::official();
            let content = EntryContent::parse(&crate::catalog::tests::input("unconditional"), &GradeScheme::default()).unwrap();
            let start = chrono::Utc.with_ymd_and_hms(2026, 1, 5, 1, 0, 0).unwrap() + Duration::minutes(start_minutes);
            let version = EntryVersion { version: 1, status: EntryStatus::Published, content, assessments: vec![], updated_at: start };
            let mut entry = CatalogEntry { id: EntryId::new(), provider: DEPARTMENT, created_at: start, versions: vec![version], events: vec![] };
            let mut o = UpdateObligation {
                id: ObligationId::new(),
                entry: entry.id,
                kind: TriggerKind::LawChange,
                changed_on: start.with_timezone(&beijing()).date_naive(),
                description: "法规调整".into(),
                recorded_by: "测试".into(),
                recorded_at: start + Duration::minutes(1),
                extension: None,
            };
            let mut now = o.recorded_at;
            let mut ledger: BTreeMap<String, Duty> = duties(&entry, &o, &cal).into_iter().map(|d| (d.key.clone(), d)).collect();
            for (step, wait) in steps {
                now += Duration::minutes(wait + 1);
                let status = entry.latest().status;
                let changed = match step {
                    CatalogStep::Action(action) => match next(status, action) {
                        Some(after) => {
                            entry.versions.last_mut().expect("a version").status = after;
                            entry.events.push(EntryEvent { version: 1, at: now, actor: "u".into(), actor_name: "某人".into(), action: action.into(), note: String::new() });
                            true
                        }
                        None => false,
                    },
                    CatalogStep::RequestExtension if o.extension.is_none() => {
                        o.extension = Some(Extension { reason: "原因".into(), requested_by: "u".into(), requested_at: now, decision: None });
                        true
                    }
                    CatalogStep::Decide(granted) => match &mut o.extension {
                        Some(x) if x.decision.is_none() => {
                            x.decision = Some(ExtensionDecision { granted, note: "意见".into(), decided_by: "r".into(), decided_at: now });
                            true
                        }
                        _ => false,
                    },
                    CatalogStep::RequestExtension => false,
                };
                if !changed {
                    continue;
                }
                let derived = duties(&entry, &o, &cal);
                let keys: BTreeSet<&String> = derived.iter().map(|d| &d.key).collect();
                prop_assert!(ledger.keys().all(|k| keys.contains(k)), "a step removed a duty");
                for d in derived {
                    ledger.insert(d.key.clone(), d);
                }
            }
            let whole: BTreeMap<String, Duty> = duties(&entry, &o, &cal).into_iter().map(|d| (d.key.clone(), d)).collect();
            prop_assert_eq!(&ledger, &whole);

            let open: Vec<&Duty> = whole.values().filter(|d| d.is_open()).collect();
            let of = |kind: DutyKind| open.iter().filter(|d| d.kind == kind).collect::<Vec<_>>();
            let status = entry.latest().status;
            prop_assert_eq!(of(DutyKind::ApproveEntry).len(), usize::from(status == EntryStatus::AwaitingHead));
            prop_assert_eq!(of(DutyKind::ReviewEntry).len(), usize::from(status == EntryStatus::SubmittedToAuthority));
            // Sent back (by the head or the authority) and not yet submitted again: the clerk revises.
            let sent_back = entry
                .events
                .iter()
                .rev()
                .find(|e| matches!(e.action.as_str(), "draft.submit" | "head.reject" | "authority.return"))
                .is_some_and(|e| e.action != "draft.submit");
            let drafting = matches!(status, EntryStatus::Draft | EntryStatus::Returned);
            prop_assert_eq!(of(DutyKind::ReviseEntry).len(), usize::from(drafting && sent_back));
            // The update is owed until the first submission to the authority; its period is the obligation's.
            let obligation = o.status(&entry.events, &cal, now).unwrap();
            let update = whole.values().find(|d| d.kind == DutyKind::UpdateCatalog).expect("the update duty");
            prop_assert_eq!(update.is_open(), obligation.first_submitted_at.is_none());
            prop_assert_eq!(update.due_at, Some(obligation.due_at));
            prop_assert_eq!(update.late(now), obligation.department_late);
            if update.is_open() {
                let role = if status == EntryStatus::AwaitingHead { Role::WorkUnitHead } else { Role::Clerk };
                prop_assert_eq!(update.role, role);
            }
            let decision_open = o.extension.as_ref().is_some_and(|x| x.decision.is_none()) && obligation.first_submitted_at.is_none();
            prop_assert_eq!(of(DutyKind::DecideUpdateExtension).len(), usize::from(decision_open));
            // Reviews of submissions made while the update was owed have the 2-day period.
            for d in whole.values().filter(|d| d.kind == DutyKind::ReviewEntry) {
                prop_assert_eq!(d.owner, AUTHORITY);
                if let Some(due) = d.due_at {
                    prop_assert_eq!(due, cal.deadline(d.started_at, REVIEW_DAYS).unwrap().due_at);
                }
            }
        }
    }
}
