//! The data plane (R-DEL-1..5; Art. 22, 25, 29): data sources and their loads, grants made from approved
//! applications, and governed delivery — lookups, queries, verification, the bulk-exchange feed and signed file
//! downloads — every access leaving one usage record before any data leaves.
//!
//! ## The governed path
//! 1. the grant (from a short-lived in-process cache, dropped at once when this instance changes the grant),
//! 2. `authz::check(UseGrant)` — only the requester's systems and people,
//! 3. `Grant::check_access` — status, validity dates, delivery method,
//! 4. the rate limit (per grant, per instance),
//! 5. the record(s): hosted (decrypted if the entry's grade requires encryption) or fetched from the provider's
//!    service, kept only inside the row scope,
//! 6. `Grant::project` — permitted items only, each masked as granted,
//! 7. the daily volume limit,
//! 8. the usage record, appended by the usage log (group commit) and acknowledged **before** the answer is
//!    returned. If it cannot be written, the data does not leave.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, NaiveTime, Utc};
use govshare_domain::application::{Application, ApplicationId, Stage, Step};
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::Action;
use govshare_domain::calendar::beijing;
use govshare_domain::catalog::{DeliveryMethod, EntryContent, EntryId};
use govshare_domain::grant::{Grant, GrantBasis, GrantId, GrantInput, UsageRecord};
use govshare_domain::notification::Notification;
use govshare_domain::org::{OrgId, Organisation};
use govshare_domain::principal::{Actor, Principal};
use govshare_domain::record::{
    ColumnMap, DataSource, LoadCounts, LoadMode, Record, RowError, SourceInput, SourceKind, SourceLoad, key_of,
};
use govshare_domain::{ValidationError, authz};
use govshare_interchange::records::{RecordFormat, RowReader};
use govshare_store::{RecordFeed, StoreError, StoredRecord, UsageFilter};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::crypto::{NodeKeys, sm3_hex};
use crate::{Result, ServiceError, Services};

mod delivery;
pub use delivery::{DISPUTED_COLUMN, Download, EXPORT_CHUNK, Export, MAX_XLSX_ROWS};

/// How long a grant or source read from the store is reused by this instance. Changes made through this
/// instance take effect at once (the cache entry is dropped); changes made through another instance within this
/// time.
pub const CACHE_TTL: StdDuration = StdDuration::from_secs(1);
/// At most this many rows per query page, per bulk-exchange page.
pub const MAX_PAGE: u32 = 1000;
/// Rows a query examines per request when filtering by non-key items (it then returns a cursor).
const SCAN_BUDGET: usize = 20_000;
/// Rows per batch handed to the store during a load.
const LOAD_BATCH: usize = 1000;
/// Rows with errors a load reports (the count is always complete).
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// A usage record waiting for the log, and where to say it is durable.
type UsageEntry = (UsageRecord, oneshot::Sender<Result<(), String>>);

/// In-process state of the data plane: caches, rate counters, the usage log and the HTTP client for proxies.
#[derive(Debug, Default)]
pub struct DataPlane {
    grants: std::sync::RwLock<HashMap<GrantId, (Arc<Grant>, Instant)>>,
    sources: std::sync::RwLock<HashMap<EntryId, (Arc<SourceContext>, Instant)>>,
    rates: std::sync::Mutex<HashMap<GrantId, (i64, u32)>>,
    volumes: Mutex<HashMap<GrantId, (chrono::NaiveDate, u64)>>,
    usage_log: tokio::sync::OnceCell<mpsc::Sender<UsageEntry>>,
    http: std::sync::OnceLock<reqwest::Client>,
    written: AtomicU64,
    /// The corrections on each entry's records (disputed records, versions corrections wrote), by entry.
    marks: std::sync::RwLock<HashMap<EntryId, (Arc<Marks>, Instant)>>,
    /// API credentials with their secret digest and organisation, by id (see `authenticate_api_key`).
    pub(crate) credentials:
        std::sync::RwLock<HashMap<govshare_domain::principal::CredentialId, (CachedCredential, Instant)>>,
}

/// What the data plane flags on an entry's records (Art. 26): the records under review (异议标注) and the
/// versions corrections wrote, each with the correction's number.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    disputed: HashMap<String, String>,
    corrected: HashMap<i64, String>,
}

impl Marks {
    fn disputed(&self, record_key: &str) -> Option<String> {
        self.disputed.get(record_key).cloned()
    }
}

/// A row of an answer whose record is under a correction request: other users know it is disputed.
#[derive(Debug, Clone, Serialize)]
pub struct DisputedRow {
    /// The row's index in `rows`.
    pub row: usize,
    /// The correction request's number (校核编号).
    pub correction: String,
}

pub(crate) type CachedCredential = (govshare_domain::principal::ApiCredential, String, Organisation);

/// What serving an entry needs: its source and the content of its published version.
#[derive(Debug)]
pub struct SourceContext {
    pub source: DataSource,
    pub content: EntryContent,
}

/// One answer of the data plane: rows (already projected and masked) and, for pages, where to go on.
#[derive(Debug, Clone, Serialize)]
pub struct DataAnswer {
    pub grant_id: GrantId,
    pub items: Vec<String>,
    pub rows: Vec<Record>,
    /// Query: the key to continue after; bulk exchange: the sequence number to continue after.
    pub next_cursor: Option<String>,
    pub has_more: bool,
    /// The rows whose record is under review (异议标注, Art. 26): its values are contested until answered.
    pub disputed: Vec<DisputedRow>,
}

/// One row of the bulk-exchange feed.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeRow {
    pub seq: i64,
    /// `upsert` or `delete` (a deleted record carries its granted items as they were).
    pub op: &'static str,
    pub record: Record,
    /// The correction request the record is under review by (异议标注), if any.
    pub disputed: Option<String>,
    /// The correction that wrote this version, if a correction did.
    pub correction: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangesAnswer {
    pub grant_id: GrantId,
    pub items: Vec<String>,
    pub changes: Vec<ChangeRow>,
    pub next_cursor: i64,
    pub has_more: bool,
}

/// What a load did, or why it did nothing.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The load as kept in the source's history; `None` when nothing was loaded.
    pub load: Option<SourceLoad>,
    pub rows_read: u64,
    pub rows_with_errors: u64,
    /// The first errors, by row and column.
    pub errors: Vec<RowError>,
}

/// What a loader asked for.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    pub format: String,
    pub mode: String,
    /// Load the valid rows of a file with errors (the errors are still reported).
    pub accept_valid: bool,
    pub file_name: String,
}

