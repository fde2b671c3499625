//! Sharing applications (R-APP-1..5; Art. 20–22): the supply–demand workflow between a requester department and
//! the provider of a published catalog entry, with the regulation's working-day deadlines.
//!
//! An application is its timeline. Every step anyone takes is a [`Step`] appended to [`Application::events`];
//! where the application stands, which deadline runs and whether one was missed are derived from the steps by
//! [`Application::status`], so the stage can never disagree with the history, and [`Application::check`] is the one
//! state machine deciding which step may come next.
//!
//! ## The clock
//! - The reply period starts when the provider **receives** the application: the requester's work-unit head sends
//!   it. It is 1 working day for unconditional entries, 10 for conditional ones, counted from the day after receipt
//!   (the day of receipt is not counted; the period ends at 23:59:59 北京时间 of its last working day).
//! - A **supplement notice** (补正告知) stops the clock: it is the provider's answer within the period. When the
//!   requester supplies the materials, the provider receives a complete application, and a **fresh full period**
//!   starts from that receipt (the same rule as 补正 in administrative licensing: the period runs from receipt of
//!   complete materials). Only one supplement notice is allowed (Art. 21 ¶2 "一次性告知").
//! - One **extension** of at most 10 working days per application, asked for by the provider's work-unit head while
//!   a reply period runs and before it ends, takes effect only when the provider's same-level authority approves
//!   it. It lengthens the period in which it was asked for; a period restarted by a supplement starts without it.
//! - **Delivery** is due 20 working days after the provider's approving reply (Art. 22); it is met when the provider
//!   records the delivery (the data plane's grants record it when they are activated).

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::calendar::{WorkingCalendar, beijing};
use crate::catalog::{DeliveryMethod, EntryContent, EntryId, SharingAttribute};
use crate::error::{keep, required_text};
use crate::id::define_id;
use crate::org::OrgId;

/// Working days to reply to an application for an unconditional entry (Art. 21 ¶1).
pub const UNCONDITIONAL_REPLY_DAYS: u32 = 1;
/// Working days to reply to an application for a conditional entry (Art. 21 ¶1).
pub const CONDITIONAL_REPLY_DAYS: u32 = 10;
/// The longest extension the authority may approve (Art. 21 ¶1).
pub const MAX_EXTENSION_DAYS: u32 = 10;
/// Working days to deliver after approving (Art. 22 ¶1).
pub const DELIVERY_DAYS: u32 = 20;
/// The longest usage period one application may ask for; longer needs are applied for again.
pub const MAX_USAGE_DAYS: i64 = 5 * 366;

define_id! {
    /// Identity of a sharing application (共享申请).
    pub struct ApplicationId, field "application_id", message "共享申请标识格式错误"
}

/// What the requester asks for and why (R-APP-1, Art. 20 ¶2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRequest {
    /// Codes of the entry's data items, in the entry's order.
    pub items: Vec<String>,
    /// 使用依据: the law, regulation or duty the use rests on.
    pub legal_basis: String,
    /// The document that establishes it (title and number, e.g. 《…办法》第十二条 / 浙政办发〔2025〕12号).
    pub basis_document: String,
    /// 使用场景
    pub scenario: String,
    /// 使用范围
    pub scope: String,
    /// 共享方式
    pub delivery: DeliveryMethod,
    /// 使用时限
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
}

/// An application as entered (API JSON or console form).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApplicationInput {
    /// Codes or names of the entry's data items.
    pub items: Vec<String>,
    pub legal_basis: String,
    pub basis_document: String,
    pub scenario: String,
    pub scope: String,
    pub delivery: String,
    /// YYYY-MM-DD
    pub valid_from: String,
    /// YYYY-MM-DD
    pub valid_until: String,
}

fn date(field: &'static str, label: &str, input: &str) -> Result<NaiveDate, ValidationError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(ValidationError::new(field, "required", format!("{label}不能为空")));
    }
    crate::error::ymd(field, label, input)
}

impl ApplicationRequest {
    /// Checks an application against the published entry it is for: the entry must be shared, every item must be
    /// one of its data items, the delivery method one it offers; the basis, scenario and scope must be stated; the
    /// usage period must be real, not over, and at most [`MAX_USAGE_DAYS`] long.
    pub fn parse(input: &ApplicationInput, entry: &EntryContent, today: NaiveDate) -> Result<Self, ValidationError> {
        Self::parse_all(input, entry, today).map_err(|mut problems| problems.swap_remove(0))
    }

