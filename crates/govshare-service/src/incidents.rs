//! Security incidents (Art. 35 ¶3, R-QC-4): the report suspends every affected grant in one transaction and tells
//! the reporter's same-level authority at once; progress and closure follow as steps of the report.

use govshare_domain::ValidationError;
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::{self, Action};
use govshare_domain::error::required_text;
use govshare_domain::grant::{Grant, GrantEvent, GrantState};
use govshare_domain::incident::{
    Incident, IncidentEvent, IncidentId, IncidentInput, IncidentReport, MAX_INCIDENT_TEXT,
};
use govshare_domain::notification::Notification;
use govshare_domain::org::{OrgId, OrgKind};
use govshare_domain::principal::Principal;
use serde_json::json;

use crate::{Result, ServiceError, Services};

impl Services {
    /// The acting department reports an incident: the affected grants (its own, as provider or requester) that
    /// still run are suspended in the same step, the same-level authority and the grants' other parties are told.
    pub async fn report_incident(&self, principal: &Principal, input: &IncidentInput) -> Result<Incident> {
        let org_id = principal.org_id().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        self.authorize(principal, Action::ReportIncident(org_id))?;
        let org = self.store.get_org(org_id).await?;
        let now = self.now();
        let report = IncidentReport::parse(input, now)?;
        let mut problems = Vec::new();
        let mut grants: Vec<Grant> = Vec::new();
        for id in &report.grants {
            match self.load_grant(*id).await {
                Ok(g) if g.provider == org_id || g.requester == org_id => grants.push(g),
                _ => problems.push(ValidationError::new(
                    format!("grants.{id}"),
                    "not_a_party",
                    "只能报告本单位作为提供部门或需求部门的共享授权",
                )),
            }
        }
        for id in &report.entries {
            match self.store.get_entry(*id).await {
                Ok(e) if e.provider == org_id || grants.iter().any(|g| g.entry == *id) => {}
                _ => problems.push(ValidationError::new(
                    format!("entries.{id}"),
                    "not_own",
                    "只能报告本单位的目录或本单位共享授权涉及的目录",
                )),
            }
        }
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let responsible: Vec<OrgId> = if report.on_requester_side {
            let mut r: Vec<OrgId> = grants.iter().map(|g| g.requester).collect();
            r.sort();
            r.dedup();
            r
        } else {
            vec![]
        };
        let mut incident = Incident {
            id: IncidentId::new(),
            number: String::new(),
            org: org_id,
            region: org.region,
            title: report.title.clone(),
            description: report.description,
            found_at: report.found_at,
            severity: report.severity,
            entries: report.entries,
            grants: report.grants,
            on_requester_side: report.on_requester_side,
            responsible,
            emergency_plan: report.emergency_plan,
            created_at: now,
            events: vec![IncidentEvent {
                at: now,
                actor: principal.audit_name(),
                step: "report".into(),
                text: "初始报告".into(),
            }],
        };
        // Suspend what still runs: an incident stops the data flowing at once (the provider lifts it later).
        let mut suspended: Vec<(Grant, usize)> = Vec::new();
        let mut duties = Vec::new();
        let (calendar, orgs) = (self.calendar().await?, self.org_map().await?);
        for mut g in grants.into_iter().filter(|g| g.state == GrantState::Active && g.is_running(now)) {
            let expected = g.events.len();
            g.state = GrantState::Suspended;
            g.events.push(GrantEvent {
                at: now,
                actor: principal.audit_name(),
                action: "suspend".into(),
                reason: format!("发生政务数据安全事件：{}（第三十五条）", report.title),
                org: Some(org_id),
                incident: Some(incident.id.0),
                ..GrantEvent::default()
            });
            let title = self.entry_name(g.entry).await?;
            let authority = crate::duties::authority_of(&orgs, g.provider);
            duties.extend(self.all_grant_duties(&g, &title, &calendar, authority).await?);
            suspended.push((g, expected));
        }
        let link = format!("/console/incidents/{}", incident.id);
        let mut notes = Vec::new();
        if let Some(authority) = crate::duties::authority_of(&orgs, org_id) {
            notes.push(Notification::new(
                authority,
                now,
                "incident.report",
                format!("{}报告{}安全事件：{}", org.name, incident.severity.label(), incident.title),
                format!(
                    "{}报告政务数据安全事件（{}级），已启动应急预案：{}；暂停共享授权 {} 项。",
                    org.name,
                    incident.severity.label(),
                    incident.emergency_plan,
                    suspended.len()
                ),
                link.clone(),
            ));
        }
        let mut told = std::collections::BTreeSet::new();
        for (g, _) in &suspended {
            let other = if g.provider == org_id { g.requester } else { g.provider };
            if told.insert(other) {
                notes.push(Notification::new(
                    other,
                    now,
                    "grant.state",
                    format!("因安全事件暂停共享授权：{}", incident.title),
                    format!("{}报告政务数据安全事件，相关共享授权已暂停，调用即刻停止。", org.name),
                    format!("/console/grants/{}", g.id),
                ));
            }
        }
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(org_id),
            "incident.report",
            "incident",
            incident.id.to_string(),
            json!({ "severity": incident.severity, "grants": incident.grants, "entries": incident.entries,
                    "suspended": suspended.iter().map(|(g, _)| g.id).collect::<Vec<_>>(),
                    "responsible": incident.responsible }),
        );
        let writes: Vec<(&Grant, usize)> = suspended.iter().map(|(g, e)| (g, *e)).collect();
        self.store.report_incident(&mut incident, &writes, &duties, &notes, &audit).await?;
        for (g, _) in &suspended {
            self.forget_grant(g.id);
        }
        Ok(incident)
    }

    /// `progress` or `close`, by the reporting department's staff; the authority is told of each.
    pub async fn incident_step(
        &self,
        principal: &Principal,
        id: IncidentId,
        step: &str,
        text: &str,
    ) -> Result<Incident> {
        let mut incident = self.store.get_incident(id).await?;
        self.authorize(principal, Action::ReportIncident(incident.org))?;
        let step = step.trim();
        if !matches!(step, "progress" | "close") {
            return Err(
                ValidationError::new("step", "unknown_value", "可选步骤：progress（进展报告）、close（结案）").into()
            );
        }
        if incident.is_closed() {
            return Err(ServiceError::Conflict("该安全事件已结案".into()));
        }
        let label = if step == "close" { "处置情况和结案说明" } else { "进展情况" };
        let text = required_text("text", label, text, MAX_INCIDENT_TEXT)?;
        let expected = incident.events.len();
        let now = self.now();
        incident.events.push(IncidentEvent {
            at: now,
            actor: principal.audit_name(),
            step: step.into(),
            text: text.clone(),
        });
        let mut notes = Vec::new();
        if let Some(authority) = self.authority_of(incident.region).await? {
            let what = if step == "close" { "已结案" } else { "报告进展" };
            notes.push(Notification::new(
                authority.id,
                now,
                "incident.step",
                format!("安全事件{what}：{}", incident.title),
                format!("安全事件 {} {what}：{text}", incident.number),
                format!("/console/incidents/{}", incident.id),
            ));
        }
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            &format!("incident.{step}"),
            "incident",
            incident.id.to_string(),
            json!({ "text": text }),
        );
        self.store.save_incident(&incident, expected, &notes, &audit).await?;
        Ok(incident)
    }

    pub async fn get_incident(&self, principal: &Principal, id: IncidentId) -> Result<Incident> {
        let incident = self.store.get_incident(id).await?;
        self.authorize(principal, Action::ViewIncident { org: incident.org, region: incident.region })?;
        Ok(incident)
    }

    /// The acting department's reports; an authority's: those of its region's departments.
    pub async fn list_incidents(&self, principal: &Principal) -> Result<Vec<Incident>> {
        let org = principal.org.as_ref().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        self.authorize(principal, Action::ViewIncident { org: org.id, region: org.region })?;
        let all = if org.kind == OrgKind::Authority || principal.is_operator() {
            self.store.list_incidents(None, (!principal.is_operator()).then_some(org.region)).await?
        } else {
            self.store.list_incidents(Some(org.id), None).await?
        };
        Ok(all
            .into_iter()
            .filter(|i| authz::check(principal, Action::ViewIncident { org: i.org, region: i.region }).is_ok())
            .collect())
    }
}
