//! Black-box tests of sharing applications (R-APP-1..5), on both backends.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::people::today;
use common::{
    Backend, Client, TestApp, another_instance, assistance_entry, household_entry, is_number, publish, spawn,
};
use govshare_domain::calendar::WorkingCalendar;
use govshare_service::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    conditional_application_from_request_to_delivery,
    refusals_supplements_and_extensions_follow_the_rules,
    overdue_deadlines_are_marked_once_across_instances,
    console_pages_cover_the_workflow,
    approval_opinions_are_kept_and_the_answer_prints
);

fn request(entry: &str) -> Value {
    json!({
        "entry_id": entry,
        "items": ["xm", "公民身份号码"],
        "legal_basis": "《就业促进法》第五十二条:对就业困难人员实行优先扶持和重点帮助",
        "basis_document": "浙人社发〔2026〕8号",
        "scenario": "就业困难人员认定时核验申请人户籍",
        "scope": "省人力资源和社会保障厅就业促进处",
        "delivery": "service_api",
        "valid_from": today().to_string(),
        "valid_until": (today() + chrono::Duration::days(364)).to_string()
    })
}

fn due(from: DateTime<Utc>, days: u32) -> String {
    WorkingCalendar::official().deadline(from, days).unwrap().due_date.to_string()
}

async fn step(client: &Client, id: &str, body: Value) -> common::Reply {
    client.post(&format!("/api/v1/applications/{id}/steps"), body).await
}

fn ok(reply: &common::Reply) -> &Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    &reply.body
}

fn refused(reply: &common::Reply, status: StatusCode, field: &str, rule: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    if !field.is_empty() {
        assert_eq!(reply.body["error"]["field"], field, "{}", reply.text);
        assert_eq!(reply.body["error"]["rule"], rule, "{}", reply.text);
    }
}

