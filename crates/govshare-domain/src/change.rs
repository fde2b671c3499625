//! Change requests on a running grant (Art. 25 ¶1, R-DEL-6: 确需扩大使用范围、用于其他目的或者提供给第三方的，
//! 应当经政务数据提供部门同意) and the versioned terms they change.
//!
//! The requester asks to receive more items, more rows, to use the data for a further purpose, or to pass it to a
//! named third party, with its reasons and legal basis; its work-unit head sends the request; the provider's clerk
//! drafts the decision and its head decides — approving all or part of what was asked, or refusing with reasons.
//! Only an approved decision changes the grant, and it does so as a new version of its [`Terms`], the earlier
//! versions kept ([`TermsVersion`]). [`check_terms_change`] is the rule every stored change of a grant passes: its
//! terms never become wider except by exactly the approved decision of its open change request.
//!
//! The steps are grant events (`request_change`, `send_change`, `withdraw_change`, `draft_change_decision`,
//! `return_change_decision`, `decide_change`), so a grant's timeline shows them and its duties follow from them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::catalog::{DeliveryMethod, EntryContent};
use crate::credit_code::CreditCode;
use crate::error::{keep, required_text};
use crate::grant::{Grant, GrantEvent, GrantItem, Masking, RowScope};

/// The longest reasons, legal basis and decision reasons, in characters.
pub const MAX_CHANGE_TEXT: usize = 1000;
/// The longest purpose statement and third-party name.
pub const MAX_PURPOSE: usize = 500;
pub const MAX_PREFIXES: usize = 100;
pub const MAX_PREFIX_CHARS: usize = 32;
/// Working days the provider has to answer a change request: the period of an application for conditional
/// sharing (Art. 21), which a change request is in substance (Art. 25 sets none of its own).
pub const CHANGE_REPLY_DAYS: u32 = 10;

/// Who else receives the data, and what (第三方).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThirdParty {
    pub name: String,
    /// Its unified social credit code, when known (empty otherwise).
    #[serde(default)]
    pub credit_code: String,
    /// The granted items it receives.
    pub items: Vec<String>,
    /// What it uses them for.
    pub purpose: String,
}

/// What a change request asks for, as filed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequest {
    /// Items of the entry to receive in addition (or, for an item granted as `drop`, to receive its values).
    #[serde(default)]
    pub add_items: Vec<String>,
    /// Prefixes to add to the grant's row scope.
    #[serde(default)]
    pub add_prefixes: Vec<String>,
    /// Lift the row scope: every row.
    #[serde(default)]
    pub all_rows: bool,
    /// A further purpose (empty: none).
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub third_party: Option<ThirdParty>,
    pub reasons: String,
    pub legal_basis: String,
}

/// A change request as entered (console form or API).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ChangeRequestInput {
    pub add_items: Vec<String>,
    /// Comma- or space-separated.
    pub add_prefixes: String,
    pub all_rows: bool,
    pub purpose: String,
    pub third_party_name: String,
    pub third_party_credit_code: String,
    pub third_party_items: Vec<String>,
    pub third_party_purpose: String,
    pub reasons: String,
    pub legal_basis: String,
}

fn split_list(raw: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    raw.split(|c: char| c == ',' || c == '\u{ff0c}' || c == '\u{3001}' || c.is_whitespace())
        .filter(|p| !p.is_empty() && seen.insert(p.to_string()))
        .map(str::to_owned)
        .collect()
}

fn dedup(items: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.iter().map(|s| s.trim()).filter(|s| !s.is_empty() && seen.insert(*s)).map(str::to_owned).collect()
}

