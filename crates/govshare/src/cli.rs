//! The command line: `serve`, `migrate`, `admin …`, `audit verify | checkpoint | evidence | verify-proof |
//! restore-guards`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use govshare_domain::org::{NewOrganisationInput, OrgId, Organisation};
use govshare_domain::principal::Principal;
use govshare_http::AppState;
use govshare_service::{NewUserInput, ServiceError, Services};
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

use crate::config::Config;
use crate::demo;

#[derive(Debug, Parser)]
#[command(name = "govshare", version, about = "政务数据共享平台 — government data-sharing platform (Decree 809)")]
pub struct Cli {
    /// Configuration file; missing is fine (defaults and GOVSHARE__… environment variables apply).
    #[arg(long, global = true, default_value = "govshare.toml", env = "GOVSHARE_CONFIG")]
    pub config: PathBuf,
    /// Database URL, overriding the configuration (`sqlite://…` or `postgres://…`).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the platform: API, console and background jobs.
    Serve {
        /// On a fresh node, create the demo province (浙江省) with people in every role, and print the logins.
        #[arg(long)]
        demo: bool,
        /// Address to listen on, overriding `server.listen`.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Create or update the database schema, then exit.
    Migrate,
    /// Manage regions, organisations and accounts from the shell (acts as the node operator; audited).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The audit chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The working-day calendar that every deadline is computed with.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Benchmarks, each printing medians and p99 against a baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// The national system of interconnected platforms: found it, admit children, join a parent (audited).
    Federation {
        #[command(subcommand)]
        command: crate::cli_federation::FederationCommand,
    },
    /// Hosted data sources: load a provider's file (acts as the node operator; audited).
    Source {
        #[command(subcommand)]
        command: SourceCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Check every row of a CSV, Excel or JSON Lines file against the entry's data items and load it in one
    /// transaction; with errors, print the row-level report and load nothing (unless --accept-valid).
    Load {
        /// The catalog entry (its source must be bound, as `hosted`).
        #[arg(long)]
        entry: uuid::Uuid,
        file: PathBuf,
        /// `csv`, `xlsx` or `jsonl`; default: from the file name.
        #[arg(long, default_value = "")]
        format: String,
        /// `replace` (the file is the whole table) or `upsert` (adds and changes, deletes nothing).
        #[arg(long, default_value = "replace")]
        mode: String,
        /// Load the valid rows of a file with errors.
        #[arg(long)]
        accept_valid: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The data plane under load: N generated people, governed lookups against a bare baseline route in the
    /// same server, phases alternating; on PostgreSQL also bulk export against COPY. Uses its own temporary
    /// database.
    Data(crate::bench_data::DataBenchArgs),
    /// The duty ledger at scale: N duties of mixed kinds and due dates; times the deadline sweep's read and one
    /// party's to-do list, each against a bare indexed count in the same run. Uses its own temporary database.
    Deadlines(crate::bench_deadlines::DeadlineBenchArgs),
    /// The supervision dashboard over a province's history: regions, 1,000 departments, 1M duties and the daily
    /// usage roll-up of 10M accesses (scaled down on SQLite), built with bulk SQL; times the province dashboard and
    /// one department's indicators against a bare count and sum over the same period. Uses its own temporary
    /// database.
    Supervision(crate::bench_supervision::SupervisionBenchArgs),
    /// The national catalog's flow: N entries published on a city reach the root through its province (time to
    /// full propagation, entries/s), and a signed message round trip against a plain local call in the same run.
    /// Uses its own temporary databases.
    Federation(crate::bench_federation::FederationBenchArgs),
    /// Catalog search latency at scale: builds N published entries in the search index and times a mix of
    /// queries against a linear scan with the same matching rules and facets. Touches no database.
    Search {
        #[arg(long, default_value_t = 100_000)]
        entries: usize,
        #[arg(long, default_value_t = 2_000)]
        queries: usize,
        #[arg(long, default_value_t = 809)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Load a year's official holidays and make-up working days (same format as the shipped
    /// cn-holidays-2024-2026.json). A loaded year replaces the shipped data for that year.
    Import { file: PathBuf },
    /// Print the date that is N working days after the given day (the day itself is not counted).
    AddWorkingDays { date: String, days: u32 },
    /// List the years with official data.
    Years,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add a region (GB/T 2260 code).
    CreateRegion {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
    },
    /// Register an organisation: a competent authority (one per region) or a department.
    CreateOrg {
        /// `authority` or `department`.
        #[arg(long, default_value = "department")]
        kind: String,
        #[arg(long)]
        region: String,
        #[arg(long)]
        name: String,
        /// 统一社会信用代码 (GB 32100, check character validated).
        #[arg(long)]
        credit_code: String,
        /// The data-sharing work unit (工作机构).
        #[arg(long)]
        work_unit: String,
    },
    /// List organisations.
    ListOrgs,
    /// Create an account in an organisation. The initial password is read from standard input when it is
    /// not a terminal, or generated and printed once.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        /// The organisation, by credit code or id.
        #[arg(long)]
        org: String,
        /// Role codes: platform_admin, authority_reviewer, authority_supervisor, clerk, work_unit_head.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// A contractor's (受托方) account: clerk only.
        #[arg(long)]
        contractor: bool,
    },
    /// Give an existing account a role in an organisation.
    GrantRole {
        #[arg(long)]
        username: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the chain from the first record, check every usage record against its batch's seal and the chain
    /// against every signed checkpoint, and check the append-only triggers; exit 1 and name the first problem.
    Verify {
        /// Also check every usage archive the chain records, in this directory (signature, links, seals, and
        /// that each is the file the chain recorded).
        #[arg(long)]
        archives: Option<PathBuf>,
        /// Also hold the chain to the checkpoints this node's parent witnessed (fetched from it): a chain rewound
        /// together with the local checkpoint file is still found.
        #[arg(long)]
        witnessed: bool,
    },
    /// Archive every month of usage records past the three-year retention (Art. 29) into signed, hash-linked files,
    /// record each in the audit chain, and only then remove the month from the database (PostgreSQL: its
    /// partition is detached and dropped; SQLite keeps the rows). Run it monthly, e.g. from cron.
    Archive {
        /// The archive directory; default: `audit.archive_dir`, or `archives/` beside the node key file.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Verify usage archive files offline (no database), in month order: each file's signature, hash links and
    /// batches, and that each names the one before it. Exit 0 when all verify, 1 otherwise.
    VerifyArchive {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The node's SM2 public key (hex) to trust; without it, the key the files name is used and printed.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Sign the chain's head now with the node's SM2 key and append the checkpoint to the checkpoint file.
    Checkpoint,
    /// Write one record's evidence (the record, its Merkle proof, the chain up to a signed checkpoint and the
    /// checkpoint) to a JSON file that `audit verify-proof` checks without the database.
    Evidence {
        /// A usage record, by id.
        #[arg(long, conflicts_with = "seq", required_unless_present = "seq")]
        usage: Option<uuid::Uuid>,
        /// An audit record, by sequence number.
        #[arg(long)]
        seq: Option<i64>,
        /// The file to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Verify an evidence file offline (no database): exit 0 when it proves its record, 1 when it does not.
    VerifyProof {
        file: PathBuf,
        /// The node's SM2 public key (hex) to trust; without it, the key the file names is used and printed.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Recreate the append-only triggers that `audit verify` reports missing (audited), so that `serve` starts.
    RestoreGuards,
}

pub fn run(cli: Cli) -> ExitCode {
    let mut config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    if let Some(url) = &cli.database_url {
        config.database.url = crate::config::Secret::new(url.clone());
    }
    init_logging(&config, matches!(cli.command, Command::Serve { .. }));
    if let Command::Bench { command: BenchCommand::Search { entries, queries, seed } } = cli.command {
        return match crate::bench::search(entries, queries, seed) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::from(2)
            }
        };
    }
    if let Command::Bench { command: BenchCommand::Deadlines(args) } = &cli.command {
        return run_bench(crate::bench_deadlines::run(args.clone()));
    }
    if let Command::Bench { command: BenchCommand::Data(args) } = &cli.command {
        return run_bench(crate::bench_data::run(args.clone()));
    }
    if let Command::Bench { command: BenchCommand::Federation(args) } = &cli.command {
        return run_bench(crate::bench_federation::run(args.clone()));
    }
    if let Command::Bench { command: BenchCommand::Supervision(args) } = &cli.command {
        return run_bench(crate::bench_supervision::run(args.clone()));
    }
    if let Command::Audit { command: AuditCommand::VerifyProof { file, public_key } } = &cli.command {
        return verify_proof(file, public_key.as_deref());
    }
    if let Command::Audit { command: AuditCommand::VerifyArchive { files, public_key } } = &cli.command {
        return verify_archives(files, public_key.as_deref());
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(execute(cli.command, config)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(config: &Config, serving: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(if serving { config.log.filter.as_str() } else { "warn" }));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if config.log.format == "json" { builder.json().try_init() } else { builder.try_init() };
}

async fn execute(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(config.database.url.expose()).await?;
    let keys = crate::node_keys(&config.security.node_key_file)?;
    let checkpoints = govshare_service::CheckpointLog::new(&config.checkpoint_dir(), &config.server.node_name);
    let services = Services::new(store, config.security_settings()).with_node_keys(keys).with_checkpoints(checkpoints);
    let operator = Principal::operator(&std::env::var("USER").unwrap_or_else(|_| "root".into()));
    match command {
        Command::Serve { demo, listen } => serve(services, config, demo, listen).await,
        Command::Migrate => {
            println!("schema is up to date ({})", crate::config::redact_url(config.database.url.expose()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin { command } => admin(&services, &operator, command).await,
        Command::Calendar { command } => calendar(&services, &operator, command).await,
        Command::Federation { command } => crate::cli_federation::run(&services, command).await,
        Command::Bench { .. } => unreachable!("benchmarks run before the store is opened"),
        Command::Source { command: SourceCommand::Load { entry, file, format, mode, accept_valid } } => {
            load_source(&services, &operator, entry, &file, format, mode, accept_valid).await
        }
        Command::Audit { command: AuditCommand::Archive { dir } } => {
            let dir = dir.unwrap_or_else(|| config.archive_dir());
            archive_usage(&services, &operator, &dir, &config.server.node_name).await
        }
        Command::Audit { command } => audit(&services, &operator, command).await,
    }
}

async fn audit(services: &Services, operator: &Principal, command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify { archives, witnessed } => {
            let v = services.verify_audit_against(operator, archives.as_deref(), witnessed).await.map_err(explain)?;
            let checkpoints = match (v.checkpoints, services.checkpoint_log()) {
                (Some(n), Some(log)) => format!("{n} signed checkpoints ({})", log.file().display()),
                _ => "no checkpoint file".to_owned(),
            };
            match &v.first_break {
                None => {
                    println!(
                        "audit chain intact: {} records verified, {} usage records match their seals, held to {checkpoints}",
                        v.verified, v.usage_records
                    );
                    if v.usage_archived > 0 {
                        println!(
                            "{} sealed usage records have left the database in recorded archives",
                            v.usage_archived
                        );
                    }
                }
                Some(problem) => {
                    println!("AUDIT CHAIN BROKEN at record {}: {problem}", problem.seq());
                    println!("{} records before it verified intact", v.verified);
                }
            }
            if let Some(dir) = &archives {
                println!("{} usage archives checked in {}", v.archive_files, dir.display());
            }
            for problem in &v.archive_problems {
                println!("USAGE ARCHIVE INVALID: {problem}");
            }
            if !v.missing_guards.is_empty() {
                println!(
                    "APPEND-ONLY GUARDS MISSING: {} (someone with database access removed, altered or disabled them; restore them with `govshare audit restore-guards`)",
                    v.missing_guards.join(", ")
                );
            }
            Ok(if v.is_intact() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        AuditCommand::Checkpoint => match services.checkpoint(operator).await.map_err(explain)? {
            Some(c) => {
                let file = services.checkpoint_log().map(|l| l.file().display().to_string()).unwrap_or_default();
                println!("checkpoint signed: record {} (SM3 {}) at {}, in {file}", c.seq, hex::encode(c.hash), c.at);
                println!("node public key: {}", c.public_key);
                Ok(ExitCode::SUCCESS)
            }
            None => {
                println!("the audit chain is empty: nothing to sign");
                Ok(ExitCode::SUCCESS)
            }
        },
        AuditCommand::Evidence { usage, seq, output } => {
            let evidence = match (usage, seq) {
                (Some(id), _) => services.usage_evidence(operator, id).await,
                (None, Some(seq)) => services.audit_evidence(operator, seq).await,
                (None, None) => anyhow::bail!("name a usage record (--usage ID) or an audit record (--seq N)"),
            }
            .map_err(explain)?;
            let text = serde_json::to_string_pretty(&evidence)?;
            std::fs::write(&output, text + "\n")
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
            println!(
                "evidence written to {}: record {} with the chain to the checkpoint at record {} signed {}",
                output.display(),
                evidence.chain.first().map(|r| r.seq).unwrap_or_default(),
                evidence.checkpoint.seq,
                evidence.checkpoint.at
            );
            println!("node public key: {}", evidence.checkpoint.public_key);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::VerifyProof { .. } | AuditCommand::VerifyArchive { .. } => {
            unreachable!("offline checks run before the store is opened")
        }
        AuditCommand::Archive { .. } => unreachable!("archive is dispatched with the configuration"),
        AuditCommand::RestoreGuards => {
            let restored = services.restore_guards(operator).await.map_err(explain)?;
            if restored.is_empty() {
                println!("all append-only guards are in place; nothing restored");
            } else {
                println!("restored append-only guards: {} (recorded in the audit chain)", restored.join(", "));
                println!("run `govshare audit verify` to check what happened while they were missing");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `audit archive`.
async fn archive_usage(
    services: &Services,
    operator: &Principal,
    dir: &std::path::Path,
    node: &str,
) -> anyhow::Result<ExitCode> {
    let done = services.archive_usage(operator, dir, node).await.map_err(explain)?;
    if done.is_empty() {
        println!(
            "no month of usage records is past the retention of {} years: nothing archived",
            govshare_domain::grant::USAGE_RETENTION_YEARS
        );
    }
    for m in &done {
        let what = if m.earlier { "archived earlier" } else { "archived" };
        let removed = if m.removed {
            "removed from the database"
        } else {
            "kept in the database (this store keeps every usage record)"
        };
        println!(
            "{}: {what} to {} ({} records in {} batches), {removed}",
            m.month.format("%Y-%m"),
            m.file.display(),
            m.records,
            m.batches
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `audit verify-archive`: checks usage archive files in order with no database and no configuration.
fn verify_archives(files: &[PathBuf], public_key: Option<&str>) -> ExitCode {
    let mut previous: Option<String> = None;
    let mut key = public_key.map(str::to_owned);
    for (i, file) in files.iter().enumerate() {
        // The first file may follow archives not given; every later one must follow the file before it.
        let expected = if i == 0 { None } else { Some(previous.as_deref()) };
        match govshare_service::archive::verify_archive_file(file, key.as_deref(), expected) {
            Ok((v, sm3)) => {
                println!(
                    "ARCHIVE VALID: {} holds {} usage records of {} in {} sealed batches, signed by node 「{}」 (SM3 {sm3})",
                    file.display(),
                    v.records,
                    v.month.format("%Y-%m"),
                    v.batches,
                    v.node
                );
                key.get_or_insert(v.public_key);
                previous = Some(v.link);
            }
            Err(e) => {
                println!("ARCHIVE REFUSED: {}: {e}", file.display());
                return ExitCode::from(1);
            }
        }
    }
    if let Some(key) = key {
        let whose = if public_key.is_some() { "the key you named" } else { "compare it with the node's published key" };
        println!("signed with SM2 key {key} ({whose})");
    }
    ExitCode::SUCCESS
}

/// `audit verify-proof`: checks an evidence file with no database and no configuration.
fn verify_proof(file: &std::path::Path, public_key: Option<&str>) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let evidence: govshare_domain::evidence::Evidence = match serde_json::from_str(&text) {
        Ok(e) => e,
        Err(e) => {
            println!("EVIDENCE REFUSED: {} is not a govshare evidence file: {e}", file.display());
            return ExitCode::from(1);
        }
    };
    match evidence.verify(public_key) {
        Ok(v) => {
            let c = &v.checkpoint;
            match &v.usage {
                Some(u) => println!(
                    "EVIDENCE VALID: usage record {} ({} {} row(s), result {}, at {}) is record {} of the batch sealed                      by audit record {}",
                    u.id,
                    u.operation,
                    u.rows,
                    u.result,
                    u.at,
                    evidence_position(&evidence),
                    v.record.seq
                ),
                None => println!(
                    "EVIDENCE VALID: audit record {} ({} by {} at {})",
                    v.record.seq, v.record.action, v.record.actor, v.record.at
                ),
            }
            println!(
                "chained to record {} signed by node 「{}」 at {} with SM2 key {}{}",
                c.seq,
                c.node,
                c.at,
                c.public_key,
                if public_key.is_some() {
                    " (the key you named)"
                } else {
                    " (compare it with the node's published key)"
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("EVIDENCE REFUSED: {e}");
            ExitCode::from(1)
        }
    }
}

fn evidence_position(evidence: &govshare_domain::evidence::Evidence) -> u64 {
    match &evidence.subject {
        govshare_domain::evidence::EvidenceSubject::UsageRecord { position, .. } => *position,
        govshare_domain::evidence::EvidenceSubject::AuditRecord { .. } => 0,
    }
}

async fn serve(
    services: Services,
    config: Config,
    demo: bool,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let mut node_name = config.server.node_name.clone();
    let mut logins = None;
    if demo {
        if services.store().is_empty().await? {
            logins = Some(demo::seed(&services).await?);
            demo::seed_data(&services).await?;
        } else {
            println!("demo: the node already has data; leaving it as it is");
        }
        if node_name == Config::default().server.node_name {
            node_name = "浙江省政务数据共享平台（演示）".into();
        }
    }
    let missing = services.missing_guards().await?;
    if !missing.is_empty() {
        anyhow::bail!(
            "refusing to start: the database lacks the append-only triggers {} that keep the audit log and usage \
             records from being changed (someone with database access removed, altered or disabled them). Restore \
             them with `govshare audit restore-guards`, then run `govshare audit verify` to check what happened \
             while they were missing.",
            missing.join(", ")
        );
    }
    let derived = services.backfill_duties().await?;
    if derived > 0 {
        tracing::info!(duties = derived, "derived the duties of the timelines kept before the duty ledger");
    }
    let addr = listen.unwrap_or(config.server.listen);
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    let state = AppState::new(services.clone(), config.http_settings(node_name));

    let (stop_tx, stop_rx) = watch::channel(false);
    let jobs = [
        tokio::spawn(govshare_http::jobs::run_housekeeping(
            services.clone(),
            Duration::from_secs(config.server.housekeeping_interval_secs),
            stop_rx.clone(),
        )),
        tokio::spawn(govshare_http::jobs::run_deadlines(
            services.clone(),
            Duration::from_secs(config.server.deadline_interval_secs),
            stop_rx.clone(),
        )),
        tokio::spawn(govshare_http::jobs::run_checkpoints(
            services.clone(),
            Duration::from_secs(config.audit.checkpoint_interval_secs),
            stop_rx.clone(),
        )),
        tokio::spawn(govshare_http::jobs::run_federation(
            services.clone(),
            Duration::from_secs(config.federation.sync_interval_secs),
            Duration::from_secs(config.federation.max_backoff_secs),
            stop_rx.clone(),
        )),
        tokio::spawn(govshare_http::jobs::run_search_sync(
            services,
            Duration::from_secs(config.server.search_sync_interval_secs),
            stop_rx,
        )),
    ];

    println!("govshare is serving on http://{local}");
    println!("  console:  http://{local}/console");
    println!("  API docs: http://{local}/api/docs   (OpenAPI: /api/openapi.json)");
    println!("  health:   /healthz  /readyz  /metrics");
    if demo {
        print_demo_logins(logins.as_deref());
    }
    tracing::info!(%local, "listening");
    govshare_http::serve(listener, state, shutdown_signal()).await?;
    let _ = stop_tx.send(true);
    for job in jobs {
        let _ = job.await;
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn print_demo_logins(logins: Option<&[demo::DemoLogin]>) {
    println!();
    println!("demo logins (password for all: {}):", demo::DEMO_PASSWORD);
    match logins {
        Some(logins) => {
            for l in logins {
                println!("  {:<14} {:<8} {:<28} {}", l.username, l.display_name, l.org, l.roles);
            }
        }
        None => {
            println!("  admin, reviewer, supervisor, gat.clerk, gat.head, rst.clerk, rst.head, … (created earlier)")
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn calendar(services: &Services, operator: &Principal, command: CalendarCommand) -> anyhow::Result<ExitCode> {
    match command {
        CalendarCommand::Import { file } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            for (year, holidays, makeup) in services.import_calendar(operator, &text).await.map_err(explain)? {
                println!("loaded {year}: {holidays} holidays, {makeup} make-up working days");
            }
        }
        CalendarCommand::AddWorkingDays { date, days } => {
            let start = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
                .map_err(|_| anyhow::anyhow!("date `{date}` must be YYYY-MM-DD"))?;
            let calendar = services.calendar().await.map_err(explain)?;
            let (due, unofficial) =
                calendar.add_working_days(start, days).map_err(|e| explain(ServiceError::Validation(e)))?;
            println!("{due}");
            for year in unofficial {
                eprintln!(
                    "WARNING: no official holiday data for {year}; weekends only were used. \
                     Load the State Council notice with `govshare calendar import FILE`."
                );
            }
        }
        CalendarCommand::Years => {
            let calendar = services.calendar().await.map_err(explain)?;
            for (year, data) in calendar.years() {
                println!(
                    "{year}: {} holidays, {} make-up working days",
                    data.holidays.len(),
                    data.makeup_workdays.len()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn find_org(services: &Services, operator: &Principal, reference: &str) -> anyhow::Result<Organisation> {
    let orgs = services.list_orgs(operator).await?;
    let by_id = reference.parse::<OrgId>().ok();
    orgs.into_iter()
        .find(|o| Some(o.id) == by_id || o.credit_code.as_str().eq_ignore_ascii_case(reference.trim()))
        .ok_or_else(|| anyhow::anyhow!("no organisation with credit code or id `{reference}`"))
}

pub(crate) fn explain(err: ServiceError) -> anyhow::Error {
    match &err {
        ServiceError::Validation(v) => anyhow::anyhow!("{} (field `{}`, rule `{}`)", v.message, v.field, v.rule),
        _ => anyhow::anyhow!("{err} ({})", err.code()),
    }
}

async fn admin(services: &Services, operator: &Principal, command: AdminCommand) -> anyhow::Result<ExitCode> {
    match command {
        AdminCommand::CreateRegion { code, name } => {
            let region = services.create_region(operator, &code, &name).await.map_err(explain)?;
            println!("created region {} {}", region.code, region.name);
        }
        AdminCommand::CreateOrg { kind, region, name, credit_code, work_unit } => {
            let input =
                NewOrganisationInput { kind, region_code: region, name, credit_code, work_unit_name: work_unit };
            let org = services.create_org(operator, &input).await.map_err(explain)?;
            println!("created {} {} ({}), id {}", org.kind.code(), org.name, org.credit_code, org.id);
        }
        AdminCommand::ListOrgs => {
            for org in services.list_orgs(operator).await.map_err(explain)? {
                println!("{}  {}  {:<10} {}  {}", org.id, org.credit_code, org.kind.code(), org.region, org.name);
            }
        }
        AdminCommand::CreateUser { username, name, org, roles, contractor } => {
            let org = find_org(services, operator, &org).await?;
            let (password, generated) = initial_password()?;
            let input = NewUserInput { username, display_name: name, password: password.clone(), contractor, roles };
            let user = services.create_user(operator, org.id, input).await.map_err(explain)?;
            println!("created user {} ({}) in {}", user.username, user.display_name, org.name);
            if generated {
                println!("initial password (shown once): {password}");
            }
        }
        AdminCommand::GrantRole { username, org, role } => {
            let org = find_org(services, operator, &org).await?;
            services.grant_role(operator, org.id, &username, &role).await.map_err(explain)?;
            println!("granted {role} in {} to {username}", org.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The initial password from standard input (one line) when it is piped, or a fresh one.
fn initial_password() -> anyhow::Result<(String, bool)> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if !line.is_empty() {
            return Ok((line, false));
        }
    }
    let token = govshare_service::secrets::random_token();
    Ok((format!("Gs-{}-9a", &token[..14]), true))
}

/// `govshare source load`: the same load as the API, with a progress bar.
async fn load_source(
    services: &Services,
    operator: &Principal,
    entry: uuid::Uuid,
    file: &std::path::Path,
    format: String,
    mode: String,
    accept_valid: bool,
) -> anyhow::Result<ExitCode> {
    let request = govshare_service::LoadRequest {
        format,
        mode,
        accept_valid,
        file_name: file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    let outcome = crate::load_with_progress(
        services,
        operator,
        govshare_domain::catalog::EntryId(entry),
        file,
        &request,
        "检查并加载",
    )
    .await;
    let report = outcome?;
    for e in &report.errors {
        println!("row {}\t{}\t{}\t{}", e.row, e.column, e.rule, e.message);
    }
    if report.rows_with_errors > report.errors.len() as u64 {
        println!(
            "… {} rows with errors in all (the first {} are listed)",
            report.rows_with_errors,
            report.errors.len()
        );
    }
    match report.load {
        Some(load) => {
            println!(
                "loaded {}: {} rows read, {} rejected; inserted {}, updated {}, unchanged {}, deleted {} (file SM3 {})",
                load.file_name,
                load.rows_read,
                load.rows_rejected,
                load.counts.inserted,
                load.counts.updated,
                load.counts.unchanged,
                load.counts.deleted,
                load.file_sm3
            );
            Ok(ExitCode::SUCCESS)
        }
        None => {
            println!(
                "nothing loaded: {} of {} rows have errors (use --accept-valid to load the others)",
                report.rows_with_errors, report.rows_read
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// Runs a benchmark that needs the async runtime (it opens its own temporary database).
fn run_bench(bench: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    match tokio::runtime::Runtime::new().map_err(anyhow::Error::from).and_then(|rt| rt.block_on(bench)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
