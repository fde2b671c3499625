//! `govshare bench supervision`: the region dashboard over a province's history (the supervision issue's
//! benchmark).
//!
//! On a fresh database (a temporary SQLite file, or a temporary PostgreSQL database dropped afterwards) migrated by
//! the product's own code path, it writes with bulk SQL (one `INSERT … SELECT` per chunk; no use case, no audit
//! record) the history of a province:
//!
//! - the regions: the province 330000, its 11 cities (330100 … 331100) and 8 counties in each (330102 …);
//! - one authority per region and N departments (default 1,000): about 6 % at the province, 40 % in the cities,
//!   the rest in the counties;
//! - the duty ledger: M duties (default 1,000,000 on PostgreSQL, 100,000 on SQLite) started uniformly over the
//!   last Y years (default 3), each due 14 days after it started (10 working days), of the kinds the indicators
//!   count (reply, deliver, record_use, update_catalog, answer_correction, dispose, handle_complaint,
//!   coordinate_dispute), owned mostly by the province's departments (the owner is the lower of two uniform
//!   draws); 2 % cut short, 9.7 % met after their due time (closed 1 hour to 20 days late, still open when that
//!   is in the future), 0.3 % never closed, the rest met in time (still open, and pending, when that is in the
//!   future); open duties past due are marked overdue as the sweep would have;
//! - the usage roll-up `usage_daily` for every Beijing day of those years, standing for A accesses (default
//!   10,000,000 on PostgreSQL, 1,000,000 on SQLite): A / 2,500 (requester, provider, entry, grant) groups, the
//!   providers skewed towards the province's departments, each active on 10–100 % of the working days and a
//!   sixth as often on rest days, with a heavy-tailed number of accesses a day; 2 % of the groups are calls
//!   without a grant (all refused), 20 % are batch reads of 10–500 rows an access.
//!
//! The pseudo-random choices are a hash of the row number written in SQL (integer arithmetic both backends
//! compute alike), so the same arguments build the same history on either backend. PostgreSQL is then analysed
//! (as autovacuum would after such a load); SQLite is left as the product leaves it.
//!
//! It then times, warm (each read run a few times first), in alternating rounds: (a) the baseline — the cheapest
//! reads any such dashboard must do: one `COUNT(*)` of the duties due in the period and one `SUM(accesses)` of the
//! roll-up over its days, through the same pool; (b) `Services::dashboard` for the province and (c) for one city;
//! (d) `Services::org_indicators` for the busiest department. The period is the current quarter. It prints
//! medians, p99 and the ratios to the baseline, and checks that the dashboard's totals agree with the baseline's;
//! then each store read the dashboard makes, timed alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::calendar::WorkingCalendar;
use govshare_domain::duty::DutyKind;
use govshare_domain::org::OrgId;
use govshare_domain::principal::Principal;
use govshare_domain::region::RegionCode;
use govshare_domain::supervision::{ACT_KINDS, Period, beijing_day, late_duty_kinds};
use govshare_service::Services;
use govshare_store::{DynStore, Store, UsageBy};
use govshare_store_sql::driver::{Reader, Tx, values};
use govshare_store_sql::{Dialect, SqlStore, sql};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::bench_data::{BenchBackend, BenchDatabase};

#[derive(Debug, Clone, clap::Args)]
pub struct SupervisionBenchArgs {
    #[command(flatten)]
    pub db: BenchDatabase,
    /// Departments (besides the one authority of each region).
    #[arg(long, default_value_t = 1_000)]
    pub departments: usize,
    /// Duties in the ledger [default: 1,000,000 on PostgreSQL, 100,000 on SQLite].
    #[arg(long)]
    pub duties: Option<usize>,
    /// Accesses the usage roll-up stands for [default: 10,000,000 on PostgreSQL, 1,000,000 on SQLite].
    #[arg(long)]
    pub accesses: Option<u64>,
    /// Years of history.
    #[arg(long, default_value_t = 3)]
    pub years: u32,
    /// Untimed runs of each read before the rounds.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    #[arg(long, default_value_t = 809)]
    pub seed: u64,
    /// Leave the temporary database in place afterwards (its URL is printed), to look at the plans.
    #[arg(long)]
    pub keep_database: bool,
}

const CITIES: [&str; 11] =
    ["杭州市", "宁波市", "温州市", "嘉兴市", "湖州市", "绍兴市", "金华市", "衢州市", "舟山市", "台州市", "丽水市"];
