//! Black-box tests of the duty ledger and the to-do centre (R-APP-5, R-CAT-4), on both backends: each role's to-do
//! list after each step of an application and of a catalog update, the ledger against the duties rebuilt from the
//! timelines, alerts exactly once with two instances sweeping, and the derivation of the duties kept before the
//! ledger existed.

mod common;

use std::collections::BTreeMap;

use chrono::Duration;
use common::people::today;
use common::{Backend, Client, TestApp, another_instance, assessment, household_entry, publish, spawn, tamper};
use govshare_domain::calendar::{WorkingCalendar, beijing};
use govshare_domain::duty::{self, Duty};
use govshare_domain::org::{OrgId, OrgKind};
use govshare_service::Clock;
use govshare_store::DutyFilter;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    todo_lists_follow_each_step_of_an_application,
    todo_lists_follow_a_catalog_update_and_its_obligation,
    duties_kept_before_the_ledger_are_derived_once
);

/// The caller's open duties, as (kind, title) pairs, in the list's order.
async fn todo(client: &Client) -> Vec<(String, String)> {
    let r = client.get("/api/v1/duties").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap().into(), d["title"].as_str().unwrap().into()))
        .collect()
}

async fn kinds(client: &Client) -> Vec<String> {
    todo(client).await.into_iter().map(|(k, _)| k).collect()
}

async fn first(client: &Client) -> Value {
    client.get("/api/v1/duties").await.body[0].clone()
}