    /// As [`ApplicationRequest::parse`], but reports every field at fault (at least one), in the order of the
    /// form. An entry that is not shared is the one problem reported: nothing else about the request matters.
    pub fn parse_all(
        input: &ApplicationInput,
        entry: &EntryContent,
        today: NaiveDate,
    ) -> Result<Self, Vec<ValidationError>> {
        if let crate::catalog::SharingTerms::NotShared { reason, .. } = &entry.sharing {
            return Err(vec![ValidationError::new(
                "entry_id",
                "not_shared",
                format!("目录「{}」为不予共享类，不能申请共享（理由：{reason}）", entry.name),
            )]);
        }
        let mut problems = Vec::new();
        if input.items.iter().all(|i| i.trim().is_empty()) {
            problems.push(ValidationError::new("items", "required", "请至少选择一个数据项"));
        }
        // An entry has at most MAX_ITEMS items: a longer list is refused as such, and only its first part is
        // checked item by item (the answer stays small whatever is sent).
        if input.items.len() > crate::catalog::MAX_ITEMS {
            problems.push(ValidationError::new(
                "items",
                "too_many",
                format!("一次最多申请 {} 个数据项", crate::catalog::MAX_ITEMS),
            ));
        }
        let mut wanted = BTreeSet::new();
        for (i, item) in input.items.iter().enumerate().take(crate::catalog::MAX_ITEMS) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            match entry.items.iter().position(|d| d.code == item || d.name == item) {
                None => problems.push(ValidationError::new(
                    format!("items[{i}]"),
                    "not_in_entry",
                    format!("数据项「{item}」不在目录「{}」中", entry.name),
                )),
                Some(position) if !wanted.insert(position) => problems.push(ValidationError::new(
                    format!("items[{i}]"),
                    "duplicate",
                    format!("数据项「{item}」重复"),
                )),
                Some(_) => {}
            }
        }
        let items = wanted.into_iter().map(|p| entry.items[p].code.clone()).collect();
        let legal_basis = keep(&mut problems, required_text("legal_basis", "使用依据", &input.legal_basis, 500));
        let basis_document =
            keep(&mut problems, required_text("basis_document", "依据文件及文号", &input.basis_document, 200));
        let scenario = keep(&mut problems, required_text("scenario", "使用场景", &input.scenario, 1000));
        let scope = keep(&mut problems, required_text("scope", "使用范围", &input.scope, 500));
        let delivery = if input.delivery.trim().is_empty() {
            problems.push(ValidationError::new("delivery", "required", "请选择共享方式"));
            None
        } else {
            keep(&mut problems, DeliveryMethod::parse("delivery", &input.delivery))
        };
        if let Some(delivery) = delivery
            && !entry.delivery_methods.contains(&delivery)
        {
            let offered: Vec<&str> = entry.delivery_methods.iter().map(|m| m.label()).collect();
            problems.push(ValidationError::new(
                "delivery",
                "not_offered",
                format!("目录「{}」不提供「{}」方式，可选：{}", entry.name, delivery.label(), offered.join("、")),
            ));
        }
        let valid_from = keep(&mut problems, date("valid_from", "使用期限起始日期", &input.valid_from));
        let valid_until = keep(&mut problems, date("valid_until", "使用期限截止日期", &input.valid_until));
        if let Some(until) = valid_until {
            let mut period = |rule, message| problems.push(ValidationError::new("valid_until", rule, message));
            match valid_from {
                Some(from) if until < from => period("before_start", "使用期限截止日期不能早于起始日期"),
                _ if until < today => period("in_past", "使用期限截止日期已过"),
                Some(from) if (until - from).num_days() > MAX_USAGE_DAYS => {
                    period("too_long", "使用期限最长 5 年，更长的需要到期后重新申请")
                }
                _ => {}
            }
        }
        match (legal_basis, basis_document, scenario, scope, delivery, valid_from, valid_until) {
            (
                Some(legal_basis),
                Some(basis_document),
                Some(scenario),
                Some(scope),
                Some(delivery),
                Some(from),
                Some(until),
            ) if problems.is_empty() => Ok(ApplicationRequest {
                items,
                legal_basis,
                basis_document,
                scenario,
                scope,
                delivery,
                valid_from: from,
                valid_until: until,
            }),
            _ => Err(problems),
        }
    }
}