/// A selection of usage records within what the caller may read (see [`Services::search_usage`]).
#[derive(Debug, Clone, Default)]
pub struct UsageSearch {
    /// Only records where this organisation is the other side.
    pub counterpart: Option<OrgId>,
    pub since: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    pub offset: u64,
    pub limit: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrantView {
    pub grant: Grant,
    pub status: govshare_domain::grant::GrantStatus,
    pub requester_name: String,
    pub provider_name: String,
    pub entry_name: String,
}

fn caller_system(principal: &Principal) -> Option<String> {
    match &principal.actor {
        Actor::System { name, .. } => Some(name.clone()),
        _ => None,
    }
}

/// A record's stored form under `lookup`: its scope value, the SM3 of its canonical JSON, and the JSON itself,
/// SM4-sealed when the source is `encrypted`. Loads and corrections store records only through this.
pub(crate) fn stored_record(
    keys: &NodeKeys,
    encrypted: bool,
    scope_item: Option<&str>,
    lookup: String,
    record: &Record,
) -> StoredRecord {
    let scope = scope_item.and_then(|s| key_of(record, s)).unwrap_or_default();
    let plain = canonical(record);
    let digest = sm3_hex(&plain);
    let payload = if encrypted { keys.encrypt(&plain) } else { plain };
    StoredRecord { key: lookup, scope, seq: 0, digest, payload, deleted: false }
}

fn canonical(record: &Record) -> Vec<u8> {
    // serde_json's Map is ordered by key (no preserve_order feature): the encoding is canonical.
    serde_json::to_vec(record).expect("records serialise")
}

impl Services {
    /// A grant as in force now: a filed narrowing whose day has come is applied ([`Grant::settle`]); the next step
    /// stores it so.
    pub(crate) async fn load_grant(&self, id: GrantId) -> Result<Grant> {
        let mut grant = self.store.get_grant(id).await?;
        grant.settle(self.now());
        Ok(grant)
    }

    /// Drops this instance's cached copy of a grant: a change made here takes effect at once.
    pub(crate) fn forget_grant(&self, id: GrantId) {
        self.plane.grants.write().expect("lock").remove(&id);
    }

    pub fn node_keys(&self) -> &NodeKeys {
        &self.keys
    }

    // ---- sources ----

    async fn entry_for_source(&self, entry: EntryId) -> Result<(govshare_domain::catalog::CatalogEntry, EntryContent)> {
        let stored = self.store.get_entry(entry).await?;
        let content = stored
            .published()
            .map(|v| v.content.clone())
            .ok_or_else(|| ServiceError::Conflict("目录尚未发布，发布后才能绑定数据源".into()))?;
        Ok((stored, content))
    }

    /// Binds (or rebinds) the entry's data source. Hosted records are encrypted with SM4 when the entry's grade
    /// is level 3 or above, or of a class above the scheme's lowest (重要数据, 核心数据).
    pub async fn bind_source(&self, principal: &Principal, entry: EntryId, input: &SourceInput) -> Result<DataSource> {
        let (stored, content) = self.entry_for_source(entry).await?;
        self.authorize(principal, Action::ManageSource(stored.provider))?;
        let kind = SourceKind::parse(input, &content)?;
        if let Some(existing) = self.store.get_source(entry).await?
            && existing.kind.key_item() != kind.key_item()
            && !self.store.source_loads(entry, 1).await?.is_empty()
        {
            return Err(ValidationError::new(
                "key_item",
                "already_loaded",
                "数据源已加载数据，不能更换主键数据项；请联系平台管理员迁移",
            )
            .into());
        }
        let lowest = self.settings.grade_scheme.classes.last().cloned().unwrap_or_default();
        let encrypted = content.grade.level >= 3 || content.grade.class != lowest;
        let source = DataSource { entry, kind, encrypted, updated_at: self.now(), updated_by: principal.audit_name() };
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(stored.provider),
            "source.bind",
            "catalog_entry",
            entry.to_string(),
            json!({ "kind": source.kind, "encrypted": encrypted }),
        );
        self.store.save_source(&source, &audit).await?;
        self.plane.sources.write().expect("lock").remove(&entry);
        Ok(source)
    }

    pub async fn get_source(
        &self,
        principal: &Principal,
        entry: EntryId,
    ) -> Result<(Option<DataSource>, Vec<SourceLoad>)> {
        let stored = self.store.get_entry(entry).await?;
        let provider = self.store.get_org(stored.provider).await?;
        self.authorize(principal, Action::ViewSource { provider: provider.id, provider_region: provider.region })?;
        Ok((self.store.get_source(entry).await?, self.store.source_loads(entry, 50).await?))
    }

    /// Loads a file into the entry's hosted source in one transaction, reading it once: every row is checked as
    /// it is sealed and written; nothing is kept if any row is bad, unless `accept_valid` (then the valid rows
    /// are). `progress` counts the bytes parsed.
    pub async fn load_source(
        &self,
        principal: &Principal,
        entry: EntryId,
        path: &Path,
        request: &LoadRequest,
        progress: Arc<AtomicU64>,
    ) -> Result<LoadReport> {
        let (stored, content) = self.entry_for_source(entry).await?;
        self.authorize(principal, Action::LoadSource(stored.provider))?;
        let source =
            self.store.get_source(entry).await?.ok_or_else(|| ServiceError::Conflict("该目录尚未绑定数据源".into()))?;
        let SourceKind::Hosted { key_item, scope_item } = source.kind.clone() else {
            return Err(ValidationError::new("source", "not_hosted", "接口代理类数据源不在平台加载数据").into());
        };
        let format = RecordFormat::detect(&request.format, &request.file_name).ok_or_else(|| {
            ValidationError::new("format", "unknown_value", "文件格式应为 csv、xlsx 或 jsonl（JSON Lines）")
        })?;
        let mode = LoadMode::parse(&request.mode)?;
        let items = content.items.clone();
        let columns: Vec<String> = items.iter().map(|i| i.code.clone()).collect();

        // One pass: every row checked and, while the load may go on, sealed and fed to the store's one
        // transaction as it is read; a bad row (unless valid rows are accepted) aborts the transaction.
        let load = SourceLoad {
            id: uuid::Uuid::now_v7(),
            entry,
            at: self.now(),
            actor: principal.audit_name(),
            file_name: request.file_name.clone(),
            file_sm3: String::new(),
            mode,
            rows_read: 0,
            rows_rejected: 0,
            counts: LoadCounts::default(),
        };
        let (tx, rx) = mpsc::channel::<Result<Vec<StoredRecord>, String>>(4);
        let producer = {
            let pass = LoadPass {
                path: path.to_owned(),
                format,
                items,
                columns,
                key_item,
                scope_item,
                keys: self.keys.clone(),
                encrypted: source.encrypted,
                entry: entry.to_string(),
                accept_valid: request.accept_valid,
                progress,
            };
            tokio::task::spawn_blocking(move || pass.run(&tx))
        };
        let conclude = {
            let (load, principal, provider) = (load.clone(), principal.audit_name(), stored.provider);
            move |check: &FileCheck| {
                let concluded = SourceLoad {
                    file_sm3: check.sm3.clone(),
                    rows_read: check.rows_read,
                    rows_rejected: check.rows_with_errors,
                    ..load.clone()
                };
                let audit = AuditEvent::new(
                    principal.clone(),
                    Some(provider),
                    "source.load",
                    "catalog_entry",
                    load.entry.to_string(),
                    json!({ "load": load.id, "file": load.file_name, "sm3": check.sm3, "mode": load.mode.code(),
                            "rows": check.rows_read, "rejected": check.rows_with_errors }),
                );
                (concluded, audit)
            }
        };
        let placeholder = AuditEvent::new(
            principal.audit_name(),
            Some(stored.provider),
            "source.load",
            "catalog_entry",
            entry.to_string(),
            json!({ "load": load.id }),
        );
        let mut feed = ChannelFeed { rx, producer: Some(producer), concluded: None, conclude: Box::new(conclude) };
        let counts = self.store.load_records(&load, &mut feed, &placeholder).await;
        let (check, concluded) = feed.finish().await?;
        if check.rows_with_errors > 0 && !request.accept_valid {
            return Ok(LoadReport {
                load: None,
                rows_read: check.rows_read,
                rows_with_errors: check.rows_with_errors,
                errors: check.errors,
            });
        }
        let counts = counts?;
        let mut load =
            concluded.ok_or_else(|| ServiceError::Internal("the load's pass ended without concluding".into()))?;
        load.counts = counts;
        Ok(LoadReport {
            load: Some(load),
            rows_read: check.rows_read,
            rows_with_errors: check.rows_with_errors,
            errors: check.errors,
        })
    }