impl ChangeRequest {
    /// Checks a request against the grant it would change and the entry's items; every problem at once.
    pub fn parse(
        input: &ChangeRequestInput,
        grant: &Grant,
        entry: &EntryContent,
    ) -> Result<ChangeRequest, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let add_items = dedup(&input.add_items);
        if add_items.len() > crate::catalog::MAX_ITEMS {
            problems.push(ValidationError::new(
                "add_items",
                "too_many",
                format!("一次最多申请 {} 个数据项", crate::catalog::MAX_ITEMS),
            ));
        }
        for code in add_items.iter().take(crate::catalog::MAX_ITEMS) {
            let field = format!("add_items.{code}");
            if !entry.items.iter().any(|i| &i.code == code) {
                problems.push(ValidationError::new(field, "not_in_entry", format!("「{code}」不是该目录的数据项")));
            } else if grant.item(code).is_some_and(|i| i.masking != Masking::Drop) {
                problems.push(ValidationError::new(
                    field,
                    "already_granted",
                    format!("数据项「{code}」已在授权范围内"),
                ));
            }
        }
        let add_prefixes = split_list(&input.add_prefixes);
        if !add_prefixes.is_empty() || input.all_rows {
            match &grant.row_scope {
                None => problems.push(ValidationError::new(
                    if input.all_rows { "all_rows" } else { "add_prefixes" },
                    "no_row_scope",
                    "该授权未限定行范围，已可获得全部数据行",
                )),
                Some(scope) => {
                    if add_prefixes.len() > MAX_PREFIXES {
                        problems.push(ValidationError::new(
                            "add_prefixes",
                            "too_many",
                            format!("一次最多增加 {MAX_PREFIXES} 个取值前缀"),
                        ));
                    }
                    for p in add_prefixes.iter().take(MAX_PREFIXES) {
                        if p.chars().count() > MAX_PREFIX_CHARS
                            || crate::error::check_characters("add_prefixes", p).is_err()
                        {
                            problems.push(ValidationError::new(
                                "add_prefixes",
                                "invalid",
                                format!("取值前缀最多 {MAX_PREFIX_CHARS} 个字符，且不能含控制字符"),
                            ));
                            break;
                        }
                        if scope.prefixes.iter().any(|q| p.starts_with(q.as_str())) {
                            problems.push(ValidationError::new(
                                "add_prefixes",
                                "already_granted",
                                format!("取值前缀「{p}」已在授权的行范围内"),
                            ));
                        }
                    }
                    if input.all_rows && !add_prefixes.is_empty() {
                        problems.push(ValidationError::new(
                            "add_prefixes",
                            "with_all_rows",
                            "申请全部数据行时无需再填写取值前缀",
                        ));
                    }
                }
            }
        }
        let purpose = input.purpose.trim();
        let purpose = if purpose.is_empty() {
            String::new()
        } else {
            keep(&mut problems, required_text("purpose", "新的使用用途", purpose, MAX_PURPOSE)).unwrap_or_default()
        };
        if !purpose.is_empty() && grant.purposes().any(|p| p == purpose) {
            problems.push(ValidationError::new("purpose", "already_granted", "该用途已在授权范围内"));
        }
        let third_party = Self::parse_third_party(input, grant, &add_items, &mut problems);
        let reasons = keep(&mut problems, required_text("reasons", "申请理由", &input.reasons, MAX_CHANGE_TEXT));
        let legal_basis =
            keep(&mut problems, required_text("legal_basis", "使用依据", &input.legal_basis, MAX_CHANGE_TEXT));
        if add_items.is_empty()
            && add_prefixes.is_empty()
            && !input.all_rows
            && purpose.is_empty()
            && third_party.is_none()
        {
            problems.push(ValidationError::new(
                "change",
                "empty",
                "请至少申请一项变更：增加数据项、扩大行范围、新的使用用途或向第三方提供",
            ));
        }
        match (reasons, legal_basis) {
            (Some(reasons), Some(legal_basis)) if problems.is_empty() => Ok(ChangeRequest {
                add_items,
                add_prefixes,
                all_rows: input.all_rows,
                purpose,
                third_party,
                reasons,
                legal_basis,
            }),
            _ => Err(problems),
        }
    }

    fn parse_third_party(
        input: &ChangeRequestInput,
        grant: &Grant,
        add_items: &[String],
        problems: &mut Vec<ValidationError>,
    ) -> Option<ThirdParty> {
        let items = dedup(&input.third_party_items);
        let touched = !input.third_party_name.trim().is_empty()
            || !input.third_party_credit_code.trim().is_empty()
            || !input.third_party_purpose.trim().is_empty()
            || !items.is_empty();
        if !touched {
            return None;
        }
        let name =
            keep(problems, required_text("third_party_name", "第三方名称", &input.third_party_name, MAX_PURPOSE));
        let credit_code = match input.third_party_credit_code.trim() {
            "" => Some(String::new()),
            raw => keep(
                problems,
                CreditCode::parse(raw)
                    .map(|c| c.as_str().to_owned())
                    .map_err(|e| e.for_field("third_party_credit_code")),
            ),
        };
        let purpose = keep(
            problems,
            required_text("third_party_purpose", "第三方使用用途", &input.third_party_purpose, MAX_PURPOSE),
        );
        if items.is_empty() {
            problems.push(ValidationError::new("third_party_items", "required", "请选择向第三方提供的数据项"));
        }
        if items.len() > crate::catalog::MAX_ITEMS {
            let message = format!("一次最多申请向第三方提供 {} 个数据项", crate::catalog::MAX_ITEMS);
            problems.push(ValidationError::new("third_party_items", "too_many", message));
        }
        for code in items.iter().take(crate::catalog::MAX_ITEMS) {
            let granted = grant.returned_items().any(|i| &i.code == code);
            if !granted && !add_items.contains(code) {
                problems.push(ValidationError::new(
                    format!("third_party_items.{code}"),
                    "not_granted",
                    format!("数据项「{code}」不在授权范围内，也不在本次申请增加的数据项中"),
                ));
            }
        }
        Some(ThirdParty { name: name?, credit_code: credit_code?, items, purpose: purpose? })
    }

    /// The request in one line, for notifications and lists.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.add_items.is_empty() {
            parts.push(format!("增加数据项 {} 项", self.add_items.len()));
        }
        if self.all_rows {
            parts.push("扩大至全部数据行".to_owned());
        } else if !self.add_prefixes.is_empty() {
            parts.push(format!("扩大行范围（{}）", self.add_prefixes.join("、")));
        }
        if !self.purpose.is_empty() {
            parts.push("用于新的用途".to_owned());
        }
        if let Some(t) = &self.third_party {
            parts.push(format!("向「{}」提供", t.name));
        }
        parts.join("，")
    }
}

