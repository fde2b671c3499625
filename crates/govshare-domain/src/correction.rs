//! Corrections (校核申请, Art. 26, R-QC-1: 政务数据需求部门……发现政务数据不准确或者不完整的，应当及时向政务数据提供
//! 部门提出政务数据校核申请。政务数据提供部门应当自收到政务数据校核申请之日起10个工作日内予以核实、更正并反馈校核处理
//! 结果).
//!
//! A requester names one record it received (by grant and key) and the items it believes wrong or missing, with
//! the value it believes right and its evidence. From filing to answer the record is marked disputed (异议标注)
//! for every grant that receives it. The provider answers within [`CORRECTION_DAYS`] working days: corrected (the
//! new values are written to the record, which reaches every grant through the change feed with the
//! correction's number), confirmed correct (with its reasons), or partly corrected. A provider also corrects its
//! records on its own initiative; that correction is answered when it is made.
//!
//! The record's key and every value named (claimed, old, new) are personal data more often than not: the case
//! keeps them in [`CorrectionSubject`], which the service seals with the node key before the store sees it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ValidationError;
use crate::attachment::AttachmentRef;
use crate::calendar::{WorkingCalendar, beijing};
use crate::catalog::{DataItem, EntryId};
use crate::error::{keep, required_text};
use crate::grant::GrantId;
use crate::id::define_id;
use crate::org::OrgId;
use crate::record::parse_value;
use crate::region::RegionCode;

define_id! {
    /// Identity of a correction request.
    pub struct CorrectionId, field "correction_id", message "校核申请标识格式错误"
}

/// The provider's period to verify, correct and answer, in working days from receipt (Art. 26).
pub const CORRECTION_DAYS: u32 = 10;
/// The most items one request names.
pub const MAX_CLAIMS: usize = 50;
pub const MAX_CORRECTION_TEXT: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every claim checked and the record corrected.
    Corrected,
    /// The record is right as it is; the reasons say why.
    Confirmed,
    /// Some values corrected, the others confirmed (with reasons).
    Partly,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Corrected, Outcome::Confirmed, Outcome::Partly];

    pub fn code(self) -> &'static str {
        match self {
            Outcome::Corrected => "corrected",
            Outcome::Confirmed => "confirmed",
            Outcome::Partly => "partly",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Corrected => "已更正",
            Outcome::Confirmed => "经核实无误",
            Outcome::Partly => "部分更正",
        }
    }

    pub fn parse(input: &str) -> Result<Outcome, ValidationError> {
        let input = input.trim();
        Outcome::ALL.into_iter().find(|o| o.code() == input || o.label() == input).ok_or_else(|| {
            ValidationError::new(
                "outcome",
                if input.is_empty() { "required" } else { "unknown_value" },
                "请选择校核结果：corrected（已更正）、confirmed（经核实无误）或 partly（部分更正）",
            )
        })
    }

    /// The record's values change.
    pub fn changes_values(self) -> bool {
        self != Outcome::Confirmed
    }
}

/// One item the requester believes wrong or missing, and the value it believes right (empty: it does not know).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Claim {
    pub item: String,
    pub value: String,
}

/// One value the answer changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueChange {
    pub item: String,
    pub old: Value,
    pub new: Value,
}

/// What the case says about the record, sealed with the node key at rest: its key and every value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CorrectionSubject {
    pub key: String,
    pub claims: Vec<Claim>,
    pub changes: Vec<ValueChange>,
}

/// One step of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub org: OrgId,
    /// `file` (the request), `answer`, or `correct` (a provider's own correction).
    pub step: String,
    pub text: String,
}

