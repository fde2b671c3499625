//! Enforcement (Art. 39–41, 29 ¶1): the order to rectify (责令改正) an authority issues on a violation, with its
//! deadline, the department's report of its rectification and the authority's verdict on it; and the circulated
//! notice (通报) an authority publishes to its region.
//!
//! An order is a timeline like a dispute's: [`OrderStep`]s in a fixed order ([`Order::check_step`]), its duties
//! derived from it alone ([`order_duties`]): the department's head rectifies by the deadline (a returned report
//! reopens the duty with the new deadline the return sets), the authority's supervisor verifies a report.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::calendar::{WorkingCalendar, beijing, end_of_day};
use crate::duty::{Duty, DutyKind, SubjectKind};
use crate::error::{keep, required_text, ymd};
use crate::id::define_id;
use crate::org::OrgId;
use crate::region::RegionCode;
use crate::role::Role;
use crate::supervision::{Party, Rule, parse_violation_key};

define_id! {
    /// Identity of an order to rectify.
    pub struct OrderId, field "order_id", message "责令改正标识格式错误"
}

define_id! {
    /// Identity of a circulated notice.
    pub struct NoticeId, field "notice_id", message "通报标识格式错误"
}

pub const MAX_ORDER_TEXT: usize = 2000;

/// Free text of several lines (a requirement, a report, a notice's body): present, at most `max` characters, no
/// character [`crate::error::check_characters`] refuses (line breaks and tabs are allowed).
fn paragraphs(field: &'static str, label: &str, value: &str, max: usize) -> Result<String, ValidationError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ValidationError::new(field, "required", format!("{label}不能为空")));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(ValidationError::new(field, "too_long", format!("{label}最多 {max} 个字符，当前 {chars} 个")));
    }
    crate::error::check_characters(field, value)?;
    Ok(value.to_owned())
}
/// The longest rectification period an order sets: one year.
pub const MAX_ORDER_DAYS: i64 = 366;

/// A step of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStep {
    /// The authority orders the rectification, with a deadline.
    Issue,
    /// The department reports how it rectified.
    Report,
    /// The authority finds the rectification done: the order is closed.
    Accept,
    /// The authority finds it not done: rectify again by a new deadline.
    Return,
}

impl OrderStep {
    pub fn code(self) -> &'static str {
        match self {
            OrderStep::Issue => "issue",
            OrderStep::Report => "report",
            OrderStep::Accept => "accept",
            OrderStep::Return => "return",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrderStep::Issue => "责令改正",
            OrderStep::Report => "报告整改情况",
            OrderStep::Accept => "整改到位，办结",
            OrderStep::Return => "整改不到位，退回重改",
        }
    }

    pub fn parse(input: &str) -> Result<OrderStep, ValidationError> {
        [OrderStep::Report, OrderStep::Accept, OrderStep::Return]
            .into_iter()
            .find(|s| s.code() == input.trim())
            .ok_or_else(|| {
                ValidationError::new(
                    "step",
                    "unknown_value",
                    "步骤应为 report（报告整改情况）、accept（办结）或 return（退回重改）",
                )
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub step: OrderStep,
    pub text: String,
    /// On `issue` and `return`: the last day (北京时间) to rectify by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<NaiveDate>,
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// The department is to rectify.
    Rectifying,
    /// The department reported; the authority is to verify.
    Reported,
    /// Rectified, verified.
    Closed,
}

impl OrderState {
    pub fn label(self) -> &'static str {
        match self {
            OrderState::Rectifying => "整改中",
            OrderState::Reported => "待核查",
            OrderState::Closed => "已办结",
        }
    }
}

/// An order to rectify (责令改正).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    /// `ZG-2026-000001`.
    pub number: String,
    /// The violation it is about ([`crate::supervision::violation_key`]).
    pub violation: String,
    pub rule: Rule,
    /// What the violation was about, for people (the entry's name).
    pub title: String,
    /// The department (or, for Art. 41, the authority) ordered to rectify.
    pub department: OrgId,
    /// The authority that issued it, and its region.
    pub authority: OrgId,
    pub region: RegionCode,
    /// What is required.
    pub requirement: String,
    pub issued_at: DateTime<Utc>,
    pub events: Vec<OrderEvent>,
}

impl Order {
    pub fn state(&self) -> OrderState {
        match self.events.last().map(|e| e.step) {
            Some(OrderStep::Accept) => OrderState::Closed,
            Some(OrderStep::Report) => OrderState::Reported,
            _ => OrderState::Rectifying,
        }
    }

