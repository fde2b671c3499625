//! The storage contract of govshare.
//!
//! One trait, [`Store`], spoken entirely in domain types, and one error enum, [`StoreError`].
//! Every method that changes state takes the [`AuditEvent`] describing the change and appends it to the
//! audit chain **in the same transaction**: when the method returns `Ok`, the change and its audit record
//! are both durable, or neither happened.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::application::{Application, ApplicationId};
use govshare_domain::attachment::AttachmentRef;
use govshare_domain::audit::{AuditEvent, AuditFilter, AuditRecord, ChainHead};
use govshare_domain::catalog::{CatalogEntry, EntryEvent, EntryId, EntryVersion, ReportId};
use govshare_domain::complaint::{Complaint, ComplaintId};
use govshare_domain::correction::{Correction, CorrectionId};
use govshare_domain::dispute::{Dispute, DisputeId};
use govshare_domain::duty::{Duty, DutyKind};
use govshare_domain::enforcement::{Notice, NoticeId, Order, OrderId};
use govshare_domain::evidence::StoredUsage;
use govshare_domain::federation::{AdmissionRequest, ChildNode, FederatedEntry, NodeConfig, NodeId, SignedDirectory};
use govshare_domain::grant::{Grant, GrantId, UsageRecord};
use govshare_domain::incident::{Incident, IncidentId};
use govshare_domain::notification::{AlertKind, DeadlineAlert, Notification};
use govshare_domain::obligation::{Extension, ObligationId, UpdateObligation};
use govshare_domain::org::{OrgId, Organisation};
use govshare_domain::principal::{ApiCredential, CredentialId};
use govshare_domain::record::{DataSource, LoadCounts, SourceLoad};
use govshare_domain::region::{Region, RegionCode};
use govshare_domain::role::Role;
use govshare_domain::source::SourceDesignation;
use govshare_domain::supervision::Tally;
use govshare_domain::usage_archive::UsageArchive;
use govshare_domain::use_record::UseRecord;
use govshare_domain::user::{Membership, User, UserId, Username};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness or integrity rule of the data would be broken; the message says which, for people.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("storage error: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn other(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Other(Box::new(err))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Failed sign-ins in a window, as login throttling counts them. A client is `device:…` (a browser that
/// presented this person's device cookie) or `ip:…` (any other caller, by address).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginFailures {
    /// Of this username from this client.
    pub pair: u64,
    /// The newest of those.
    pub pair_last: Option<DateTime<Utc>>,
    /// From this client, for any username.
    pub client: u64,
    /// Of this username from clients that are not known devices (`ip:…`).
    pub username_untrusted: u64,
}

/// A console session. The token itself never reaches the store, only its SM3 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub user_id: UserId,
    /// The organisation the user is currently acting for (department switcher).
    pub org_id: OrgId,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A user with their stored password hash (PHC string, Argon2id).
#[derive(Debug, Clone)]
pub struct UserWithPassword {
    pub user: User,
    pub password_hash: String,
}

/// A person and their roles in one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub roles: Vec<Role>,
}

