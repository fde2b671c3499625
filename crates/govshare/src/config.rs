//! Layered configuration: built-in defaults, then `govshare.toml` (or the file given with `--config`), then
//! environment variables `GOVSHARE__SECTION__KEY` (e.g. `GOVSHARE__DATABASE__URL`).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A value that must not appear in logs; `Debug` shows only that it is set.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(\"{}\")", redact_url(&self.0))
    }
}

/// Hides the password in a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Config {
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub security: SecurityConfig,
    pub catalog: CatalogConfig,
    pub sharing: SharingConfig,
    pub audit: AuditConfig,
    #[serde(default)]
    pub federation: FederationConfig,
    pub log: LogConfig,
}

/// The national system of interconnected platforms (Art. 30–32): timings only. Which node this is and who its
/// parent is are set once with `govshare federation found` / `join` and kept in the database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FederationConfig {
    /// Seconds between syncs with the parent (directory, admissions, catalog deltas).
    pub sync_interval_secs: u64,
    /// After failures the sync backs off, doubling, up to this many seconds.
    pub max_backoff_secs: u64,
    /// On the root: how long each signed directory is valid, and how long before expiry it signs a renewal.
    pub directory_validity_hours: i64,
    pub renew_before_hours: i64,
    /// A node warns (log, console, `federation status`) when its directory has less than this left.
    pub warn_before_hours: i64,
    /// How far a message's timestamp may be from this node's clock.
    pub max_clock_skew_secs: i64,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            sync_interval_secs: 10,
            max_backoff_secs: 300,
            directory_validity_hours: 7 * 24,
            renew_before_hours: 4 * 24,
            warn_before_hours: 2 * 24,
            max_clock_skew_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SharingConfig {
    /// The period of the requester's records of use (Art. 29 ¶2), in months: 1, 2, 3, 4, 6 or 12, counted from
    /// 1 January (3: quarters). Each period owes a record within 10 working days of its end.
    pub use_record_period_months: u32,
    /// Aggregation risk (Art. 25 ¶2): sensitive attributes, joinable through one identifier across at least two
    /// catalog entries of a requester's running grants, from which the authority must acknowledge the grant.
    pub aggregation_threshold: usize,
    /// Items graded at this level or above count as sensitive attributes (besides sensitive personal information
    /// and classes above the lowest).
    pub aggregation_sensitive_level: u8,
    /// Working days the coordinating authority has to coordinate a dispute the departments could not settle
    /// (Art. 28); missed, an Art. 41 (2) candidate.
    #[serde(default = "default_dispute_days")]
    pub dispute_coordination_days: u32,
    /// Working days the department (or authority) a public complaint or report went to has to answer it
    /// (Art. 37 ¶2).
    #[serde(default = "default_complaint_days")]
    pub complaint_days: u32,
}

fn default_dispute_days() -> u32 {
    govshare_domain::dispute::COORDINATION_DAYS
}

