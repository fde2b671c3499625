//! `govshare bench deadlines`: the duty ledger at national scale (issue 12's benchmark).
//!
//! On a fresh database (a temporary SQLite file, or a temporary PostgreSQL database dropped afterwards) it writes N
//! duties of mixed kinds: about 70 % open, due dates spread over the past 30 and the next 60 days (a tenth without a
//! statutory period), owed by 2,000 organisations in three roles. It then sets what earlier sweeps of a running node
//! would have left: past due marked overdue, yesterday's window reminded (so what remains is the work of the first
//! sweep of a day: today's new entrants into the reminder window, and what fell due in the last 5 minutes). It then times, each against a baseline measured in the
//! same run: (a) the sweep's read — every open duty that may need a reminder or an overdue mark now, page by page —
//! against a bare `COUNT(*)` over the same index ranges; (b) one party's to-do list (500 rows) against a bare count of
//! its open duties. Rounds alternate the two; medians are printed.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use govshare_domain::audit::AuditEvent;
use govshare_domain::calendar::{WorkingCalendar, beijing, end_of_day};
use govshare_domain::duty::{Duty, DutyKind, SubjectKind};
use govshare_domain::notification::AlertKind;
use govshare_domain::org::OrgId;
use govshare_domain::role::Role;
use govshare_store::{DutyFilter, Store};
use govshare_store_sql::{Dialect, SqlStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::bench_data::{BenchBackend, BenchDatabase};

#[derive(Debug, Clone, clap::Args)]
pub struct DeadlineBenchArgs {
    #[command(flatten)]
    pub db: BenchDatabase,
    #[arg(long, default_value_t = 1_000_000)]
    pub duties: usize,
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    #[arg(long, default_value_t = 809)]
    pub seed: u64,
}

const ORGS: u128 = 2_000;

pub async fn run(args: DeadlineBenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, created) = args.db.create(dir.path(), "deadlines.db").await?;
    println!("backend: {:?} ({})", args.db.backend, crate::config::redact_url(&url));
    let result = match args.db.backend {
        BenchBackend::Sqlite => run_with::<govshare_store_sqlite::SqliteDialect>(&args, &url).await,
        BenchBackend::Postgres => run_with::<govshare_store_postgres::PgDialect>(&args, &url).await,
    };
    args.db.drop(created).await?;
    result
}

/// On the concrete store of the backend (its bench helpers are not part of the `Store` trait).
async fn run_with<D: Dialect>(args: &DeadlineBenchArgs, url: &str) -> anyhow::Result<()> {
    let store = SqlStore::<D>::connect(url).await?;
    store.migrate().await?;
    run_on(args, &store).await
}

