//! govshare's use cases. The HTTP API, the console and the CLI all act through [`Services`]: each method
//! parses its input into domain types, asks the domain's authorisation policy, and changes state through
//! the store together with the audit event that describes the change.

mod accounts;
mod directory;
mod error;
pub mod secrets;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use govshare_domain::authz::{self, Action};
use govshare_domain::principal::Principal;
use govshare_store::DynStore;

pub use accounts::{IssuedCredential, LoginSuccess, NewUserInput, OrgChoice};
pub use directory::AuditVerification;
pub use error::ServiceError;

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Security settings, from configuration.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    pub session_ttl: Duration,
    /// Failed logins allowed for one username, or from one client, within `login_window`.
    pub login_max_failures: u64,
    pub login_window: Duration,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings { session_ttl: Duration::hours(8), login_max_failures: 5, login_window: Duration::minutes(15) }
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
    settings: SecuritySettings,
    clock: Arc<dyn Clock>,
}

impl Services {
    pub fn new(store: DynStore, settings: SecuritySettings) -> Self {
        Services { store, settings, clock: Arc::new(SystemClock) }
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
