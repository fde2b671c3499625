//! Security incidents (Art. 35 ¶3, R-QC-4: 发生政务数据安全事件时，立即启动应急预案，采取相应的应急处置措施，
//! 防止危害扩大，消除安全隐患，并按照规定向有关主管部门报告).
//!
//! A department reports an incident — what happened, when it was found, how severe, which data and grants it
//! touches — with the emergency plan it started. The report suspends every affected grant in the same step and
//! tells the department's same-level authority at once. The report then follows its steps: the initial report,
//! progress reports, the closure. When the incident happened on the requester's side, the requesters of the
//! affected grants are recorded as bearing the security responsibility (Art. 34 ¶2).

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::calendar::beijing;
use crate::catalog::EntryId;
use crate::error::{keep, required_text};
use crate::grant::GrantId;
use crate::id::define_id;
use crate::org::OrgId;
use crate::region::RegionCode;

define_id! {
    /// Identity of a security incident report.
    pub struct IncidentId, field "incident_id", message "安全事件标识格式错误"
}

pub const MAX_INCIDENT_TEXT: usize = 2000;
/// The most data entries or grants one report names.
pub const MAX_AFFECTED: usize = 200;

/// Severity by the national network-security incident classes (特别重大、重大、较大、一般).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    ExtremelySevere,
    Severe,
    Significant,
    General,
}

impl Severity {
    pub const ALL: [Severity; 4] =
        [Severity::ExtremelySevere, Severity::Severe, Severity::Significant, Severity::General];

    pub fn code(self) -> &'static str {
        match self {
            Severity::ExtremelySevere => "extremely_severe",
            Severity::Severe => "severe",
            Severity::Significant => "significant",
            Severity::General => "general",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::ExtremelySevere => "特别重大",
            Severity::Severe => "重大",
            Severity::Significant => "较大",
            Severity::General => "一般",
        }
    }

    pub fn parse(input: &str) -> Result<Severity, ValidationError> {
        let input = input.trim();
        Severity::ALL.into_iter().find(|s| s.code() == input || s.label() == input).ok_or_else(|| {
            ValidationError::new(
                "severity",
                if input.is_empty() { "required" } else { "unknown_value" },
                "请选择事件级别：extremely_severe（特别重大）、severe（重大）、significant（较大）或 general（一般）",
            )
        })
    }
}

/// One step of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `report` (the initial report), `progress` or `close`.
    pub step: String,
    pub text: String,
}

impl IncidentEvent {
    pub fn label(&self) -> &'static str {
        match self.step.as_str() {
            "report" => "初始报告",
            "progress" => "进展报告",
            "close" => "处置完毕，结案",
            _ => "其他",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    /// `SJ-2026-000001` (事件编号), given by the store on insert.
    #[serde(default)]
    pub number: String,
    /// The reporting department, and its region (its same-level authority is told and sees the report).
    pub org: OrgId,
    pub region: RegionCode,
    pub title: String,
    pub description: String,
    pub found_at: DateTime<Utc>,
    pub severity: Severity,
    pub entries: Vec<EntryId>,
    pub grants: Vec<GrantId>,
    /// It happened on the requester's side, in the use of shared data (Art. 34 ¶2).
    pub on_requester_side: bool,
    /// The requesters bearing the security responsibility (the affected grants' requesters, when on their side).
    pub responsible: Vec<OrgId>,
    /// The emergency plan started and the measures taken.
    pub emergency_plan: String,
    pub created_at: DateTime<Utc>,
    pub events: Vec<IncidentEvent>,
}

impl Incident {
    pub fn is_closed(&self) -> bool {
        self.events.iter().any(|e| e.step == "close")
    }
}

/// A report as entered.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IncidentInput {
    pub title: String,
    pub description: String,
    /// When it was found, 北京时间: `YYYY-MM-DDTHH:MM` (a browser's datetime-local) or `YYYY-MM-DD HH:MM`.
    pub found_at: String,
    pub severity: String,
    pub entries: Vec<String>,
    pub grants: Vec<String>,
    pub on_requester_side: bool,
    pub emergency_plan: String,
}

/// The checked parts of a report; the service checks the entries and grants against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentReport {
    pub title: String,
    pub description: String,
    pub found_at: DateTime<Utc>,
    pub severity: Severity,
    pub entries: Vec<EntryId>,
    pub grants: Vec<GrantId>,
    pub on_requester_side: bool,
    pub emergency_plan: String,
}