    /// The deadline in force: the last one an `issue` or `return` set.
    pub fn deadline(&self) -> Option<NaiveDate> {
        self.events.iter().rev().find_map(|e| e.deadline)
    }

    /// Whether `step` may come now, or why not.
    pub fn check_step(&self, step: OrderStep) -> Result<(), (&'static str, &'static str)> {
        match (self.state(), step) {
            (OrderState::Closed, _) => Err(("order_closed", "该责令改正已办结")),
            (OrderState::Rectifying, OrderStep::Report)
            | (OrderState::Reported, OrderStep::Accept | OrderStep::Return) => Ok(()),
            (OrderState::Rectifying, _) => Err(("not_reported", "部门尚未报告整改情况")),
            (OrderState::Reported, _) => Err(("already_reported", "已报告整改情况，请等待主管部门核查")),
        }
    }

    /// Who must act now: the department (rectifying) or the authority (a report to verify).
    pub fn actor_party(&self) -> Option<OrgId> {
        match self.state() {
            OrderState::Rectifying => Some(self.department),
            OrderState::Reported => Some(self.authority),
            OrderState::Closed => None,
        }
    }
}

/// An order as entered by the authority.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderInput {
    /// The violation's key, as the violations list gives it.
    pub violation: String,
    pub requirement: String,
    /// YYYY-MM-DD.
    pub deadline: String,
}

/// The checked parts of an order; the caller checks that the violation exists and who may order it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedOrder {
    pub violation: String,
    pub rule: Rule,
    pub requirement: String,
    pub deadline: NaiveDate,
}

/// A deadline after `today` and at most [`MAX_ORDER_DAYS`] ahead.
pub fn parse_deadline(raw: &str, today: NaiveDate) -> Result<NaiveDate, ValidationError> {
    let d = ymd("deadline", "整改期限", raw)?;
    if d <= today {
        return Err(ValidationError::new("deadline", "range", "整改期限应晚于今天"));
    }
    if d > today + Duration::days(MAX_ORDER_DAYS) {
        return Err(ValidationError::new("deadline", "range", "整改期限最长一年"));
    }
    Ok(d)
}

impl OrderInput {
    pub fn parse(&self, today: NaiveDate) -> Result<ParsedOrder, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let violation = parse_violation_key(&self.violation)
            .map(|(r, _)| r)
            .ok_or_else(|| ValidationError::new("violation", "format", "请从违规线索列表选择要责令改正的违规事项"));
        let rule = keep(&mut problems, violation);
        let requirement = keep(&mut problems, paragraphs("requirement", "整改要求", &self.requirement, MAX_ORDER_TEXT));
        let deadline = keep(&mut problems, parse_deadline(&self.deadline, today));
        match (rule, requirement, deadline) {
            (Some(rule), Some(requirement), Some(deadline)) if problems.is_empty() => {
                Ok(ParsedOrder { violation: self.violation.trim().to_owned(), rule, requirement, deadline })
            }
            _ => Err(problems),
        }
    }
}

/// A step as entered: the report's or verdict's text, and for `return` the new deadline.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderStepInput {
    pub step: String,
    pub text: String,
    pub deadline: String,
}

impl OrderStepInput {
    pub fn parse(&self, today: NaiveDate) -> Result<(OrderStep, String, Option<NaiveDate>), Vec<ValidationError>> {
        let mut problems = Vec::new();
        let step = keep(&mut problems, OrderStep::parse(&self.step));
        let label = match step {
            Some(OrderStep::Report) => "整改情况",
            Some(OrderStep::Return) => "退回理由",
            _ => "核查意见",
        };
        let text = keep(&mut problems, paragraphs("text", label, &self.text, MAX_ORDER_TEXT));
        let deadline = match step {
            Some(OrderStep::Return) => keep(&mut problems, parse_deadline(&self.deadline, today)),
            _ if !self.deadline.trim().is_empty() => {
                problems.push(ValidationError::new("deadline", "not_allowed", "只有退回重改时才设定新的整改期限"));
                None
            }
            _ => None,
        };
        match (step, text) {
            (Some(step), Some(text)) if problems.is_empty() => Ok((step, text, deadline)),
            _ => Err(problems),
        }
    }
}