    /// The corrections flagged on the entry's records, read at most once a [`CACHE_TTL`] per instance (and at
    /// once after a correction step here).
    pub(crate) async fn marks(&self, entry: EntryId) -> Result<Arc<Marks>> {
        if let Some((marks, at)) = self.plane.marks.read().expect("lock").get(&entry)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(marks.clone());
        }
        let mut marks = Marks::default();
        for m in self.store.correction_marks(entry).await? {
            if m.open {
                marks.disputed.insert(m.record_key.clone(), m.number.clone());
            }
            if let Some(seq) = m.applied_seq {
                marks.corrected.insert(seq, m.number);
            }
        }
        let marks = Arc::new(marks);
        self.plane.marks.write().expect("lock").insert(entry, (marks.clone(), Instant::now()));
        Ok(marks)
    }

    pub(crate) fn forget_marks(&self, entry: EntryId) {
        self.plane.marks.write().expect("lock").remove(&entry);
    }

    pub(crate) async fn source_context(&self, entry: EntryId) -> Result<Arc<SourceContext>> {
        if let Some((ctx, at)) = self.plane.sources.read().expect("lock").get(&entry)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(ctx.clone());
        }
        let source = self
            .store
            .get_source(entry)
            .await?
            .ok_or_else(|| ServiceError::refused("source_not_bound", "提供部门尚未为该目录绑定数据源"))?;
        let stored = self.store.get_entry(entry).await?;
        let content = stored
            .published()
            .map(|v| v.content.clone())
            .ok_or_else(|| ServiceError::refused("entry_not_published", "该目录当前没有发布的版本"))?;
        let ctx = Arc::new(SourceContext { source, content });
        self.plane.sources.write().expect("lock").insert(entry, (ctx.clone(), Instant::now()));
        Ok(ctx)
    }

    // ---- grants ----

    async fn grant_cached(&self, id: GrantId) -> Result<Arc<Grant>> {
        if let Some((grant, at)) = self.plane.grants.read().expect("lock").get(&id)
            && at.elapsed() < CACHE_TTL
            // A filed narrowing whose day has come is read again (and so applied), whatever the cache's age.
            && grant.scheduled_narrowing.as_ref().is_none_or(|n| n.effective_on > self.today())
        {
            return Ok(grant.clone());
        }
        let grant = Arc::new(self.load_grant(id).await?);
        self.plane.grants.write().expect("lock").insert(id, (grant.clone(), Instant::now()));
        Ok(grant)
    }

    /// Who may read a grant and its usage records: its two parties and their same-level authorities.
    pub(crate) fn delivery_action(grant: &Grant, requester: &Organisation, provider: &Organisation) -> Action {
        Action::ViewDelivery {
            requester: grant.requester,
            provider: grant.provider,
            requester_region: requester.region,
            provider_region: provider.region,
        }
    }

    pub(crate) async fn parties(&self, grant: &Grant) -> Result<(Organisation, Organisation)> {
        Ok((self.store.get_org(grant.requester).await?, self.store.get_org(grant.provider).await?))
    }

    pub(crate) async fn entry_name(&self, entry: EntryId) -> Result<String> {
        Ok(self.store.get_entry(entry).await?.published().map(|v| v.content.name.clone()).unwrap_or_default())
    }

    fn grant_view(
        &self,
        mut grant: Grant,
        requester: &Organisation,
        provider: &Organisation,
        entry_name: String,
    ) -> GrantView {
        grant.settle(self.now());
        GrantView {
            status: grant.status(self.now()),
            requester_name: requester.name.clone(),
            provider_name: provider.name.clone(),
            entry_name,
            grant,
        }
    }

    pub(crate) async fn load_grant_view(&self, grant: Grant) -> Result<GrantView> {
        let (requester, provider) = self.parties(&grant).await?;
        let entry_name = self.entry_name(grant.entry).await?;
        Ok(self.grant_view(grant, &requester, &provider, entry_name))
    }

    /// The provider grants what an approved application asked for (or less), and the application's delivery
    /// obligation is met by the same transaction.
    pub async fn create_grant(
        &self,
        principal: &Principal,
        application: ApplicationId,
        input: &GrantInput,
    ) -> Result<GrantView> {
        let mut app: Application = self.store.get_application(application).await?;
        self.authorize(principal, Action::CreateGrant(app.provider))?;
        let calendar = self.calendar().await?;
        let status = app.status(&calendar, self.now())?;
        if status.stage != Stage::Approved {
            return Err(ServiceError::Conflict(format!(
                "只有已同意、待共享的申请可以创建共享授权，该申请当前为「{}」",
                status.stage.label()
            )));
        }
        let stored = self.store.get_entry(app.entry).await?;
        let content = stored
            .version(app.entry_version)
            .or_else(|| stored.published())
            .map(|v| v.content.clone())
            .ok_or_else(|| ServiceError::NotFound("目录版本不存在".into()))?;
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut key);
        let mut grant = Grant::from_application(
            GrantId::new(),
            GrantBasis { app: &app, request: &status.request, entry: &content },
            input,
            hex::encode(key),
            self.now(),
            &principal.audit_name(),
        )?;
        let expected = app.events.len();
        grant.aggregation = self.assess_aggregation(&grant, &content).await?;
        let pending = grant.aggregation.as_ref().map(|w| w.summary());
        // The grant's number is the store's, given on insert: the application's page links the grant by it.
        let note = match &pending {
            None => format!("已创建共享授权，自 {} 起可按授权使用", grant.valid_from),
            Some(_) => format!("已创建共享授权，经主管部门确认数据汇聚风险后，自 {} 起可按授权使用", grant.valid_from),
        };
        let event = govshare_domain::application::ApplicationEvent {
            at: self.now(),
            actor: principal.audit_name(),
            actor_name: principal.display_name(),
            org: app.provider,
            step: Step::RecordDelivery { note: note.clone() },
        };
        app.apply(event, &calendar).map_err(|e| ServiceError::Conflict(e.message))?;
        let mut notes = vec![Notification::new(
            grant.requester,
            self.now(),
            "grant.created",
            match &pending {
                None => format!("共享授权已生效：{}", app.entry_name),
                Some(_) => format!("共享授权待主管部门确认汇聚风险：{}", app.entry_name),
            },
            format!(
                "提供部门已创建共享授权，数据项 {} 项，有效期 {} 至 {}。应用系统可使用本单位 API 凭证调用。",
                grant.items.len(),
                grant.valid_from,
                grant.valid_until
            ),
            format!("/console/grants/{}", grant.id),
        )];
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(grant.provider),
            "grant.create",
            "grant",
            grant.id.to_string(),
            json!({ "application": app.id, "items": grant.items, "row_scope": grant.row_scope,
                    "valid_until": grant.valid_until }),
        );
        let orgs = self.org_map().await?;
        let authority = crate::duties::authority_of(&orgs, app.provider);
        if let (Some(summary), Some(authority)) = (&pending, authority) {
            notes.push(Notification::new(
                authority,
                self.now(),
                "grant.aggregation",
                format!("数据汇聚风险待确认：{}", app.entry_name),
                format!("{summary}。该授权经确认后方可使用（第二十五条）。"),
                format!("/console/grants/{}", grant.id),
            ));
        }
        let mut duties = self.application_duties(&app, &calendar, &orgs)?;
        duties.extend(self.all_grant_duties(&grant, &app.entry_name, &calendar, authority).await?);
        self.store.create_grant(&mut grant, &app, expected, &duties, &notes, &audit).await?;
        self.load_grant_view(grant).await
    }

    pub async fn get_grant(&self, principal: &Principal, id: GrantId) -> Result<GrantView> {
        let grant = self.load_grant(id).await?;
        let (requester, provider) = self.parties(&grant).await?;
        self.authorize(principal, Self::delivery_action(&grant, &requester, &provider))?;
        let entry_name = self.entry_name(grant.entry).await?;
        Ok(self.grant_view(grant, &requester, &provider, entry_name))
    }

    /// The grants the acting organisation requested or provides; for an authority, those of its region.
    pub async fn list_grants(&self, principal: &Principal) -> Result<Vec<GrantView>> {
        let org = principal.org_id();
        let is_authority = principal.org.as_ref().is_some_and(|o| o.kind == govshare_domain::org::OrgKind::Authority);
        let grants = self.store.list_grants(if is_authority || principal.is_operator() { None } else { org }).await?;
        let orgs = self.org_map().await?;
        let mut entry_names: HashMap<EntryId, String> = HashMap::new();
        let mut views = Vec::new();
        for grant in grants {
            let (Some(requester), Some(provider)) = (orgs.get(&grant.requester), orgs.get(&grant.provider)) else {
                return Err(ServiceError::NotFound("单位不存在".into()));
            };
            if authz::check(principal, Self::delivery_action(&grant, requester, provider)).is_err() {
                continue;
            }
            let entry_name = match entry_names.get(&grant.entry) {
                Some(name) => name.clone(),
                None => {
                    let name = self.entry_name(grant.entry).await?;
                    entry_names.insert(grant.entry, name.clone());
                    name
                }
            };
            views.push(self.grant_view(grant, requester, provider, entry_name));
        }
        Ok(views)
    }

    /// The grant of an application, if one was made.
    pub async fn grants_of_application(&self, application: ApplicationId) -> Result<Vec<Grant>> {
        let app = self.store.get_application(application).await?;
        Ok(self
            .store
            .list_grants(Some(app.provider))
            .await?
            .into_iter()
            .filter(|g| g.application == application)
            .collect())
    }

    // ---- usage records ----

    pub async fn usage_records(
        &self,
        principal: &Principal,
        grant: Option<GrantId>,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<UsageRecord>> {
        let limit = limit.clamp(1, 500);
        if let Some(id) = grant {
            let g = self.load_grant(id).await?;
            let (requester, provider) = self.parties(&g).await?;
            let action = Action::ViewUsage {
                requester: g.requester,
                provider: g.provider,
                requester_region: requester.region,
                provider_region: provider.region,
            };
            self.authorize(principal, action)?;
            return Ok(self
                .store
                .usage_records(&UsageFilter { grant: Some(id), before, ..Default::default() }, limit)
                .await?);
        }
        let scope = self.usage_scope(principal)?;
        Ok(self.store.usage_records(&UsageFilter { before, ..scope }, limit).await?)
    }

    /// The usage records the caller may read overall (its organisation's, an authority's: its region's), as
    /// the filter every further selection narrows.
    fn usage_scope(&self, principal: &Principal) -> Result<UsageFilter> {
        let org = principal.org.as_ref().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        if org.kind == govshare_domain::org::OrgKind::Authority {
            // An authority's reviewers and supervisors read the records of its region's departments.
            self.authorize(principal, Action::SuperviseRegion(org.region))?;
            return Ok(UsageFilter { region: Some(org.region), ..Default::default() });
        }
        self.authorize(principal, Action::ViewOwnWork(org.id))?;
        Ok(UsageFilter { party: Some(org.id), ..Default::default() })
    }

    /// One page of the caller's usage records, newest first, narrowed to a counterpart organisation and a
    /// period, with the number of records the selection holds (the console's usage table).
    pub async fn search_usage(&self, principal: &Principal, search: &UsageSearch) -> Result<(Vec<UsageRecord>, u64)> {
        let filter = UsageFilter {
            counterpart: search.counterpart,
            since: search.since,
            before: search.before,
            offset: search.offset,
            ..self.usage_scope(principal)?
        };
        let total = self.store.count_usage(&filter).await?;
        let records = self.store.usage_records(&filter, search.limit.clamp(1, 10_000)).await?;
        Ok((records, total))
    }

    /// Hands the record to the usage log and waits until it is durable.
    async fn record_usage(&self, record: UsageRecord) -> Result<()> {
        let sender = self
            .plane
            .usage_log
            .get_or_init(|| async {
                let (tx, rx) = mpsc::channel(4096);
                tokio::spawn(usage_writer(self.store.clone(), rx));
                tx
            })
            .await;
        let (ack, done) = oneshot::channel();
        sender.send((record, ack)).await.map_err(|_| ServiceError::Internal("the usage log has stopped".into()))?;
        match done.await {
            Ok(Ok(())) => {
                self.plane.written.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(e)) => Err(ServiceError::Internal(format!("usage record not written: {e}").into())),
            Err(_) => Err(ServiceError::Internal("the usage log has stopped".into())),
        }
    }

    // ---- governed access ----

    /// Steps 1–4 of the governed path; the grant and the context of its entry.
    async fn admit(
        &self,
        principal: &Principal,
        id: GrantId,
        method: DeliveryMethod,
    ) -> Result<(Arc<Grant>, Arc<SourceContext>)> {
        let grant = self.grant_cached(id).await?;
        self.authorize(principal, Action::UseGrant(grant.requester))?;
        grant.check_access(self.now(), method).map_err(|r| ServiceError::refused(r.code, r.message))?;
        self.check_rate(&grant)?;
        let ctx = self.source_context(grant.entry).await?;
        Ok((grant, ctx))
    }

    fn check_rate(&self, grant: &Grant) -> Result<()> {
        let minute = self.now().timestamp().div_euclid(60);
        let mut rates = self.plane.rates.lock().expect("lock");
        let slot = rates.entry(grant.id).or_insert((minute, 0));
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        if slot.1 >= grant.rate_per_minute {
            let retry = 60 - self.now().timestamp().rem_euclid(60);
            return Err(ServiceError::Throttled {
                code: "rate_limited",
                message: format!("超过该授权每分钟 {} 次的调用上限，请 {retry} 秒后再试", grant.rate_per_minute),
                retry_after_secs: retry,
            });
        }
        slot.1 += 1;
        Ok(())
    }

    /// Reserves `rows` of the grant's daily volume; refused when the day's total would pass the limit.
    async fn take_volume(&self, grant: &Grant, rows: u64) -> Result<()> {
        let now = self.now().with_timezone(&beijing());
        let today = now.date_naive();
        let mut volumes = self.plane.volumes.lock().await;
        let used = match volumes.get(&grant.id) {
            Some((day, used)) if *day == today => *used,
            _ => {
                let midnight = today.and_time(NaiveTime::MIN).and_local_timezone(beijing()).single();
                let since = midnight.map(|m| m.with_timezone(&Utc)).unwrap_or_else(|| self.now());
                self.store.usage_rows_since(grant.id, since).await?
            }
        };
        if used + rows > grant.daily_rows {
            volumes.insert(grant.id, (today, used));
            let tomorrow = (today + chrono::Duration::days(1)).and_time(NaiveTime::MIN);
            let retry = (tomorrow - now.naive_local()).num_seconds().max(1);
            return Err(ServiceError::Throttled {
                code: "volume_exceeded",
                message: format!("超过该授权每日 {} 行的数据量上限（今日已用 {used} 行）", grant.daily_rows),
                retry_after_secs: retry,
            });
        }
        volumes.insert(grant.id, (today, used + rows));
        Ok(())
    }

    pub(crate) fn open_record(&self, ctx: &SourceContext, stored: &StoredRecord) -> Result<Record> {
        let plain = if ctx.source.encrypted {
            self.keys
                .decrypt(&stored.payload)
                .ok_or_else(|| ServiceError::Internal("hosted record does not decrypt with the node key".into()))?
        } else {
            stored.payload.clone()
        };
        serde_json::from_slice(&plain).map_err(|e| ServiceError::Internal(Box::new(e)))
    }

    pub(crate) async fn fetch_record(&self, grant: &Grant, ctx: &SourceContext, key: &str) -> Result<Option<Record>> {
        match &ctx.source.kind {
            SourceKind::Hosted { .. } => self.hosted_record(ctx, grant.entry, key).await,
            SourceKind::Proxy { url, .. } => self.fetch_proxied(url, key).await,
        }
    }

    /// The hosted record with this key, decrypted.
    async fn hosted_record(&self, ctx: &SourceContext, entry: EntryId, key: &str) -> Result<Option<Record>> {
        self.hosted_record_at(ctx, entry, &self.lookup_key(entry, key)).await
    }

    /// The live hosted record stored under this lookup key, decrypted.
    pub(crate) async fn hosted_record_at(
        &self,
        ctx: &SourceContext,
        entry: EntryId,
        lookup: &str,
    ) -> Result<Option<Record>> {
        let stored = self.store.get_record(entry, lookup).await?;
        stored.map(|s| self.open_record(ctx, &s)).transpose()
    }

    /// The lookup key a record of `entry` with this key value is stored under (keyed, so the store never holds
    /// the value).
    pub(crate) fn lookup_key(&self, entry: EntryId, key: &str) -> String {
        self.keys.record_key(&entry.to_string(), key.trim())
    }

    /// The correction request the record with this key value is under review by, if any (no digest is taken
    /// while nothing of the entry is disputed).
    fn disputed_key(&self, marks: &Marks, entry: EntryId, key: &str) -> Option<String> {
        if marks.disputed.is_empty() { None } else { marks.disputed(&self.lookup_key(entry, key)) }
    }

    async fn fetch_proxied(&self, url: &str, key: &str) -> Result<Option<Record>> {
        let client = self.plane.http.get_or_init(|| {
            reqwest::Client::builder().timeout(StdDuration::from_secs(5)).build().expect("HTTP client builds")
        });
        let encoded: String = key
            .trim()
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let target = url.replace("{key}", &encoded);
        let response = client
            .get(&target)
            .send()
            .await
            .map_err(|e| ServiceError::Upstream(format!("提供部门的数据服务无法访问：{e}")))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(ServiceError::Upstream(format!("提供部门的数据服务返回 {}", response.status())));
        }
        let value: Value = response
            .json()
            .await
            .map_err(|e| ServiceError::Upstream(format!("提供部门的数据服务返回的不是 JSON 对象：{e}")))?;
        match value {
            Value::Object(map) => Ok(Some(map)),
            _ => Err(ServiceError::Upstream("提供部门的数据服务返回的不是 JSON 对象".into())),
        }
    }

    fn usage(
        &self,
        principal: &Principal,
        grant: &Grant,
        operation: &str,
        rows: u64,
        result: &str,
        started: Instant,
    ) -> UsageRecord {
        UsageRecord {
            id: uuid::Uuid::now_v7(),
            at: self.now(),
            requester: principal.org_id().unwrap_or(grant.requester),
            provider: grant.provider,
            actor: principal.audit_name(),
            system: caller_system(principal),
            grant: Some(grant.id),
            entry: grant.entry,
            purpose: grant.purpose.clone(),
            operation: operation.to_owned(),
            items: grant.returned_items().map(|i| i.code.clone()).collect(),
            rows,
            result: result.to_owned(),
            latency_us: started.elapsed().as_micros() as u64,
        }
    }

    /// Runs a governed access: every outcome on an existing grant — answer or refusal — leaves exactly one usage
    /// record, written before the answer leaves.
    async fn governed<T>(
        &self,
        principal: &Principal,
        id: GrantId,
        operation: &str,
        started: Instant,
        run: impl AsyncFnOnce(&Services) -> Result<(T, u64, &'static str, Arc<Grant>)>,
    ) -> Result<T> {
        match run(self).await {
            Ok((answer, rows, result, grant)) => {
                self.record_usage(self.usage(principal, &grant, operation, rows, result, started)).await?;
                Ok(answer)
            }
            Err(err) => Err(self.record_refusal(principal, id, operation, started, err).await),
        }
    }

    /// Records a refused access and gives back the refusal (or the usage log's failure). A refusal on a grant that
    /// exists is recorded too; an unknown grant has nothing to attribute to, and a request the platform could not
    /// read (an unknown parameter) delivered nothing and used nothing.
    async fn record_refusal(
        &self,
        principal: &Principal,
        id: GrantId,
        operation: &str,
        started: Instant,
        err: ServiceError,
    ) -> ServiceError {
        if !matches!(err, ServiceError::NotFound(_) | ServiceError::Internal(_))
            && !is_unknown_parameter(&err)
            && let Ok(grant) = self.grant_cached(id).await
            && let Err(logged) =
                self.record_usage(self.usage(principal, &grant, operation, 0, err.code(), started)).await
        {
            return logged;
        }
        err
    }

    /// R-DEL-3 lookup by the key item's value.
    pub async fn data_lookup(
        &self,
        principal: &Principal,
        id: GrantId,
        key: &str,
        started: Instant,
    ) -> Result<DataAnswer> {
        self.governed(principal, id, "lookup", started, async |s: &Services| {
            let (grant, ctx) = s.admit(principal, id, DeliveryMethod::ServiceApi).await?;
            let record = s.fetch_record(&grant, &ctx, key).await?.filter(|r| grant.in_scope(r));
            let rows: Vec<Record> = record.iter().map(|r| grant.project(r, &ctx.content)).collect();
            let result = if rows.is_empty() { "not_found" } else { "ok" };
            s.take_volume(&grant, rows.len() as u64).await?;
            let mut disputed = Vec::new();
            if !rows.is_empty()
                && let Some(correction) = s.disputed_key(&*s.marks(grant.entry).await?, grant.entry, key)
            {
                disputed.push(DisputedRow { row: 0, correction });
            }
            let answer = DataAnswer {
                grant_id: grant.id,
                items: grant.returned_items().map(|i| i.code.clone()).collect(),
                rows,
                next_cursor: None,
                has_more: false,
                disputed,
            };
            let n = answer.rows.len() as u64;
            Ok((answer, n, result, grant))
        })
        .await
    }

    /// R-DEL-3 query: equality filters on granted items, paginated by key.
    pub async fn data_query(
        &self,
        principal: &Principal,
        id: GrantId,
        filters: &[(String, String)],
        cursor: Option<&str>,
        limit: u32,
        started: Instant,
    ) -> Result<DataAnswer> {
        self.governed(principal, id, "query", started, async |s: &Services| {
            let (grant, ctx) = s.admit(principal, id, DeliveryMethod::ServiceApi).await?;
            // A parameter that names no item of the entry is a mistake of the caller (`?offset=`, `?limt=`), not a
            // request for data outside the grant: refused as such, before any item check.
            let unknown: Vec<&str> = filters
                .iter()
                .map(|(code, _)| code.as_str())
                .filter(|code| !ctx.content.items.iter().any(|i| i.code == *code))
                .collect();
            if !unknown.is_empty() {
                return Err(ServiceError::Invalid(
                    unknown
                        .iter()
                        .map(|code| {
                            ValidationError::new(
                                code.to_string(),
                                UNKNOWN_PARAMETER,
                                format!(
                                    "查询参数「{code}」既不是分页参数（cursor、limit），也不是该目录的数据项；\
                                     可用的数据项见共享授权的 items"
                                ),
                            )
                        })
                        .collect(),
                ));
            }
            for (code, _) in filters {
                grant.check_filter(code).map_err(|r| ServiceError::refused(r.code, r.message))?;
            }
            if !ctx.source.kind.is_hosted() {
                return Err(ServiceError::refused("query_not_supported", "接口代理类数据源只支持按主键查询和核验"));
            }
            let limit = limit.clamp(1, MAX_PAGE) as usize;
            let key_item = ctx.source.kind.key_item().to_owned();
            let marks = s.marks(grant.entry).await?;
            let mut rows = Vec::new();
            let mut disputed = Vec::new();
            let mut next = None;
            let mut has_more = false;
            if let Some((_, key)) = filters.iter().find(|(c, _)| *c == key_item) {
                if let Some(r) = s.fetch_record(&grant, &ctx, key).await?
                    && grant.in_scope(&r)
                    && matches_filters(&r, filters)
                {
                    if let Some(correction) = s.disputed_key(&marks, grant.entry, key) {
                        disputed.push(DisputedRow { row: 0, correction });
                    }
                    rows.push(grant.project(&r, &ctx.content));
                }
            } else {
                let prefixes = sql_scope(&grant, &ctx);
                let mut after = cursor.map(str::to_owned);
                let mut last_row: Option<String> = None;
                let mut scanned = 0usize;
                let projector = grant.projector(&ctx.content);
                'scan: loop {
                    let page = s.store.scan_records(grant.entry, prefixes, after.as_deref(), 500).await?;
                    let exhausted = page.len() < 500;
                    for stored in &page {
                        scanned += 1;
                        after = Some(stored.key.clone());
                        let record = s.open_record(&ctx, stored)?;
                        if grant.in_scope(&record) && matches_filters(&record, filters) {
                            if rows.len() == limit {
                                // A row beyond the page: there is more, and the next page starts after the
                                // page's last row. A page that holds exactly the remaining rows says so.
                                has_more = true;
                                next = last_row.take();
                                break 'scan;
                            }
                            if let Some(correction) = marks.disputed(&stored.key) {
                                disputed.push(DisputedRow { row: rows.len(), correction });
                            }
                            rows.push(projector.project(&record));
                            last_row = Some(stored.key.clone());
                        }
                        if scanned >= SCAN_BUDGET {
                            // Not known whether more rows match: continue after what was read.
                            has_more = true;
                            next = after.clone();
                            break 'scan;
                        }
                    }
                    if exhausted {
                        break;
                    }
                }
            }
            s.take_volume(&grant, rows.len() as u64).await?;
            let n = rows.len() as u64;
            let answer = DataAnswer {
                grant_id: grant.id,
                items: grant.returned_items().map(|i| i.code.clone()).collect(),
                rows,
                next_cursor: next,
                has_more,
                disputed,
            };
            Ok((answer, n, "ok", grant))
        })
        .await
    }

    /// 核验: do the given values match the record with the given key? Nothing of the record is returned.
    pub async fn data_verify(
        &self,
        principal: &Principal,
        id: GrantId,
        values: &serde_json::Map<String, Value>,
        started: Instant,
    ) -> Result<bool> {
        self.governed(principal, id, "verify", started, async |s: &Services| {
            let (grant, ctx) = s.admit(principal, id, DeliveryMethod::ServiceApi).await?;
            let key_item = ctx.source.kind.key_item();
            for code in values.keys() {
                if grant.item(code).is_none() {
                    return Err(ServiceError::refused(
                        "item_not_granted",
                        format!("数据项「{code}」不在共享授权范围内"),
                    ));
                }
            }
            let key = values.get(key_item).map(govshare_domain::record::json_to_raw).unwrap_or_default();
            if key.trim().is_empty() {
                return Err(ValidationError::new(
                    key_item.to_owned(),
                    "required",
                    format!("核验须提供主键数据项「{key_item}」的值"),
                )
                .into());
            }
            let record = s.fetch_record(&grant, &ctx, &key).await?.filter(|r| grant.in_scope(r));
            let matched = record.is_some_and(|r| {
                values.iter().all(|(code, v)| {
                    let want = govshare_domain::record::json_to_raw(v);
                    let have = r.get(code).map(govshare_domain::record::json_to_raw).unwrap_or_default();
                    normalise(&want) == normalise(&have)
                })
            });
            Ok((matched, 0, if matched { "match" } else { "no_match" }, grant))
        })
        .await
    }

    /// R-DEL-4 bulk exchange: the full snapshot (cursor 0) and then the changes since a cursor.
    pub async fn data_changes(
        &self,
        principal: &Principal,
        id: GrantId,
        cursor: i64,
        limit: u32,
        started: Instant,
    ) -> Result<ChangesAnswer> {
        self.governed(principal, id, "changes", started, async |s: &Services| {
            let (grant, ctx) = s.admit(principal, id, DeliveryMethod::BulkExchange).await?;
            if !ctx.source.kind.is_hosted() {
                return Err(ServiceError::refused("exchange_not_supported", "接口代理类数据源不支持批量交换"));
            }
            let limit = limit.clamp(1, MAX_PAGE);
            let prefixes = sql_scope(&grant, &ctx);
            // One change beyond the page tells whether there is more; a page that holds exactly the remaining
            // changes answers `has_more: false`.
            let mut page = s.store.record_changes(grant.entry, prefixes, cursor.max(0), cursor <= 0, limit + 1).await?;
            let has_more = page.len() > limit as usize;
            page.truncate(limit as usize);
            let marks = s.marks(grant.entry).await?;
            let mut changes = Vec::new();
            let mut next = cursor.max(0);
            let projector = grant.projector(&ctx.content);
            for stored in &page {
                next = stored.seq;
                let record = s.open_record(&ctx, stored)?;
                if !grant.in_scope(&record) {
                    continue;
                }
                changes.push(ChangeRow {
                    seq: stored.seq,
                    op: if stored.deleted { "delete" } else { "upsert" },
                    record: projector.project(&record),
                    disputed: if stored.deleted { None } else { marks.disputed(&stored.key) },
                    correction: marks.corrected.get(&stored.seq).cloned(),
                });
            }
            s.take_volume(&grant, changes.len() as u64).await?;
            let n = changes.len() as u64;
            let answer = ChangesAnswer {
                grant_id: grant.id,
                items: grant.returned_items().map(|i| i.code.clone()).collect(),
                changes,
                next_cursor: next,
                has_more,
            };
            Ok((answer, n, "ok", grant))
        })
        .await
    }

    /// The bare baseline of the data-plane bench: the same record read and decoded, with no credential, grant,
    /// projection, masking or usage record. Served only when the node is started for benchmarking.
    pub async fn baseline_lookup(&self, entry: EntryId, key: &str) -> Result<Option<Record>> {
        let ctx = self.source_context(entry).await?;
        self.hosted_record(&ctx, entry, key).await
    }

    /// Usage records written by this instance since it started.
    pub fn usage_written(&self) -> u64 {
        self.plane.written.load(Ordering::Relaxed)
    }
}

