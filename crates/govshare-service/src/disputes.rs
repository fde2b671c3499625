//! Sharing disputes (Art. 28, R-QC-2): negotiation → the coordinating authority (same-level or common superior,
//! from the region tree) → the people's government's decision; no rung skipped, the coordination a duty.

use std::collections::HashMap;

use govshare_domain::ValidationError;
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::{self, Action};
use govshare_domain::dispute::{Dispute, DisputeId, DisputeInput, DisputeStep, NewDispute, Stage, StepInput, StepKind};
use govshare_domain::duty::dispute_duties;
use govshare_domain::notification::Notification;
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::Principal;
use serde::Serialize;
use serde_json::json;

use crate::{Result, ServiceError, Services};

#[derive(Debug, Clone, Serialize)]
pub struct DisputeView {
    pub dispute: Dispute,
    pub opener_name: String,
    pub counterpart_name: String,
    /// The authority that coordinates (or will): `None` across provinces.
    pub coordinator_name: Option<String>,
    /// Whether that authority is the parties' common superior (cross-level or cross-region) rather than their
    /// same-level authority.
    pub superior: bool,
    pub coordination_due_on: Option<chrono::NaiveDate>,
    pub coordination_late: bool,
}

impl Services {
    fn dispute_action(d: &Dispute) -> Action {
        Action::ViewCase { parties: d.parties(), regions: [d.opener_region, d.counterpart_region] }
    }

    fn dispute_view(
        &self,
        d: Dispute,
        orgs: &HashMap<OrgId, Organisation>,
        calendar: &govshare_domain::calendar::WorkingCalendar,
    ) -> DisputeView {
        let name = |id: OrgId| orgs.get(&id).map_or_else(String::new, |o| o.name.clone());
        let coordinator = d.coordinator.or_else(|| {
            let region = d.coordinator_region?;
            orgs.values().find(|o| o.kind == OrgKind::Authority && o.region == region).map(|o| o.id)
        });
        let duty = dispute_duties(&d, calendar).into_iter().last();
        DisputeView {
            opener_name: name(d.opener),
            counterpart_name: name(d.counterpart),
            coordinator_name: coordinator.map(name),
            superior: d.coordinator_region.is_some_and(|r| r != d.opener_region || r != d.counterpart_region),
            coordination_due_on: duty.as_ref().and_then(|x| x.due_date()),
            coordination_late: duty.is_some_and(|x| x.late(self.now())),
            dispute: d,
        }
    }

