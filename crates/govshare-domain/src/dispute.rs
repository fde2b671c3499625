//! Sharing disputes (Art. 28, R-QC-2: 同级政务数据需求部门、政务数据提供部门发生政务数据共享争议的，应当协商解决；协商
//! 不成的，应当按照程序向同级政务数据共享主管部门申请协调处理。跨层级、跨地域的政务数据共享发生争议的，由共同的上级政务
//! 数据共享主管部门协调处理。经政务数据共享主管部门协调处理仍未达成一致意见的，报政务数据共享主管部门的本级人民政府决定).
//!
//! The ladder, one rung at a time: the two departments negotiate (each meeting recorded with the positions and
//! its outcome) → when negotiation fails, the authority of the lowest region both lie in coordinates (the
//! same-level authority when they share a region, the common superior authority across levels or regions;
//! [`RegionCode::common_superior`]) within a set number of working days → when coordination fails, that
//! authority records the decision of its people's government. No rung is skipped: negotiation fails only after a
//! meeting is recorded, coordination only after the authority recorded its work, and a decision comes only after
//! coordination failed. [`Dispute::check_step`] is the rule.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::application::ApplicationId;
use crate::correction::CorrectionId;
use crate::error::{keep, required_text, ymd};
use crate::grant::GrantId;
use crate::id::define_id;
use crate::org::OrgId;
use crate::region::RegionCode;

define_id! {
    /// Identity of a sharing dispute.
    pub struct DisputeId, field "dispute_id", message "争议标识格式错误"
}

pub const MAX_DISPUTE_TEXT: usize = 2000;
/// The default period of the authority's coordination, in working days (configurable: `[sharing]
/// dispute_coordination_days`).
pub const COORDINATION_DAYS: u32 = 10;

/// What the dispute is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matter {
    Refusal,
    Condition,
    Delivery,
    Correction,
    Other,
}

impl Matter {
    pub const ALL: [Matter; 5] =
        [Matter::Refusal, Matter::Condition, Matter::Delivery, Matter::Correction, Matter::Other];

    pub fn code(self) -> &'static str {
        match self {
            Matter::Refusal => "refusal",
            Matter::Condition => "condition",
            Matter::Delivery => "delivery",
            Matter::Correction => "correction",
            Matter::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Matter::Refusal => "不予共享",
            Matter::Condition => "共享条件",
            Matter::Delivery => "数据交付",
            Matter::Correction => "数据校核",
            Matter::Other => "其他共享事项",
        }
    }

    pub fn parse(input: &str) -> Result<Matter, ValidationError> {
        let input = input.trim();
        Matter::ALL.into_iter().find(|m| m.code() == input || m.label() == input).ok_or_else(|| {
            ValidationError::new(
                "matter",
                if input.is_empty() { "required" } else { "unknown_value" },
                "请选择争议事项：refusal（不予共享）、condition（共享条件）、delivery（数据交付）、correction（数据校核）或 other（其他）",
            )
        })
    }
}

/// The rung the dispute stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Negotiation,
    Coordination,
    /// Before the people's government.
    Decision,
    /// Settled by agreement (in negotiation or coordination).
    Resolved,
    /// Decided by the people's government.
    Decided,
}

impl Stage {
    pub fn code(self) -> &'static str {
        match self {
            Stage::Negotiation => "negotiation",
            Stage::Coordination => "coordination",
            Stage::Decision => "decision",
            Stage::Resolved => "resolved",
            Stage::Decided => "decided",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::Negotiation => "部门协商",
            Stage::Coordination => "主管部门协调",
            Stage::Decision => "报请本级人民政府决定",
            Stage::Resolved => "已达成一致",
            Stage::Decided => "人民政府已决定",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Stage::Resolved | Stage::Decided)
    }
}

