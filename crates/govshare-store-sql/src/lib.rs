//! The one implementation of the govshare [`Store`]: every use case's transaction — which rows it writes, in
//! which order, with its notifications and its audit record — is written here once, as plain SQL with numbered
//! placeholders. A backend crate contributes a [`Dialect`]: its pools, its migrations, and the few fragments
//! that really differ (the head lock, list parameters, prefix matching, bulk-load hints, guard introspection).

pub mod driver;

mod catalog;
mod data;
mod duties;
mod evidence;
mod federation;
mod quality;
mod rows;
mod supervision;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use govshare_domain::application::{Application, ApplicationId};
use govshare_domain::attachment::AttachmentRef;
use govshare_domain::audit::{AuditEvent, AuditFilter, AuditRecord, ChainHead, Digest, GENESIS};
use govshare_domain::catalog::{CatalogEntry, EntryEvent, EntryId, EntryStatus, EntryVersion, ReportId};
use govshare_domain::complaint::{Complaint, ComplaintId};
use govshare_domain::correction::{Correction, CorrectionId};
use govshare_domain::dispute::{Dispute, DisputeId};
use govshare_domain::duty::Duty;
use govshare_domain::enforcement::{Notice, NoticeId, Order, OrderId};
use govshare_domain::evidence::StoredUsage;
use govshare_domain::federation::{AdmissionRequest, ChildNode, FederatedEntry, NodeConfig, NodeId, SignedDirectory};
use govshare_domain::grant::{Grant, GrantId, UsageRecord};
use govshare_domain::incident::{Incident, IncidentId};
use govshare_domain::notification::{AlertKind, DeadlineAlert, Notification};
use govshare_domain::number::{NumberKind, number_year};
use govshare_domain::obligation::{Extension, ObligationId, UpdateObligation};
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::{ApiCredential, CredentialId};
use govshare_domain::record::{DataSource, LoadCounts, SourceLoad};
use govshare_domain::region::{Region, RegionCode};
use govshare_domain::role::Role;
use govshare_domain::source::SourceDesignation;
use govshare_domain::usage_archive::UsageArchive;
use govshare_domain::use_record::UseRecord;
use govshare_domain::user::{Membership, User, UserId, Username};
use govshare_store::{
    CorrectionMark, DutyFilter, LoginFailures, Member, RecordFeed, RecordVersion, Result, Session, Store, StoreError,
    StoredRecord, UsageFilter, UserWithPassword,
};

use data::{RECORD_COLUMNS, ROWS_PER_STATEMENT, push_scope};
pub use driver::{Arg, Col, Dialect, Driver, Repair, Row, Sql, db, sql};
use driver::{Exec, Reader, Tx};
use duties::DUTY_COLUMNS;
use evidence::SealedRow;
use govshare_domain::evidence::{USAGE_BATCH_OBJECT, USAGE_SEAL_ACTION};
use rows::{CredentialRow, OBLIGATION_COLUMNS, UserRow, extension_text, json};

/// The store over one backend's dialect.
#[derive(Debug)]
pub struct SqlStore<D: Dialect> {
    dialect: D,
    /// The months of the usage log known to have their partition (PostgreSQL); written before a batch of a new
    /// month is.
    usage_months: std::sync::Mutex<std::collections::BTreeSet<chrono::NaiveDate>>,
}

impl<D: Dialect> SqlStore<D> {
    /// Connects to the database at `url` (its form is the backend's: `sqlite:…`, `postgres://…`).
    pub async fn connect(url: &str) -> Result<Self> {
        Ok(SqlStore { dialect: D::connect(url).await?, usage_months: Default::default() })
    }

    pub fn dialect(&self) -> &D {
        &self.dialect
    }

    /// Brings the schema up to date. Idempotent. The start that applies the usage-seal migration (0007) also
    /// seals the usage records kept before it, once.
    pub async fn migrate(&self) -> Result<()> {
        let seals_existed = evidence::seals_migrated(self).await;
        self.dialect.migrate().await?;
        if !seals_existed {
            evidence::seal_legacy(self).await?;
        }
        Ok(())
    }

    /// Every table's columns: (table, column, declared type, nullable), ordered. Both backends' migrations must
    /// describe the same tables and columns; the contract suite compares them.
    pub async fn schema(&self) -> Result<Vec<(String, String, String, bool)>> {
        let mut columns: Vec<(String, String, String, bool)> = sql(D::COLUMNS).all(&mut self.r()).await?;
        columns.sort();
        Ok(columns)
    }

    /// The deadline bench's baseline for the sweep: a bare count over the same two ranges of its index.
    #[doc(hidden)]
    pub async fn bench_due_count(&self, now: DateTime<Utc>, horizon: DateTime<Utc>) -> Result<i64> {
        let (due,): (i64,) = sql("SELECT (SELECT COUNT(*) FROM duties WHERE closed_at IS NULL AND alert < 2 AND alert = 0
                                          AND due_at <= $1)
                                       + (SELECT COUNT(*) FROM duties WHERE closed_at IS NULL AND alert < 2 AND alert = 1
                                          AND due_at < $2)")
        .binds((horizon, now))
        .one(&mut self.r())
        .await?;
        Ok(due)
    }

    /// For the deadline bench, the steady state of a running node: what earlier sweeps have done — duties past due
    /// before `before` marked overdue, those due by `reminded_by` reminded.
    #[doc(hidden)]
    pub async fn bench_steady_state(&self, before: DateTime<Utc>, reminded_by: DateTime<Utc>) -> Result<(u64, u64)> {
        let mut tx = self.begin().await?;
        let overdue = sql("UPDATE duties SET alert = 2 WHERE closed_at IS NULL AND due_at < $1")
            .bind(before)
            .execute(&mut tx)
            .await?;
        let reminded = sql("UPDATE duties SET alert = 1 WHERE closed_at IS NULL AND alert = 0 AND due_at <= $1")
            .bind(reminded_by)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok((overdue, reminded))
    }

    /// Makes sure the usage log can take rows of these months: on PostgreSQL, creates their partitions, each in
    /// its own short transaction (not the batch's, which would hold the partition lock until it commits).
    async fn usage_months_ready(&self, months: &std::collections::BTreeSet<chrono::NaiveDate>) -> Result<()> {
        if !D::USAGE_PARTITIONS {
            return Ok(());
        }
        let missing: Vec<chrono::NaiveDate> = {
            let known = self.usage_months.lock().expect("the month cache is never poisoned");
            months.iter().filter(|m| !known.contains(m)).copied().collect()
        };
        for month in missing {
            let mut tx = self.begin().await?;
            sql("SELECT usage_month_partition($1)").bind(month).planned_per_call().execute(&mut tx).await?;
            tx.commit().await?;
            self.usage_months.lock().expect("the month cache is never poisoned").insert(month);
        }
        Ok(())
    }

    /// Forgets a month whose partition was detached.
    fn forget_month(&self, month: chrono::NaiveDate) {
        self.usage_months.lock().expect("the month cache is never poisoned").remove(&month);
    }

    fn r(&self) -> Reader<'_, D> {
        Reader::new(&self.dialect)
    }

    async fn begin(&self) -> Result<Tx<D>> {
        Ok(Tx(self.dialect.begin().await?))
    }

    /// Ends a use case's transaction: its notifications, then its audit record (the head lock comes last), then
    /// the commit.
    /// The JSON document of `table`'s row with this id, or NotFound saying `missing`.
    async fn document<T: driver::Value + Send>(&self, table: &str, id: uuid::Uuid, missing: &str) -> Result<T> {
        let row: Option<(T,)> =
            sql(format!("SELECT document FROM {table} WHERE id = $1")).bind(id).optional(&mut self.r()).await?;
        row.map(|(d,)| d).ok_or_else(|| StoreError::NotFound(missing.into()))
    }

    async fn finish(&self, tx: Tx<D>, notifications: &[Notification], audit: &AuditEvent) -> Result<()> {
        self.finish_with(tx, &[], notifications, audit).await
    }

    /// [`finish`](Self::finish), writing first the duties the domain derived after the step.
    async fn finish_with(
        &self,
        tx: Tx<D>,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        self.finish_outbox(tx, duties, notifications, audit, &[]).await
    }

    /// [`finish_with`](Self::finish_with), also entering entries in the federation outbox under the audit
    /// record's sequence number (`(entry, local)`: a published entry of this node's, or another node's entry
    /// delivered here).
    async fn finish_outbox(
        &self,
        mut tx: Tx<D>,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
        outbox: &[(EntryId, bool)],
    ) -> Result<()> {
        duties::upsert(&mut tx, duties).await?;
        catalog::insert_notifications(&mut tx, notifications).await?;
        let record = append(&mut tx, audit).await?;
        federation::enqueue(&mut tx, record.seq, outbox).await?;
        tx.commit().await
    }
}

/// Writes changed grants in the caller's transaction: each only if the stored one still has its expected events,
/// and never widening its terms other than by an approved change (R-DEL-6).
async fn write_grants<D: Dialect>(tx: &mut Tx<D>, grants: &[(&Grant, usize)]) -> Result<()> {
    for &(grant, expected_events) in grants {
        // R-DEL-6: whoever writes, a grant's terms widen only by the approved decision of its change request.
        let stored: Option<(Grant,)> =
            sql("SELECT document FROM grants WHERE id = $1").bind(grant.id).optional(tx).await?;
        if let Some((stored,)) = &stored
            && stored.events.len() == expected_events
        {
            govshare_domain::change::check_terms_change(stored, grant).map_err(StoreError::Conflict)?;
        }
        let done = sql("UPDATE grants SET events = $1, document = $2 WHERE id = $3 AND events = $4")
            .binds((grant.events.len(), json(grant)?, grant.id, expected_events))
            .execute(tx)
            .await?;
        if done == 0 {
            return Err(match stored {
                None => StoreError::NotFound("共享授权不存在".into()),
                Some(_) => StoreError::Conflict("该授权刚被其他人处理，请刷新后重试".into()),
            });
        }
    }
    Ok(())
}

