//! Grants (R-DEL-2) and governed delivery (R-DEL-3, R-DEL-5; Art. 22, 25, 29): what an approved application
//! lets the requester receive, the masking of each item, and the usage record every access leaves.
//!
//! A grant is created by the provider from an approved application. It can only narrow what the application
//! asked for: its items are among the application's, its purpose is the application's scenario, its delivery
//! method the application's, and its validity lies inside the application's usage period.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sm3::Sm3;
use uuid::Uuid;

use crate::ValidationError;
use crate::application::{Application, ApplicationId, ApplicationRequest};
use crate::calendar::beijing;
use crate::catalog::{DataItem, DeliveryMethod, EntryContent, EntryId, PersonalInfoKind, ValueFormat};
use crate::change::{ChangeDecision, ChangeRequest, TermsVersion, ThirdParty};
use crate::error::keep;
use crate::id::define_id;
use crate::org::OrgId;
use crate::record::{Record, json_to_raw};

define_id! {
    /// Identity of a grant (共享授权).
    pub struct GrantId, field "grant_id", message "共享授权标识格式错误"
}

/// How one permitted item leaves the platform (R-DEL-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Masking {
    /// As held.
    Keep,
    /// Partly hidden by the pattern of its personal-information kind, e.g. 330102********1234.
    Mask,
    /// HMAC-SM3 under the grant's own key: equal values match within one grant, never across grants.
    Hash,
    /// Not returned (the item stays usable for verification only).
    Drop,
}

impl Masking {
    pub const ALL: [Masking; 4] = [Masking::Keep, Masking::Mask, Masking::Hash, Masking::Drop];

    pub fn code(self) -> &'static str {
        match self {
            Masking::Keep => "keep",
            Masking::Mask => "mask",
            Masking::Hash => "hash",
            Masking::Drop => "drop",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Masking::Keep => "原样",
            Masking::Mask => "脱敏",
            Masking::Hash => "哈希（按授权加密钥）",
            Masking::Drop => "不返回",
        }
    }

    pub fn parse(field: impl Into<std::borrow::Cow<'static, str>>, input: &str) -> Result<Masking, ValidationError> {
        let input = input.trim();
        Masking::ALL.into_iter().find(|m| m.code() == input || m.label() == input).ok_or_else(|| {
            ValidationError::new(
                field,
                "unknown_value",
                format!("「{input}」不是有效的脱敏方式，可选：keep、mask、hash、drop"),
            )
        })
    }

    /// What a provider is offered by default: personal information masked, everything else as held.
    pub fn default_for(item: &DataItem) -> Masking {
        if item.personal_info.is_some() { Masking::Mask } else { Masking::Keep }
    }
}

fn mask_middle(chars: &[char], keep_start: usize, keep_end: usize) -> String {
    if chars.len() <= keep_start + keep_end {
        // Too short to show anything safely: keep the first character at most.
        return chars.iter().enumerate().map(|(i, c)| if i == 0 && chars.len() > 1 { *c } else { '*' }).collect();
    }
    let mut out: String = chars[..keep_start].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - keep_start - keep_end));
    out.extend(&chars[chars.len() - keep_end..]);
    out
}

/// How `mask` shows an item's value: by its kind of personal information where that has a pattern of its own
/// (a name, an address), else by its format (an ID number, a credit code, a phone number … whether personal
/// information or not), else first and last character.
pub fn mask_item(item: &DataItem, value: &str) -> String {
    let by_format = item.value_format().map(|f| match f {
        ValueFormat::IdNumber => PersonalInfoKind::IdNumber,
        ValueFormat::CreditCode => PersonalInfoKind::CreditCode,
        ValueFormat::Phone => PersonalInfoKind::Phone,
        ValueFormat::Email => PersonalInfoKind::Email,
        ValueFormat::BankCard => PersonalInfoKind::BankCard,
    });
    match item.personal_info {
        Some(k @ (PersonalInfoKind::Name | PersonalInfoKind::Address)) => mask_value(Some(k), value),
        kind => mask_value(by_format.or(kind), value),
    }
}