/// The last two digits of the counties of each city (districts, counties, county-level cities).
const COUNTIES: [(u32, &str); 8] = [
    (2, "上城区"),
    (3, "中城区"),
    (4, "下城区"),
    (5, "东湖区"),
    (6, "西湖区"),
    (21, "南山县"),
    (22, "北江县"),
    (81, "临江市"),
];
const BUREAUS: [&str; 40] = [
    "公安局",
    "民政局",
    "人力资源和社会保障局",
    "自然资源和规划局",
    "市场监督管理局",
    "卫生健康委员会",
    "医疗保障局",
    "住房和城乡建设局",
    "教育局",
    "税务局",
    "交通运输局",
    "生态环境局",
    "农业农村局",
    "水利局",
    "商务局",
    "财政局",
    "司法局",
    "发展和改革委员会",
    "经济和信息化局",
    "科学技术局",
    "文化广电旅游局",
    "退役军人事务局",
    "应急管理局",
    "审计局",
    "统计局",
    "林业局",
    "体育局",
    "人民防空办公室",
    "信访局",
    "档案局",
    "民族宗教事务局",
    "机关事务管理局",
    "综合行政执法局",
    "粮食和物资储备局",
    "住房公积金管理中心",
    "不动产登记中心",
    "残疾人联合会",
    "气象局",
    "邮政管理局",
    "消防救援支队",
];

/// Duty kinds by weight (percent), with their subject, their owner's role and a title.
type Kind = (DutyKind, u32, &'static str, &'static str, &'static str);
const KINDS: [Kind; 8] = [
    (DutyKind::Reply, 22, "application", "clerk", "居民户籍信息共享申请"),
    (DutyKind::Deliver, 20, "application", "clerk", "不动产登记信息共享申请"),
    (DutyKind::RecordUse, 15, "grant", "clerk", "社会保险参保信息使用记录"),
    (DutyKind::UpdateCatalog, 10, "obligation", "clerk", "市场主体登记信息目录更新"),
    (DutyKind::AnswerCorrection, 10, "correction", "clerk", "婚姻登记信息校核"),
    (DutyKind::Dispose, 9, "grant", "clerk", "低保对象信息处置确认"),
    (DutyKind::HandleComplaint, 8, "complaint", "clerk", "共享服务投诉"),
    (DutyKind::CoordinateDispute, 6, "dispute", "authority_reviewer", "数据共享争议"),
];

/// The uuid markers (the third group of the hyphenated form) of generated ids.
const ORG: u16 = 0x0001;
const SUBJECT: u16 = 0x000d;
const ENTRY: u16 = 0x000e;
const GRANT: u16 = 0x000a;
const DAY: i64 = 86_400;
/// Rows per duty statement and days per usage statement: each statement well under the second after which sqlx
/// logs it as slow (with its whole text).
const DUTY_CHUNK: u64 = 25_000;
const DAY_CHUNK: usize = 10;

fn id(marker: u16, n: u64) -> uuid::Uuid {
    uuid::Uuid::from_u128(u128::from(marker) << 64 | u128::from(n))
}

/// The SQL that differs between the backends: row sources, generated ids, instants, scratch column types.
#[derive(Debug, Clone, Copy)]
struct Fragments(BenchBackend);

impl Fragments {
    /// A CTE `s(i)` of the integers `lo..hi`.
    fn series(self, lo: u64, hi: u64) -> String {
        match self.0 {
            BenchBackend::Postgres => format!("s(i) AS (SELECT generate_series(CAST({lo} AS BIGINT), {}))", hi - 1),
            BenchBackend::Sqlite => {
                format!("RECURSIVE s(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM s WHERE i < {})", hi - 1)
            }
        }
    }

    /// The id [`id`]`(marker, expr)`.
    fn id(self, marker: u16, expr: &str) -> String {
        match self.0 {
            BenchBackend::Postgres => {
                format!("CAST('00000000-0000-{marker:04x}-0000-' || lpad(to_hex({expr}), 12, '0') AS UUID)")
            }
            BenchBackend::Sqlite => format!("printf('00000000-0000-{marker:04x}-0000-%012x', {expr})"),
        }
    }

    /// The instant `seconds` (an integer expression, NULL gives NULL) after the one bound at `param`.
    fn at(self, param: &str, seconds: &str) -> String {
        match self.0 {
            BenchBackend::Postgres => format!("({param} + ({seconds}) * INTERVAL '1 second')"),
            BenchBackend::Sqlite => format!("({param} + ({seconds}) * 1000000)"),
        }
    }

    /// Appended to a subquery so that it is computed once rather than pulled up into its users (whose references
    /// would each compute its hashes again).
    fn fence(self) -> &'static str {
        match self.0 {
            BenchBackend::Postgres => " OFFSET 0",
            BenchBackend::Sqlite => "",
        }
    }

    /// A write transaction for the bulk statements: on PostgreSQL without JIT compilation, which the long
    /// expressions would otherwise trigger at a cost of seconds a statement.
    async fn begin<D: Dialect>(self, dialect: &D) -> anyhow::Result<Tx<D>> {
        let mut tx = Tx::<D>(dialect.begin().await?);
        if self.0 == BenchBackend::Postgres {
            sql("SET LOCAL jit = off").execute(&mut tx).await?;
        }
        Ok(tx)
    }

    fn id_type(self) -> &'static str {
        match self.0 {
            BenchBackend::Postgres => "UUID",
            BenchBackend::Sqlite => "TEXT",
        }
    }

    fn date_type(self) -> &'static str {
        match self.0 {
            BenchBackend::Postgres => "DATE",
            BenchBackend::Sqlite => "TEXT",
        }
    }
}