/// Drafted by the 人社厅 clerk and sent by its head; returns the id.
async fn sent_application(app: &TestApp, mut body: Value) -> String {
    let clerk = Client::login(app, "rst.clerk").await;
    let head = Client::login(app, "rst.head").await;
    body["submit"] = json!(true);
    let created = clerk.post("/api/v1/applications", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let sent = step(&head, &id, json!({"step": "send"})).await;
    assert_eq!(ok(&sent)["stage"], "awaiting_reply");
    id
}

async fn notifications(client: &Client) -> Vec<Value> {
    client.get("/api/v1/notifications").await.body.as_array().cloned().unwrap_or_default()
}

async fn conditional_application_from_request_to_delivery(backend: Backend) {
    let app = spawn(backend).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let clerk = Client::login(&app, "rst.clerk").await;
    let head = Client::login(&app, "rst.head").await;
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let gat_head = Client::login(&app, "gat.head").await;

    // What the entry does not offer is refused, naming the field and the rule, and nothing is stored.
    let mut bad = request(&entry);
    bad["items"] = json!(["xm", "婚姻状况"]);
    refused(
        &clerk.post("/api/v1/applications", bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "items[1]",
        "not_in_entry",
    );
    let mut bad = request(&entry);
    bad["delivery"] = json!("file_download");
    refused(
        &clerk.post("/api/v1/applications", bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "delivery",
        "not_offered",
    );
    let mut bad = request(&entry);
    bad["legal_basis"] = json!(" ");
    refused(
        &clerk.post("/api/v1/applications", bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "legal_basis",
        "required",
    );
    // A request with several faults gets them all in one answer, in the order of the input.
    let mut bad = request(&entry);
    bad["items"] = json!(["xm", "婚姻状况", "xm"]);
    bad["scenario"] = json!("");
    bad["valid_from"] = json!("2026/01/01");
    let r = clerk.post("/api/v1/applications", bad).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "items[1]", "not_in_entry");
    assert_eq!(
        r.problems(),
        [
            ("items[1]", "not_in_entry"),
            ("items[2]", "duplicate"),
            ("scenario", "required"),
            ("valid_from", "date_format")
        ],
        "{}",
        r.text
    );
    assert!(r.body["error"]["message"].as_str().unwrap().starts_with("共有 4 处输入需要修改"), "{}", r.text);
    assert_eq!(clerk.get("/api/v1/applications").await.body, json!([]), "nothing was stored");
    let own = Client::login(&app, "gat.clerk").await.post("/api/v1/applications", request(&entry)).await;
    refused(&own, StatusCode::UNPROCESSABLE_ENTITY, "entry_id", "own_entry");
    let vendor = Client::login(&app, "rst.vendor").await.post("/api/v1/applications", request(&entry)).await;
    assert_eq!(vendor.status, StatusCode::FORBIDDEN, "a contractor does not apply for data: {}", vendor.text);
    assert_eq!(clerk.get("/api/v1/applications").await.body, json!([]), "nothing was stored");

    // A not-shared entry cannot be applied for.
    let mut secret = household_entry();
    secret["name"] = json!("涉密人员信息");
    secret["resource_code"] = json!("330000-GAT-0002");
    secret["sharing_attribute"] = json!("not_shared");
    secret["not_shared_reason"] = json!("涉及国家秘密");
    secret["legal_basis"] = json!("《中华人民共和国保守国家秘密法》第二十八条");
    secret["delivery_methods"] = json!([]);
    secret["sharing_scope"] = json!("");
    secret["permitted_purposes"] = json!([]);
    let secret = publish(&app, "gat", secret).await;
    let r = clerk.post("/api/v1/applications", request(&secret)).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "entry_id", "not_shared");

    // The clerk drafts and submits; the provider cannot see it before the requester's head sends it.
    let created = clerk.post("/api/v1/applications", request(&entry)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["stage"], "draft");
    let number = created.body["number"].as_str().unwrap().to_owned();
    assert!(is_number(&number, "SQ"), "the application's number (申请编号): {number}");
    assert_eq!(created.body["request"]["items"], json!(["xm", "sfzh"]), "names are stored as item codes");
    assert_eq!(gat_clerk.get(&format!("/api/v1/applications/{id}")).await.status, StatusCode::NOT_FOUND);
    ok(&step(&clerk, &id, json!({"step": "submit"})).await);
    let r = step(&clerk, &id, json!({"step": "send"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "only the head sends: {}", r.text);
    let r = step(&head, &id, json!({"step": "return"})).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "note", "required");
    let returned = step(&head, &id, json!({"step": "return", "note": "使用范围写到处室"})).await;
    assert_eq!(ok(&returned)["stage"], "draft");
    assert_eq!(returned.body["number"], number, "the number stays with the application");
    let listed = clerk.get("/api/v1/applications").await;
    assert_eq!(listed.body[0]["number"], number, "{}", listed.text);
    let mut edited = request(&entry);
    edited["step"] = json!("edit");
    edited["scope"] = json!("省人社厅就业促进处(仅限认定经办岗位)");
    assert_eq!(ok(&step(&clerk, &id, edited).await)["request"]["scope"], "省人社厅就业促进处(仅限认定经办岗位)");
    ok(&step(&clerk, &id, json!({"step": "submit"})).await);
    let sent = step(&head, &id, json!({"step": "send"})).await;
    let received_at = app.clock.now();
    let body = ok(&sent);
    assert_eq!(body["stage"], "awaiting_reply");
    assert_eq!(body["due"]["kind"], "reply");
    assert_eq!(body["due"]["days"], 10, "conditional entries: 10 working days");
    assert_eq!(body["due"]["due_date"], due(received_at, 10));

    // The provider's inbox has it, with its due date; the provider's clerk prepares, the head approves.
    let inbox = gat_clerk.get("/api/v1/applications?box=inbox").await;
    assert_eq!(inbox.body.as_array().unwrap().len(), 1, "{}", inbox.text);
    assert_eq!(inbox.body[0]["due"]["due_date"], due(received_at, 10));
    assert!(notifications(&gat_clerk).await.iter().any(|n| n["title"].as_str().unwrap().contains("收到共享申请")));
    let r = step(&gat_clerk, &id, json!({"step": "draft_reply", "decision": "refuse", "reason": "  "})).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "reason", "required");
    let r = step(
        &gat_clerk,
        &id,
        json!({"step": "draft_reply", "decision": "approve", "conditions": "仅用于就业困难人员认定,不得向第三方提供"}),
    )
    .await;
    assert_eq!(ok(&r)["stage"], "reply_awaiting_head");
    assert_eq!(step(&gat_clerk, &id, json!({"step": "approve_reply"})).await.status, StatusCode::FORBIDDEN);
    let approved = step(&gat_head, &id, json!({"step": "approve_reply"})).await;
    let approved_at = app.clock.now();
    let body = ok(&approved);
    assert_eq!(body["stage"], "approved");
    assert_eq!(body["reply"]["label"], "附条件同意共享");
    assert_eq!(body["due"]["kind"], "delivery");
    assert_eq!(body["due"]["due_date"], due(approved_at, 20), "delivery within 20 working days");
    assert_eq!(body["allowed_steps"], json!(["record_delivery"]), "{}", approved.text);
    let told = notifications(&clerk).await;
    assert!(told.iter().any(|n| n["body"].as_str().unwrap().contains("附条件同意共享")), "{told:?}");
    let r = step(&head, &id, json!({"step": "withdraw"})).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "step", "already_approved");

    let r = step(&gat_clerk, &id, json!({"step": "record_delivery", "note": "服务接口已开通,调用凭证已发放"})).await;
    let body = ok(&r);
    assert_eq!(body["stage"], "delivered");
    assert!(body["due"].is_null());
    assert_eq!(body["late"], false);
    let steps: Vec<&str> = body["timeline"].as_array().unwrap().iter().map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        ["create", "submit", "return", "edit", "submit", "send", "draft_reply", "approve_reply", "record_delivery"]
    );
    assert_eq!(body["timeline"][2]["detail"]["note"], "使用范围写到处室");
    assert_eq!(body["timeline"][5]["actor"], "user:rst.head");

    // Outsiders see nothing; the audit chain is intact.
    assert_eq!(
        Client::login(&app, "scjg.clerk").await.get(&format!("/api/v1/applications/{id}")).await.status,
        StatusCode::FORBIDDEN
    );
    let admin = Client::login(&app, "admin").await;
    assert_eq!(admin.post("/api/v1/audit/verify", json!({})).await.body["intact"], true);
}