/// The mask pattern of each kind of personal information.
pub fn mask_value(kind: Option<PersonalInfoKind>, value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    match kind {
        // 张** / 欧阳**: the surname only
        Some(PersonalInfoKind::Name) => mask_middle(&chars, 1, 0),
        // 330102********1234: region and last four
        Some(PersonalInfoKind::IdNumber) => mask_middle(&chars, 6, 4),
        // 138****5678
        Some(PersonalInfoKind::Phone) => mask_middle(&chars, 3, 4),
        // 浙江省杭州市****: the first six characters (province and city)
        Some(PersonalInfoKind::Address) => {
            let keep = chars.len().min(6);
            let mut out: String = chars[..keep].iter().collect();
            if chars.len() > keep {
                out.push_str("****");
            }
            out
        }
        // 622202******1234
        Some(PersonalInfoKind::BankCard) => mask_middle(&chars, 6, 4),
        // 913301********123X: registration authority, region, last four
        Some(PersonalInfoKind::CreditCode) => mask_middle(&chars, 6, 4),
        // z***@example.com
        Some(PersonalInfoKind::Email) => match value.split_once('@') {
            Some((user, host)) => {
                let first: String = user.chars().take(1).collect();
                format!("{first}***@{host}")
            }
            None => mask_middle(&chars, 1, 0),
        },
        // anything else: first and last character
        _ => mask_middle(&chars, 1, 1),
    }
}

/// A grant's projection of records, prepared by [`Grant::projector`].
pub struct Projector<'g> {
    items: Vec<(&'g GrantItem, Option<&'g DataItem>)>,
    mac: Hmac<Sm3>,
}

impl std::fmt::Debug for Projector<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keyed hash's state stays out of logs.
        let items: Vec<_> = self.items.iter().map(|(item, _)| (&item.code, item.masking)).collect();
        f.debug_struct("Projector").field("items", &items).finish_non_exhaustive()
    }
}

impl Projector<'_> {
    /// The record as the grant may see it: only returned items, each masked as granted.
    pub fn project(&self, record: &Record) -> Record {
        let mut out = Record::new();
        for &(item, declared) in &self.items {
            let value = record.get(&item.code).cloned().unwrap_or(Value::Null);
            let value = match (item.masking, &value) {
                (_, Value::Null) | (Masking::Keep, _) => value,
                (Masking::Mask, v) => {
                    let raw = json_to_raw(v);
                    Value::String(match declared {
                        Some(declared) => mask_item(declared, &raw),
                        None => mask_value(None, &raw),
                    })
                }
                (Masking::Hash, v) => Value::String(hex_mac(&self.mac, &[json_to_raw(v).as_bytes()])),
                (Masking::Drop, _) => continue,
            };
            out.insert(item.code.clone(), value);
        }
        out
    }
}

/// HMAC-SM3 of a value under a grant's key, hex.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    hex_mac(&mac_state(key), &[value.as_bytes()])
}

/// HMAC-SM3 keyed with `key`, its key blocks hashed once: [`hex_mac`] hashes values with a copy of it.
pub fn mac_state(key: &[u8]) -> Hmac<Sm3> {
    <Hmac<Sm3> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// The HMAC of `parts` (concatenated) under a prepared key state, hex.
pub fn hex_mac(state: &Hmac<Sm3>, parts: &[&[u8]]) -> String {
    let mut mac = state.clone();
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// A row scope: the records whose scope item starts with one of the prefixes (e.g. region codes 3301, 3302).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowScope {
    pub item: String,
    pub prefixes: Vec<String>,
}

impl RowScope {
    pub fn contains(&self, record: &Record) -> bool {
        let value = record.get(&self.item).map(json_to_raw).unwrap_or_default();
        !value.is_empty() && self.prefixes.iter().any(|p| value.starts_with(p.as_str()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    Active,
    Suspended,
    Terminated,
}

/// Where a grant stands at a moment: its state, or expired / not yet valid by its dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    Active,
    Suspended,
    Terminated,
    Expired,
    NotYetValid,
    /// Made or widened with an aggregation warning the authority has not acknowledged yet (Art. 25 ¶2).
    AwaitingAcknowledgement,
}

impl GrantStatus {
    pub const ALL: [GrantStatus; 6] = [
        GrantStatus::Active,
        GrantStatus::NotYetValid,
        GrantStatus::AwaitingAcknowledgement,
        GrantStatus::Suspended,
        GrantStatus::Expired,
        GrantStatus::Terminated,
    ];

    pub fn code(self) -> &'static str {
        match self {
            GrantStatus::Active => "active",
            GrantStatus::Suspended => "suspended",
            GrantStatus::Terminated => "terminated",
            GrantStatus::Expired => "expired",
            GrantStatus::NotYetValid => "not_yet_valid",
            GrantStatus::AwaitingAcknowledgement => "awaiting_acknowledgement",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            GrantStatus::Active => "有效",
            GrantStatus::Suspended => "已暂停",
            GrantStatus::Terminated => "已终止",
            GrantStatus::Expired => "已过期",
            GrantStatus::NotYetValid => "未到生效日期",
            GrantStatus::AwaitingAcknowledgement => "待主管部门确认汇聚风险",
        }
    }
}

/// A grant's item: the code and how it leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantItem {
    pub code: String,
    pub masking: Masking,
}

/// One step of a grant's life: who did what, when and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `create`, `suspend`, `resume`, `terminate`, or `rectify` (the requester reports its rectification).
    pub action: String,
    pub reason: String,
    /// The organisation the actor acted for (absent on events of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgId>,
    /// A suspension for misuse (Art. 27 ¶2): what was misused, and the date by which the requester must rectify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misuse: Option<Misuse>,
    /// A provider's ending of the running service (Art. 27 ¶3), on `propose_termination`: the negotiation with the
    /// requester and the date it takes effect once the authority has recorded the filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<Ending>,
    /// On `request_change` (Art. 25 ¶1): what the requester asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_request: Option<ChangeRequest>,
    /// On `draft_change_decision` and `decide_change`: the provider's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_decision: Option<ChangeDecision>,
    /// On `require_disposal` (Art. 27 ¶1): how the provider requires the data to be disposed of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposal_requirement: Option<crate::disposal::DisposalRequirement>,
    /// On `confirm_disposal`: the requester's confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposal_confirmation: Option<crate::disposal::DisposalConfirmation>,
    /// On `propose_narrowing` (Art. 27 ¶3): the provider's negotiated narrowing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narrowing: Option<crate::change::Narrowing>,
    /// On `declare_ended`: why the requester ends its use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_because: Option<crate::disposal::EndedBecause>,
    /// On a `suspend` a security incident report made (Art. 35): the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<uuid::Uuid>,
}