fn default_complaint_days() -> u32 {
    govshare_domain::complaint::COMPLAINT_DAYS
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditConfig {
    /// Seconds between signed checkpoints of the audit chain's head (only when the head moved). Records appended
    /// after the newest checkpoint are the ones an insider with database access could still cut unnoticed.
    pub checkpoint_interval_secs: u64,
    /// The directory of the checkpoint file (`checkpoints.jsonl`), outside the database; default: `checkpoints/`
    /// beside the node key file. Put it, or a copy of it, where database administrators cannot write.
    pub checkpoint_dir: Option<PathBuf>,
    /// The directory `govshare audit archive` writes usage archives to (one signed file per month past the
    /// three-year retention); default: `archives/` beside the node key file. Keep copies off the database host.
    #[serde(default)]
    pub archive_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CatalogConfig {
    /// Data classes, most protected first (数据分类分级方案).
    pub grade_classes: Vec<String>,
    /// Levels run from 1 to this.
    pub grade_max_level: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseConfig {
    /// `sqlite://data/govshare.db` (embedded, the default) or `postgres://user:pass@host/db` (production).
    pub url: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The node's name in the console header.
    pub node_name: String,
    /// Mark the cookies `Secure`: `"auto"` (default: when the request came over HTTPS, as a TLS-terminating
    /// proxy's `X-Forwarded-Proto` says), `true` (always; production behind a proxy that does not send it) or
    /// `false`.
    pub cookie_secure: govshare_http::CookieSecure,
    /// Seconds between housekeeping runs (expired sessions, old login failures).
    pub housekeeping_interval_secs: u64,
    /// Seconds between reconciliations of this instance's search index with the database (picks up entries
    /// published through other instances).
    pub search_sync_interval_secs: u64,
    /// Seconds between runs of the deadline job (reminders before due dates, overdue marks after).
    pub deadline_interval_secs: u64,
    /// Seconds a client has to send a request's line and headers (from connecting, or from the previous
    /// response on a kept-alive connection); then the connection is closed.
    pub header_read_timeout_secs: u64,
    /// Seconds within which a request must be answered (reading its body included), else 408.
    pub request_timeout_secs: u64,
    /// The same for the source load route, which takes files of up to 2 GiB.
    pub upload_timeout_secs: u64,
    /// Keep connections open between requests (HTTP/1.1 keep-alive).
    pub keep_alive: bool,
    /// Seconds after which a connection is closed once its request in flight is answered.
    pub max_connection_age_secs: u64,
    /// Connections served at once; further clients wait in the listen backlog until one closes. Keep it below
    /// the process's file-descriptor limit (`ulimit -n`) minus the database pool.
    pub max_connections: usize,
    /// Send `Strict-Transport-Security`. Only for a node reached over HTTPS (a TLS-terminating proxy in front);
    /// leave off for plain-HTTP development, where browsers would then refuse the node's plain address.
    pub hsts: bool,
    /// The HSTS max-age, in seconds.
    pub hsts_max_age_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecurityConfig {
    pub session_ttl_minutes: i64,
    pub login_max_failures: u64,
    pub login_max_failures_per_client: u64,
    pub login_max_failures_per_user: u64,
    pub login_window_minutes: i64,
    /// The node's 32-byte secret, from which its SM4 data key, HMAC-SM3 record-key key and SM2 signing key are
    /// derived. Created (mode 0600) on first start when missing. Back it up: hosted encrypted data cannot be
    /// read without it.
    pub node_key_file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: String,
    /// A tracing filter, e.g. `info` or `govshare=debug,info`. `RUST_LOG` overrides it.
    pub filter: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database: DatabaseConfig { url: Secret::new("sqlite://data/govshare.db") },
            server: ServerConfig {
                listen: "127.0.0.1:8080".parse().expect("valid default address"),
                node_name: "政务数据共享平台".into(),
                cookie_secure: govshare_http::CookieSecure::Auto,
                housekeeping_interval_secs: 300,
                search_sync_interval_secs: 30,
                deadline_interval_secs: 300,
                header_read_timeout_secs: 10,
                request_timeout_secs: 30,
                upload_timeout_secs: 1800,
                keep_alive: true,
                max_connection_age_secs: 600,
                max_connections: 1024,
                hsts: false,
                hsts_max_age_secs: 31_536_000,
            },
            security: SecurityConfig {
                session_ttl_minutes: 480,
                login_max_failures: 5,
                login_max_failures_per_client: 20,
                login_max_failures_per_user: 100,
                login_window_minutes: 15,
                node_key_file: PathBuf::from("data/node.key"),
            },
            catalog: CatalogConfig {
                grade_classes: govshare_domain::catalog::GradeScheme::default().classes,
                grade_max_level: govshare_domain::catalog::GradeScheme::default().max_level,
            },
            sharing: SharingConfig {
                use_record_period_months: govshare_domain::use_record::DEFAULT_USE_RECORD_MONTHS,
                aggregation_threshold: govshare_domain::aggregation::DEFAULT_THRESHOLD,
                aggregation_sensitive_level: govshare_domain::aggregation::DEFAULT_SENSITIVE_LEVEL,
                dispute_coordination_days: default_dispute_days(),
                complaint_days: default_complaint_days(),
            },
            audit: AuditConfig { checkpoint_interval_secs: 300, checkpoint_dir: None, archive_dir: None },
            federation: FederationConfig::default(),
            log: LogConfig { format: "text".into(), filter: "info".into() },
        }
    }
}

impl Config {
    /// Loads the layers. A missing file is fine (defaults apply); a malformed one is an error naming the key.
    pub fn load(file: &Path) -> anyhow::Result<Config> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("GOVSHARE__").split("__"))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let s = &self.security;
        anyhow::ensure!(s.session_ttl_minutes >= 5, "security.session_ttl_minutes must be at least 5");
        anyhow::ensure!(s.login_max_failures >= 1, "security.login_max_failures must be at least 1");
        anyhow::ensure!(
            s.login_max_failures_per_client >= s.login_max_failures,
            "security.login_max_failures_per_client must be at least security.login_max_failures"
        );
        anyhow::ensure!(
            s.login_max_failures_per_user >= s.login_max_failures,
            "security.login_max_failures_per_user must be at least security.login_max_failures"
        );
        anyhow::ensure!(s.login_window_minutes >= 1, "security.login_window_minutes must be at least 1");
        anyhow::ensure!(
            self.server.housekeeping_interval_secs >= 1,
            "server.housekeeping_interval_secs must be at least 1"
        );
        anyhow::ensure!(
            self.server.search_sync_interval_secs >= 1,
            "server.search_sync_interval_secs must be at least 1"
        );
        anyhow::ensure!(self.server.deadline_interval_secs >= 1, "server.deadline_interval_secs must be at least 1");
        let server = &self.server;
        for (key, value) in [
            ("header_read_timeout_secs", server.header_read_timeout_secs),
            ("request_timeout_secs", server.request_timeout_secs),
            ("upload_timeout_secs", server.upload_timeout_secs),
            ("max_connection_age_secs", server.max_connection_age_secs),
        ] {
            anyhow::ensure!(value >= 1, "server.{key} must be at least 1");
        }
        anyhow::ensure!(server.max_connections >= 1, "server.max_connections must be at least 1");
        anyhow::ensure!(!server.hsts || server.hsts_max_age_secs >= 1, "server.hsts_max_age_secs must be at least 1");
        anyhow::ensure!(self.audit.checkpoint_interval_secs >= 1, "audit.checkpoint_interval_secs must be at least 1");
        anyhow::ensure!(!self.catalog.grade_classes.is_empty(), "catalog.grade_classes must name at least one class");
        anyhow::ensure!(
            (1..=9).contains(&self.catalog.grade_max_level),
            "catalog.grade_max_level must be between 1 and 9"
        );
        anyhow::ensure!(
            govshare_domain::use_record::valid_period_months(self.sharing.use_record_period_months),
            "sharing.use_record_period_months must be 1, 2, 3, 4, 6 or 12 (a period that divides the year), got {}",
            self.sharing.use_record_period_months
        );
        anyhow::ensure!(self.sharing.aggregation_threshold >= 1, "sharing.aggregation_threshold must be at least 1");
        for (name, days) in [
            ("dispute_coordination_days", self.sharing.dispute_coordination_days),
            ("complaint_days", self.sharing.complaint_days),
        ] {
            anyhow::ensure!(
                (1..=60).contains(&days),
                "sharing.{name} must be between 1 and 60 working days, got {days}"
            );
        }
        anyhow::ensure!(
            (1..=self.catalog.grade_max_level).contains(&self.sharing.aggregation_sensitive_level),
            "sharing.aggregation_sensitive_level must be between 1 and catalog.grade_max_level"
        );
        let f = &self.federation;
        anyhow::ensure!(f.sync_interval_secs >= 1, "federation.sync_interval_secs must be at least 1");
        anyhow::ensure!(
            f.max_backoff_secs >= f.sync_interval_secs,
            "federation.max_backoff_secs must be at least federation.sync_interval_secs"
        );
        anyhow::ensure!(f.directory_validity_hours >= 2, "federation.directory_validity_hours must be at least 2");
        anyhow::ensure!(
            (1..f.directory_validity_hours).contains(&f.renew_before_hours)
                && (1..f.directory_validity_hours).contains(&f.warn_before_hours),
            "federation.renew_before_hours and federation.warn_before_hours must be between 1 and \
             federation.directory_validity_hours - 1"
        );
        anyhow::ensure!(
            f.warn_before_hours < f.renew_before_hours,
            "federation.warn_before_hours must be below federation.renew_before_hours (the root renews first)"
        );
        anyhow::ensure!(
            (10..=3600).contains(&f.max_clock_skew_secs),
            "federation.max_clock_skew_secs must be between 10 and 3600"
        );
        anyhow::ensure!(
            matches!(self.log.format.as_str(), "text" | "json"),
            "log.format must be `text` or `json`, got `{}`",
            self.log.format
        );
        Ok(())
    }

    /// The HTTP settings of `server`, with the console's `node_name`.
    pub fn http_settings(&self, node_name: String) -> govshare_http::HttpSettings {
        let s = &self.server;
        govshare_http::HttpSettings {
            cookie_secure: s.cookie_secure,
            node_name,
            bench_baseline: false,
            hsts_max_age: s.hsts.then(|| Duration::from_secs(s.hsts_max_age_secs)),
            server: govshare_http::ServerLimits {
                header_read_timeout: Duration::from_secs(s.header_read_timeout_secs),
                request_timeout: Duration::from_secs(s.request_timeout_secs),
                upload_timeout: Duration::from_secs(s.upload_timeout_secs),
                keep_alive: s.keep_alive,
                max_connection_age: Duration::from_secs(s.max_connection_age_secs),
                max_connections: s.max_connections,
            },
        }
    }

    /// Where signed checkpoints are kept: `audit.checkpoint_dir`, or `checkpoints/` beside the node key file.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.audit.checkpoint_dir.clone().unwrap_or_else(|| {
            self.security.node_key_file.parent().unwrap_or_else(|| Path::new("")).join("checkpoints")
        })
    }

    /// Where usage archives are written: `audit.archive_dir`, or `archives/` beside the node key file.
    pub fn archive_dir(&self) -> PathBuf {
        self.audit
            .archive_dir
            .clone()
            .unwrap_or_else(|| self.security.node_key_file.parent().unwrap_or_else(|| Path::new("")).join("archives"))
    }

    pub fn security_settings(&self) -> govshare_service::SecuritySettings {
        govshare_service::SecuritySettings {
            session_ttl: chrono::Duration::minutes(self.security.session_ttl_minutes),
            login_max_failures: self.security.login_max_failures,
            login_max_failures_per_client: self.security.login_max_failures_per_client,
            login_max_failures_per_user: self.security.login_max_failures_per_user,
            login_window: chrono::Duration::minutes(self.security.login_window_minutes),
            grade_scheme: govshare_domain::catalog::GradeScheme {
                classes: self.catalog.grade_classes.clone(),
                max_level: self.catalog.grade_max_level,
            },
            use_record_months: self.sharing.use_record_period_months,
            aggregation_threshold: self.sharing.aggregation_threshold,
            aggregation_sensitive_level: self.sharing.aggregation_sensitive_level,
            dispute_coordination_days: self.sharing.dispute_coordination_days,
            complaint_days: self.sharing.complaint_days,
            federation: govshare_service::federation::FederationSettings {
                directory_validity: chrono::Duration::hours(self.federation.directory_validity_hours),
                renew_before: chrono::Duration::hours(self.federation.renew_before_hours),
                warn_before: chrono::Duration::hours(self.federation.warn_before_hours),
                max_skew: chrono::Duration::seconds(self.federation.max_clock_skew_secs),
                ..Default::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "govshare.toml",
                "[server]\nnode_name = \"浙江省政务数据共享平台\"\n[security]\nlogin_max_failures = 3\n",
            )?;
            jail.set_env("GOVSHARE__SECURITY__LOGIN_MAX_FAILURES", "7");
            jail.set_env("GOVSHARE__DATABASE__URL", "postgres://app:s3cret@db/govshare");
            let config = Config::load(Path::new("govshare.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.server.node_name, "浙江省政务数据共享平台");
            assert_eq!(config.security.login_max_failures, 7);
            assert_eq!(config.security.session_ttl_minutes, 480);
            assert_eq!(config.database.url.expose(), "postgres://app:s3cret@db/govshare");
            assert!(!format!("{config:?}").contains("s3cret"));
            Ok(())
        });
    }

    #[test]
    fn server_limits_and_hsts_come_from_the_server_section() {
        figment::Jail::expect_with(|jail| {
            let defaults = Config::load(Path::new("absent.toml")).map_err(|e| e.to_string())?;
            let http = defaults.http_settings("节点".into());
            assert_eq!(http.server, govshare_http::ServerLimits::default(), "the defaults are the server's own");
            assert_eq!(http.hsts_max_age, None, "HSTS is off for plain-HTTP development");
            jail.create_file(
                "govshare.toml",
                "[server]\nheader_read_timeout_secs = 3\nmax_connections = 50\nkeep_alive = false\nhsts = true\n",
            )?;
            jail.set_env("GOVSHARE__SERVER__REQUEST_TIMEOUT_SECS", "12");
            let http =
                Config::load(Path::new("govshare.toml")).map_err(|e| e.to_string())?.http_settings("节点".into());
            assert_eq!(http.server.header_read_timeout, Duration::from_secs(3));
            assert_eq!(http.server.request_timeout, Duration::from_secs(12));
            assert_eq!(http.server.max_connections, 50);
            assert!(!http.server.keep_alive);
            assert_eq!(http.hsts_max_age, Some(Duration::from_secs(31_536_000)));
            jail.create_file("govshare.toml", "[server]\nmax_connections = 0\n")?;
            let err = Config::load(Path::new("govshare.toml")).unwrap_err().to_string();
            assert!(err.contains("server.max_connections"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn cookie_secure_is_auto_unless_set_and_accepts_flags_and_words() {
        use govshare_http::CookieSecure;
        figment::Jail::expect_with(|jail| {
            let defaults = Config::load(Path::new("absent.toml")).map_err(|e| e.to_string())?;
            assert_eq!(defaults.http_settings("节点".into()).cookie_secure, CookieSecure::Auto);
            for (toml, expected) in
                [("true", CookieSecure::Always), ("false", CookieSecure::Never), ("\"auto\"", CookieSecure::Auto)]
            {
                jail.create_file("govshare.toml", &format!("[server]\ncookie_secure = {toml}\n"))?;
                let config = Config::load(Path::new("govshare.toml")).map_err(|e| e.to_string())?;
                assert_eq!(config.server.cookie_secure, expected, "{toml}");
            }
            jail.set_env("GOVSHARE__SERVER__COOKIE_SECURE", "false");
            let config = Config::load(Path::new("govshare.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.server.cookie_secure, CookieSecure::Never, "from the environment");
            jail.clear_env();
            jail.create_file("govshare.toml", "[server]\ncookie_secure = \"sometimes\"\n")?;
            let err = Config::load(Path::new("govshare.toml")).unwrap_err().to_string();
            assert!(err.contains("cookie_secure") && err.contains("auto"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("govshare.toml", "[log]\nformat = \"xml\"\n")?;
            let err = Config::load(Path::new("govshare.toml")).unwrap_err().to_string();
            assert!(err.contains("log.format"), "{err}");
            jail.create_file("govshare.toml", "[server]\nlisten = \"nowhere\"\n")?;
            let err = Config::load(Path::new("govshare.toml")).unwrap_err().to_string();
            assert!(err.contains("listen"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("postgres://u:p@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
