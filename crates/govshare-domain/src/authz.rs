//! The one authorisation policy (R-ORG-3, R-SEC-3). Every use case asks [`check`] before it reads or
//! changes anything that belongs to an organisation; nothing else decides who may do what.

use std::fmt;

use crate::org::{OrgId, OrgKind};
use crate::principal::{Actor, Principal};
use crate::region::RegionCode;
use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read the region tree and the directory of organisations.
    ViewDirectory,
    /// Create regions and organisations.
    ManageOrganisations,
    /// Change an organisation's work unit.
    EditOrganisation(OrgId),
    /// List the people of an organisation.
    ViewMembers(OrgId),
    /// Create accounts in an organisation and give or take a role there, to people who are already its members
    /// (or are created in it).
    AssignRole(OrgId, Role),
    /// Add a person who already exists, and is not a member, to an organisation: only the platform
    /// administrator; nobody is pulled into another organisation by that organisation.
    AddExistingPerson(OrgId),
    /// Disable or enable an account, reset its password, acting for `org`: the administrator, or the head of
    /// the one organisation the person belongs to (see [`PersonScope`]).
    ManageAccount { org: OrgId, person: PersonScope },
    /// List an organisation's API credentials.
    ViewCredentials(OrgId),
    /// Issue or revoke an organisation's API credentials.
    ManageCredentials(OrgId),
    /// Read the audit log and verify its chain.
    ViewAudit,
    /// Read one's own organisation's work lists and records: notifications (and marking them read), update
    /// obligations, its usage records.
    ViewOwnWork(OrgId),
    /// Read one's own organisation's to-do list (its duties): its people, and its business systems.
    ViewDuties(OrgId),
    /// Read the usage records of every department of `region`, as its same-level authority (Art. 29, 38).
    SuperviseRegion(RegionCode),
    /// Read an entry's data source binding and its load history: the provider's clerks and head, its
    /// same-level authority.
    ViewSource { provider: OrgId, provider_region: RegionCode },
    /// Change one's own password.
    ManageOwnAccount,
    /// Draft and edit the provider's catalog entries, attach assessments, submit them to the head.
    DraftCatalog(OrgId),
    /// Approve (or send back) what the provider's clerks submitted, as the work-unit head (Art. 13).
    ApproveCatalog(OrgId),
    /// Publish or return an entry submitted by a department of `region`, as its same-level authority (Art. 16).
    ReviewCatalog(RegionCode),
    /// See an entry's unpublished versions: the provider's people, its same-level authority, the administrator.
    ViewCatalogWork(OrgId, RegionCode),
    /// Record a catalog-update trigger (law or duty change) for a department, or consent to an extension (Art. 17).
    ManageCatalogObligations(OrgId, RegionCode),
    /// Prepare a sharing step for one's own department: draft an application, supplement it, draft a reply,
    /// record a delivery (Art. 20–22).
    PrepareSharing(OrgId),
    /// Approve a sharing step as the department's work-unit head: send an application, approve a reply, ask for
    /// an extension (Art. 20 ¶2–3, Art. 21).
    ApproveSharing(OrgId),
    /// Approve or refuse an extension of the reply period, as the provider's same-level authority (Art. 21 ¶1).
    DecideSharingExtension(RegionCode),
    /// Record the filing (备案) of a provider's ending of a running sharing service, as the provider's same-level
    /// authority (Art. 27 ¶3).
    RecordServiceFiling(RegionCode),
    /// Read an application: requester, provider, their same-level authorities, the administrator.
    ViewApplication { requester: OrgId, provider: OrgId, requester_region: RegionCode, provider_region: RegionCode },
    /// Bind a data source to the provider's entry (R-DEL-1).
    ManageSource(OrgId),
    /// Load records into the provider's bound source (R-DEL-1): its people, and its business system running the
    /// daily loads.
    LoadSource(OrgId),
    /// Create a grant from an approved application, as the provider (R-DEL-2).
    CreateGrant(OrgId),
    /// Suspend, resume or terminate a grant: the provider's work-unit head or its same-level authority (R-DEL-7).
    ControlGrant { provider: OrgId, provider_region: RegionCode },
    /// Receive data under a grant: the requester's business systems and its own people (R-DEL-3, R-DEL-4).
    UseGrant(OrgId),
    /// Read a grant's usage records: requester, provider, their same-level authorities, the administrator
    /// (Art. 29) — people only, never a business system.
    ViewUsage { requester: OrgId, provider: OrgId, requester_region: RegionCode, provider_region: RegionCode },
    /// Consult the catalog's working tools: the sources of record and the duplicate-collection check (Art. 19),
    /// for the people of any organisation.
    ConsultCatalog,
    /// Read grants: requester, provider, their same-level authorities, the administrator (Art. 29).
    ViewDelivery { requester: OrgId, provider: OrgId, requester_region: RegionCode, provider_region: RegionCode },
    /// Report a security incident of the department, and report its progress and closure (Art. 35 ¶3): its
    /// clerks and heads, not contractors.
    ReportIncident(OrgId),
    /// Acknowledge the aggregation risk of a grant (Art. 25 ¶2): the provider's same-level authority's reviewer.
    AcknowledgeAggregation(RegionCode),
    /// Read a department's incident reports: its staff and its same-level authority's reviewers and supervisors.
    ViewIncident { org: OrgId, region: RegionCode },
    /// Coordinate a sharing dispute and record the people's government's decision (Art. 28): the reviewers of
    /// the authority of the region both parties lie in.
    CoordinateDispute(RegionCode),
    /// Read a correction, dispute or complaint: the staff (not contractors) of the departments it concerns, and
    /// the reviewers and supervisors of any authority whose region holds one of them ("the authority sees every
    /// dispute and complaint in its region").
    ViewCase { parties: [OrgId; 2], regions: [RegionCode; 2] },
    /// Handle a public complaint or report (Art. 37 ¶2): the staff of the department (or authority) it is with,
    /// not contractors.
    HandleComplaint(OrgId),
    /// Read the indicators, violations, orders and reports of `region` and its subregions (Art. 38 ¶2): the
    /// reviewers and supervisors of its authority and of every authority above it, not contractors.
    Supervise(RegionCode),
    /// Order a department of `region` to rectify, verify its report, publish a notice to `region` (Art. 39–41,
    /// 29 ¶1): the supervisors of `region`'s authority (for Art. 41, `region` is the superior's).
    Enforce(RegionCode),
    /// Report the rectification an order requires: the ordered department's head (an authority's reviewers and
    /// supervisors, for an Art. 41 order), not contractors.
    ReportRectification(OrgId),
    /// Read an order: the ordered department's staff (not contractors) and every authority that supervises the
    /// issuing authority's region.
    ViewOrder { department: OrgId, region: RegionCode },
}