/// The provider's answer to a change request: what of it is approved (possibly less than asked), or a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeDecision {
    pub approve: bool,
    /// Approved additional items, each with how it leaves the platform.
    #[serde(default)]
    pub items: Vec<GrantItem>,
    #[serde(default)]
    pub add_prefixes: Vec<String>,
    #[serde(default)]
    pub all_rows: bool,
    /// The further purpose is approved.
    #[serde(default)]
    pub purpose: bool,
    /// The items the third party may receive (empty: passing to the third party is not approved).
    #[serde(default)]
    pub third_party_items: Vec<String>,
    /// Why (required to refuse; the provider's opinion otherwise).
    #[serde(default)]
    pub reason: String,
}

/// A decision as entered.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ChangeDecisionInput {
    /// `approve` or `refuse`.
    pub decision: String,
    /// Approved items → masking (`keep`, `mask`, `hash`, `drop`).
    pub items: BTreeMap<String, String>,
    pub add_prefixes: String,
    pub all_rows: bool,
    pub purpose: bool,
    pub third_party_items: Vec<String>,
    pub reason: String,
}

impl ChangeDecision {
    /// Checks a decision against the request it answers: it approves only what was asked for.
    pub fn parse(input: &ChangeDecisionInput, request: &ChangeRequest) -> Result<ChangeDecision, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let approve = match input.decision.trim() {
            "approve" | "同意" => true,
            "refuse" | "不同意" => false,
            other => {
                problems.push(ValidationError::new(
                    "decision",
                    if other.is_empty() { "required" } else { "unknown_value" },
                    "请选择答复：approve（同意）或 refuse（不同意）",
                ));
                return Err(problems);
            }
        };
        let reason = input.reason.trim();
        let reason = if reason.is_empty() && !approve {
            problems.push(ValidationError::new("reason", "required", "不同意变更申请的，应当说明理由"));
            String::new()
        } else if reason.is_empty() {
            String::new()
        } else {
            keep(&mut problems, required_text("reason", "答复意见", reason, MAX_CHANGE_TEXT)).unwrap_or_default()
        };
        if !approve {
            return if problems.is_empty() {
                Ok(ChangeDecision {
                    approve,
                    items: vec![],
                    add_prefixes: vec![],
                    all_rows: false,
                    purpose: false,
                    third_party_items: vec![],
                    reason,
                })
            } else {
                Err(problems)
            };
        }
        let mut items = Vec::new();
        for (code, masking) in input.items.iter().take(crate::catalog::MAX_ITEMS) {
            let field = format!("items.{code}");
            if !request.add_items.contains(code) {
                problems.push(ValidationError::new(
                    field,
                    "not_requested",
                    format!("数据项「{code}」不在变更申请的范围内"),
                ));
                continue;
            }
            if let Some(masking) = keep(&mut problems, Masking::parse(field, masking)) {
                items.push(GrantItem { code: code.clone(), masking });
            }
        }
        let add_prefixes = split_list(&input.add_prefixes);
        if add_prefixes.len() > MAX_PREFIXES {
            problems.push(ValidationError::new("add_prefixes", "too_many", format!("最多 {MAX_PREFIXES} 个取值前缀")));
        }
        for p in add_prefixes.iter().take(MAX_PREFIXES) {
            if !request.add_prefixes.contains(p) {
                problems.push(ValidationError::new(
                    "add_prefixes",
                    "not_requested",
                    format!("取值前缀「{p}」不在变更申请的范围内"),
                ));
            }
        }
        if input.all_rows && !request.all_rows {
            problems.push(ValidationError::new("all_rows", "not_requested", "变更申请未申请全部数据行"));
        }
        if input.purpose && request.purpose.is_empty() {
            problems.push(ValidationError::new("purpose", "not_requested", "变更申请未申请新的使用用途"));
        }
        let third_party_items = dedup(&input.third_party_items);
        if third_party_items.len() > crate::catalog::MAX_ITEMS {
            let message = format!("最多 {} 个数据项", crate::catalog::MAX_ITEMS);
            problems.push(ValidationError::new("third_party_items", "too_many", message));
        }
        if !third_party_items.is_empty() {
            match &request.third_party {
                None => problems.push(ValidationError::new(
                    "third_party_items",
                    "not_requested",
                    "变更申请未申请向第三方提供",
                )),
                Some(t) => {
                    for code in third_party_items.iter().take(crate::catalog::MAX_ITEMS) {
                        if !t.items.contains(code) {
                            problems.push(ValidationError::new(
                                format!("third_party_items.{code}"),
                                "not_requested",
                                format!("申请未请求向第三方提供数据项「{code}」"),
                            ));
                        } else if request.add_items.contains(code) && !items.iter().any(|i| &i.code == code) {
                            problems.push(ValidationError::new(
                                format!("third_party_items.{code}"),
                                "not_approved",
                                format!("数据项「{code}」未同意增加，不能同意向第三方提供"),
                            ));
                        }
                    }
                }
            }
        }
        if items.is_empty()
            && add_prefixes.is_empty()
            && !input.all_rows
            && !input.purpose
            && third_party_items.is_empty()
            && problems.is_empty()
        {
            problems.push(ValidationError::new(
                "decision",
                "nothing_approved",
                "同意的内容为空：请勾选同意的变更，或选择不同意并说明理由",
            ));
        }
        if problems.is_empty() {
            Ok(ChangeDecision {
                approve,
                items,
                add_prefixes,
                all_rows: input.all_rows,
                purpose: input.purpose,
                third_party_items,
                reason,
            })
        } else {
            Err(problems)
        }
    }
}