/// The ending of a running sharing service (Art. 27 ¶3: 确需终止的，应当与需求部门协商，并报同级主管部门备案).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ending {
    /// The negotiation with the requester: when, who, each side's position, the outcome.
    pub negotiation: String,
    /// The first day (北京时间) the service no longer runs; never before the filing is recorded.
    pub effective_on: NaiveDate,
}

impl Ending {
    /// As entered: the negotiation stated (at most 1000 characters), the date not before `today` nor after the
    /// grant's last day.
    pub fn parse(
        negotiation: &str,
        effective_on: &str,
        today: NaiveDate,
        valid_until: NaiveDate,
    ) -> Result<Ending, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let negotiation = if negotiation.trim().is_empty() {
            problems.push(ValidationError::new(
                "negotiation",
                "required",
                "终止正在提供的共享服务，应当先与需求部门协商（第二十七条）：请记录协商情况",
            ));
            None
        } else {
            keep(&mut problems, crate::error::required_text("negotiation", "协商情况", negotiation, 1000))
        };
        let date = match effective_on.trim() {
            "" => {
                problems.push(ValidationError::new("effective_on", "required", "请填写终止生效日期"));
                None
            }
            raw => match crate::error::ymd("effective_on", "终止生效日期", raw) {
                Err(e) => {
                    problems.push(e);
                    None
                }
                Ok(d) if d < today => {
                    problems.push(ValidationError::new("effective_on", "in_past", "终止生效日期不能早于今天"));
                    None
                }
                Ok(d) if d > valid_until => {
                    problems.push(ValidationError::new(
                        "effective_on",
                        "after_expiry",
                        format!("授权 {valid_until} 到期，到期后无需终止"),
                    ));
                    None
                }
                Ok(d) => Some(d),
            },
        };
        match (negotiation, date) {
            (Some(negotiation), Some(effective_on)) if problems.is_empty() => Ok(Ending { negotiation, effective_on }),
            _ => Err(problems),
        }
    }
}

/// A suspension for misuse (Art. 27 ¶2: 超出使用范围、用途或者擅自向第三方提供): its grounds and the
/// rectification deadline it sets the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Misuse {
    pub grounds: MisuseGrounds,
    /// The last day (北京时间) of the rectification period.
    pub rectify_by: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MisuseGrounds {
    /// 超出使用范围
    ScopeExceeded,
    /// 超出使用用途
    PurposeExceeded,
    /// 擅自向第三方提供
    ThirdParty,
}

