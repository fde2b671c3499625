//! Catalog use cases (R-CAT-1..3; Art. 13, 16): drafting, assessments, the work-unit head's approval, the
//! same-level authority's review and publication, history, and announcement to every department.

use std::collections::HashMap;

use chrono::NaiveDate;
use govshare_domain::ValidationError;
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::{self, Action};
use govshare_domain::catalog::{
    Assessment, AssessmentConclusion, AssessmentId, AssessmentKind, AssessmentReport, CatalogEntry, EntryCommand,
    EntryContent, EntryEvent, EntryId, EntryInput, EntryStatus, EntryVersion, FieldChange, diff, transition,
};
use govshare_domain::error::required_text;
use govshare_domain::notification::Notification;
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::Principal;
use govshare_domain::region::RegionCode;
use serde::Deserialize;
use serde_json::json;

use crate::{Result, ServiceError, Services};

/// An assessment document as submitted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AssessmentInput {
    pub kind: String,
    pub document_title: String,
    pub document_ref: String,
    /// YYYY-MM-DD
    pub assessed_on: String,
    pub conclusion: String,
}

/// An uploaded assessment report file, as it arrived.
#[derive(Debug, Clone)]
pub struct ReportUpload {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// Which entries to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogScope {
    /// Every published entry (the unified catalog all departments see).
    Published,
    /// The acting department's own entries, drafts included.
    Mine,
    /// Entries waiting for the acting authority's review.
    ReviewQueue,
}

fn refused(err: govshare_domain::catalog::TransitionError) -> ServiceError {
    ServiceError::Conflict(err.message)
}

/// A stated reason for sending an entry back: at most `catalog::MAX_RETURN_REASON` characters, no control characters
/// (a missing one is the state machine's refusal).
fn return_reason(reason: &str) -> Result<()> {
    use govshare_domain::catalog::MAX_RETURN_REASON;
    if !reason.trim().is_empty() {
        govshare_domain::error::required_text("reason", "退回理由", reason, MAX_RETURN_REASON)?;
    }
    Ok(())
}

impl Services {
    fn event(&self, principal: &Principal, version: u32, action: &str, note: &str) -> EntryEvent {
        EntryEvent {
            version,
            at: self.now(),
            actor: principal.audit_name(),
            actor_name: principal.display_name(),
            action: action.to_owned(),
            note: note.to_owned(),
        }
    }

    fn audit_for(
        &self,
        principal: &Principal,
        entry: &CatalogEntry,
        action: &str,
        detail: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent::new(principal.audit_name(), principal.org_id(), action, "catalog_entry", entry.id, detail)
    }

    async fn provider_of(&self, entry: &CatalogEntry) -> Result<Organisation> {
        Ok(self.store.get_org(entry.provider).await?)
    }

    /// Creates a draft entry for the acting department.
    pub async fn create_entry(&self, principal: &Principal, input: &EntryInput) -> Result<CatalogEntry> {
        let org = principal.org_id().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        self.authorize(principal, Action::DraftCatalog(org))?;
        let content = EntryContent::parse_all(input, &self.settings.grade_scheme)?;
        let now = self.now();
        let entry = CatalogEntry {
            id: EntryId::new(),
            provider: org,
            created_at: now,
            versions: vec![EntryVersion {
                version: 1,
                status: EntryStatus::Draft,
                content,
                assessments: vec![],
                updated_at: now,
            }],
            events: vec![self.event(principal, 1, "draft.create", "")],
        };
        let audit = self.audit_for(
            principal,
            &entry,
            "catalog.create",
            json!({ "resource_code": entry.latest().content.resource_code }),
        );
        self.store.create_entry(&entry, &audit).await?;
        Ok(entry)
    }

