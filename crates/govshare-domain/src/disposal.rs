//! Disposal of shared data once a grant's use ends (Art. 27 ¶1: 共享目的已实现、无法实现或者为实现共享目的不再
//! 必要的，应当按照政务数据提供部门的要求妥善处置).
//!
//! A grant's use ends when it expires, is terminated, or the requester declares its purpose met, impossible or no
//! longer necessary (`declare_ended`, which terminates it). The provider may state its requirement at any time
//! (`require_disposal`: delete, return, archive under seal …). From the end, the requester owes a confirmation of
//! how, when and by whom the data was disposed of, with evidence (`confirm_disposal`, due within
//! [`DISPOSAL_DAYS`] working days); the provider then acknowledges it (`acknowledge_disposal`) or sends it back
//! (`return_disposal`, owed again). A confirmation still missing after its due date is an Art. 40 (4) candidate.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::error::{keep, required_text};
use crate::grant::{Grant, GrantEvent};

/// Working days after the end of use within which the requester confirms the disposal. The regulation sets no
/// period; this is the platform's, the same as a delivery's half (Art. 22 gives 20 for sharing).
pub const DISPOSAL_DAYS: u32 = 10;
pub const MAX_DISPOSAL_TEXT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisposalMethod {
    /// 删除销毁
    Delete,
    /// 退还提供部门
    Return,
    /// 封存归档
    SealArchive,
    /// 其他（在说明中写明）
    Other,
}

impl DisposalMethod {
    pub const ALL: [DisposalMethod; 4] =
        [DisposalMethod::Delete, DisposalMethod::Return, DisposalMethod::SealArchive, DisposalMethod::Other];

    pub fn code(self) -> &'static str {
        match self {
            DisposalMethod::Delete => "delete",
            DisposalMethod::Return => "return",
            DisposalMethod::SealArchive => "seal_archive",
            DisposalMethod::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DisposalMethod::Delete => "删除销毁",
            DisposalMethod::Return => "退还提供部门",
            DisposalMethod::SealArchive => "封存归档",
            DisposalMethod::Other => "其他方式",
        }
    }

    pub fn parse(field: &'static str, input: &str) -> Result<DisposalMethod, ValidationError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ValidationError::new(field, "required", "请选择处置方式"));
        }
        DisposalMethod::ALL.into_iter().find(|m| m.code() == input || m.label() == input).ok_or_else(|| {
            ValidationError::new(
                field,
                "unknown_value",
                format!("「{input}」不是有效的处置方式，可选：delete（删除销毁）、return（退还提供部门）、seal_archive（封存归档）、other（其他方式）"),
            )
        })
    }
}

/// Why the requester ends its use early (Art. 27 ¶1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBecause {
    /// 共享目的已实现
    PurposeMet,
    /// 共享目的无法实现
    PurposeImpossible,
    /// 为实现共享目的不再必要
    NoLongerNecessary,
}

impl EndedBecause {
    pub const ALL: [EndedBecause; 3] =
        [EndedBecause::PurposeMet, EndedBecause::PurposeImpossible, EndedBecause::NoLongerNecessary];

    pub fn code(self) -> &'static str {
        match self {
            EndedBecause::PurposeMet => "purpose_met",
            EndedBecause::PurposeImpossible => "purpose_impossible",
            EndedBecause::NoLongerNecessary => "no_longer_necessary",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EndedBecause::PurposeMet => "共享目的已实现",
            EndedBecause::PurposeImpossible => "共享目的无法实现",
            EndedBecause::NoLongerNecessary => "为实现共享目的不再必要",
        }
    }

    pub fn parse(field: &'static str, input: &str) -> Result<EndedBecause, ValidationError> {
        let input = input.trim();
        EndedBecause::ALL.into_iter().find(|m| m.code() == input || m.label() == input).ok_or_else(|| {
            ValidationError::new(
                field,
                if input.is_empty() { "required" } else { "unknown_value" },
                "请选择结束使用的情形：purpose_met（共享目的已实现）、purpose_impossible（无法实现）或 no_longer_necessary（不再必要）",
            )
        })
    }
}

/// The provider's requirement for the disposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisposalRequirement {
    pub method: DisposalMethod,
    /// What exactly (e.g. 删除业务库及备份中的全部数据，出具销毁记录).
    pub note: String,
}

impl DisposalRequirement {
    pub fn parse(method: &str, note: &str) -> Result<DisposalRequirement, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let method = keep(&mut problems, DisposalMethod::parse("disposal_method", method));
        let note = keep(&mut problems, required_text("disposal_note", "处置要求", note, MAX_DISPOSAL_TEXT));
        match (method, note) {
            (Some(method), Some(note)) if problems.is_empty() => Ok(DisposalRequirement { method, note }),
            _ => Err(problems),
        }
    }
}

