//! `govshare bench data`: the data plane under load (issue 5's benchmark).
//!
//! On a fresh database (a temporary SQLite file, or a temporary PostgreSQL database that is dropped afterwards)
//! it builds the demo province, publishes a population entry, loads N generated people (valid ID numbers,
//! SM4-encrypted at rest), takes an application through to a grant, issues an API credential, and serves the
//! platform on a loopback port. Then it drives the same record lookups, with the same concurrency, through
//! (a) the governed route — credential, grant check, projection, masking, usage record — and (b) a bare
//! baseline route in the same server that only reads and decodes the record. The phases alternate
//! (baseline, governed, baseline, governed …) so that drift of a noisy machine hits both; throughput and
//! latency are reported per phase and as medians, with the governed/baseline ratio.
//! Then (alone with `--bulk-only`) it times every way the whole table leaves — the paged feed, the streamed
//! export, the signed download — against the floor of reading the same rows and decrypting them (see [`bulk`]).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use govshare_domain::catalog::{DataItemInput, EntryInput};
use govshare_domain::grant::GrantInput;
use govshare_domain::principal::Principal;
use govshare_domain::record::{SourceInput, id_check_character};
use govshare_http::{AppState, HttpSettings};
use govshare_service::{AssessmentInput, LoadRequest, Services, StepInput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchBackend {
    Sqlite,
    Postgres,
}

/// Where a benchmark puts its own temporary database.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchDatabase {
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: BenchBackend,
    /// The PostgreSQL server to create the temporary database on.
    #[arg(long, env = "GOVSHARE_BENCH_POSTGRES_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
}

impl BenchDatabase {
    /// A fresh database's URL: a SQLite file `file` in `dir`, or a new PostgreSQL database (its name is returned,
    /// for [`drop`](Self::drop)).
    pub async fn create(&self, dir: &std::path::Path, file: &str) -> anyhow::Result<(String, Option<String>)> {
        match self.backend {
            BenchBackend::Sqlite => Ok((format!("sqlite://{}", dir.join(file).display()), None)),
            BenchBackend::Postgres => {
                let (url, name) = govshare_store_postgres::bench::create_database(&self.postgres_url)
                    .await
                    .with_context(|| format!("PostgreSQL at {}", crate::config::redact_url(&self.postgres_url)))?;
                Ok((url, Some(name)))
            }
        }
    }