    /// Edits the working draft, or starts a new version when the newest one is published (a revision).
    pub async fn edit_entry(&self, principal: &Principal, id: EntryId, input: &EntryInput) -> Result<CatalogEntry> {
        let entry = self.store.get_entry(id).await?;
        self.authorize(principal, Action::DraftCatalog(entry.provider))?;
        let content = EntryContent::parse_all(input, &self.settings.grade_scheme)?;
        let latest = entry.latest();
        let (version, action) = match latest.status {
            EntryStatus::Published => (
                EntryVersion {
                    version: latest.version + 1,
                    status: EntryStatus::Draft,
                    content,
                    assessments: vec![],
                    updated_at: self.now(),
                },
                "revision.create",
            ),
            status => {
                let status =
                    transition(status, &EntryCommand::Edit, &latest.content, &latest.assessments).map_err(refused)?;
                (EntryVersion { status, content, updated_at: self.now(), ..latest.clone() }, "draft.edit")
            }
        };
        let event = self.event(principal, version.version, action, "");
        let audit = self.audit_for(principal, &entry, "catalog.edit", json!({ "version": version.version }));
        self.store.save_versions(id, std::slice::from_ref(&version), &event, &[], &[], &audit).await?;
        Ok(self.store.get_entry(id).await?)
    }

    /// Deletes a draft entry that was never submitted (made by mistake, or a duplicate), for whoever may edit it.
    /// Anything the head or the authority has had stays on record ([`CatalogEntry::check_deletable`]). The
    /// audit record keeps what was deleted: the code, the name and the number of timeline events.
    pub async fn delete_entry(&self, principal: &Principal, id: EntryId) -> Result<()> {
        let entry = self.store.get_entry(id).await?;
        self.authorize(principal, Action::DraftCatalog(entry.provider))?;
        entry.check_deletable().map_err(refused)?;
        let content = &entry.latest().content;
        let audit = self.audit_for(
            principal,
            &entry,
            "catalog.delete",
            json!({ "resource_code": content.resource_code, "name": content.name, "events": entry.events.len() }),
        );
        Ok(self.store.delete_entry(id, entry.events.len(), &audit).await?)
    }

    /// Attaches a 保密风险评估 or 个人信息保护影响评估 to the working draft (Art. 13).
    pub async fn attach_assessment(
        &self,
        principal: &Principal,
        id: EntryId,
        input: &AssessmentInput,
    ) -> Result<CatalogEntry> {
        self.attach_assessment_with_report(principal, id, input, None).await
    }

    /// [`Self::attach_assessment`] with the report itself (a PDF), checked before anything is written and stored
    /// in the same transaction.
    pub async fn attach_assessment_with_report(
        &self,
        principal: &Principal,
        id: EntryId,
        input: &AssessmentInput,
        report: Option<&ReportUpload>,
    ) -> Result<CatalogEntry> {
        let entry = self.store.get_entry(id).await?;
        self.authorize(principal, Action::DraftCatalog(entry.provider))?;
        let kind = AssessmentKind::parse("kind", &input.kind)?;
        let conclusion = AssessmentConclusion::parse("conclusion", &input.conclusion)?;
        let assessed_on = NaiveDate::parse_from_str(input.assessed_on.trim(), "%Y-%m-%d")
            .map_err(|_| ValidationError::new("assessed_on", "date_format", "评估日期格式应为 YYYY-MM-DD"))?;
        let today = self.now().with_timezone(&govshare_domain::calendar::beijing()).date_naive();
        if assessed_on > today {
            return Err(ValidationError::new("assessed_on", "in_future", "评估日期不能晚于今天").into());
        }
        let assessment = Assessment {
            id: AssessmentId::new(),
            kind,
            document_title: required_text("document_title", "评估报告名称", &input.document_title, 200)?,
            document_ref: required_text("document_ref", "文号", &input.document_ref, 100)?,
            assessed_on,
            conclusion,
            report: match report {
                Some(file) => Some(self.parse_report(principal, file)?),
                None => None,
            },
        };
        let working = entry
            .working()
            .filter(|v| matches!(v.status, EntryStatus::Draft | EntryStatus::Returned))
            .ok_or_else(|| ServiceError::Conflict("只有草稿或被退回的目录可以附加评估".into()))?;
        let mut version = working.clone();
        version.assessments.push(assessment);
        version.updated_at = self.now();
        let note = format!("{}：{}", kind.label(), conclusion.label());
        let event = self.event(principal, version.version, "assessment.attach", &note);
        let stored = version.assessments.last().and_then(|a| a.report.clone());
        let audit = self.audit_for(
            principal,
            &entry,
            "catalog.assessment.attach",
            json!({
                "kind": kind.code(),
                "conclusion": conclusion.code(),
                "file_name": stored.as_ref().map(|r| r.file_name.clone()),
                "sm3": stored.as_ref().map(|r| r.sm3.clone()),
            }),
        );
        match (stored, report) {
            (Some(meta), Some(file)) => {
                let added = Some((meta.id, file.bytes.as_slice()));
                self.store.save_assessments(id, &version, added, None, &event, &audit).await?;
            }
            _ => self.store.save_versions(id, std::slice::from_ref(&version), &event, &[], &[], &audit).await?,
        }
        Ok(self.store.get_entry(id).await?)
    }