async fn step(client: &Client, id: &str, body: Value) {
    let r = client.post(&format!("/api/v1/applications/{id}/steps"), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Every duty the ledger holds, by key.
async fn ledger(app: &TestApp) -> BTreeMap<String, Duty> {
    let all = app.services.store().duties(&DutyFilter::default(), 10_000).await.unwrap();
    all.into_iter().map(|d| (d.key.clone(), d)).collect()
}

/// Every duty rebuilt from the timelines the store keeps, by key.
async fn rebuilt(app: &TestApp) -> BTreeMap<String, Duty> {
    let store = app.services.store();
    let calendar = WorkingCalendar::official();
    let orgs = store.list_orgs().await.unwrap();
    let authority = |org: OrgId| {
        let region = orgs.iter().find(|o| o.id == org).unwrap().region;
        orgs.iter().find(|o| o.kind == OrgKind::Authority && o.region == region).map(|o| o.id)
    };
    let mut all = Vec::new();
    for a in store.list_applications(None, false).await.unwrap() {
        all.extend(duty::application_duties(&a, &calendar, authority(a.provider)).unwrap());
    }
    let obligations = store.list_obligations(None).await.unwrap();
    for e in store.list_entries(None).await.unwrap() {
        let of_entry: Vec<_> = obligations.iter().filter(|o| o.entry == e.id).cloned().collect();
        all.extend(duty::entry_duties(&e, &calendar, authority(e.provider), &of_entry).unwrap());
        for o in &of_entry {
            all.extend(duty::obligation_duties(o, &e, &calendar, authority(e.provider)).unwrap());
        }
    }
    all.into_iter().map(|d| (d.key.clone(), d)).collect()
}

async fn todo_lists_follow_each_step_of_an_application(backend: Backend) {
    let app = spawn(backend).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let clerk = Client::login(&app, "rst.clerk").await;
    let head = Client::login(&app, "rst.head").await;
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let gat_head = Client::login(&app, "gat.head").await;
    let reviewer = Client::login(&app, "reviewer").await;
    let everyone = [&clerk, &head, &gat_clerk, &gat_head, &reviewer];
    let nobody_but =
        |who: &Client| everyone.iter().filter(|c| !std::ptr::eq(**c, who)).map(|c| (*c).clone()).collect::<Vec<_>>();

    // Refusals first: only `me`, only known states.
    let r = clerk.get("/api/v1/duties?party=gat").await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("party")),
        "{}",
        r.text
    );
    let r = clerk.get("/api/v1/duties?state=later").await;
    assert_eq!((r.status, r.body["error"]["rule"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_value")));
    assert_eq!(Client::anonymous(&app).get("/api/v1/duties").await.status, StatusCode::UNAUTHORIZED);

    let body = json!({
        "entry_id": entry, "items": ["xm", "sfzh"],
        "legal_basis": "《就业促进法》第五十二条", "basis_document": "浙人社发〔2026〕8号",
        "scenario": "就业困难人员认定时核验申请人户籍", "scope": "省人力资源和社会保障厅就业促进处",
        "delivery": "service_api", "valid_from": today().to_string(),
        "valid_until": (today() + chrono::Duration::days(364)).to_string()
    });
    let created = clerk.post("/api/v1/applications", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    for c in everyone {
        assert!(kinds(c).await.is_empty(), "a fresh draft is the clerk's own work, nobody's duty yet");
    }

    step(&clerk, &id, json!({"step": "submit"})).await;
    assert_eq!(todo(&head).await, [("approve_application".to_owned(), "居民户籍信息".to_owned())]);
    for c in nobody_but(&head) {
        assert!(kinds(&c).await.is_empty());
    }
    let d = first(&head).await;
    assert_eq!(
        (d["due_at"].is_null(), d["urgency"].as_str(), d["role"].as_str()),
        (true, Some("untimed"), Some("work_unit_head"))
    );
    assert_eq!(d["link"], format!("/console/applications/{id}"));

    step(&head, &id, json!({"step": "return", "note": "使用范围写到处室"})).await;
    assert_eq!(kinds(&clerk).await, ["revise_application"]);
    assert!(kinds(&head).await.is_empty());
    step(&clerk, &id, json!({"step": "submit"})).await;
    step(&head, &id, json!({"step": "send"})).await;

    // Received: the provider's clerk drafts the reply, 10 working days, all 10 left on the day of receipt.
    assert_eq!(kinds(&gat_clerk).await, ["reply"]);
    for c in nobody_but(&gat_clerk) {
        assert!(kinds(&c).await.is_empty(), "requester and head have nothing to do now");
    }
    let received = app.clock.now();
    let d = first(&gat_clerk).await;
    assert_eq!(d["days"], 10);
    assert_eq!(d["working_days_left"], 10, "剩余 10 个工作日 on the day of receipt: {d}");
    assert_eq!(d["due_date"], WorkingCalendar::official().deadline(received, 10).unwrap().due_date.to_string());
    assert_eq!(
        (d["article"].as_str(), d["counterpart_name"].as_str()),
        (Some("第二十一条"), Some("浙江省人力资源和社会保障厅"))
    );

    // The head asks for an extension: the authority's reviewer decides it; granted, the reply is due 5 days later.
    step(&gat_head, &id, json!({"step": "request_extension", "days": 5, "reason": "需核对多个系统"})).await;
    assert_eq!(kinds(&reviewer).await, ["decide_reply_extension"]);
    step(&reviewer, &id, json!({"step": "decide_extension", "granted": true, "note": "同意"})).await;
    assert!(kinds(&reviewer).await.is_empty());
    assert_eq!(first(&gat_clerk).await["days"], 15);

    // The clerk drafts, the head approves: the reply duty moves to the head, then delivery opens (20 days).
    step(&gat_clerk, &id, json!({"step": "draft_reply", "decision": "approve", "conditions": "仅用于认定"})).await;
    assert!(kinds(&gat_clerk).await.is_empty());
    assert_eq!(kinds(&gat_head).await, ["reply"]);
    let home = gat_head.get("/console").await.text;
    assert!(
        home.contains("答复共享申请") && home.contains("id=\"todo-count\""),
        "the head's home lists the reply, with a badge"
    );
    step(&gat_head, &id, json!({"step": "approve_reply"})).await;
    assert!(kinds(&gat_head).await.is_empty());
    assert_eq!(kinds(&gat_clerk).await, ["deliver"]);
    let d = first(&gat_clerk).await;
    assert_eq!((d["days"].as_u64(), d["working_days_left"].as_i64()), (Some(20), Some(20)), "{d}");
    for c in [&clerk, &head, &reviewer] {
        assert!(kinds(c).await.is_empty());
    }
    // Done duties are kept, with when they were met, for whoever last had to act on them.
    let closed = gat_head.get("/api/v1/duties?state=closed").await;
    let closed: Vec<&Value> =
        closed.body.as_array().unwrap().iter().filter(|d| d["subject_id"] == id.as_str()).collect();
    let closed_kinds: Vec<&str> = closed.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(closed_kinds, ["reply"]);
    assert_eq!((closed[0]["met"].as_bool(), closed[0]["late"].as_bool()), (Some(true), Some(false)));

    assert_eq!(ledger(&app).await, rebuilt(&app).await, "the ledger is what the timelines say");
}

async fn todo_lists_follow_a_catalog_update_and_its_obligation(backend: Backend) {
    let app = spawn(backend).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let reviewer = Client::login(&app, "reviewer").await;
    let head = Client::login(&app, "gat.head").await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let today = app.clock.now().with_timezone(&beijing()).date_naive();
    let calendar = WorkingCalendar::official();
    assert!(kinds(&reviewer).await.is_empty(), "the first publication left nothing open");

    let r = reviewer
        .post("/api/v1/obligations", json!({"entry_id": entry, "kind": "law_change", "changed_on": today.to_string(), "description": "《户口登记条例》修订"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let obligation = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(kinds(&clerk).await, ["update_catalog"]);
    let d = first(&clerk).await;
    assert_eq!(d["due_date"], calendar.add_working_days(today, 10).unwrap().0.to_string());
    assert_eq!((d["working_days_left"].as_i64(), d["article"].as_str()), (Some(10), Some("第十七条")));

    head.post(&format!("/api/v1/obligations/{obligation}/extension"), json!({"reason": "涉及多个处室"})).await;
    assert_eq!(kinds(&reviewer).await, ["decide_update_extension"]);
    reviewer.post(&format!("/api/v1/obligations/{obligation}/extension-decision"), json!({"approve": true})).await;
    assert!(kinds(&reviewer).await.is_empty());
    assert_eq!(first(&clerk).await["due_date"], calendar.add_working_days(today, 15).unwrap().0.to_string());

    // The clerk revises and submits: the head is told and sees the entry and the update; the clerk nothing.
    app.clock.advance(Duration::minutes(5));
    let path = format!("/api/v1/catalog/{entry}");
    let mut updated = household_entry();
    updated["summary"] = json!("全省户籍人口的登记信息(按新条例增补登记事项)");
    assert_eq!(clerk.call(reqwest::Method::PUT, &path, updated).await.status, StatusCode::OK);
    clerk.post(&format!("{path}/assessments"), assessment("confidentiality", &today.to_string())).await;
    clerk.post(&format!("{path}/assessments"), assessment("personal_info_impact", &today.to_string())).await;
    let r = clerk.post(&format!("{path}/submit"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(kinds(&clerk).await.is_empty());
    let mut on_head = kinds(&head).await;
    on_head.sort();
    assert_eq!(on_head, ["approve_entry", "update_catalog"]);
    let notes = head.get("/api/v1/notifications").await;
    assert!(notes.text.contains("待审核的目录：居民户籍信息"), "catalog submissions notify the head: {}", notes.text);

    // The head sends it back: the clerk revises; approved, the authority reviews within 2 working days.
    head.post(&format!("{path}/head-decision"), json!({"approve": false, "reason": "摘要需写明依据"})).await;
    let mut on_clerk = kinds(&clerk).await;
    on_clerk.sort();
    assert_eq!(on_clerk, ["revise_entry", "update_catalog"]);
    clerk.post(&format!("{path}/submit"), json!({})).await;
    let r = head.post(&format!("{path}/head-decision"), json!({"approve": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(kinds(&head).await.is_empty() && kinds(&clerk).await.is_empty(), "submitted: the update is met");
    assert_eq!(kinds(&reviewer).await, ["review_entry"]);
    let d = first(&reviewer).await;
    let received = app.clock.now();
    assert_eq!(d["due_date"], calendar.deadline(received, 2).unwrap().due_date.to_string(), "{d}");

    // Past the review deadline two instances sweep: one overdue mark, once; the reviewer's list shows it overdue.
    let second = another_instance(&app).await;
    let due: chrono::DateTime<chrono::Utc> = serde_json::from_value(d["due_at"].clone()).unwrap();
    app.clock.advance(due - app.clock.now() + Duration::hours(1));
    let (a, b) = tokio::join!(app.services.run_deadline_sweep(), second.services.run_deadline_sweep());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.overdue + b.overdue, 1, "{a:?} {b:?}");
    let (a, b) = tokio::join!(app.services.run_deadline_sweep(), second.services.run_deadline_sweep());
    assert_eq!(a.unwrap().overdue + b.unwrap().overdue, 0, "marked once");
    let reviewer = Client::login(&app, "reviewer").await;
    let d = first(&reviewer).await;
    assert_eq!((d["urgency"].as_str(), d["late"].as_bool()), (Some("overdue"), Some(true)), "{d}");
    let marks = reviewer.get("/api/v1/notifications").await;
    assert!(marks.text.contains("目录更新审核发布期限已逾期"), "{}", marks.text);

    let r = reviewer.post(&format!("{path}/review"), json!({"approve": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(kinds(&reviewer).await.is_empty());
    assert_eq!(ledger(&app).await, rebuilt(&app).await, "the ledger is what the timelines say");
}

async fn duties_kept_before_the_ledger_are_derived_once(backend: Backend) {
    let app = spawn(backend).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let clerk = Client::login(&app, "rst.clerk").await;
    let head = Client::login(&app, "rst.head").await;
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let reviewer = Client::login(&app, "reviewer").await;
    let body = json!({
        "entry_id": entry, "items": ["xm"], "legal_basis": "《就业促进法》第五十二条", "basis_document": "浙人社发〔2026〕8号",
        "scenario": "核验", "scope": "就业促进处", "delivery": "service_api", "valid_from": today().to_string(),
        "valid_until": (today() + chrono::Duration::days(364)).to_string(), "submit": true
    });
    let id = clerk.post("/api/v1/applications", body).await.body["id"].as_str().unwrap().to_owned();
    step(&head, &id, json!({"step": "send"})).await;
    let changed_on = app.clock.now().with_timezone(&beijing()).date_naive().to_string();
    let r = reviewer
        .post(
            "/api/v1/obligations",
            json!({"entry_id": entry, "kind": "duty_change", "changed_on": changed_on, "description": "职责调整"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let before = ledger(&app).await;
    assert!(before.values().filter(|d| d.is_open()).count() >= 2, "{before:?}");
    assert_eq!(app.services.backfill_duties().await.unwrap(), 0, "a new node has nothing to derive");

    // As a node upgraded from a release without the ledger: its duties table is empty and marked not derived.
    let not_derived = if backend == Backend::Sqlite {
        "UPDATE duty_ledger SET backfilled = 0"
    } else {
        "UPDATE duty_ledger SET backfilled = FALSE"
    };
    tamper(backend, &app.db_url, &["DELETE FROM duties", not_derived]).await.unwrap();
    assert!(kinds(&gat_clerk).await.is_empty());
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let derived = app.services.backfill_duties().await.unwrap();
    assert_eq!(derived, before.len());
    assert_eq!(ledger(&app).await, before, "the same duties, open and closed");
    assert_eq!(sorted(kinds(&gat_clerk).await), ["reply", "update_catalog"]);
    assert_eq!(app.services.backfill_duties().await.unwrap(), 0, "once");
    let audit = app.services.store().recent_audit(None, 20).await.unwrap();
    assert!(audit.iter().any(|r| r.action == "duty.backfill"), "the derivation is audited");
}