/// A step on the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A negotiation meeting of the two departments: when and how, the positions, the outcome.
    Negotiate,
    /// Agreement: the dispute is settled (in negotiation, or in coordination).
    Agree,
    /// Negotiation failed: a party asks the authority to coordinate.
    Escalate,
    /// The authority's coordination work: a meeting, an opinion.
    Coordinate,
    /// Coordination failed: the authority reports to its people's government.
    Refer,
    /// The people's government's decision, recorded by the authority: document and date.
    Decide,
}

impl StepKind {
    pub const ALL: [StepKind; 6] = [
        StepKind::Negotiate,
        StepKind::Agree,
        StepKind::Escalate,
        StepKind::Coordinate,
        StepKind::Refer,
        StepKind::Decide,
    ];

    pub fn code(self) -> &'static str {
        match self {
            StepKind::Negotiate => "negotiate",
            StepKind::Agree => "agree",
            StepKind::Escalate => "escalate",
            StepKind::Coordinate => "coordinate",
            StepKind::Refer => "refer",
            StepKind::Decide => "decide",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StepKind::Negotiate => "协商记录",
            StepKind::Agree => "达成一致",
            StepKind::Escalate => "协商不成，申请协调",
            StepKind::Coordinate => "协调处理记录",
            StepKind::Refer => "协调不成，报请本级人民政府决定",
            StepKind::Decide => "人民政府决定",
        }
    }

    pub fn parse(input: &str) -> Result<StepKind, ValidationError> {
        let input = input.trim();
        StepKind::ALL.into_iter().find(|k| k.code() == input).ok_or_else(|| {
            ValidationError::new(
                "step",
                if input.is_empty() { "required" } else { "unknown_value" },
                "可选步骤：negotiate、agree、escalate、coordinate、refer、decide",
            )
        })
    }

    /// Taken by the parties (negotiation) rather than by the coordinating authority.
    pub fn by_parties(self, stage: Stage) -> bool {
        match self {
            StepKind::Negotiate | StepKind::Escalate => true,
            StepKind::Agree => stage == Stage::Negotiation,
            StepKind::Coordinate | StepKind::Refer | StepKind::Decide => false,
        }
    }
}

/// One recorded step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeStep {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub org: OrgId,
    pub kind: StepKind,
    /// The stage it was taken in.
    pub stage: Stage,
    /// When and how they met (a meeting, a call, an exchange of letters).
    #[serde(default)]
    pub meeting: String,
    #[serde(default)]
    pub positions: String,
    pub outcome: String,
    /// A decision's document (文号) and date.
    #[serde(default)]
    pub document: String,
    #[serde(default)]
    pub decided_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    pub id: DisputeId,
    /// `ZY-2026-000001` (争议编号), given by the store on insert.
    #[serde(default)]
    pub number: String,
    /// The party that opened it, and the other one, with their regions.
    pub opener: OrgId,
    pub opener_region: RegionCode,
    pub counterpart: OrgId,
    pub counterpart_region: RegionCode,
    pub matter: Matter,
    pub application: Option<ApplicationId>,
    pub grant: Option<GrantId>,
    pub correction: Option<CorrectionId>,
    pub title: String,
    pub description: String,
    /// The region whose authority coordinates ([`RegionCode::common_superior`] of the parties' regions).
    pub coordinator_region: Option<RegionCode>,
    /// The coordinating authority, set when negotiation failed.
    pub coordinator: Option<OrgId>,
    /// The coordination's period in working days, fixed when it starts.
    pub coordination_days: Option<u32>,
    pub stage: Stage,
    pub created_at: DateTime<Utc>,
    pub steps: Vec<DisputeStep>,
}

/// A step as entered.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StepInput {
    pub step: String,
    pub meeting: String,
    pub positions: String,
    pub outcome: String,
    pub document: String,
    pub decided_on: String,
}

/// Why a step is refused where the dispute stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfOrder {
    pub code: &'static str,
    pub message: String,
}

impl Dispute {
    pub fn is_cross(&self) -> bool {
        self.opener_region != self.counterpart_region
    }

    pub fn parties(&self) -> [OrgId; 2] {
        [self.opener, self.counterpart]
    }