/// The provider's reply (Art. 21).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Reply {
    /// 同意共享, possibly with conditions on use.
    Approve { conditions: String },
    /// 不同意共享: the reason is required.
    Refuse { reason: String },
    /// 一次性告知补正材料: everything missing, listed.
    Supplement { materials: Vec<String> },
}

impl Reply {
    pub fn code(&self) -> &'static str {
        match self {
            Reply::Approve { .. } => "approve",
            Reply::Refuse { .. } => "refuse",
            Reply::Supplement { .. } => "supplement",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Reply::Approve { conditions } if conditions.is_empty() => "同意共享",
            Reply::Approve { .. } => "附条件同意共享",
            Reply::Refuse { .. } => "不同意共享",
            Reply::Supplement { .. } => "一次性告知补正材料",
        }
    }
}

/// A reply as entered.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReplyInput {
    /// `approve`, `refuse` or `supplement`.
    pub decision: String,
    pub conditions: String,
    pub reason: String,
    pub materials: Vec<String>,
}

/// Phrases that mark a refusal as being for incomplete materials, which Art. 21 ¶2 forbids before the one
/// supplement notice has been sent.
const INCOMPLETE_MATERIALS: [&str; 6] = ["材料不全", "材料不齐", "材料不完整", "缺少材料", "材料缺失", "补充材料"];

impl Reply {
    pub fn parse(input: &ReplyInput) -> Result<Reply, ValidationError> {
        match input.decision.trim() {
            "approve" | "同意" | "同意共享" => {
                let conditions = input.conditions.trim();
                if conditions.chars().count() > 1000 {
                    return Err(ValidationError::new("conditions", "too_long", "共享条件最多 1000 个字符"));
                }
                Ok(Reply::Approve { conditions: conditions.to_owned() })
            }
            "refuse" | "不同意" | "不同意共享" => {
                if input.reason.trim().is_empty() {
                    return Err(ValidationError::new("reason", "required", "不同意共享的，应当说明理由（第二十一条）"));
                }
                Ok(Reply::Refuse { reason: required_text("reason", "不同意理由", &input.reason, 1000)? })
            }
            "supplement" | "补正" => {
                let mut materials = Vec::new();
                for (i, m) in input.materials.iter().enumerate() {
                    if m.trim().is_empty() {
                        continue;
                    }
                    materials.push(required_text(format!("materials[{i}]"), "补正材料", m, 300)?);
                }
                if materials.is_empty() {
                    return Err(ValidationError::new(
                        "materials",
                        "required",
                        "补正告知应一次性列明需要补充的全部材料",
                    ));
                }
                Ok(Reply::Supplement { materials })
            }
            "" => Err(ValidationError::new("decision", "required", "请选择答复意见")),
            other => Err(ValidationError::new(
                "decision",
                "unknown_value",
                format!("「{other}」不是有效的答复意见，可选：approve（同意）、refuse（不同意）、supplement（补正）"),
            )),
        }
    }
}

/// Who acts for a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The requester's clerk (or its head acting as one).
    RequesterClerk,
    /// The requester's work-unit head.
    RequesterHead,
    ProviderClerk,
    ProviderHead,
    /// The provider's same-level data-sharing authority.
    Authority,
}

/// The note of an extension request that lapsed (its reply period ended by a supplement notice before the
/// authority decided); `decided_by` stays empty.
pub const LAPSED_EXTENSION: &str = "提供部门已一次性告知补正，原答复期限终止，该延期申请不再审批";