/// The part of a grant a change can widen, and the limits it is used under: what [`check_terms_change`] compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    pub items: Vec<GrantItem>,
    pub row_scope: Option<RowScope>,
    pub purpose: String,
    pub further_purposes: Vec<String>,
    pub third_parties: Vec<ThirdParty>,
    pub delivery: BTreeSet<DeliveryMethod>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub rate_per_minute: u32,
    pub daily_rows: u64,
}

impl Terms {
    /// Whether these terms give nothing that `wider` does not: every item with the same masking (or dropped),
    /// rows within its scope, purposes and third parties among its own, a shorter or equal period, fewer
    /// delivery methods and lower limits.
    pub fn within(&self, wider: &Terms) -> bool {
        let items = self.items.iter().all(|i| {
            i.masking == Masking::Drop || wider.items.iter().any(|w| w.code == i.code && w.masking == i.masking)
        }) && self.items.iter().all(|i| wider.items.iter().any(|w| w.code == i.code));
        let rows = match (&self.row_scope, &wider.row_scope) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(mine), Some(theirs)) => {
                mine.item == theirs.item
                    && mine.prefixes.iter().all(|p| theirs.prefixes.iter().any(|q| p.starts_with(q.as_str())))
            }
        };
        let purposes =
            self.purpose == wider.purpose && self.further_purposes.iter().all(|p| wider.further_purposes.contains(p));
        let third = self.third_parties.iter().all(|t| {
            wider.third_parties.iter().any(|w| {
                w.name == t.name && w.credit_code == t.credit_code && t.items.iter().all(|c| w.items.contains(c))
            })
        });
        items
            && rows
            && purposes
            && third
            && self.delivery.is_subset(&wider.delivery)
            && self.valid_from >= wider.valid_from
            && self.valid_until <= wider.valid_until
            && self.rate_per_minute <= wider.rate_per_minute
            && self.daily_rows <= wider.daily_rows
    }
}

