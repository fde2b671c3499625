//! govshare's use cases. The HTTP API, the console and the CLI all act through [`Services`]: each method
//! parses its input into domain types, asks the domain's authorisation policy, and changes state through
//! the store together with the audit event that describes the change.

mod accounts;
mod applications;
pub mod archive;
mod catalog;
mod complaints;
mod corrections;
pub mod crypto;
mod data;
mod directory;
mod disputes;
mod duties;
mod error;
mod evidence;
pub mod federation;
mod grants;
mod incidents;
mod interchange;
mod obligations;
mod search;
pub mod secrets;
mod sources;
mod supervision;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use govshare_domain::authz::{self, Action};
use govshare_domain::principal::Principal;
use govshare_store::DynStore;

pub use accounts::{IssuedCredential, LoginSuccess, NewUserInput, OrgChoice};
pub use applications::{ApplicationBox, ApplicationView, StepInput};
pub use catalog::{AssessmentInput, CatalogScope, ReportUpload};
pub use complaints::{Challenge, ComplaintView, PublicStatus, PublicStep, Receipt};
pub use corrections::{CorrectionFigures, CorrectionView, FigureRow, Upload};
pub use data::{
    CACHE_TTL, ChangeRow, ChangesAnswer, DISPUTED_COLUMN, DataAnswer, DataPlane, DisputedRow, Download, EXPORT_CHUNK,
    Export, GrantView, LoadReport, LoadRequest, MAX_PAGE, MAX_REPORTED_ERRORS, MAX_XLSX_ROWS, UsageSearch,
    is_unknown_parameter,
};
pub use disputes::DisputeView;
pub use duties::{DutyState, DutyView, MAX_DUTIES, SweepReport, Urgency};
pub use error::ServiceError;
pub use evidence::{AuditVerification, CHECKPOINT_FILE, CheckpointLog};
pub use govshare_interchange::{CellError, ExportEntry, ImportReport};
pub use govshare_search::{Dimension, SearchDoc};
pub use grants::{ChangeStepInput, GrantActionInput, UsePeriodView, UseRecordsView};
pub use interchange::{ImportOutcome, MAX_IMPORT_BYTES};
pub use obligations::ObligationView;
pub use search::{CatalogSearchResults, Facet, FacetValue, SearchRequest, SyncReport};
pub use supervision::{
    Dashboard, DayCount, DayUsage, EvidenceItem, IndicatorTotal, IndicatorValue, MAX_VIOLATIONS, NoticeView,
    OrderBrief, OrderView, OrgRow, OrgSheet, RegionRow, RuleRow, UsageFigures, UsageLine, ViolationView,
};

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Security settings, from configuration.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    pub session_ttl: Duration,
    /// Failed logins of one username from one client within `login_window` before that client must wait,
    /// with a wait that doubles at each further failure (30 s, 60 s, … up to the window).
    pub login_max_failures: u64,
    /// Failed logins from one address (for any usernames) within the window before it must wait the window.
    pub login_max_failures_per_client: u64,
    /// Failed logins of one username from all addresses that are not the person's known devices within the
    /// window before such addresses must wait; the person's own browsers (device cookie) are never held up.
    pub login_max_failures_per_user: u64,
    pub login_window: Duration,
    /// The data classification and grading scheme catalog entries are graded by.
    pub grade_scheme: govshare_domain::catalog::GradeScheme,
    /// The period of the requester's records of use (Art. 29 ¶2), in months (1, 2, 3, 4, 6 or 12).
    pub use_record_months: u32,
    /// The aggregation rule's threshold and sensitive grade level (Art. 25 ¶2; see `govshare_domain::aggregation`).
    pub aggregation_threshold: usize,
    pub aggregation_sensitive_level: u8,
    /// The authority's period to coordinate a dispute (Art. 28), and to handle a public complaint (Art. 37 ¶2),
    /// in working days.
    pub dispute_coordination_days: u32,
    pub complaint_days: u32,
    /// The federation's timings (directory validity and renewal, warning before expiry, clock skew).
    pub federation: federation::FederationSettings,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            session_ttl: Duration::hours(8),
            login_max_failures: 5,
            login_max_failures_per_client: 20,
            login_max_failures_per_user: 100,
            login_window: Duration::minutes(15),
            grade_scheme: Default::default(),
            use_record_months: govshare_domain::use_record::DEFAULT_USE_RECORD_MONTHS,
            aggregation_threshold: govshare_domain::aggregation::DEFAULT_THRESHOLD,
            aggregation_sensitive_level: govshare_domain::aggregation::DEFAULT_SENSITIVE_LEVEL,
            dispute_coordination_days: govshare_domain::dispute::COORDINATION_DAYS,
            complaint_days: govshare_domain::complaint::COMPLAINT_DAYS,
            federation: Default::default(),
        }
    }
}