/// One step of an application's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// The requester's clerk drafts the application.
    Create { request: ApplicationRequest },
    /// The clerk changes the draft.
    Edit { request: ApplicationRequest },
    /// The clerk asks the work-unit head to approve it.
    Submit,
    /// The head sends it back to the clerk.
    Return { note: String },
    /// The head approves it and it is sent: the provider receives it (Art. 20 ¶2). `note`: the head's 审核意见
    /// (optional; absent in steps recorded before it existed).
    Send {
        #[serde(default)]
        note: String,
    },
    /// The requester's head withdraws it before the final reply.
    Withdraw { note: String },
    /// The provider's clerk prepares the reply.
    DraftReply { reply: Reply },
    /// The provider's head sends the prepared reply back.
    ReturnReply { note: String },
    /// The provider's head approves the prepared reply: it is the provider's answer (Art. 20 ¶3). `note`: the
    /// head's 审核意见 (optional).
    ApproveReply {
        #[serde(default)]
        note: String,
    },
    /// The requester supplies what the supplement notice listed; the provider receives a complete application.
    Supplement { request: ApplicationRequest, note: String },
    /// The provider's head asks the authority to extend the reply period.
    RequestExtension { days: u32, reason: String },
    /// The authority approves or refuses the extension.
    DecideExtension { granted: bool, note: String },
    /// The provider records that the data has been delivered (Art. 22).
    RecordDelivery { note: String },
}

impl Step {
    pub fn code(&self) -> &'static str {
        match self {
            Step::Create { .. } => "create",
            Step::Edit { .. } => "edit",
            Step::Submit => "submit",
            Step::Return { .. } => "return",
            Step::Send { .. } => "send",
            Step::Withdraw { .. } => "withdraw",
            Step::DraftReply { .. } => "draft_reply",
            Step::ReturnReply { .. } => "return_reply",
            Step::ApproveReply { .. } => "approve_reply",
            Step::Supplement { .. } => "supplement",
            Step::RequestExtension { .. } => "request_extension",
            Step::DecideExtension { .. } => "decide_extension",
            Step::RecordDelivery { .. } => "record_delivery",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Step::Create { .. } => "起草申请",
            Step::Edit { .. } => "修改申请",
            Step::Submit => "提交本单位负责人审核",
            Step::Return { .. } => "负责人退回修改",
            Step::Send { .. } => "负责人同意并提交申请",
            Step::Withdraw { .. } => "撤回申请",
            Step::DraftReply { .. } => "拟定答复意见",
            Step::ReturnReply { .. } => "负责人退回答复意见",
            Step::ApproveReply { .. } => "负责人同意答复",
            Step::Supplement { .. } => "补正材料并重新提交",
            Step::RequestExtension { .. } => "申请延长答复期限",
            Step::DecideExtension { granted: true, .. } => "主管部门同意延期",
            Step::DecideExtension { granted: false, .. } => "主管部门不同意延期",
            Step::RecordDelivery { .. } => "登记已共享数据",
        }
    }

    /// Who may take this step.
    pub fn party(&self) -> Party {
        match self {
            Step::Create { .. } | Step::Edit { .. } | Step::Submit | Step::Supplement { .. } => Party::RequesterClerk,
            Step::Return { .. } | Step::Send { .. } | Step::Withdraw { .. } => Party::RequesterHead,
            Step::DraftReply { .. } | Step::RecordDelivery { .. } => Party::ProviderClerk,
            Step::ReturnReply { .. } | Step::ApproveReply { .. } | Step::RequestExtension { .. } => Party::ProviderHead,
            Step::DecideExtension { .. } => Party::Authority,
        }
    }
}

/// A step as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationEvent {
    pub at: DateTime<Utc>,
    /// Audit name, e.g. `user:rst.clerk`.
    pub actor: String,
    pub actor_name: String,
    /// The organisation the actor acted for.
    pub org: OrgId,
    #[serde(flatten)]
    pub step: Step,
}

/// An application with its whole timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub id: ApplicationId,
    /// The human number, `SQ-2026-000123` (申请编号; see [`crate::number`]): assigned by the store when the
    /// application is created, empty before.
    #[serde(default)]
    pub number: String,
    pub requester: OrgId,
    pub provider: OrgId,
    pub entry: EntryId,
    /// The published version applied for, with its name and attribute at that time.
    pub entry_version: u32,
    pub entry_name: String,
    pub attribute: SharingAttribute,
    pub created_at: DateTime<Utc>,
    /// Oldest first; the first is always [`Step::Create`].
    pub events: Vec<ApplicationEvent>,
}

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Being written by the requester's clerk.
    Draft,
    /// With the requester's work-unit head.
    AwaitingRequesterHead,
    /// Received by the provider; no reply prepared yet.
    AwaitingReply,
    /// The provider's clerk prepared a reply; with the provider's head.
    ReplyAwaitingHead,
    /// The provider sent the supplement notice; the clock is stopped.
    AwaitingSupplement,
    /// Approved; the provider must deliver.
    Approved,
    /// Delivered.
    Delivered,
    Refused,
    Withdrawn,
}

