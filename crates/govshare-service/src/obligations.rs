//! Dynamic update of the catalog (R-CAT-4, Art. 17): update triggers, the extension, and where each obligation
//! stands (derived from the entry's timeline by the domain).

use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::{self, Action};
use govshare_domain::calendar::beijing;
use govshare_domain::catalog::{CatalogEntry, EntryId};
use govshare_domain::notification::Notification;
use govshare_domain::obligation::{
    ObligationId, ObligationStage, ObligationStatus, Trigger, TriggerInput, UPDATE_DAYS, UpdateObligation,
};
use govshare_domain::org::{OrgKind, Organisation};
use govshare_domain::principal::Principal;
use serde::Serialize;
use serde_json::json;

use crate::{Result, ServiceError, Services};

/// An obligation with the entry it concerns and where it stands now.
#[derive(Debug, Clone, Serialize)]
pub struct ObligationView {
    pub obligation: UpdateObligation,
    pub entry_name: String,
    pub resource_code: String,
    pub provider: Organisation,
    pub status: ObligationStatus,
}

impl Services {
    async fn view(&self, obligation: UpdateObligation, entry: &CatalogEntry) -> Result<ObligationView> {
        let calendar = self.calendar().await?;
        let status = obligation.status(&entry.events, &calendar, self.now())?;
        let content = &entry.published().unwrap_or(entry.latest()).content;
        Ok(ObligationView {
            entry_name: content.name.clone(),
            resource_code: content.resource_code.clone(),
            provider: self.store.get_org(entry.provider).await?,
            obligation,
            status,
        })
    }

    fn obligation_audit(
        &self,
        principal: &Principal,
        o: &UpdateObligation,
        action: &str,
        detail: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent::new(principal.audit_name(), principal.org_id(), action, "catalog_obligation", o.id, detail)
    }

    /// Records that a law or the department's duties changed, opening the obligation to update `entry`.
    pub async fn record_update_trigger(
        &self,
        principal: &Principal,
        entry_id: EntryId,
        input: &TriggerInput,
    ) -> Result<ObligationView> {
        let entry = self.store.get_entry(entry_id).await?;
        let provider = self.store.get_org(entry.provider).await?;
        self.authorize(principal, Action::ManageCatalogObligations(provider.id, provider.region))?;
        let today = self.now().with_timezone(&beijing()).date_naive();
        let trigger = Trigger::parse(input, today)?;
        let name = entry
            .published()
            .map(|v| v.content.name.clone())
            .ok_or_else(|| ServiceError::Conflict("目录尚未发布，发布前的修改不构成更新义务".into()))?;
        let calendar = self.calendar().await?;
        for existing in self.store.list_obligations(Some(provider.id)).await? {
            if existing.entry == entry.id
                && existing.status(&entry.events, &calendar, self.now())?.stage != ObligationStage::Completed
            {
                return Err(ServiceError::Conflict(format!(
                    "目录「{name}」已有未完成的更新义务（{} 起），请在同一次更新中一并处理",
                    existing.changed_on
                )));
            }
        }
        let obligation = UpdateObligation {
            id: ObligationId::new(),
            entry: entry.id,
            kind: trigger.kind,
            changed_on: trigger.changed_on,
            description: trigger.description,
            recorded_by: principal.audit_name(),
            recorded_at: self.now(),
            extension: None,
        };
        let due = obligation.status(&entry.events, &calendar, self.now())?.due_date;
        let mut notes = vec![Notification::new(
            provider.id,
            self.now(),
            "catalog.obligation",
            format!("目录更新义务：{name}"),
            format!(
                "因{}（{}），目录「{name}」需要更新。请于 {due} 前完成更新并报送主管部门（第十七条，{UPDATE_DAYS} 个工作日）。",
                obligation.kind.label(),
                obligation.description
            ),
            "/console/catalog/obligations".to_owned(),
        )];
        if let Some(authority) = self.authority_of(provider.region).await?
            && principal.org_id() != Some(authority.id)
        {
            notes.push(Notification::new(
                authority.id,
                self.now(),
                "catalog.obligation",
                format!("目录更新义务：{name}"),
                format!("{}登记了目录「{name}」的更新触发，更新期限 {due}。", provider.name),
                "/console/catalog/obligations".to_owned(),
            ));
        }
        let audit = self.obligation_audit(
            principal,
            &obligation,
            "catalog.obligation.record",
            json!({ "entry": entry.id, "kind": obligation.kind.code(), "changed_on": obligation.changed_on, "due": due }),
        );
        let duties = self.entry_duties(&entry, Some(&obligation)).await?;
        self.store.create_obligation(&obligation, &duties, &notes, &audit).await?;
        self.view(obligation, &entry).await
    }