    /// Drops the PostgreSQL database `create` made (nothing for SQLite: its directory goes away).
    pub async fn drop(&self, created: Option<String>) -> anyhow::Result<()> {
        if let Some(name) = created {
            govshare_store_postgres::bench::drop_database(&self.postgres_url, &name).await?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct DataBenchArgs {
    #[command(flatten)]
    pub db: BenchDatabase,
    #[arg(long, default_value_t = 1_000_000)]
    pub records: usize,
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Baseline/governed pairs.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    #[arg(long, default_value_t = 809)]
    pub seed: u64,
    /// Stop after the load (and, on PostgreSQL, its `COPY … FROM STDIN` baseline): for working on loads.
    #[arg(long)]
    pub load_only: bool,
    /// Skip the lookup phases: prepare, then time the bulk export and the file download only.
    #[arg(long)]
    pub bulk_only: bool,
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗",
    "高",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞",
    "平", "刚", "桂英", "建华", "晓东",
];
const DISTRICTS: &[(&str, &str)] = &[
    ("330102", "浙江省杭州市上城区"),
    ("330105", "浙江省杭州市拱墅区"),
    ("330106", "浙江省杭州市西湖区"),
    ("330108", "浙江省杭州市滨江区"),
    ("330203", "浙江省宁波市海曙区"),
    ("330212", "浙江省宁波市鄞州区"),
    ("330302", "浙江省温州市鹿城区"),
    ("330402", "浙江省嘉兴市南湖区"),
    ("330502", "浙江省湖州市吴兴区"),
    ("330602", "浙江省绍兴市越城区"),
];
const STREETS: &[&str] = &["文三路", "天目山路", "解放路", "中山路", "人民路", "延安路", "建设路", "江南大道"];

/// The n-th generated person's ID number: region, birth date, sequence, GB 11643 check character. Distinct for
/// every n below 10 million.
pub(crate) fn id_number(n: usize) -> String {
    let (region, _) = DISTRICTS[n % DISTRICTS.len()];
    let day = 1 + (n / DISTRICTS.len()) % 28;
    let month = 1 + (n / (DISTRICTS.len() * 28)) % 12;
    let year = 1950 + (n / (DISTRICTS.len() * 28 * 12)) % 60;
    let seq = (n / (DISTRICTS.len() * 28 * 12 * 60)) % 1000;
    let body = format!("{region}{year:04}{month:02}{day:02}{seq:03}");
    format!("{body}{}", id_check_character(body.as_bytes()))
}

pub(crate) fn write_people(path: &std::path::Path, n: usize, rng: &mut StdRng) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "xm,sfzh,xb,csrq,sjhm,hjdz,xzqh")?;
    for i in 0..n {
        let (region, place) = DISTRICTS[i % DISTRICTS.len()];
        let id = id_number(i);
        let name = format!("{}{}", SURNAMES[rng.gen_range(0..SURNAMES.len())], GIVEN[rng.gen_range(0..GIVEN.len())]);
        let sex = if rng.gen_bool(0.5) { "男" } else { "女" };
        let birth = format!("{}-{}-{}", &id[6..10], &id[10..12], &id[12..14]);
        let phone = format!("1{}{:09}", [3, 5, 7, 8, 9][rng.gen_range(0..5)], rng.gen_range(0..1_000_000_000u64));
        let street = STREETS[rng.gen_range(0..STREETS.len())];
        writeln!(out, "{name},{id},{sex},{birth},{phone},{place}{street}{}号,{region}", rng.gen_range(1..999))?;
    }
    out.flush()?;
    Ok(())
}

fn people_entry(resource_code: &str) -> EntryInput {
    let item = |name: &str, code: &str, t: &str, len: Option<u32>, level: u8, pi: Option<&str>| DataItemInput {
        name: name.into(),
        code: code.into(),
        data_type: t.into(),
        length: len,
        grade_class: "一般数据".into(),
        grade_level: level,
        personal_info: pi.map(Into::into),
        format: None,
    };
    EntryInput {
        name: "常住人口基本信息".into(),
        resource_code: resource_code.into(),
        summary: "全省常住人口的姓名、公民身份号码、性别、出生日期、联系电话和户籍地址".into(),
        format: "database".into(),
        items: vec![
            item("姓名", "xm", "string", Some(50), 2, Some("name")),
            item("公民身份号码", "sfzh", "string", Some(18), 3, Some("id_number")),
            item("性别", "xb", "string", Some(2), 1, None),
            item("出生日期", "csrq", "date", None, 2, None),
            item("联系电话", "sjhm", "string", Some(20), 3, Some("phone")),
            item("户籍地址", "hjdz", "string", Some(200), 3, Some("address")),
            item("行政区划代码", "xzqh", "string", Some(6), 1, None),
        ],
        update_frequency: "daily".into(),
        sharing_attribute: "conditional".into(),
        sharing_scope: "省级政府部门".into(),
        permitted_purposes: vec!["社会救助资格核查".into()],
        delivery_methods: vec!["service_api".into(), "bulk_exchange".into(), "file_download".into()],
        grade_class: "一般数据".into(),
        grade_level: 3,
        ..EntryInput::default()
    }
}

pub(crate) async fn principal(services: &Services, username: &str) -> anyhow::Result<Principal> {
    Ok(services.login(username, crate::demo::DEMO_PASSWORD, "seed", None).await?.principal)
}

/// 公安厅 publishes the population entry (clerk, assessments, head, authority) and binds a hosted source keyed by
/// 公民身份号码 and scoped by 行政区划代码. Needs the demo province.
pub(crate) async fn publish_people_entry(
    services: &Services,
    resource_code: &str,
) -> anyhow::Result<govshare_domain::catalog::EntryId> {
    let gat_clerk = principal(services, "gat.clerk").await?;
    let gat_head = principal(services, "gat.head").await?;
    let reviewer = principal(services, "reviewer").await?;
    let entry = services.create_entry(&gat_clerk, &people_entry(resource_code)).await?.id;
    let today = services.now().date_naive().to_string();
    for kind in ["confidentiality", "personal_info_impact"] {
        let input = AssessmentInput {
            kind: kind.into(),
            document_title: "常住人口信息共享评估报告".into(),
            document_ref: "浙公数评〔2026〕1号".into(),
            assessed_on: today.clone(),
            conclusion: "pass".into(),
        };
        services.attach_assessment(&gat_clerk, entry, &input).await?;
    }
    services.submit_entry(&gat_clerk, entry).await?;
    services.head_decide(&gat_head, entry, true, "").await?;
    services.review_entry(&reviewer, entry, true, "").await?;
    let source =
        SourceInput { kind: "hosted".into(), key_item: "sfzh".into(), scope_item: "xzqh".into(), url: String::new() };
    services.bind_source(&gat_clerk, entry, &source).await?;
    Ok(entry)
}

/// An application of `requester` (demo key, e.g. `mzt`) for the population entry by `delivery`: sent,
/// approved with conditions by 公安厅, and, when `grant` is given, granted.
pub(crate) async fn application(
    services: &Services,
    requester: &str,
    entry: govshare_domain::catalog::EntryId,
    delivery: &str,
    grant: Option<&GrantInput>,
) -> anyhow::Result<(govshare_domain::application::ApplicationId, Option<govshare_domain::grant::GrantId>)> {
    let clerk = principal(services, &format!("{requester}.clerk")).await?;
    let head = principal(services, &format!("{requester}.head")).await?;
    let today = services.now().date_naive();
    let request = govshare_domain::application::ApplicationInput {
        items: vec!["xm".into(), "sfzh".into(), "xb".into(), "sjhm".into(), "xzqh".into()],
        legal_basis: "《社会救助暂行办法》第十一条：县级人民政府民政部门对申请人的家庭收入、财产状况进行调查核实"
            .into(),
        basis_document: "国务院令第649号".into(),
        scenario: "社会救助资格核查".into(),
        scope: "社会救助处".into(),
        delivery: delivery.into(),
        valid_from: today.to_string(),
        valid_until: (today + chrono::Duration::days(300)).to_string(),
    };
    let app = services.create_application(&clerk, entry, &request, true).await?.application.id;
    services.application_step(&head, app, &StepInput::Send { note: String::new() }).await?;
    let Some(grant) = grant else { return Ok((app, None)) };
    let gat_clerk = principal(services, "gat.clerk").await?;
    let gat_head = principal(services, "gat.head").await?;
    let reply = govshare_domain::application::ReplyInput {
        decision: "approve".into(),
        conditions: "仅用于社会救助资格核查，不得向第三方提供".into(),
        ..Default::default()
    };
    services.application_step(&gat_clerk, app, &StepInput::DraftReply(reply)).await?;
    services.application_step(&gat_head, app, &StepInput::ApproveReply { note: "同意".into() }).await?;
    let id = services.create_grant(&gat_clerk, app, grant).await?.grant.id;
    Ok((app, Some(id)))
}

/// The terms the bench and the demo grant: names and phones masked, ID numbers hashed per grant.
pub(crate) fn standard_grant(rate_per_minute: u32, daily_rows: u64) -> GrantInput {
    GrantInput {
        items: [("xm", "mask"), ("sfzh", "hash"), ("xb", "keep"), ("sjhm", "mask"), ("xzqh", "keep")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        scope_item: "xzqh".into(),
        scope_prefixes: "33".into(),
        rate_per_minute: Some(rate_per_minute),
        daily_rows: Some(daily_rows),
        ..GrantInput::default()
    }
}

struct Fixture {
    grant: String,
    exchange_grant: String,
    download_grant: String,
    entry: String,
    api_key: String,
    keys: Vec<String>,
}

/// Seeds the demo province, publishes the people entry and loads the generated file into it, timed; on
/// PostgreSQL also times `COPY … FROM STDIN` of the same file into a bare table with the same key, the floor any
/// load pays. Returns the entry.
async fn load_people(
    services: &Services,
    args: &DataBenchArgs,
    dir: &std::path::Path,
    url: &str,
) -> anyhow::Result<govshare_domain::catalog::EntryId> {
    crate::demo::seed(services).await?;
    let gat_clerk = principal(services, "gat.clerk").await?;
    let entry = publish_people_entry(services, "330000-GAT-BENCH").await?;

    let mut rng = StdRng::seed_from_u64(args.seed);
    let file = dir.join("people.csv");
    let started = Instant::now();
    write_people(&file, args.records, &mut rng)?;
    println!("generated {} people in {:.1} s", args.records, started.elapsed().as_secs_f64());
    let request = LoadRequest {
        format: "csv".into(),
        mode: "replace".into(),
        accept_valid: false,
        file_name: "people.csv".into(),
    };
    let started = Instant::now();
    let report =
        crate::load_with_progress(services, &gat_clerk, entry, &file, &request, "loading (check, then load)").await?;
    let Some(load) = report.load else {
        bail!("the generated file did not load: {:?}", report.errors.first());
    };
    let took = started.elapsed().as_secs_f64();
    println!(
        "loaded {} records (SM4-encrypted) in {took:.1} s: {:.0} rows/s, checked and loaded in one transaction",
        load.counts.inserted,
        load.counts.inserted as f64 / took
    );
    if args.db.backend == BenchBackend::Postgres {
        let started = Instant::now();
        let copied = govshare_store_postgres::bench::copy_in_csv(url, &file).await?;
        let copy = started.elapsed().as_secs_f64();
        println!("\n| load of {} rows | time | rows/s |", args.records);
        println!("|---|---|---|");
        println!(
            "| govshare load: one pass — check, HMAC-SM3 key, SM3, SM4 seal, records (a first load replaces nothing: no change history) | {took:.1} s | \
             {:.0} |",
            load.counts.inserted as f64 / took
        );
        println!(
            "| PostgreSQL COPY … FROM STDIN (the same CSV, text columns, primary key) | {copy:.1} s | {:.0} |",
            copied as f64 / copy
        );
        println!("load / COPY: {:.2}", (load.counts.inserted as f64 / took) / (copied as f64 / copy));
    }
    Ok(entry)
}

async fn prepare(
    services: &Services,
    args: &DataBenchArgs,
    dir: &std::path::Path,
    url: &str,
) -> anyhow::Result<Fixture> {
    let entry = load_people(services, args, dir, url).await?;

    // The requester's applications (service API for lookups, bulk exchange for the export), approved and granted.
    let terms = standard_grant(1_000_000, 1_000_000_000);
    let mut grants = Vec::new();
    for delivery in ["service_api", "bulk_exchange", "file_download"] {
        let (_, grant) = application(services, "rst", entry, delivery, Some(&terms)).await?;
        grants.push(grant.context("granted")?.to_string());
    }
    let rst_head = principal(services, "rst.head").await?;
    let rst = rst_head.org_id().context("acting organisation")?;
    let issued = services.issue_credential(&rst_head, rst, "社会救助核对系统", 30).await?;
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let keys = (0..10_000).map(|_| id_number(rng.gen_range(0..args.records))).collect();
    Ok(Fixture {
        grant: grants[0].clone(),
        exchange_grant: grants[1].clone(),
        download_grant: grants[2].clone(),
        entry: entry.to_string(),
        api_key: issued.api_key,
        keys,
    })
}

#[derive(Debug, Clone)]
struct Phase {
    requests: u64,
    errors: u64,
    throughput: f64,
    p50: Duration,
    p99: Duration,
}

async fn drive(base: &str, paths: Arc<Vec<String>>, auth: Option<String>, connections: usize, seconds: u64) -> Phase {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("client");
        let (paths, auth, base) = (paths.clone(), auth.clone(), base.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut i = c * 7919;
            while Instant::now() < deadline {
                let path = &paths[i % paths.len()];
                i += 1;
                let mut req = client.get(format!("{base}{path}"));
                if let Some(key) = &auth {
                    req = req.header("authorization", format!("Bearer {key}"));
                }
                let t = Instant::now();
                match req.send().await {
                    Ok(resp) if resp.status().is_success() => {
                        let _ = resp.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("client task");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or_default()
    };
    Phase { requests: all.len() as u64, errors, throughput: all.len() as f64 / elapsed, p50: pct(0.50), p99: pct(0.99) }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub async fn run(args: DataBenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, created) = args.db.create(dir.path(), "bench.db").await?;
    let result = run_on(&args, &url, dir.path()).await;
    args.db.drop(created).await?;
    result
}

async fn run_on(args: &DataBenchArgs, url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    println!("backend: {:?} ({})", args.db.backend, crate::config::redact_url(url));
    let store = crate::open_store(url).await?;
    let services = Services::new(store, Default::default());
    if args.load_only {
        load_people(&services, args, dir, url).await?;
        return Ok(());
    }
    let fixture = prepare(&services, args, dir, url).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let settings = HttpSettings {
        cookie_secure: govshare_http::CookieSecure::Never,
        node_name: "bench".into(),
        bench_baseline: true,
        ..Default::default()
    };
    let state = AppState::new(services.clone(), settings);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(govshare_http::serve(listener, state, async move {
        let _ = stopped.await;
    }));

    if !args.bulk_only {
        lookups(args, &services, &fixture, &base).await;
    }
    bulk(&base, &fixture, &services, url, args.records).await?;
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}

/// The lookup phases: the governed route against the bare baseline, alternating.
async fn lookups(args: &DataBenchArgs, services: &Services, fixture: &Fixture, base: &str) {
    let governed: Arc<Vec<String>> =
        Arc::new(fixture.keys.iter().map(|k| format!("/api/v1/data/{}/records/{k}", fixture.grant)).collect());
    let baseline: Arc<Vec<String>> =
        Arc::new(fixture.keys.iter().map(|k| format!("/bench/baseline/{}/{k}", fixture.entry)).collect());
    // Warm up both routes (connections, caches, the usage log).
    drive(base, governed.clone(), Some(fixture.api_key.clone()), args.connections, 2).await;
    drive(base, baseline.clone(), None, args.connections, 2).await;
    let usage_before = services.usage_written();

    println!(
        "\n{} connections, {} s per phase, {} rounds; lookups of random keys among {} records\n",
        args.connections, args.seconds, args.rounds, args.records
    );
    println!("| phase | requests | errors | throughput | p50 | p99 |");
    println!("|---|---|---|---|---|---|");
    let (mut base_tp, mut gov_tp, mut base_p50, mut gov_p50, mut base_p99, mut gov_p99) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for round in 1..=args.rounds {
        for (name, paths, auth) in
            [("baseline", baseline.clone(), None), ("governed", governed.clone(), Some(fixture.api_key.clone()))]
        {
            let p = drive(base, paths, auth, args.connections, args.seconds).await;
            println!(
                "| {name} #{round} | {} | {} | {:.0} req/s | {} | {} |",
                p.requests,
                p.errors,
                p.throughput,
                ms(p.p50),
                ms(p.p99)
            );
            let (tp, p50, p99) = if name == "baseline" {
                (&mut base_tp, &mut base_p50, &mut base_p99)
            } else {
                (&mut gov_tp, &mut gov_p50, &mut gov_p99)
            };
            tp.push(p.throughput);
            p50.push(p.p50.as_secs_f64() * 1000.0);
            p99.push(p.p99.as_secs_f64() * 1000.0);
        }
    }
    let written = services.usage_written() - usage_before;
    let (bt, gt) = (median(base_tp), median(gov_tp));
    println!("\nmedians over {} rounds:", args.rounds);
    println!("| route | throughput | p50 | p99 |");
    println!("|---|---|---|---|");
    println!("| baseline (no governance) | {bt:.0} req/s | {:.2} ms | {:.2} ms |", median(base_p50), median(base_p99));
    println!("| governed | {gt:.0} req/s | {:.2} ms | {:.2} ms |", median(gov_p50), median(gov_p99));
    println!("governed / baseline throughput: {:.2}", gt / bt);
    println!("usage records written during the governed phases: {written}");
}

/// Bulk delivery of every row, each path timed against its floor in the same run: the paged feed and the streamed
/// export (governed, through HTTP: decrypt, mask, usage records) and the file download, against the store's own
/// fastest read of the same rows **plus** SM4-GCM decryption of each with the node's key in this process — what any
/// compliant system must pay (on PostgreSQL `COPY … TO STDOUT (FORMAT binary)`, on SQLite a plain `SELECT`). Each
/// path's peak resident memory is measured from a reset of the process's high-water mark (`/proc/self/clear_refs`).
async fn bulk(base: &str, fixture: &Fixture, services: &Services, url: &str, records: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let auth = format!("Bearer {}", fixture.api_key);
    let mut table: Vec<(&str, usize, f64, Option<u64>)> = Vec::new();

    eprintln!("{} timing the paged feed", chrono::Utc::now().format("%H:%M:%S"));
    let (started, before) = (Instant::now(), reset_peak_rss());
    let (mut cursor, mut paged) = (0i64, 0usize);
    loop {
        let resp = client
            .get(format!("{base}/api/v1/data/{}/changes?cursor={cursor}&limit=1000", fixture.exchange_grant))
            .header("authorization", &auth)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("bulk exchange failed: {}", resp.text().await?);
        }
        let page: serde_json::Value = resp.json().await?;
        paged += page["changes"].as_array().map_or(0, Vec::len);
        cursor = page["next_cursor"].as_i64().unwrap_or(cursor);
        if page["has_more"] != true {
            break;
        }
    }
    table.push((
        "paged feed, pages of 1,000 (HTTP, decrypt, mask, a usage record per page)",
        paged,
        started.elapsed().as_secs_f64(),
        peak_rss_since(before),
    ));

    eprintln!("{} timing the streamed export", chrono::Utc::now().format("%H:%M:%S"));
    let (started, before) = (Instant::now(), reset_peak_rss());
    let resp = client
        .get(format!("{base}/api/v1/data/{}/export", fixture.exchange_grant))
        .header("authorization", &auth)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("export failed: {}", resp.text().await?);
    }
    // Only the newlines are counted and the stream's last few KiB kept (the closing line).
    let (mut lines, mut tail) = (0usize, Vec::<u8>::new());
    let mut resp = resp;
    while let Some(chunk) = resp.chunk().await? {
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        tail.extend_from_slice(&chunk[chunk.len().saturating_sub(8192)..]);
        if tail.len() > 16384 {
            tail.drain(..tail.len() - 8192);
        }
    }
    let closing = tail.trim_ascii_end().rsplit(|b| *b == b'\n').next().unwrap_or_default();
    let trailer: serde_json::Value = serde_json::from_slice(closing)?;
    if trailer["complete"] != true {
        bail!("export did not complete: {trailer}");
    }
    let exported = lines - 2;
    table.push((
        "streamed export, one NDJSON stream (HTTP, decrypt, mask, a usage record per 5,000)",
        exported,
        started.elapsed().as_secs_f64(),
        peak_rss_since(before),
    ));

    eprintln!("{} timing the download", chrono::Utc::now().format("%H:%M:%S"));
    let (started, before) = (Instant::now(), reset_peak_rss());
    let resp = client
        .get(format!("{base}/api/v1/data/{}/download?format=csv", fixture.download_grant))
        .header("authorization", &auth)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("download failed: {}", resp.text().await?);
    }
    let mut bytes = 0usize;
    let mut resp = resp;
    while let Some(chunk) = resp.chunk().await? {
        bytes += chunk.len();
    }
    table.push((
        "signed CSV download, spooled then streamed (ZIP of the CSV, SM3, SM2 manifest)",
        exported,
        started.elapsed().as_secs_f64(),
        peak_rss_since(before),
    ));

    let entry = govshare_domain::catalog::EntryId(fixture.entry.parse()?);
    let keys = services.node_keys();
    eprintln!("{} timing the floor", chrono::Utc::now().format("%H:%M:%S"));
    let (started, before) = (Instant::now(), reset_peak_rss());
    let mut opened = 0usize;
    let read = |payload: &[u8]| {
        if keys.decrypt(payload).is_some() {
            opened += 1;
        }
    };
    let floor_name = if url.starts_with("postgres") {
        govshare_store_postgres::bench::copy_out_payloads(url, entry, read).await?;
        "floor: COPY … TO STDOUT (FORMAT binary) + SM4-GCM decryption of each row"
    } else {
        govshare_store_sqlite::bench::select_payloads(url, entry, read).await?;
        "floor: SELECT of the payloads + SM4-GCM decryption of each row"
    };
    let floor = (opened as f64) / started.elapsed().as_secs_f64();
    table.push((floor_name, opened, started.elapsed().as_secs_f64(), peak_rss_since(before)));
    if url.starts_with("postgres") {
        let started = Instant::now();
        let copied = govshare_store_postgres::bench::copy_out_records(url, entry).await?;
        table.push((
            "COPY … TO STDOUT alone (ciphertext, no decryption)",
            copied,
            started.elapsed().as_secs_f64(),
            None,
        ));
    }

    println!("\nbulk delivery of {records} records ({bytes} bytes of ZIP downloaded):");
    println!("| path | rows | time | rows/s | of floor | peak RSS growth |");
    println!("|---|---|---|---|---|---|");
    for (name, rows, secs, peak) in table {
        let rate = rows as f64 / secs;
        let peak = peak.map_or("–".to_owned(), |p| format!("{:.0} MiB", p as f64 / (1 << 20) as f64));
        println!("| {name} | {rows} | {secs:.1} s | {rate:.0} | {:.2} | {peak} |", rate / floor);
    }
    Ok(())
}

/// Resets the process's peak resident memory to its current size (Linux); returns the current size.
fn reset_peak_rss() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status_bytes("VmRSS:")
}

/// How far the peak resident memory rose above `before` since the reset.
fn peak_rss_since(before: Option<u64>) -> Option<u64> {
    Some(status_bytes("VmHWM:")?.saturating_sub(before?))
}

fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}