impl Stage {
    pub const ALL: [Stage; 9] = [
        Stage::Draft,
        Stage::AwaitingRequesterHead,
        Stage::AwaitingReply,
        Stage::ReplyAwaitingHead,
        Stage::AwaitingSupplement,
        Stage::Approved,
        Stage::Delivered,
        Stage::Refused,
        Stage::Withdrawn,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Stage::Draft => "draft",
            Stage::AwaitingRequesterHead => "awaiting_requester_head",
            Stage::AwaitingReply => "awaiting_reply",
            Stage::ReplyAwaitingHead => "reply_awaiting_head",
            Stage::AwaitingSupplement => "awaiting_supplement",
            Stage::Approved => "approved",
            Stage::Delivered => "delivered",
            Stage::Refused => "refused",
            Stage::Withdrawn => "withdrawn",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::Draft => "草稿",
            Stage::AwaitingRequesterHead => "待本单位负责人审核",
            Stage::AwaitingReply => "待提供部门答复",
            Stage::ReplyAwaitingHead => "答复意见待提供部门负责人审核",
            Stage::AwaitingSupplement => "待补正材料",
            Stage::Approved => "已同意，待共享",
            Stage::Delivered => "已共享",
            Stage::Refused => "不同意共享",
            Stage::Withdrawn => "已撤回",
        }
    }

    pub fn parse(input: &str) -> Result<Stage, ValidationError> {
        Stage::ALL.into_iter().find(|s| s.code() == input.trim()).ok_or_else(|| {
            ValidationError::new("stage", "unknown_value", format!("「{}」不是有效的申请状态", input.trim()))
        })
    }

    /// Nothing more can happen.
    pub fn is_final(self) -> bool {
        matches!(self, Stage::Delivered | Stage::Refused | Stage::Withdrawn)
    }

    /// Sent and not yet answered (the reply period runs, unless a supplement notice stopped it).
    fn with_provider(self) -> bool {
        matches!(self, Stage::AwaitingReply | Stage::ReplyAwaitingHead)
    }
}

/// The extension and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtensionState {
    pub days: u32,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    pub requested_by: String,
    /// None while the authority has not decided.
    pub granted: Option<bool>,
    pub decision_note: String,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
}

/// Which deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// The provider's reply (Art. 21).
    Reply,
    /// The provider's delivery (Art. 22).
    Delivery,
}

impl ClockKind {
    pub fn code(self) -> &'static str {
        match self {
            ClockKind::Reply => "reply",
            ClockKind::Delivery => "delivery",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ClockKind::Reply => "答复",
            ClockKind::Delivery => "共享交付",
        }
    }
}

/// One deadline period: from a start (receipt, or approval) to its due date, and when it was met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    pub kind: ClockKind,
    /// Index of the event that started it (stable: events are only appended).
    pub started_by: usize,
    pub started_at: DateTime<Utc>,
    /// Working days allowed, including a granted extension.
    pub days: u32,
    pub due_date: NaiveDate,
    pub due_at: DateTime<Utc>,
    /// When the provider met it (its reply, or the recorded delivery); None while it runs or if it was cut short
    /// by a withdrawal.
    pub met_at: Option<DateTime<Utc>>,
    /// Still running at the time of the status.
    pub running: bool,
    /// Met late, or running past its due time.
    pub late: bool,
}

/// Where an application stands at some instant, with every deadline it has had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplicationStatus {
    pub stage: Stage,
    /// The request as it stands (the last one drafted, edited or supplemented).
    pub request: ApplicationRequest,
    /// The reply prepared or given (the last one drafted).
    pub reply: Option<Reply>,
    /// The final answer, once the provider's head approved it.
    pub replied_at: Option<DateTime<Utc>>,
    pub supplement_notice: Option<Vec<String>>,
    pub extension: Option<ExtensionState>,
    /// Every deadline period, oldest first.
    pub periods: Vec<Period>,
    /// The running deadline and the working days left on it (negative when overdue).
    pub running: Option<Period>,
    pub working_days_left: Option<i64>,
    /// A deadline was missed at some point (supervision, Art. 39).
    pub late: bool,
    /// Years crossed without official calendar data (weekends-only fallback used).
    pub unofficial_years: Vec<i32>,
}

