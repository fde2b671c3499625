//! Organisations: competent authorities and departments (R-ORG-2, R-ORG-3).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::credit_code::CreditCode;
use crate::error::required_text;
use crate::id::define_id;
use crate::region::RegionCode;

define_id! {
    /// Identity of an organisation.
    pub struct OrgId, field "org_id", message "组织标识格式错误"
}

/// 主管部门 or 政府部门. Each region has exactly one authority (enforced by the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Authority,
    Department,
}

impl OrgKind {
    pub fn code(self) -> &'static str {
        match self {
            OrgKind::Authority => "authority",
            OrgKind::Department => "department",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrgKind::Authority => "政务数据共享主管部门",
            OrgKind::Department => "政府部门",
        }
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input.trim() {
            "authority" => Ok(OrgKind::Authority),
            "department" => Ok(OrgKind::Department),
            other => Err(ValidationError::new(
                "kind",
                "unknown",
                format!("组织类型应为 authority（主管部门）或 department（政府部门），收到「{other}」"),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: OrgId,
    pub kind: OrgKind,
    pub region: RegionCode,
    pub name: String,
    pub credit_code: CreditCode,
    /// 政务数据共享工作机构 (Art. 11): the unit inside the department that does the sharing work.
    pub work_unit_name: String,
    pub created_at: DateTime<Utc>,
}

/// Input for a new organisation, unparsed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewOrganisationInput {
    pub kind: String,
    pub region_code: String,
    pub name: String,
    pub credit_code: String,
    pub work_unit_name: String,
}

impl Organisation {
    pub fn parse(input: &NewOrganisationInput, now: DateTime<Utc>) -> Result<Self, ValidationError> {
        let kind = OrgKind::parse(&input.kind)?;
        let region = RegionCode::parse(&input.region_code)?;
        let name = required_text("name", "单位名称", &input.name, 100)?;
        let credit_code = CreditCode::parse(&input.credit_code)?;
        let work_unit_name = required_text("work_unit_name", "工作机构名称", &input.work_unit_name, 100)?;
        Ok(Organisation { id: OrgId::new(), kind, region, name, credit_code, work_unit_name, created_at: now })
    }
}

pub fn parse_work_unit_name(input: &str) -> Result<String, ValidationError> {
    required_text("work_unit_name", "工作机构名称", input, 100)
}