/// Where the person an account decision touches holds roles. A person's account is one across the platform:
/// disabling it or resetting its password acts in every organisation they belong to, so only the head of their
/// only organisation, or the administrator, may do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonScope {
    /// The one organisation the person holds roles in; `None` when they hold roles in several (or none).
    pub sole_org: Option<OrgId>,
    /// The person is a platform administrator.
    pub admin: bool,
}

impl Action {
    pub fn label(self) -> String {
        match self {
            Action::ViewDirectory => "查看组织目录".into(),
            Action::ManageOrganisations => "管理行政区划和单位".into(),
            Action::EditOrganisation(_) => "修改单位信息".into(),
            Action::ViewMembers(_) => "查看单位人员".into(),
            Action::AssignRole(_, role) => format!("授予或撤销「{}」角色", role.label()),
            Action::AddExistingPerson(_) => "将其他单位的人员加入本单位".into(),
            Action::ManageAccount { .. } => "管理账号".into(),
            Action::ViewCredentials(_) => "查看 API 凭证".into(),
            Action::ManageCredentials(_) => "签发或吊销 API 凭证".into(),
            Action::ViewAudit => "查看审计日志".into(),
            Action::ViewOwnWork(_) => "查看本单位通知和待办".into(),
            Action::ViewDuties(_) => "查看本单位待办事项".into(),
            Action::SuperviseRegion(_) => "查看本级各部门的使用记录".into(),
            Action::Supervise(_) => "查看监督指标和违规线索".into(),
            Action::Enforce(_) => "责令改正和通报".into(),
            Action::ReportRectification(_) => "报告整改情况".into(),
            Action::ViewOrder { .. } => "查看责令改正".into(),
            Action::ViewSource { .. } => "查看数据源".into(),
            Action::ManageOwnAccount => "修改本人账号".into(),
            Action::DraftCatalog(_) => "编制本单位政务数据目录".into(),
            Action::ApproveCatalog(_) => "审核同意本单位目录".into(),
            Action::ReviewCatalog(_) => "审核发布政务数据目录".into(),
            Action::ViewCatalogWork(..) => "查看未发布的目录".into(),
            Action::ManageCatalogObligations(..) => "管理目录更新义务".into(),
            Action::PrepareSharing(_) => "办理本单位共享申请事项".into(),
            Action::ApproveSharing(_) => "审核同意本单位共享申请事项".into(),
            Action::DecideSharingExtension(_) => "审批答复延期".into(),
            Action::RecordServiceFiling(_) => "共享服务终止备案".into(),
            Action::ViewApplication { .. } => "查看共享申请".into(),
            Action::ManageSource(_) => "管理本单位数据源".into(),
            Action::LoadSource(_) => "向本单位数据源装载数据".into(),
            Action::CreateGrant(_) => "创建共享授权".into(),
            Action::ControlGrant { .. } => "暂停、恢复或终止共享授权".into(),
            Action::UseGrant(_) => "调用共享数据".into(),
            Action::ViewDelivery { .. } => "查看共享授权".into(),
            Action::ViewUsage { .. } => "查看使用记录".into(),
            Action::ConsultCatalog => "查询数据来源和重复采集核对".into(),
            Action::ReportIncident(_) => "报告政务数据安全事件".into(),
            Action::AcknowledgeAggregation(_) => "确认数据汇聚风险".into(),
            Action::ViewIncident { .. } => "查看政务数据安全事件报告".into(),
            Action::CoordinateDispute(_) => "协调处理政务数据共享争议".into(),
            Action::ViewCase { .. } => "查看校核、争议或投诉举报".into(),
            Action::HandleComplaint(_) => "办理投诉举报".into(),
        }
    }
}