/// The provider's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionAnswer {
    pub outcome: Outcome,
    pub reasons: String,
    /// The codes of the items whose values changed (the values themselves are in the sealed subject).
    pub changed_items: Vec<String>,
    /// The sequence number the corrected record got in the entry's change history (hosted sources); the change
    /// feed names the correction beside that version.
    pub applied_seq: Option<i64>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub id: CorrectionId,
    /// `JH-2026-000001` (校核编号), given by the store on insert.
    #[serde(default)]
    pub number: String,
    pub entry: EntryId,
    pub provider: OrgId,
    /// The provider's region (its same-level authority supervises the case).
    pub region: RegionCode,
    /// The requester and the grant it received the record under; `None` for a provider's own correction.
    pub requester: Option<OrgId>,
    pub grant: Option<GrantId>,
    /// The record's lookup key (the keyed digest the store knows it by).
    pub record_key: String,
    /// The key as people may see it in lists: masked.
    pub key_hint: String,
    /// The items named, codes only (the values are sealed).
    pub items: Vec<String>,
    pub evidence: String,
    /// The source the requester checked against (a register, a document, a site visit).
    pub checked_against: String,
    pub attachment: Option<AttachmentRef>,
    /// [`CorrectionSubject`] as JSON, SM4-sealed with the node key, hex.
    pub sealed: String,
    pub received_at: DateTime<Utc>,
    pub events: Vec<CorrectionEvent>,
    pub answer: Option<CorrectionAnswer>,
}

impl Correction {
    /// Under review: filed and not answered. The record is marked disputed meanwhile.
    pub fn is_open(&self) -> bool {
        self.answer.is_none()
    }

    pub fn is_proactive(&self) -> bool {
        self.requester.is_none()
    }

    /// The working days from receipt to answer, as the periods count them (the day of receipt is not one).
    pub fn turnaround_days(&self, calendar: &WorkingCalendar) -> Option<i64> {
        let answer = self.answer.as_ref()?;
        let start = self.received_at.with_timezone(&beijing()).date_naive();
        let end = answer.at.with_timezone(&beijing()).date_naive();
        Some(calendar.working_days_between(start, end) as i64)
    }

    pub fn state_label(&self) -> &'static str {
        match &self.answer {
            None => "核实中（异议标注）",
            Some(a) => a.outcome.label(),
        }
    }
}

/// A request as entered.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CorrectionInput {
    /// The grant the record was received under.
    pub grant: String,
    /// The value of the record's key item.
    pub key: String,
    pub claims: Vec<Claim>,
    pub evidence: String,
    pub checked_against: String,
}

/// A checked request; the service checks the grant, the items and the record against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionRequest {
    pub grant: GrantId,
    pub key: String,
    pub claims: Vec<Claim>,
    pub evidence: String,
    pub checked_against: String,
}

fn key_text(raw: &str) -> Result<String, ValidationError> {
    required_text("key", "记录主键", raw, 200)
}

fn claims(raw: &[Claim], problems: &mut Vec<ValidationError>) -> Vec<Claim> {
    let mut out: Vec<Claim> = Vec::new();
    if raw.len() > MAX_CLAIMS {
        problems.push(ValidationError::new("claims", "too_many", format!("一次最多校核 {MAX_CLAIMS} 个数据项")));
    }
    for (i, c) in raw.iter().take(MAX_CLAIMS).enumerate() {
        let item = c.item.trim();
        if item.is_empty() {
            problems.push(ValidationError::new(format!("claims[{i}].item"), "required", "请选择有误的数据项"));
            continue;
        }
        if out.iter().any(|o| o.item == item) {
            problems.push(ValidationError::new(
                format!("claims[{i}].item"),
                "duplicate",
                format!("数据项「{item}」重复"),
            ));
            continue;
        }
        let value = c.value.trim();
        if value.chars().count() > 500 {
            problems.push(ValidationError::new(format!("claims[{i}].value"), "too_long", "建议值最多 500 个字符"));
            continue;
        }
        if let Err(e) = crate::error::check_characters(format!("claims[{i}].value"), value) {
            problems.push(e);
            continue;
        }
        out.push(Claim { item: item.to_owned(), value: value.to_owned() });
    }
    if raw.is_empty() {
        problems.push(ValidationError::new("claims", "required", "请至少指出一个不准确或不完整的数据项"));
    }
    out
}