impl MisuseGrounds {
    pub const ALL: [MisuseGrounds; 3] =
        [MisuseGrounds::ScopeExceeded, MisuseGrounds::PurposeExceeded, MisuseGrounds::ThirdParty];

    pub fn code(self) -> &'static str {
        match self {
            MisuseGrounds::ScopeExceeded => "scope_exceeded",
            MisuseGrounds::PurposeExceeded => "purpose_exceeded",
            MisuseGrounds::ThirdParty => "third_party",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MisuseGrounds::ScopeExceeded => "超出使用范围",
            MisuseGrounds::PurposeExceeded => "超出使用用途",
            MisuseGrounds::ThirdParty => "擅自向第三方提供",
        }
    }

    pub fn parse(field: &'static str, input: &str) -> Result<MisuseGrounds, ValidationError> {
        let input = input.trim();
        MisuseGrounds::ALL.into_iter().find(|g| g.code() == input || g.label() == input).ok_or_else(|| {
            ValidationError::new(
                field,
                "unknown_value",
                format!("「{input}」不是有效的违规情形，可选：scope_exceeded（超出使用范围）、purpose_exceeded（超出使用用途）、third_party（擅自向第三方提供）"),
            )
        })
    }
}

/// The longest rectification period a suspension may set, in calendar days.
pub const MAX_RECTIFY_DAYS: i64 = 90;

impl Misuse {
    /// A suspension's misuse grounds and deadline as entered: both or neither (a suspension for another reason);
    /// the deadline after `today` and at most [`MAX_RECTIFY_DAYS`] away.
    pub fn parse(grounds: &str, rectify_by: &str, today: NaiveDate) -> Result<Option<Misuse>, Vec<ValidationError>> {
        let (grounds, rectify_by) = (grounds.trim(), rectify_by.trim());
        if grounds.is_empty() && rectify_by.is_empty() {
            return Ok(None);
        }
        let mut problems = Vec::new();
        let parsed = if grounds.is_empty() {
            problems.push(ValidationError::new("misuse", "required", "设定整改期限的，请选择违规使用情形"));
            None
        } else {
            keep(&mut problems, MisuseGrounds::parse("misuse", grounds))
        };
        let date = if rectify_by.is_empty() {
            problems.push(ValidationError::new("rectify_by", "required", "因违规使用暂停的，应当设定整改期限"));
            None
        } else {
            match crate::error::ymd("rectify_by", "整改期限", rectify_by) {
                Err(e) => {
                    problems.push(e);
                    None
                }
                Ok(d) if d <= today => {
                    problems.push(ValidationError::new("rectify_by", "not_future", "整改期限应晚于今天"));
                    None
                }
                Ok(d) if (d - today).num_days() > MAX_RECTIFY_DAYS => {
                    problems.push(ValidationError::new(
                        "rectify_by",
                        "too_long",
                        format!("整改期限最长 {MAX_RECTIFY_DAYS} 天"),
                    ));
                    None
                }
                Ok(d) => Some(d),
            }
        };
        match (parsed, date) {
            (Some(grounds), Some(rectify_by)) if problems.is_empty() => Ok(Some(Misuse { grounds, rectify_by })),
            _ => Err(problems),
        }
    }
}