/// Refusal: the action was not permitted for this principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub action: Action,
    pub reason: &'static str,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "无权{}：{}", self.action.label(), self.reason)
    }
}

impl std::error::Error for Denied {}

/// What a business system's API credential may do, declared here once: read the directory and the published
/// catalog, see its own department's grants, receive data under them (R-DEL-3, R-SEC-3), and load its own
/// department's bound sources (the provider's daily loads, R-DEL-1). Every other action — management, binding a
/// source, supervision, notifications, usage records — is for people.
fn system_may(own_org: OrgId, action: Action) -> bool {
    match action {
        Action::ViewDirectory => true,
        Action::LoadSource(provider) => provider == own_org,
        Action::UseGrant(requester) => requester == own_org,
        Action::ViewDelivery { requester, .. } => requester == own_org,
        Action::ViewDuties(org) => org == own_org,
        _ => false,
    }
}

pub fn check(principal: &Principal, action: Action) -> Result<(), Denied> {
    let deny = |reason| Err(Denied { action, reason });

    // The operator has shell access to the node and its database; the CLI acts with full rights.
    if principal.is_operator() {
        return Ok(());
    }
    let Some(org) = &principal.org else {
        return deny("未以任何单位身份操作");
    };
    let is_system = matches!(principal.actor, Actor::System { .. });
    let admin = principal.has_role(Role::PlatformAdmin);
    let head = principal.has_role(Role::WorkUnitHead);
    let clerk = principal.has_role(Role::Clerk);
    let supervisor = principal.has_role(Role::AuthoritySupervisor);
    let contractor = principal.is_contractor();
    let own = |target: OrgId| org.id == target;
    let reviewer = principal.has_role(Role::AuthorityReviewer);
    let same_level_authority = |region: RegionCode| org.kind == OrgKind::Authority && org.region == region;

    if is_system {
        return if system_may(org.id, action) { Ok(()) } else { deny("应用系统凭证只能调用数据接口") };
    }
    match action {
        Action::ViewDirectory => Ok(()),
        // A business system uses its department's grants; its people may download under them too.
        Action::UseGrant(requester) => {
            if own(requester) && (clerk || head) {
                Ok(())
            } else {
                deny("只有申请部门的应用系统和经办人可以使用该共享授权")
            }
        }
        Action::ManageOwnAccount | Action::ConsultCatalog => Ok(()),
        Action::ViewOwnWork(target) | Action::ViewDuties(target) => {
            if own(target) {
                Ok(())
            } else {
                deny("只能查看本单位的通知和待办")
            }
        }
        Action::SuperviseRegion(region) => {
            if (reviewer || supervisor) && same_level_authority(region) {
                Ok(())
            } else {
                deny("只有同级政务数据共享主管部门可以查看本级各部门的使用记录")
            }
        }
        Action::ViewSource { provider, provider_region } => {
            if (own(provider) && (clerk || head)) || ((reviewer || supervisor) && same_level_authority(provider_region))
            {
                Ok(())
            } else {
                deny("数据源只对提供单位和同级主管部门可见")
            }
        }
        // Catalog work is the departments' and authorities' own; the administrator runs the node, not the catalog.
        Action::DraftCatalog(target) => {
            if own(target) && (clerk || head) {
                Ok(())
            } else {
                deny("只有本单位经办人或工作机构负责人可以编制目录")
            }
        }
        Action::ApproveCatalog(target) => {
            if own(target) && head && !contractor {
                Ok(())
            } else {
                deny("只有本单位工作机构负责人可以审核同意目录")
            }
        }
        Action::ReviewCatalog(region) => {
            if reviewer && same_level_authority(region) {
                Ok(())
            } else {
                deny("只有同级政务数据共享主管部门的审核人可以审核发布目录")
            }
        }
        Action::ViewCatalogWork(target, region) => {
            if own(target) || admin || ((reviewer || supervisor) && same_level_authority(region)) {
                Ok(())
            } else {
                deny("未发布的目录只对提供单位和同级主管部门可见")
            }
        }
        Action::ManageCatalogObligations(target, region) => {
            if (own(target) && head) || (reviewer && same_level_authority(region)) {
                Ok(())
            } else {
                deny("只有本单位工作机构负责人或同级主管部门审核人可以办理")
            }
        }
        Action::PrepareSharing(target) => {
            if own(target) && (clerk || head) && !contractor {
                Ok(())
            } else if own(target) && contractor {
                deny(
                    "受托方人员只承担技术支撑，不得擅自访问或使用政务数据（第三十六条），共享申请事项由本单位经办人办理",
                )
            } else {
                deny("只有本单位经办人或工作机构负责人可以办理共享申请事项")
            }
        }
        Action::ApproveSharing(target) => {
            if own(target) && head && !contractor {
                Ok(())
            } else {
                deny("只有本单位工作机构负责人可以审核同意")
            }
        }
        Action::DecideSharingExtension(region) => {
            if reviewer && same_level_authority(region) {
                Ok(())
            } else {
                deny("只有提供部门同级政务数据共享主管部门的审核人可以审批延期")
            }
        }
        Action::RecordServiceFiling(region) => {
            if reviewer && same_level_authority(region) {
                Ok(())
            } else {
                deny("只有提供部门同级政务数据共享主管部门的审核人可以办理共享服务终止备案")
            }
        }
        Action::ManageSource(target) | Action::LoadSource(target) => {
            if own(target) && (clerk || head) {
                Ok(())
            } else {
                deny("只有本单位经办人或工作机构负责人可以管理数据源")
            }
        }
        Action::CreateGrant(target) => {
            if own(target) && (clerk || head) && !contractor {
                Ok(())
            } else {
                deny("只有提供部门的经办人或工作机构负责人可以创建共享授权")
            }
        }
        Action::ControlGrant { provider, provider_region } => {
            if (own(provider) && head) || ((reviewer || supervisor) && same_level_authority(provider_region)) {
                Ok(())
            } else {
                deny("只有提供部门工作机构负责人或同级主管部门可以暂停、恢复或终止共享授权")
            }
        }
        Action::ViewDelivery { requester, provider, requester_region, provider_region }
        | Action::ViewUsage { requester, provider, requester_region, provider_region }
        | Action::ViewApplication { requester, provider, requester_region, provider_region } => {
            let authority = (reviewer || supervisor)
                && (same_level_authority(requester_region) || same_level_authority(provider_region));
            if own(requester) || own(provider) || admin || authority {
                Ok(())
            } else {
                deny("共享申请只对申请部门、提供部门和同级主管部门可见")
            }
        }
        Action::AcknowledgeAggregation(region) => {
            if reviewer && same_level_authority(region) {
                Ok(())
            } else {
                deny("只有提供部门同级政务数据共享主管部门的审核人可以确认数据汇聚风险")
            }
        }
        Action::ReportIncident(target) => {
            if own(target) && (clerk || head) && !contractor {
                Ok(())
            } else {
                deny("只有本单位经办人或工作机构负责人可以报告本单位的安全事件")
            }
        }
        Action::ViewIncident { org: target, region } => {
            if (own(target) && (clerk || head) && !contractor)
                || ((reviewer || supervisor) && same_level_authority(region))
            {
                Ok(())
            } else {
                deny("安全事件报告只对报告部门和同级主管部门可见")
            }
        }
        Action::CoordinateDispute(region) => {
            if reviewer && same_level_authority(region) {
                Ok(())
            } else {
                deny("只有争议双方共同的（同级或上级）政务数据共享主管部门的审核人可以协调处理")
            }
        }
        Action::ViewCase { parties, regions } => {
            let staff = parties.iter().any(|p| own(*p)) && (clerk || head || reviewer || supervisor) && !contractor;
            let authority = (reviewer || supervisor)
                && org.kind == OrgKind::Authority
                && regions.iter().any(|r| org.region.contains(*r));
            if staff || authority {
                Ok(())
            } else {
                deny("只对所涉部门和所在区域的政务数据共享主管部门可见")
            }
        }
        Action::HandleComplaint(target) => {
            if own(target) && (clerk || head || reviewer) && !contractor {
                Ok(())
            } else {
                deny("只有承办单位的工作人员可以办理该投诉举报")
            }
        }
        // Supervision is the authorities' own power: the administrator runs the platform, it does not supervise.
        Action::Supervise(region) => {
            if (reviewer || supervisor) && !contractor && org.kind == OrgKind::Authority && org.region.contains(region)
            {
                Ok(())
            } else {
                deny("只有本级及上级政务数据共享主管部门可以查看监督情况")
            }
        }
        Action::Enforce(region) => {
            if supervisor && !contractor && same_level_authority(region) {
                Ok(())
            } else {
                deny("只有同级政务数据共享主管部门的监管人可以责令改正和通报")
            }
        }
        Action::ReportRectification(target) => {
            let authority_staff = org.kind == OrgKind::Authority && (reviewer || supervisor);
            if own(target) && (head || authority_staff) && !contractor {
                Ok(())
            } else {
                deny("只有被责令改正单位的工作机构负责人可以报告整改情况")
            }
        }
        Action::ViewOrder { department, region } => {
            let staff = own(department) && (clerk || head || reviewer || supervisor) && !contractor;
            let authority = (reviewer || supervisor)
                && !contractor
                && org.kind == OrgKind::Authority
                && org.region.contains(region);
            if staff || authority {
                Ok(())
            } else {
                deny("只对被责令改正单位和监督它的主管部门可见")
            }
        }
        Action::ManageOrganisations | Action::ViewAudit if admin => Ok(()),
        Action::ViewAudit if supervisor => Ok(()),
        Action::ManageOrganisations | Action::ViewAudit => deny("需要平台管理员或主管部门监管人角色"),
        _ if admin => Ok(()),
        Action::AddExistingPerson(_) => deny("只有平台管理员可以将已有人员加入其他单位，请为本单位新建账号"),
        // A head manages the accounts of people who belong to their organisation alone: never someone who holds
        // a role elsewhere (their other organisation has a say), never an administrator.
        Action::ManageAccount { org: target, person } => {
            if !(own(target) && head) {
                deny("只有本单位工作机构负责人或平台管理员可以操作")
            } else if person.admin {
                deny("平台管理员的账号只能由平台管理员管理")
            } else if person.sole_org != Some(target) {
                deny("该人员在其他单位也有角色，其账号只能由平台管理员管理")
            } else {
                Ok(())
            }
        }
        Action::EditOrganisation(target) => {
            if own(target) && head {
                Ok(())
            } else {
                deny("只有本单位工作机构负责人或平台管理员可以操作")
            }
        }
        Action::ViewMembers(target) | Action::ViewCredentials(target) => {
            if own(target) && (head || (clerk && !contractor)) {
                Ok(())
            } else if own(target) {
                deny("受托方账号不能查看")
            } else {
                deny("不能查看其他单位的信息")
            }
        }
        Action::AssignRole(target, role) => {
            if own(target) && head && role == Role::Clerk {
                Ok(())
            } else if own(target) && head {
                deny("工作机构负责人只能为本单位授予经办人角色")
            } else {
                deny("只有本单位工作机构负责人或平台管理员可以管理人员")
            }
        }
        Action::ManageCredentials(target) => {
            if own(target) && head {
                Ok(())
            } else {
                deny("只有本单位工作机构负责人或平台管理员可以签发或吊销 API 凭证")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::org::OrgKind;
    use crate::principal::{ActingOrg, CredentialId};
    use crate::region::RegionCode;
    use crate::user::{UserId, Username};

    fn person(org: OrgId, kind: OrgKind, roles: &[Role], contractor: bool) -> Principal {
        Principal {
            actor: Actor::User {
                id: UserId::new(),
                username: Username::parse("someone").unwrap(),
                display_name: "某人".into(),
                contractor,
            },
            org: Some(ActingOrg { id: org, kind, region: RegionCode::parse("330000").unwrap(), name: "单位".into() }),
            roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        }
    }

    fn org_actions(target: OrgId) -> Vec<Action> {
        vec![
            Action::EditOrganisation(target),
            Action::ViewMembers(target),
            Action::AssignRole(target, Role::Clerk),
            Action::AssignRole(target, Role::WorkUnitHead),
            Action::ManageAccount { org: target, person: PersonScope { sole_org: Some(target), admin: false } },
            Action::AddExistingPerson(target),
            Action::ViewCredentials(target),
            Action::ManageCredentials(target),
        ]
    }

    #[test]
    fn nobody_but_the_admin_reaches_another_organisations_objects() {
        let (a, b) = (OrgId::new(), OrgId::new());
        for roles in [
            &[Role::Clerk][..],
            &[Role::WorkUnitHead],
            &[Role::Clerk, Role::WorkUnitHead],
            &[Role::AuthorityReviewer],
            &[Role::AuthoritySupervisor],
        ] {
            let p = person(a, OrgKind::Department, roles, false);
            for action in org_actions(b) {
                assert!(check(&p, action).is_err(), "{roles:?} {action:?}");
            }
        }
        let admin = person(a, OrgKind::Authority, &[Role::PlatformAdmin], false);
        for action in org_actions(b) {
            assert!(check(&admin, action).is_ok(), "{action:?}");
        }
        // An organisation's notices and to-do lists are its own, the administrator's included.
        assert!(check(&admin, Action::ViewOwnWork(b)).is_err());
        assert!(check(&admin, Action::ViewOwnWork(a)).is_ok());
    }

    #[test]
    fn a_head_manages_only_accounts_that_belong_to_the_unit_alone() {
        let (a, b) = (OrgId::new(), OrgId::new());
        let head = person(a, OrgKind::Department, &[Role::WorkUnitHead], false);
        let only_here = PersonScope { sole_org: Some(a), admin: false };
        let also_elsewhere = PersonScope { sole_org: None, admin: false };
        let only_there = PersonScope { sole_org: Some(b), admin: false };
        let an_admin = PersonScope { sole_org: Some(a), admin: true };
        assert!(check(&head, Action::ManageAccount { org: a, person: only_here }).is_ok());
        for person in [also_elsewhere, only_there, an_admin] {
            assert!(check(&head, Action::ManageAccount { org: a, person }).is_err(), "{person:?}");
        }
        // Nobody but the administrator pulls an existing person into an organisation.
        assert!(check(&head, Action::AddExistingPerson(a)).is_err());
        let admin = person(b, OrgKind::Authority, &[Role::PlatformAdmin], false);
        assert!(check(&admin, Action::AddExistingPerson(a)).is_ok());
        for person in [only_here, also_elsewhere, only_there, an_admin] {
            assert!(check(&admin, Action::ManageAccount { org: a, person }).is_ok(), "{person:?}");
        }
        let clerk = person(a, OrgKind::Department, &[Role::Clerk], false);
        assert!(check(&clerk, Action::ManageAccount { org: a, person: only_here }).is_err());
    }

    #[test]
    fn head_runs_own_unit_clerk_reads_contractor_does_neither() {
        let a = OrgId::new();
        let head = person(a, OrgKind::Department, &[Role::WorkUnitHead], false);
        assert!(check(&head, Action::ManageCredentials(a)).is_ok());
        assert!(check(&head, Action::AssignRole(a, Role::Clerk)).is_ok());
        assert!(check(&head, Action::AssignRole(a, Role::WorkUnitHead)).is_err());
        let clerk = person(a, OrgKind::Department, &[Role::Clerk], false);
        assert!(check(&clerk, Action::ViewCredentials(a)).is_ok());
        assert!(check(&clerk, Action::ManageCredentials(a)).is_err());
        let contractor = person(a, OrgKind::Department, &[Role::Clerk], true);
        assert!(check(&contractor, Action::ViewCredentials(a)).is_err());
        assert!(check(&contractor, Action::ViewMembers(a)).is_err());
        assert!(check(&contractor, Action::ManageOwnAccount).is_ok());
    }

    #[test]
    fn catalog_work_follows_departments_and_levels() {
        let (a, b) = (OrgId::new(), OrgId::new());
        let zhejiang = RegionCode::parse("330000").unwrap();
        let hangzhou = RegionCode::parse("330100").unwrap();
        let clerk = person(a, OrgKind::Department, &[Role::Clerk], false);
        let vendor = person(a, OrgKind::Department, &[Role::Clerk], true);
        let head = person(a, OrgKind::Department, &[Role::WorkUnitHead], false);
        let reviewer = person(b, OrgKind::Authority, &[Role::AuthorityReviewer], false);
        let admin = person(b, OrgKind::Authority, &[Role::PlatformAdmin], false);
        assert!(check(&clerk, Action::DraftCatalog(a)).is_ok());
        assert!(check(&vendor, Action::DraftCatalog(a)).is_ok(), "contractors do clerk work");
        assert!(check(&clerk, Action::DraftCatalog(b)).is_err());
        assert!(check(&clerk, Action::ApproveCatalog(a)).is_err());
        assert!(check(&head, Action::ApproveCatalog(a)).is_ok());
        assert!(check(&reviewer, Action::ReviewCatalog(zhejiang)).is_ok(), "person() acts in 330000");
        assert!(check(&reviewer, Action::ReviewCatalog(hangzhou)).is_err(), "only the same level");
        assert!(check(&head, Action::ReviewCatalog(zhejiang)).is_err());
        assert!(check(&admin, Action::DraftCatalog(a)).is_err(), "the administrator does not write catalogs");
        assert!(check(&admin, Action::ReviewCatalog(zhejiang)).is_err());
        assert!(check(&reviewer, Action::ViewCatalogWork(a, zhejiang)).is_ok());
        assert!(
            check(&person(b, OrgKind::Department, &[Role::Clerk], false), Action::ViewCatalogWork(a, zhejiang))
                .is_err()
        );
    }

    #[test]
    fn audit_is_for_admin_and_supervisor() {
        let a = OrgId::new();
        assert!(check(&person(a, OrgKind::Authority, &[Role::AuthoritySupervisor], false), Action::ViewAudit).is_ok());
        assert!(check(&person(a, OrgKind::Authority, &[Role::PlatformAdmin], false), Action::ViewAudit).is_ok());
        assert!(check(&person(a, OrgKind::Authority, &[Role::AuthorityReviewer], false), Action::ViewAudit).is_err());
        assert!(check(&person(a, OrgKind::Department, &[Role::WorkUnitHead], false), Action::ViewAudit).is_err());
    }

    #[test]
    fn systems_only_read_the_directory() {
        let a = OrgId::new();
        let system = Principal {
            actor: Actor::System { credential_id: CredentialId::new(), name: "业务系统".into() },
            org: Some(ActingOrg {
                id: a,
                kind: OrgKind::Department,
                region: RegionCode::parse("330000").unwrap(),
                name: "单位".into(),
            }),
            roles: [Role::SystemClient].into_iter().collect(),
        };
        assert!(check(&system, Action::ViewDirectory).is_ok());
        for action in org_actions(a) {
            assert!(check(&system, action).is_err());
        }
        assert!(check(&system, Action::ManageOwnAccount).is_err());
        let (b, region) = (OrgId::new(), RegionCode::parse("330000").unwrap());
        let delivery = |requester, provider| Action::ViewDelivery {
            requester,
            provider,
            requester_region: region,
            provider_region: region,
        };
        assert!(check(&system, Action::UseGrant(a)).is_ok());
        assert!(check(&system, Action::UseGrant(b)).is_err());
        assert!(check(&system, Action::LoadSource(a)).is_ok(), "its department's daily loads");
        assert!(check(&system, Action::LoadSource(b)).is_err(), "not another department's source");
        assert!(check(&system, delivery(a, b)).is_ok(), "its own department's grants");
        assert!(check(&system, delivery(b, a)).is_err(), "not what its department provides");
        let usage = Action::ViewUsage { requester: a, provider: b, requester_region: region, provider_region: region };
        assert!(check(&system, usage).is_err(), "usage records are for people");
        assert!(check(&system, Action::ConsultCatalog).is_err());
        for action in [
            Action::SuperviseRegion(region),
            Action::ViewSource { provider: a, provider_region: region },
            Action::ManageSource(a),
            Action::ViewCatalogWork(a, region),
            Action::ViewAudit,
            Action::CreateGrant(a),
        ] {
            assert!(check(&system, action).is_err(), "{action:?}");
        }
        // An authority's system key is a system key like any other.
        let mut authority_key = system.clone();
        authority_key.org.as_mut().unwrap().kind = OrgKind::Authority;
        authority_key.roles.insert(Role::AuthoritySupervisor);
        assert!(check(&authority_key, Action::SuperviseRegion(region)).is_err());
        assert!(check(&authority_key, Action::ViewSource { provider: b, provider_region: region }).is_err());
    }
}