/// The duties of an order: after `issue` and each `return`, the department rectifies by the deadline set (its
/// head; an authority's reviewer for an Art. 41 order); after each `report`, the issuing authority's supervisor
/// verifies it (no statutory period).
pub fn order_duties(o: &Order, calendar: &WorkingCalendar) -> Vec<Duty> {
    let mut duties: Vec<Duty> = Vec::new();
    let mut open: Option<usize> = None;
    let rectifier = if o.rule.party() == Party::Authority { Role::AuthorityReviewer } else { Role::WorkUnitHead };
    let close = |duties: &mut Vec<Duty>, open: &mut Option<usize>, at: DateTime<Utc>| {
        if let Some(d) = open.take().and_then(|i| duties.get_mut(i)) {
            d.closed_at = Some(at);
            d.met = true;
        }
    };
    for (i, e) in o.events.iter().enumerate() {
        let at = crate::duty::stored_instant(e.at);
        let (kind, owner, role, counterpart, period) = match e.step {
            OrderStep::Issue | OrderStep::Return => {
                close(&mut duties, &mut open, at);
                let Some(deadline) = e.deadline else { continue };
                let start = e.at.with_timezone(&beijing()).date_naive();
                let days = calendar.working_days_between(start, deadline);
                (DutyKind::RectifyOrder, o.department, rectifier, o.authority, Some((days, end_of_day(deadline))))
            }
            OrderStep::Report => {
                close(&mut duties, &mut open, at);
                (DutyKind::VerifyRectification, o.authority, Role::AuthoritySupervisor, o.department, None)
            }
            OrderStep::Accept => {
                close(&mut duties, &mut open, at);
                continue;
            }
        };
        duties.push(Duty {
            key: format!("{}:{}:{}:{i}", SubjectKind::Order.code(), o.id, kind.code()),
            kind,
            subject_kind: SubjectKind::Order,
            subject_id: o.id.0,
            title: o.title.clone(),
            owner,
            role,
            counterpart: Some(counterpart),
            started_at: at,
            days: period.map(|p| p.0),
            due_at: period.map(|p| crate::duty::stored_instant(p.1)),
            closed_at: None,
            met: false,
        });
        open = Some(duties.len() - 1);
    }
    duties
}

/// A circulated notice (通报) to a region's departments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: NoticeId,
    /// `TB-2026-000001`.
    pub number: String,
    pub region: RegionCode,
    pub authority: OrgId,
    pub title: String,
    pub body: String,
    /// The orders it circulates (their departments are named in it).
    pub orders: Vec<OrderId>,
    pub departments: Vec<OrgId>,
    pub published_at: DateTime<Utc>,
    pub published_by: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NoticeInput {
    pub title: String,
    pub body: String,
    /// Order ids, separated by commas or new lines (or repeated form fields joined by the caller).
    pub orders: Vec<String>,
}

pub const MAX_NOTICE_BODY: usize = 10_000;

