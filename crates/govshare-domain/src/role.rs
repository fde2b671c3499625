//! Roles (REQUIREMENTS §1). A person holds roles in an organisation through memberships.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::org::OrgKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 平台管理员: runs the node, manages organisations and accounts.
    PlatformAdmin,
    /// 主管部门审核人: reviews catalogs, approves extensions, handles disputes.
    AuthorityReviewer,
    /// 主管部门监管人: inspects usage records, timeliness and violations.
    AuthoritySupervisor,
    /// 经办人: a department's data-sharing staff.
    Clerk,
    /// 工作机构负责人: approves what clerks prepare before it leaves the department.
    WorkUnitHead,
    /// 应用系统: a business system; held by API credentials, never by a person.
    SystemClient,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::PlatformAdmin,
        Role::AuthorityReviewer,
        Role::AuthoritySupervisor,
        Role::Clerk,
        Role::WorkUnitHead,
        Role::SystemClient,
    ];

    /// Roles a person can be given through a membership.
    pub const ASSIGNABLE: [Role; 5] =
        [Role::PlatformAdmin, Role::AuthorityReviewer, Role::AuthoritySupervisor, Role::Clerk, Role::WorkUnitHead];

    pub fn code(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::AuthorityReviewer => "authority_reviewer",
            Role::AuthoritySupervisor => "authority_supervisor",
            Role::Clerk => "clerk",
            Role::WorkUnitHead => "work_unit_head",
            Role::SystemClient => "system_client",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "平台管理员",
            Role::AuthorityReviewer => "主管部门审核人",
            Role::AuthoritySupervisor => "主管部门监管人",
            Role::Clerk => "经办人",
            Role::WorkUnitHead => "工作机构负责人",
            Role::SystemClient => "应用系统",
        }
    }

    pub fn parse(input: &str) -> Result<Role, ValidationError> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == input.trim())
            .ok_or_else(|| ValidationError::new("role", "unknown", format!("未知角色「{}」", input.trim())))
    }

    /// Whether a person with the given contractor flag may hold this role in an organisation of this kind.
    ///
    /// Authority roles exist only in the competent authority; the platform is run from the authority too.
    /// Contractors (受托方, Art. 36) act only as clerks: they never approve, review, supervise or administer.
    pub fn check_assignable(self, kind: OrgKind, contractor: bool) -> Result<(), ValidationError> {
        let field = "role";
        if self == Role::SystemClient {
            return Err(ValidationError::new(
                field,
                "not_for_people",
                "「应用系统」角色只属于 API 凭证，不能授予个人账号",
            ));
        }
        let authority_only = matches!(self, Role::PlatformAdmin | Role::AuthorityReviewer | Role::AuthoritySupervisor);
        if authority_only && kind != OrgKind::Authority {
            return Err(ValidationError::new(
                field,
                "authority_only",
                format!("「{}」角色只能在主管部门中授予", self.label()),
            ));
        }
        if contractor && self != Role::Clerk {
            return Err(ValidationError::new(
                field,
                "contractor_restricted",
                format!("受托方账号只能担任经办人，不能担任「{}」", self.label()),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.code()).unwrap(), role);
        }
        assert_eq!(Role::parse("boss").unwrap_err().rule, "unknown");
    }

    #[test]
    fn assignment_rules() {
        assert!(Role::Clerk.check_assignable(OrgKind::Department, false).is_ok());
        assert!(Role::WorkUnitHead.check_assignable(OrgKind::Authority, false).is_ok());
        assert_eq!(
            Role::AuthorityReviewer.check_assignable(OrgKind::Department, false).unwrap_err().rule,
            "authority_only"
        );
        assert_eq!(
            Role::WorkUnitHead.check_assignable(OrgKind::Department, true).unwrap_err().rule,
            "contractor_restricted"
        );
        assert!(Role::Clerk.check_assignable(OrgKind::Department, true).is_ok());
        assert_eq!(Role::SystemClient.check_assignable(OrgKind::Department, false).unwrap_err().rule, "not_for_people");
    }
}