/// The grant's row-scope prefixes when the store can filter by them: the source keeps the grant's scope item in its
/// scope column. The service checks `Grant::in_scope` on every record either way.
fn sql_scope<'a>(grant: &'a Grant, ctx: &SourceContext) -> Option<&'a [String]> {
    grant
        .row_scope
        .as_ref()
        .filter(|scope| ctx.source.kind.scope_item() == Some(scope.item.as_str()))
        .map(|scope| scope.prefixes.as_slice())
}

fn normalise(v: &str) -> String {
    v.trim().to_uppercase()
}

fn matches_filters(record: &Record, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(code, want)| {
        let have = record.get(code).map(govshare_domain::record::json_to_raw).unwrap_or_default();
        normalise(&have) == normalise(want)
    })
}

/// The usage log: one task appends every pending record in one transaction (group commit) and then answers
/// each waiting request.
async fn usage_writer(store: govshare_store::DynStore, mut rx: mpsc::Receiver<UsageEntry>) {
    let lanes = Arc::new(tokio::sync::Semaphore::new(store.parallel_writes().max(1)));
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 2048 {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (records, acks): (Vec<UsageRecord>, Vec<_>) = batch.into_iter().unzip();
        // Up to `parallel_writes` batches commit at once (PostgreSQL merges their WAL flushes); on SQLite one.
        let permit = lanes.clone().acquire_owned().await.expect("the semaphore is never closed");
        let store = store.clone();
        tokio::spawn(async move {
            let result = store.append_usage(&records).await.map_err(|e| e.to_string());
            drop(permit);
            if let Err(e) = &result {
                tracing::error!(error = %e, records = records.len(), "usage records not written; the data was not delivered");
            }
            for ack in acks {
                let _ = ack.send(result.clone());
            }
        });
    }
}