impl NoticeInput {
    pub fn parse(&self) -> Result<(String, String, Vec<OrderId>), Vec<ValidationError>> {
        let mut problems = Vec::new();
        let title = keep(&mut problems, required_text("title", "通报标题", &self.title, 100));
        let body = keep(&mut problems, paragraphs("body", "通报内容", &self.body, MAX_NOTICE_BODY));
        let mut orders = Vec::new();
        for (i, raw) in self
            .orders
            .iter()
            .flat_map(|o| o.split([',', '\n', '，']))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            match raw.parse::<OrderId>() {
                Ok(id) if !orders.contains(&id) => orders.push(id),
                Ok(_) => {}
                Err(_) => problems.push(ValidationError::new(format!("orders[{i}]"), "format", "责令改正标识格式错误")),
            }
        }
        if orders.len() > 100 {
            problems.push(ValidationError::new("orders", "too_many", "一份通报最多列100件责令改正"));
        }
        match (title, body) {
            (Some(t), Some(b)) if problems.is_empty() => Ok((t, b, orders)),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervision::violation_key;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn order(rule: Rule) -> Order {
        Order {
            id: OrderId(uuid::Uuid::from_u128(5)),
            number: "ZG-2026-000001".into(),
            violation: violation_key(rule, "application:x:reply:0"),
            rule,
            title: "户籍信息".into(),
            department: OrgId(uuid::Uuid::from_u128(1)),
            authority: OrgId(uuid::Uuid::from_u128(2)),
            region: RegionCode::parse("330100").unwrap(),
            requirement: "限期答复".into(),
            issued_at: at("2026-12-01T02:00:00Z"),
            events: vec![OrderEvent {
                at: at("2026-12-01T02:00:00Z"),
                actor: "user:a".into(),
                step: OrderStep::Issue,
                text: "限期答复".into(),
                deadline: NaiveDate::from_ymd_opt(2026, 12, 15),
            }],
        }
    }

    fn push(o: &mut Order, step: OrderStep, when: &str, deadline: Option<NaiveDate>) {
        o.check_step(step).unwrap();
        o.events.push(OrderEvent { at: at(when), actor: "user:b".into(), step, text: "t".into(), deadline });
    }

    #[test]
    fn an_order_is_a_duty_of_the_department_head_due_on_its_deadline() {
        let calendar = WorkingCalendar::official();
        let mut o = order(Rule::A39_4);
        let d = order_duties(&o, &calendar);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].kind, d[0].owner, d[0].role), (DutyKind::RectifyOrder, o.department, Role::WorkUnitHead));
        assert_eq!(d[0].due_at, Some(end_of_day(NaiveDate::from_ymd_opt(2026, 12, 15).unwrap())));
        assert_eq!(d[0].days, Some(10), "12-02..12-15 has ten working days");
        assert_eq!(o.check_step(OrderStep::Accept), Err(("not_reported", "部门尚未报告整改情况")));
        push(&mut o, OrderStep::Report, "2026-12-10T02:00:00Z", None);
        assert_eq!(o.check_step(OrderStep::Report).unwrap_err().0, "already_reported");
        let d = order_duties(&o, &calendar);
        assert!(d[0].met && d[0].closed_at == Some(at("2026-12-10T02:00:00Z")));
        assert_eq!((d[1].kind, d[1].owner, d[1].due_at), (DutyKind::VerifyRectification, o.authority, None));
        // Returned: a new rectification duty with the new deadline.
        push(&mut o, OrderStep::Return, "2026-12-11T02:00:00Z", NaiveDate::from_ymd_opt(2026, 12, 31));
        let d = order_duties(&o, &calendar);
        assert_eq!(d.len(), 3);
        assert!(d[1].closed_at.is_some() && d[2].closed_at.is_none());
        assert_eq!(o.deadline(), NaiveDate::from_ymd_opt(2026, 12, 31));
        push(&mut o, OrderStep::Report, "2026-12-20T02:00:00Z", None);
        push(&mut o, OrderStep::Accept, "2026-12-21T02:00:00Z", None);
        assert_eq!(o.state(), OrderState::Closed);
        assert!(order_duties(&o, &calendar).iter().all(|d| d.closed_at.is_some()));
        assert_eq!(o.check_step(OrderStep::Report).unwrap_err().0, "order_closed");
        // An Art. 41 order goes to the authority's reviewers.
        assert_eq!(order_duties(&order(Rule::A41_2), &calendar)[0].role, Role::AuthorityReviewer);
    }

    #[test]
    fn order_input_names_each_bad_field() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let bad = OrderInput { violation: "x".into(), requirement: " ".into(), deadline: "2026-12-03".into() };
        let errs = bad.parse(today).unwrap_err();
        let got: Vec<_> = errs.iter().map(|e| (e.field.as_ref(), e.rule)).collect();
        assert_eq!(got, [("violation", "format"), ("requirement", "required"), ("deadline", "range")]);
        let far = OrderInput { violation: "39-4@a".into(), requirement: "r".into(), deadline: "2028-01-01".into() };
        assert_eq!(far.parse(today).unwrap_err()[0].rule, "range");
        let ok = OrderInput { violation: "39-4@a".into(), requirement: "r".into(), deadline: "2026-12-20".into() };
        assert_eq!(ok.parse(today).unwrap().rule, Rule::A39_4);
        let step = OrderStepInput { step: "report".into(), text: "已答复".into(), deadline: "2026-12-20".into() };
        assert_eq!(step.parse(today).unwrap_err()[0].field, "deadline");
        let step = OrderStepInput { step: "return".into(), text: "未到位".into(), deadline: String::new() };
        assert_eq!(step.parse(today).unwrap_err()[0].rule, "date_format");
    }

    #[test]
    fn notice_input_checks_its_order_ids() {
        let n = NoticeInput { title: "通报".into(), body: "内容".into(), orders: vec!["nope".into()] };
        assert_eq!(n.parse().unwrap_err()[0].field, "orders[0]");
        let id = OrderId::new().to_string();
        let n = NoticeInput { title: "通报".into(), body: "内容".into(), orders: vec![format!("{id}, {id}")] };
        assert_eq!(n.parse().unwrap().2.len(), 1);
    }
}