    fn done(&self, kind: StepKind, stage: Stage) -> bool {
        self.steps.iter().any(|s| s.kind == kind && s.stage == stage)
    }

    /// Whether `kind` may be taken now, and if so the stage it leads to.
    pub fn check_step(&self, kind: StepKind) -> Result<Stage, OutOfOrder> {
        let refuse = |code, message: &str| Err(OutOfOrder { code, message: message.to_owned() });
        match (self.stage, kind) {
            (s, _) if s.is_final() => refuse("dispute_closed", "该争议已处理完毕"),
            (Stage::Negotiation, StepKind::Negotiate) => Ok(Stage::Negotiation),
            (Stage::Negotiation, StepKind::Agree | StepKind::Escalate)
                if !self.done(StepKind::Negotiate, Stage::Negotiation) =>
            {
                refuse("negotiation_required", "争议应当先由双方部门协商解决（第二十八条）：请先记录协商情况")
            }
            (Stage::Negotiation, StepKind::Agree) => Ok(Stage::Resolved),
            (Stage::Negotiation, StepKind::Escalate) => Ok(Stage::Coordination),
            (Stage::Coordination, StepKind::Coordinate) => Ok(Stage::Coordination),
            (Stage::Coordination, StepKind::Agree | StepKind::Refer)
                if !self.done(StepKind::Coordinate, Stage::Coordination) =>
            {
                refuse("coordination_required", "主管部门应当先行协调处理：请先记录协调处理情况")
            }
            (Stage::Coordination, StepKind::Agree) => Ok(Stage::Resolved),
            (Stage::Coordination, StepKind::Refer) => Ok(Stage::Decision),
            (Stage::Decision, StepKind::Decide) => Ok(Stage::Decided),
            (Stage::Negotiation, _) => {
                refuse("negotiation_required", "争议处于部门协商阶段：协商不成的，先申请主管部门协调，不能越级")
            }
            (Stage::Coordination, _) => refuse("coordination_stage", "争议处于主管部门协调阶段，协商已结束"),
            (_, _) => refuse("decision_stage", "争议已报请本级人民政府决定，只能记录决定结果"),
        }
    }

    /// Checks the step's fields for its kind; the step as it will be recorded (without actor, time and stage).
    pub fn parse_step(input: &StepInput) -> Result<(StepKind, StepFields), Vec<ValidationError>> {
        let mut problems = Vec::new();
        let kind = keep(&mut problems, StepKind::parse(&input.step));
        let text = |field: &'static str,
                    label: &str,
                    raw: &str,
                    required: bool,
                    problems: &mut Vec<ValidationError>| {
            match raw.trim() {
                "" if !required => String::new(),
                raw => keep(problems, required_text(field, label, raw, MAX_DISPUTE_TEXT)).unwrap_or_default(),
            }
        };
        let meeting_needed = matches!(kind, Some(StepKind::Negotiate | StepKind::Coordinate));
        let meeting = text("meeting", "协商（协调）时间和方式", &input.meeting, meeting_needed, &mut problems);
        let positions = text("positions", "各方意见", &input.positions, meeting_needed, &mut problems);
        let outcome = text("outcome", "结果", &input.outcome, true, &mut problems);
        let (document, decided_on) = if kind == Some(StepKind::Decide) {
            let document = text("document", "决定文书及文号", &input.document, true, &mut problems);
            let decided_on = match input.decided_on.trim() {
                "" => {
                    problems.push(ValidationError::new("decided_on", "required", "请填写决定日期"));
                    None
                }
                raw => keep(&mut problems, ymd("decided_on", "决定日期", raw)),
            };
            (document, decided_on)
        } else {
            (String::new(), None)
        };
        match kind {
            Some(kind) if problems.is_empty() => {
                Ok((kind, StepFields { meeting, positions, outcome, document, decided_on }))
            }
            _ => Err(problems),
        }
    }
}

/// A step's checked fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepFields {
    pub meeting: String,
    pub positions: String,
    pub outcome: String,
    pub document: String,
    pub decided_on: Option<NaiveDate>,
}