impl Grant {
    /// Whether the service still runs at `now` (or is about to): active, not yet valid, or suspended — neither
    /// expired nor terminated.
    pub fn is_running(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.status(now),
            GrantStatus::Active
                | GrantStatus::NotYetValid
                | GrantStatus::Suspended
                | GrantStatus::AwaitingAcknowledgement
        )
    }

    /// Whether the provider may terminate it on its own (Art. 27 ¶3): only once it no longer runs, or while it is
    /// suspended for misuse (¶2). Otherwise it negotiates and files the ending.
    pub fn provider_may_terminate(&self, now: DateTime<Utc>) -> bool {
        !self.is_running(now) || self.misuse_suspension().is_some()
    }

    /// Whether the provider may propose ending it (Art. 27 ¶3): it runs and no ending is proposed or filed.
    pub fn may_propose_ending(&self, now: DateTime<Utc>) -> bool {
        self.is_running(now)
            && self.pending_ending().is_none()
            && self.ends_on.is_none()
            && self.pending_narrowing().is_none()
            && self.scheduled_narrowing.is_none()
    }

    /// The ending proposed and not yet filed: the last `propose_termination` with no `record_filing` after it,
    /// while the grant is not terminated.
    pub fn pending_ending(&self) -> Option<&Ending> {
        if self.state == GrantState::Terminated || self.ends_on.is_some() {
            return None;
        }
        let at = self.events.iter().rposition(|e| e.action == "propose_termination")?;
        self.events[at].ending.as_ref()
    }

    /// The misuse suspension in force and whether its rectification was reported: the last `suspend` event,
    /// when the grant is still suspended by it and it named misuse.
    pub fn misuse_suspension(&self) -> Option<(&GrantEvent, &Misuse, bool)> {
        if self.state != GrantState::Suspended {
            return None;
        }
        let at = self.events.iter().rposition(|e| e.action == "suspend")?;
        let event = &self.events[at];
        let reported = self.events[at..].iter().any(|e| e.action == "rectify");
        event.misuse.as_ref().map(|m| (event, m, reported))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: GrantId,
    /// The human number, `GX-2026-000123` (授权编号; see [`crate::number`]): assigned by the store when the grant
    /// is created, empty before.
    #[serde(default)]
    pub number: String,
    pub application: ApplicationId,
    pub requester: OrgId,
    pub provider: OrgId,
    pub entry: EntryId,
    pub items: Vec<GrantItem>,
    pub purpose: String,
    pub row_scope: Option<RowScope>,
    pub delivery: BTreeSet<DeliveryMethod>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    /// Requests per minute (per platform instance).
    pub rate_per_minute: u32,
    /// Rows per day (北京时间).
    pub daily_rows: u64,
    pub state: GrantState,
    /// Purposes approved after the application's by change requests (Art. 25 ¶1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub further_purposes: Vec<String>,
    /// Third parties the requester may pass data to, approved by change requests: who receives what.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub third_parties: Vec<ThirdParty>,
    /// Earlier versions of the terms, oldest first; the current version is `past_terms.len() + 1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub past_terms: Vec<TermsVersion>,
    /// Since when the current terms are in force (None: since creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_since: Option<DateTime<Utc>>,
    /// A filed narrowing waiting for its day (Art. 27 ¶3; put in force by [`Grant::settle`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_narrowing: Option<crate::change::Narrowing>,
    /// The aggregation risk found when it was made or last widened (Art. 25 ¶2): until the authority acknowledges
    /// it, the grant is not usable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation: Option<crate::aggregation::AggregationWarning>,
    /// The day a filed ending takes effect (Art. 27 ¶3): from then on the grant counts as terminated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_on: Option<NaiveDate>,
    /// The grant's own HMAC key (hex), used for `hash` masking; never shown.
    pub hash_key: String,
    pub created_at: DateTime<Utc>,
    pub events: Vec<GrantEvent>,
}

/// Unparsed grant terms, as the provider fills them in.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GrantInput {
    /// item code → `keep` | `mask` | `hash` | `drop`; items left out are not granted.
    pub items: BTreeMap<String, String>,
    /// The scope item and its prefixes (comma- or space-separated), or empty for all rows.
    pub scope_item: String,
    pub scope_prefixes: String,
    /// YYYY-MM-DD; default: the application's usage period.
    pub valid_from: String,
    pub valid_until: String,
    pub rate_per_minute: Option<u32>,
    pub daily_rows: Option<u64>,
}

/// What a grant is made from: the approved application, its request as approved, and the entry's content.
#[derive(Debug, Clone, Copy)]
pub struct GrantBasis<'a> {
    pub app: &'a Application,
    pub request: &'a ApplicationRequest,
    pub entry: &'a EntryContent,
}

pub const DEFAULT_RATE_PER_MINUTE: u32 = 600;
pub const DEFAULT_DAILY_ROWS: u64 = 100_000;

/// Why an access is refused; `code` is the API's error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRefused {
    pub code: &'static str,
    pub message: String,
}

fn refused(code: &'static str, message: impl Into<String>) -> AccessRefused {
    AccessRefused { code, message: message.into() }
}