    fn parse_report(&self, principal: &Principal, file: &ReportUpload) -> Result<AssessmentReport> {
        Ok(AssessmentReport::parse(&file.file_name, &file.bytes, self.now(), &principal.display_name())?)
    }

    /// Uploads (or replaces) the report file of an assessment of the working draft, while it is editable; the file
    /// must be a PDF (by its content) of at most 10 MiB. A refused file leaves nothing behind; a replaced one is
    /// deleted in the same transaction. Audited with the file's SM3 digest.
    pub async fn upload_assessment_report(
        &self,
        principal: &Principal,
        id: EntryId,
        assessment: AssessmentId,
        file: &ReportUpload,
    ) -> Result<CatalogEntry> {
        let entry = self.store.get_entry(id).await?;
        self.authorize(principal, Action::DraftCatalog(entry.provider))?;
        let report = self.parse_report(principal, file)?;
        let (mut version, replaced) = entry
            .with_report(assessment, report.clone())
            .map_err(refused)?
            .ok_or_else(|| ServiceError::NotFound("该评估不存在".into()))?;
        version.updated_at = self.now();
        let kind = version.assessments.iter().find(|a| a.id == assessment).map(|a| a.kind.label()).unwrap_or_default();
        let note = format!("{kind}：{}（{}）", report.file_name, report.size_text());
        let event = self.event(principal, version.version, "assessment.report", &note);
        let audit = self.audit_for(
            principal,
            &entry,
            "catalog.assessment.report",
            json!({
                "version": version.version,
                "file_name": report.file_name,
                "size": report.size,
                "sm3": report.sm3,
                "replaced": replaced.as_ref().map(|r| r.sm3.clone()),
            }),
        );
        let added = Some((report.id, file.bytes.as_slice()));
        self.store.save_assessments(id, &version, added, replaced.map(|r| r.id), &event, &audit).await?;
        Ok(self.store.get_entry(id).await?)
    }

    /// The report file of an assessment, for whoever may see the version it belongs to (the catalog's one
    /// visibility rule): its description and its bytes, checked against the SM3 digest recorded at upload.
    /// Every download is audited (who read which report) before the bytes are handed out.
    pub async fn assessment_report(
        &self,
        principal: &Principal,
        id: EntryId,
        assessment: AssessmentId,
    ) -> Result<(AssessmentReport, Vec<u8>)> {
        let entry = self.get_entry(principal, id).await?;
        let found = entry
            .versions
            .iter()
            .flat_map(|v| &v.assessments)
            .find(|a| a.id == assessment)
            .ok_or_else(|| ServiceError::NotFound("该评估不存在".into()))?;
        let report = found.report.clone().ok_or_else(|| ServiceError::NotFound("该评估未上传报告文件".into()))?;
        let bytes = self
            .store
            .report_file(id, report.id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("评估报告文件不存在".into()))?;
        if govshare_domain::catalog::file_sm3(&bytes) != report.sm3 {
            return Err(ServiceError::Internal(
                format!("assessment report {} of entry {id} does not match its recorded SM3 digest", report.id).into(),
            ));
        }
        let audit = self.audit_for(
            principal,
            &entry,
            "catalog.assessment.report.download",
            json!({ "assessment": assessment, "file_name": report.file_name, "sm3": report.sm3 }),
        );
        self.store.append_audit(&audit).await?;
        Ok((report, bytes))
    }