/// What aborts the store's transaction when the pass finds a bad row (and valid rows are not accepted).
const LOAD_ABORTED: &str = "the file has rows with errors: nothing is loaded";

/// Batches from the load's pass to the store's transaction; at the end, the pass's check and the load concluded
/// from it.
struct ChannelFeed {
    rx: mpsc::Receiver<Result<Vec<StoredRecord>, String>>,
    producer: Option<tokio::task::JoinHandle<Result<FileCheck>>>,
    concluded: Option<(FileCheck, SourceLoad, AuditEvent)>,
    conclude: Box<Conclude>,
}

/// Makes the load's document and audit event from the pass's check.
type Conclude = dyn Fn(&FileCheck) -> (SourceLoad, AuditEvent) + Send;

impl ChannelFeed {
    /// Waits for the pass to end (closing the channel first, so it never waits on a store that stopped) and returns
    /// its check, with the load concluded from it if the store took the load to its end.
    async fn finish(&mut self) -> Result<(FileCheck, Option<SourceLoad>)> {
        if let Some((check, load, _)) = self.concluded.take() {
            return Ok((check, Some(load)));
        }
        self.rx.close();
        match self.producer.take() {
            Some(handle) => Ok((handle.await.map_err(|e| ServiceError::Internal(Box::new(e)))??, None)),
            None => Err(ServiceError::Internal("the load's pass was already awaited".into())),
        }
    }
}