impl Grant {
    /// The provider's terms for an approved application. `hash_key` is fresh randomness from the caller.
    pub fn from_application(
        id: GrantId,
        basis: GrantBasis<'_>,
        input: &GrantInput,
        hash_key: String,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<Grant, Vec<ValidationError>> {
        let GrantBasis { app, request, entry } = basis;
        let period = (request.valid_from, request.valid_until);
        let mut problems = Vec::new();
        let mut items = Vec::new();
        if input.items.is_empty() {
            problems.push(ValidationError::new("items", "required", "请至少授权一个数据项"));
        }
        if input.items.len() > crate::catalog::MAX_ITEMS {
            problems.push(ValidationError::new(
                "items",
                "too_many",
                format!("一次最多授权 {} 个数据项", crate::catalog::MAX_ITEMS),
            ));
        }
        for (code, masking) in input.items.iter().take(crate::catalog::MAX_ITEMS) {
            let field = format!("items.{code}");
            if !request.items.iter().any(|c| c == code) {
                problems.push(ValidationError::new(
                    field,
                    "not_requested",
                    format!("数据项「{code}」不在共享申请的范围内"),
                ));
                continue;
            }
            if let Some(masking) = keep(&mut problems, Masking::parse(field, masking)) {
                items.push(GrantItem { code: code.clone(), masking });
            }
        }
        // Keep the entry's item order.
        items.sort_by_key(|g| entry.items.iter().position(|i| i.code == g.code).unwrap_or(usize::MAX));
        let row_scope = match input.scope_item.trim() {
            "" => None,
            item => {
                if !entry.items.iter().any(|i| i.code == item) {
                    problems.push(ValidationError::new(
                        "scope_item",
                        "not_in_entry",
                        format!("「{item}」不是该目录的数据项"),
                    ));
                }
                let prefixes: Vec<String> = input
                    .scope_prefixes
                    .split(|c: char| c == ',' || c == '\u{ff0c}' || c.is_whitespace())
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect();
                if prefixes.is_empty() {
                    problems.push(ValidationError::new(
                        "scope_prefixes",
                        "required",
                        "限定行范围时请填写取值前缀，如 3301",
                    ));
                }
                Some(RowScope { item: item.to_owned(), prefixes })
            }
        };
        let date = |field: &'static str, raw: &str, default: NaiveDate| -> Result<NaiveDate, ValidationError> {
            if raw.trim().is_empty() {
                return Ok(default);
            }
            NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
                .map_err(|_| ValidationError::new(field, "date_format", "日期格式应为 YYYY-MM-DD"))
        };
        let valid_from = keep(&mut problems, date("valid_from", &input.valid_from, period.0));
        let valid_until = keep(&mut problems, date("valid_until", &input.valid_until, period.1));
        if let (Some(from), Some(until)) = (valid_from, valid_until) {
            if from < period.0 || until > period.1 {
                problems.push(ValidationError::new(
                    "valid_until",
                    "outside_application",
                    format!("授权有效期应在申请的使用时限 {} 至 {} 之内", period.0, period.1),
                ));
            } else if until < from {
                problems.push(ValidationError::new("valid_until", "before_start", "截止日期不能早于起始日期"));
            }
        }
        let rate_per_minute = input.rate_per_minute.unwrap_or(DEFAULT_RATE_PER_MINUTE);
        if !(1..=1_000_000).contains(&rate_per_minute) {
            problems.push(ValidationError::new("rate_per_minute", "range", "每分钟调用上限应在 1 至 1000000 之间"));
        }
        let daily_rows = input.daily_rows.unwrap_or(DEFAULT_DAILY_ROWS);
        if !(1..=1_000_000_000).contains(&daily_rows) {
            problems.push(ValidationError::new("daily_rows", "range", "每日数据量上限应在 1 至 1000000000 行之间"));
        }
        let (Some(valid_from), Some(valid_until)) = (valid_from, valid_until) else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Grant {
            id,
            number: String::new(),
            application: app.id,
            requester: app.requester,
            provider: app.provider,
            entry: app.entry,
            items,
            purpose: request.scenario.clone(),
            row_scope,
            delivery: BTreeSet::from([request.delivery]),
            valid_from,
            valid_until,
            rate_per_minute,
            daily_rows,
            state: GrantState::Active,
            further_purposes: vec![],
            third_parties: vec![],
            past_terms: vec![],
            terms_since: None,
            aggregation: None,
            scheduled_narrowing: None,
            ends_on: None,
            hash_key,
            created_at: now,
            events: vec![GrantEvent {
                at: now,
                actor: actor.to_owned(),
                action: "create".into(),
                reason: String::new(),
                org: Some(app.provider),
                ..GrantEvent::default()
            }],
        })
    }

    pub fn status(&self, now: DateTime<Utc>) -> GrantStatus {
        let today = now.with_timezone(&beijing()).date_naive();
        if self.ends_on.is_some_and(|d| today >= d) {
            return GrantStatus::Terminated;
        }
        match self.state {
            GrantState::Suspended => GrantStatus::Suspended,
            GrantState::Terminated => GrantStatus::Terminated,
            GrantState::Active if today > self.valid_until => GrantStatus::Expired,
            GrantState::Active if self.aggregation.as_ref().is_some_and(|w| w.acknowledged.is_none()) => {
                GrantStatus::AwaitingAcknowledgement
            }
            GrantState::Active if today < self.valid_from => GrantStatus::NotYetValid,
            GrantState::Active => GrantStatus::Active,
        }
    }

    /// May the requester use this grant now, by this method? (Credential and organisation are checked by the
    /// caller: only the requester's own systems reach this.)
    pub fn check_access(&self, now: DateTime<Utc>, method: DeliveryMethod) -> Result<(), AccessRefused> {
        match self.status(now) {
            GrantStatus::Active => {}
            GrantStatus::Suspended => return Err(refused("grant_suspended", "共享授权已被暂停，暂停期间不得调用")),
            GrantStatus::Terminated => return Err(refused("grant_terminated", "共享授权已终止")),
            GrantStatus::Expired => {
                return Err(refused("grant_expired", format!("共享授权已于 {} 到期", self.valid_until)));
            }
            GrantStatus::NotYetValid => {
                return Err(refused("grant_not_yet_valid", format!("共享授权自 {} 起生效", self.valid_from)));
            }
            GrantStatus::AwaitingAcknowledgement => {
                return Err(refused(
                    "aggregation_unacknowledged",
                    "该授权存在数据汇聚关联风险，须经主管部门确认后方可使用（第二十五条）",
                ));
            }
        }
        if !self.delivery.contains(&method) {
            let allowed: Vec<&str> = self.delivery.iter().map(|m| m.label()).collect();
            return Err(refused(
                "delivery_not_granted",
                format!("该授权的共享方式为{}，不含{}", allowed.join("、"), method.label()),
            ));
        }
        Ok(())
    }

    pub fn item(&self, code: &str) -> Option<&GrantItem> {
        self.items.iter().find(|i| i.code == code)
    }

    /// Items that leave the platform (every granted item except dropped ones), in order.
    pub fn returned_items(&self) -> impl Iterator<Item = &GrantItem> {
        self.items.iter().filter(|i| i.masking != Masking::Drop)
    }

    pub fn in_scope(&self, record: &Record) -> bool {
        self.row_scope.as_ref().is_none_or(|s| s.contains(record))
    }

    /// The record as this grant may see it: only returned items, each masked as granted. For many records,
    /// [`Grant::projector`] prepares the work once.
    pub fn project(&self, record: &Record, entry: &EntryContent) -> Record {
        self.projector(entry).project(record)
    }

    /// What projecting records needs, prepared once: the returned items with their declarations, and the keyed
    /// hash's key state (HMAC's inner and outer key blocks, which would otherwise be hashed again for each value).
    pub fn projector<'g>(&'g self, entry: &'g EntryContent) -> Projector<'g> {
        let key = hex::decode(&self.hash_key).unwrap_or_default();
        Projector {
            items: self.returned_items().map(|item| (item, entry.items.iter().find(|i| i.code == item.code))).collect(),
            mac: mac_state(&key),
        }
    }

    /// Filters a query may use: granted items only (a dropped item too: it is compared, not returned).
    pub fn check_filter(&self, code: &str) -> Result<(), AccessRefused> {
        match self.item(code) {
            // Selecting rows by an item the requester does not receive in clear would disclose it (`?hjdz=…`
            // finds who lives at an address the grant drops): only verification matches on such an item.
            Some(i) if i.masking == Masking::Keep => Ok(()),
            Some(i) => Err(refused(
                "filter_not_allowed",
                format!(
                    "数据项「{code}」按授权{}，不能作为查询条件；如需比对请使用核验接口（只答复是否一致）",
                    match i.masking {
                        Masking::Drop => "不返回",
                        _ => "脱敏或哈希返回",
                    }
                ),
            )),
            None => Err(refused("item_not_granted", format!("数据项「{code}」不在共享授权范围内"))),
        }
    }
}