async fn refusals_supplements_and_extensions_follow_the_rules(backend: Backend) {
    let app = spawn(backend).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let id = sent_application(&app, request(&entry)).await;
    let received_at = app.clock.now();
    let requester = Client::login(&app, "rst.clerk").await;
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let gat_head = Client::login(&app, "gat.head").await;
    let reviewer = Client::login(&app, "reviewer").await;

    // Extension: at most 10 days, only the provider's head asks, only the same-level authority decides.
    let r = step(&gat_head, &id, json!({"step": "request_extension", "days": 11, "reason": "涉及多个处室"})).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "days", "range");
    let r = step(&gat_clerk, &id, json!({"step": "request_extension", "days": 5, "reason": "涉及多个处室"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = step(&gat_head, &id, json!({"step": "request_extension", "days": 5, "reason": "需核对历史户籍数据"})).await;
    let body = ok(&r);
    assert_eq!(body["due"]["due_date"], due(received_at, 10), "asking alone does not move the due date");
    assert!(body["extension"]["granted"].is_null());
    let r = step(&gat_head, &id, json!({"step": "decide_extension", "granted": true})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "the provider cannot approve its own extension: {}", r.text);
    let r = step(&Client::login(&app, "hz.reviewer").await, &id, json!({"step": "decide_extension", "granted": true}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "another region's authority cannot: {}", r.text);
    let queue = reviewer.get("/api/v1/applications?box=extensions").await;
    assert_eq!(queue.body.as_array().unwrap().len(), 1, "{}", queue.text);
    let r = step(&reviewer, &id, json!({"step": "decide_extension", "granted": false})).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "note", "required");
    let r = step(&reviewer, &id, json!({"step": "decide_extension", "granted": true, "note": "同意"})).await;
    assert_eq!(ok(&r)["due"]["due_date"], due(received_at, 15));
    assert_eq!(reviewer.get("/api/v1/applications?box=extensions").await.body, json!([]));
    // The requester sees the new due date and the reason.
    let seen = requester.get(&format!("/api/v1/applications/{id}")).await;
    assert_eq!(seen.body["due"]["due_date"], due(received_at, 15));
    assert_eq!(seen.body["extension"]["reason"], "需核对历史户籍数据");
    assert!(notifications(&requester).await.iter().any(|n| n["body"].as_str().unwrap().contains("需核对历史户籍数据")));

    // No refusal for incomplete materials: one supplement notice listing everything.
    let r = step(&gat_clerk, &id, json!({"step": "draft_reply", "decision": "refuse", "reason": "申请材料不全"})).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "reason", "incomplete_materials");
    let r = step(&gat_clerk, &id, json!({"step": "draft_reply", "decision": "supplement", "materials": ["就业困难人员认定办法全文", "经办岗位授权书"]})).await;
    ok(&r);
    let r = step(&gat_head, &id, json!({"step": "approve_reply"})).await;
    let body = ok(&r);
    assert_eq!(body["stage"], "awaiting_supplement");
    assert!(body["due"].is_null(), "the clock stops while the requester supplements");
    assert_eq!(body["supplement_notice"], json!(["就业困难人员认定办法全文", "经办岗位授权书"]));
    let mut supplement = request(&entry);
    supplement["step"] = json!("supplement");
    supplement["note"] = json!("已补充认定办法全文和授权书");
    let r = step(&requester, &id, supplement).await;
    let restarted = app.clock.now();
    let body = ok(&r);
    assert_eq!(body["stage"], "awaiting_reply");
    assert_eq!(body["due"]["due_date"], due(restarted, 10), "a fresh period from the complete application");
    // Twice is refused; so is a second extension.
    let r = step(&gat_clerk, &id, json!({"step": "draft_reply", "decision": "supplement", "materials": ["身份证明"]}))
        .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "decision", "supplement_once");
    let r = step(&gat_head, &id, json!({"step": "request_extension", "days": 3, "reason": "再核对"})).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "step", "extension_once");

    // A refusal with its reason closes the application.
    let r = step(
        &gat_clerk,
        &id,
        json!({"step": "draft_reply", "decision": "refuse", "reason": "申请数据项超出就业困难人员认定所需"}),
    )
    .await;
    ok(&r);
    let r = step(&gat_head, &id, json!({"step": "return_reply", "note": "理由写明依据"})).await;
    assert_eq!(ok(&r)["stage"], "awaiting_reply");
    let r = step(&gat_clerk, &id, json!({"step": "draft_reply", "decision": "refuse", "reason": "依据《户口登记条例》,户籍地址不属于认定所需数据"})).await;
    ok(&r);
    let r = step(&gat_head, &id, json!({"step": "approve_reply"})).await;
    let body = ok(&r);
    assert_eq!(body["stage"], "refused");
    assert_eq!(body["reply"]["reason"], "依据《户口登记条例》,户籍地址不属于认定所需数据");
    assert_eq!(body["allowed_steps"], json!([]));
    let r = step(&gat_clerk, &id, json!({"step": "record_delivery", "note": "x"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = step(&gat_clerk, &id, json!({"step": "fly"})).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "step", "unknown_value");
}

async fn overdue_deadlines_are_marked_once_across_instances(backend: Backend) {
    let app = spawn(backend).await;
    let second = another_instance(&app).await;
    let entry = publish(&app, "mzt", assistance_entry()).await;
    let mut body = request(&entry);
    body["items"] = json!(["xm", "jzje"]);
    body["delivery"] = json!("file_download");
    let id = sent_application(&app, body).await;
    let received_at = app.clock.now();
    let due_at = WorkingCalendar::official().deadline(received_at, 1).unwrap().due_at;
    let count = |notes: &[Value], kind: &str| notes.iter().filter(|n| n["kind"] == kind).count();

    let (a, b) = tokio::join!(app.services.run_deadline_sweep(), second.services.run_deadline_sweep());
    assert_eq!(a.unwrap().reminders + b.unwrap().reminders, 0, "not yet in the reminder window");

    // On the due date (1 working day for an unconditional entry) the provider is reminded, once.
    app.clock.advance(due_at - Duration::hours(12) - app.clock.now());
    let (a, b) = tokio::join!(app.services.run_deadline_sweep(), second.services.run_deadline_sweep());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.reminders + b.reminders, a.overdue + b.overdue), (1, 0), "{a:?} {b:?}");
    // (Sessions last 8 hours of the test clock: sign in after it moves.)
    let mzt = Client::login(&app, "mzt.clerk").await;
    assert_eq!(count(&notifications(&mzt).await, "deadline.reminder"), 1);

    // Past the due time: marked overdue exactly once, told to provider, requester and the authority.
    app.clock.advance(Duration::hours(13));
    let (a, b) = tokio::join!(app.services.run_deadline_sweep(), second.services.run_deadline_sweep());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.reminders + b.reminders, a.overdue + b.overdue), (0, 1), "{a:?} {b:?}");
    assert_eq!(app.services.run_deadline_sweep().await.unwrap().overdue, 0, "a later run changes nothing");
    let mzt = Client::login(&app, "mzt.clerk").await;
    let rst = Client::login(&app, "rst.clerk").await;
    let supervisor = Client::login(&app, "supervisor").await;
    assert_eq!(count(&notifications(&mzt).await, "deadline.overdue"), 1);
    assert_eq!(count(&notifications(&rst).await, "deadline.overdue"), 1);
    assert_eq!(count(&notifications(&supervisor).await, "deadline.overdue"), 1);
    let seen = mzt.get(&format!("/api/v1/applications/{id}")).await;
    assert_eq!(seen.body["late"], true, "{}", seen.text);
    assert_eq!(seen.body["working_days_left"].as_i64().map(|d| d <= 0), Some(true), "{}", seen.text);
    let kinds: Vec<&str> =
        seen.body["alerts"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reminder", "overdue"]);
    let marks = supervisor.get("/api/v1/deadlines/overdue").await;
    assert_eq!(marks.body.as_array().map(Vec::len), Some(1), "{}", marks.text);
    assert_eq!(marks.body[0]["subject"], format!("application:{id}"));
    assert_eq!(rst.get("/api/v1/deadlines/overdue").await.status, StatusCode::FORBIDDEN);

    // The late reply is still accepted, and the period stays marked late.
    let r = step(&mzt, &id, json!({"step": "draft_reply", "decision": "approve"})).await;
    ok(&r);
    let r = step(&Client::login(&app, "mzt.head").await, &id, json!({"step": "approve_reply"})).await;
    let body = ok(&r);
    assert_eq!(body["deadlines"][0]["late"], true);
    assert_eq!(body["due"]["kind"], "delivery");
}