/// A step that is not allowed now, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRefused {
    pub field: &'static str,
    pub rule: &'static str,
    pub message: String,
}

impl From<StepRefused> for ValidationError {
    fn from(r: StepRefused) -> Self {
        ValidationError::new(r.field, r.rule, r.message)
    }
}

fn refuse(rule: &'static str, message: impl Into<String>) -> StepRefused {
    StepRefused { field: "step", rule, message: message.into() }
}

/// Folds the events into the facts the status is computed from, without the calendar.
#[derive(Debug, Clone)]
struct Facts {
    stage: Stage,
    request: Option<ApplicationRequest>,
    reply: Option<Reply>,
    replied_at: Option<DateTime<Utc>>,
    supplement_notice: Option<Vec<String>>,
    extension: Option<ExtensionState>,
    /// Index of the event that started the current (or last) reply period, and of the one that requested the
    /// extension.
    reply_started_by: Option<usize>,
    extension_requested_by: Option<usize>,
    /// Reply periods that ended: (start index, end time).
    ended_replies: Vec<(usize, Option<DateTime<Utc>>)>,
    approved_by: Option<usize>,
    delivered_at: Option<DateTime<Utc>>,
}

impl Application {
    /// The stage, without computing deadlines.
    pub fn stage(&self) -> Stage {
        self.facts().stage
    }

    pub fn reply_days(&self) -> u32 {
        match self.attribute {
            SharingAttribute::Unconditional => UNCONDITIONAL_REPLY_DAYS,
            _ => CONDITIONAL_REPLY_DAYS,
        }
    }

    fn facts(&self) -> Facts {
        let mut f = Facts {
            stage: Stage::Draft,
            request: None,
            reply: None,
            replied_at: None,
            supplement_notice: None,
            extension: None,
            reply_started_by: None,
            extension_requested_by: None,
            ended_replies: Vec::new(),
            approved_by: None,
            delivered_at: None,
        };
        for (i, e) in self.events.iter().enumerate() {
            match &e.step {
                Step::Create { request } | Step::Edit { request } => {
                    f.request = Some(request.clone());
                    f.stage = Stage::Draft;
                }
                Step::Submit => f.stage = Stage::AwaitingRequesterHead,
                Step::Return { .. } => f.stage = Stage::Draft,
                Step::Send { .. } => {
                    f.stage = Stage::AwaitingReply;
                    f.reply_started_by = Some(i);
                }
                Step::Withdraw { .. } => {
                    if f.stage.with_provider()
                        && let Some(start) = f.reply_started_by
                    {
                        f.ended_replies.push((start, None));
                    }
                    f.stage = Stage::Withdrawn;
                }
                Step::DraftReply { reply } => {
                    f.reply = Some(reply.clone());
                    f.stage = Stage::ReplyAwaitingHead;
                }
                Step::ReturnReply { .. } => f.stage = Stage::AwaitingReply,
                Step::ApproveReply { .. } => {
                    if let Some(start) = f.reply_started_by {
                        f.ended_replies.push((start, Some(e.at)));
                    }
                    f.stage = match &f.reply {
                        Some(Reply::Approve { .. }) => {
                            f.replied_at = Some(e.at);
                            f.approved_by = Some(i);
                            Stage::Approved
                        }
                        Some(Reply::Refuse { .. }) => {
                            f.replied_at = Some(e.at);
                            Stage::Refused
                        }
                        Some(Reply::Supplement { materials }) => {
                            f.supplement_notice = Some(materials.clone());
                            Stage::AwaitingSupplement
                        }
                        None => f.stage,
                    };
                }
                Step::Supplement { request, .. } => {
                    f.request = Some(request.clone());
                    f.stage = Stage::AwaitingReply;
                    f.reply_started_by = Some(i);
                    // The supplement notice ended the reply period an undecided extension request was for: the
                    // request lapses, unanswered by anyone (the duty ledger closed its decision then). It still
                    // counts as the application's one extension request.
                    if let Some(x) = f.extension.as_mut().filter(|x| x.granted.is_none()) {
                        x.granted = Some(false);
                        x.decision_note = LAPSED_EXTENSION.to_owned();
                        x.decided_at = Some(e.at);
                    }
                }
                Step::RequestExtension { days, reason } => {
                    f.extension_requested_by = Some(i);
                    f.extension = Some(ExtensionState {
                        days: *days,
                        reason: reason.clone(),
                        requested_at: e.at,
                        requested_by: e.actor_name.clone(),
                        granted: None,
                        decision_note: String::new(),
                        decided_at: None,
                        decided_by: None,
                    });
                }
                Step::DecideExtension { granted, note } => {
                    if let Some(x) = f.extension.as_mut() {
                        x.granted = Some(*granted);
                        x.decision_note = note.clone();
                        x.decided_at = Some(e.at);
                        x.decided_by = Some(e.actor_name.clone());
                    }
                }
                Step::RecordDelivery { .. } => {
                    f.stage = Stage::Delivered;
                    f.delivered_at = Some(e.at);
                }
            }
        }
        f
    }