/// A hash of the non-negative integer expression `x` (below about 10^9) into `0..2^31`, stream `k`: two rounds of
/// multiply-add modulo 2^31 and xor-shift, in integer arithmetic that never overflows 64 bits. SQLite has no xor:
/// `a ^ b = (a | b) - (a & b)`.
fn mix(x: &str, k: u64, seed: u64) -> String {
    const MULTIPLIERS: [u64; 8] = [
        1_540_483_477,
        1_103_515_245,
        1_664_525_111,
        1_812_433_253,
        1_597_334_677,
        1_291_467_739,
        1_431_655_765,
        1_367_130_551,
    ];
    let xor = |a: &str, b: &str| format!("(({a} | {b}) - ({a} & {b}))");
    let m = MULTIPLIERS[k as usize % MULTIPLIERS.len()];
    let add = 12_345 + (seed % 1_000_003) * 7 + k * 2_654_435;
    let a = format!("((({x}) * {m} + {add}) % 2147483648)");
    let b = xor(&a, &format!("({a} >> 15)"));
    let c = format!("(({b} * 1540483477 + 1013904223) % 2147483648)");
    xor(&c, &format!("({c} >> 13)"))
}

fn kind_case(column: &str) -> String {
    let mut out = String::from("CASE");
    let mut upto = 0;
    for (kind, weight, ..) in KINDS {
        upto += weight;
        out.push_str(&format!(" WHEN {column} < {upto} THEN '{}'", kind.code()));
    }
    out.push_str(" END");
    out
}

fn by_kind(column: &str, pick: impl Fn(&Kind) -> &'static str) -> String {
    let mut out = format!("CASE {column}");
    for k in &KINDS {
        out.push_str(&format!(" WHEN '{}' THEN '{}'", k.0.code(), pick(k)));
    }
    out.push_str(" END");
    out
}

struct Org {
    id: OrgId,
    authority: bool,
    region: u32,
    name: String,
}

/// What was built, for the timings.
struct History {
    regions: usize,
    orgs: Vec<Org>,
}

fn regions() -> Vec<(u32, String, Option<u32>)> {
    let mut out = vec![(330_000, "浙江省".to_owned(), None)];
    for (c, city) in CITIES.iter().enumerate() {
        let code = 330_000 + (c as u32 + 1) * 100;
        out.push((code, format!("浙江省{city}"), Some(330_000)));
        for (suffix, county) in COUNTIES {
            out.push((code + suffix, format!("浙江省{city}{county}"), Some(code)));
        }
    }
    out
}

/// One authority per region, then the departments: the province's first (they own most duties and provide most
/// data), then the cities', then the counties'.
fn organisations(regions: &[(u32, String, Option<u32>)], departments: usize) -> Vec<Org> {
    fn push(orgs: &mut Vec<Org>, authority: bool, region: u32, name: String) {
        let n = orgs.len() as u64 + 1;
        orgs.push(Org { id: OrgId(id(ORG, n)), authority, region, name });
    }
    let mut orgs = Vec::new();
    for (code, name, _) in regions {
        let title = if *code == 330_000 { "大数据发展管理局" } else { "数据资源管理局" };
        push(&mut orgs, true, *code, format!("{name}{title}"));
    }
    let province = departments * 56 / 1000;
    let per_city = departments * 36 / 1000;
    let counties = regions.iter().filter(|(code, ..)| code % 100 != 0).count();
    let rest = departments - province - per_city * CITIES.len();
    let mut per_region: Vec<(u32, &str, usize)> = Vec::new();
    let mut county = 0;
    for (code, name, _) in regions {
        let n = if *code == 330_000 {
            province
        } else if code % 100 == 0 {
            per_city
        } else {
            county += 1;
            rest / counties + usize::from(county <= rest % counties)
        };
        per_region.push((*code, name, n));
    }
    for (code, name, n) in per_region {
        for b in 0..n {
            let bureau = BUREAUS[b % BUREAUS.len()];
            let suffix = if b < BUREAUS.len() { String::new() } else { format!("（{}）", b / BUREAUS.len() + 1) };
            push(&mut orgs, false, code, format!("{name}{bureau}{suffix}"));
        }
    }
    orgs
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The nearest-rank 99th percentile (with fewer than 100 rounds, the slowest).
fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99).div_ceil(100).max(1) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub async fn run(args: SupervisionBenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, created) = args.db.create(dir.path(), "supervision.db").await?;
    println!("backend: {:?} ({})", args.db.backend, crate::config::redact_url(&url));
    let result = match args.db.backend {
        BenchBackend::Sqlite => run_with::<govshare_store_sqlite::SqliteDialect>(&args, &url).await,
        BenchBackend::Postgres => run_with::<govshare_store_postgres::PgDialect>(&args, &url).await,
    };
    if args.keep_database {
        println!("kept: {}", crate::config::redact_url(&url));
        std::mem::forget(dir);
    } else {
        args.db.drop(created).await?;
    }
    result
}