/// A dispute as entered.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DisputeInput {
    pub counterpart: String,
    pub matter: String,
    pub application: String,
    pub grant: String,
    pub correction: String,
    pub title: String,
    pub description: String,
}

/// The checked parts of a new dispute; the service checks the links against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDispute {
    pub counterpart: OrgId,
    pub matter: Matter,
    pub application: Option<ApplicationId>,
    pub grant: Option<GrantId>,
    pub correction: Option<CorrectionId>,
    pub title: String,
    pub description: String,
}

fn optional_id<T: std::str::FromStr<Err = ValidationError>>(
    field: &'static str,
    raw: &str,
    problems: &mut Vec<ValidationError>,
) -> Option<T> {
    match raw.trim() {
        "" => None,
        raw => keep(problems, raw.parse::<T>().map_err(|e| e.for_field(field))),
    }
}

impl NewDispute {
    pub fn parse(input: &DisputeInput) -> Result<NewDispute, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let counterpart = match input.counterpart.trim() {
            "" => {
                problems.push(ValidationError::new("counterpart", "required", "请选择争议的另一方部门"));
                None
            }
            raw => keep(&mut problems, raw.parse::<OrgId>().map_err(|e| e.for_field("counterpart"))),
        };
        let matter = keep(&mut problems, Matter::parse(&input.matter));
        let application = optional_id("application", &input.application, &mut problems);
        let grant = optional_id("grant", &input.grant, &mut problems);
        let correction = optional_id("correction", &input.correction, &mut problems);
        if matter.is_some_and(|m| m != Matter::Other)
            && [&input.application, &input.grant, &input.correction].iter().all(|s| s.trim().is_empty())
        {
            problems.push(ValidationError::new(
                "application",
                "required",
                "请关联争议涉及的共享申请、共享授权或校核申请（其他事项可不关联）",
            ));
        }
        let title = keep(&mut problems, required_text("title", "争议事由", &input.title, 200));
        let description =
            keep(&mut problems, required_text("description", "争议情况", &input.description, MAX_DISPUTE_TEXT));
        match (counterpart, matter, title, description) {
            (Some(counterpart), Some(matter), Some(title), Some(description)) if problems.is_empty() => {
                Ok(NewDispute { counterpart, matter, application, grant, correction, title, description })
            }
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dispute(a: &str, b: &str) -> Dispute {
        let (ra, rb) = (RegionCode::parse(a).unwrap(), RegionCode::parse(b).unwrap());
        Dispute {
            id: DisputeId::new(),
            number: String::new(),
            opener: OrgId::new(),
            opener_region: ra,
            counterpart: OrgId::new(),
            counterpart_region: rb,
            matter: Matter::Refusal,
            application: None,
            grant: None,
            correction: None,
            title: "t".into(),
            description: "d".into(),
            coordinator_region: ra.common_superior(rb),
            coordinator: None,
            coordination_days: None,
            stage: Stage::Negotiation,
            created_at: Utc::now(),
            steps: vec![],
        }
    }

    fn take(d: &mut Dispute, kind: StepKind) -> Result<(), &'static str> {
        let next = d.check_step(kind).map_err(|e| e.code)?;
        d.steps.push(DisputeStep {
            at: Utc::now(),
            actor: "x".into(),
            org: d.opener,
            kind,
            stage: d.stage,
            meeting: String::new(),
            positions: String::new(),
            outcome: "o".into(),
            document: String::new(),
            decided_on: None,
        });
        d.stage = next;
        Ok(())
    }