    /// The granted extension's days, if it was asked for in the reply period started by event `start`.
    fn extension_for(&self, f: &Facts, start: usize) -> u32 {
        match (&f.extension, f.extension_requested_by) {
            (Some(x), Some(at)) if x.granted == Some(true) && at > start => {
                // The period the request fell in is the last one started before it.
                let next_start = self
                    .events
                    .iter()
                    .enumerate()
                    .skip(start + 1)
                    .find(|(_, e)| matches!(e.step, Step::Supplement { .. }))
                    .map(|(i, _)| i);
                if next_start.is_none_or(|n| at < n) { x.days } else { 0 }
            }
            _ => 0,
        }
    }

    /// Where the application stands at `now`.
    pub fn status(&self, calendar: &WorkingCalendar, now: DateTime<Utc>) -> Result<ApplicationStatus, ValidationError> {
        let f = self.facts();
        let request = f.request.clone().ok_or_else(|| {
            ValidationError::new("events", "no_request", "共享申请缺少申请内容（时间线的第一步应为起草）")
        })?;
        let mut unofficial = BTreeSet::new();
        let mut periods = Vec::new();
        let mut period = |kind: ClockKind, start: usize, days: u32, met_at: Option<DateTime<Utc>>, running: bool| {
            let started_at = self.events[start].at;
            let deadline = calendar.deadline(started_at, days)?;
            unofficial.extend(deadline.unofficial_years.iter().copied());
            let late = match met_at {
                Some(at) => at > deadline.due_at,
                None => running && now > deadline.due_at,
            };
            periods.push(Period {
                kind,
                started_by: start,
                started_at,
                days,
                due_date: deadline.due_date,
                due_at: deadline.due_at,
                met_at,
                running,
                late,
            });
            Ok::<(), ValidationError>(())
        };
        let base = self.reply_days();
        for &(start, ended) in &f.ended_replies {
            period(ClockKind::Reply, start, base + self.extension_for(&f, start), ended, false)?;
        }
        if f.stage.with_provider()
            && let Some(start) = f.reply_started_by
        {
            period(ClockKind::Reply, start, base + self.extension_for(&f, start), None, true)?;
        }
        if let Some(approved) = f.approved_by {
            let running = f.stage == Stage::Approved;
            period(ClockKind::Delivery, approved, DELIVERY_DAYS, f.delivered_at, running)?;
        }
        periods.sort_by_key(|p| p.started_by);
        let running = periods.iter().find(|p| p.running).cloned();
        let working_days_left = running
            .as_ref()
            .map(|p| calendar.working_days_left(now, p.started_at.with_timezone(&beijing()).date_naive(), p.due_date));
        Ok(ApplicationStatus {
            stage: f.stage,
            request,
            reply: f.reply,
            replied_at: f.replied_at,
            supplement_notice: f.supplement_notice,
            extension: f.extension,
            late: periods.iter().any(|p| p.late),
            periods,
            running,
            working_days_left,
            unofficial_years: unofficial.into_iter().collect(),
        })
    }