    /// Takes a wrongly attached assessment off the working draft, while it is editable (a draft, or returned);
    /// an assessment of a submitted or published version stays (409). Audited, and on the entry's timeline.
    pub async fn remove_assessment(
        &self,
        principal: &Principal,
        id: EntryId,
        assessment: AssessmentId,
    ) -> Result<CatalogEntry> {
        let entry = self.store.get_entry(id).await?;
        self.authorize(principal, Action::DraftCatalog(entry.provider))?;
        let (mut version, removed) = entry
            .without_assessment(assessment)
            .map_err(refused)?
            .ok_or_else(|| ServiceError::NotFound("该评估不存在".into()))?;
        version.updated_at = self.now();
        let note = format!("{}：{}（{}）", removed.kind.label(), removed.document_title, removed.document_ref);
        let dropped = removed.report.as_ref().map(|r| r.id);
        let event = self.event(principal, version.version, "assessment.remove", &note);
        let audit = self.audit_for(
            principal,
            &entry,
            "catalog.assessment.remove",
            json!({
                "version": version.version,
                "kind": removed.kind.code(),
                "name": removed.document_title,
                "document_ref": removed.document_ref,
                "sm3": removed.report.as_ref().map(|r| r.sm3.clone()),
            }),
        );
        self.store.save_assessments(id, &version, None, dropped, &event, &audit).await?;
        Ok(self.store.get_entry(id).await?)
    }

    /// Moves the working version through the lifecycle, as the principal's role allows.
    async fn advance(
        &self,
        principal: &Principal,
        entry: &CatalogEntry,
        command: EntryCommand,
        action: &str,
        note: &str,
        notifications: Vec<Notification>,
    ) -> Result<CatalogEntry> {
        let working = entry.working().ok_or_else(|| ServiceError::Conflict("该目录没有待办理的版本".into()))?;
        let status = transition(working.status, &command, &working.content, &working.assessments).map_err(refused)?;
        let mut versions = vec![EntryVersion { status, updated_at: self.now(), ..working.clone() }];
        if status == EntryStatus::Published
            && let Some(previous) = entry.published()
        {
            let superseded =
                transition(previous.status, &EntryCommand::Supersede, &previous.content, &previous.assessments)
                    .map_err(refused)?;
            versions.push(EntryVersion { status: superseded, ..previous.clone() });
        }
        let event = self.event(principal, working.version, action, note);
        let audit = self.audit_for(
            principal,
            entry,
            &format!("catalog.{action}"),
            json!({ "version": working.version, "note": note }),
        );
        let duties = self.entry_duties(&entry_after(entry, &versions, &event), None).await?;
        self.store.save_versions(entry.id, &versions, &event, &duties, &notifications, &audit).await?;
        Ok(self.store.get_entry(entry.id).await?)
    }

    /// The clerk submits the working draft to the work-unit head.
    pub async fn submit_entry(&self, principal: &Principal, id: EntryId) -> Result<CatalogEntry> {
        let entry = self.store.get_entry(id).await?;
        self.authorize(principal, Action::DraftCatalog(entry.provider))?;
        let name = entry.latest().content.name.clone();
        let note = Notification::new(
            entry.provider,
            self.now(),
            "catalog.submitted",
            format!("待审核的目录：{name}"),
            format!("经办人提交了目录「{name}」，请工作机构负责人审核后报送主管部门（第十六条）。"),
            format!("/console/catalog/{id}"),
        );
        self.advance(principal, &entry, EntryCommand::SubmitToHead, "draft.submit", "", vec![note]).await
    }