#[async_trait]
impl RecordFeed for ChannelFeed {
    async fn next_batch(&mut self) -> govshare_store::Result<Option<Vec<StoredRecord>>> {
        match self.rx.recv().await {
            Some(Ok(batch)) => Ok(Some(batch)),
            Some(Err(e)) => Err(StoreError::Other(e.into())),
            None => {
                // The pass ended: only a clean check lets the transaction commit.
                let check = match self.producer.take() {
                    Some(handle) => {
                        handle.await.map_err(StoreError::other)?.map_err(|e| StoreError::Other(e.to_string().into()))?
                    }
                    None => return Ok(None),
                };
                let (load, audit) = (self.conclude)(&check);
                self.concluded = Some((check, load, audit));
                Ok(None)
            }
        }
    }

    fn conclusion(&self) -> Option<(SourceLoad, AuditEvent)> {
        self.concluded.as_ref().map(|(_, load, audit)| (load.clone(), audit.clone()))
    }
}

struct FileCheck {
    rows_read: u64,
    rows_with_errors: u64,
    errors: Vec<RowError>,
    sm3: String,
}

/// The one pass of a load, on a blocking thread.
struct LoadPass {
    path: std::path::PathBuf,
    format: RecordFormat,
    items: Vec<govshare_domain::catalog::DataItem>,
    columns: Vec<String>,
    key_item: String,
    scope_item: Option<String>,
    keys: Arc<NodeKeys>,
    encrypted: bool,
    entry: String,
    accept_valid: bool,
    progress: Arc<AtomicU64>,
}