fn duty(rng: &mut StdRng, i: usize, now: DateTime<Utc>) -> Duty {
    let kinds = [
        DutyKind::Reply,
        DutyKind::Deliver,
        DutyKind::ReviewEntry,
        DutyKind::UpdateCatalog,
        DutyKind::ApproveApplication,
    ];
    let kind = kinds[i % kinds.len()];
    let roles = [Role::Clerk, Role::WorkUnitHead, Role::AuthorityReviewer];
    let started_at = now - chrono::Duration::minutes(rng.gen_range(0..60 * 24 * 60));
    let timed = rng.gen_range(0..10) != 0;
    let due_at = timed.then(|| now + chrono::Duration::minutes(rng.gen_range(-60 * 24 * 30..60 * 24 * 60)));
    let open = rng.gen_range(0..10) < 7;
    let subject_id = uuid::Uuid::from_u128(u128::from(i as u64) << 64 | 0xd);
    Duty {
        key: format!("bench:{subject_id}:{}:0", kind.code()),
        kind,
        subject_kind: SubjectKind::Application,
        subject_id,
        title: "居民户籍信息".into(),
        owner: OrgId(uuid::Uuid::from_u128(rng.gen_range(1..=ORGS))),
        role: roles[rng.gen_range(0..roles.len())],
        counterpart: Some(OrgId(uuid::Uuid::from_u128(rng.gen_range(1..=ORGS)))),
        started_at,
        days: timed.then_some(10),
        due_at,
        closed_at: (!open).then_some(started_at + chrono::Duration::hours(1)),
        met: !open,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn run_on<D: Dialect>(args: &DeadlineBenchArgs, store: &SqlStore<D>) -> anyhow::Result<()> {
    let now = Utc::now();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let started = Instant::now();
    let audit = AuditEvent::new("system:bench", None, "duty.backfill", "duty_ledger", "bench", serde_json::json!({}));
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..args.duties {
        batch.push(duty(&mut rng, i, now));
        if batch.len() == 10_000 || i + 1 == args.duties {
            store.backfill_duties(&batch, &audit).await?;
            batch.clear();
        }
    }
    let written = started.elapsed();
    let calendar = WorkingCalendar::official();
    let today = now.with_timezone(&beijing()).date_naive();
    let horizon = end_of_day(calendar.add_working_days(today, 3)?.0);
    // What earlier sweeps (every 5 minutes) have done: overdue marked up to the last sweep, reminders sent for what
    // was in the window yesterday; today's new entrants (due on the window's last day) and what fell due since the
    // last sweep remain — the work of the first sweep of a day.
    let yesterdays_horizon = end_of_day(calendar.add_working_days(today, 2)?.0);
    let (overdue, reminded) = store.bench_steady_state(now - chrono::Duration::minutes(5), yesterdays_horizon).await?;
    println!(
        "wrote {} duties in {:.1} s ({:.0} rows/s); as earlier sweeps left them: {overdue} marked overdue, {reminded} reminded",
        args.duties,
        written.as_secs_f64(),
        args.duties as f64 / written.as_secs_f64()
    );
    let party = OrgId(uuid::Uuid::from_u128(ORGS / 2));
    let filter = DutyFilter {
        owner: Some(party),
        roles: Some(vec![Role::Clerk]),
        open: Some(true),
        subject: None,
        started_by: None,
    };
    let (mut sweep, mut sweep_base, mut list, mut list_base) = (vec![], vec![], vec![], vec![]);
    let (mut found, mut counted, mut listed, mut party_open) = (0, 0, 0, 0);
    for _ in 0..args.rounds {
        let t = Instant::now();
        counted = store.bench_due_count(now, horizon).await?;
        sweep_base.push(t.elapsed());

        let t = Instant::now();
        found = 0;
        for (sent, due_by) in [(None, horizon), (Some(AlertKind::Reminder), now)] {
            let mut after = None;
            loop {
                let page = store.due_duties(sent, due_by, after.clone(), 500).await?;
                found += page.len();
                after = page.last().and_then(|d| d.due_at.map(|due| (due, d.key.clone())));
                if page.len() < 500 {
                    break;
                }
            }
        }
        sweep.push(t.elapsed());

        let t = Instant::now();
        party_open = store.count_duties(&filter).await?;
        list_base.push(t.elapsed());

        let t = Instant::now();
        listed = store.duties(&filter, 500).await?.len();
        list.push(t.elapsed());
    }
    println!();
    println!("{} duties, {} rounds; medians", args.duties, args.rounds);
    println!("| query | rows | time | baseline (bare indexed count) | ratio |");
    println!("|---|---|---|---|---|");
    let (s, sb, l, lb) = (median(sweep), median(sweep_base), median(list), median(list_base));
    println!(
        "| sweep: duties that may need an alert now | {found} (count {counted}) | {} | {} | {:.1}× |",
        ms(s),
        ms(sb),
        s.as_secs_f64() / sb.as_secs_f64().max(1e-9)
    );
    println!(
        "| one party's to-do list | {listed} of {party_open} | {} | {} | {:.1}× |",
        ms(l),
        ms(lb),
        l.as_secs_f64() / lb.as_secs_f64().max(1e-9)
    );
    println!();
    println!(
        "goals: sweep < 1 s ({}), to-do list < 10 ms ({})",
        if s < Duration::from_secs(1) { "met" } else { "NOT met" },
        if l < Duration::from_millis(10) { "met" } else { "NOT met" }
    );
    Ok(())
}
