//! Federation (issue 18): four nodes on loopback — the national root, the province (浙江省) and two of its
//! cities (杭州市, 温州市) — each with its own database and keys, on one shared clock. They are admitted with the
//! same request / admit / join files the CLI exchanges, sync through the same signed messages the background
//! job sends, and are stopped and restarted on their own database and port.

mod common;

use std::time::Duration as StdDuration;

use chrono::Duration;
use common::{Backend, Client, FedNode, TestClock, household_entry, publish};
use govshare_domain::catalog::EntryId;
use govshare_domain::federation::{Freshness, NodeId, SignedMessage};
use govshare_domain::principal::Principal;
use govshare_service::SearchRequest;
use govshare_service::federation::SyncOutcome;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Federation {
    clock: TestClock,
    root: FedNode,
    province: FedNode,
    hangzhou: FedNode,
    wenzhou: FedNode,
}

/// Admits `child` under `parent` with the files the admins exchange.
async fn admit(parent: &FedNode, child: &FedNode, id: &str, name: &str) {
    let request = child.services().admission_request(id, name, &child.app.base).expect("a valid request");
    // The files travel as JSON between the two admins.
    let request = serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
    let anchor = parent.services().admit_node(request).await.expect("the parent admits");
    let anchor = serde_json::from_str(&serde_json::to_string(&anchor).unwrap()).unwrap();
    child.services().join_federation(anchor).await.expect("the child joins");
}

async fn sync(node: &FedNode) -> SyncOutcome {
    node.services().federation_sync().await.unwrap_or_else(|e| panic!("sync: {e}"))
}

/// One round bottom-up and again: admissions reach the root, the directory comes down, deltas go up.
async fn settle(f: &Federation) {
    for _ in 0..2 {
        sync(&f.province).await;
        sync(&f.hangzhou).await;
        sync(&f.wenzhou).await;
    }
    sync(&f.province).await;
}

async fn federation(backend: Backend) -> Federation {
    let clock = TestClock::at(chrono::Utc::now());
    let root = FedNode::start(backend, &clock).await;
    let province = FedNode::start(backend, &clock).await;
    let hangzhou = FedNode::start(backend, &clock).await;
    let wenzhou = FedNode::start(backend, &clock).await;
    root.services().found_federation("国家政务数据共享平台", &root.app.base).await.expect("founded");
    admit(&root, &province, "province-330000", "浙江省政务数据共享平台").await;
    admit(&province, &hangzhou, "city-330100", "杭州市政务数据共享平台").await;
    admit(&province, &wenzhou, "city-330300", "温州市政务数据共享平台").await;
    let f = Federation { clock, root, province, hangzhou, wenzhou };
    settle(&f).await;
    f
}

fn entry_named(name: &str, code: &str) -> Value {
    let mut entry = household_entry();
    entry["name"] = json!(name);
    entry["resource_code"] = json!(code);
    entry
}

/// A search of `node`'s own index, as the service answers it.
async fn found(node: &FedNode, q: &str) -> Vec<govshare_search::SearchDoc> {
    let req = SearchRequest { q: q.into(), limit: Some(50), ..Default::default() };
    node.services().sync_search_index().await.expect("index syncs");
    let principal = govshare_domain::principal::Principal::operator("test");
    node.services().search_catalog(&principal, &req).await.expect("search").hits
}

