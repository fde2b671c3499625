//! `govshare bench federation`: the catalog's flow up the national system (issue 18's benchmark).
//!
//! Three nodes in this process on loopback — the national root, a province and one of its cities — each with its
//! own database (temporary SQLite files, or temporary PostgreSQL databases dropped afterwards) and its own keys,
//! admitted as the CLI admits them. The city gets N published entries (written in batches of 1,000, as an import
//! would); then the city and the province sync in turn, as their background jobs would, until the root holds all N.
//! It prints the time to full propagation and entries per second, and, in the same run, the median and p99 of a
//! signed message round trip (city → province, `federation.ping`: signing, the nonce's insert, verification of both
//! directions) against a plain local HTTP call to the same server (`GET /healthz`).

use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use govshare_domain::audit::AuditEvent;
use govshare_domain::catalog::{
    CatalogEntry, DataItemInput, EntryContent, EntryEvent, EntryId, EntryInput, EntryStatus, EntryVersion, GradeScheme,
};
use govshare_domain::org::{NewOrganisationInput, Organisation};
use govshare_domain::region::Region;
use govshare_service::{SecuritySettings, Services};

use crate::bench_data::BenchDatabase;

#[derive(Debug, Clone, clap::Args)]
pub struct FederationBenchArgs {
    #[command(flatten)]
    pub db: BenchDatabase,
    #[arg(long, default_value_t = 100_000)]
    pub entries: usize,
    /// Round trips of each kind.
    #[arg(long, default_value_t = 1_000)]
    pub calls: usize,
}