impl CorrectionRequest {
    pub fn parse(input: &CorrectionInput) -> Result<CorrectionRequest, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let grant = keep(&mut problems, input.grant.trim().parse::<GrantId>().map_err(|e| e.for_field("grant")));
        let key = keep(&mut problems, key_text(&input.key));
        let claims = claims(&input.claims, &mut problems);
        let evidence =
            keep(&mut problems, required_text("evidence", "依据和证明材料说明", &input.evidence, MAX_CORRECTION_TEXT));
        let checked_against = match input.checked_against.trim() {
            "" => Some(String::new()),
            raw => keep(&mut problems, required_text("checked_against", "核对来源", raw, 200)),
        };
        match (grant, key, evidence, checked_against) {
            (Some(grant), Some(key), Some(evidence), Some(checked_against)) if problems.is_empty() => {
                Ok(CorrectionRequest { grant, key, claims, evidence, checked_against })
            }
            _ => Err(problems),
        }
    }
}

/// An answer as entered: the outcome, the reasons, and the corrected values by item code.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AnswerInput {
    pub outcome: String,
    pub reasons: String,
    pub values: std::collections::BTreeMap<String, String>,
}

/// A checked answer: the new values, parsed by each item's type.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedAnswer {
    pub outcome: Outcome,
    pub reasons: String,
    pub values: Vec<(String, Value)>,
}

impl CheckedAnswer {
    /// `items` are the entry's data items, `key_item` its key (which a correction never changes: a different key
    /// is a different record), `current` the record as it is (None: a proxied source, which the provider
    /// corrects at home). An outcome that changes values must change at least one, to something else; a
    /// confirmation changes none; a confirmation and a partial correction give their reasons.
    pub fn parse(
        input: &AnswerInput,
        items: &[DataItem],
        key_item: &str,
        current: Option<&serde_json::Map<String, Value>>,
    ) -> Result<CheckedAnswer, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let outcome = keep(&mut problems, Outcome::parse(&input.outcome));
        let reasons = match input.reasons.trim() {
            "" if outcome.is_some_and(|o| o != Outcome::Corrected) => {
                problems.push(ValidationError::new("reasons", "required", "经核实无误或部分更正的，须说明理由"));
                None
            }
            "" => Some(String::new()),
            raw => keep(&mut problems, required_text("reasons", "核实情况和理由", raw, MAX_CORRECTION_TEXT)),
        };
        let mut values = Vec::new();
        for (code, raw) in &input.values {
            let field = format!("values.{code}");
            let Some(item) = items.iter().find(|i| i.code == *code) else {
                problems.push(ValidationError::new(field, "unknown_item", format!("目录中没有数据项「{code}」")));
                continue;
            };
            if item.code == key_item {
                problems.push(ValidationError::new(field, "key_item", "主键数据项不能更正：主键不同即为另一条记录"));
                continue;
            }
            match parse_value(item, raw) {
                Err((rule, message)) => {
                    problems.push(ValidationError::new(field, rule, format!("{}：{message}", item.name)))
                }
                Ok(value) if current.and_then(|r| r.get(code)).unwrap_or(&Value::Null) == &value => problems
                    .push(ValidationError::new(field, "unchanged", format!("「{}」的更正值与现值相同", item.name))),
                Ok(value) => values.push((code.clone(), value)),
            }
        }
        match outcome {
            Some(o) if o.changes_values() && values.is_empty() && problems.is_empty() => problems
                .push(ValidationError::new("values", "required", "已更正或部分更正的，须填写至少一个数据项的更正值")),
            Some(Outcome::Confirmed) if !input.values.is_empty() => problems.push(ValidationError::new(
                "values",
                "not_allowed",
                "经核实无误的不更正任何数据项；有更正的请选择「已更正」或「部分更正」",
            )),
            _ => {}
        }
        match (outcome, reasons) {
            (Some(outcome), Some(reasons)) if problems.is_empty() => Ok(CheckedAnswer { outcome, reasons, values }),
            _ => Err(problems),
        }
    }
}