    /// Whether `step` may be taken now, given the status at `now`. Who takes it is the authorisation policy's
    /// question ([`Step::party`] names the party); this is the order of things.
    pub fn check(&self, status: &ApplicationStatus, step: &Step, now: DateTime<Utc>) -> Result<(), StepRefused> {
        let stage = status.stage;
        let wrong_stage =
            || refuse("wrong_stage", format!("申请当前状态为「{}」，不能{}", stage.label(), step.label()));
        match step {
            Step::Create { .. } => Err(refuse("already_created", "申请已经起草")),
            Step::Edit { .. } | Step::Submit if stage == Stage::Draft => Ok(()),
            Step::Return { .. } | Step::Send { .. } if stage == Stage::AwaitingRequesterHead => Ok(()),
            Step::Withdraw { .. } if !stage.is_final() && stage != Stage::Approved => Ok(()),
            Step::Withdraw { .. } if stage == Stage::Approved => {
                Err(refuse("already_approved", "提供部门已同意共享，不能撤回；不再需要时请告知提供部门终止共享"))
            }
            Step::DraftReply { reply } if stage == Stage::AwaitingReply => match reply {
                Reply::Refuse { reason } if reason.trim().is_empty() => Err(StepRefused {
                    field: "reason",
                    rule: "required",
                    message: "不同意共享的，应当说明理由（第二十一条）".into(),
                }),
                Reply::Supplement { materials } if materials.iter().all(|m| m.trim().is_empty()) => Err(StepRefused {
                    field: "materials",
                    rule: "required",
                    message: "补正告知应一次性列明需要补充的全部材料".into(),
                }),
                Reply::Supplement { .. } if status.supplement_notice.is_some() => Err(StepRefused {
                    field: "decision",
                    rule: "supplement_once",
                    message: "补正材料只能一次性告知，本申请已经告知过一次（第二十一条第二款）".into(),
                }),
                Reply::Refuse { reason }
                    if status.supplement_notice.is_none()
                        && INCOMPLETE_MATERIALS.iter().any(|p| reason.contains(p)) =>
                {
                    Err(StepRefused {
                        field: "reason",
                        rule: "incomplete_materials",
                        message: "申请材料不全的，应当一次性告知需要补充的材料，不得直接拒绝（第二十一条第二款）"
                            .into(),
                    })
                }
                _ => Ok(()),
            },
            Step::ReturnReply { .. } | Step::ApproveReply { .. } if stage == Stage::ReplyAwaitingHead => Ok(()),
            Step::Supplement { .. } if stage == Stage::AwaitingSupplement => Ok(()),
            Step::RequestExtension { days, .. } => {
                if !stage.with_provider() {
                    return Err(wrong_stage());
                }
                if status.extension.is_some() {
                    return Err(refuse("extension_once", "答复期限只能延长一次，本申请已经申请过延期"));
                }
                if *days == 0 || *days > MAX_EXTENSION_DAYS {
                    return Err(StepRefused {
                        field: "days",
                        rule: "range",
                        message: format!("延长的期限应为 1 至 {MAX_EXTENSION_DAYS} 个工作日"),
                    });
                }
                match &status.running {
                    Some(p) if now <= p.due_at => Ok(()),
                    _ => Err(refuse("deadline_passed", "答复期限已过，不能再申请延期")),
                }
            }
            Step::DecideExtension { .. } => match &status.extension {
                Some(x) if x.granted.is_none() && stage.with_provider() => Ok(()),
                Some(x) if x.granted.is_some() => Err(refuse("already_decided", "延期申请已经审批")),
                Some(_) => Err(refuse("already_replied", "提供部门已经答复，无需再审批延期")),
                None => Err(refuse("no_extension", "提供部门没有申请延期")),
            },
            Step::RecordDelivery { .. } if stage == Stage::Approved => Ok(()),
            _ => Err(wrong_stage()),
        }
    }

    /// Appends `event` if the state machine allows it at the event's time.
    pub fn apply(&mut self, event: ApplicationEvent, calendar: &WorkingCalendar) -> Result<(), ValidationError> {
        let status = self.status(calendar, event.at)?;
        self.check(&status, &event.step, event.at)?;
        self.events.push(event);
        Ok(())
    }
}

/// Whether the party that must act is reminded, with `working_days_left` on a running, not yet overdue period
/// (today counts while it is a working day): on the last working day of a short period, in the last three working
/// days of a long one.
pub fn reminder_due(period_days: u32, working_days_left: i64) -> bool {
    let window = if period_days >= CONDITIONAL_REPLY_DAYS { 3 } else { 1 };
    (1..=window).contains(&working_days_left)
}

#[cfg(test)]
mod tests;