    /// The provider's work-unit head asks the authority for the one 5-working-day extension.
    pub async fn request_update_extension(
        &self,
        principal: &Principal,
        id: ObligationId,
        reason: &str,
    ) -> Result<ObligationView> {
        let obligation = self.store.get_obligation(id).await?;
        let entry = self.store.get_entry(obligation.entry).await?;
        let provider = self.store.get_org(entry.provider).await?;
        self.authorize(principal, Action::ApproveCatalog(provider.id))?;
        let calendar = self.calendar().await?;
        let status = obligation.status(&entry.events, &calendar, self.now())?;
        let extension = obligation.request_extension(&status, reason, &principal.audit_name(), self.now())?;
        let mut notes = vec![];
        if let Some(authority) = self.authority_of(provider.region).await? {
            notes.push(Notification::new(
                authority.id,
                self.now(),
                "catalog.obligation.extension",
                "目录更新延期申请".to_owned(),
                format!("{}申请将目录更新期限延长 5 个工作日，理由：{}", provider.name, extension.reason),
                "/console/catalog/obligations".to_owned(),
            ));
        }
        let audit = self.obligation_audit(
            principal,
            &obligation,
            "catalog.obligation.extension.request",
            json!({ "reason": extension.reason }),
        );
        let updated = UpdateObligation { extension: Some(extension.clone()), ..obligation };
        let duties = self.entry_duties(&entry, Some(&updated)).await?;
        self.store.set_obligation_extension(id, None, &extension, &duties, &notes, &audit).await?;
        self.view(updated, &entry).await
    }

    /// The same-level authority consents to the extension, or refuses it with a reason.
    pub async fn decide_update_extension(
        &self,
        principal: &Principal,
        id: ObligationId,
        grant: bool,
        note: &str,
    ) -> Result<ObligationView> {
        let obligation = self.store.get_obligation(id).await?;
        let entry = self.store.get_entry(obligation.entry).await?;
        let provider = self.store.get_org(entry.provider).await?;
        self.authorize(principal, Action::ReviewCatalog(provider.region))?;
        let decided = obligation.decide_extension(grant, note, &principal.audit_name(), self.now())?;
        let updated = UpdateObligation { extension: Some(decided.clone()), ..obligation.clone() };
        let calendar = self.calendar().await?;
        let due = updated.status(&entry.events, &calendar, self.now())?.due_date;
        let body = if grant {
            format!("主管部门同意延期，目录更新期限延至 {due}。")
        } else {
            format!("主管部门不同意延期，理由：{}。更新期限仍为 {due}。", note.trim())
        };
        let notes = vec![Notification::new(
            provider.id,
            self.now(),
            "catalog.obligation.extension",
            "目录更新延期审批结果".to_owned(),
            body,
            "/console/catalog/obligations".to_owned(),
        )];
        let audit = self.obligation_audit(
            principal,
            &obligation,
            "catalog.obligation.extension.decide",
            json!({ "granted": grant, "note": note.trim(), "due": due }),
        );
        let duties = self.entry_duties(&entry, Some(&updated)).await?;
        self.store
            .set_obligation_extension(id, obligation.extension.as_ref(), &decided, &duties, &notes, &audit)
            .await?;
        self.view(updated, &entry).await
    }

    /// The obligations the acting organisation deals with: an authority's are those of its region's departments,
    /// a department's its own. Open ones first, by the running deadline.
    pub async fn list_obligations(&self, principal: &Principal) -> Result<Vec<ObligationView>> {
        let org = principal.org.as_ref().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        self.authorize(principal, Action::ViewOwnWork(org.id))?;
        let acting = self.store.get_org(org.id).await?;
        let obligations = if acting.kind == OrgKind::Authority {
            authz::check(principal, Action::ViewCatalogWork(acting.id, acting.region))
                .map_err(|d| ServiceError::Forbidden(d.to_string()))?;
            let all = self.store.list_obligations(None).await?;
            let mut mine = Vec::new();
            for o in all {
                let entry = self.store.get_entry(o.entry).await?;
                if self.store.get_org(entry.provider).await?.region == acting.region {
                    mine.push((o, entry));
                }
            }
            mine
        } else {
            self.authorize(principal, Action::ViewCatalogWork(acting.id, acting.region))?;
            let mut mine = Vec::new();
            for o in self.store.list_obligations(Some(acting.id)).await? {
                let entry = self.store.get_entry(o.entry).await?;
                mine.push((o, entry));
            }
            mine
        };
        let mut views = Vec::with_capacity(obligations.len());
        for (o, entry) in obligations {
            views.push(self.view(o, &entry).await?);
        }
        views.sort_by_key(|v| {
            let running = match v.status.stage {
                ObligationStage::AwaitingAuthority => v.status.review_due_at,
                ObligationStage::AwaitingDepartment => Some(v.status.due_at),
                ObligationStage::Completed => None,
            };
            (v.status.stage == ObligationStage::Completed, running, std::cmp::Reverse(v.obligation.recorded_at))
        });
        Ok(views)
    }
}