    /// The work-unit head approves (the entry goes to the same-level authority) or sends it back with a reason.
    pub async fn head_decide(
        &self,
        principal: &Principal,
        id: EntryId,
        approve: bool,
        reason: &str,
    ) -> Result<CatalogEntry> {
        let entry = self.store.get_entry(id).await?;
        self.authorize(principal, Action::ApproveCatalog(entry.provider))?;
        let provider = self.provider_of(&entry).await?;
        if approve {
            let authority = self.authority_of(provider.region).await?.ok_or_else(|| {
                ServiceError::Conflict(format!("行政区划 {} 尚未设立主管部门，无法报送", provider.region))
            })?;
            let name = &entry.working().map(|v| v.content.name.clone()).unwrap_or_default();
            let note = Notification::new(
                authority.id,
                self.now(),
                "catalog.submitted",
                format!("待审核目录：{name}"),
                format!("{}报送了目录「{name}」，请审核发布（第十六条）。", provider.name),
                format!("/console/catalog/{}", entry.id),
            );
            self.advance(principal, &entry, EntryCommand::HeadApprove, "head.approve", "", vec![note]).await
        } else {
            return_reason(reason)?;
            let command = EntryCommand::HeadReject { reason: reason.to_owned() };
            self.advance(principal, &entry, command, "head.reject", reason.trim(), vec![]).await
        }
    }

    /// The same-level authority publishes the entry (announcing it to every department) or returns it with reasons.
    pub async fn review_entry(
        &self,
        principal: &Principal,
        id: EntryId,
        publish: bool,
        reasons: &str,
    ) -> Result<CatalogEntry> {
        let entry = self.store.get_entry(id).await?;
        let provider = self.provider_of(&entry).await?;
        self.authorize(principal, Action::ReviewCatalog(provider.region))?;
        let name = entry.working().map(|v| v.content.name.clone()).unwrap_or_default();
        let link = format!("/console/catalog/{}", entry.id);
        if publish {
            let now = self.now();
            let notes = self
                .store
                .list_orgs()
                .await?
                .into_iter()
                .map(|org| {
                    Notification::new(
                        org.id,
                        now,
                        "catalog.published",
                        format!("目录发布：{name}"),
                        format!("{}的目录「{name}」已审核发布，可据此提出共享申请。", provider.name),
                        link.clone(),
                    )
                })
                .collect();
            let published =
                self.advance(principal, &entry, EntryCommand::Publish, "authority.publish", "", notes).await?;
            self.index_published(&published).await;
            Ok(published)
        } else {
            return_reason(reasons)?;
            let note = Notification::new(
                provider.id,
                self.now(),
                "catalog.returned",
                format!("目录被退回：{name}"),
                format!("主管部门退回了目录「{name}」，理由：{}", reasons.trim()),
                link,
            );
            let command = EntryCommand::Return { reasons: reasons.to_owned() };
            self.advance(principal, &entry, command, "authority.return", reasons.trim(), vec![note]).await
        }
    }

    /// The one visibility rule of the catalog, for every list, search, export and detail: the provider's
    /// people, its same-level authority and the administrator see every version; everyone else sees only the
    /// published and superseded versions and their events, and nothing of an entry never published.
    fn visible_entry(
        principal: &Principal,
        mut entry: CatalogEntry,
        provider_region: RegionCode,
    ) -> Option<CatalogEntry> {
        if authz::check(principal, Action::ViewCatalogWork(entry.provider, provider_region)).is_ok() {
            return Some(entry);
        }
        entry.versions.retain(|v| matches!(v.status, EntryStatus::Published | EntryStatus::Superseded));
        if entry.versions.is_empty() {
            return None;
        }
        let visible: Vec<u32> = entry.versions.iter().map(|v| v.version).collect();
        entry.events.retain(|e| visible.contains(&e.version));
        Some(entry)
    }