async fn federation_publishes_reach_the_root_and_the_other_city_and_revisions_swap_in_place(backend: Backend) {
    let f = federation(backend).await;
    let directory = f.root.services().federation_status().await.unwrap().directory.unwrap();
    assert_eq!(directory.nodes.len(), 4, "every admitted node is in the root's directory: {directory:?}");
    for node in [&f.province, &f.hangzhou, &f.wenzhou] {
        let held = node.services().federation_status().await.unwrap().directory.unwrap();
        assert_eq!(held.version, directory.version, "the directory reached every node");
    }

    // The province's administrator sees its children's health, in the console and the API.
    let admin = Client::login(&f.province.app, "admin").await;
    let page = admin.get("/console/federation").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "杭州市政务数据共享平台",
        "温州市政务数据共享平台",
        "国家政务数据共享平台",
        &format!("第 {} 版", directory.version),
    ] {
        assert!(page.text.contains(text), "{text}: {}", page.text);
    }
    let api = admin.get("/api/v1/federation").await;
    assert_eq!(api.body["node"], "province-330000", "{}", api.text);
    assert_eq!(api.body["directory_state"], "valid");
    assert_eq!(api.body["children"].as_array().unwrap().len(), 2);
    assert!(
        api.body["children"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["in_directory"] == true && c["directory_version"].is_u64())
    );
    let clerk_refused = Client::login(&f.province.app, "gat.clerk").await.get("/api/v1/federation").await;
    assert_eq!(clerk_refused.status, StatusCode::FORBIDDEN);

    // 杭州市 publishes; after a sync it is found at the root and, through the root, at 温州市.
    let id = publish(&f.hangzhou.app, "gat", entry_named("杭州市流动人口居住登记", "330100-GAT-0101")).await;
    settle(&f).await;
    let at_root = found(&f.root, "流动人口居住登记").await;
    let hit = at_root.iter().find(|h| h.id.to_string() == id).expect("the city's entry is in the root's catalog");
    assert_eq!(hit.node, Some(NodeId::parse("city-330100").unwrap()), "the root knows which node owns it");
    assert_eq!(hit.version, 1);

    let clerk = Client::login(&f.wenzhou.app, "mzt.clerk").await;
    let national = clerk.get("/api/v1/catalog/search?q=流动人口居住登记&scope=national").await;
    assert_eq!(national.status, StatusCode::OK, "{}", national.text);
    let hits = national.body["hits"].as_array().unwrap();
    let remote = hits.iter().find(|h| h["id"] == id.as_str()).unwrap_or_else(|| panic!("{}", national.text));
    assert_eq!(remote["node"], "city-330100");
    let node_facet = national.body["facets"].as_array().unwrap().iter().find(|f| f["dimension"] == "node").unwrap();
    assert!(
        node_facet["values"].as_array().unwrap().iter().any(|v| v["label"] == "杭州市政务数据共享平台"),
        "the owning node is a facet, by name: {node_facet}"
    );
    // Filtering on the node facet, and the local catalog of 温州市 does not hold it.
    let filtered = clerk.get("/api/v1/catalog/search?scope=national&node=city-330300").await;
    assert!(filtered.body["hits"].as_array().unwrap().iter().all(|h| h["node"] == "city-330300"), "{}", filtered.text);
    let local = clerk.get("/api/v1/catalog/search?q=流动人口居住登记").await;
    assert!(local.body["hits"].as_array().unwrap().iter().all(|h| h["id"] != id.as_str()), "{}", local.text);
    let bad = clerk.get("/api/v1/catalog/search?scope=everywhere").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.problems(), vec![("scope", "one_of")]);
    // The console offers the national catalog and names the owning node of a remote hit.
    let page = clerk.get("/console/catalog?q=流动人口居住登记&scope=national").await;
    assert!(page.text.contains("全国目录") && page.text.contains("杭州市政务数据共享平台"), "{}", page.text);

    // A revision on 杭州市: a reader polling the root during the swap always finds the entry.
    let gat_clerk = Client::login(&f.hangzhou.app, "gat.clerk").await;
    let gat_head = Client::login(&f.hangzhou.app, "gat.head").await;
    let reviewer = Client::login(&f.hangzhou.app, "reviewer").await;
    let mut revised = entry_named("杭州市流动人口居住登记", "330100-GAT-0101");
    revised["summary"] = json!("杭州市流动人口的居住登记与居住证信息（第二版）");
    let r = gat_clerk.call(reqwest::Method::PUT, &format!("/api/v1/catalog/{id}"), revised).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for kind in ["confidentiality", "personal_info_impact"] {
        gat_clerk.post(&format!("/api/v1/catalog/{id}/assessments"), common::assessment(kind, "2026-11-20")).await;
    }
    let r = gat_clerk.post(&format!("/api/v1/catalog/{id}/submit"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    gat_head.post(&format!("/api/v1/catalog/{id}/head-decision"), json!({"approve": true})).await;
    let r = reviewer.post(&format!("/api/v1/catalog/{id}/review"), json!({"approve": true})).await;
    assert_eq!(r.body["published_version"], 2, "{}", r.text);

    let entry = EntryId(id.parse().unwrap());
    let root = f.root.services().clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (root, stop) = (root.clone(), stop.clone());
        tokio::spawn(async move {
            let mut reads = 0u32;
            let mut versions = std::collections::BTreeSet::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let held = root.store().federated_entries(Some(&[entry])).await.unwrap();
                assert_eq!(held.len(), 1, "the entry is never missing from the root's store during the swap");
                versions.insert(held[0].version);
                let req = SearchRequest { q: "杭州市流动人口居住登记".into(), ..Default::default() };
                let principal = govshare_domain::principal::Principal::operator("reader");
                let hits = root.search_catalog(&principal, &req).await.unwrap().hits;
                assert!(hits.iter().any(|h| h.id == entry), "the entry is never missing from the root's search");
                reads += 1;
                tokio::task::yield_now().await;
            }
            (reads, versions)
        })
    };
    settle(&f).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (reads, versions) = reader.await.expect("the reader saw no gap");
    assert!(reads > 1, "the reader polled during the swap ({reads} reads)");
    assert!(versions.contains(&2), "the reader saw the new version: {versions:?}");
    let held = f.root.services().store().federated_entries(Some(&[entry])).await.unwrap();
    assert_eq!((held.len(), held[0].version), (1, 2), "replaced in place, one row");
    assert!(held[0].content.summary.contains("第二版"));
    let hits = found(&f.root, "杭州市流动人口居住登记").await;
    assert_eq!(hits.iter().filter(|h| h.id == entry).map(|h| h.version).collect::<Vec<_>>(), vec![2]);
    drop(f.clock);
}