#[async_trait]
pub trait Store: Debug + Send + Sync + 'static {
    /// A cheap round trip to the database, for readiness checks.
    async fn ping(&self) -> Result<()>;

    // ---- regions (R-ORG-1) ----
    /// Conflict if the code exists; Conflict if the parent region (by code) is not there yet.
    async fn create_region(&self, region: &Region, audit: &AuditEvent) -> Result<()>;
    async fn list_regions(&self) -> Result<Vec<Region>>;
    async fn get_region(&self, code: RegionCode) -> Result<Region>;

    // ---- organisations (R-ORG-2, R-ORG-3) ----
    /// Conflict if the credit code is taken, if the region already has an authority, or if the region is unknown.
    async fn create_org(&self, org: &Organisation, audit: &AuditEvent) -> Result<()>;
    async fn update_org_work_unit(&self, id: OrgId, work_unit_name: &str, audit: &AuditEvent) -> Result<()>;
    async fn get_org(&self, id: OrgId) -> Result<Organisation>;
    /// All organisations, authorities first, then by region code and name.
    async fn list_orgs(&self) -> Result<Vec<Organisation>>;
    /// Whether the store holds no organisation at all (a fresh node).
    async fn is_empty(&self) -> Result<bool>;

    // ---- users and memberships (R-SEC-3) ----
    /// Conflict if the username is taken.
    async fn create_user(&self, user: &User, password_hash: &str, audit: &AuditEvent) -> Result<()>;
    async fn get_user(&self, id: UserId) -> Result<User>;
    async fn find_user_by_username(&self, username: &Username) -> Result<Option<UserWithPassword>>;
    /// Sets a new password and, in the same transaction, ends every session of the person except `keep_session`
    /// (the token digest of the session that changed its own password), so a stolen session dies with the old
    /// password.
    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        keep_session: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Disabling a user also ends all of their sessions.
    async fn set_user_disabled(&self, id: UserId, disabled: bool, audit: &AuditEvent) -> Result<()>;
    /// Conflict if the membership exists, or if the organisation already has a work-unit head and the role
    /// is `WorkUnitHead` (one head per organisation).
    async fn add_membership(&self, membership: &Membership, audit: &AuditEvent) -> Result<()>;
    /// NotFound if there is no such membership.
    async fn remove_membership(&self, membership: &Membership, audit: &AuditEvent) -> Result<()>;
    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<Membership>>;
    /// Members of an organisation ordered by username, each with their roles there (sorted).
    async fn members_of_org(&self, org: OrgId) -> Result<Vec<Member>>;
    /// The work-unit head of an organisation, if one is assigned.
    async fn work_unit_head(&self, org: OrgId) -> Result<Option<User>>;

    // ---- sessions ----
    async fn create_session(&self, session: &Session, audit: &AuditEvent) -> Result<()>;
    /// The session with this token digest, if it exists and has not expired at `now`.
    async fn get_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>>;
    async fn set_session_org(&self, token_hash: &str, org: OrgId) -> Result<()>;
    async fn delete_session(&self, token_hash: &str, audit: &AuditEvent) -> Result<()>;
    /// Removes expired sessions and login failures older than `failures_before`; returns how many rows went.
    async fn purge_expired(&self, now: DateTime<Utc>, failures_before: DateTime<Utc>) -> Result<u64>;

    // ---- login throttling ----
    async fn record_login_failure(&self, username: &str, client: &str, at: DateTime<Utc>) -> Result<()>;
    /// The failed sign-ins since `since` that throttling weighs (see [`LoginFailures`]).
    async fn login_failures(&self, username: &str, client: &str, since: DateTime<Utc>) -> Result<LoginFailures>;
    /// Forgets the failures of this username from this client (after it signed in there).
    async fn clear_login_failures(&self, username: &str, client: &str) -> Result<()>;

    // ---- API credentials (R-SEC-3) ----
    async fn create_credential(&self, credential: &ApiCredential, secret_hash: &str, audit: &AuditEvent) -> Result<()>;
    /// The credential and its secret digest.
    async fn get_credential(&self, id: CredentialId) -> Result<Option<(ApiCredential, String)>>;
    /// An organisation's credentials, newest first.
    async fn list_credentials(&self, org: OrgId) -> Result<Vec<ApiCredential>>;
    /// Conflict if already revoked.
    async fn revoke_credential(&self, id: CredentialId, at: DateTime<Utc>, audit: &AuditEvent) -> Result<()>;

    // ---- catalog (R-CAT-1..4) ----
    /// Stores a new entry with its first version and events. Conflict if its resource code is taken.
    async fn create_entry(&self, entry: &CatalogEntry, audit: &AuditEvent) -> Result<()>;
    /// Stores several new entries in one transaction with one audit event: all of them, or none (Conflict naming
    /// the first resource code already taken).
    async fn create_entries(&self, entries: &[CatalogEntry], audit: &AuditEvent) -> Result<()>;
    /// Inserts or replaces the given versions of an entry, appends `event`, delivers `notifications`, all in one
    /// transaction. The entry's resource code follows its newest version; Conflict if another entry has it.
    async fn save_versions(
        &self,
        entry: EntryId,
        versions: &[EntryVersion],
        event: &EntryEvent,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn get_entry(&self, id: EntryId) -> Result<CatalogEntry>;
    /// Entries with all their versions and events, oldest first; only one provider's when given.
    async fn list_entries(&self, provider: Option<OrgId>) -> Result<Vec<CatalogEntry>>;
    /// The newest published version of every entry that has one (what the search index must hold).
    async fn published_versions(&self) -> Result<Vec<(EntryId, u32)>>;
    /// Deletes an entry with its versions and events — the use case allows it for a draft never submitted — if
    /// its timeline still has `expected_events` events (Conflict otherwise: someone acted on it meanwhile).
    /// NotFound if it does not exist.
    async fn delete_entry(&self, id: EntryId, expected_events: usize, audit: &AuditEvent) -> Result<()>;
    /// Saves the working `version` after its assessments changed, with the report files this adds (`added`: the
    /// file of a report the version now names) and drops (`dropped`: one it no longer names), appends `event`,
    /// all in one transaction with `audit`. NotFound if the entry does not exist.
    async fn save_assessments(
        &self,
        entry: EntryId,
        version: &EntryVersion,
        added: Option<(ReportId, &[u8])>,
        dropped: Option<ReportId>,
        event: &EntryEvent,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// The stored file of an entry's assessment report.
    async fn report_file(&self, entry: EntryId, report: ReportId) -> Result<Option<Vec<u8>>>;

    // ---- catalog update obligations (R-CAT-4) ----
    /// NotFound if the entry does not exist.
    async fn create_obligation(
        &self,
        obligation: &UpdateObligation,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Replaces the extension if the stored one still equals `previous`; Conflict if someone acted first.
    async fn set_obligation_extension(
        &self,
        id: ObligationId,
        previous: Option<&Extension>,
        next: &Extension,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn get_obligation(&self, id: ObligationId) -> Result<UpdateObligation>;
    /// Newest first; only obligations on one provider's entries when given.
    async fn list_obligations(&self, provider: Option<OrgId>) -> Result<Vec<UpdateObligation>>;

    // ---- sources of record (R-CAT-7) ----
    /// Inserts the designation, replacing any earlier one of the same region and subject.
    async fn save_designation(
        &self,
        designation: &SourceDesignation,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    /// By region code and subject; only one region's when given.
    async fn list_designations(&self, region: Option<RegionCode>) -> Result<Vec<SourceDesignation>>;

    // ---- sharing applications (R-APP-1..5) ----
    /// Stores a new application under the next number of its creation year in Beijing time, `SQ-<year>-<seq>`
    /// (the counter moves on in the insert's transaction, so concurrent creations get distinct consecutive
    /// numbers and a failed one uses none), and on `Ok` sets `application.number` to it. NotFound if the entry,
    /// the requester or the provider does not exist.
    async fn create_application(
        &self,
        application: &mut Application,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Stores `application` (its timeline grown by new steps) if the stored one still has `expected_events`
    /// events; Conflict if someone else acted first, NotFound if there is no such application.
    async fn save_application(
        &self,
        application: &Application,
        expected_events: usize,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn get_application(&self, id: ApplicationId) -> Result<Application>;
    /// Newest first; only those `party` made or received when given; only those not in a final stage when
    /// `open_only`.
    async fn list_applications(&self, party: Option<OrgId>, open_only: bool) -> Result<Vec<Application>>;

    // ---- data sources (R-DEL-1) ----
    /// Binds or rebinds the entry's source. NotFound if the entry does not exist.
    async fn save_source(&self, source: &DataSource, audit: &AuditEvent) -> Result<()>;
    async fn get_source(&self, entry: EntryId) -> Result<Option<DataSource>>;
    /// Loads a file's records in **one transaction**: every batch the feed yields is upserted (a record whose
    /// digest is unchanged keeps its sequence number; a changed or new one gets the next one and a change-history
    /// row); with `LoadMode::Replace`, records not in the file are then marked deleted (with their own sequence
    /// numbers). If the feed fails, nothing of the load remains. Returns the counts, also kept with the load.
    async fn load_records(
        &self,
        load: &SourceLoad,
        feed: &mut dyn RecordFeed,
        audit: &AuditEvent,
    ) -> Result<LoadCounts>;
    /// The source's loads, newest first.
    async fn source_loads(&self, entry: EntryId, limit: u32) -> Result<Vec<SourceLoad>>;
    /// The live (not deleted) record with this key.
    async fn get_record(&self, entry: EntryId, key: &str) -> Result<Option<StoredRecord>>;
    /// Live records in key order after `after_key`, only those whose scope starts with one of `scope_prefixes`
    /// when given.
    async fn scan_records(
        &self,
        entry: EntryId,
        scope_prefixes: Option<&[String]>,
        after_key: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>>;
    /// Records (deleted ones included, as tombstones) changed after sequence number `after_seq`, in sequence
    /// order; the bulk-exchange feed. With `after_seq` = 0 and `live_only`, the full snapshot.
    async fn record_changes(
        &self,
        entry: EntryId,
        scope_prefixes: Option<&[String]>,
        after_seq: i64,
        live_only: bool,
        limit: u32,
    ) -> Result<Vec<StoredRecord>>;
    /// Every version the record with this key has had, oldest first: the replaced ones from the change history,
    /// then the current one (empty if the key was never loaded).
    async fn record_versions(&self, entry: EntryId, key: &str) -> Result<Vec<RecordVersion>>;

    // ---- grants (R-DEL-2) ----
    /// Creates the grant under the next number `GX-<year>-<seq>` (as `create_application`; on `Ok` it is in
    /// `grant.number`) and stores the application with its delivery step (compare-and-set on its events, as
    /// `save_application`) in one transaction.
    async fn create_grant(
        &self,
        grant: &mut Grant,
        application: &Application,
        expected_events: usize,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Stores grants whose state changed, each if the stored one still has its expected number of events, with
    /// the duties derived from their events, in one transaction: all or none (a suspension of every grant of a
    /// requester is one step). Refused (Conflict) if a grant's terms would widen other than by the approved
    /// decision of its change request (`govshare_domain::change::check_terms_change`).
    async fn save_grants(
        &self,
        grants: &[(&Grant, usize)],
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    /// [`Store::save_grants`] of one grant.
    async fn save_grant(
        &self,
        grant: &Grant,
        expected_events: usize,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        self.save_grants(&[(grant, expected_events)], duties, notifications, audit).await
    }
    async fn get_grant(&self, id: GrantId) -> Result<Grant>;
    /// Newest first; only those `party` requested or provides when given.
    async fn list_grants(&self, party: Option<OrgId>) -> Result<Vec<Grant>>;
    /// Appends a record of use of a grant (Art. 29 ¶2) with the grant's use-record duties re-derived. Records are
    /// never changed or deleted (the schema refuses it).
    async fn add_use_record(
        &self,
        record: &UseRecord,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    /// A grant's records of use, oldest first.
    async fn use_records(&self, grant: GrantId) -> Result<Vec<UseRecord>>;

    // ---- security incidents (Art. 35 ¶3) ----
    /// Inserts the report under the next number `SJ-<year>-<seq>` (on `Ok` in `incident.number`) and, in the same
    /// transaction, saves the affected grants it suspends (as [`Store::save_grants`]).
    async fn report_incident(
        &self,
        incident: &mut Incident,
        grants: &[(&Grant, usize)],
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Stores a report with a further step, if the stored one still has `expected_events` steps.
    async fn save_incident(
        &self,
        incident: &Incident,
        expected_events: usize,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn get_incident(&self, id: IncidentId) -> Result<Incident>;
    /// Newest first: those reported by `org`, or by any department of `region`, or all.
    async fn list_incidents(&self, org: Option<OrgId>, region: Option<RegionCode>) -> Result<Vec<Incident>>;

    // ---- corrections, disputes, public complaints (Art. 26, 28, 37 ¶2) ----
    /// Inserts the case under the next number `JH-<year>-<seq>` (on `Ok` in `correction.number`) with its
    /// attachment (bytes as given: the service seals them) and, for a provider's own correction of a hosted
    /// record, writes `record` as [`Store::save_correction`] does; one transaction with the duties, notifications
    /// and audit record.
    #[allow(clippy::too_many_arguments)]
    async fn create_correction(
        &self,
        correction: &mut Correction,
        attachment: Option<(&AttachmentRef, &[u8])>,
        record: Option<&StoredRecord>,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Stores the case with a further step if the stored one still has `expected_events` steps. With `record`
    /// (the corrected version of a live hosted record, same key), the record is written under the entry's next
    /// sequence number with a change-history row, and that number is set in `correction.answer.applied_seq`:
    /// the correction reaches every grant's change feed. NotFound if the record is gone.
    async fn save_correction(
        &self,
        correction: &mut Correction,
        expected_events: usize,
        record: Option<&StoredRecord>,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn get_correction(&self, id: CorrectionId) -> Result<Correction>;
    /// Newest first: those of `entry`, those `party` filed or received (as requester or provider), or all.
    async fn list_corrections(&self, entry: Option<EntryId>, party: Option<OrgId>) -> Result<Vec<Correction>>;
    /// What the data plane marks on the entry's records: the open cases (disputed records) and the versions
    /// corrections wrote.
    async fn correction_marks(&self, entry: EntryId) -> Result<Vec<CorrectionMark>>;

    /// Inserts a dispute under the next number `ZY-<year>-<seq>` (on `Ok` in `dispute.number`).
    async fn create_dispute(
        &self,
        dispute: &mut Dispute,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Stores a dispute with a further step if the stored one still has `expected_steps` steps.
    async fn save_dispute(
        &self,
        dispute: &Dispute,
        expected_steps: usize,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn get_dispute(&self, id: DisputeId) -> Result<Dispute>;
    /// Newest first: those `party` opened or is the other side of, or all.
    async fn list_disputes(&self, party: Option<OrgId>) -> Result<Vec<Dispute>>;

    /// Inserts a complaint under the next number `TS-<year>-<seq>` (on `Ok` in `complaint.number`) with its
    /// attachment. Conflict if the tracking digest is taken.
    async fn create_complaint(
        &self,
        complaint: &mut Complaint,
        attachment: Option<(&AttachmentRef, &[u8])>,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Stores a complaint with a further step if the stored one still has `expected_events` steps.
    async fn save_complaint(
        &self,
        complaint: &Complaint,
        expected_events: usize,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn get_complaint(&self, id: ComplaintId) -> Result<Complaint>;
    async fn complaint_by_tracking(&self, tracking_digest: &str) -> Result<Option<Complaint>>;
    /// Newest first: those `handler` has now, or all.
    async fn list_complaints(&self, handler: Option<OrgId>) -> Result<Vec<Complaint>>;
    /// An attachment's stored bytes, if `owner` (a correction or complaint id) has it.
    async fn get_attachment(&self, owner: uuid::Uuid, id: uuid::Uuid) -> Result<Option<Vec<u8>>>;

    // ---- supervision (R-SUP-1..3, Art. 38–41) ----
    /// The duties due in `[from, to)` by owner and kind (only those `owners` owe, when given), each classified at
    /// `now` exactly as `govshare_domain::supervision::classify` does.
    async fn duty_tallies(
        &self,
        owners: Option<&[OrgId]>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<DutyTally>>;
    /// The duties of `kinds` that are late at `now` and either fell due in `[from, to)` or are still open: the
    /// violations of the period and those still running. Oldest due first, at most `limit`.
    async fn late_duties(
        &self,
        owners: Option<&[OrgId]>,
        kinds: &[DutyKind],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Duty>>;
    /// The duty of this key, if any.
    async fn duty(&self, key: &str) -> Result<Option<Duty>>;
    /// The duties of `kinds` opened in `[from, to)` or still open (the acts that opened them are the evidence).
    /// Oldest first, at most `limit`.
    async fn act_duties(
        &self,
        owners: Option<&[OrgId]>,
        kinds: &[DutyKind],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Duty>>;
    /// What the number of overdue duties did in `[from, to)` (up to `now`): how many were overdue at `from`, and
    /// the instants at which one became overdue (its due time) or stopped being (its late closing).
    async fn overdue_changes(
        &self,
        owners: Option<&[OrgId]>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<OverdueChanges>;
    /// Usage in the Beijing days `[from, to]` from the daily roll-up, grouped `by` one key: by requester (of
    /// `orgs`), by provider (of `orgs`), or by entry, grant or day (where one of `orgs` is either party).
    async fn usage_totals(
        &self,
        orgs: Option<&[OrgId]>,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        by: UsageBy,
    ) -> Result<Vec<UsageTotal>>;
    /// Stores a new order under the next number `ZG-<year>-<seq>` (set in `order.number` on `Ok`) with its duties.
    async fn create_order(
        &self,
        order: &mut Order,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Stores an order after a step if the stored one still has `expected_events` events (Conflict otherwise).
    async fn save_order(
        &self,
        order: &Order,
        expected_events: usize,
        duties: &[Duty],
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn get_order(&self, id: OrderId) -> Result<Order>;
    /// Newest first: those of `department`, or all.
    async fn list_orders(&self, department: Option<OrgId>) -> Result<Vec<Order>>;
    /// Stores a notice under the next number `TB-<year>-<seq>` with the notifications that circulate it.
    async fn create_notice(
        &self,
        notice: &mut Notice,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn get_notice(&self, id: NoticeId) -> Result<Notice>;
    /// Newest first.
    async fn list_notices(&self) -> Result<Vec<Notice>>;

    // ---- usage records (R-DEL-5, Art. 29) ----
    /// Appends the records in one transaction (the usage log's group commit), sealed as one batch: every row
    /// carries the batch id and its position, and the batch's `usage.seal` audit record
    /// (`govshare_domain::evidence::UsageSeal`: count and SM3 Merkle root over the stored documents) is appended
    /// to the chain in the same transaction, as its last statement. Usage records are never updated or deleted
    /// by the platform.
    async fn append_usage(&self, records: &[UsageRecord]) -> Result<()>;
    /// The rows of these batches, each with its batch id, ordered by batch and position.
    async fn sealed_usage(&self, batches: &[uuid::Uuid]) -> Result<Vec<(uuid::Uuid, StoredUsage)>>;
    /// How many usage rows the table holds, sealed or not.
    async fn usage_count(&self) -> Result<u64>;
    /// The batch and position of one usage record; `None` if there is no such record or it has no batch.
    async fn usage_seal_of(&self, id: uuid::Uuid) -> Result<Option<(uuid::Uuid, i64)>>;
    /// The oldest `usage.seal` audit record of a batch.
    async fn seal_record(&self, batch: uuid::Uuid) -> Result<Option<AuditRecord>>;
    /// The `usage.seal` records of these batches (the oldest of each).
    async fn seal_records(&self, batches: &[uuid::Uuid]) -> Result<Vec<AuditRecord>>;
    /// Whether the usage log is partitioned by month, so that an archived month can leave the database.
    fn partitions_usage(&self) -> bool;
    /// The months the usage log holds (on PostgreSQL: has a partition for), oldest first.
    async fn usage_months(&self) -> Result<Vec<NaiveDate>>;
    /// The newest record of a month of the usage log, if it holds any.
    async fn usage_month_newest(&self, month: NaiveDate) -> Result<Option<DateTime<Utc>>>;
    /// A page of one month's rows in archive order (batch id, then position), after the given (batch, position).
    async fn usage_month_page(
        &self,
        month: NaiveDate,
        after: Option<(uuid::Uuid, i64)>,
        limit: u32,
    ) -> Result<Vec<(uuid::Uuid, StoredUsage)>>;
    /// The node's usage archives, oldest month first.
    async fn usage_archives(&self) -> Result<Vec<UsageArchive>>;
    /// Records an archive in one transaction: the archive, the batches it holds with their counts, and `event`
    /// (`usage.archive`) in the chain. Fails if the month is already archived.
    async fn record_usage_archive(
        &self,
        archive: &UsageArchive,
        batches: &[(uuid::Uuid, u64)],
        event: &AuditEvent,
    ) -> Result<()>;
    /// Removes an archived month's rows from the database and records `event` (`usage.detach`) in the same
    /// transaction: on PostgreSQL its partition is detached and dropped. `false` where the backend keeps every
    /// usage record (SQLite); nothing is changed then.
    async fn detach_usage_month(&self, month: NaiveDate, at: DateTime<Utc>, event: &AuditEvent) -> Result<bool>;
    /// Of these batches, those an archive holds: (batch, month, count).
    async fn archived_batches(&self, batches: &[uuid::Uuid]) -> Result<Vec<(uuid::Uuid, NaiveDate, u64)>>;
    /// The months any archived batch is listed under.
    async fn archived_batch_months(&self) -> Result<Vec<NaiveDate>>;
    /// A page of the batches listed under an archived month, ascending batch id, after `after`.
    async fn archived_batches_of(
        &self,
        month: NaiveDate,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> Result<Vec<(uuid::Uuid, u64)>>;
    /// How many write transactions are worth running at once (SQLite has one writer; PostgreSQL many).
    fn parallel_writes(&self) -> usize {
        1
    }
    /// Newest first, before `before` when given.
    async fn usage_records(&self, filter: &UsageFilter, limit: u32) -> Result<Vec<UsageRecord>>;
    /// How many records the filter selects (its `offset` ignored).
    async fn count_usage(&self, filter: &UsageFilter) -> Result<u64>;
    /// Rows delivered under a grant since a moment (the daily volume limit).
    async fn usage_rows_since(&self, grant: GrantId, since: DateTime<Utc>) -> Result<u64>;

    // ---- the duty ledger and deadline alerts (R-APP-5) ----
    /// Duties matching the filter: open ones by due time (those without a due time last), closed ones newest first.
    async fn duties(&self, filter: &DutyFilter, limit: u32) -> Result<Vec<Duty>>;
    async fn count_duties(&self, filter: &DutyFilter) -> Result<u64>;
    /// The open duties that may need an alert, one range of the sweep at a time: `sent` `None`, those not yet
    /// reminded that are due by `due_by` (the reminder window's end); `Some(AlertKind::Reminder)`, those reminded
    /// and due before `due_by` (now). Ordered by (due time, key), after `after` when given: the sweep's pages.
    async fn due_duties(
        &self,
        sent: Option<AlertKind>,
        due_by: DateTime<Utc>,
        after: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> Result<Vec<Duty>>;
    /// Records `alert` on the duty `key` if its due time is still `due_at` and it has not had that alert (or a later
    /// one) yet, with its notifications and audit record; whether it was recorded. Of several instances sweeping at
    /// once, exactly one records each alert.
    async fn mark_duty(
        &self,
        key: &str,
        due_at: DateTime<Utc>,
        alert: &DeadlineAlert,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<bool>;
    /// Whether the duties of the timelines kept before the ledger existed are still to be derived.
    async fn duty_backfill_pending(&self) -> Result<bool>;
    /// Writes those duties and notes that it is done.
    async fn backfill_duties(&self, duties: &[Duty], audit: &AuditEvent) -> Result<()>;
    /// The alerts about one subject, oldest first.
    async fn deadline_alerts(&self, subject: &str) -> Result<Vec<DeadlineAlert>>;
    /// Overdue marks, newest first, at most `limit` (the supervision view).
    async fn overdue_marks(&self, limit: u32) -> Result<Vec<DeadlineAlert>>;

    // ---- notifications ----
    /// An organisation's notifications, newest first, each with `read_at` the first time `reader` (an audit
    /// name, `user:…`) opened it: every person of the organisation reads on their own.
    async fn notifications(&self, org: OrgId, reader: &str, limit: u32) -> Result<Vec<Notification>>;
    /// Records that `reader` read the notification (the first reading counts). NotFound unless the notification
    /// belongs to `org`.
    async fn mark_notification_read(&self, org: OrgId, reader: &str, id: uuid::Uuid, at: DateTime<Utc>) -> Result<()>;

    // ---- working-day calendar (REQUIREMENTS §9) ----
    /// Stores or replaces the official calendar data of some years: `(year, JSON text of that year)`.
    async fn save_calendar_years(&self, years: &[(i32, String)], audit: &AuditEvent) -> Result<()>;
    /// Every stored year, ascending.
    async fn calendar_years(&self) -> Result<Vec<(i32, String)>>;

    // ---- federation (Art. 30–32) ----
    /// This node's place in the national system, once founded or joined.
    async fn federation_config(&self) -> Result<Option<NodeConfig>>;
    /// Records this node's place (and, on the root, its founding directory) once: `Conflict` if it has one.
    async fn save_federation_config(
        &self,
        config: &NodeConfig,
        directory: Option<(u64, DateTime<Utc>, &SignedDirectory)>,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// The newest directory adopted, as signed.
    async fn held_directory(&self) -> Result<Option<SignedDirectory>>;
    /// Adopts a directory (already checked by `federation::accept`) if its version is newer than the one held;
    /// false (and nothing written) otherwise, e.g. when another instance adopted it first.
    async fn adopt_directory(
        &self,
        version: u64,
        expires_at: DateTime<Utc>,
        signed: &SignedDirectory,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool>;
    /// Outbox rows `(seq, entry, local)` with `seq > after`, ascending, in whole sequence numbers: at most the
    /// first `limit` sequence numbers' rows.
    async fn outbox_after(&self, after: i64, limit: u32) -> Result<Vec<(i64, EntryId, bool)>>;
    /// The highest outbox sequence number, or -1.
    async fn outbox_head(&self) -> Result<i64>;
    /// Records what the parent acknowledged (it may be lower than before: a parent restored from backup).
    async fn set_parent_acked(&self, acked: i64) -> Result<()>;
    /// Applies a child's deltas `after < seq <= through` in one transaction, unless they do not continue what
    /// was applied from it: each entry replaces the held one in place only if its version is newer, and enters
    /// this node's outbox for its own parent; the child's cursor moves to `through`. Returns the child's
    /// cursor afterwards (the acknowledgement). A batch already applied, or one starting beyond the cursor,
    /// changes nothing.
    async fn apply_deltas(
        &self,
        child: &NodeId,
        after: i64,
        through: i64,
        entries: &[FederatedEntry],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<i64>;
    /// Entries of other nodes held here: those named, or all when `ids` is None.
    async fn federated_entries(&self, ids: Option<&[EntryId]>) -> Result<Vec<FederatedEntry>>;
    /// `(entry, version)` of the entries of other nodes held here: those named, or all when `ids` is None.
    async fn federated_versions(&self, ids: Option<&[EntryId]>) -> Result<Vec<(EntryId, u32)>>;
    /// Records a child's admission (or its new endpoint and keys), keeping what was heard from it.
    async fn admit_child(&self, request: &AdmissionRequest, at: DateTime<Utc>, audit: &AuditEvent) -> Result<()>;
    async fn federation_children(&self) -> Result<Vec<ChildNode>>;
    /// Notes a verified message from a child: when, the directory version it holds, its clock skew.
    async fn child_seen(
        &self,
        child: &NodeId,
        at: DateTime<Utc>,
        directory_version: Option<u64>,
        clock_skew_ms: i64,
    ) -> Result<()>;
    /// Records a message's nonce; false when the sender used it before (a replay). Forgets nonces older than
    /// `forget_before` (outside the replay window, where the timestamp check refuses the message anyway).
    async fn use_nonce(
        &self,
        sender: &NodeId,
        nonce: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool>;

    /// Keeps a child's signed checkpoint: true if new, false if already held; `Conflict` if another checkpoint
    /// with that sequence number and a different digest is held (the child's chain was rewritten).
    async fn witness_checkpoint(
        &self,
        child: &NodeId,
        checkpoint: &govshare_domain::evidence::Checkpoint,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// The checkpoints witnessed for a child, ascending by sequence number.
    async fn witnessed_checkpoints(&self, child: &NodeId) -> Result<Vec<govshare_domain::evidence::Checkpoint>>;

    // ---- audit chain (R-SEC-1) ----
    /// Appends an event that accompanies no other change (e.g. a verification run, a data export).
    async fn append_audit(&self, audit: &AuditEvent) -> Result<AuditRecord>;
    /// Records with `seq > after`, ascending, at most `limit`.
    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>>;
    /// The newest records first, at most `limit`, optionally only those of one organisation.
    async fn recent_audit(&self, org: Option<OrgId>, limit: u32) -> Result<Vec<AuditRecord>>;
    /// The records `filter` selects, in its order and page, and how many records it selects in all.
    async fn search_audit(&self, filter: &AuditFilter) -> Result<(Vec<AuditRecord>, u64)>;
    /// The distinct actors of the audit log, at most `limit`, in order, each with the display name of the person
    /// when the actor is a user (for the console's operator filter and names).
    async fn audit_actors(&self, limit: u32) -> Result<Vec<(String, Option<String>)>>;
    async fn audit_head(&self) -> Result<Option<ChainHead>>;
    /// The append-only guards (database triggers on `audit_log` and `usage_records`) this backend installs that
    /// are missing or disabled, by name; empty when all are in place.
    async fn missing_guards(&self) -> Result<Vec<String>>;
    /// Recreates the missing or disabled guards and appends `audit` (with the names) in the same transaction;
    /// returns the names restored (empty: nothing was missing, nothing is written).
    async fn restore_guards(&self, audit: &AuditEvent) -> Result<Vec<String>>;
}

/// A hosted record as the store keeps it. The store never reads `payload` (JSON, or SM4 ciphertext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The lookup key (a keyed digest of the key item's value).
    pub key: String,
    /// The scope item's value (row scopes match it by prefix), or empty.
    pub scope: String,
    /// Set by the store: the change sequence number of this version.
    pub seq: i64,
    /// SM3 of the record's canonical JSON: unchanged records are recognised without reading payloads.
    pub digest: String,
    pub payload: Vec<u8>,
    pub deleted: bool,
}

/// One version of a hosted record: what a load or a correction wrote under a sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordVersion {
    pub seq: i64,
    pub digest: String,
    /// The record's payload as written; `None` when this version deleted the record.
    pub payload: Option<Vec<u8>>,
    /// The load (`SourceLoad::id`) or correction (`Correction::id`) that wrote it.
    pub written_by: uuid::Uuid,
}

/// Where a load's records come from: batches, until `None`. An error aborts the load (nothing is kept).
#[async_trait]
pub trait RecordFeed: Send {
    async fn next_batch(&mut self) -> Result<Option<Vec<StoredRecord>>>;
    /// After the last batch: the load's document and audit event as the feed knows them only at the end (a load
    /// checked in the same pass that feeds it counts its rows and hashes its file as it goes), in place of those
    /// given to [`Store::load_records`]. `None`: those stand.
    fn conclusion(&self) -> Option<(SourceLoad, AuditEvent)> {
        None
    }
}

/// What a load does with one batch, given what the table holds for the batch's keys (`held`: key → digest and
/// whether it is a tombstone; earlier rows of the same load included). Records whose digest is unchanged are only
/// marked as seen; the others get the next sequence numbers and are inserted or updated. `held` and `next_seq`
/// move on with the batch, and `counts` add up. Both backends write what this decides.
pub fn plan_batch(
    batch: Vec<StoredRecord>,
    held: &mut std::collections::HashMap<String, (String, bool)>,
    next_seq: &mut i64,
    counts: &mut LoadCounts,
) -> BatchPlan {
    let mut plan = BatchPlan::default();
    for mut r in batch {
        let op = match held.get(&r.key) {
            Some((digest, false)) if *digest == r.digest => {
                counts.unchanged += 1;
                plan.unchanged.push(r.key);
                continue;
            }
            Some((_, false)) => {
                counts.updated += 1;
                "update"
            }
            // A deleted record loaded again: new to its readers, but its tombstone's row is rewritten.
            Some((_, true)) => {
                counts.inserted += 1;
                "revive"
            }
            None => {
                counts.inserted += 1;
                "insert"
            }
        };
        r.seq = *next_seq;
        *next_seq += 1;
        held.insert(r.key.clone(), (r.digest.clone(), false));
        plan.changed.push((r, op));
    }
    plan
}

/// The writes of one batch: changed records with how each is written (`insert`: a key the table does not hold;
/// `update`; `revive`: a key the table holds as a tombstone), and the keys seen unchanged.
#[derive(Debug, Default)]
pub struct BatchPlan {
    pub changed: Vec<(StoredRecord, &'static str)>,
    pub unchanged: Vec<String>,
}

/// A correction as the data plane sees it on a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionMark {
    pub record_key: String,
    pub number: String,
    /// Under review: the record is disputed.
    pub open: bool,
    /// The version the correction wrote.
    pub applied_seq: Option<i64>,
}

/// The duties of one owner and kind due in a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DutyTally {
    pub owner: OrgId,
    pub kind: DutyKind,
    pub tally: Tally,
}

/// See [`Store::overdue_changes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverdueChanges {
    pub at_start: u64,
    pub became: Vec<DateTime<Utc>>,
    pub ended: Vec<DateTime<Utc>>,
}

/// How [`Store::usage_totals`] groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageBy {
    Requester,
    Provider,
    Entry,
    Grant,
    Day,
}

/// What a usage group is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UsageKey {
    Org(OrgId),
    Entry(EntryId),
    /// None: accesses refused before a grant was found.
    Grant(Option<GrantId>),
    Day(chrono::NaiveDate),
}

/// Usage of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageTotal {
    pub key: UsageKey,
    pub accesses: u64,
    pub rows: u64,
    pub refusals: u64,
}

/// Which duties to read.
#[derive(Debug, Clone, Default)]
pub struct DutyFilter {
    /// Owed by this organisation.
    pub owner: Option<OrgId>,
    /// Only those one of these roles must act on.
    pub roles: Option<Vec<Role>>,
    /// `Some(true)` open only, `Some(false)` closed only.
    pub open: Option<bool>,
    /// About this subject (application, entry or obligation id).
    pub subject: Option<uuid::Uuid>,
    /// Only those started at or before this moment (a periodic duty is in the ledger before its period ends).
    pub started_by: Option<DateTime<Utc>>,
}

/// Which usage records to read.
#[derive(Debug, Clone, Default)]
pub struct UsageFilter {
    /// Records where this organisation is the requester or the provider.
    pub party: Option<OrgId>,
    pub grant: Option<GrantId>,
    pub entry: Option<EntryId>,
    /// Records where a department of this region (not its subregions) is the requester or the provider.
    pub region: Option<RegionCode>,
    /// Records where this organisation is the other side (requester or provider), with `party` or `region`.
    pub counterpart: Option<OrgId>,
    /// Records at or after this moment.
    pub since: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    /// How many of the newest matching records to skip (a console page).
    pub offset: u64,
}

pub type DynStore = Arc<dyn Store>;