    /// Entries as the principal may see them (see [`Self::visible_entry`]), reading the organisations once.
    async fn visible_entries(&self, principal: &Principal, entries: Vec<CatalogEntry>) -> Result<Vec<CatalogEntry>> {
        let regions: HashMap<OrgId, RegionCode> =
            self.store.list_orgs().await?.into_iter().map(|o| (o.id, o.region)).collect();
        Ok(entries
            .into_iter()
            .filter_map(|e| {
                let region = *regions.get(&e.provider)?;
                Self::visible_entry(principal, e, region)
            })
            .collect())
    }

    /// An entry as the principal may see it: everyone sees published versions; unpublished ones only the provider,
    /// its same-level authority and the administrator.
    pub async fn get_entry(&self, principal: &Principal, id: EntryId) -> Result<CatalogEntry> {
        self.authorize(principal, Action::ViewDirectory)?;
        let entry = self.store.get_entry(id).await?;
        let provider = self.provider_of(&entry).await?;
        Self::visible_entry(principal, entry, provider.region)
            .ok_or_else(|| ServiceError::NotFound("目录不存在或尚未发布".into()))
    }

    pub async fn list_entries(&self, principal: &Principal, scope: CatalogScope) -> Result<Vec<CatalogEntry>> {
        self.authorize(principal, Action::ViewDirectory)?;
        let org = principal.org.as_ref().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        let entries = match scope {
            CatalogScope::Published => {
                let mut entries = self.store.list_entries(None).await?;
                entries.retain(|e| e.published().is_some());
                entries
            }
            CatalogScope::Mine => {
                self.authorize(principal, Action::DraftCatalog(org.id))?;
                self.store.list_entries(Some(org.id)).await?
            }
            CatalogScope::ReviewQueue => {
                self.authorize(principal, Action::ReviewCatalog(org.region))?;
                if org.kind != OrgKind::Authority {
                    return Ok(vec![]);
                }
                let providers: Vec<_> = self
                    .store
                    .list_orgs()
                    .await?
                    .into_iter()
                    .filter(|o| o.region == org.region)
                    .map(|o| o.id)
                    .collect();
                let mut entries = self.store.list_entries(None).await?;
                entries.retain(|e| {
                    providers.contains(&e.provider)
                        && e.working().is_some_and(|v| v.status == EntryStatus::SubmittedToAuthority)
                });
                entries
            }
        };
        self.visible_entries(principal, entries).await
    }

    /// What changed between two versions of an entry the principal can see.
    pub async fn entry_diff(&self, principal: &Principal, id: EntryId, from: u32, to: u32) -> Result<Vec<FieldChange>> {
        let entry = self.get_entry(principal, id).await?;
        let version = |n: u32| entry.version(n).ok_or_else(|| ServiceError::NotFound(format!("版本 {n} 不存在")));
        Ok(diff(&version(from)?.content, &version(to)?.content))
    }

    pub async fn notifications(&self, principal: &Principal, limit: u32) -> Result<Vec<Notification>> {
        let org = principal.org_id().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        self.authorize(principal, Action::ViewOwnWork(org))?;
        Ok(self.store.notifications(org, &principal.audit_name(), limit.clamp(1, 200)).await?)
    }

    pub async fn mark_notification_read(&self, principal: &Principal, id: uuid::Uuid) -> Result<()> {
        let org = principal.org_id().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        self.authorize(principal, Action::ViewOwnWork(org))?;
        Ok(self.store.mark_notification_read(org, &principal.audit_name(), id, self.now()).await?)
    }
}

/// The entry as a step leaves it: its versions replaced or added, the step's event appended.
fn entry_after(entry: &CatalogEntry, versions: &[EntryVersion], event: &EntryEvent) -> CatalogEntry {
    let mut after = entry.clone();
    for v in versions {
        match after.versions.iter_mut().find(|x| x.version == v.version) {
            Some(x) => *x = v.clone(),
            None => after.versions.push(v.clone()),
        }
    }
    after.events.push(event.clone());
    after
}