async fn the_province_stopped_and_restarted_resumes_from_the_last_acknowledged_sequence(backend: Backend) {
    let f = federation(backend).await;
    let Federation { clock, root, province, hangzhou, wenzhou } = f;
    let stopped = province.stop().await;

    // While the province is down, 杭州市 publishes twice; its background sync fails and backs off.
    let a = publish(&hangzhou.app, "gat", entry_named("杭州市出生医学证明", "330100-GAT-0201")).await;
    let b = publish(&hangzhou.app, "mzt", entry_named("杭州市婚姻登记信息", "330100-MZT-0202")).await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let job = tokio::spawn(govshare_http::jobs::run_federation(
        hangzhou.services().clone(),
        StdDuration::from_millis(50),
        StdDuration::from_millis(400),
        stop_rx,
    ));
    tokio::time::sleep(StdDuration::from_millis(600)).await;
    let status = hangzhou.services().federation_status().await.unwrap();
    let error =
        status.last_sync.as_ref().and_then(|s| s.error.clone()).expect("the sync failed while the province was down");
    assert!(error.contains("province-330000"), "{error}");
    let acked_before = status.config.as_ref().unwrap().parent_acked;
    assert!(status.outbox_head > acked_before, "the two publications wait in the outbox");

    // The province comes back on its own database and port: the job resumes by itself, from the last
    // acknowledged sequence number.
    let province = stopped.restart().await;
    let mut caught_up = false;
    for _ in 0..100 {
        let s = hangzhou.services().federation_status().await.unwrap();
        if s.config.as_ref().unwrap().parent_acked == s.outbox_head
            && s.last_sync.as_ref().is_some_and(|l| l.error.is_none())
        {
            caught_up = true;
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let _ = stop_tx.send(true);
    job.await.unwrap();
    assert!(caught_up, "the city's job recovered after the outage");
    let child = province.services().store().federation_children().await.unwrap();
    let hz = child.iter().find(|c| c.request.id.to_string() == "city-330100").unwrap();
    assert_eq!(hz.last_seq, hangzhou.services().federation_status().await.unwrap().outbox_head);
    sync(&province).await;

    let ids: Vec<EntryId> = [&a, &b].iter().map(|s| EntryId(s.parse().unwrap())).collect();
    let held = root.services().store().federated_entries(Some(&ids)).await.unwrap();
    assert_eq!(held.len(), 2, "both publications made during the outage reached the root");
    let applied = deltas_applied(&root).await;

    // At-least-once: the city forgets the acknowledgement and sends everything again; nothing is applied twice.
    hangzhou.services().store().set_parent_acked(-1).await.unwrap();
    let again = sync(&hangzhou).await;
    assert_eq!(again.acked, Some(hz.last_seq), "the province answers with its own cursor");
    sync(&hangzhou).await;
    sync(&province).await;
    let after = root.services().store().federated_entries(None).await.unwrap();
    assert_eq!(after.iter().filter(|e| ids.contains(&e.id)).count(), 2, "no duplicate");
    assert_eq!(deltas_applied(&root).await, applied, "no delta applied twice at the root");
    drop((clock, wenzhou));
}

/// How many entries the root applied from deltas, by its audit records.
async fn deltas_applied(node: &FedNode) -> u64 {
    let records = node.services().store().audit_records(0, 100_000).await.unwrap();
    records
        .iter()
        .filter(|r| r.action == "federation.deltas")
        .map(|r| serde_json::from_str::<Value>(&r.detail).unwrap()["applied"].as_u64().unwrap_or(0))
        .sum()
}

fn forged(
    keys: &govshare_service::crypto::NodeKeys,
    from: &str,
    to: &str,
    kind: &str,
    body: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> SignedMessage {
    let mut nonce = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
    let mut m =
        SignedMessage::unsigned(NodeId::parse(from).unwrap(), NodeId::parse(to).unwrap(), kind, at, nonce, body.into());
    m.signature = keys.sign(&m.signed_bytes());
    m
}

async fn post(node: &FedNode, message: &SignedMessage) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/federation/v1/messages", node.app.base))
        .json(message)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn tampered_replayed_unknown_and_expired_messages_are_refused_and_a_cached_directory_carries_on(
    backend: Backend,
) {
    let f = federation(backend).await;
    let keys = f.hangzhou.keys();
    let now = f.clock_now();
    let fetch = forged(&keys, "city-330100", "province-330000", "directory.fetch", "{\"held_version\":null}", now);
    let (status, reply) = post(&f.province, &fetch).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["kind"], "directory.fetch.reply");

    // Refusals first come with their code; each one is recorded in the province's audit log.
    let refusals_before = refusals(&f.province).await;
    let (status, reply) = post(&f.province, &fetch).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("replayed_message")));
    let mut tampered =
        forged(&keys, "city-330100", "province-330000", "directory.fetch", "{\"held_version\":null}", now);
    tampered.body = "{\"held_version\":1}".into();
    let (status, reply) = post(&f.province, &tampered).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("bad_signature")));
    let stranger = govshare_service::crypto::NodeKeys::generate();
    let unknown =
        forged(&stranger, "city-330200", "province-330000", "directory.fetch", "{\"held_version\":null}", now);
    let (status, reply) = post(&f.province, &unknown).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown_node")));
    let stale = forged(
        &keys,
        "city-330100",
        "province-330000",
        "directory.fetch",
        "{\"held_version\":null}",
        now - Duration::minutes(10),
    );
    let (status, reply) = post(&f.province, &stale).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("stale_message")));
    // 温州市 may not push deltas as 杭州市's entries' owner through the root: deltas go to the parent only.
    let wz = f.wenzhou.keys();
    let deltas =
        forged(&wz, "city-330300", "national", "catalog.deltas", "{\"after\":-1,\"deltas\":[],\"through\":5}", now);
    let (status, reply) = post(&f.root, &deltas).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    let (status, _) = post(&f.province, &SignedMessage { signature: "00".into(), ..fetch.clone() }).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let garbage = reqwest::Client::new()
        .post(format!("{}/federation/v1/messages", f.province.app.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refusals(&f.province).await, refusals_before + 5, "every refusal is recorded");

    // The root goes down: the province keeps working on its cached directory (the city's sync through it
    // succeeds), and warns as the expiry nears.
    let Federation { clock, root, province, hangzhou, wenzhou } = f;
    let _root = root.stop().await;
    assert!(province.services().federation_sync().await.is_err(), "the root is unreachable");
    clock.advance(Duration::days(5) + Duration::hours(12));
    let s = sync(&hangzhou).await;
    assert!(s.error.is_none());
    let status = province.services().federation_status().await.unwrap();
    assert!(matches!(status.freshness, Some(Freshness::ExpiresSoon { .. })), "{:?}", status.freshness);

    // Past expiry the province trusts no node: messages are refused until a newer directory arrives.
    clock.advance(Duration::days(2));
    let late = forged(
        &keys,
        "city-330100",
        "province-330000",
        "directory.fetch",
        "{\"held_version\":null}",
        clock_now(&clock),
    );
    let (status, reply) = post(&province, &late).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("directory_expired")));
    let err = hangzhou.services().federation_sync().await.unwrap_err();
    assert!(err.to_string().contains("directory_expired"), "{err}");
    drop(wenzhou);
}