/// An earlier version of a grant's terms, with the time it was in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsVersion {
    pub version: u32,
    pub terms: Terms,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Where an open change request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStage {
    /// Filed by the requester; its head has not sent it yet.
    Filed,
    /// Sent: the provider's clerk drafts the decision.
    Sent,
    /// The decision is drafted: the provider's head decides.
    Drafted,
}

impl ChangeStage {
    pub fn label(self) -> &'static str {
        match self {
            ChangeStage::Filed => "待需求部门负责人审核发送",
            ChangeStage::Sent => "待提供部门办理",
            ChangeStage::Drafted => "待提供部门负责人审核答复",
        }
    }
}

/// A change request and how it went, read off the grant's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeCase {
    /// 1 for the grant's first change request.
    pub no: u32,
    pub request: ChangeRequest,
    pub filed_at: DateTime<Utc>,
    pub filed_by: String,
    pub sent_at: Option<DateTime<Utc>>,
    /// The decision drafted (while open) or given.
    pub decision: Option<ChangeDecision>,
    /// Open (`outcome` None), or closed (`stage` None) with how it ended: `approved`, `refused`, `withdrawn`, or
    /// `lapsed` (the grant was terminated first).
    pub stage: Option<ChangeStage>,
    pub outcome: Option<&'static str>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl ChangeCase {
    pub fn outcome_label(&self) -> &'static str {
        match (self.stage, self.outcome) {
            (Some(stage), _) => stage.label(),
            (None, Some("approved")) => "已同意",
            (None, Some("refused")) => "不同意",
            (None, Some("withdrawn")) => "已撤回",
            (None, Some("lapsed")) => "授权终止，未办结",
            _ => "",
        }
    }
}

/// Every change request of a grant, oldest first.
pub fn change_cases(events: &[GrantEvent]) -> Vec<ChangeCase> {
    let mut cases: Vec<ChangeCase> = Vec::new();
    for e in events {
        let open = cases.last_mut().filter(|c| c.stage.is_some());
        match (e.action.as_str(), open) {
            ("request_change", _) => {
                if let Some(request) = &e.change_request {
                    cases.push(ChangeCase {
                        no: cases.len() as u32 + 1,
                        request: request.clone(),
                        filed_at: e.at,
                        filed_by: e.actor.clone(),
                        sent_at: None,
                        decision: None,
                        stage: Some(ChangeStage::Filed),
                        outcome: None,
                        closed_at: None,
                    });
                }
            }
            ("send_change", Some(c)) => {
                c.sent_at = Some(e.at);
                c.stage = Some(ChangeStage::Sent);
            }
            ("draft_change_decision", Some(c)) => {
                c.decision = e.change_decision.clone();
                c.stage = Some(ChangeStage::Drafted);
            }
            ("return_change_decision", Some(c)) => c.stage = Some(ChangeStage::Sent),
            ("decide_change", Some(c)) => {
                let approved = e.change_decision.as_ref().is_some_and(|d| d.approve);
                c.decision = e.change_decision.clone();
                c.stage = None;
                c.outcome = Some(if approved { "approved" } else { "refused" });
                c.closed_at = Some(e.at);
            }
            ("withdraw_change", Some(c)) => {
                c.stage = None;
                c.outcome = Some("withdrawn");
                c.closed_at = Some(e.at);
            }
            ("terminate", Some(c)) => {
                c.stage = None;
                c.outcome = Some("lapsed");
                c.closed_at = Some(e.at);
            }
            _ => {}
        }
    }
    cases
}