/// One access to shared data (Art. 29): kept at least three years.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub requester: OrgId,
    pub provider: OrgId,
    /// Who called: the person or the business system (audit name).
    pub actor: String,
    /// The business system's credential name, if a system called.
    pub system: Option<String>,
    pub grant: Option<GrantId>,
    pub entry: EntryId,
    pub purpose: String,
    /// `lookup`, `query`, `verify`, `changes` or `download`.
    pub operation: String,
    pub items: Vec<String>,
    pub rows: u64,
    /// `ok`, `not_found`, or the refusal's error code.
    pub result: String,
    /// From the request's arrival to the moment its record was handed to the log, in microseconds.
    pub latency_us: u64,
}

/// How long usage records are kept at least (Art. 29): three years.
pub const USAGE_RETENTION_YEARS: i32 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_follow_the_pattern_of_each_kind() {
        use PersonalInfoKind::*;
        assert_eq!(mask_value(Some(Name), "张三"), "张*");
        assert_eq!(mask_value(Some(Name), "欧阳娜娜"), "欧***");
        assert_eq!(mask_value(Some(IdNumber), "11010519491231002X"), "110105********002X");
        assert_eq!(mask_value(Some(Phone), "13812345678"), "138****5678");
        assert_eq!(mask_value(Some(Address), "浙江省杭州市西湖区文三路 1 号"), "浙江省杭州市****");
        assert_eq!(mask_value(Some(BankCard), "6222021234567890123"), "622202*********0123");
        assert_eq!(mask_value(Some(CreditCode), "91350100M000100Y43"), "913501********0Y43");
        assert_eq!(mask_value(Some(Email), "zhang.san@example.gov.cn"), "z***@example.gov.cn");
        assert_eq!(mask_value(None, "ab"), "a*");
        assert_eq!(mask_value(None, "abcdef"), "a****f");
    }

    #[test]
    fn misuse_and_ending_inputs_report_every_problem() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        fn rules<T>(r: Result<T, Vec<ValidationError>>) -> Vec<(String, &'static str)> {
            r.err().unwrap_or_default().into_iter().map(|p| (p.field.to_string(), p.rule)).collect()
        }
        let named = |pairs: &[(&str, &'static str)]| -> Vec<(String, &'static str)> {
            pairs.iter().map(|(f, r)| (f.to_string(), *r)).collect()
        };
        assert_eq!(Misuse::parse("", "", today), Ok(None), "a suspension for another reason");
        assert_eq!(
            Misuse::parse("third_party", "2026-12-20", today),
            Ok(Some(Misuse {
                grounds: MisuseGrounds::ThirdParty,
                rectify_by: NaiveDate::from_ymd_opt(2026, 12, 20).unwrap()
            }))
        );
        assert_eq!(
            Misuse::parse("超出使用用途", "2026-12-03", today).unwrap().unwrap().grounds,
            MisuseGrounds::PurposeExceeded
        );
        assert_eq!(rules(Misuse::parse("", "2026-12-20", today)), named(&[("misuse", "required")]));
        assert_eq!(
            rules(Misuse::parse("x", "2026-12-02", today)),
            named(&[("misuse", "unknown_value"), ("rectify_by", "not_future")])
        );
        assert_eq!(rules(Misuse::parse("scope_exceeded", "2027-03-03", today)), named(&[("rectify_by", "too_long")]));
        assert!(Misuse::parse("scope_exceeded", "2027-03-02", today).is_ok(), "90 days is the longest period");

        let until = NaiveDate::from_ymd_opt(2027, 6, 30).unwrap();
        assert!(Ending::parse("会商一致", "2026-12-02", today, until).is_ok(), "today is the earliest date");
        assert_eq!(
            rules(Ending::parse(" ", "", today, until)),
            named(&[("negotiation", "required"), ("effective_on", "required")])
        );
        assert_eq!(
            rules(Ending::parse("会商", "2027-07-01", today, until)),
            named(&[("effective_on", "after_expiry")])
        );
        assert_eq!(
            rules(Ending::parse(&"商".repeat(1001), "2026/12/05", today, until)),
            named(&[("negotiation", "too_long"), ("effective_on", "date_format")])
        );
    }

    #[test]
    fn keyed_hashes_join_within_a_grant_only() {
        let a = keyed_hash(b"grant-a-key", "11010519491231002X");
        assert_eq!(a, keyed_hash(b"grant-a-key", "11010519491231002X"));
        assert_ne!(a, keyed_hash(b"grant-b-key", "11010519491231002X"));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn row_scopes_match_by_prefix() {
        let scope = RowScope { item: "xzqh".into(), prefixes: vec!["3301".into(), "3302".into()] };
        let mut record = Record::new();
        record.insert("xzqh".into(), Value::from("330106"));
        assert!(scope.contains(&record));
        record.insert("xzqh".into(), Value::from("330302"));
        assert!(!scope.contains(&record));
        record.remove("xzqh");
        assert!(!scope.contains(&record));
    }
}