/// NotFound with `what` when a statement touched no row.
fn found(rows: u64, what: &str) -> Result<()> {
    if rows == 0 { Err(StoreError::NotFound(what.to_owned())) } else { Ok(()) }
}

/// Reads the chain head, locking it until the transaction ends where the dialect needs a lock.
async fn chain_head<D: Dialect>(tx: &mut Tx<D>) -> Result<(i64, Digest)> {
    let (seq, hash): (i64, Digest) =
        sql(format!("SELECT seq, hash FROM audit_head WHERE id = 1{}", D::LOCK_HEAD)).one(tx).await?;
    Ok((seq, hash))
}

macro_rules! insert_audit {
    () => {
        "INSERT INTO audit_log (seq, at, actor, org_id, action, object_type, object_id, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    };
}

/// Seals `event` as the next record and moves the head, inside the caller's transaction. Where the dialect
/// allows, record and head are one round trip: the head lock is held until commit, so every statement after it
/// lengthens the time other appends wait.
async fn append<D: Dialect>(tx: &mut Tx<D>, event: &AuditEvent) -> Result<AuditRecord> {
    let (seq, prev) = chain_head(tx).await?;
    let record = AuditRecord::seal(seq + 1, Utc::now(), event, prev);
    let text = if D::WRITABLE_CTE {
        concat!(
            "WITH appended AS (",
            insert_audit!(),
            " RETURNING seq, hash) UPDATE audit_head SET seq = appended.seq, hash = appended.hash FROM appended WHERE id = 1"
        )
    } else {
        insert_audit!()
    };
    sql(text)
        .binds((
            record.seq,
            record.at,
            &record.actor,
            record.org_id,
            &record.action,
            &record.object_type,
            &record.object_id,
            &record.detail,
            record.prev_hash.as_slice(),
            record.hash.as_slice(),
        ))
        .execute(tx)
        .await?;
    if !D::WRITABLE_CTE {
        sql("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .binds((record.seq, record.hash.as_slice()))
            .execute(tx)
            .await?;
    }
    Ok(record)
}

/// The first column of the first row, if any: for existence checks and names in messages.
async fn first_text(e: &mut impl Exec, q: Sql<'_>) -> Result<Option<String>> {
    Ok(q.optional::<(String,), _>(e).await?.map(|(s,)| s))
}

/// The statement with the filter's conditions appended.
/// The usage log's WHERE clause for a filter, after `select` (which ends in `WHERE TRUE`).
fn usage_filter<'a>(filter: &'a UsageFilter, select: &'static str) -> Sql<'a> {
    let mut q = sql(select);
    if let Some(org) = filter.party {
        let p = q.param(org);
        q.text(&format!(" AND (requester = {p} OR provider = {p})"));
    }
    if let Some(region) = filter.region {
        let p = q.param(region);
        q.text(&format!(
            " AND (requester IN (SELECT id FROM organisations WHERE region = {p}) \
               OR provider IN (SELECT id FROM organisations WHERE region = {p}))"
        ));
    }
    if let Some(org) = filter.counterpart {
        let p = q.param(org);
        q.text(&format!(" AND (requester = {p} OR provider = {p})"));
    }
    if let Some(grant) = filter.grant {
        let p = q.param(grant);
        q.text(&format!(" AND grant_id = {p}"));
    }
    if let Some(entry) = filter.entry {
        let p = q.param(entry);
        q.text(&format!(" AND entry_id = {p}"));
    }
    if let Some(since) = filter.since {
        let p = q.param(since);
        q.text(&format!(" AND at >= {p}"));
    }
    if let Some(before) = filter.before {
        let p = q.param(before);
        q.text(&format!(" AND at < {p}"));
    }
    q
}

fn duty_filter<'a>(filter: &'a DutyFilter, select: String) -> Sql<'a> {
    let mut q = sql(select);
    if let Some(owner) = filter.owner {
        let p = q.param(owner);
        q.text(&format!(" AND owner = {p}"));
    }
    if let Some(roles) = &filter.roles {
        let list: Vec<String> = roles.iter().map(|r| q.param(r.code())).collect();
        let list = if list.is_empty() { "NULL".to_owned() } else { list.join(", ") };
        q.text(&format!(" AND role IN ({list})"));
    }
    match filter.open {
        Some(true) => q.text(" AND closed_at IS NULL"),
        Some(false) => q.text(" AND closed_at IS NOT NULL"),
        None => &mut q,
    };
    if let Some(subject) = filter.subject {
        let p = q.param(subject);
        q.text(&format!(" AND subject_id = {p}"));
    }
    if let Some(by) = filter.started_by {
        let p = q.param(by);
        q.text(&format!(" AND started_at <= {p}"));
    }
    q
}