fn parse_local(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        .and_then(|n| beijing().from_local_datetime(&n).single())
        .map(|d| d.with_timezone(&Utc))
}

fn ids<T: std::str::FromStr<Err = ValidationError>>(
    field: &'static str,
    raw: &[String],
    problems: &mut Vec<ValidationError>,
) -> Vec<T> {
    let mut seen = std::collections::BTreeSet::new();
    let raw: Vec<&str> = raw.iter().map(|s| s.trim()).filter(|s| !s.is_empty() && seen.insert(*s)).collect();
    if raw.len() > MAX_AFFECTED {
        problems.push(ValidationError::new(field, "too_many", format!("一次最多报告 {MAX_AFFECTED} 项")));
    }
    raw.iter()
        .take(MAX_AFFECTED)
        .filter_map(|s| keep(problems, s.parse::<T>().map_err(|e| e.for_field(field))))
        .collect()
}

impl IncidentReport {
    /// Every problem at once; `now` bounds the time found.
    pub fn parse(input: &IncidentInput, now: DateTime<Utc>) -> Result<IncidentReport, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let title = keep(&mut problems, required_text("title", "事件名称", &input.title, 200));
        let description =
            keep(&mut problems, required_text("description", "事件经过", &input.description, MAX_INCIDENT_TEXT));
        let found_at = match input.found_at.trim() {
            "" => {
                problems.push(ValidationError::new("found_at", "required", "请填写发现时间"));
                None
            }
            raw => match parse_local(raw) {
                None => {
                    problems.push(ValidationError::new(
                        "found_at",
                        "datetime_format",
                        "发现时间格式应为 YYYY-MM-DD HH:MM（北京时间）",
                    ));
                    None
                }
                Some(at) if at > now + chrono::Duration::minutes(5) => {
                    problems.push(ValidationError::new("found_at", "in_future", "发现时间不能晚于现在"));
                    None
                }
                Some(at) => Some(at),
            },
        };
        let severity = keep(&mut problems, Severity::parse(&input.severity));
        let entries: Vec<EntryId> = ids("entries", &input.entries, &mut problems);
        let grants: Vec<GrantId> = ids("grants", &input.grants, &mut problems);
        if input.entries.iter().chain(&input.grants).all(|s| s.trim().is_empty()) {
            problems.push(ValidationError::new("entries", "required", "请选择受影响的数据目录或共享授权"));
        }
        let emergency_plan = keep(
            &mut problems,
            required_text("emergency_plan", "应急预案启动及处置措施", &input.emergency_plan, MAX_INCIDENT_TEXT),
        );
        match (title, description, found_at, severity, emergency_plan) {
            (Some(title), Some(description), Some(found_at), Some(severity), Some(emergency_plan))
                if problems.is_empty() =>
            {
                Ok(IncidentReport {
                    title,
                    description,
                    found_at,
                    severity,
                    entries,
                    grants,
                    on_requester_side: input.on_requester_side,
                    emergency_plan,
                })
            }
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_every_problem() {
        let now = Utc::now();
        let input = IncidentInput {
            title: "".into(),
            description: "x".into(),
            found_at: "2099-01-01 08:00".into(),
            severity: "catastrophic".into(),
            entries: vec!["not-an-id".into()],
            grants: vec![],
            on_requester_side: false,
            emergency_plan: " ".into(),
        };
        let rules: Vec<(String, &str)> = IncidentReport::parse(&input, now)
            .unwrap_err()
            .into_iter()
            .map(|p| (p.field.to_string(), p.rule))
            .collect();
        let expected: Vec<(String, &str)> = [
            ("title", "required"),
            ("found_at", "in_future"),
            ("severity", "unknown_value"),
            ("entries", "format"),
            ("emergency_plan", "required"),
        ]
        .iter()
        .map(|(f, r)| (f.to_string(), *r))
        .collect();
        assert_eq!(rules, expected);
        let ok = IncidentInput {
            title: "接口凭证泄露".into(),
            description: "发现凭证被第三方使用".into(),
            found_at: "2026-12-01T09:30".into(),
            severity: "较大".into(),
            entries: vec![],
            grants: vec![GrantId::new().to_string()],
            on_requester_side: true,
            emergency_plan: "启动《数据安全事件应急预案》三级响应，吊销凭证".into(),
        };
        let r = IncidentReport::parse(&ok, now).unwrap();
        assert_eq!(r.severity, Severity::Significant);
        assert_eq!(r.found_at, "2026-12-01T01:30:00Z".parse::<DateTime<Utc>>().unwrap(), "北京时间");
    }
}