/// Correction figures of one entry or department (supervision reads them, R-SUP-1).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CorrectionStats {
    /// Requests filed by requesters (a provider's own corrections apart).
    pub requests: u64,
    pub open: u64,
    pub answered: u64,
    /// Answered with the record corrected or partly corrected.
    pub corrected: u64,
    /// Answered after the period, or still open past it.
    pub late: u64,
    /// A provider's own corrections.
    pub proactive: u64,
    /// `corrected / answered`: the share of checked requests that found the data wrong (a data-quality proxy).
    pub correction_rate: Option<f64>,
    /// Mean working days from receipt to answer.
    pub mean_turnaround_days: Option<f64>,
}

/// The figures of `cases` at `now`.
pub fn stats<'a>(
    cases: impl IntoIterator<Item = &'a Correction>,
    calendar: &WorkingCalendar,
    now: DateTime<Utc>,
) -> CorrectionStats {
    let mut s = CorrectionStats::default();
    let mut turnaround = Vec::new();
    for c in cases {
        if c.is_proactive() {
            s.proactive += 1;
            continue;
        }
        s.requests += 1;
        let due = calendar.deadline(c.received_at, CORRECTION_DAYS).ok().map(|d| d.due_at);
        match &c.answer {
            None => {
                s.open += 1;
                if due.is_some_and(|d| now > d) {
                    s.late += 1;
                }
            }
            Some(a) => {
                s.answered += 1;
                if a.outcome.changes_values() {
                    s.corrected += 1;
                }
                if due.is_some_and(|d| a.at > d) {
                    s.late += 1;
                }
                turnaround.extend(c.turnaround_days(calendar));
            }
        }
    }
    if s.answered > 0 {
        s.correction_rate = Some(s.corrected as f64 / s.answered as f64);
        s.mean_turnaround_days = Some(turnaround.iter().sum::<i64>() as f64 / turnaround.len() as f64);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::DataType;

    fn items() -> Vec<DataItem> {
        let item = |code: &str, name: &str, data_type| DataItem {
            code: code.into(),
            name: name.into(),
            data_type,
            length: Some(50),
            grade: crate::catalog::Grade { class: "公民".into(), level: 2 },
            personal_info: None,
            format: None,
        };
        vec![
            item("sfzh", "身份证号", DataType::String),
            item("xm", "姓名", DataType::String),
            item("nl", "年龄", DataType::Integer),
        ]
    }

    #[test]
    fn a_request_names_every_problem() {
        let input = CorrectionInput {
            grant: "x".into(),
            key: " ".into(),
            claims: vec![Claim { item: "xm".into(), value: "".into() }, Claim { item: "xm".into(), value: "".into() }],
            evidence: "".into(),
            checked_against: "".into(),
        };
        let rules: Vec<(String, &str)> =
            CorrectionRequest::parse(&input).unwrap_err().into_iter().map(|p| (p.field.to_string(), p.rule)).collect();
        assert_eq!(
            rules,
            [("grant", "format"), ("key", "required"), ("claims[1].item", "duplicate"), ("evidence", "required")]
                .map(|(f, r)| (f.to_owned(), r))
        );
        let none = CorrectionInput { claims: vec![], ..input };
        assert!(
            CorrectionRequest::parse(&none).unwrap_err().iter().any(|p| p.field == "claims" && p.rule == "required")
        );
    }

    #[test]
    fn outcomes_decide_what_an_answer_must_hold() {
        let items = items();
        let current: serde_json::Map<String, Value> =
            serde_json::from_value(serde_json::json!({ "sfzh": "330102199001011234", "xm": "张三", "nl": 30 }))
                .unwrap();
        let answer = |outcome: &str, reasons: &str, values: &[(&str, &str)]| AnswerInput {
            outcome: outcome.into(),
            reasons: reasons.into(),
            values: values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        let rules = |a: &AnswerInput| -> Vec<(String, &'static str)> {
            CheckedAnswer::parse(a, &items, "sfzh", Some(&current))
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p.field.to_string(), p.rule))
                .collect()
        };
        // Corrected: at least one value that differs; the reasons may be left out.
        let ok =
            CheckedAnswer::parse(&answer("corrected", "", &[("nl", "31")]), &items, "sfzh", Some(&current)).unwrap();
        assert_eq!(ok.values, vec![("nl".to_owned(), Value::from(31))]);
        assert_eq!(rules(&answer("corrected", "", &[])), [("values".to_owned(), "required")]);
        assert_eq!(rules(&answer("corrected", "", &[("nl", "30")])), [("values.nl".to_owned(), "unchanged")]);
        assert_eq!(rules(&answer("corrected", "", &[("nl", "三十")]))[0].0, "values.nl", "typed like the item");
        assert_eq!(
            rules(&answer("corrected", "", &[("sfzh", "330102199001011235")])),
            [("values.sfzh".to_owned(), "key_item")]
        );
        assert_eq!(rules(&answer("corrected", "", &[("zz", "1")])), [("values.zz".to_owned(), "unknown_item")]);
        // Confirmed: reasons, and no values.
        assert!(
            CheckedAnswer::parse(&answer("confirmed", "与户籍登记一致", &[]), &items, "sfzh", Some(&current)).is_ok()
        );
        assert_eq!(rules(&answer("confirmed", "", &[])), [("reasons".to_owned(), "required")]);
        assert_eq!(rules(&answer("经核实无误", "一致", &[("nl", "31")])), [("values".to_owned(), "not_allowed")]);
        // Partly: values and reasons.
        assert_eq!(rules(&answer("partly", "", &[("nl", "31")])), [("reasons".to_owned(), "required")]);
        assert!(
            CheckedAnswer::parse(&answer("partly", "姓名无误", &[("nl", "31")]), &items, "sfzh", Some(&current))
                .is_ok()
        );
        assert_eq!(rules(&answer("fixed", "", &[])), [("outcome".to_owned(), "unknown_value")]);
        // A proxied source has no current record here: any new value counts as a change.
        assert!(CheckedAnswer::parse(&answer("corrected", "", &[("nl", "30")]), &items, "sfzh", None).is_ok());
    }

    #[test]
    fn stats_count_rate_lateness_and_turnaround_in_working_days() {
        let calendar = WorkingCalendar::official();
        let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let case = |received: &str, answered: Option<(&str, Outcome)>, proactive: bool| Correction {
            id: CorrectionId::new(),
            number: String::new(),
            entry: EntryId::new(),
            provider: OrgId::new(),
            region: RegionCode::parse("330000").unwrap(),
            requester: (!proactive).then(OrgId::new),
            grant: None,
            record_key: "k".into(),
            key_hint: String::new(),
            items: vec![],
            evidence: String::new(),
            checked_against: String::new(),
            attachment: None,
            sealed: String::new(),
            received_at: at(received),
            events: vec![],
            answer: answered.map(|(when, outcome)| CorrectionAnswer {
                outcome,
                reasons: String::new(),
                changed_items: vec![],
                applied_seq: None,
                at: at(when),
            }),
        };
        // Received Monday 2026-11-02: 10 working days end Monday 2026-11-16.
        let cases = [
            case("2026-11-02T02:00:00Z", Some(("2026-11-04T02:00:00Z", Outcome::Corrected)), false),
            case("2026-11-02T02:00:00Z", Some(("2026-11-16T09:00:00Z", Outcome::Confirmed)), false),
            case("2026-11-02T02:00:00Z", Some(("2026-11-17T02:00:00Z", Outcome::Partly)), false),
            case("2026-11-02T02:00:00Z", None, false),
            case("2026-11-02T02:00:00Z", Some(("2026-11-02T02:00:00Z", Outcome::Corrected)), true),
        ];
        let s = stats(&cases, &calendar, at("2026-11-20T02:00:00Z"));
        assert_eq!((s.requests, s.open, s.answered, s.corrected, s.proactive), (4, 1, 3, 2, 1));
        assert_eq!(s.late, 2, "the answer the day after the last day, and the one still open");
        assert_eq!(s.correction_rate, Some(2.0 / 3.0));
        assert_eq!(s.mean_turnaround_days, Some((2.0 + 10.0 + 11.0) / 3.0), "the last working day is on time");
    }
}