/// The next human number of `kind` for an object created at `at`: moves the kind's counter for the Beijing year
/// on by one in the caller's transaction (the row lock, or SQLite's single writer, orders concurrent creations;
/// a rollback gives the number back), and formats it.
async fn next_number<D: Dialect>(tx: &mut Tx<D>, kind: NumberKind, at: DateTime<Utc>) -> Result<String> {
    let year = number_year(at);
    let (seq,): (i64,) = sql("INSERT INTO number_counters (kind, year, last) VALUES ($1, $2, 1)
         ON CONFLICT (kind, year) DO UPDATE SET last = number_counters.last + 1 RETURNING last")
    .binds((kind.prefix(), year))
    .one(tx)
    .await?;
    Ok(kind.format(year, seq))
}

/// An application read with its number: the column is the number's truth (documents stored before numbers
/// existed have none).
fn numbered_application((number, mut application): (String, Application)) -> Application {
    application.number = number;
    application
}

/// A grant read with its number, as [`numbered_application`].
fn numbered_grant((number, mut grant): (String, Grant)) -> Grant {
    grant.number = number;
    grant
}

fn updated_at(a: &Application) -> DateTime<Utc> {
    a.events.last().map_or(a.created_at, |e| e.at)
}

/// Writes an application's new state if nobody has moved it on since `expected_events` (compare-and-set).
async fn update_application<D: Dialect>(tx: &mut Tx<D>, a: &Application, expected_events: usize) -> Result<()> {
    let stage = a.stage();
    let done = sql("UPDATE applications SET stage = $1, is_open = $2, events = $3, updated_at = $4, document = $5
         WHERE id = $6 AND events = $7")
    .binds((stage.code(), !stage.is_final(), a.events.len(), updated_at(a), json(a)?, a.id, expected_events))
    .execute(tx)
    .await?;
    if done == 0 {
        let exists: Option<(ApplicationId,)> =
            sql("SELECT id FROM applications WHERE id = $1").bind(a.id).optional(tx).await?;
        return Err(match exists {
            None => StoreError::NotFound("共享申请不存在".into()),
            Some(_) => StoreError::Conflict("共享申请已被他人办理，请刷新后再试".into()),
        });
    }
    Ok(())
}

#[async_trait]
impl<D: Dialect> Store for SqlStore<D> {
    async fn ping(&self) -> Result<()> {
        sql("SELECT 1").execute(&mut self.r()).await?;
        Ok(())
    }

    async fn create_region(&self, region: &Region, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let exists = sql("SELECT name FROM regions WHERE code = $1").bind(region.code);
        if let Some(name) = first_text(&mut tx, exists).await? {
            return Err(StoreError::Conflict(format!("行政区划 {} 已存在（「{name}」）", region.code)));
        }
        if let Some(parent) = region.parent {
            let found = sql("SELECT code FROM regions WHERE code = $1").bind(parent);
            if first_text(&mut tx, found).await?.is_none() {
                return Err(StoreError::Conflict(format!("上级行政区划 {parent} 尚未创建")));
            }
        }
        sql("INSERT INTO regions (code, name, parent) VALUES ($1, $2, $3)")
            .binds((region.code, &region.name, region.parent))
            .execute(&mut tx)
            .await?;
        self.finish(tx, &[], audit).await
    }

    async fn list_regions(&self) -> Result<Vec<Region>> {
        sql("SELECT code, name, parent FROM regions ORDER BY code").all(&mut self.r()).await
    }

    async fn get_region(&self, code: RegionCode) -> Result<Region> {
        let row =
            sql("SELECT code, name, parent FROM regions WHERE code = $1").bind(code).optional(&mut self.r()).await?;
        row.ok_or_else(|| StoreError::NotFound(format!("行政区划 {code} 不存在")))
    }

    async fn create_org(&self, org: &Organisation, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        if first_text(&mut tx, sql("SELECT name FROM regions WHERE code = $1").bind(org.region)).await?.is_none() {
            return Err(StoreError::Conflict(format!("行政区划 {} 尚未创建", org.region)));
        }
        let holder = sql("SELECT name FROM organisations WHERE credit_code = $1").bind(org.credit_code.as_str());
        if let Some(holder) = first_text(&mut tx, holder).await? {
            return Err(StoreError::Conflict(format!("统一社会信用代码 {} 已被「{holder}」使用", org.credit_code)));
        }
        if org.kind == OrgKind::Authority {
            let existing =
                sql("SELECT name FROM organisations WHERE region = $1 AND kind = 'authority'").bind(org.region);
            if let Some(name) = first_text(&mut tx, existing).await? {
                return Err(StoreError::Conflict(format!("行政区划 {} 已有主管部门「{name}」", org.region)));
            }
        }
        sql("INSERT INTO organisations (id, kind, region, name, credit_code, work_unit_name, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .binds((
            org.id,
            org.kind.code(),
            org.region,
            &org.name,
            org.credit_code.as_str(),
            &org.work_unit_name,
            org.created_at,
        ))
        .execute(&mut tx)
        .await?;
        self.finish(tx, &[], audit).await
    }

    async fn update_org_work_unit(&self, id: OrgId, work_unit_name: &str, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sql("UPDATE organisations SET work_unit_name = $1 WHERE id = $2")
            .binds((work_unit_name, id))
            .execute(&mut tx)
            .await?;
        found(done, "单位不存在")?;
        self.finish(tx, &[], audit).await
    }

    async fn get_org(&self, id: OrgId) -> Result<Organisation> {
        let row = sql("SELECT * FROM organisations WHERE id = $1").bind(id).optional(&mut self.r()).await?;
        row.ok_or_else(|| StoreError::NotFound("单位不存在".into()))
    }

    async fn list_orgs(&self) -> Result<Vec<Organisation>> {
        sql("SELECT * FROM organisations ORDER BY kind = 'department', region, name").all(&mut self.r()).await
    }

    async fn is_empty(&self) -> Result<bool> {
        let (n,): (i64,) = sql("SELECT COUNT(*) FROM organisations").one(&mut self.r()).await?;
        Ok(n == 0)
    }

    async fn create_user(&self, user: &User, password_hash: &str, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let taken = sql("SELECT username FROM users WHERE username = $1").bind(user.username.as_str());
        if first_text(&mut tx, taken).await?.is_some() {
            return Err(StoreError::Conflict(format!("用户名 {} 已存在", user.username)));
        }
        sql("INSERT INTO users (id, username, display_name, password_hash, contractor, disabled, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .binds((
            user.id,
            user.username.as_str(),
            &user.display_name,
            password_hash,
            user.contractor,
            user.disabled,
            user.created_at,
        ))
        .execute(&mut tx)
        .await?;
        self.finish(tx, &[], audit).await
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        let row: Option<UserRow> = sql("SELECT * FROM users WHERE id = $1").bind(id).optional(&mut self.r()).await?;
        Ok(row.ok_or_else(|| StoreError::NotFound("用户不存在".into()))?.0)
    }

    async fn find_user_by_username(&self, username: &Username) -> Result<Option<UserWithPassword>> {
        let row: Option<UserRow> =
            sql("SELECT * FROM users WHERE username = $1").bind(username.as_str()).optional(&mut self.r()).await?;
        Ok(row.map(|UserRow(user, password_hash)| UserWithPassword { user, password_hash }))
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        keep_session: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sql("UPDATE users SET password_hash = $1 WHERE id = $2")
            .binds((password_hash, id))
            .execute(&mut tx)
            .await?;
        found(done, "用户不存在")?;
        sql("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .binds((id, keep_session.unwrap_or_default()))
            .execute(&mut tx)
            .await?;
        self.finish(tx, &[], audit).await
    }

    async fn set_user_disabled(&self, id: UserId, disabled: bool, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sql("UPDATE users SET disabled = $1 WHERE id = $2").bind(disabled).bind(id).execute(&mut tx).await?;
        found(done, "用户不存在")?;
        if disabled {
            sql("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut tx).await?;
        }
        self.finish(tx, &[], audit).await
    }

    async fn add_membership(&self, m: &Membership, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let exists = sql("SELECT role FROM memberships WHERE user_id = $1 AND org_id = $2 AND role = $3")
            .binds((m.user_id, m.org_id))
            .bind(m.role.code());
        if first_text(&mut tx, exists).await?.is_some() {
            return Err(StoreError::Conflict(format!("该人员在本单位已有「{}」角色", m.role.label())));
        }
        if m.role == Role::WorkUnitHead {
            let head = sql("SELECT u.display_name FROM memberships m JOIN users u ON u.id = m.user_id
                            WHERE m.org_id = $1 AND m.role = 'work_unit_head'")
            .bind(m.org_id);
            if let Some(name) = first_text(&mut tx, head).await? {
                return Err(StoreError::Conflict(format!("该单位已有工作机构负责人「{name}」")));
            }
        }
        sql("INSERT INTO memberships (user_id, org_id, role) VALUES ($1, $2, $3)")
            .binds((m.user_id, m.org_id, m.role.code()))
            .execute(&mut tx)
            .await?;
        self.finish(tx, &[], audit).await
    }

    async fn remove_membership(&self, m: &Membership, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sql("DELETE FROM memberships WHERE user_id = $1 AND org_id = $2 AND role = $3")
            .binds((m.user_id, m.org_id, m.role.code()))
            .execute(&mut tx)
            .await?;
        found(done, "没有该角色")?;
        self.finish(tx, &[], audit).await
    }

    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<Membership>> {
        sql("SELECT user_id, org_id, role FROM memberships WHERE user_id = $1 ORDER BY org_id, role")
            .bind(user)
            .all(&mut self.r())
            .await
    }

    async fn members_of_org(&self, org: OrgId) -> Result<Vec<Member>> {
        let rows = sql("SELECT u.*, m.role FROM memberships m JOIN users u ON u.id = m.user_id
                        WHERE m.org_id = $1 ORDER BY u.username, m.role")
        .bind(org)
        .rows(&mut self.r())
        .await?;
        rows::group_members(&rows)
    }

    async fn work_unit_head(&self, org: OrgId) -> Result<Option<User>> {
        let row: Option<UserRow> = sql("SELECT u.* FROM memberships m JOIN users u ON u.id = m.user_id
                                        WHERE m.org_id = $1 AND m.role = 'work_unit_head'")
        .bind(org)
        .optional(&mut self.r())
        .await?;
        Ok(row.map(|r| r.0))
    }

    async fn create_session(&self, s: &Session, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sql("INSERT INTO sessions (token_hash, user_id, org_id, csrf_token, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)")
        .binds((&s.token_hash, s.user_id, s.org_id, &s.csrf_token, s.created_at, s.expires_at))
        .execute(&mut tx)
        .await?;
        self.finish(tx, &[], audit).await
    }

    async fn get_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
        sql("SELECT * FROM sessions WHERE token_hash = $1 AND expires_at > $2")
            .binds((token_hash, now))
            .optional(&mut self.r())
            .await
    }

    async fn set_session_org(&self, token_hash: &str, org: OrgId) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sql("UPDATE sessions SET org_id = $1 WHERE token_hash = $2")
            .binds((org, token_hash))
            .execute(&mut tx)
            .await?;
        found(done, "会话不存在")?;
        tx.commit().await
    }

    async fn delete_session(&self, token_hash: &str, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sql("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&mut tx).await?;
        self.finish(tx, &[], audit).await
    }

    async fn purge_expired(&self, now: DateTime<Utc>, failures_before: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.begin().await?;
        let a = sql("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&mut tx).await?;
        let b = sql("DELETE FROM login_failures WHERE at < $1").bind(failures_before).execute(&mut tx).await?;
        tx.commit().await?;
        Ok(a + b)
    }

    async fn record_login_failure(&self, username: &str, client: &str, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        sql("INSERT INTO login_failures (username, client, at) VALUES ($1, $2, $3)")
            .binds((username, client, at))
            .execute(&mut tx)
            .await?;
        tx.commit().await
    }

    async fn login_failures(&self, username: &str, client: &str, since: DateTime<Utc>) -> Result<LoginFailures> {
        let (pair, pair_last, by_client, untrusted): (i64, Option<DateTime<Utc>>, i64, i64) =
            sql("SELECT (SELECT COUNT(*) FROM login_failures WHERE username = $1 AND client = $2 AND at >= $3),
                    (SELECT MAX(at) FROM login_failures WHERE username = $1 AND client = $2 AND at >= $3),
                    (SELECT COUNT(*) FROM login_failures WHERE client = $2 AND at >= $3),
                    (SELECT COUNT(*) FROM login_failures WHERE username = $1 AND client LIKE 'ip:%' AND at >= $3)")
            .binds((username, client, since))
            .one(&mut self.r())
            .await?;
        Ok(LoginFailures {
            pair: pair as u64,
            pair_last,
            client: by_client as u64,
            username_untrusted: untrusted as u64,
        })
    }

    async fn clear_login_failures(&self, username: &str, client: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sql("DELETE FROM login_failures WHERE username = $1 AND client = $2")
            .binds((username, client))
            .execute(&mut tx)
            .await?;
        tx.commit().await
    }

    async fn create_credential(&self, c: &ApiCredential, secret_hash: &str, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sql("INSERT INTO api_credentials (id, org_id, name, secret_hash, created_by, created_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .binds((c.id, c.org_id, &c.name, secret_hash, &c.created_by, c.created_at, c.expires_at, c.revoked_at))
        .execute(&mut tx)
        .await?;
        self.finish(tx, &[], audit).await
    }

    async fn get_credential(&self, id: CredentialId) -> Result<Option<(ApiCredential, String)>> {
        let row: Option<CredentialRow> =
            sql("SELECT * FROM api_credentials WHERE id = $1").bind(id).optional(&mut self.r()).await?;
        Ok(row.map(|r| (r.0, r.1)))
    }

    async fn list_credentials(&self, org: OrgId) -> Result<Vec<ApiCredential>> {
        let rows: Vec<CredentialRow> =
            sql("SELECT * FROM api_credentials WHERE org_id = $1 ORDER BY created_at DESC, id DESC")
                .bind(org)
                .all(&mut self.r())
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn revoke_credential(&self, id: CredentialId, at: DateTime<Utc>, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        let current: Option<(Option<DateTime<Utc>>,)> =
            sql("SELECT revoked_at FROM api_credentials WHERE id = $1").bind(id).optional(&mut tx).await?;
        match current {
            None => return Err(StoreError::NotFound("API 凭证不存在".into())),
            Some((Some(_),)) => return Err(StoreError::Conflict("API 凭证已吊销".into())),
            Some((None,)) => {}
        }
        sql("UPDATE api_credentials SET revoked_at = $1 WHERE id = $2").bind(at).bind(id).execute(&mut tx).await?;
        self.finish(tx, &[], audit).await
    }

    async fn create_entry(&self, entry: &CatalogEntry, audit: &AuditEvent) -> Result<()> {
        self.create_entries(std::slice::from_ref(entry), audit).await
    }

    async fn create_entries(&self, entries: &[CatalogEntry], audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        for entry in entries {
            catalog::insert_entry(&mut tx, entry).await?;
        }
        let published: Vec<(EntryId, bool)> =
            entries.iter().filter(|e| e.published().is_some()).map(|e| (e.id, true)).collect();
        self.finish_outbox(tx, &[], &[], audit, &published).await
    }

    async fn save_versions(
        &self,
        entry: EntryId,
        versions: &[EntryVersion],
        event: &EntryEvent,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        catalog::require_entry(&mut tx, entry).await?;
        catalog::upsert_versions(&mut tx, entry, versions).await?;
        catalog::insert_event(&mut tx, entry, event).await?;
        let published = versions.iter().any(|v| v.status == EntryStatus::Published);
        let outbox = if published { vec![(entry, true)] } else { Vec::new() };
        self.finish_outbox(tx, duties, notifications, audit, &outbox).await
    }

    async fn get_entry(&self, id: EntryId) -> Result<CatalogEntry> {
        catalog::load(&mut self.r(), Some(id), None)
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound("目录不存在".into()))
    }

    async fn list_entries(&self, provider: Option<OrgId>) -> Result<Vec<CatalogEntry>> {
        catalog::load(&mut self.r(), None, provider).await
    }

    async fn published_versions(&self) -> Result<Vec<(EntryId, u32)>> {
        sql("SELECT entry_id, MAX(version) FROM catalog_versions WHERE status = 'published' GROUP BY entry_id")
            .all(&mut self.r())
            .await
    }

    async fn delete_entry(&self, id: EntryId, expected_events: usize, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        // Updating the entry's row locks it (on PostgreSQL) against a step saved at the same time: a step's
        // save updates the same row, so one of the two waits for the other and then sees its outcome.
        let locked = sql("UPDATE catalog_entries SET resource_code = resource_code WHERE id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
        found(locked, "目录不存在")?;
        let (events,): (i64,) =
            sql("SELECT COUNT(*) FROM catalog_events WHERE entry_id = $1").bind(id).one(&mut tx).await?;
        if events != expected_events as i64 {
            return Err(StoreError::Conflict("目录刚刚有人办理过，请刷新页面后再试".into()));
        }
        catalog::delete(&mut tx, id).await?;
        self.finish(tx, &[], audit).await
    }

    async fn save_assessments(
        &self,
        entry: EntryId,
        version: &EntryVersion,
        added: Option<(ReportId, &[u8])>,
        dropped: Option<ReportId>,
        event: &EntryEvent,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        catalog::require_entry(&mut tx, entry).await?;
        if let Some((report, content)) = added {
            sql("INSERT INTO assessment_reports (id, entry_id, content, created_at) VALUES ($1, $2, $3, $4)")
                .binds((report.0, entry, content, event.at))
                .execute(&mut tx)
                .await?;
        }
        if let Some(report) = dropped {
            sql("DELETE FROM assessment_reports WHERE id = $1 AND entry_id = $2")
                .binds((report.0, entry))
                .execute(&mut tx)
                .await?;
        }
        catalog::upsert_versions(&mut tx, entry, std::slice::from_ref(version)).await?;
        catalog::insert_event(&mut tx, entry, event).await?;
        self.finish(tx, &[], audit).await
    }

    async fn report_file(&self, entry: EntryId, report: ReportId) -> Result<Option<Vec<u8>>> {
        let row: Option<(Vec<u8>,)> = sql("SELECT content FROM assessment_reports WHERE id = $1 AND entry_id = $2")
            .binds((report.0, entry))
            .optional(&mut self.r())
            .await?;
        Ok(row.map(|(content,)| content))
    }

    async fn create_obligation(
        &self,
        obligation: &UpdateObligation,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        catalog::require_entry(&mut tx, obligation.entry).await?;
        sql("INSERT INTO catalog_obligations (id, entry_id, kind, changed_on, description, recorded_by, recorded_at, extension)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .binds((obligation.id, obligation.entry, obligation.kind.code(), obligation.changed_on, &obligation.description, &obligation.recorded_by, obligation.recorded_at, extension_text(obligation.extension.as_ref())?))
        .execute(&mut tx)
        .await?;
        self.finish_with(tx, duties, notifications, audit).await
    }

    async fn set_obligation_extension(
        &self,
        id: ObligationId,
        previous: Option<&Extension>,
        next: &Extension,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let done =
            sql("UPDATE catalog_obligations SET extension = $1 WHERE id = $2 AND extension IS NOT DISTINCT FROM $3")
                .binds((extension_text(Some(next))?, id, extension_text(previous)?))
                .execute(&mut tx)
                .await?;
        if done == 0 {
            let exists: Option<(ObligationId,)> =
                sql("SELECT id FROM catalog_obligations WHERE id = $1").bind(id).optional(&mut tx).await?;
            return Err(match exists {
                None => StoreError::NotFound("更新义务不存在".into()),
                Some(_) => StoreError::Conflict("延期申请已被他人处理，请刷新后再试".into()),
            });
        }
        self.finish_with(tx, duties, notifications, audit).await
    }

    async fn get_obligation(&self, id: ObligationId) -> Result<UpdateObligation> {
        let row = sql(format!("SELECT {OBLIGATION_COLUMNS} FROM catalog_obligations o WHERE o.id = $1"))
            .bind(id)
            .optional(&mut self.r())
            .await?;
        row.ok_or_else(|| StoreError::NotFound("更新义务不存在".into()))
    }

    async fn list_obligations(&self, provider: Option<OrgId>) -> Result<Vec<UpdateObligation>> {
        sql(format!(
            "SELECT {OBLIGATION_COLUMNS} FROM catalog_obligations o JOIN catalog_entries e ON e.id = o.entry_id
             WHERE $1 IS NULL OR e.provider = $1 ORDER BY o.recorded_at DESC, o.id DESC"
        ))
        .bind(provider)
        .all(&mut self.r())
        .await
    }

    async fn save_designation(
        &self,
        designation: &SourceDesignation,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sql("INSERT INTO source_designations (id, region, subject, items, source_org, entry_id, basis, designated_by, designated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (region, subject) DO UPDATE SET id = excluded.id, items = excluded.items,
                 source_org = excluded.source_org, entry_id = excluded.entry_id, basis = excluded.basis,
                 designated_by = excluded.designated_by, designated_at = excluded.designated_at")
        .binds((designation.id, designation.region, &designation.subject, json(&designation.items)?, designation.source_org, designation.entry, &designation.basis, &designation.designated_by, designation.designated_at))
        .execute(&mut tx)
        .await?;
        self.finish(tx, notifications, audit).await
    }

    async fn list_designations(&self, region: Option<RegionCode>) -> Result<Vec<SourceDesignation>> {
        sql("SELECT id, region, subject, items, source_org, entry_id, basis, designated_by, designated_at
             FROM source_designations WHERE $1 IS NULL OR region = $1 ORDER BY region, subject")
        .bind(region)
        .all(&mut self.r())
        .await
    }

    async fn create_application(
        &self,
        application: &mut Application,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let found: (i64, i64, i64) = sql(
            "SELECT (SELECT COUNT(*) FROM catalog_entries WHERE id = $1), (SELECT COUNT(*) FROM organisations WHERE id = $2),
                    (SELECT COUNT(*) FROM organisations WHERE id = $3)",
        )
        .binds((application.entry, application.requester, application.provider))
        .one(&mut tx)
        .await?;
        match found {
            (0, _, _) => return Err(StoreError::NotFound("目录不存在".into())),
            (_, 0, _) | (_, _, 0) => return Err(StoreError::NotFound("单位不存在".into())),
            _ => {}
        }
        let number = next_number(&mut tx, NumberKind::Application, application.created_at).await?;
        let a = Application { number, ..application.clone() };
        let stage = a.stage();
        sql("INSERT INTO applications (id, number, requester, provider, entry_id, stage, is_open, events, created_at, updated_at, document)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .binds((a.id, &a.number, a.requester, a.provider, a.entry, stage.code(), !stage.is_final(), a.events.len(), a.created_at, updated_at(&a), json(&a)?))
        .execute(&mut tx)
        .await?;
        self.finish_with(tx, duties, notifications, audit).await?;
        application.number = a.number;
        Ok(())
    }

    async fn save_application(
        &self,
        application: &Application,
        expected_events: usize,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        update_application(&mut tx, application, expected_events).await?;
        self.finish_with(tx, duties, notifications, audit).await
    }

    async fn get_application(&self, id: ApplicationId) -> Result<Application> {
        let row: Option<(String, Application)> =
            sql("SELECT number, document FROM applications WHERE id = $1").bind(id).optional(&mut self.r()).await?;
        Ok(numbered_application(row.ok_or_else(|| StoreError::NotFound("共享申请不存在".into()))?))
    }

    async fn list_applications(&self, party: Option<OrgId>, open_only: bool) -> Result<Vec<Application>> {
        let rows: Vec<(String, Application)> = sql("SELECT number, document FROM applications
             WHERE ($1 IS NULL OR requester = $1 OR provider = $1) AND ($2 = FALSE OR is_open = TRUE)
             ORDER BY created_at DESC, id DESC")
        .binds((party, open_only))
        .all(&mut self.r())
        .await?;
        Ok(rows.into_iter().map(numbered_application).collect())
    }

    async fn save_source(&self, source: &DataSource, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        catalog::require_entry(&mut tx, source.entry).await?;
        sql("INSERT INTO data_sources (entry_id, document, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (entry_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at")
        .binds((source.entry, json(source)?, source.updated_at))
        .execute(&mut tx)
        .await?;
        self.finish(tx, &[], audit).await
    }

    async fn get_source(&self, entry: EntryId) -> Result<Option<DataSource>> {
        let row: Option<(DataSource,)> =
            sql("SELECT document FROM data_sources WHERE entry_id = $1").bind(entry).optional(&mut self.r()).await?;
        Ok(row.map(|(d,)| d))
    }

    async fn load_records(
        &self,
        load: &SourceLoad,
        feed: &mut dyn RecordFeed,
        audit: &AuditEvent,
    ) -> Result<LoadCounts> {
        let mut tx = self.begin().await?;
        let counts = data::load(&mut tx, load, feed).await?;
        let audit = feed.conclusion().map_or_else(|| audit.clone(), |(_, audit)| audit);
        self.finish(tx, &[], &audit).await?;
        Ok(counts)
    }

    async fn source_loads(&self, entry: EntryId, limit: u32) -> Result<Vec<SourceLoad>> {
        let rows: Vec<(SourceLoad,)> =
            sql("SELECT document FROM source_loads WHERE entry_id = $1 ORDER BY at DESC, id DESC LIMIT $2")
                .binds((entry, limit))
                .all(&mut self.r())
                .await?;
        Ok(rows.into_iter().map(|(d,)| d).collect())
    }

    async fn get_record(&self, entry: EntryId, key: &str) -> Result<Option<StoredRecord>> {
        sql(concat!(
            "SELECT key, scope, seq, digest, payload, deleted FROM source_records ",
            "WHERE entry_id = $1 AND key = $2 AND deleted = FALSE"
        ))
        .binds((entry, key))
        .optional(&mut self.r())
        .await
    }

    // Both scans are planned for their arguments on every call: PostgreSQL's generic plan of a prepared statement
    // (used from its sixth run) guesses a row scope's prefix condition to keep 0.5 % of the rows and so sorts
    // every row after the cursor for each page instead of walking the index in order — at 1M records about 50 ms
    // per page of 1,000 (`EXPLAIN EXECUTE` under `plan_cache_mode = force_generic_plan` shows the sort; the custom
    // plan is an index scan). Measured by `govshare bench data --backend postgres --bulk-only`.
    async fn scan_records(
        &self,
        entry: EntryId,
        scope_prefixes: Option<&[String]>,
        after_key: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>> {
        let mut q = sql(RECORD_COLUMNS).bind(entry);
        q.text(" AND deleted = FALSE");
        if let Some(after) = after_key {
            let p = q.param(after);
            q.text(&format!(" AND key > {p}"));
        }
        push_scope::<D>(&mut q, scope_prefixes);
        let p = q.param(limit);
        q.text(&format!(" ORDER BY key LIMIT {p}")).planned_per_call();
        q.all(&mut self.r()).await
    }

    async fn record_changes(
        &self,
        entry: EntryId,
        scope_prefixes: Option<&[String]>,
        after_seq: i64,
        live_only: bool,
        limit: u32,
    ) -> Result<Vec<StoredRecord>> {
        let mut q = sql(RECORD_COLUMNS).bind(entry).bind(after_seq);
        q.text(" AND seq > $2");
        if live_only {
            q.text(" AND deleted = FALSE");
        }
        push_scope::<D>(&mut q, scope_prefixes);
        let p = q.param(limit);
        q.text(&format!(" ORDER BY seq LIMIT {p}")).planned_per_call();
        q.all(&mut self.r()).await
    }

    async fn record_versions(&self, entry: EntryId, key: &str) -> Result<Vec<RecordVersion>> {
        sql("SELECT seq, digest, payload, load_id FROM source_changes WHERE entry_id = $1 AND key = $2
             UNION ALL
             SELECT seq, digest, CASE WHEN deleted THEN NULL ELSE payload END, written_by
               FROM source_records WHERE entry_id = $1 AND key = $2
             ORDER BY 1")
        .binds((entry, key))
        .all(&mut self.r())
        .await
    }

    async fn create_grant(
        &self,
        grant: &mut Grant,
        application: &Application,
        expected_events: usize,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        update_application(&mut tx, application, expected_events).await?;
        let number = next_number(&mut tx, NumberKind::Grant, grant.created_at).await?;
        let g = Grant { number, ..grant.clone() };
        data::insert_grant(&mut tx, &g).await?;
        self.finish_with(tx, duties, notifications, audit).await?;
        grant.number = g.number;
        Ok(())
    }

    async fn save_grants(
        &self,
        grants: &[(&Grant, usize)],
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        write_grants(&mut tx, grants).await?;
        self.finish_with(tx, duties, notifications, audit).await
    }

    async fn get_grant(&self, id: GrantId) -> Result<Grant> {
        let row: Option<(String, Grant)> =
            sql("SELECT number, document FROM grants WHERE id = $1").bind(id).optional(&mut self.r()).await?;
        Ok(numbered_grant(row.ok_or_else(|| StoreError::NotFound("共享授权不存在".into()))?))
    }

    async fn list_grants(&self, party: Option<OrgId>) -> Result<Vec<Grant>> {
        let rows: Vec<(String, Grant)> = sql("SELECT number, document FROM grants
             WHERE $1 IS NULL OR requester = $1 OR provider = $1 ORDER BY created_at DESC, id DESC")
        .bind(party)
        .all(&mut self.r())
        .await?;
        Ok(rows.into_iter().map(numbered_grant).collect())
    }

    async fn add_use_record(
        &self,
        record: &UseRecord,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sql("INSERT INTO use_records (id, grant_id, recorded_at, document) VALUES ($1, $2, $3, $4)")
            .binds((record.id, record.grant, record.recorded_at, json(record)?))
            .execute(&mut tx)
            .await?;
        self.finish_with(tx, duties, notifications, audit).await
    }

    async fn use_records(&self, grant: GrantId) -> Result<Vec<UseRecord>> {
        let rows: Vec<(UseRecord,)> =
            sql("SELECT document FROM use_records WHERE grant_id = $1 ORDER BY recorded_at, id")
                .bind(grant)
                .all(&mut self.r())
                .await?;
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }

    async fn report_incident(
        &self,
        incident: &mut Incident,
        grants: &[(&Grant, usize)],
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let number = next_number(&mut tx, NumberKind::Incident, incident.created_at).await?;
        let mut numbered = incident.clone();
        numbered.number = number.clone();
        sql("INSERT INTO incidents (id, number, org_id, region, events, created_at, document)
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .binds((numbered.id, &number, numbered.org, numbered.region, numbered.events.len(), numbered.created_at))
        .bind(json(&numbered)?)
        .execute(&mut tx)
        .await?;
        write_grants(&mut tx, grants).await?;
        self.finish_with(tx, duties, notifications, audit).await?;
        incident.number = number;
        Ok(())
    }

    async fn save_incident(
        &self,
        incident: &Incident,
        expected_events: usize,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let (id, steps) = (incident.id.0, incident.events.len());
        quality::save_case(&mut tx, "incidents", "安全事件报告", id, steps, expected_events, json(incident)?).await?;
        self.finish(tx, notifications, audit).await
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Incident> {
        self.document("incidents", id.0, "安全事件报告不存在").await
    }

    async fn list_incidents(&self, org: Option<OrgId>, region: Option<RegionCode>) -> Result<Vec<Incident>> {
        let rows: Vec<(Incident,)> = sql("SELECT document FROM incidents
             WHERE ($1 IS NULL OR org_id = $1) AND ($2 IS NULL OR region = $2) ORDER BY created_at DESC, id DESC")
        .binds((org, region))
        .all(&mut self.r())
        .await?;
        Ok(rows.into_iter().map(|(i,)| i).collect())
    }

    async fn create_correction(
        &self,
        correction: &mut Correction,
        attachment: Option<(&AttachmentRef, &[u8])>,
        record: Option<&StoredRecord>,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let number = next_number(&mut tx, NumberKind::Correction, correction.received_at).await?;
        let mut numbered = correction.clone();
        numbered.number = number;
        sql("INSERT INTO corrections (id, number, entry_id, provider, requester, record_key, open, events, created_at,
               document) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .binds((numbered.id, &numbered.number, numbered.entry, numbered.provider, numbered.requester))
        .binds((&numbered.record_key, numbered.is_open(), numbered.events.len(), numbered.received_at))
        .bind(json(&numbered)?)
        .execute(&mut tx)
        .await?;
        quality::insert_attachment(&mut tx, numbered.id.0, numbered.received_at, attachment).await?;
        quality::write_corrected(&mut tx, &mut numbered, record).await?;
        sql("UPDATE corrections SET document = $1 WHERE id = $2")
            .binds((json(&numbered)?, numbered.id))
            .execute(&mut tx)
            .await?;
        self.finish_with(tx, duties, notifications, audit).await?;
        *correction = numbered;
        Ok(())
    }

    async fn save_correction(
        &self,
        correction: &mut Correction,
        expected_events: usize,
        record: Option<&StoredRecord>,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut saved = correction.clone();
        let (id, steps) = (saved.id.0, saved.events.len());
        quality::save_case(&mut tx, "corrections", "校核申请", id, steps, expected_events, json(&saved)?).await?;
        quality::write_corrected(&mut tx, &mut saved, record).await?;
        sql("UPDATE corrections SET open = $1, document = $2 WHERE id = $3")
            .binds((saved.is_open(), json(&saved)?, saved.id))
            .execute(&mut tx)
            .await?;
        self.finish_with(tx, duties, notifications, audit).await?;
        *correction = saved;
        Ok(())
    }

    async fn get_correction(&self, id: CorrectionId) -> Result<Correction> {
        self.document("corrections", id.0, "校核申请不存在").await
    }

    async fn list_corrections(&self, entry: Option<EntryId>, party: Option<OrgId>) -> Result<Vec<Correction>> {
        let rows: Vec<(Correction,)> = sql("SELECT document FROM corrections
             WHERE ($1 IS NULL OR entry_id = $1) AND ($2 IS NULL OR provider = $2 OR requester = $2)
             ORDER BY created_at DESC, id DESC")
        .binds((entry, party))
        .all(&mut self.r())
        .await?;
        Ok(rows.into_iter().map(|(c,)| c).collect())
    }

    async fn correction_marks(&self, entry: EntryId) -> Result<Vec<CorrectionMark>> {
        let rows: Vec<(String, String, bool, Option<i64>)> = sql("SELECT record_key, number, open, applied_seq
             FROM corrections WHERE entry_id = $1 AND (open = TRUE OR applied_seq IS NOT NULL)")
        .bind(entry)
        .all(&mut self.r())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(record_key, number, open, applied_seq)| CorrectionMark { record_key, number, open, applied_seq })
            .collect())
    }

    async fn create_dispute(
        &self,
        dispute: &mut Dispute,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let number = next_number(&mut tx, NumberKind::Dispute, dispute.created_at).await?;
        let mut numbered = dispute.clone();
        numbered.number = number.clone();
        sql("INSERT INTO disputes (id, number, opener, counterpart, events, created_at, document)
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .binds((numbered.id, &number, numbered.opener, numbered.counterpart, numbered.steps.len(), numbered.created_at))
        .bind(json(&numbered)?)
        .execute(&mut tx)
        .await?;
        self.finish(tx, notifications, audit).await?;
        dispute.number = number;
        Ok(())
    }

    async fn save_dispute(
        &self,
        dispute: &Dispute,
        expected_steps: usize,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let (id, steps) = (dispute.id.0, dispute.steps.len());
        quality::save_case(&mut tx, "disputes", "争议", id, steps, expected_steps, json(dispute)?).await?;
        self.finish_with(tx, duties, notifications, audit).await
    }

    async fn get_dispute(&self, id: DisputeId) -> Result<Dispute> {
        self.document("disputes", id.0, "争议不存在").await
    }

    async fn list_disputes(&self, party: Option<OrgId>) -> Result<Vec<Dispute>> {
        let rows: Vec<(Dispute,)> = sql("SELECT document FROM disputes
             WHERE ($1 IS NULL OR opener = $1 OR counterpart = $1) ORDER BY created_at DESC, id DESC")
        .bind(party)
        .all(&mut self.r())
        .await?;
        Ok(rows.into_iter().map(|(d,)| d).collect())
    }

    async fn create_complaint(
        &self,
        complaint: &mut Complaint,
        attachment: Option<(&AttachmentRef, &[u8])>,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let number = next_number(&mut tx, NumberKind::Complaint, complaint.received_at).await?;
        let mut numbered = complaint.clone();
        numbered.number = number.clone();
        sql("INSERT INTO complaints (id, number, tracking_digest, handler, events, created_at, document)
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .binds((numbered.id, &number, &numbered.tracking_digest, numbered.handler, numbered.events.len()))
        .binds((numbered.received_at, json(&numbered)?))
        .execute(&mut tx)
        .await?;
        quality::insert_attachment(&mut tx, numbered.id.0, numbered.received_at, attachment).await?;
        self.finish_with(tx, duties, notifications, audit).await?;
        complaint.number = number;
        Ok(())
    }

    async fn save_complaint(
        &self,
        complaint: &Complaint,
        expected_events: usize,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let (id, steps) = (complaint.id.0, complaint.events.len());
        quality::save_case(&mut tx, "complaints", "投诉举报", id, steps, expected_events, json(complaint)?).await?;
        sql("UPDATE complaints SET handler = $1 WHERE id = $2")
            .binds((complaint.handler, complaint.id))
            .execute(&mut tx)
            .await?;
        self.finish_with(tx, duties, notifications, audit).await
    }

    async fn get_complaint(&self, id: ComplaintId) -> Result<Complaint> {
        self.document("complaints", id.0, "投诉举报不存在").await
    }

    async fn complaint_by_tracking(&self, tracking_digest: &str) -> Result<Option<Complaint>> {
        let row: Option<(Complaint,)> = sql("SELECT document FROM complaints WHERE tracking_digest = $1")
            .bind(tracking_digest)
            .optional(&mut self.r())
            .await?;
        Ok(row.map(|(c,)| c))
    }

    async fn list_complaints(&self, handler: Option<OrgId>) -> Result<Vec<Complaint>> {
        let rows: Vec<(Complaint,)> = sql("SELECT document FROM complaints
             WHERE ($1 IS NULL OR handler = $1) ORDER BY created_at DESC, id DESC")
        .bind(handler)
        .all(&mut self.r())
        .await?;
        Ok(rows.into_iter().map(|(c,)| c).collect())
    }

    async fn duty_tallies(
        &self,
        owners: Option<&[OrgId]>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<govshare_store::DutyTally>> {
        supervision::duty_tallies(&mut self.r(), owners, from, to, now).await
    }

    async fn late_duties(
        &self,
        owners: Option<&[OrgId]>,
        kinds: &[govshare_domain::duty::DutyKind],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Duty>> {
        supervision::late_duties(&mut self.r(), owners, kinds, (from, to, now), limit).await
    }

    async fn duty(&self, key: &str) -> Result<Option<Duty>> {
        sql(format!("SELECT {DUTY_COLUMNS} FROM duties WHERE key = $1")).bind(key).optional(&mut self.r()).await
    }

    async fn act_duties(
        &self,
        owners: Option<&[OrgId]>,
        kinds: &[govshare_domain::duty::DutyKind],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Duty>> {
        supervision::act_duties(&mut self.r(), owners, kinds, (from, to), limit).await
    }

    async fn overdue_changes(
        &self,
        owners: Option<&[OrgId]>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<govshare_store::OverdueChanges> {
        supervision::overdue_changes(&mut self.r(), owners, from, to, now).await
    }

    async fn usage_totals(
        &self,
        orgs: Option<&[OrgId]>,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        by: govshare_store::UsageBy,
    ) -> Result<Vec<govshare_store::UsageTotal>> {
        supervision::usage_totals(&mut self.r(), orgs, from, to, by).await
    }

    async fn create_order(
        &self,
        order: &mut Order,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let number = next_number(&mut tx, NumberKind::Order, order.issued_at).await?;
        let mut numbered = order.clone();
        numbered.number = number.clone();
        sql("INSERT INTO orders (id, number, violation, department, authority, events, created_at, document)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .binds((numbered.id, &number, &numbered.violation, numbered.department, numbered.authority))
        .binds((numbered.events.len(), numbered.issued_at, json(&numbered)?))
        .execute(&mut tx)
        .await?;
        self.finish_with(tx, duties, notifications, audit).await?;
        order.number = number;
        Ok(())
    }

    async fn save_order(
        &self,
        order: &Order,
        expected_events: usize,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let (id, steps) = (order.id.0, order.events.len());
        quality::save_case(&mut tx, "orders", "责令改正", id, steps, expected_events, json(order)?).await?;
        self.finish_with(tx, duties, notifications, audit).await
    }

    async fn get_order(&self, id: OrderId) -> Result<Order> {
        self.document("orders", id.0, "责令改正不存在").await
    }

    async fn list_orders(&self, department: Option<OrgId>) -> Result<Vec<Order>> {
        let rows: Vec<(Order,)> = sql("SELECT document FROM orders
             WHERE ($1 IS NULL OR department = $1) ORDER BY created_at DESC, id DESC")
        .bind(department)
        .all(&mut self.r())
        .await?;
        Ok(rows.into_iter().map(|(o,)| o).collect())
    }

    async fn create_notice(
        &self,
        notice: &mut Notice,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let number = next_number(&mut tx, NumberKind::Notice, notice.published_at).await?;
        let mut numbered = notice.clone();
        numbered.number = number.clone();
        sql("INSERT INTO notices (id, number, region, authority, published_at, document)
             VALUES ($1, $2, $3, $4, $5, $6)")
        .binds((numbered.id, &number, numbered.region, numbered.authority, numbered.published_at))
        .bind(json(&numbered)?)
        .execute(&mut tx)
        .await?;
        self.finish(tx, notifications, audit).await?;
        notice.number = number;
        Ok(())
    }

    async fn get_notice(&self, id: NoticeId) -> Result<Notice> {
        self.document("notices", id.0, "通报不存在").await
    }

    async fn list_notices(&self) -> Result<Vec<Notice>> {
        let rows: Vec<(Notice,)> =
            sql("SELECT document FROM notices ORDER BY published_at DESC, id DESC").all(&mut self.r()).await?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }

    async fn get_attachment(&self, owner: uuid::Uuid, id: uuid::Uuid) -> Result<Option<Vec<u8>>> {
        let row: Option<(Vec<u8>,)> = sql("SELECT data FROM attachments WHERE id = $1 AND owner_id = $2")
            .binds((id, owner))
            .optional(&mut self.r())
            .await?;
        Ok(row.map(|(d,)| d))
    }

    async fn append_usage(&self, records: &[UsageRecord]) -> Result<()> {
        self.usage_months_ready(&evidence::months_of(records)).await?;
        let mut tx = self.begin().await?;
        evidence::append_sealed(&mut tx, records).await?;
        supervision::roll_up(&mut tx, records).await?;
        tx.commit().await
    }

    async fn sealed_usage(&self, batches: &[uuid::Uuid]) -> Result<Vec<(uuid::Uuid, StoredUsage)>> {
        let mut out = Vec::new();
        for chunk in batches.chunks(ROWS_PER_STATEMENT) {
            let rows: Vec<SealedRow> = sql(format!(
                "SELECT id, at, requester, provider, grant_id, entry_id, rows, document, seal_id, seal_position \
                 FROM usage_records WHERE {} ORDER BY seal_id, seal_position",
                <D as Dialect>::any("seal_id", "$1")
            ))
            .bind(Arg::Ids(chunk.to_vec()))
            .all(&mut self.r())
            .await?;
            out.extend(rows.into_iter().map(|SealedRow(batch, usage)| (batch, usage)));
        }
        Ok(out)
    }

    async fn usage_count(&self) -> Result<u64> {
        let (n,): (i64,) = sql("SELECT COUNT(*) FROM usage_records").one(&mut self.r()).await?;
        Ok(n as u64)
    }

    async fn usage_seal_of(&self, id: uuid::Uuid) -> Result<Option<(uuid::Uuid, i64)>> {
        let rows =
            sql("SELECT seal_id, seal_position FROM usage_records WHERE id = $1").bind(id).rows(&mut self.r()).await?;
        Ok(rows.first().and_then(|r| Some((r.id(Col::At(0)).ok()??, r.int(Col::At(1)).ok()??))))
    }

    async fn seal_record(&self, batch: uuid::Uuid) -> Result<Option<AuditRecord>> {
        sql("SELECT * FROM audit_log WHERE object_type = $1 AND object_id = $2 AND action = $3 ORDER BY seq LIMIT 1")
            .binds((USAGE_BATCH_OBJECT, batch.to_string(), USAGE_SEAL_ACTION))
            .optional(&mut self.r())
            .await
    }

    async fn seal_records(&self, batches: &[uuid::Uuid]) -> Result<Vec<AuditRecord>> {
        let mut out = Vec::new();
        for chunk in batches.chunks(ROWS_PER_STATEMENT) {
            let ids: Vec<String> = chunk.iter().map(uuid::Uuid::to_string).collect();
            let mut q = sql(format!(
                "SELECT * FROM audit_log WHERE object_type = $1 AND action = $2 AND {} ORDER BY seq",
                <D as Dialect>::any("object_id", "$3")
            ))
            .binds((USAGE_BATCH_OBJECT, USAGE_SEAL_ACTION))
            .bind(Arg::Texts(ids.iter().map(String::as_str).collect()));
            let records: Vec<AuditRecord> = q.planned_per_call().all(&mut self.r()).await?;
            out.extend(records);
        }
        Ok(out)
    }

    async fn usage_months(&self) -> Result<Vec<chrono::NaiveDate>> {
        let rows: Vec<(chrono::NaiveDate,)> = sql(D::USAGE_MONTHS).all(&mut self.r()).await?;
        Ok(rows.into_iter().map(|(m,)| m).collect())
    }

    async fn usage_month_newest(&self, month: chrono::NaiveDate) -> Result<Option<DateTime<Utc>>> {
        let (newest,): (Option<DateTime<Utc>>,) =
            sql("SELECT MAX(at) FROM usage_records WHERE month = $1").bind(month).one(&mut self.r()).await?;
        Ok(newest)
    }

    async fn usage_month_page(
        &self,
        month: chrono::NaiveDate,
        after: Option<(uuid::Uuid, i64)>,
        limit: u32,
    ) -> Result<Vec<(uuid::Uuid, StoredUsage)>> {
        evidence::month_page(self, month, after, limit).await
    }

    async fn usage_archives(&self) -> Result<Vec<UsageArchive>> {
        evidence::archives(self).await
    }

    async fn record_usage_archive(
        &self,
        archive: &UsageArchive,
        batches: &[(uuid::Uuid, u64)],
        event: &AuditEvent,
    ) -> Result<()> {
        evidence::record_archive(self, archive, batches, event).await
    }

    async fn detach_usage_month(
        &self,
        month: chrono::NaiveDate,
        at: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<bool> {
        evidence::detach_month(self, month, at, event).await
    }

    async fn archived_batches(&self, batches: &[uuid::Uuid]) -> Result<Vec<(uuid::Uuid, chrono::NaiveDate, u64)>> {
        evidence::archived_batches(self, batches).await
    }

    async fn archived_batch_months(&self) -> Result<Vec<chrono::NaiveDate>> {
        let rows: Vec<(chrono::NaiveDate,)> =
            sql("SELECT DISTINCT month FROM usage_archived_batches ORDER BY month").all(&mut self.r()).await?;
        Ok(rows.into_iter().map(|(m,)| m).collect())
    }

    async fn archived_batches_of(
        &self,
        month: chrono::NaiveDate,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> Result<Vec<(uuid::Uuid, u64)>> {
        evidence::archived_batches_of(self, month, after, limit).await
    }

    fn partitions_usage(&self) -> bool {
        D::USAGE_PARTITIONS
    }

    fn parallel_writes(&self) -> usize {
        D::PARALLEL_WRITES
    }

    async fn usage_records(&self, filter: &UsageFilter, limit: u32) -> Result<Vec<UsageRecord>> {
        let mut q = usage_filter(filter, "SELECT document FROM usage_records WHERE TRUE");
        let (limit, offset) = (q.param(limit), q.param(i64::try_from(filter.offset).unwrap_or(i64::MAX)));
        q.text(&format!(" ORDER BY at DESC, id DESC LIMIT {limit} OFFSET {offset}"));
        let rows: Vec<(UsageRecord,)> = q.all(&mut self.r()).await?;
        Ok(rows.into_iter().map(|(d,)| d).collect())
    }

    async fn count_usage(&self, filter: &UsageFilter) -> Result<u64> {
        let (n,): (i64,) =
            usage_filter(filter, "SELECT COUNT(*) FROM usage_records WHERE TRUE").one(&mut self.r()).await?;
        Ok(n as u64)
    }

    async fn usage_rows_since(&self, grant: GrantId, since: DateTime<Utc>) -> Result<u64> {
        let (sum,): (Option<i64>,) =
            sql("SELECT CAST(SUM(rows) AS BIGINT) FROM usage_records WHERE grant_id = $1 AND at >= $2")
                .binds((grant, since))
                .one(&mut self.r())
                .await?;
        Ok(sum.unwrap_or(0).max(0) as u64)
    }

    async fn duties(&self, filter: &DutyFilter, limit: u32) -> Result<Vec<Duty>> {
        let mut q = duty_filter(filter, format!("SELECT {DUTY_COLUMNS} FROM duties WHERE TRUE"));
        let order =
            if filter.open == Some(true) { "due_at IS NULL, due_at, started_at, key" } else { "started_at DESC, key" };
        let p = q.param(limit);
        q.text(&format!(" ORDER BY {order} LIMIT {p}"));
        q.all(&mut self.r()).await
    }

    async fn count_duties(&self, filter: &DutyFilter) -> Result<u64> {
        let (n,): (i64,) =
            duty_filter(filter, "SELECT COUNT(*) FROM duties WHERE TRUE".into()).one(&mut self.r()).await?;
        Ok(n as u64)
    }

    async fn due_duties(
        &self,
        sent: Option<AlertKind>,
        due_by: DateTime<Utc>,
        after: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> Result<Vec<Duty>> {
        // One range of the partial index (alert, due_at, key), read in its order: a seek per page.
        let (alert, bound) = if sent.is_some() { (1i64, "<") } else { (0, "<=") };
        let mut q = sql(format!(
            "SELECT {DUTY_COLUMNS} FROM duties WHERE closed_at IS NULL AND alert < 2 AND alert = $1 AND due_at {bound} $2"
        ))
        .binds((alert, due_by));
        if let Some(cursor) = after {
            q = q.binds(cursor);
            q.text(" AND (due_at, key) > ($3, $4)");
        }
        let p = q.param(limit);
        q.text(&format!(" ORDER BY due_at, key LIMIT {p}"));
        q.all(&mut self.r()).await
    }

    async fn mark_duty(
        &self,
        key: &str,
        due_at: DateTime<Utc>,
        alert: &DeadlineAlert,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<bool> {
        let state: i64 = if alert.kind == AlertKind::Overdue { 2 } else { 1 };
        let mut tx = self.begin().await?;
        let marked =
            sql("UPDATE duties SET alert = $1 WHERE key = $2 AND due_at = $3 AND alert < $1 AND closed_at IS NULL")
                .binds((state, key, due_at))
                .execute(&mut tx)
                .await?;
        if marked == 0 {
            return Ok(false);
        }
        sql(
            "INSERT INTO deadline_alerts (key, subject, kind, due_at, created_at, note) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (key) DO NOTHING",
        )
        .binds((&alert.key, &alert.subject, alert.kind.code(), alert.due_at, alert.created_at, &alert.note))
        .execute(&mut tx)
        .await?;
        self.finish(tx, notifications, audit).await?;
        Ok(true)
    }

    async fn duty_backfill_pending(&self) -> Result<bool> {
        let (done,): (bool,) = sql("SELECT backfilled FROM duty_ledger WHERE id = 1").one(&mut self.r()).await?;
        Ok(!done)
    }

    async fn backfill_duties(&self, duties: &[Duty], audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        sql("UPDATE duty_ledger SET backfilled = TRUE WHERE id = 1").execute(&mut tx).await?;
        self.finish_with(tx, duties, &[], audit).await
    }

    async fn deadline_alerts(&self, subject: &str) -> Result<Vec<DeadlineAlert>> {
        sql("SELECT key, subject, kind, due_at, created_at, note FROM deadline_alerts WHERE subject = $1
             ORDER BY created_at, key")
        .bind(subject)
        .all(&mut self.r())
        .await
    }

    async fn overdue_marks(&self, limit: u32) -> Result<Vec<DeadlineAlert>> {
        sql("SELECT key, subject, kind, due_at, created_at, note FROM deadline_alerts WHERE kind = 'overdue'
             ORDER BY created_at DESC, key LIMIT $1")
        .bind(limit)
        .all(&mut self.r())
        .await
    }

    async fn notifications(&self, org: OrgId, reader: &str, limit: u32) -> Result<Vec<Notification>> {
        sql("SELECT n.id, n.org_id, n.created_at, n.kind, n.title, n.body, n.link, r.read_at FROM notifications n
             LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.reader = $2
             WHERE n.org_id = $1 ORDER BY n.created_at DESC, n.id DESC LIMIT $3")
        .binds((org, reader, limit))
        .all(&mut self.r())
        .await
    }

    async fn mark_notification_read(&self, org: OrgId, reader: &str, id: uuid::Uuid, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        let known: Option<(uuid::Uuid,)> = sql("SELECT id FROM notifications WHERE id = $1 AND org_id = $2")
            .binds((id, org))
            .optional(&mut tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::NotFound("通知不存在".into()));
        }
        sql("INSERT INTO notification_reads (notification_id, reader, read_at) VALUES ($1, $2, $3)
             ON CONFLICT (notification_id, reader) DO NOTHING")
        .binds((id, reader, at))
        .execute(&mut tx)
        .await?;
        tx.commit().await
    }

    async fn save_calendar_years(&self, years: &[(i32, String)], audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        for (year, data) in years {
            sql("INSERT INTO calendar_years (year, data) VALUES ($1, $2)
                 ON CONFLICT (year) DO UPDATE SET data = excluded.data")
            .binds((*year, data))
            .execute(&mut tx)
            .await?;
        }
        self.finish(tx, &[], audit).await
    }

    async fn calendar_years(&self) -> Result<Vec<(i32, String)>> {
        sql("SELECT year, data FROM calendar_years ORDER BY year").all(&mut self.r()).await
    }

    async fn federation_config(&self) -> Result<Option<NodeConfig>> {
        federation::config(self).await
    }

    async fn save_federation_config(
        &self,
        config: &NodeConfig,
        directory: Option<(u64, DateTime<Utc>, &SignedDirectory)>,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        federation::save_config(&mut tx, config, directory).await?;
        self.finish(tx, &[], audit).await
    }

    async fn held_directory(&self) -> Result<Option<SignedDirectory>> {
        federation::held_directory(self).await
    }

    async fn adopt_directory(
        &self,
        version: u64,
        expires_at: DateTime<Utc>,
        signed: &SignedDirectory,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !federation::adopt_directory(&mut tx, version, expires_at, signed, at).await? {
            return Ok(false);
        }
        self.finish(tx, &[], audit).await?;
        Ok(true)
    }

    async fn outbox_after(&self, after: i64, limit: u32) -> Result<Vec<(i64, EntryId, bool)>> {
        federation::outbox_after(self, after, limit).await
    }

    async fn outbox_head(&self) -> Result<i64> {
        federation::outbox_head(self).await
    }

    async fn set_parent_acked(&self, acked: i64) -> Result<()> {
        federation::set_parent_acked(self, acked).await
    }

    async fn apply_deltas(
        &self,
        child: &NodeId,
        after: i64,
        through: i64,
        entries: &[FederatedEntry],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<i64> {
        federation::apply_deltas(self, child, after, through, entries, at, audit).await
    }

    async fn federated_entries(&self, ids: Option<&[EntryId]>) -> Result<Vec<FederatedEntry>> {
        federation::federated_entries(self, ids).await
    }

    async fn federated_versions(&self, ids: Option<&[EntryId]>) -> Result<Vec<(EntryId, u32)>> {
        federation::federated_versions(self, ids).await
    }

    async fn admit_child(&self, request: &AdmissionRequest, at: DateTime<Utc>, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        federation::admit_child(&mut tx, request, at).await?;
        self.finish(tx, &[], audit).await
    }

    async fn federation_children(&self) -> Result<Vec<ChildNode>> {
        federation::children(self).await
    }

    async fn child_seen(
        &self,
        child: &NodeId,
        at: DateTime<Utc>,
        directory_version: Option<u64>,
        clock_skew_ms: i64,
    ) -> Result<()> {
        federation::child_seen(self, child, at, directory_version, clock_skew_ms).await
    }

    async fn use_nonce(
        &self,
        sender: &NodeId,
        nonce: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool> {
        federation::use_nonce(self, sender, nonce, at, forget_before).await
    }

    async fn witness_checkpoint(
        &self,
        child: &NodeId,
        checkpoint: &govshare_domain::evidence::Checkpoint,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        federation::witness_checkpoint(self, child, checkpoint, at).await
    }

    async fn witnessed_checkpoints(&self, child: &NodeId) -> Result<Vec<govshare_domain::evidence::Checkpoint>> {
        federation::witnessed_checkpoints(self, child).await
    }

    async fn append_audit(&self, audit: &AuditEvent) -> Result<AuditRecord> {
        let mut tx = self.begin().await?;
        let record = append(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>> {
        sql("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .binds((after, limit))
            .all(&mut self.r())
            .await
    }

    async fn recent_audit(&self, org: Option<OrgId>, limit: u32) -> Result<Vec<AuditRecord>> {
        sql("SELECT * FROM audit_log WHERE ($1 IS NULL OR org_id = $1) ORDER BY seq DESC LIMIT $2")
            .binds((org, limit))
            .all(&mut self.r())
            .await
    }

    async fn search_audit(&self, f: &AuditFilter) -> Result<(Vec<AuditRecord>, u64)> {
        const WHERE: &str = "WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2) \
            AND ($3 IS NULL OR object_id = $3) AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5)";
        let order = if f.newest_first { "DESC" } else { "ASC" };
        let conditions = (&f.actor, &f.action, &f.object_id, f.from, f.until);
        let mut r = self.r();
        let (total,): (i64,) =
            sql(format!("SELECT COUNT(*) FROM audit_log {WHERE}")).binds(conditions).one(&mut r).await?;
        let offset = i64::try_from(f.offset).unwrap_or(i64::MAX);
        let records = sql(format!("SELECT * FROM audit_log {WHERE} ORDER BY seq {order} LIMIT $6 OFFSET $7"))
            .binds((&f.actor, &f.action, &f.object_id, f.from, f.until, f.limit, offset))
            .all(&mut r)
            .await?;
        Ok((records, u64::try_from(total).unwrap_or(0)))
    }

    async fn audit_actors(&self, limit: u32) -> Result<Vec<(String, Option<String>)>> {
        sql("SELECT a.actor, u.display_name FROM (SELECT DISTINCT actor FROM audit_log ORDER BY actor LIMIT $1) a \
             LEFT JOIN users u ON substr(a.actor, 1, 5) = 'user:' AND u.username = substr(a.actor, 6) ORDER BY a.actor")
        .bind(limit)
        .all(&mut self.r())
        .await
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>> {
        let (seq, hash): (i64, Digest) =
            sql("SELECT seq, hash FROM audit_head WHERE id = 1").one(&mut self.r()).await?;
        Ok((seq > 0 || hash != GENESIS).then_some(ChainHead { seq, hash }))
    }

    async fn missing_guards(&self) -> Result<Vec<String>> {
        let mut conn = self.dialect.read().await?;
        Ok(D::guards(&mut conn).await?.into_iter().map(|g| g.name).collect())
    }

    async fn restore_guards(&self, audit: &AuditEvent) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        let missing = D::guards(&mut *tx.0).await?;
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        for repair in &missing {
            for statement in &repair.statements {
                sql(statement.clone()).execute(&mut tx).await?;
            }
        }
        self.finish(tx, &[], audit).await?;
        Ok(missing.into_iter().map(|g| g.name).collect())
    }
}