impl Grant {
    /// The purposes it may be used for: the application's, then those approved by change requests.
    pub fn purposes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.purpose.as_str()).chain(self.further_purposes.iter().map(String::as_str))
    }

    pub fn terms(&self) -> Terms {
        Terms {
            items: self.items.clone(),
            row_scope: self.row_scope.clone(),
            purpose: self.purpose.clone(),
            further_purposes: self.further_purposes.clone(),
            third_parties: self.third_parties.clone(),
            delivery: self.delivery.clone(),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            rate_per_minute: self.rate_per_minute,
            daily_rows: self.daily_rows,
        }
    }

    /// Its open change request, if any (at most one at a time).
    pub fn open_change(&self) -> Option<ChangeCase> {
        change_cases(&self.events).pop().filter(|c| c.stage.is_some())
    }

    /// Applies an approved decision on `request`: the current terms become an earlier version (in force until
    /// `at`) and the approved changes make the next. Items keep the entry's order when `entry` is given.
    pub fn apply_change(
        &mut self,
        request: &ChangeRequest,
        decision: &ChangeDecision,
        at: DateTime<Utc>,
        entry: Option<&EntryContent>,
    ) {
        if !decision.approve {
            return;
        }
        let from = self.terms_since.unwrap_or(self.created_at);
        self.past_terms.push(TermsVersion { version: self.terms_version(), terms: self.terms(), from, until: at });
        for added in &decision.items {
            self.items.retain(|i| i.code != added.code);
            self.items.push(added.clone());
        }
        if let Some(entry) = entry {
            self.items.sort_by_key(|g| entry.items.iter().position(|i| i.code == g.code).unwrap_or(usize::MAX));
        }
        if decision.all_rows {
            self.row_scope = None;
        } else if let Some(scope) = &mut self.row_scope {
            scope.prefixes.extend(decision.add_prefixes.iter().cloned());
        }
        if decision.purpose && !request.purpose.is_empty() {
            self.further_purposes.push(request.purpose.clone());
        }
        if let (Some(t), false) = (&request.third_party, decision.third_party_items.is_empty()) {
            self.third_parties.push(ThirdParty { items: decision.third_party_items.clone(), ..t.clone() });
        }
        self.terms_since = Some(at);
    }

    /// The version of its current terms: 1 as created, one more for each approved change.
    pub fn terms_version(&self) -> u32 {
        self.past_terms.len() as u32 + 1
    }
}

/// A provider's narrowing of a running grant (Art. 27 ¶3: 确需变更服务的，应当与需求部门协商，并报同级主管部门
/// 备案): the items as they will be, the negotiation with the requester, and the first day of the narrower terms.
/// It is proposed by the provider's head, takes effect only once the same-level authority has recorded the filing,
/// and then from its date ([`Grant::settle`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Narrowing {
    pub items: Vec<GrantItem>,
    pub negotiation: String,
    pub effective_on: NaiveDate,
}

impl Narrowing {
    /// `changes`: item code → `remove` or a stricter masking (`drop` for any item; `mask` or `hash` for one kept as
    /// held). The negotiation and date follow the rules of an ending ([`crate::grant::Ending::parse`]).
    pub fn parse(
        changes: &BTreeMap<String, String>,
        negotiation: &str,
        effective_on: &str,
        grant: &Grant,
        today: NaiveDate,
    ) -> Result<Narrowing, Vec<ValidationError>> {
        let mut problems = Vec::new();
        // The rules of an ending, in the words of a change.
        let ending = crate::error::keep_all(
            &mut problems,
            crate::grant::Ending::parse(negotiation, effective_on, today, grant.valid_until).map_err(|found| {
                found
                    .into_iter()
                    .map(|p| ValidationError::new(p.field, p.rule, p.message.replace("终止", "变更")))
                    .collect()
            }),
        );
        let mut items = grant.items.clone();
        let mut changed = false;
        for (code, change) in changes.iter().take(crate::catalog::MAX_ITEMS) {
            let field = format!("narrow_items.{code}");
            let Some(current) = grant.item(code).map(|i| i.masking) else {
                problems.push(ValidationError::new(field, "not_granted", format!("数据项「{code}」不在授权范围内")));
                continue;
            };
            let change = change.trim();
            if change.is_empty() || change == current.code() {
                continue;
            }
            if change == "remove" {
                items.retain(|i| &i.code != code);
                changed = true;
                continue;
            }
            let Some(masking) = keep(&mut problems, Masking::parse(field.clone(), change)) else { continue };
            let stricter = masking == Masking::Drop || (current == Masking::Keep && masking != Masking::Keep);
            if !stricter {
                problems.push(ValidationError::new(
                    field,
                    "not_narrower",
                    format!(
                        "「{}」改为「{}」不是收窄；扩大授权须由需求部门提出变更申请",
                        current.label(),
                        masking.label()
                    ),
                ));
                continue;
            }
            if let Some(i) = items.iter_mut().find(|i| &i.code == code) {
                i.masking = masking;
                changed = true;
            }
        }
        if !changed && problems.is_empty() {
            problems.push(ValidationError::new(
                "narrow_items",
                "no_change",
                "请至少收窄一个数据项（移除或改为更严格的提供方式）",
            ));
        }
        match ending {
            Some(e) if problems.is_empty() => {
                Ok(Narrowing { items, negotiation: e.negotiation, effective_on: e.effective_on })
            }
            _ => Err(problems),
        }
    }
}

