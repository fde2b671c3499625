//! Batch import and export of the catalog (R-CAT-6).

use govshare_domain::ValidationError;
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::Action;
use govshare_domain::catalog::{CatalogEntry, EntryContent, EntryEvent, EntryId, EntryStatus, EntryVersion};
use govshare_domain::principal::Principal;
use govshare_interchange::{ExportEntry, ImportReport, InterchangeError};
use serde::Serialize;
use serde_json::json;

use crate::{CatalogScope, Result, ServiceError, Services};

/// Largest workbook accepted (bytes).
pub const MAX_IMPORT_BYTES: usize = 10 * 1024 * 1024;
/// Most entries one workbook may create.
const MAX_IMPORT_ENTRIES: usize = 5_000;

/// What an import did: the per-cell report, and the drafts it created (none when the file had errors and the
/// caller did not choose to import the valid entries).
#[derive(Debug, Clone, Serialize)]
pub struct ImportOutcome {
    pub report: ImportReport,
    pub created: Vec<EntryId>,
}

fn unreadable(err: InterchangeError) -> ServiceError {
    match err {
        InterchangeError::Unreadable(message) => ValidationError::new("file", "unreadable", message).into(),
        other => ServiceError::Internal(Box::new(other)),
    }
}

impl Services {
    /// The empty import template, with drop-down lists from the configured grade scheme.
    pub fn catalog_template(&self, principal: &Principal) -> Result<Vec<u8>> {
        self.authorize(principal, Action::ViewDirectory)?;
        govshare_interchange::template_xlsx(&self.settings.grade_scheme).map_err(unreadable)
    }

    /// Imports a workbook as drafts of the acting department. A file with any error creates nothing unless
    /// `accept_valid` is set, in which case the entries without errors are created; either way in one transaction.
    pub async fn import_catalog(
        &self,
        principal: &Principal,
        bytes: &[u8],
        accept_valid: bool,
    ) -> Result<ImportOutcome> {
        let org = principal.org_id().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        self.authorize(principal, Action::DraftCatalog(org))?;
        if bytes.len() > MAX_IMPORT_BYTES {
            return Err(ValidationError::new("file", "too_large", "文件不能超过 10 MB").into());
        }
        let report = govshare_interchange::parse_xlsx(bytes, &self.settings.grade_scheme).map_err(unreadable)?;
        if report.entries.is_empty() {
            return Err(ValidationError::new("file", "empty", "文件中没有任何目录").into());
        }
        if report.entries.len() > MAX_IMPORT_ENTRIES {
            return Err(
                ValidationError::new("file", "too_many", format!("一次最多导入 {MAX_IMPORT_ENTRIES} 条目录")).into()
            );
        }
        if !report.is_clean() && !accept_valid {
            return Ok(ImportOutcome { report, created: vec![] });
        }
        let now = self.now();
        let mut entries = Vec::new();
        for input in report.valid_inputs() {
            let content = EntryContent::parse(input, &self.settings.grade_scheme)?;
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
                events: vec![EntryEvent {
                    version: 1,
                    at: now,
                    actor: principal.audit_name(),
                    actor_name: principal.display_name(),
                    action: "draft.import".into(),
                    note: "Excel 批量导入".into(),
                }],
            };
            entries.push(entry);
        }
        let codes: Vec<&str> = entries.iter().map(|e| e.latest().content.resource_code.as_str()).collect();
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(org),
            "catalog.import",
            "catalog_entry",
            format!("{} entries", entries.len()),
            json!({ "resource_codes": codes, "skipped_rows": report.entries.iter().filter(|e| !e.valid).map(|e| e.row).collect::<Vec<_>>() }),
        );
        if !entries.is_empty() {
            self.store.create_entries(&entries, &audit).await?;
        }
        Ok(ImportOutcome { created: entries.iter().map(|e| e.id).collect(), report })
    }

    /// The published catalog (`CatalogScope::Published`) or the acting department's own published entries
    /// (`CatalogScope::Mine`), ready for Excel or DCAT export.
    pub async fn export_catalog(&self, principal: &Principal, scope: CatalogScope) -> Result<Vec<ExportEntry>> {
        let entries = self.list_entries(principal, scope).await?;
        let orgs = self.store.list_orgs().await?;
        let export: Vec<ExportEntry> = entries
            .iter()
            .filter_map(|e| {
                let v = e.published()?;
                let provider = orgs.iter().find(|o| o.id == e.provider)?;
                Some(ExportEntry {
                    id: e.id.to_string(),
                    content: v.content.clone(),
                    provider_name: provider.name.clone(),
                    provider_credit_code: provider.credit_code.to_string(),
                    version: v.version,
                    published_at: Some(v.updated_at),
                })
            })
            .collect();
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "catalog.export",
            "catalog",
            format!("{} entries", export.len()),
            json!({ "entries": export.len() }),
        );
        self.store.append_audit(&audit).await?;
        Ok(export)
    }

    pub fn export_xlsx(&self, entries: &[ExportEntry]) -> Result<Vec<u8>> {
        govshare_interchange::export_xlsx(entries, &self.settings.grade_scheme).map_err(unreadable)
    }
}