struct Node {
    services: Services,
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn node(url: &str) -> anyhow::Result<Node> {
    let store = crate::open_store(url).await?;
    let services = Services::new(store, SecuritySettings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = govshare_http::AppState::new(services.clone(), govshare_http::HttpSettings::default());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(govshare_http::serve(listener, state, async {
        let _ = rx.await;
    }));
    Ok(Node { services, base, _stop: tx })
}

async fn admit(parent: &Node, child: &Node, id: &str, name: &str) -> anyhow::Result<()> {
    let request = child.services.admission_request(id, name, &child.base)?;
    let anchor = parent.services.admit_node(request).await?;
    child.services.join_federation(anchor).await?;
    Ok(())
}

fn content(i: usize) -> anyhow::Result<EntryContent> {
    let item = |name: &str, code: &str, pi: Option<&str>| DataItemInput {
        name: name.into(),
        code: code.into(),
        data_type: "string".into(),
        length: Some(64),
        grade_class: "一般数据".into(),
        grade_level: 2,
        personal_info: pi.map(str::to_owned),
        format: None,
    };
    let input = EntryInput {
        name: format!("杭州市第{i}类政务数据资源"),
        resource_code: format!("330100-BENCH-{i:07}"),
        summary: format!(
            "杭州市某部门归集的第{i}类数据，包括姓名、公民身份号码、地址等数据项，用于业务协同与资格核验。"
        ),
        format: "database".into(),
        items: vec![
            item("姓名", "xm", Some("name")),
            item("公民身份号码", "sfzh", Some("id_number")),
            item("联系地址", "dz", Some("address")),
            item("办理日期", "blrq", None),
            item("办理结果", "bljg", None),
        ],
        update_frequency: "daily".into(),
        sharing_attribute: "unconditional".into(),
        delivery_methods: vec!["service_api".into()],
        grade_class: "一般数据".into(),
        grade_level: 2,
        ..Default::default()
    };
    EntryContent::parse(&input, &GradeScheme::default()).map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub async fn run(args: FederationBenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut created = Vec::new();
    let mut urls = Vec::new();
    for name in ["root.db", "province.db", "city.db"] {
        let (url, made) = args.db.create(dir.path(), name).await?;
        urls.push(url);
        created.push(made);
    }
    println!("backend: {:?}; {} entries; {} round trips of each kind", args.db.backend, args.entries, args.calls);
    let result = run_on(&args, &urls).await;
    for made in created {
        args.db.drop(made).await?;
    }
    result
}

async fn run_on(args: &FederationBenchArgs, urls: &[String]) -> anyhow::Result<()> {
    let root = node(&urls[0]).await?;
    let province = node(&urls[1]).await?;
    let city = node(&urls[2]).await?;
    root.services.found_federation("国家节点", &root.base).await?;
    admit(&root, &province, "province-330000", "浙江省节点").await?;
    admit(&province, &city, "city-330100", "杭州市节点").await?;
    province.services.federation_sync().await?;
    city.services.federation_sync().await?;

    // The city's catalog: a region, a department and N published entries.
    let store = city.services.store();
    let audit = |action: &str| AuditEvent::new("operator:bench", None, action, "bench", "-", serde_json::json!({}));
    store.create_region(&Region::parse("330000", "浙江省")?, &audit("region.create")).await?;
    store.create_region(&Region::parse("330100", "杭州市")?, &audit("region.create")).await?;
    let input = NewOrganisationInput {
        kind: "department".into(),
        region_code: "330100".into(),
        name: "杭州市公安局".into(),
        credit_code: "11330100002482076X".into(),
        work_unit_name: "信息中心".into(),
    };
    let org = Organisation::parse(&input, Utc::now()).or_else(|_| {
        // The check character of a made-up code: found by trying.
        let body = &input.credit_code[..17];
        govshare_domain::credit_code::check_character(body.as_bytes())
            .map(|c| NewOrganisationInput { credit_code: format!("{body}{c}"), ..input.clone() })
            .ok_or_else(|| anyhow::anyhow!("credit code"))
            .and_then(|i| Organisation::parse(&i, Utc::now()).map_err(|e| anyhow::anyhow!("{e:?}")))
    })?;
    store.create_org(&org, &audit("org.create")).await?;
    let started = Instant::now();
    let now = Utc::now().trunc_subsecs(6);
    for chunk in (0..args.entries).collect::<Vec<_>>().chunks(1_000) {
        let mut entries = Vec::with_capacity(chunk.len());
        for &i in chunk {
            entries.push(CatalogEntry {
                id: EntryId::new(),
                provider: org.id,
                created_at: now,
                versions: vec![EntryVersion {
                    version: 1,
                    status: EntryStatus::Published,
                    content: content(i)?,
                    assessments: vec![],
                    updated_at: now,
                }],
                events: vec![EntryEvent {
                    version: 1,
                    at: now,
                    actor: "operator:bench".into(),
                    actor_name: "bench".into(),
                    action: "authority.publish".into(),
                    note: String::new(),
                }],
            });
        }
        store.create_entries(&entries, &audit("catalog.import")).await?;
    }
    println!("published {} entries on the city in {:.1} s", args.entries, started.elapsed().as_secs_f64());

    // Propagation: the city's and the province's syncs in turn, until the root holds every entry.
    let started = Instant::now();
    let mut rounds = 0;
    loop {
        rounds += 1;
        city.services.federation_sync().await?;
        province.services.federation_sync().await?;
        let held = root.services.store().federated_versions(None).await?.len();
        if held >= args.entries {
            break;
        }
        anyhow::ensure!(rounds < 10_000, "propagation stalled at {held} entries");
    }
    let elapsed = started.elapsed();
    println!(
        "propagation city → province → root: {} entries in {:.1} s ({} sync rounds): {:.0} entries/s",
        args.entries,
        elapsed.as_secs_f64(),
        rounds,
        args.entries as f64 / elapsed.as_secs_f64()
    );

    // Round trips, alternating the two kinds in rounds of 100.
    let http = reqwest::Client::new();
    let mut signed = Vec::with_capacity(args.calls);
    let mut plain = Vec::with_capacity(args.calls);
    while signed.len() < args.calls {
        for _ in 0..100.min(args.calls - signed.len()) {
            let t = Instant::now();
            city.services.ping_parent().await?;
            signed.push(t.elapsed());
        }
        for _ in 0..100.min(args.calls - plain.len()) {
            let t = Instant::now();
            let r = http.get(format!("{}/healthz", province.base)).send().await?;
            anyhow::ensure!(r.status().is_success());
            r.bytes().await?;
            plain.push(t.elapsed());
        }
    }
    signed.sort();
    plain.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("| call | p50 | p99 |");
    println!("|---|---|---|");
    println!(
        "| signed round trip (federation.ping) | {:.2} ms | {:.2} ms |",
        ms(percentile(&signed, 0.5)),
        ms(percentile(&signed, 0.99))
    );
    println!(
        "| plain local call (GET /healthz) | {:.2} ms | {:.2} ms |",
        ms(percentile(&plain, 0.5)),
        ms(percentile(&plain, 0.99))
    );
    println!(
        "signed / plain (p50): {:.1}×",
        percentile(&signed, 0.5).as_secs_f64() / percentile(&plain, 0.5).as_secs_f64()
    );
    Ok(())
}