impl LoadPass {
    /// Checks every row against the entry's items and for repeated keys, and hashes the file; seals each valid
    /// row (keyed hash, canonical JSON and its SM3, SM4 when the source is encrypted) and sends it in batches to the
    /// store's transaction while the load may go on. At the first bad row, unless valid rows are accepted, it sends
    /// the abort that rolls the transaction back, and reads on only to report every bad row; it also aborts when it
    /// fails itself, so the transaction never commits a load the pass did not finish.
    fn run(self, tx: &mpsc::Sender<Result<Vec<StoredRecord>, String>>) -> Result<FileCheck> {
        let mut aborted = false;
        let result = self.check_and_feed(tx, &mut aborted);
        let failed = match &result {
            Ok(check) => check.rows_with_errors > 0 && !self.accept_valid,
            Err(_) => true,
        };
        if failed && !aborted {
            let _ = tx.blocking_send(Err(LOAD_ABORTED.into()));
        }
        result
    }

    fn check_and_feed(
        &self,
        tx: &mpsc::Sender<Result<Vec<StoredRecord>, String>>,
        aborted: &mut bool,
    ) -> Result<FileCheck> {
        let sm3 = file_sm3(&self.path)?;
        let file_error = |row: u64, message: String| match row {
            0 => ValidationError::new("file", "unreadable", message),
            _ => ValidationError::new("file", "unreadable", format!("第 {row} 行：{message}")),
        };
        let reader = RowReader::open(&self.path, self.format, &self.columns, self.progress.clone())
            .map_err(|e| file_error(e.row, e.message))?;
        let map = match ColumnMap::new(&self.items, reader.headers()) {
            Ok(map) => map,
            Err(errors) => return Ok(FileCheck { rows_read: 0, rows_with_errors: 1, errors, sm3 }),
        };
        let mut check = FileCheck { rows_read: 0, rows_with_errors: 0, errors: Vec::new(), sm3 };
        let mut keys: HashMap<String, u64> = HashMap::new();
        let mut batch = Vec::with_capacity(LOAD_BATCH);
        for row in reader {
            check.rows_read += 1;
            let errors = match row {
                Err(e) => {
                    vec![RowError { row: e.row, column: String::new(), rule: "format".into(), message: e.message }]
                }
                Ok((n, values)) => match map.record(&self.items, &self.key_item, n, &values) {
                    Err(errors) => errors,
                    Ok(record) => {
                        let key = key_of(&record, &self.key_item).unwrap_or_default();
                        match keys.get(&key) {
                            Some(first) => vec![RowError {
                                row: n,
                                column: self.key_item.clone(),
                                rule: "duplicate_key".into(),
                                message: format!("主键「{key}」与第 {first} 行重复"),
                            }],
                            None => {
                                if !*aborted {
                                    let lookup = self.keys.record_key(&self.entry, &key);
                                    batch.push(stored_record(
                                        &self.keys,
                                        self.encrypted,
                                        self.scope_item.as_deref(),
                                        lookup,
                                        &record,
                                    ));
                                    if batch.len() == LOAD_BATCH
                                        && tx.blocking_send(Ok(std::mem::take(&mut batch))).is_err()
                                    {
                                        // The store stopped (it failed): check on, feed nothing more.
                                        *aborted = true;
                                    }
                                }
                                keys.insert(key, n);
                                vec![]
                            }
                        }
                    }
                },
            };
            if !errors.is_empty() {
                check.rows_with_errors += 1;
                let room = MAX_REPORTED_ERRORS.saturating_sub(check.errors.len());
                check.errors.extend(errors.into_iter().take(room).map(|mut e| {
                    e.message = govshare_domain::error::clip_message(e.message);
                    e
                }));
                if !self.accept_valid && !*aborted {
                    let _ = tx.blocking_send(Err(LOAD_ABORTED.into()));
                    *aborted = true;
                    batch.clear();
                }
            }
        }
        if check.rows_read == 0 {
            check.rows_with_errors = 1;
            check.errors.push(RowError {
                row: 1,
                column: String::new(),
                rule: "empty".into(),
                message: "文件中没有数据行".into(),
            });
        }
        if !batch.is_empty() && !*aborted {
            let _ = tx.blocking_send(Ok(batch));
        }
        Ok(check)
    }
}

/// The SM3 of a whole file.
fn file_sm3(path: &Path) -> Result<String> {
    use sm3::Digest;
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| ServiceError::Internal(Box::new(e)))?;
    let mut hasher = sm3::Sm3::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| ServiceError::Internal(Box::new(e)))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The rule of a query parameter that names no item of the entry (`ServiceError::Invalid`, one problem each).
pub const UNKNOWN_PARAMETER: &str = "unknown_parameter";

/// Whether `err` is the refusal of unknown query parameters.
pub fn is_unknown_parameter(err: &ServiceError) -> bool {
    matches!(err, ServiceError::Invalid(problems) if problems.iter().all(|p| p.rule == UNKNOWN_PARAMETER))
}