/// On the concrete store (for the bulk writes and the baseline) and, through the same pools, the services.
async fn run_with<D: Dialect>(args: &SupervisionBenchArgs, url: &str) -> anyhow::Result<()> {
    let store = Arc::new(SqlStore::<D>::connect(url).await?);
    store.migrate().await?;
    let history = build(args, &store).await?;
    let dyn_store: DynStore = store.clone();
    let services = Services::new(dyn_store, Default::default());
    time(args, &store, &services, &history).await
}

async fn build<D: Dialect>(args: &SupervisionBenchArgs, store: &SqlStore<D>) -> anyhow::Result<History> {
    let full = args.db.backend == BenchBackend::Postgres;
    let duties = args.duties.unwrap_or(if full { 1_000_000 } else { 100_000 });
    let accesses = args.accesses.unwrap_or(if full { 10_000_000 } else { 1_000_000 });
    anyhow::ensure!(args.departments >= 2, "--departments must be at least 2");
    anyhow::ensure!((1..=20).contains(&args.years), "--years must be 1 to 20");
    let f = Fragments(args.db.backend);
    let dialect = store.dialect();
    let now = Utc::now();
    let span = i64::from(args.years) * 365 * DAY;
    let t0 = now - chrono::Duration::seconds(span);
    let started = Instant::now();

    // Regions and organisations.
    let regions = regions();
    let orgs = organisations(&regions, args.departments);
    let authorities = regions.len();
    let mut tx = Tx::<D>(dialect.begin().await?);
    for chunk in regions.chunks(500) {
        let mut q = sql(format!("INSERT INTO regions (code, name, parent) VALUES {}", values(1, chunk.len(), 3)));
        for (code, name, parent) in chunk {
            q.push(format!("{code:06}")).push(name.clone()).push(parent.map(|p| format!("{p:06}")));
        }
        q.execute(&mut tx).await?;
    }
    let created = t0 - chrono::Duration::days(30);
    for chunk in orgs.chunks(500) {
        let mut q = sql(format!(
            "INSERT INTO organisations (id, kind, region, name, credit_code, work_unit_name, created_at) VALUES {}",
            values(1, chunk.len(), 7)
        ));
        for o in chunk {
            let n = (o.id.0.as_u128() & 0xffff_ffff) as u32;
            q.push(o.id.0).push(if o.authority { "authority" } else { "department" });
            q.push(format!("{:06}", o.region)).push(o.name.clone());
            q.push(crate::demo::government_credit_code(&format!("{:06}", o.region), n));
            q.push(if o.authority { "数据共享处" } else { "数据管理处" }).push(created);
        }
        q.execute(&mut tx).await?;
    }
    tx.commit().await?;

    let days: Vec<NaiveDate> = beijing_day(t0).iter_days().take_while(|d| *d <= beijing_day(now)).collect();
    let groups = (accesses / 2_500).max(20);
    let bar = indicatif::ProgressBar::new(duties as u64 + days.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {elapsed} (ETA {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );

    // The duty ledger, in chunks, each one INSERT … SELECT over a series.
    bar.set_message("duties");
    let (r, d) = (authorities as u64, args.departments as u64);
    let dept = |h: &str| f.id(ORG, &format!("{} + {h} % {d}", r + 1));
    let now_s = span;
    let seed = args.seed;
    let hashes: Vec<String> = (0..7).map(|k| format!("{} AS h{k}", mix("i", k, seed))).collect();
    let columns = "key, kind, subject_kind, subject_id, title, owner, role, counterpart, started_at, days, due_at, \
                   closed_at, met, alert";
    let mut lo = 0u64;
    let started_duties = Instant::now();
    while lo < duties as u64 {
        let hi = (lo + DUTY_CHUNK).min(duties as u64);
        let text = format!(
            "WITH {series}
             INSERT INTO duties ({columns})
             SELECT 'bench:' || i || ':' || kind, kind, {subject_kind}, {subject}, {title},
                    CASE WHEN kind = '{dispute}' THEN {authority} ELSE {owner} END,
                    {role},
                    CASE WHEN kind IN ('{catalog}', '{complaint}') THEN NULL ELSE {counterpart} END,
                    {started_at}, 10, {due_at}, {closed_at}, r >= 20,
                    CASE WHEN closed IS NULL AND due < {now_s} THEN 2 ELSE 0 END
             FROM (SELECT i, kind, h1, h2, h3, st, due, r,
                          CASE WHEN closed_raw > {now_s} THEN NULL ELSE closed_raw END AS closed
                   FROM (SELECT i, kind, h1, h2, h3, st, st + {due_after} AS due, r,
                                CASE WHEN r < 20 THEN st + h6 % {cut_within}
                                     WHEN r < 117 THEN st + {due_after} + 3600 + h6 % {late_within}
                                     WHEN r < 120 THEN NULL
                                     ELSE st + 600 + h6 % {met_within} END AS closed_raw
                         FROM (SELECT i, {kind} AS kind, h1, h2, h3, h4 % {span} AS st, h5 % 1000 AS r, h6
                               FROM (SELECT i, {hashes} FROM s{fence}) AS l1) AS l2) AS l3) AS l4",
            series = f.series(lo, hi),
            subject_kind = by_kind("kind", |k| k.2),
            subject = f.id(SUBJECT, "i"),
            title = by_kind("kind", |k| k.4),
            dispute = DutyKind::CoordinateDispute.code(),
            authority = f.id(ORG, &format!("1 + h1 % {r}")),
            owner = f.id(ORG, &format!("{} + CASE WHEN h1 % {d} < h2 % {d} THEN h1 % {d} ELSE h2 % {d} END", r + 1)),
            role = by_kind("kind", |k| k.3),
            catalog = DutyKind::UpdateCatalog.code(),
            complaint = DutyKind::HandleComplaint.code(),
            counterpart = dept("h3"),
            started_at = f.at("$1", "st"),
            due_at = f.at("$1", "due"),
            closed_at = f.at("$1", "closed"),
            due_after = 14 * DAY,
            cut_within = 5 * DAY,
            late_within = 20 * DAY,
            met_within = 14 * DAY - 1_200,
            kind = kind_case("h0 % 100"),
            hashes = hashes.join(", "),
            fence = f.fence(),
        );
        let mut tx = f.begin(dialect).await?;
        sql(text).bind(t0).execute(&mut tx).await.context("generating duties")?;
        tx.commit().await?;
        bar.inc(hi - lo);
        lo = hi;
    }
    let duties_took = started_duties.elapsed();

    // The usage roll-up: scratch tables of the groups and the days, then their product in chunks of days.
    bar.set_message("usage_daily");
    let started_usage = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x05a9e);
    let calendar = WorkingCalendar::official();
    let factors: Vec<u32> = days.iter().map(|d| if calendar.is_working_day(*d) { 100 } else { 16 }).collect();
    let day_weight: f64 = factors.iter().map(|f| f64::from(*f) / 100.0).sum();
    struct Group {
        requester: u64,
        provider: u64,
        entry: u64,
        activity: u32,
        weight: f64,
        rows_per: i64,
        nil: bool,
    }
    let mut list = Vec::new();
    for _ in 0..groups {
        // Providers: the cube of a uniform draw, so the province's departments provide most of the data.
        let provider = ((d as f64) * rng.r#gen::<f64>().powi(3)) as u64;
        let mut requester = rng.gen_range(0..d);
        if requester == provider {
            requester = (requester + 1) % d;
        }
        list.push(Group {
            requester,
            provider,
            entry: provider * 16 + rng.gen_range(0..6),
            activity: rng.gen_range(10..=100),
            weight: 1.0 / rng.gen_range(0.0016f64..1.0).powf(0.7),
            rows_per: if rng.gen_range(0..5) == 0 { rng.gen_range(10..=500) } else { 1 },
            nil: rng.gen_range(0..50) == 0,
        });
    }
    // Scale the weights into each group's mean accesses on an active day (in hundredths) so that the expected total
    // is the accesses asked for; an active day has 1 + (hash % (2 m)) / 100 accesses, m/100 + 1 on average.
    let active_days: f64 = list.iter().map(|g| f64::from(g.activity) / 100.0 * day_weight).sum();
    let weighted: f64 = list.iter().map(|g| f64::from(g.activity) / 100.0 * day_weight * g.weight).sum();
    let extra = (accesses as f64 - active_days).max(0.0) / weighted;
    let mut tx = Tx::<D>(dialect.begin().await?);
    sql(format!(
        "CREATE TABLE bench_usage_groups (g BIGINT NOT NULL, requester {id} NOT NULL, provider {id} NOT NULL,
             entry_id {id} NOT NULL, grant_id {id} NOT NULL, activity BIGINT NOT NULL, m BIGINT NOT NULL,
             rows_per BIGINT NOT NULL, nil BIGINT NOT NULL)",
        id = f.id_type()
    ))
    .execute(&mut tx)
    .await?;
    sql(format!(
        "CREATE TABLE bench_usage_days (n BIGINT NOT NULL, day {} NOT NULL, factor BIGINT NOT NULL)",
        f.date_type()
    ))
    .execute(&mut tx)
    .await?;
    for (c, chunk) in list.chunks(500).enumerate() {
        let mut q = sql(format!("INSERT INTO bench_usage_groups VALUES {}", values(1, chunk.len(), 9)));
        for (j, g) in chunk.iter().enumerate() {
            let n = (c * 500 + j) as u64;
            let m = ((g.weight * extra * 100.0 + 50.0).round() as i64).max(1);
            q.push(n as i64).push(id(ORG, r + 1 + g.requester)).push(id(ORG, r + 1 + g.provider));
            q.push(id(ENTRY, g.entry)).push(if g.nil { uuid::Uuid::nil() } else { id(GRANT, n + 1) });
            q.push(i64::from(g.activity)).push(m).push(g.rows_per).push(i64::from(g.nil));
        }
        q.execute(&mut tx).await?;
    }
    for (c, chunk) in days.chunks(500).enumerate() {
        let mut q = sql(format!("INSERT INTO bench_usage_days VALUES {}", values(1, chunk.len(), 3)));
        for (j, day) in chunk.iter().enumerate() {
            q.push((c * 500 + j) as i64).push(*day).push(i64::from(factors[c * 500 + j]));
        }
        q.execute(&mut tx).await?;
    }
    tx.commit().await?;
    let x = "(d.n * 100003 + g.g)";
    let mut lo = 0usize;
    while lo < days.len() {
        let hi = (lo + DAY_CHUNK).min(days.len());
        let text = format!(
            "INSERT INTO usage_daily (day, requester, provider, entry_id, grant_id, accesses, rows, refusals)
             SELECT day, requester, provider, entry_id, grant_id, acc,
                    CASE WHEN nil = 1 THEN 0 ELSE acc * rows_per END,
                    CASE WHEN nil = 1 THEN acc WHEN h3 % 25 = 0 THEN 1 ELSE 0 END
             FROM (SELECT day, requester, provider, entry_id, grant_id, nil, rows_per, 1 + (h2 % (2 * m)) / 100 AS acc, h3
                   FROM (SELECT d.day, d.factor, g.requester, g.provider, g.entry_id, g.grant_id, g.activity, g.m,
                                g.rows_per, g.nil, {h1} AS h1, {h2} AS h2, {h3} AS h3
                         FROM bench_usage_days d CROSS JOIN bench_usage_groups g
                         WHERE d.n >= {lo} AND d.n < {hi}{fence}) AS a
                   WHERE h1 % 10000 < activity * factor) AS b",
            h1 = mix(x, 0, seed),
            h2 = mix(x, 1, seed),
            h3 = mix(x, 2, seed),
            fence = f.fence(),
        );
        let mut tx = f.begin(dialect).await?;
        sql(text).execute(&mut tx).await.context("generating the usage roll-up")?;
        tx.commit().await?;
        bar.inc((hi - lo) as u64);
        lo = hi;
    }
    let mut tx = Tx::<D>(dialect.begin().await?);
    sql("DROP TABLE bench_usage_groups").execute(&mut tx).await?;
    sql("DROP TABLE bench_usage_days").execute(&mut tx).await?;
    tx.commit().await?;
    let usage_took = started_usage.elapsed();
    bar.finish_and_clear();
    let analysed = if args.db.backend == BenchBackend::Postgres {
        let t = Instant::now();
        // What autovacuum does to a table that has grown by inserts: statistics, and the visibility map that lets
        // a count be answered from an index alone.
        sql("VACUUM ANALYZE").execute(&mut Reader::new(dialect)).await?;
        format!("; VACUUM ANALYZE {:.1} s", t.elapsed().as_secs_f64())
    } else {
        // What the node does at start-up and each pooled connection when it is retired (govshare_store_sqlite).
        let t = Instant::now();
        sql("PRAGMA optimize=0x10002").execute(&mut Reader::new(dialect)).await?;
        format!("; PRAGMA optimize {:.1} s", t.elapsed().as_secs_f64())
    };
    let took = started.elapsed();

    // What was built.
    let mut reader = Reader::new(dialect);
    let (n, on_time, late_met, overdue, pending, cut): (i64, i64, i64, i64, i64, i64) = sql("SELECT COUNT(*),
             SUM(CASE WHEN closed_at IS NOT NULL AND met AND closed_at <= due_at THEN 1 ELSE 0 END),
             SUM(CASE WHEN closed_at IS NOT NULL AND met AND closed_at > due_at THEN 1 ELSE 0 END),
             SUM(CASE WHEN closed_at IS NULL AND due_at < $1 THEN 1 ELSE 0 END),
             SUM(CASE WHEN closed_at IS NULL AND due_at >= $1 THEN 1 ELSE 0 END),
             SUM(CASE WHEN closed_at IS NOT NULL AND NOT met THEN 1 ELSE 0 END)
         FROM duties")
    .bind(now)
    .one(&mut reader)
    .await?;
    let (rows, total, delivered, refused, first, last): (i64, i64, i64, i64, NaiveDate, NaiveDate) =
        sql("SELECT COUNT(*), CAST(SUM(accesses) AS BIGINT), CAST(SUM(rows) AS BIGINT), CAST(SUM(refusals) AS BIGINT),
             MIN(day), MAX(day)
         FROM usage_daily")
        .one(&mut reader)
        .await?;
    drop(reader);
    let pct = |k: i64| 100.0 * k as f64 / n.max(1) as f64;
    println!(
        "built in {:.1} s (duties {:.1} s, usage roll-up {:.1} s{analysed}):",
        took.as_secs_f64(),
        duties_took.as_secs_f64(),
        usage_took.as_secs_f64()
    );
    println!(
        "  {} regions (330000, {} cities, {} counties); {} organisations: {authorities} authorities, {} departments",
        regions.len(),
        CITIES.len(),
        regions.len() - 1 - CITIES.len(),
        orgs.len(),
        args.departments
    );
    println!(
        "  {} duties over {} years, due 14 days after they started: {:.1} % on time, {:.1} % met late, {:.2} % open \
         past due, {:.1} % open not yet due, {:.1} % cut short",
        thousands(n as u64),
        args.years,
        pct(on_time),
        pct(late_met),
        pct(overdue),
        pct(pending),
        pct(cut)
    );
    println!(
        "  usage_daily: {} rows ({first} … {last}, {} days, {groups} requester/provider/entry/grant groups) standing \
         for {} accesses ({:.0} a day), {} rows delivered, {} refusals (no raw usage_records written)",
        thousands(rows as u64),
        days.len(),
        thousands(total as u64),
        total as f64 / days.len() as f64,
        thousands(delivered as u64),
        thousands(refused as u64)
    );
    Ok(History { regions: regions.len(), orgs })
}

async fn baseline<D: Dialect>(store: &SqlStore<D>, period: &Period) -> anyhow::Result<(i64, i64)> {
    let mut r = Reader::new(store.dialect());
    let (due,): (i64,) = sql("SELECT COUNT(*) FROM duties WHERE due_at >= $1 AND due_at < $2")
        .binds((period.start(), period.end()))
        .one(&mut r)
        .await?;
    let (accesses,): (Option<i64>,) =
        sql("SELECT CAST(SUM(accesses) AS BIGINT) FROM usage_daily WHERE day >= $1 AND day <= $2")
            .binds((period.from, period.to))
            .one(&mut r)
            .await?;
    Ok((due, accesses.unwrap_or(0)))
}

async fn time<D: Dialect>(
    args: &SupervisionBenchArgs,
    store: &SqlStore<D>,
    services: &Services,
    history: &History,
) -> anyhow::Result<()> {
    let principal = Principal::operator("bench");
    let now: DateTime<Utc> = Utc::now();
    let period = Period::quarter_of(beijing_day(now));
    let province = RegionCode::parse("330000").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let city = RegionCode::parse("330100").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // The province's first department: the busiest owner of duties by construction.
    let department = history.orgs.iter().find(|o| !o.authority).context("a department")?;
    for _ in 0..args.warmup {
        baseline(store, &period).await?;
        services.dashboard(&principal, province, period).await?;
        services.dashboard(&principal, city, period).await?;
        services.org_indicators(&principal, department.id, period).await?;
    }
    let (mut base, mut dash, mut city_dash, mut sheet) = (vec![], vec![], vec![], vec![]);
    let (mut counted, mut last_dash, mut last_city, mut last_sheet) = (None, None, None, None);
    for _ in 0..args.rounds.max(1) {
        let t = Instant::now();
        counted = Some(baseline(store, &period).await?);
        base.push(t.elapsed());

        let t = Instant::now();
        last_dash = Some(services.dashboard(&principal, province, period).await?);
        dash.push(t.elapsed());

        let t = Instant::now();
        last_city = Some(services.dashboard(&principal, city, period).await?);
        city_dash.push(t.elapsed());

        let t = Instant::now();
        last_sheet = Some(services.org_indicators(&principal, department.id, period).await?);
        sheet.push(t.elapsed());
    }
    let ((due, accesses), dash_v, city_v, sheet_v) = (
        counted.expect("one round"),
        last_dash.expect("one round"),
        last_city.expect("one round"),
        last_sheet.expect("one round"),
    );
    println!();
    println!(
        "period {} … {} (the current quarter), {} warm-up runs, {} rounds; {} regions, {} organisations",
        period.from,
        period.to,
        args.warmup,
        args.rounds.max(1),
        history.regions,
        history.orgs.len()
    );
    println!("| read | what it returned | median | p99 | median / baseline |");
    println!("|---|---|---|---|---|");
    let b = median(base.clone());
    let row = |name: &str, what: String, v: Vec<Duration>| {
        let m = median(v.clone());
        println!(
            "| {name} | {what} | {} | {} | {:.1}× |",
            ms(m),
            ms(p99(v)),
            m.as_secs_f64() / b.as_secs_f64().max(1e-9)
        );
        m
    };
    row(
        "baseline: COUNT(*) of duties due in the period + SUM(accesses) of its days",
        format!("{} duties, {} accesses", thousands(due as u64), thousands(accesses as u64)),
        base,
    );
    let describe = |d: &govshare_service::Dashboard| {
        format!(
            "{} organisations, {} duties due ({} late, rate {}), {} accesses, {} violations, {} subregions",
            d.departments.len(),
            thousands(d.overall.tally.due()),
            thousands(d.overall.tally.late),
            d.overall.rate.map_or("—".into(), |r| format!("{:.1} %", r * 100.0)),
            thousands(d.usage.accesses),
            d.violations.len(),
            d.subregions.len()
        )
    };
    let dm = row("province dashboard (330000)", describe(&dash_v), dash);
    row("city dashboard (330100)", describe(&city_v), city_dash);
    let s = &sheet_v.row;
    row(
        &format!("one department's indicators ({})", department.name),
        format!(
            "{} duties due ({} late), {} accesses as requester, {} as provider, {} entries, {} grants, {} violations",
            thousands(s.overall.tally.due()),
            thousands(s.overall.tally.late),
            thousands(s.as_requester.accesses),
            thousands(s.as_provider.accesses),
            sheet_v.usage_by_entry.len(),
            sheet_v.usage_by_grant.len(),
            sheet_v.violations.len()
        ),
        sheet,
    );
    println!();
    let agree = dash_v.overall.tally.due() == due as u64 && dash_v.usage.accesses == accesses as u64;
    println!(
        "check: the province dashboard's totals {} the baseline's ({} duties due, {} accesses)",
        if agree { "agree with" } else { "DISAGREE with" },
        thousands(dash_v.overall.tally.due()),
        thousands(dash_v.usage.accesses)
    );
    println!(
        "goal: province dashboard < 200 ms warm ({})",
        if dm < Duration::from_millis(200) { "met" } else { "NOT met" }
    );
    breakdown(args, store, services, &period, history, department.id).await
}

/// Where the time goes: each store read the province dashboard makes (and the two per-department reads of the
/// indicators that scan the period), timed alone, medians over the same rounds.
async fn breakdown<D: Dialect>(
    args: &SupervisionBenchArgs,
    store: &SqlStore<D>,
    services: &Services,
    period: &Period,
    history: &History,
    department: OrgId,
) -> anyhow::Result<()> {
    let ids: Vec<OrgId> = history.orgs.iter().map(|o| o.id).collect();
    let one = [department];
    let kinds = late_duty_kinds();
    let (from, to, start, end) = (period.from, period.to, period.start(), period.end());
    let names = [
        "list_regions",
        "list_orgs",
        "duty_tallies (all organisations)",
        "usage_totals by requester",
        "usage_totals by provider",
        "usage_totals by day",
        "late_duties (limit 1000)",
        "act_duties (limit 1000)",
        "calendar",
        "list_orders",
        "overdue_changes",
        "list_corrections (all)",
        "department: duty_tallies",
        "department: usage_totals by entry",
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    let mut sizes = vec![0usize; names.len()];
    for _ in 0..args.rounds.max(1) {
        let now = Utc::now();
        for (k, took) in times.iter_mut().enumerate() {
            let t = Instant::now();
            sizes[k] = match k {
                0 => store.list_regions().await?.len(),
                1 => store.list_orgs().await?.len(),
                2 => store.duty_tallies(Some(&ids), start, end, now).await?.len(),
                3 => store.usage_totals(Some(&ids), from, to, UsageBy::Requester).await?.len(),
                4 => store.usage_totals(Some(&ids), from, to, UsageBy::Provider).await?.len(),
                5 => store.usage_totals(Some(&ids), from, to, UsageBy::Day).await?.len(),
                6 => store.late_duties(Some(&ids), &kinds, start, end, now, 1000).await?.len(),
                7 => store.act_duties(Some(&ids), &ACT_KINDS, start, end, 1000).await?.len(),
                8 => services.calendar().await?.years().count(),
                9 => store.list_orders(None).await?.len(),
                10 => {
                    let c = store.overdue_changes(Some(&ids), start, end, now).await?;
                    c.became.len() + c.ended.len()
                }
                11 => store.list_corrections(None, None).await?.len(),
                12 => store.duty_tallies(Some(&one), start, end, now).await?.len(),
                _ => store.usage_totals(Some(&one), from, to, UsageBy::Entry).await?.len(),
            };
            took.push(t.elapsed());
        }
    }
    println!();
    println!("the store reads behind them, each timed alone ({} rounds):", args.rounds.max(1));
    println!("| read | rows | median | p99 |");
    println!("|---|---|---|---|");
    let mut sum = Duration::ZERO;
    for ((name, v), n) in names.iter().zip(times).zip(sizes) {
        let m = median(v.clone());
        if !name.starts_with("department") {
            sum += m;
        }
        println!("| {name} | {n} | {} | {} |", ms(m), ms(p99(v)));
    }
    println!(
        "sum of the province dashboard's reads, each once: {} (the dashboard makes some of them more than once)",
        ms(sum)
    );
    Ok(())
}