/// A source of the current time, so that deadline and expiry rules can be tested at chosen instants.
pub trait Clock: std::fmt::Debug + Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[derive(Debug, Clone)]
pub struct Services {
    store: DynStore,
    /// Shared, not copied: every request clones `Services` (axum state), and the settings hold the grading
    /// scheme's strings (a profile of `bench data` showed the copies' allocations at several percent of a lookup).
    settings: Arc<SecuritySettings>,
    clock: Arc<dyn Clock>,
    /// The catalog search index (a projection of the store's published versions) and whether it was built.
    search: Arc<govshare_search::CatalogIndex>,
    search_ready: Arc<tokio::sync::OnceCell<()>>,
    /// The node's SM2/SM3/SM4 keys.
    keys: Arc<crypto::NodeKeys>,
    /// The data plane's caches, rate counters and usage log.
    plane: Arc<data::DataPlane>,
    /// Where signed checkpoints of the audit chain are kept, outside the database.
    checkpoints: Option<Arc<evidence::CheckpointLog>>,
    /// The public complaint desk's rate counters and used challenges.
    desk: Arc<complaints::Desk>,
    /// The federation's HTTP client and last sync.
    federation: Arc<federation::FederationState>,
}

impl Services {
    pub fn new(store: DynStore, settings: SecuritySettings) -> Self {
        Services {
            store,
            settings: Arc::new(settings),
            clock: Arc::new(SystemClock),
            search: search::new_index(),
            search_ready: Arc::new(tokio::sync::OnceCell::new()),
            keys: Arc::new(crypto::NodeKeys::generate()),
            plane: Arc::default(),
            checkpoints: None,
            desk: Arc::default(),
            federation: Arc::default(),
        }
    }

    /// The node's keys (from `security.node_key_file`); without this, a node gets keys for this process only.
    pub fn with_node_keys(mut self, keys: crypto::NodeKeys) -> Self {
        self.keys = Arc::new(keys);
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn store(&self) -> &DynStore {
        &self.store
    }

    pub fn settings(&self) -> &SecuritySettings {
        &self.settings
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The one place where permission is decided: every use case calls this before acting.
    fn authorize(&self, principal: &Principal, action: Action) -> Result<()> {
        authz::check(principal, action).map_err(|denied| {
            tracing::info!(actor = %principal.audit_name(), ?action, "denied");
            ServiceError::Forbidden(denied.to_string())
        })
    }
}

impl Services {
    /// The working-day calendar: the official data shipped with the platform, with the years an administrator
    /// imported on top (an imported year replaces a shipped one).
    pub async fn calendar(&self) -> Result<govshare_domain::calendar::WorkingCalendar> {
        let mut calendar = govshare_domain::calendar::WorkingCalendar::official();
        for (year, data) in self.store.calendar_years().await? {
            let stored = govshare_domain::calendar::WorkingCalendar::from_json(&data).map_err(|e| {
                ServiceError::Internal(format!("stored calendar data for {year} is invalid: {e}").into())
            })?;
            calendar.merge(stored);
        }
        Ok(calendar)
    }

    /// Loads official calendar data (the State Council's annual notice) for the years in `json`.
    pub async fn import_calendar(&self, principal: &Principal, json: &str) -> Result<Vec<(i32, usize, usize)>> {
        self.authorize(principal, Action::ManageOrganisations)?;
        let parsed = govshare_domain::calendar::WorkingCalendar::from_json(json)?;
        let years: Vec<(i32, String)> =
            parsed.years().filter_map(|(y, _)| parsed.year_json(*y).map(|text| (*y, text))).collect();
        if years.is_empty() {
            return Err(govshare_domain::ValidationError::new("years", "required", "文件中没有任何年份的数据").into());
        }
        let summary: Vec<(i32, usize, usize)> =
            parsed.years().map(|(y, c)| (*y, c.holidays.len(), c.makeup_workdays.len())).collect();
        let audit = govshare_domain::audit::AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "calendar.import",
            "calendar",
            years.iter().map(|(y, _)| y.to_string()).collect::<Vec<_>>().join(","),
            serde_json::json!({ "years": summary }),
        );
        self.store.save_calendar_years(&years, &audit).await?;
        Ok(summary)
    }
}