async fn refusals(node: &FedNode) -> usize {
    let records = node.services().store().audit_records(0, 100_000).await.unwrap();
    records.iter().filter(|r| r.action == "federation.refused").count()
}

fn clock_now(clock: &TestClock) -> chrono::DateTime<chrono::Utc> {
    use govshare_service::Clock;
    clock.now()
}

impl Federation {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        clock_now(&self.clock)
    }
}

async fn a_node_not_federated_answers_404_and_admission_rules_hold(backend: Backend) {
    let clock = TestClock::at(chrono::Utc::now());
    let lone = FedNode::start(backend, &clock).await;
    let keys = lone.keys();
    let m = forged(&keys, "city-330100", "national", "directory.fetch", "{}", clock_now(&clock));
    let (status, reply) = post(&lone, &m).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let err = lone
        .services()
        .admit_node(lone.services().admission_request("province-330000", "浙江", "http://127.0.0.1:1").unwrap())
        .await;
    assert!(matches!(err, Err(govshare_service::ServiceError::NotFound(_))), "a node not federated admits nobody");
    let page = Client::login(&lone.app, "admin").await.get("/console/federation").await;
    assert!(page.text.contains("本节点尚未加入全国体系"), "{}", page.text);
    // Bad requests name the field.
    let bad = lone.services().admission_request("city-330000", "x", "http://127.0.0.1:1").unwrap_err();
    assert_eq!(bad.problems().unwrap()[0].rule, "level_mismatch");
    let bad = lone.services().admission_request("city-330100", "x", "ftp://host").unwrap_err();
    assert_eq!(bad.problems().unwrap()[0].field, "endpoint");

    lone.services().found_federation("国家节点", &lone.app.base).await.unwrap();
    assert!(lone.services().found_federation("again", &lone.app.base).await.is_err(), "founded once");
    let other = FedNode::start(backend, &clock).await;
    let city = other.services().admission_request("city-330100", "杭州", &other.app.base).unwrap();
    let refused = lone.services().admit_node(city).await;
    assert!(
        matches!(refused, Err(govshare_service::ServiceError::Forbidden(_))),
        "the root admits provinces, not cities"
    );
    let province = other.services().admission_request("province-330000", "浙江", &other.app.base).unwrap();
    let anchor = lone.services().admit_node(province).await.unwrap();
    // An anchor file for another node is refused by the node that did not ask for it.
    let third = FedNode::start(backend, &clock).await;
    let err = third.services().join_federation(anchor.clone()).await.unwrap_err();
    assert_eq!(err.code(), "conflict");
    other.services().join_federation(anchor).await.unwrap();
    let dir = other.services().federation_status().await.unwrap().directory.unwrap();
    assert!(dir.node(&NodeId::parse("province-330000").unwrap()).is_some(), "the root signed it in at once");
}