async fn console_pages_cover_the_workflow(backend: Backend) {
    let app = spawn(backend).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let clerk = Client::login(&app, "rst.clerk").await;
    let csrf = clerk.csrf.clone().unwrap();
    let page = clerk.get(&format!("/console/catalog/{entry}")).await;
    assert!(page.text.contains("申请共享"), "another department may apply");
    let own = Client::login(&app, "gat.clerk").await.get(&format!("/console/catalog/{entry}")).await;
    assert!(!own.text.contains("id=\"apply-entry\""), "the provider does not apply for its own entry");
    let form = clerk.get(&format!("/console/applications/new?entry={entry}")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text.contains("公民身份号码（sfzh") && form.text.contains("10 个工作日内答复"), "{}", form.text);

    let fields = |basis: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("entry_id", entry.clone()),
            ("items", "xm".to_owned()),
            ("items", "sfzh".to_owned()),
            ("legal_basis", basis.to_owned()),
            ("basis_document", "浙人社发〔2026〕8号".to_owned()),
            ("scenario", "就业困难人员认定".to_owned()),
            ("scope", "就业促进处".to_owned()),
            ("delivery", "service_api".to_owned()),
            ("valid_from", today().to_string()),
            ("valid_until", (today() + chrono::Duration::days(364)).to_string()),
            ("action", "submit".to_owned()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let clerk = clerk.clone();
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            clerk.form("/console/applications", &pairs).await
        }
    };
    let bad = post(fields("")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text.contains("使用依据不能为空") && bad.text.contains("就业困难人员认定"),
        "the error, with what was typed"
    );
    // Every problem at once, each field marked, what was typed kept.
    let mut worse = fields("");
    for (name, value) in &mut worse {
        match *name {
            "scope" => *value = String::new(),
            "valid_until" => *value = (today() - chrono::Duration::days(1)).to_string(),
            _ => {}
        }
    }
    let bad = post(worse).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for text in [
        "共有 3 处需要修改",
        "使用依据不能为空",
        "使用范围不能为空",
        "使用期限截止日期不能早于起始日期",
        "name=\"legal_basis\" rows=\"2\" maxlength=\"500\"",
        "就业困难人员认定",
    ] {
        assert!(bad.text.contains(text), "{text}: {}", bad.text);
    }
    let marked = bad.text.matches("aria-invalid=\"true\"").count();
    assert_eq!(marked, 3, "the three faulty fields are marked, no others: {}", bad.text);
    let created = post(fields("《就业促进法》第五十二条")).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    let location = created.headers["location"].to_str().unwrap().to_owned();
    let id = location.trim_start_matches("/console/applications/").split('?').next().unwrap().to_owned();

    let head = Client::login(&app, "rst.head").await;
    let detail = head.get(&format!("/console/applications/{id}")).await;
    assert!(detail.text.contains("同意并提交提供部门") && detail.text.contains("退回经办人修改"), "{}", detail.text);
    // People read the application's number; its id stays in the URLs.
    let number = head.get(&format!("/api/v1/applications/{id}")).await.body["number"].as_str().unwrap().to_owned();
    assert!(is_number(&number, "SQ"), "{number}");
    assert!(detail.text.contains(&format!("id=\"application-number\">{number}<")), "{}", detail.text);
    let list = clerk.get("/console/applications").await;
    assert!(list.text.contains(&format!("/console/applications/{id}\">{number}</a>")), "{}", list.text);
    let sent = head
        .form(
            &format!("/console/applications/{id}/step"),
            &[("csrf_token", head.csrf.as_deref().unwrap()), ("step", "send")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text);

    let gat = Client::login(&app, "gat.clerk").await;
    let inbox = gat.get("/console/applications?box=inbox").await;
    assert!(inbox.text.contains("居民户籍信息") && inbox.text.contains("前答复"), "{}", inbox.text);
    let refused = gat
        .form(
            &format!("/console/applications/{id}/step"),
            &[
                ("csrf_token", gat.csrf.as_deref().unwrap()),
                ("step", "draft_reply"),
                ("decision", "refuse"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("不同意共享的，应当说明理由"), "{}", refused.text);
    let detail = gat.get(&format!("/console/applications/{id}")).await;
    assert!(detail.text.contains("负责人同意并提交申请"), "the timeline shows the head's step");
    assert!(detail.text.contains("一次性告知补正材料"), "the reply form offers the supplement notice");
}

/// Issue 13: the heads' 审核意见 on sending and on approving the reply are kept on the timeline; the application
/// prints as a 审批单 before the answer and a 答复函 after it, with the opinions and people's names; nobody who may
/// not read the application can print it.
async fn approval_opinions_are_kept_and_the_answer_prints(backend: Backend) {
    let app = spawn(backend).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let clerk = Client::login(&app, "rst.clerk").await;
    let rst_head = Client::login(&app, "rst.head").await;
    let mut body = request(&entry);
    body["submit"] = json!(true);
    let created = clerk.post("/api/v1/applications", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let number = created.body["number"].as_str().unwrap().to_owned();
    let print = format!("/console/applications/{id}/print");

    // A note longer than the limit is refused by name and nothing is sent.
    let long = step(&rst_head, &id, json!({"step": "send", "note": "意".repeat(501)})).await;
    refused(&long, StatusCode::UNPROCESSABLE_ENTITY, "note", "too_long");
    assert_eq!(clerk.get(&format!("/api/v1/applications/{id}")).await.body["stage"], "awaiting_requester_head");
    // The head sends it from the console with an opinion.
    let csrf = rst_head.csrf.clone().unwrap();
    let sent = rst_head
        .form(
            &format!("/console/applications/{id}/step"),
            &[("csrf_token", &csrf), ("step", "send"), ("note", "用途明确，同意报送")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text);

    // Before the answer: the 审批单, with the head's opinion by name.
    let before = clerk.get(&print).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    assert!(before.text.contains("政务数据共享申请审批单") && !before.text.contains("答复函"), "{}", before.text);
    assert!(before.text.contains(&number) && before.text.contains("用途明确，同意报送"), "{}", before.text);
    assert!(before.text.contains("赵主任") && !before.text.contains("rst.head"), "names, not accounts");
    assert!(!common::contains_uuid(&common::strip_tags(&before.text)), "no id shown as text");
    // The detail page offers it, with the step indicator at the provider's reply.
    let detail = clerk.get(&format!("/console/applications/{id}")).await;
    assert!(
        detail.text.contains(&format!("href=\"{print}\"")) && detail.text.contains("打印审批单"),
        "{}",
        detail.text
    );
    assert!(detail.text.contains("aria-current=\"step\""), "{}", detail.text);
    // Breadcrumbs: where the page sits, the section linked, this page last.
    let crumbs = &detail.text[detail.text.find("class=\"breadcrumbs\"").expect("breadcrumbs")..];
    let crumbs = &crumbs[..crumbs.find("</nav>").unwrap()];
    assert!(crumbs.contains("<a href=\"/console\">工作台</a>"), "{crumbs}");
    assert!(crumbs.contains("href=\"/console/applications\""), "{crumbs}");
    assert!(crumbs.contains("aria-current=\"page\">共享申请详情<"), "{crumbs}");

    // Nobody else prints it: another department, and a stranger.
    for who in ["jyt.clerk", "mzt.head"] {
        let other = Client::login(&app, who).await.get(&print).await;
        assert_eq!(other.status, StatusCode::FORBIDDEN, "{who}: {}", other.text);
        assert!(!other.text.contains(&number) && !other.text.contains("用途明确"), "{who}: {}", other.text);
    }
    assert_eq!(Client::anonymous(&app).get(&print).await.status, StatusCode::SEE_OTHER, "signing in first");

    // The provider answers; its head approves with an opinion.
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let gat_head = Client::login(&app, "gat.head").await;
    ok(&step(
        &gat_clerk,
        &id,
        json!({"step": "draft_reply", "decision": "approve", "conditions": "仅用于就业困难人员认定"}),
    )
    .await);
    let approved = step(&gat_head, &id, json!({"step": "approve_reply", "note": "符合第二十条，同意共享"})).await;
    let timeline = ok(&approved)["timeline"].as_array().unwrap().clone();
    let last = timeline.last().unwrap();
    assert_eq!(last["step"], "approve_reply", "{last}");
    assert_eq!(last["detail"]["note"], "符合第二十条，同意共享", "{last}");

    let after = gat_clerk.get(&print).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.text);
    assert!(after.text.contains("政务数据共享申请答复函"), "{}", after.text);
    for text in
        ["同意共享", "仅用于就业困难人员认定", "符合第二十条，同意共享", "用途明确，同意报送", "陈科长", "王警官"]
    {
        assert!(after.text.contains(text), "{text} missing: {}", after.text);
    }
    assert!(gat_clerk.get(&format!("/console/applications/{id}")).await.text.contains("打印答复函"));
    // A timeline from before opinions existed still reads (the note defaults to empty).
    let old: govshare_domain::application::Step = serde_json::from_value(json!({"step": "approve_reply"})).unwrap();
    assert_eq!(old, govshare_domain::application::Step::ApproveReply { note: String::new() });
}