    /// A party opens a dispute with the other department, linked to the application, grant or correction it is
    /// about (which must be between the two).
    pub async fn open_dispute(&self, principal: &Principal, input: &DisputeInput) -> Result<DisputeView> {
        let org_id = principal.org_id().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        self.authorize(principal, Action::PrepareSharing(org_id))?;
        let new = NewDispute::parse(input)?;
        let orgs = self.org_map().await?;
        let (Some(opener), Some(counterpart)) = (orgs.get(&org_id), orgs.get(&new.counterpart)) else {
            return Err(ValidationError::new("counterpart", "not_found", "争议另一方单位不存在").into());
        };
        if opener.id == counterpart.id {
            return Err(ValidationError::new("counterpart", "self", "争议的另一方不能是本单位").into());
        }
        let pair =
            |a: OrgId, b: OrgId| (a == opener.id && b == counterpart.id) || (a == counterpart.id && b == opener.id);
        let mut problems = Vec::new();
        if let Some(id) = new.application {
            match self.store.get_application(id).await {
                Ok(app) if pair(app.requester, app.provider) => {}
                _ => problems.push(ValidationError::new(
                    "application",
                    "not_between_parties",
                    "关联的共享申请不是双方之间的申请",
                )),
            }
        }
        if let Some(id) = new.grant {
            match self.store.get_grant(id).await {
                Ok(g) if pair(g.requester, g.provider) => {}
                _ => problems.push(ValidationError::new(
                    "grant",
                    "not_between_parties",
                    "关联的共享授权不是双方之间的授权",
                )),
            }
        }
        if let Some(id) = new.correction {
            match self.store.get_correction(id).await {
                Ok(c) if c.requester.is_some_and(|r| pair(r, c.provider)) => {}
                _ => problems.push(ValidationError::new(
                    "correction",
                    "not_between_parties",
                    "关联的校核申请不是双方之间的申请",
                )),
            }
        }
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let now = self.now();
        let mut d = Dispute {
            id: DisputeId::new(),
            number: String::new(),
            opener: opener.id,
            opener_region: opener.region,
            counterpart: counterpart.id,
            counterpart_region: counterpart.region,
            matter: new.matter,
            application: new.application,
            grant: new.grant,
            correction: new.correction,
            title: new.title,
            description: new.description,
            coordinator_region: opener.region.common_superior(counterpart.region),
            coordinator: None,
            coordination_days: None,
            stage: Stage::Negotiation,
            created_at: now,
            steps: vec![],
        };
        let notes = vec![Notification::new(
            counterpart.id,
            now,
            "dispute.open",
            format!("{}提出共享争议：{}", opener.name, d.title),
            format!(
                "{}就「{}」（{}）提出政务数据共享争议，请与对方协商解决（第二十八条）。",
                opener.name,
                d.title,
                d.matter.label()
            ),
            format!("/console/disputes/{}", d.id),
        )];
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(opener.id),
            "dispute.open",
            "dispute",
            d.id.to_string(),
            json!({ "counterpart": counterpart.id, "matter": d.matter, "application": d.application, "grant": d.grant,
                    "correction": d.correction, "coordinator_region": d.coordinator_region }),
        );
        self.store.create_dispute(&mut d, &notes, &audit).await?;
        Ok(self.dispute_view(d, &orgs, &self.calendar().await?))
    }

    /// A step on the ladder: negotiation steps by either party's staff, coordination and the decision by the
    /// coordinating authority's reviewers; out of turn is refused with the rule that forbids it.
    pub async fn dispute_step(&self, principal: &Principal, id: DisputeId, input: &StepInput) -> Result<DisputeView> {
        let mut d = self.store.get_dispute(id).await?;
        self.authorize(principal, Self::dispute_action(&d))?;
        let (kind, fields) = Dispute::parse_step(input)?;
        let next = d.check_step(kind).map_err(|o| ServiceError::OutOfTurn { code: o.code, message: o.message })?;
        let orgs = self.org_map().await?;
        let actor_org = if kind.by_parties(d.stage) {
            let org = principal.org_id().filter(|o| d.parties().contains(o));
            let org = org.ok_or_else(|| ServiceError::Forbidden("协商步骤只能由争议双方部门记录".into()))?;
            self.authorize(principal, Action::PrepareSharing(org))?;
            org
        } else {
            let region =
                d.coordinator_region.ok_or_else(|| ServiceError::Forbidden("跨省争议由国家数据主管部门协调".into()))?;
            self.authorize(principal, Action::CoordinateDispute(region))?;
            principal.org_id().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?
        };
        if kind == StepKind::Escalate {
            let Some(region) = d.coordinator_region else {
                return Err(ServiceError::OutOfTurn {
                    code: "no_common_authority",
                    message:
                        "双方分属不同省份，共同的上级主管部门为国家政务数据共享主管部门，不在本平台节点：请按程序报送"
                            .into(),
                });
            };
            let authority =
                orgs.values().find(|o| o.kind == OrgKind::Authority && o.region == region).ok_or_else(|| {
                    ServiceError::Conflict(format!("行政区划 {region} 尚未设立政务数据共享主管部门，无法申请协调"))
                })?;
            d.coordinator = Some(authority.id);
            d.coordination_days = Some(self.settings.dispute_coordination_days);
        }
        let now = self.now();
        let expected = d.steps.len();
        d.steps.push(DisputeStep {
            at: now,
            actor: principal.audit_name(),
            org: actor_org,
            kind,
            stage: d.stage,
            meeting: fields.meeting,
            positions: fields.positions,
            outcome: fields.outcome.clone(),
            document: fields.document,
            decided_on: fields.decided_on,
        });
        d.stage = next;
        let calendar = self.calendar().await?;
        let duties = dispute_duties(&d, &calendar);
        let link = format!("/console/disputes/{}", d.id);
        let mut told: Vec<OrgId> = d.parties().into_iter().filter(|o| *o != actor_org).collect();
        if kind == StepKind::Escalate {
            told.extend(d.coordinator);
        }
        let notes: Vec<Notification> = told
            .into_iter()
            .map(|org| {
                Notification::new(
                    org,
                    now,
                    "dispute.step",
                    format!("共享争议 {}：{}", d.number, kind.label()),
                    format!("「{}」{}：{}（当前阶段：{}）", d.title, kind.label(), fields.outcome, d.stage.label()),
                    link.clone(),
                )
            })
            .collect();
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            &format!("dispute.{}", kind.code()),
            "dispute",
            d.id.to_string(),
            json!({ "stage": d.stage, "coordinator": d.coordinator }),
        );
        self.store.save_dispute(&d, expected, &duties, &notes, &audit).await?;
        Ok(self.dispute_view(d, &orgs, &calendar))
    }

    pub async fn get_dispute(&self, principal: &Principal, id: DisputeId) -> Result<DisputeView> {
        let d = self.store.get_dispute(id).await?;
        self.authorize(principal, Self::dispute_action(&d))?;
        Ok(self.dispute_view(d, &self.org_map().await?, &self.calendar().await?))
    }

    /// The department's disputes; an authority's: every dispute with a party in its region.
    pub async fn list_disputes(&self, principal: &Principal) -> Result<Vec<DisputeView>> {
        let org = principal.org.as_ref().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        // People only: a business system has no case work.
        self.authorize(principal, Action::ViewOwnWork(org.id))?;
        let party = (org.kind != OrgKind::Authority && !principal.is_operator()).then_some(org.id);
        let (orgs, calendar) = (self.org_map().await?, self.calendar().await?);
        Ok(self
            .store
            .list_disputes(party)
            .await?
            .into_iter()
            .filter(|d| authz::check(principal, Self::dispute_action(d)).is_ok())
            .map(|d| self.dispute_view(d, &orgs, &calendar))
            .collect())
    }
}