impl Grant {
    /// The narrowing proposed and not yet filed: the last `propose_narrowing` with no `record_filing` after it.
    pub fn pending_narrowing(&self) -> Option<&Narrowing> {
        if self.state == crate::grant::GrantState::Terminated {
            return None;
        }
        let at = self.events.iter().rposition(|e| e.action == "propose_narrowing")?;
        if self.events[at..].iter().any(|e| e.action == "record_filing") {
            return None;
        }
        self.events[at].narrowing.as_ref()
    }

    /// Puts a filed narrowing in force once its day (北京时间) has come: the current terms become an earlier
    /// version and the narrowed items the current ones. True if it did.
    pub fn settle(&mut self, now: DateTime<Utc>) -> bool {
        let today = now.with_timezone(&crate::calendar::beijing()).date_naive();
        let Some(n) = self.scheduled_narrowing.take_if(|n| n.effective_on <= today) else { return false };
        let at = crate::calendar::end_of_day(n.effective_on.pred_opt().unwrap_or(n.effective_on));
        let at = at.max(self.terms_since.unwrap_or(self.created_at));
        let from = self.terms_since.unwrap_or(self.created_at);
        self.past_terms.push(TermsVersion { version: self.terms_version(), terms: self.terms(), from, until: at });
        self.items = n.items;
        self.terms_since = Some(at);
        true
    }
}

/// The rule every stored change of a grant passes (R-DEL-6: a grant never widens without an approved change
/// request): `after`'s terms are within `before`'s, or `after` is `before` with exactly the decision of its last
/// event — an approving `decide_change` answering `before`'s open, sent change request — applied, and nothing else.
pub fn check_terms_change(before: &Grant, after: &Grant) -> Result<(), String> {
    let (old, new) = (before.terms(), after.terms());
    // Narrower or equal terms pass; the history is only ever appended to (a narrowing put in force adds a version).
    if new.within(&old) && after.past_terms.starts_with(&before.past_terms) {
        return Ok(());
    }
    let refused = || Err("授权范围只能经提供部门同意的变更申请扩大（第二十五条）".to_owned());
    let Some(last) = after.events.last() else { return refused() };
    let (Some(decision), Some(open)) = (&last.change_decision, before.open_change()) else {
        return refused();
    };
    let drafted = open.stage == Some(ChangeStage::Drafted) && open.decision.as_ref() == Some(decision);
    if last.action != "decide_change" || !decision.approve || !drafted {
        return refused();
    }
    if after.events.len() != before.events.len() + 1 || after.events[..before.events.len()] != before.events[..] {
        return refused();
    }
    let mut expected = before.clone();
    expected.apply_change(&open.request, decision, last.at, None);
    let same_items = {
        let mut a = expected.items.clone();
        let mut b = after.items.clone();
        a.sort_by(|x, y| x.code.cmp(&y.code));
        b.sort_by(|x, y| x.code.cmp(&y.code));
        a == b
    };
    let mut expected_terms = expected.terms();
    expected_terms.items = after.items.clone();
    if same_items && expected_terms == new && expected.past_terms == after.past_terms { Ok(()) } else { refused() }
}

#[cfg(test)]
mod tests;