/// The requester's confirmation of the disposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisposalConfirmation {
    pub method: DisposalMethod,
    pub done_on: NaiveDate,
    /// The person responsible (name and post).
    pub responsible: String,
    /// What proves it: the record's number, the witness, the receipt of return, the seal's number.
    pub evidence: String,
}

impl DisposalConfirmation {
    /// As entered; the method must be the provider's required one when it stated one, the date between the
    /// grant's start and `today`.
    pub fn parse(
        method: &str,
        done_on: &str,
        responsible: &str,
        evidence: &str,
        grant: &Grant,
        today: NaiveDate,
    ) -> Result<DisposalConfirmation, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let method = keep(&mut problems, DisposalMethod::parse("disposal_method", method));
        if let (Some(m), Some(required)) = (method, grant.disposal().requirement)
            && m != required.method
        {
            problems.push(ValidationError::new(
                "disposal_method",
                "not_required_method",
                format!("提供部门要求的处置方式为「{}」", required.method.label()),
            ));
        }
        let done_on = match done_on.trim() {
            "" => {
                problems.push(ValidationError::new("done_on", "required", "请填写处置日期"));
                None
            }
            raw => match crate::error::ymd("done_on", "处置日期", raw) {
                Err(e) => {
                    problems.push(e);
                    None
                }
                Ok(d) if d > today => {
                    problems.push(ValidationError::new(
                        "done_on",
                        "in_future",
                        "处置日期不能晚于今天：处置完成后再确认",
                    ));
                    None
                }
                Ok(d) if d < grant.valid_from => {
                    problems.push(ValidationError::new(
                        "done_on",
                        "before_grant",
                        format!("处置日期不能早于授权生效日期 {}", grant.valid_from),
                    ));
                    None
                }
                Ok(d) => Some(d),
            },
        };
        let responsible = keep(&mut problems, required_text("responsible", "处置责任人", responsible, 200));
        let evidence = keep(&mut problems, required_text("evidence", "处置证明", evidence, MAX_DISPOSAL_TEXT));
        match (method, done_on, responsible, evidence) {
            (Some(method), Some(done_on), Some(responsible), Some(evidence)) if problems.is_empty() => {
                Ok(DisposalConfirmation { method, done_on, responsible, evidence })
            }
            _ => Err(problems),
        }
    }
}

/// Where a grant's disposal stands, read off its events.
#[derive(Debug, Clone, Copy, Default)]
pub struct DisposalState<'a> {
    /// The provider's latest requirement.
    pub requirement: Option<&'a DisposalRequirement>,
    /// The confirmation in force (not sent back), with its event.
    pub confirmation: Option<(&'a GrantEvent, &'a DisposalConfirmation)>,
    /// The provider acknowledged the confirmation in force.
    pub acknowledged: bool,
    /// The requester's declaration that ended its use, if it did.
    pub ended_because: Option<EndedBecause>,
}

impl Grant {
    pub fn disposal(&self) -> DisposalState<'_> {
        let mut state = DisposalState::default();
        for e in &self.events {
            match e.action.as_str() {
                "require_disposal" => state.requirement = e.disposal_requirement.as_ref().or(state.requirement),
                "confirm_disposal" => {
                    state.confirmation = e.disposal_confirmation.as_ref().map(|c| (e, c));
                    state.acknowledged = false;
                }
                "return_disposal" => state.confirmation = None,
                "acknowledge_disposal" => state.acknowledged = state.confirmation.is_some(),
                "declare_ended" => state.ended_because = e.ended_because,
                _ => {}
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_name_every_problem() {
        assert!(DisposalRequirement::parse("delete", "删除业务库及备份中的全部数据").is_ok());
        let e = DisposalRequirement::parse("burn", " ").unwrap_err();
        let rules: Vec<(&str, &str)> = e.iter().map(|p| (p.field.as_ref(), p.rule)).collect();
        assert_eq!(rules, [("disposal_method", "unknown_value"), ("disposal_note", "required")]);
        assert_eq!(DisposalMethod::parse("m", "封存归档").unwrap(), DisposalMethod::SealArchive);
        assert_eq!(EndedBecause::parse("e", "purpose_met").unwrap(), EndedBecause::PurposeMet);
        assert_eq!(EndedBecause::parse("e", "").unwrap_err().rule, "required");
    }
}