async fn a_childs_rewound_chain_is_found_with_the_checkpoints_its_parent_witnessed(backend: Backend) {
    let f = federation(backend).await;
    let city = f.hangzhou.services();
    let first = city.checkpoint_head().await.unwrap().expect("a checkpoint of the head");
    publish(&f.hangzhou.app, "gat", entry_named("杭州市居住证信息", "330100-GAT-0301")).await;
    let second = city.checkpoint_head().await.unwrap().expect("a later checkpoint");
    assert!(second.seq > first.seq);
    let outcome = sync(&f.hangzhou).await;
    assert_eq!(outcome.checkpoint_witnessed, Some(second.seq), "the parent witnessed the newest checkpoint");
    let held =
        f.province.services().store().witnessed_checkpoints(&NodeId::parse("city-330100").unwrap()).await.unwrap();
    assert_eq!(held.last(), Some(&second));
    let clean = city.verify_audit_against(&Principal::operator("t"), None, true).await.unwrap();
    assert!(clean.first_break.is_none(), "{:?}", clean.first_break);

    // An insider with database and file access rewinds the chain to the first checkpoint and removes the
    // checkpoint file: the node's own verification sees nothing wrong.
    let record = city.store().audit_records(first.seq - 1, 1).await.unwrap().remove(0);
    assert_eq!(record.seq, first.seq);
    let hash = hex::encode(record.hash);
    let (drop_guard, set_head) = match backend {
        Backend::Sqlite => (
            "DROP TRIGGER audit_log_no_delete".to_owned(),
            format!("UPDATE audit_head SET seq = {}, hash = X'{hash}'", first.seq),
        ),
        Backend::Postgres => (
            "DROP TRIGGER audit_log_no_delete ON audit_log".to_owned(),
            format!("UPDATE audit_head SET seq = {}, hash = decode('{hash}', 'hex')", first.seq),
        ),
    };
    let delete = format!("DELETE FROM audit_log WHERE seq > {}", first.seq);
    common::tamper(backend, &f.hangzhou.app.db_url, &[&drop_guard, &delete, &set_head]).await.unwrap();
    std::fs::remove_file(city.checkpoint_log().unwrap().file()).unwrap();
    let local = city.verify_audit_against(&Principal::operator("t"), None, false).await.unwrap();
    assert!(
        local.first_break.is_none(),
        "rewound with its evidence, the chain alone looks intact: {:?}",
        local.first_break
    );

    // Held to what its parent witnessed, it does not.
    let witnessed = city.verify_audit_against(&Principal::operator("t"), None, true).await.unwrap();
    let found = witnessed.first_break.expect("the rewind is found");
    assert!(format!("{found:?}").contains("BehindCheckpoint"), "{found:?}");
}

on_both_backends!(
    a_childs_rewound_chain_is_found_with_the_checkpoints_its_parent_witnessed,
    federation_publishes_reach_the_root_and_the_other_city_and_revisions_swap_in_place,
    the_province_stopped_and_restarted_resumes_from_the_last_acknowledged_sequence,
    tampered_replayed_unknown_and_expired_messages_are_refused_and_a_cached_directory_carries_on,
    a_node_not_federated_answers_404_and_admission_rules_hold,
);
