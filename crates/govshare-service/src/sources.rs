//! Sources of record and the duplicate-collection check (R-CAT-7, Art. 19).

use std::collections::HashSet;

use govshare_domain::ValidationError;
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::Action;
use govshare_domain::catalog::EntryStatus;
use govshare_domain::notification::Notification;
use govshare_domain::org::OrgKind;
use govshare_domain::principal::Principal;
use govshare_domain::source::{
    DesignationInput, FieldCheck, FieldSource, SourceDesignation, designation_covers, field_aliases, item_matches,
    split_list,
};
use govshare_search::SearchQuery;
use serde_json::json;

use crate::{Result, ServiceError, Services};

/// Most fields one check takes (a long form), and most sources listed per field.
const MAX_FIELDS: usize = 200;
const MAX_SOURCES: usize = 20;

impl Services {
    /// The authority designates the source-of-record department for a data subject in its region; a later
    /// designation of the same subject replaces the earlier one.
    pub async fn designate_source(&self, principal: &Principal, input: &DesignationInput) -> Result<SourceDesignation> {
        let org = principal.org.as_ref().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        let authority = self.store.get_org(org.id).await?;
        if authority.kind != OrgKind::Authority {
            return Err(ServiceError::Forbidden("只有政务数据共享主管部门可以认定数源部门".into()));
        }
        self.authorize(principal, Action::ReviewCatalog(authority.region))?;
        let parsed = input.parse()?;
        let source = self
            .store
            .get_org(parsed.source_org)
            .await
            .map_err(|_| ValidationError::new("source_org", "unknown", "数源部门不存在"))?;
        if source.kind != OrgKind::Department || source.region != authority.region {
            return Err(ValidationError::new("source_org", "region", "数源部门应为本级行政区划内的政府部门").into());
        }
        if let Some(entry_id) = parsed.entry {
            let entry = self
                .store
                .get_entry(entry_id)
                .await
                .map_err(|_| ValidationError::new("entry", "unknown", "目录不存在"))?;
            if entry.provider != source.id || entry.published().is_none() {
                return Err(ValidationError::new("entry", "provider", "应选择数源部门已发布的目录").into());
            }
        }
        let designation = SourceDesignation {
            id: uuid::Uuid::now_v7(),
            region: authority.region,
            subject: parsed.subject,
            items: parsed.items,
            source_org: source.id,
            entry: parsed.entry,
            basis: parsed.basis,
            designated_by: principal.audit_name(),
            designated_at: self.now(),
        };
        let note = Notification::new(
            source.id,
            self.now(),
            "catalog.source_of_record",
            format!("数源部门认定：{}", designation.subject),
            format!(
                "{}认定本单位为「{}」（{}）的数源部门（第十九条），请及时完善更新并统一提供共享服务。",
                authority.name,
                designation.subject,
                designation.items.join("、")
            ),
            "/console/catalog/sources".to_owned(),
        );
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "catalog.source.designate",
            "source_designation",
            designation.id,
            json!({ "subject": designation.subject, "source_org": source.id, "items": designation.items }),
        );
        self.store.save_designation(&designation, &[note], &audit).await?;
        Ok(designation)
    }

    /// Every designation (the people of any organisation may see who the sources of record are).
    pub async fn list_designations(&self, principal: &Principal) -> Result<Vec<SourceDesignation>> {
        self.authorize(principal, Action::ConsultCatalog)?;
        Ok(self.store.list_designations(None).await?)
    }

    /// Checks a form's fields against the published catalog: which can be obtained by sharing instead of being
    /// collected again, and from whom (sources of record first).
    pub async fn check_collection(&self, principal: &Principal, fields: &str) -> Result<Vec<FieldCheck>> {
        self.authorize(principal, Action::ConsultCatalog)?;
        let fields = split_list(fields);
        if fields.is_empty() {
            return Err(ValidationError::new("fields", "required", "请列出表单字段，每行一个或以顿号分隔").into());
        }
        if fields.len() > MAX_FIELDS {
            return Err(ValidationError::new("fields", "too_many", format!("一次最多核对 {MAX_FIELDS} 个字段")).into());
        }
        self.ensure_index().await?;
        let designations = self.store.list_designations(None).await?;
        let orgs = self.store.list_orgs().await?;
        let mut checks = Vec::with_capacity(fields.len());
        for field in fields {
            let aliases = field_aliases(&field);
            let sources_of_record: Vec<&SourceDesignation> =
                designations.iter().filter(|d| designation_covers(d, &aliases)).collect();
            let mut seen = HashSet::new();
            let mut sources = Vec::new();
            // The designated entries first, whatever the index ranks.
            for d in &sources_of_record {
                let Some(entry_id) = d.entry else { continue };
                let Ok(entry) = self.store.get_entry(entry_id).await else { continue };
                let Some(v) = entry.versions.iter().rev().find(|v| v.status == EntryStatus::Published) else {
                    continue;
                };
                if let Some(item) = v.content.items.iter().find(|i| item_matches(&aliases, &i.name, &i.code))
                    && seen.insert(entry.id)
                {
                    sources.push(FieldSource {
                        entry: entry.id,
                        entry_name: v.content.name.clone(),
                        provider: entry.provider,
                        provider_name: orgs
                            .iter()
                            .find(|o| o.id == entry.provider)
                            .map(|o| o.name.clone())
                            .unwrap_or_default(),
                        item_name: item.name.clone(),
                        attribute: v.content.sharing.attribute(),
                        source_of_record: true,
                    });
                }
            }
            for alias in &aliases {
                let query = SearchQuery { text: alias.clone(), limit: 50, ..Default::default() };
                let found = self.search.search(&query).map_err(|e| ServiceError::Internal(Box::new(e)))?;
                for doc in found.hits {
                    if sources.len() >= MAX_SOURCES {
                        break;
                    }
                    let Some((item_name, _)) = doc.items.iter().find(|(n, c)| item_matches(&aliases, n, c)) else {
                        continue;
                    };
                    if !seen.insert(doc.id) {
                        continue;
                    }
                    sources.push(FieldSource {
                        entry: doc.id,
                        entry_name: doc.name.clone(),
                        provider: doc.provider,
                        provider_name: doc.provider_name.clone(),
                        item_name: item_name.clone(),
                        attribute: doc.attribute,
                        source_of_record: sources_of_record.iter().any(|d| d.source_org == doc.provider),
                    });
                }
            }
            checks.push(FieldCheck::new(field, sources));
        }
        Ok(checks)
    }
}