    #[test]
    fn the_ladder_in_order_and_no_rung_skipped() {
        let mut d = dispute("330100", "330200");
        assert_eq!(d.coordinator_region, RegionCode::parse("330000").ok(), "two cities: the province");
        assert_eq!(take(&mut d, StepKind::Escalate), Err("negotiation_required"), "no coordination before talks");
        assert_eq!(take(&mut d, StepKind::Coordinate), Err("negotiation_required"));
        assert_eq!(take(&mut d, StepKind::Decide), Err("negotiation_required"));
        take(&mut d, StepKind::Negotiate).unwrap();
        take(&mut d, StepKind::Escalate).unwrap();
        assert_eq!(d.stage, Stage::Coordination);
        assert_eq!(take(&mut d, StepKind::Negotiate), Err("coordination_stage"));
        assert_eq!(take(&mut d, StepKind::Refer), Err("coordination_required"));
        assert_eq!(take(&mut d, StepKind::Decide), Err("coordination_stage"));
        take(&mut d, StepKind::Coordinate).unwrap();
        take(&mut d, StepKind::Refer).unwrap();
        assert_eq!(take(&mut d, StepKind::Agree), Err("decision_stage"));
        take(&mut d, StepKind::Decide).unwrap();
        assert_eq!(d.stage, Stage::Decided);
        assert_eq!(take(&mut d, StepKind::Negotiate), Err("dispute_closed"));
        assert_eq!(
            dispute("330106", "330100").coordinator_region,
            RegionCode::parse("330100").ok(),
            "county and its city"
        );
        assert_eq!(dispute("330106", "330203").coordinator_region, RegionCode::parse("330000").ok());
        assert_eq!(dispute("330100", "330100").coordinator_region, RegionCode::parse("330100").ok(), "same level");
        assert_eq!(dispute("330100", "320100").coordinator_region, None, "across provinces: national");
    }

    #[test]
    fn a_step_names_what_its_kind_needs() {
        let rules = |input: StepInput| -> Vec<(String, &'static str)> {
            Dispute::parse_step(&input)
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p.field.to_string(), p.rule))
                .collect()
        };
        assert_eq!(
            rules(StepInput { step: "negotiate".into(), ..StepInput::default() }),
            [("meeting", "required"), ("positions", "required"), ("outcome", "required")]
                .map(|(f, r)| (f.to_owned(), r))
        );
        assert_eq!(
            rules(StepInput {
                step: "decide".into(),
                outcome: "x".into(),
                decided_on: "2026/1/1".into(),
                ..StepInput::default()
            }),
            [("document", "required"), ("decided_on", "date_format")].map(|(f, r)| (f.to_owned(), r))
        );
        assert_eq!(
            rules(StepInput { step: "skip".into(), outcome: "x".into(), ..StepInput::default() }),
            [("step".to_owned(), "unknown_value")]
        );
        assert!(
            rules(StepInput { step: "escalate".into(), outcome: "未达成一致".into(), ..StepInput::default() })
                .is_empty()
        );
    }

    proptest! {
        /// Whatever steps are tried in whatever order, the ones taken climb the ladder rung by rung: every stage
        /// reached was reached from the one below it, after that stage's own work was recorded.
        #[test]
        fn no_step_is_ever_skipped(tries in prop::collection::vec(prop::sample::select(StepKind::ALL.to_vec()), 0..40)) {
            let mut d = dispute("330100", "330200");
            for kind in tries {
                let before = d.stage;
                if take(&mut d, kind).is_ok() {
                    let after = d.stage;
                    let ok = match (before, after) {
                        (a, b) if a == b => true,
                        (Stage::Negotiation, Stage::Coordination | Stage::Resolved) => d.done(StepKind::Negotiate, Stage::Negotiation),
                        (Stage::Coordination, Stage::Decision | Stage::Resolved) => d.done(StepKind::Coordinate, Stage::Coordination),
                        (Stage::Decision, Stage::Decided) => d.done(StepKind::Refer, Stage::Coordination),
                        _ => false,
                    };
                    prop_assert!(ok, "{:?} → {:?} by {:?}", before, after, kind);
                }
            }
            if d.stage == Stage::Decided {
                let order: Vec<StepKind> = d.steps.iter().map(|s| s.kind).filter(|k| *k != StepKind::Negotiate && *k != StepKind::Coordinate).collect();
                prop_assert_eq!(order, vec![StepKind::Escalate, StepKind::Refer, StepKind::Decide]);
            }
        }
    }
}
