//! Black-box tests of the data plane (R-DEL-1..5): sources and loads, grants, governed delivery, usage records,
//! on both backends.

mod common;

use std::io::Read;

use chrono::Duration;
use common::people::{
    HEADER, STANDARD_ITEMS, api_key, granted, hosted_entry, id_number, load, people_csv, people_entry, row,
    standard_grant,
};
use common::{Backend, Client, TestApp, contains_uuid, is_number, publish, spawn};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    loads_report_bad_rows_precisely_and_keep_nothing_unless_asked,
    the_service_api_returns_only_granted_items_in_scope_masked,
    every_access_leaves_exactly_one_usage_record,
    suspended_and_expired_grants_are_refused_at_once,
    hashes_differ_between_grants,
    downloads_are_signed_and_bulk_exchange_follows_changes,
    the_export_streams_the_feed_each_chunk_recorded_before_it_leaves,
    proxied_sources_are_governed_like_hosted_ones,
    excel_files_load_like_csv,
    hosted_data_is_encrypted_at_rest_and_usage_records_are_append_only,
    a_suspension_for_misuse_owes_a_rectification_by_its_deadline,
    a_running_service_ends_only_after_negotiation_and_filing,
    a_grant_widens_only_by_an_approved_change_request,
    each_period_of_use_owes_a_record_that_is_never_changed,
    the_requester_disposes_of_the_data_and_the_provider_acknowledges,
    all_of_a_requesters_grants_are_suspended_in_one_step,
    an_incident_report_suspends_every_affected_grant_and_tells_the_authority,
    an_aggregation_risk_blocks_the_grant_until_the_authority_acknowledges_it,
    a_running_service_narrows_only_after_negotiation_and_filing,
    an_enterprise_credit_code_is_checked_by_its_format_without_being_personal_information
);

/// A data item's format and its kind of personal information are two things: an enterprise register's credit
/// code is declared `"format": "credit_code"` with no `personal_info`, so the entry needs no personal-information
/// impact assessment, and every load still checks each code's check character.
async fn an_enterprise_credit_code_is_checked_by_its_format_without_being_personal_information(backend: Backend) {
    let app = spawn(backend).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let head = Client::login(&app, "gat.head").await;
    let reviewer = Client::login(&app, "reviewer").await;
    let entry = json!({
        "name": "企业登记基本信息", "resource_code": "330000-GAT-0808", "summary": "全省登记企业的名称和统一社会信用代码",
        "format": "数据库", "update_frequency": "每日", "sharing_attribute": "无条件共享",
        "delivery_methods": ["服务接口"], "grade_class": "一般数据", "grade_level": 2,
        "items": [
            {"name": "统一社会信用代码", "code": "tyshxydm", "data_type": "string", "length": 18, "grade_class": "一般数据", "grade_level": 2, "format": "credit_code"},
            {"name": "企业名称", "code": "qymc", "data_type": "string", "length": 100, "grade_class": "一般数据", "grade_level": 2}
        ]
    });
    let created = clerk.post("/api/v1/catalog", entry.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let item = &created.body["versions"][0]["content"]["items"][0];
    assert_eq!((&item["format"], &item["personal_info"]), (&json!("credit_code"), &Value::Null), "{item}");
    // Only the confidentiality assessment: nothing here is personal information.
    clerk.post(&format!("/api/v1/catalog/{id}/assessments"), common::assessment("confidentiality", "2026-11-02")).await;
    let r = clerk.post(&format!("/api/v1/catalog/{id}/submit"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "no impact assessment is asked for: {}", r.text);
    head.post(&format!("/api/v1/catalog/{id}/head-decision"), json!({"approve": true})).await;
    let r = reviewer.post(&format!("/api/v1/catalog/{id}/review"), json!({"approve": true})).await;
    assert_eq!(r.body["published_version"], 1, "{}", r.text);
    let bound = clerk
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/catalog/{id}/source"),
            json!({"kind": "hosted", "key_item": "tyshxydm"}),
        )
        .await;
    assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
    // A wrong check character is refused row by row, and nothing is loaded.
    let bad = "tyshxydm,qymc\n91350100M000100Y43,甲公司\n91350100M000100Y44,乙公司\n";
    let r = load(&clerk, &id, bad, "").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let errors = r.body["load"]["errors"].as_array().or(r.body["errors"].as_array()).cloned().unwrap_or_default();
    assert!(errors.iter().any(|e| e["row"] == 3 && e["rule"] == "check_character"), "{}", r.text);
    let r = load(&clerk, &id, "tyshxydm,qymc\n91350100M000100Y43,甲公司\n", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["load"]["counts"]["inserted"], 1, "{}", r.text);
}

/// Art. 27 ¶3 (变更): the provider's head narrows a running grant — an item removed, another no longer returned —
/// only with the negotiation recorded, and it takes effect once the authority records the filing, from the date it
/// names, as the grant's next terms version. Nothing it proposes can widen the grant.
async fn a_running_service_narrows_only_after_negotiation_and_filing(backend: Backend) {
    let Running { app, grant, system, path, state } = running_grant(backend).await;
    let (gat_head, gat_clerk, reviewer) = (
        Client::login(&app, "gat.head").await,
        Client::login(&app, "gat.clerk").await,
        Client::login(&app, "reviewer").await,
    );
    let on = (common::people::today() + Duration::days(3)).to_string();
    let narrowing = json!({"action": "propose_narrowing", "reason": "手机号码不再对外提供",
        "negotiation": "2026年12月2日与人社厅就业处会商，对方同意", "effective_on": on,
        "narrow_items": {"sjhm": "drop", "yx": "remove"}});
    assert_eq!(gat_clerk.post(&state, narrowing.clone()).await.status, StatusCode::FORBIDDEN, "the head proposes");
    let r = gat_head
        .post(
            &state,
            json!({"action": "propose_narrowing", "reason": "x", "narrow_items": {"hjdz": "keep", "yhkh": "drop"}}),
        )
        .await;
    assert_eq!(
        r.problems(),
        [
            ("negotiation", "required"),
            ("effective_on", "required"),
            ("narrow_items.hjdz", "not_narrower"),
            ("narrow_items.yhkh", "not_granted")
        ],
        "a drop item cannot be widened to keep: {}",
        r.text
    );
    // The console's form sends each item as narrow.<code>; problems come back marked on the page.
    let page = gat_head.get(&format!("/console/grants/{grant}")).await;
    assert!(page.text.contains("id=\"narrowing-form\"") && page.text.contains("name=\"narrow.yx\""), "{}", page.text);
    let csrf = gat_head.csrf.clone().unwrap();
    let console = format!("/console/grants/{grant}/state");
    let fields =
        [("csrf_token", csrf.as_str()), ("action", "propose_narrowing"), ("reason", "收窄"), ("narrow.yx", "remove")];
    let back = gat_head.form(&console, &fields).await;
    assert_eq!(back.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", back.text);
    assert!(back.text.contains("请记录协商情况") && back.text.contains("请填写变更生效日期"), "{}", back.text);
    let r = gat_head.post(&state, narrowing.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(gat_head.post(&state, narrowing.clone()).await.status, StatusCode::CONFLICT, "one at a time");
    assert_eq!(
        grant_duties(&reviewer, &grant).await,
        [("record_filing".into(), "authority_reviewer".into(), String::new())]
    );
    let row = system.get(&path).await.body["rows"][0].clone();
    assert!(row["sjhm"].is_string() && row["yx"].is_string(), "nothing changes before the filing: {row}");

    let r = reviewer.post(&state, json!({"action": "record_filing", "reason": "浙数共备〔2026〕5号"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["scheduled_narrowing"]["effective_on"], on, "{}", r.text);
    assert_eq!(r.body["terms_version"], 1, "not before its date");
    assert!(grant_duties(&reviewer, &grant).await.is_empty());
    let row = system.get(&path).await.body["rows"][0].clone();
    assert!(row["sjhm"].is_string(), "{row}");

    app.clock.advance(Duration::days(3));
    let after = system.get(&path).await;
    let row = after.body["rows"][0].clone();
    assert!(row["xm"].is_string() && row.get("sjhm").is_none() && row.get("yx").is_none(), "{}", after.text);
    let head = Client::login(&app, "gat.head").await;
    let g = head.get(&format!("/api/v1/grants/{grant}")).await;
    assert_eq!((&g.body["terms_version"], &g.body["scheduled_narrowing"]), (&json!(2), &Value::Null), "{}", g.text);
    let items: Vec<&str> = g.body["items"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert!(!items.contains(&"yx"), "{items:?}");
    // The next step stores the narrowed terms (the store accepts narrowing with the history appended).
    let r = head.post(&state, json!({"action": "suspend", "reason": "核查"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["past_terms"].as_array().unwrap().len(), 1);
}

/// Art. 25 ¶2 (R-QC-5): 人社厅 already holds ID numbers with bank-card numbers and addresses (level 3) from one
/// entry; a grant of another entry returning ID numbers and addresses as held would let it join three sensitive
/// attributes of two sources person by person (the threshold). The grant is made but not usable: the provider and the authority see the combination, the
/// authority's reviewer (nobody else) acknowledges it, and only then does data flow.
async fn an_aggregation_risk_blocks_the_grant_until_the_authority_acknowledges_it(backend: Backend) {
    let app = spawn(backend).await;
    let mut accounts = people_entry();
    accounts["name"] = json!("社会保障卡发放信息");
    accounts["resource_code"] = json!("330000-GAT-0199");
    let bank = common::publish(&app, "gat", accounts).await;
    let first = granted(
        &app,
        &bank,
        "rst",
        "service_api",
        &["sfzh", "yhkh", "hjdz"],
        json!({"items": {"sfzh": "keep", "yhkh": "keep", "hjdz": "keep"},
        "valid_until": (common::people::today() + Duration::days(30)).to_string()}),
    )
    .await;
    let gat_head = Client::login(&app, "gat.head").await;
    let g = gat_head.get(&format!("/api/v1/grants/{first}")).await;
    assert_eq!(g.body["status"], "active", "one source joins nothing: {}", g.text);

    let people = hosted_entry(&app).await;
    let terms = json!({"items": {"sfzh": "keep", "hjdz": "keep", "xm": "mask"},
        "valid_until": (common::people::today() + Duration::days(30)).to_string()});
    let second = granted(&app, &people, "rst", "service_api", &["sfzh", "hjdz", "xm"], terms).await;
    let system = api_key(&app, "rst", "就业服务系统").await;
    let path = format!("/api/v1/data/{second}/records/{}", id_number("330106", 1));
    let g = gat_head.get(&format!("/api/v1/grants/{second}")).await;
    assert_eq!(g.body["status"], "awaiting_acknowledgement", "{}", g.text);
    let refused = system.get(&path).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "aggregation_unacknowledged"),
        "{}",
        refused.text
    );
    let reviewer = Client::login(&app, "reviewer").await;
    assert!(reviewer.get("/api/v1/notifications").await.text.contains("数据汇聚风险待确认"));
    assert_eq!(
        grant_duties(&reviewer, &second).await,
        [("acknowledge_aggregation".into(), "authority_reviewer".into(), String::new())]
    );
    let page = gat_head.get(&format!("/console/grants/{second}")).await;
    assert!(
        page.text.contains("id=\"aggregation-warning\"") && page.text.contains("关联 2 个目录的 3 项敏感数据"),
        "{}",
        page.text
    );
    assert!(page.text.contains("银行卡号") && page.text.contains("户籍地址"), "the combination is spelled out");
    let api = gat_head.get(&format!("/api/v1/grants/{second}")).await;
    assert_eq!(api.body["aggregation"]["identifier"], "id_number", "{}", api.text);
    assert_eq!(api.body["aggregation"]["combination"].as_array().unwrap().len(), 3);

    let state = format!("/api/v1/grants/{second}/state");
    let ack = json!({"action": "acknowledge_aggregation", "reason": "已要求人社厅在业务库中分库存储并加密"});
    assert_eq!(gat_head.post(&state, ack.clone()).await.status, StatusCode::FORBIDDEN, "the authority acknowledges");
    let r = reviewer.post(&state, ack.clone()).await;
    assert_eq!((r.status, &r.body["status"]), (StatusCode::OK, &json!("active")), "{}", r.text);
    assert!(grant_duties(&reviewer, &second).await.is_empty());
    assert_eq!(system.get(&path).await.status, StatusCode::OK, "data flows once acknowledged");
    assert_eq!(reviewer.post(&state, ack).await.status, StatusCode::CONFLICT, "acknowledged once");
}

/// Art. 35 ¶3 (R-QC-4): the requester reports a leak on its side with the emergency plan it started; the two
/// grants it names are suspended in the same step (access refused at once), the authority and the provider are
/// told, the requester is recorded as responsible (Art. 34 ¶2); progress and closure follow; a closed report
/// takes no more steps. Refusals first.
async fn an_incident_report_suspends_every_affected_grant_and_tells_the_authority(backend: Backend) {
    let Running { app, grant, system, path, .. } = running_grant(backend).await;
    let gat_head = Client::login(&app, "gat.head").await;
    let entry = gat_head.get(&format!("/api/v1/grants/{grant}")).await.body["entry_id"].as_str().unwrap().to_owned();
    let second = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let foreign = granted(&app, &entry, "mzt", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let rst_clerk = Client::login(&app, "rst.clerk").await;
    let report = json!({"title": "就业服务系统接口凭证泄露", "description": "运维人员将凭证写入公开代码库，发现有外部调用",
        "found_at": "2026-12-01 09:30", "severity": "significant", "grants": [grant, second], "on_requester_side": true,
        "emergency_plan": "启动本厅《数据安全事件应急预案》三级响应：吊销凭证、封堵接口、排查调用记录"});
    let r = rst_clerk.post("/api/v1/incidents", json!({"grants": [foreign], "severity": "catastrophic"})).await;
    assert_eq!(
        r.problems(),
        [
            ("title", "required"),
            ("description", "required"),
            ("found_at", "required"),
            ("severity", "unknown_value"),
            ("emergency_plan", "required")
        ]
    );
    let mut other = report.clone();
    other["grants"] = json!([grant, foreign]);
    let r = rst_clerk.post("/api/v1/incidents", other).await;
    assert_eq!(r.problems(), [(format!("grants.{foreign}").as_str(), "not_a_party")], "another department's grant");
    assert_eq!(system.get(&path).await.status, StatusCode::OK, "nothing suspended by a refused report");

    let r = rst_clerk.post("/api/v1/incidents", report).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let incident = r.body["id"].as_str().unwrap().to_owned();
    assert!(common::is_number(r.body["number"].as_str().unwrap(), "SJ"), "{}", r.text);
    assert_eq!(r.body["responsible"].as_array().unwrap().len(), 1, "the requester bears the responsibility");
    for p in [path.clone(), format!("/api/v1/data/{second}/records/{}", id_number("330106", 1))] {
        assert_eq!(system.get(&p).await.code(), "grant_suspended", "{p}");
    }
    assert_eq!(gat_head.get(&format!("/api/v1/grants/{foreign}")).await.body["status"], "active");
    let reviewer = Client::login(&app, "reviewer").await;
    let told = reviewer.get("/api/v1/notifications").await;
    assert!(told.text.contains("报告较大安全事件：就业服务系统接口凭证泄露"), "{}", told.text);
    assert!(gat_head.get("/api/v1/notifications").await.text.contains("因安全事件暂停共享授权"));
    let seen = reviewer.get(&format!("/api/v1/incidents/{incident}")).await;
    assert_eq!(seen.status, StatusCode::OK, "the authority reads it: {}", seen.text);
    assert_eq!(reviewer.get("/api/v1/incidents").await.body.as_array().unwrap().len(), 1);
    assert_eq!(gat_head.get(&format!("/api/v1/incidents/{incident}")).await.status, StatusCode::FORBIDDEN);

    let steps = format!("/api/v1/incidents/{incident}/steps");
    assert_eq!(gat_head.post(&steps, json!({"step": "progress", "text": "x"})).await.status, StatusCode::FORBIDDEN);
    let r = rst_clerk.post(&steps, json!({"step": "progress", "text": "已吊销凭证，排查发现外部调用 37 次"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = rst_clerk.post(&steps, json!({"step": "close", "text": "已消除隐患，相关人员已处理"})).await;
    assert_eq!((r.status, &r.body["closed"]), (StatusCode::OK, &json!(true)), "{}", r.text);
    let steps_done: Vec<&str> =
        r.body["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps_done, ["report", "progress", "close"]);
    assert_eq!(rst_clerk.post(&steps, json!({"step": "progress", "text": "补充"})).await.status, StatusCode::CONFLICT);
    assert!(reviewer.get("/api/v1/notifications").await.text.contains("安全事件已结案"));
    let page = reviewer.get(&format!("/console/incidents/{incident}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("已结案")
            && page.text.contains("承担安全管理责任")
            && page.text.contains("浙江省人力资源和社会保障厅"),
        "{}",
        page.text
    );
    let list = Client::login(&app, "rst.clerk").await.get("/console/incidents").await;
    assert!(
        list.text.contains("就业服务系统接口凭证泄露") && list.text.contains("id=\"incident-form\""),
        "{}",
        list.text
    );
}

/// Art. 27 ¶2: the provider suspends a requester's access — every grant it gave that requester — in one step; each
/// refuses at once and the refusal is recorded; another requester's grant runs on.
async fn all_of_a_requesters_grants_are_suspended_in_one_step(backend: Backend) {
    let Running { app, grant, system, path, state } = running_grant(backend).await;
    let gat_head = Client::login(&app, "gat.head").await;
    let entry = gat_head.get(&format!("/api/v1/grants/{grant}")).await.body["entry_id"].as_str().unwrap().to_owned();
    let second = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let other = granted(&app, &entry, "mzt", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let key = id_number("330106", 1);
    let second_path = format!("/api/v1/data/{second}/records/{key}");
    assert_eq!(system.get(&second_path).await.status, StatusCode::OK);
    let by = (common::people::today() + Duration::days(15)).to_string();
    let r = gat_head
        .post(
            &state,
            json!({"action": "suspend", "reason": "发现将数据提供给第三方", "misuse": "third_party",
                             "rectify_by": by, "all_of_requester": true}),
        )
        .await;
    assert_eq!((r.status, &r.body["status"]), (StatusCode::OK, &json!("suspended")), "{}", r.text);
    for p in [&path, &second_path] {
        let refused = system.get(p).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::FORBIDDEN, "grant_suspended"),
            "{p}: {}",
            refused.text
        );
    }
    let second_view = gat_head.get(&format!("/api/v1/grants/{second}")).await;
    assert_eq!(second_view.body["status"], "suspended", "{}", second_view.text);
    assert_eq!(gat_head.get(&format!("/api/v1/grants/{other}")).await.body["status"], "active", "another requester's");
    let usage = gat_head.get(&format!("/api/v1/usage?grant_id={second}")).await;
    assert!(usage.text.contains("grant_suspended"), "the refused access is recorded: {}", usage.text);
    let told = Client::login(&app, "rst.head").await.get("/api/v1/notifications").await;
    assert!(told.text.contains("同时暂停了该需求部门在提供部门的其他 1 项授权"), "{}", told.text);
    // Each grant owes its own rectification (and is lifted on its own).
    let rst_head = Client::login(&app, "rst.head").await;
    let owed = rst_head.get("/api/v1/duties").await;
    let rectify = owed.body.as_array().unwrap().iter().filter(|d| d["kind"] == "rectify").count();
    assert_eq!(rectify, 2, "{}", owed.text);
}

/// Art. 27 ¶1: the provider states how the data is to be disposed of; the requester's head declares the purpose
/// met, which ends the grant; the requester then owes a confirmation (method, date, person, evidence), the provider
/// its acknowledgement or a return; a confirmation missed past its due date is overdue. Refusals first: the
/// provider cannot confirm for the requester, nothing is confirmed while the data is still in use.
async fn the_requester_disposes_of_the_data_and_the_provider_acknowledges(backend: Backend) {
    let Running { app, grant, system, path, state } = running_grant(backend).await;
    let (gat_clerk, rst_clerk, rst_head) = (
        Client::login(&app, "gat.clerk").await,
        Client::login(&app, "rst.clerk").await,
        Client::login(&app, "rst.head").await,
    );
    let today = common::people::today().to_string();
    let r = gat_clerk.post(&state, json!({"action": "require_disposal", "disposal_method": "burn"})).await;
    assert_eq!(r.problems(), [("disposal_method", "unknown_value"), ("disposal_note", "required")]);
    let r = gat_clerk
        .post(&state, json!({"action": "require_disposal", "disposal_method": "delete", "disposal_note": "删除业务库及备份中的全部数据，出具销毁记录"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(rst_clerk.get("/api/v1/notifications").await.text.contains("删除业务库及备份中的全部数据"));
    let confirm = json!({"action": "confirm_disposal", "disposal_method": "delete", "done_on": today,
                         "responsible": "李明（信息科科长）", "evidence": "销毁记录 XH-2026-011，监销人王芳"});
    assert_eq!(gat_clerk.post(&state, confirm.clone()).await.status, StatusCode::FORBIDDEN, "the requester confirms");
    let r = rst_clerk.post(&state, confirm.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "still in use: {}", r.text);
    let end = json!({"action": "declare_ended", "ended_because": "purpose_met", "reason": "2026年度认定工作已完成"});
    assert_eq!(rst_clerk.post(&state, end.clone()).await.status, StatusCode::FORBIDDEN, "the head declares");
    let r = rst_head.post(&state, json!({"action": "declare_ended"})).await;
    assert_eq!(r.problems(), [("ended_because", "required"), ("reason", "required")]);
    assert!(!grant_duties(&rst_clerk, &grant).await.iter().any(|d| d.0 == "dispose"), "nothing owed while in use");

    let r = rst_head.post(&state, end).await;
    assert_eq!((r.status, &r.body["status"]), (StatusCode::OK, &json!("terminated")), "{}", r.text);
    let refused = system.get(&path).await;
    assert_eq!(refused.code(), "grant_terminated", "{}", refused.text);
    let owed = grant_duties(&rst_clerk, &grant).await;
    assert!(owed.iter().any(|d| d.0 == "dispose" && d.1 == "clerk" && !d.2.is_empty()), "{owed:?}");
    let wrong = json!({"action": "confirm_disposal", "disposal_method": "return", "done_on": "2099-01-01",
                       "responsible": "", "evidence": "x"});
    let r = rst_clerk.post(&state, wrong).await;
    assert_eq!(
        r.problems(),
        [("disposal_method", "not_required_method"), ("done_on", "in_future"), ("responsible", "required")]
    );
    let r = rst_clerk.post(&state, confirm.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(grant_duties(&rst_clerk, &grant).await.iter().all(|d| d.0 != "dispose"), "confirmed");
    assert_eq!(
        grant_duties(&gat_clerk, &grant).await.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(),
        ["acknowledge_disposal"]
    );
    assert_eq!(rst_clerk.post(&state, confirm.clone()).await.status, StatusCode::CONFLICT, "confirmed once");

    // Sent back: owed again; missed, overdue.
    let r = gat_clerk.post(&state, json!({"action": "return_disposal"})).await;
    assert_eq!(r.problems(), [("reason", "required")]);
    let r = gat_clerk.post(&state, json!({"action": "return_disposal", "reason": "未销毁备份数据"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.clock.advance(Duration::days(20));
    let rst_clerk = Client::login(&app, "rst.clerk").await;
    let late = rst_clerk.get("/api/v1/duties").await;
    let duty = late
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["subject_id"] == grant.as_str() && d["kind"] == "dispose")
        .cloned();
    let duty = duty.unwrap_or_else(|| panic!("{}", late.text));
    assert_eq!((&duty["urgency"], &duty["late"]), (&json!("overdue"), &json!(true)), "{duty}");
    let mut again = confirm.clone();
    again["evidence"] = json!("补充销毁备份，销毁记录 XH-2026-012");
    assert_eq!(rst_clerk.post(&state, again).await.status, StatusCode::OK);
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let r = gat_clerk.post(&state, json!({"action": "acknowledge_disposal"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(grant_duties(&gat_clerk, &grant).await.is_empty());
    let page = gat_clerk.get(&format!("/console/grants/{grant}")).await;
    assert!(page.text.contains("处置已确认") && page.text.contains("XH-2026-012"), "{}", page.text);
}

/// Art. 29 ¶2: the requester records, period by period, how it used a grant (scenario, process, results, storage,
/// destruction). A period's record is a duty from the day after it ends, due 10 working days later, overdue when
/// missed; the provider reads the records, other departments cannot; the database refuses to change or delete one.
async fn each_period_of_use_owes_a_record_that_is_never_changed(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let today = common::people::today();
    // 100 days: at least two periods, the last one distinct from the first.
    let mut terms = standard_grant();
    terms["valid_until"] = json!((today + Duration::days(100)).to_string());
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, terms).await;
    let records = format!("/api/v1/grants/{grant}/use-records");
    let rst_clerk = Client::login(&app, "rst.clerk").await;
    let view = rst_clerk.get(&records).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert_eq!(view.body["period_months"], 3);
    let periods = view.body["periods"].as_array().unwrap().clone();
    // Valid for 30 days from today: the rest of this quarter, then the days of the next up to the last one.
    assert!(periods.len() >= 2 && periods.last().unwrap()["last"] == true, "{periods:?}");
    let first = periods[0].clone();
    assert_eq!(first["start"], today.to_string());
    let record = |start: &Value| {
        json!({"period_start": start, "scenario": "就业困难人员认定", "process": "就业服务系统按身份核验，共 120 次",
               "results": "认定 36 人，平均办理时间缩短 2 天", "storage": "不落地，仅保存核验结果",
               "destruction": "无留存数据，无需销毁"})
    };
    // Refusals first: a period that has not ended, a made-up period, a missing field; the provider does not record.
    let r = rst_clerk.post(&records, record(&first["start"])).await;
    assert_eq!(r.problems(), [("period_start", "not_ended")], "{}", r.text);
    let r = rst_clerk.post(&records, json!({"period_start": "2026-02-30", "scenario": "x"})).await;
    assert_eq!(
        r.problems(),
        [
            ("period_start", "date_format"),
            ("process", "required"),
            ("results", "required"),
            ("storage", "required"),
            ("destruction", "required")
        ]
    );
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let end = chrono::NaiveDate::parse_from_str(first["end"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    assert_eq!(gat_clerk.post(&records, record(&first["start"])).await.status, StatusCode::FORBIDDEN);
    assert!(
        !grant_duties(&rst_clerk, &grant).await.iter().any(|d| d.0 == "record_use"),
        "nothing is owed before the period ends"
    );

    // The day after the period ends the record is owed, with its due date.
    app.clock.advance(Duration::days((end - today).num_days() + 1));
    let rst_clerk = Client::login(&app, "rst.clerk").await;
    let owed = grant_duties(&rst_clerk, &grant).await;
    let due = first["due_date"].as_str().unwrap().to_owned();
    assert_eq!(owed, [("record_use".into(), "clerk".into(), due)], "{owed:?}");
    let r = rst_clerk.post(&records, record(&first["start"])).await;
    assert_eq!((r.status, &r.body["period_end"]), (StatusCode::CREATED, &first["end"]), "{}", r.text);
    assert!(grant_duties(&rst_clerk, &grant).await.iter().all(|d| d.0 != "record_use"), "recorded");

    // The provider reads them; another department cannot.
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let read = gat_clerk.get(&records).await;
    assert_eq!(read.body["records"].as_array().unwrap().len(), 1, "{}", read.text);
    assert_eq!(read.body["periods"][0]["recorded"], true);
    assert!(gat_clerk.get("/api/v1/notifications").await.text.contains("使用情况记录"));
    let jyt = Client::login(&app, "jyt.clerk").await;
    assert_eq!(jyt.get(&records).await.status, StatusCode::FORBIDDEN);
    let page = gat_clerk.get(&format!("/console/grants/{grant}")).await;
    assert!(page.text.contains("认定 36 人，平均办理时间缩短 2 天") && page.text.contains("已记录"), "{}", page.text);
    assert!(!page.text.contains("id=\"use-record-form\""), "the provider reads, it does not record");
    // The requester's page offers the form; a form with problems comes back marked, what was typed kept.
    let form = format!("/console/grants/{grant}/use-records");
    let csrf = rst_clerk.csrf.clone().unwrap();
    let fields =
        [("csrf_token", csrf.as_str()), ("period_start", first["start"].as_str().unwrap()), ("scenario", "复核")];
    let back = rst_clerk.form(&form, &fields).await;
    assert_eq!(back.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", back.text);
    assert!(back.text.contains("使用过程不能为空") && back.text.contains(">复核</textarea>"), "{}", back.text);

    // Kept as written: the database refuses to change or delete a record.
    let id = r.body["id"].as_str().unwrap();
    let update = format!("UPDATE use_records SET document = '{{}}' WHERE id = '{id}'");
    assert!(common::tamper(backend, &app.db_url, &[&update]).await.is_err(), "an UPDATE must be refused");
    let delete = format!("DELETE FROM use_records WHERE id = '{id}'");
    assert!(common::tamper(backend, &app.db_url, &[&delete]).await.is_err(), "a DELETE must be refused");

    // The final period's record, missed: overdue after its due date.
    let last = periods.last().unwrap().clone();
    let last_end = chrono::NaiveDate::parse_from_str(last["end"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    app.clock.advance(Duration::days((last_end - end).num_days() + 29));
    let rst_clerk = Client::login(&app, "rst.clerk").await;
    let late = rst_clerk.get("/api/v1/duties").await;
    let duty = late
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["subject_id"] == grant.as_str() && d["kind"] == "record_use")
        .unwrap_or_else(|| panic!("{}", late.text))
        .clone();
    assert_eq!((&duty["urgency"], &duty["late"]), (&json!("overdue"), &json!(true)), "{duty}");
}

/// Art. 25 ¶1 (R-DEL-6): the requester asks for more items, more rows, a further purpose and a third party; its
/// head sends it; the provider's clerk drafts a decision that grants less than was asked and its head gives it;
/// only then does the grant change, as its second terms version, the first kept. Refusals first: no one else
/// files or decides, nothing is approved that was not asked, no step is skipped, and no route edits the terms.
async fn a_grant_widens_only_by_an_approved_change_request(backend: Backend) {
    let Running { app, grant, system, path, .. } = running_grant(backend).await;
    let (rst_clerk, rst_head, gat_clerk, gat_head) = (
        Client::login(&app, "rst.clerk").await,
        Client::login(&app, "rst.head").await,
        Client::login(&app, "gat.clerk").await,
        Client::login(&app, "gat.head").await,
    );
    let (changes, current) =
        (format!("/api/v1/grants/{grant}/changes"), format!("/api/v1/grants/{grant}/changes/current"));
    let wenzhou = format!("/api/v1/data/{grant}/records/{}", id_number("330302", 3));
    let request = json!({
        "add_items": ["yhkh", "hjdz"], "add_prefixes": ["3303"], "purpose": "就业援助补贴发放核验",
        "third_party": {"name": "杭州市就业管理服务中心", "items": ["xm", "yhkh"], "purpose": "补贴发放"},
        "reasons": "就业援助补贴扩大至温州，需核对银行卡号", "legal_basis": "《就业促进法》第五十二条"
    });
    let before = system.get(&path).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    assert!(before.body["rows"][0]["xm"].is_string(), "{}", before.text);
    assert!(before.body["rows"][0].get("yhkh").is_none(), "not granted yet: {}", before.text);
    assert_eq!(system.get(&wenzhou).await.status, StatusCode::NOT_FOUND, "outside the row scope");

    // Refusals: the provider does not file, no route edits the terms, a request names every problem at once.
    assert_eq!(gat_clerk.post(&changes, request.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(system.post(&changes, request.clone()).await.status, StatusCode::FORBIDDEN, "people file, not keys");
    let edit = gat_head
        .call(reqwest::Method::PUT, &format!("/api/v1/grants/{grant}"), json!({"items": {"yhkh": "keep"}}))
        .await;
    assert_eq!(edit.status, StatusCode::METHOD_NOT_ALLOWED, "{}", edit.text);
    let r = rst_clerk
        .post(&changes, json!({"add_items": ["xm", "nope"], "all_rows": true, "add_prefixes": ["3303"]}))
        .await;
    assert_eq!(
        r.problems(),
        [
            ("add_items.xm", "already_granted"),
            ("add_items.nope", "not_in_entry"),
            ("add_prefixes", "with_all_rows"),
            ("reasons", "required"),
            ("legal_basis", "required")
        ]
    );
    let r = gat_clerk.post(&current, json!({"step": "draft_decision"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "nothing to decide: {}", r.text);

    let r = rst_clerk.post(&changes, request.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["change_requests"][0]["stage"], "filed");
    assert_eq!(r.body["terms_version"], 1, "filing changes nothing");
    assert_eq!(rst_clerk.post(&changes, request.clone()).await.status, StatusCode::CONFLICT, "one at a time");
    assert_eq!(grant_duties(&rst_head, &grant).await, [("send_change".into(), "work_unit_head".into(), String::new())]);
    assert_eq!(rst_clerk.post(&current, json!({"step": "send"})).await.status, StatusCode::FORBIDDEN, "the head sends");
    let decision = json!({"step": "draft_decision", "decision": {"decision": "approve", "items": {"yhkh": "mask"},
        "add_prefixes": ["3303"], "purpose": true, "third_party_items": ["xm", "yhkh"], "reason": "同意，户籍地址不予提供"}});
    let r = gat_clerk.post(&current, decision.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "not sent yet: {}", r.text);

    let r = rst_head.post(&current, json!({"step": "send", "note": "同意报送"})).await;
    assert_eq!((r.status, &r.body["change_requests"][0]["stage"]), (StatusCode::OK, &json!("sent")), "{}", r.text);
    let due = grant_duties(&gat_clerk, &grant).await;
    assert_eq!((due.len(), due[0].0.as_str(), due[0].1.as_str()), (1, "decide_change", "clerk"), "{due:?}");
    assert!(!due[0].2.is_empty(), "the answer has a due date");
    let told = gat_clerk.get("/api/v1/notifications").await;
    assert!(told.text.contains("收到变更申请"), "{}", told.text);
    assert_eq!(gat_head.post(&current, json!({"step": "decide"})).await.status, StatusCode::CONFLICT, "draft first");
    assert_eq!(rst_clerk.post(&current, decision.clone()).await.status, StatusCode::FORBIDDEN);
    let wider = json!({"step": "draft_decision", "decision": {"decision": "approve",
        "items": {"yhkh": "keep", "sjhm": "keep"}, "all_rows": true, "third_party_items": ["sfzh"]}});
    let r = gat_clerk.post(&current, wider).await;
    assert_eq!(
        r.problems(),
        [("items.sjhm", "not_requested"), ("all_rows", "not_requested"), ("third_party_items.sfzh", "not_requested")]
    );
    let r = gat_clerk.post(&current, json!({"step": "draft_decision", "decision": {"decision": "refuse"}})).await;
    assert_eq!(r.problems(), [("reason", "required")]);
    let r = gat_clerk.post(&current, decision).await;
    assert_eq!((r.status, &r.body["change_requests"][0]["stage"]), (StatusCode::OK, &json!("drafted")), "{}", r.text);
    assert_eq!(r.body["terms_version"], 1, "a draft changes nothing");
    let row = system.get(&path).await.body["rows"][0].clone();
    assert!(row["xm"].is_string() && row.get("yhkh").is_none(), "{row}");
    assert_eq!(
        gat_clerk.post(&current, json!({"step": "decide"})).await.status,
        StatusCode::FORBIDDEN,
        "the head decides"
    );

    let r = gat_head.post(&current, json!({"step": "decide", "note": "同意"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let g = &r.body;
    assert_eq!((&g["terms_version"], &g["change_requests"][0]["outcome"]), (&json!(2), &json!("approved")));
    let items: Vec<(&str, &str)> = g["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["code"].as_str().unwrap(), i["masking"].as_str().unwrap()))
        .collect();
    assert!(items.contains(&("yhkh", "mask")) && items.contains(&("hjdz", "drop")), "narrower than asked: {items:?}");
    assert_eq!(g["row_scope"]["prefixes"], json!(["3301", "3303"]));
    assert_eq!(g["further_purposes"], json!(["就业援助补贴发放核验"]));
    assert_eq!(g["third_parties"][0]["name"], "杭州市就业管理服务中心");
    assert_eq!(g["third_parties"][0]["items"], json!(["xm", "yhkh"]));
    assert_eq!(g["past_terms"][0]["version"], 1);
    assert!(!g["past_terms"][0]["terms"]["items"].to_string().contains("yhkh"), "the first version is kept as it was");
    assert!(grant_duties(&gat_head, &grant).await.is_empty(), "answered");
    let told = rst_clerk.get("/api/v1/notifications").await;
    assert!(told.text.contains("授权条款已更新为第 2 版"), "{}", told.text);

    // The data plane follows at once: the new item (masked) and the new rows.
    let after = system.get(&path).await;
    assert_eq!(after.body["rows"][0]["yhkh"], "622202*********0001", "{}", after.text);
    assert_eq!(system.get(&wenzhou).await.status, StatusCode::OK, "the row scope was widened");
    assert_eq!(gat_head.post(&current, json!({"step": "decide"})).await.status, StatusCode::CONFLICT, "decided once");
}

/// Art. 27 ¶3: the provider does not end a running service on its own: its head records the negotiation with the
/// requester and the date, the same-level authority records the filing (a duty until it does), and the service
/// ends on that date, not before. Refusals first.
async fn a_running_service_ends_only_after_negotiation_and_filing(backend: Backend) {
    let Running { app, grant, system, path, state } = running_grant(backend).await;
    let (gat_head, gat_clerk, reviewer) = (
        Client::login(&app, "gat.head").await,
        Client::login(&app, "gat.clerk").await,
        Client::login(&app, "reviewer").await,
    );
    let today = common::people::today();
    let on = (today + Duration::days(5)).to_string();

    let r = gat_head.post(&state, json!({"action": "terminate", "reason": "系统下线"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "the provider cannot end a running service on its own: {}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("第二十七条"), "{}", r.text);
    let ending = json!({"action": "propose_termination", "reason": "数据源系统整合下线",
                        "negotiation": "2026年12月1日与人社厅就业处会商，对方同意改用省级新接口", "effective_on": on});
    assert_eq!(gat_clerk.post(&state, ending.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(reviewer.post(&state, ending.clone()).await.status, StatusCode::FORBIDDEN, "the provider proposes");
    let r = gat_head
        .post(&state, json!({"action": "propose_termination", "reason": "下线", "effective_on": "2020-01-01"}))
        .await;
    assert_eq!(r.problems(), [("negotiation", "required"), ("effective_on", "in_past")]);
    let r = gat_head.post(&state, json!({"action": "record_filing"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "only the authority records the filing: {}", r.text);
    assert_eq!(
        reviewer.post(&state, json!({"action": "record_filing"})).await.status,
        StatusCode::CONFLICT,
        "nothing to file"
    );
    assert_eq!(system.get(&path).await.status, StatusCode::OK);

    let r = gat_head.post(&state, ending.clone()).await;
    assert_eq!((r.status, &r.body["status"]), (StatusCode::OK, &json!("active")), "{}", r.text);
    assert_eq!(gat_head.post(&state, ending.clone()).await.status, StatusCode::CONFLICT, "one proposal at a time");
    assert_eq!(system.get(&path).await.status, StatusCode::OK, "nothing ends before the filing");
    assert_eq!(
        grant_duties(&reviewer, &grant).await,
        [("record_filing".into(), "authority_reviewer".into(), String::new())]
    );
    let page = reviewer.get(&format!("/console/grants/{grant}")).await;
    assert!(page.text.contains("id=\"filing-form\"") && page.text.contains("对方同意改用省级新接口"), "{}", page.text);
    assert!(!gat_head.get(&format!("/console/grants/{grant}")).await.text.contains("id=\"terminate-form\""));

    let r = reviewer.post(&state, json!({"action": "record_filing", "reason": "浙数共备〔2026〕3号"})).await;
    assert_eq!((r.status, &r.body["status"]), (StatusCode::OK, &json!("active")), "{}", r.text);
    assert!(grant_duties(&reviewer, &grant).await.is_empty(), "the filing is recorded");
    assert_eq!(system.get(&path).await.status, StatusCode::OK, "it takes effect on its date");
    let told = Client::login(&app, "rst.clerk").await.get("/api/v1/notifications").await;
    assert!(told.text.contains(&format!("自 {on} 起终止")), "{}", told.text);

    app.clock.advance(Duration::days(5));
    let ended = system.get(&path).await;
    assert_eq!((ended.status, ended.code()), (StatusCode::FORBIDDEN, "grant_terminated"), "{}", ended.text);
    let head = Client::login(&app, "gat.head").await;
    assert_eq!(head.get(&format!("/api/v1/grants/{grant}")).await.body["status"], "terminated");
}

/// 人社厅's running grant on 公安厅's hosted entry, its business system, one record's lookup path and the grant's
/// state route.
struct Running {
    app: TestApp,
    grant: String,
    system: Client,
    path: String,
    state: String,
}

async fn running_grant(backend: Backend) -> Running {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let system = api_key(&app, "rst", "就业服务系统").await;
    let path = format!("/api/v1/data/{grant}/records/{}", id_number("330106", 1));
    let state = format!("/api/v1/grants/{grant}/state");
    Running { app, grant, system, path, state }
}

/// The open duties of `client` on the grant, as (kind, role, due date).
async fn grant_duties(client: &Client, grant: &str) -> Vec<(String, String, String)> {
    let r = client.get("/api/v1/duties").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["subject_id"] == grant)
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["role"].as_str().unwrap_or_default().to_owned(),
                d["due_date"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Art. 27 ¶2: the provider suspends a requester's access for misuse and sets a rectification deadline; the
/// requester's head owes the rectification by then (a duty, overdue after it), reports it, and the provider's head
/// then owes a decision: lift the suspension or terminate. Refusals first.
async fn a_suspension_for_misuse_owes_a_rectification_by_its_deadline(backend: Backend) {
    let Running { app, grant, system, path, state } = running_grant(backend).await;
    let (gat_head, rst_head, rst_clerk) = (
        Client::login(&app, "gat.head").await,
        Client::login(&app, "rst.head").await,
        Client::login(&app, "rst.clerk").await,
    );
    let today = common::people::today();
    let by = (today + Duration::days(10)).to_string();

    // Grounds and deadline go together, the deadline is in the future and at most 90 days away.
    let r =
        gat_head.post(&state, json!({"action": "suspend", "reason": "超范围查询", "misuse": "scope_exceeded"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.problems(), [("rectify_by", "required")]);
    let r = gat_head
        .post(&state, json!({"action": "suspend", "reason": "", "misuse": "resold", "rectify_by": today.to_string()}))
        .await;
    assert_eq!(r.problems(), [("reason", "required"), ("misuse", "unknown_value"), ("rectify_by", "not_future")]);
    let far = (today + Duration::days(91)).to_string();
    let r = gat_head
        .post(&state, json!({"action": "suspend", "reason": "x", "misuse": "third_party", "rectify_by": far}))
        .await;
    assert_eq!(r.problems(), [("rectify_by", "too_long")]);
    // Nothing to rectify while the grant runs; nobody but the requester's head reports.
    let r = rst_head.post(&state, json!({"action": "rectify", "reason": "已整改"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(system.get(&path).await.status, StatusCode::OK, "the refused suspensions changed nothing");

    let r = gat_head
        .post(
            &state,
            json!({"action": "suspend", "reason": "发现向未授权处室提供数据", "misuse": "third_party", "rectify_by": by}),
        )
        .await;
    assert_eq!(r.body["status"], "suspended", "{}", r.text);
    let refused = system.get(&path).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "grant_suspended"), "at once");
    assert_eq!(grant_duties(&rst_head, &grant).await, [("rectify".into(), "work_unit_head".into(), by.clone())]);
    assert!(grant_duties(&rst_clerk, &grant).await.is_empty(), "the head owes it, not the clerk");
    let told = rst_clerk.get("/api/v1/notifications").await;
    assert!(told.text.contains("擅自向第三方提供") && told.text.contains(&by), "{}", told.text);
    let page = rst_head.get(&format!("/console/grants/{grant}")).await;
    assert!(page.text.contains("id=\"rectify-form\"") && page.text.contains("因擅自向第三方提供暂停"), "{}", page.text);
    assert!(!rst_clerk.get(&format!("/console/grants/{grant}")).await.text.contains("id=\"rectify-form\""));

    for (who, status) in [(&rst_clerk, StatusCode::FORBIDDEN), (&gat_head, StatusCode::FORBIDDEN)] {
        let r = who.post(&state, json!({"action": "rectify", "reason": "已整改"})).await;
        assert_eq!(r.status, status, "{}", r.text);
    }
    let r = rst_head.post(&state, json!({"action": "rectify", "reason": " "})).await;
    assert_eq!(r.problems(), [("reason", "required")]);

    // Past the deadline the duty is overdue.
    app.clock.advance(Duration::days(12));
    let (gat_head, rst_head) = (Client::login(&app, "gat.head").await, Client::login(&app, "rst.head").await);
    let late = rst_head.get("/api/v1/duties").await;
    let duty = late.body.as_array().unwrap().iter().find(|d| d["subject_id"] == grant.as_str()).unwrap().clone();
    assert_eq!((&duty["urgency"], &duty["late"]), (&json!("overdue"), &json!(true)), "{duty}");

    let r = rst_head.post(&state, json!({"action": "rectify", "reason": "已收回第三方副本并销毁，完善内部审批"})).await;
    assert_eq!(r.body["status"], "suspended", "reporting does not lift the suspension: {}", r.text);
    assert_eq!(
        rst_head.post(&state, json!({"action": "rectify", "reason": "再次报告"})).await.status,
        StatusCode::CONFLICT
    );
    assert!(grant_duties(&rst_head, &grant).await.is_empty(), "the rectification is reported");
    assert_eq!(
        grant_duties(&gat_head, &grant).await,
        [("decide_rectification".into(), "work_unit_head".into(), String::new())]
    );
    assert_eq!(system.get(&path).await.code(), "grant_suspended");

    let r = gat_head.post(&state, json!({"action": "resume", "reason": "整改到位"})).await;
    assert_eq!(r.body["status"], "active", "{}", r.text);
    assert!(grant_duties(&gat_head, &grant).await.is_empty());
    assert_eq!(system.get(&path).await.status, StatusCode::OK);
    let audit = Client::login(&app, "supervisor").await.get("/api/v1/audit?limit=100").await;
    assert!(audit.text.contains("grant.rectify") && audit.text.contains("third_party"), "{}", audit.text);
}

async fn usage_count(app: &TestApp, grant: &str) -> usize {
    let gat = Client::login(app, "gat.clerk").await;
    let r = gat.get(&format!("/api/v1/usage?grant_id={grant}&limit=500")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["records"].as_array().unwrap().len()
}

async fn loads_report_bad_rows_precisely_and_keep_nothing_unless_asked(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let good = id_number("330106", 7);
    let mut bad_check = id_number("330106", 8);
    let last = bad_check.pop().unwrap();
    bad_check.push(if last == '0' { '1' } else { '0' });
    let csv = format!(
        "{HEADER}\
         钱七,{good},13812340007,浙江省杭州市,330106,,\n\
         孙八,{bad_check},13812340008,浙江省杭州市,330106,,\n\
         周九,{good},not-a-phone,浙江省杭州市,3301061,,\n\
         吴十,,13812340010,浙江省杭州市,330106,,not-mail\n"
    );
    let r = load(&clerk, &entry, &csv, "&mode=upsert").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["loaded"], false);
    assert_eq!(r.body["rows_read"], 4);
    assert_eq!(r.body["rows_with_errors"], 3);
    let errors: Vec<(u64, String, String)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_owned(),
                e["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (3, "sfzh".into(), "check_character".into()),
            (4, "sjhm".into(), "phone".into()),
            (4, "xzqh".into(), "too_long".into()),
            (5, "sfzh".into(), "required".into()),
            (5, "yx".into(), "email".into()),
        ],
        "{}",
        r.text
    );
    let state = clerk.get(&format!("/api/v1/catalog/{entry}/source")).await;
    assert_eq!(state.body["loads"].as_array().unwrap().len(), 1, "nothing was loaded");

    // Repeated keys are errors too.
    let dup = format!("{HEADER}{}{}", row("张三", "330106", 1), row("张三", "330106", 1));
    let r = load(&clerk, &entry, &dup, "&mode=upsert").await;
    assert_eq!(r.body["errors"][0]["rule"], "duplicate_key", "{}", r.text);
    assert_eq!(r.body["errors"][0]["row"], 3);
    // A header that does not match the entry names the column.
    let r = load(&clerk, &entry, "xm,身份证\n张三,1\n", "").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["rule"], "unknown_column", "{}", r.text);

    // Asked for, the valid row loads and the rejected ones are counted in the history.
    let r = load(&clerk, &entry, &csv, "&mode=upsert&accept_valid=true").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["load"]["counts"]["inserted"], 1);
    assert_eq!(r.body["load"]["rows_rejected"], 3);
    // Replacing with the original file deletes the loaded extra row and keeps the history of both loads.
    let r = load(&clerk, &entry, &people_csv(), "&mode=replace").await;
    assert_eq!(
        r.body["load"]["counts"],
        json!({"inserted": 0, "updated": 0, "unchanged": 4, "deleted": 1}),
        "{}",
        r.text
    );
    assert_eq!(clerk.get(&format!("/api/v1/catalog/{entry}/source")).await.body["loads"].as_array().unwrap().len(), 3);
    // JSON Lines load too, by item code.
    let jsonl = format!("{{\"xm\": \"郑十一\", \"sfzh\": \"{}\", \"xzqh\": \"330106\"}}\n", id_number("330106", 11));
    let r = clerk
        .upload(
            &format!("/api/v1/catalog/{entry}/source/load?file_name=more.jsonl&mode=upsert"),
            jsonl.into_bytes(),
            true,
        )
        .await;
    assert_eq!(r.body["load"]["counts"]["inserted"], 1, "{}", r.text);
    // Other departments cannot load into 公安厅's source.
    let other = Client::login(&app, "rst.clerk").await;
    assert_eq!(load(&other, &entry, &people_csv(), "").await.status, StatusCode::FORBIDDEN);
}

async fn the_service_api_returns_only_granted_items_in_scope_masked(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let system = api_key(&app, "rst", "就业服务系统").await;

    let r = system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330106", 1))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let row = &r.body["rows"][0];
    assert_eq!(r.body["items"], json!(["xm", "sfzh", "sjhm", "xzqh", "yx"]));
    assert_eq!(row.as_object().unwrap().len(), 5, "{row}");
    assert_eq!(row["xm"], "张*", "mask: name");
    assert_eq!(row["sjhm"], "138****0001", "mask: phone");
    assert_eq!(row["yx"], "u***@example.gov.cn", "mask: e-mail");
    assert_eq!(row["xzqh"], "330106", "keep");
    let hash = row["sfzh"].as_str().unwrap();
    // HMAC-SM3 of the value under the grant's own key, as documented (the projector prepares the key once).
    let stored = app.services.store().get_grant(grant.parse().unwrap()).await.unwrap();
    let key = hex::decode(&stored.hash_key).unwrap();
    assert_eq!(hash, govshare_domain::grant::keyed_hash(&key, &id_number("330106", 1)), "hash: {hash}");
    assert!(row.get("hjdz").is_none() && row.get("yhkh").is_none(), "dropped and ungranted items never leave");
    assert!(!r.text.contains("文三路") && !r.text.contains("622202"), "{}", r.text);

    // Outside the row scope (温州) there is no record.
    let out = system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330302", 3))).await;
    assert_eq!((out.status, out.code()), (StatusCode::NOT_FOUND, "record_not_found"), "{}", out.text);
    // An unknown grant is another answer than an unknown record.
    let none = system.get(&format!("/api/v1/data/{}/records/{}", uuid::Uuid::new_v4(), id_number("330106", 1))).await;
    assert_eq!((none.status, none.code()), (StatusCode::NOT_FOUND, "not_found"), "{}", none.text);

    // Query: only in-scope rows, paginated.
    let page = system.get(&format!("/api/v1/data/{grant}/records?limit=2")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["rows"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["has_more"], true);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = system.get(&format!("/api/v1/data/{grant}/records?limit=2&cursor={cursor}")).await;
    let mut names: Vec<Value> = page.body["rows"].as_array().unwrap().iter().map(|r| r["xm"].clone()).collect();
    names.extend(rest.body["rows"].as_array().unwrap().iter().map(|r| r["xm"].clone()));
    names.sort_by_key(|v| v.to_string());
    assert_eq!(names, [json!("张*"), json!("李*"), json!("赵*")], "王五 of 温州 is out of scope");
    assert_eq!((&rest.body["has_more"], &rest.body["next_cursor"]), (&json!(false), &json!(null)), "{}", rest.text);
    // A page that holds exactly the remaining rows says there is no more: no extra call, no extra usage record.
    let exact = system.get(&format!("/api/v1/data/{grant}/records?limit=3")).await;
    assert_eq!(exact.body["rows"].as_array().unwrap().len(), 3, "{}", exact.text);
    assert_eq!((&exact.body["has_more"], &exact.body["next_cursor"]), (&json!(false), &json!(null)), "{}", exact.text);
    let all = system.get(&format!("/api/v1/data/{grant}/records?limit=100")).await;
    assert!(all.body["rows"].as_array().unwrap().iter().all(|r| r["xzqh"].as_str().unwrap().starts_with("3301")));
    // Equality filter on a kept item; a filter on an item outside the grant, or on a masked one, is refused.
    let filtered = system.get(&format!("/api/v1/data/{grant}/records?xzqh=330108")).await;
    assert_eq!(filtered.body["rows"].as_array().unwrap().len(), 1, "{}", filtered.text);
    let outside = system.get(&format!("/api/v1/data/{grant}/records?xzqh=330302")).await;
    assert_eq!(outside.body["rows"], json!([]), "a filter cannot reach outside the scope");
    let r = system.get(&format!("/api/v1/data/{grant}/records?yhkh=1")).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "item_not_granted"), "{}", r.text);
    let r = system.get(&format!("/api/v1/data/{grant}/records?xm=张三")).await;
    assert_eq!(r.code(), "filter_not_allowed", "{}", r.text);
    // An item the grant drops cannot select rows either: that would tell who lives at an address.
    let r = system.get(&format!("/api/v1/data/{grant}/records?hjdz=文三路1号")).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "filter_not_allowed"), "{}", r.text);
    assert!(r.body["rows"].is_null() && !r.text.contains("张"), "{}", r.text);
    // A parameter that is no item of the entry is a malformed request: 400 naming it, and no usage record.
    for typo in ["offset=100", "limt=5"] {
        let before = usage_count(&app, &grant).await;
        let r = system.get(&format!("/api/v1/data/{grant}/records?{typo}")).await;
        let name = typo.split('=').next().unwrap();
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "bad_request"), "{}", r.text);
        assert_eq!(r.body["error"]["field"], name, "{}", r.text);
        assert!(r.body["error"]["message"].as_str().unwrap().contains(name), "{}", r.text);
        assert_eq!(usage_count(&app, &grant).await, before, "{typo}: nothing was used");
    }

    // Verification answers match / no match, never the record.
    let v = system
        .post(&format!("/api/v1/data/{grant}/verify"), json!({"sfzh": id_number("330106", 1), "xm": "张三"}))
        .await;
    assert_eq!(v.body, json!({"match": true}), "{}", v.text);
    let v = system
        .post(&format!("/api/v1/data/{grant}/verify"), json!({"sfzh": id_number("330106", 1), "xm": "张四"}))
        .await;
    assert_eq!(v.body, json!({"match": false}));
    let v = system
        .post(&format!("/api/v1/data/{grant}/verify"), json!({"sfzh": id_number("330302", 3), "xm": "王五"}))
        .await;
    assert_eq!(v.body, json!({"match": false}), "out of scope: no match");
    let v = system
        .post(&format!("/api/v1/data/{grant}/verify"), json!({"sfzh": id_number("330106", 1), "yhkh": "1"}))
        .await;
    assert_eq!(v.code(), "item_not_granted");

    // The grant's delivery method is the service API: no bulk exchange, no download.
    let r = system.get(&format!("/api/v1/data/{grant}/changes")).await;
    assert_eq!(r.code(), "delivery_not_granted", "{}", r.text);
    // Another department's system cannot use the grant.
    let other = api_key(&app, "mzt", "救助系统").await;
    let r = other.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330106", 1))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

async fn every_access_leaves_exactly_one_usage_record(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let system = api_key(&app, "rst", "就业服务系统").await;
    assert_eq!(usage_count(&app, &grant).await, 0);
    let key = id_number("330106", 1);
    let calls = [
        system.get(&format!("/api/v1/data/{grant}/records/{key}")).await,
        system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330302", 3))).await,
        system.get(&format!("/api/v1/data/{grant}/records?limit=10")).await,
        system.get(&format!("/api/v1/data/{grant}/records?yhkh=1")).await,
        system.post(&format!("/api/v1/data/{grant}/verify"), json!({"sfzh": key, "xm": "张三"})).await,
        system.get(&format!("/api/v1/data/{grant}/changes")).await,
    ];
    let statuses: Vec<u16> = calls.iter().map(|c| c.status.as_u16()).collect();
    assert_eq!(statuses, [200, 404, 200, 403, 200, 403]);
    assert_eq!(usage_count(&app, &grant).await, calls.len(), "one record per access, refusals included");

    let gat = Client::login(&app, "gat.clerk").await;
    let records = gat.get(&format!("/api/v1/usage?grant_id={grant}")).await.body["records"].clone();
    let newest_first: Vec<(&str, &str, u64)> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["operation"].as_str().unwrap(), r["result"].as_str().unwrap(), r["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        newest_first,
        [
            ("changes", "delivery_not_granted", 0),
            ("verify", "match", 0),
            ("query", "item_not_granted", 0),
            ("query", "ok", 3),
            ("lookup", "not_found", 0),
            ("lookup", "ok", 1),
        ]
    );
    let first = &records[5];
    assert_eq!(first["system"], "就业服务系统");
    assert_eq!(first["purpose"], "社会救助资格核查");
    assert_eq!(first["items"], json!(["xm", "sfzh", "sjhm", "xzqh", "yx"]));
    assert!(first["latency_us"].as_u64().unwrap() > 0);
    // The requester reads its own records; a third department sees none of them.
    let rst = Client::login(&app, "rst.clerk").await;
    assert_eq!(rst.get("/api/v1/usage").await.body["records"].as_array().unwrap().len(), 6);
    let mzt = Client::login(&app, "mzt.clerk").await;
    assert_eq!(mzt.get("/api/v1/usage").await.body["records"], json!([]));
    assert_eq!(mzt.get(&format!("/api/v1/usage?grant_id={grant}")).await.status, StatusCode::FORBIDDEN);
    // The authority of the region reads them too.
    let reviewer = Client::login(&app, "reviewer").await;
    assert_eq!(reviewer.get("/api/v1/usage").await.body["records"].as_array().unwrap().len(), 6);
}

async fn suspended_and_expired_grants_are_refused_at_once(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let system = api_key(&app, "rst", "就业服务系统").await;
    let path = format!("/api/v1/data/{grant}/records/{}", id_number("330106", 1));
    assert_eq!(system.get(&path).await.status, StatusCode::OK);

    let head = Client::login(&app, "gat.head").await;
    let state = format!("/api/v1/grants/{grant}/state");
    let r = head.post(&state, json!({"action": "suspend"})).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));
    let clerk = Client::login(&app, "gat.clerk").await;
    assert_eq!(clerk.post(&state, json!({"action": "suspend", "reason": "x"})).await.status, StatusCode::FORBIDDEN);
    let r = head.post(&state, json!({"action": "suspend", "reason": "发现超范围使用,暂停核查"})).await;
    assert_eq!(r.body["status"], "suspended", "{}", r.text);
    let number = r.body["number"].as_str().unwrap().to_owned();
    assert!(is_number(&number, "GX"), "the grant's number (授权编号): {number}");
    // The requester is told which grant, by its number and entry, never by a UUID.
    let rst = Client::login(&app, "rst.clerk").await;
    let told = rst.get("/api/v1/notifications").await;
    let note = told.body.as_array().unwrap().iter().find(|n| n["body"].as_str().unwrap().contains("已暂停"));
    let note = note.unwrap_or_else(|| panic!("no notification of the suspension: {}", told.text));
    let (title, body) = (note["title"].as_str().unwrap(), note["body"].as_str().unwrap());
    assert!(body.contains(&number) && body.contains("常住人口基本信息"), "{body}");
    assert!(!contains_uuid(title) && !contains_uuid(body), "{title} / {body}");
    let refused = system.get(&path).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "grant_suspended"), "{}", refused.text);
    assert_eq!(head.post(&state, json!({"action": "resume"})).await.body["status"], "active");
    assert_eq!(system.get(&path).await.status, StatusCode::OK);
    // The authority can suspend too.
    let reviewer = Client::login(&app, "reviewer").await;
    assert_eq!(
        reviewer.post(&state, json!({"action": "suspend", "reason": "监督检查"})).await.body["status"],
        "suspended"
    );
    assert_eq!(system.get(&path).await.code(), "grant_suspended");
    assert_eq!(reviewer.post(&state, json!({"action": "resume"})).await.body["status"], "active");

    // The grant runs 30 days from today (北京时间): 40 days on it is expired.
    app.clock.advance(Duration::days(40));
    let expired = system.get(&path).await;
    assert_eq!((expired.status, expired.code()), (StatusCode::FORBIDDEN, "grant_expired"), "{}", expired.text);
    let head = Client::login(&app, "gat.head").await;
    assert_eq!(head.get(&format!("/api/v1/grants/{grant}")).await.body["status"], "expired");

    // Termination is final.
    let r = head.post(&state, json!({"action": "terminate", "reason": "使用期限届满"})).await;
    assert_eq!(r.body["status"], "terminated", "{}", r.text);
    assert_eq!(head.post(&state, json!({"action": "resume"})).await.status, StatusCode::CONFLICT);
}

async fn hashes_differ_between_grants(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let grant_a = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let grant_b = granted(&app, &entry, "mzt", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let a = api_key(&app, "rst", "就业服务系统").await;
    let b = api_key(&app, "mzt", "救助系统").await;
    let key = id_number("330106", 1);
    let from_a = a.get(&format!("/api/v1/data/{grant_a}/records/{key}")).await.body["rows"][0]["sfzh"].clone();
    let again = a.get(&format!("/api/v1/data/{grant_a}/records/{key}")).await.body["rows"][0]["sfzh"].clone();
    let from_b = b.get(&format!("/api/v1/data/{grant_b}/records/{key}")).await.body["rows"][0]["sfzh"].clone();
    assert!(from_a.is_string() && from_b.is_string());
    assert_eq!(from_a, again, "stable within a grant");
    assert_ne!(from_a, from_b, "two grants' hashes cannot be joined");
}

async fn downloads_are_signed_and_bulk_exchange_follows_changes(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let download_grant = granted(&app, &entry, "rst", "file_download", &STANDARD_ITEMS, standard_grant()).await;
    let exchange_grant = granted(&app, &entry, "mzt", "bulk_exchange", &STANDARD_ITEMS, standard_grant()).await;

    let rst = Client::login(&app, "rst.clerk").await;
    let (status, headers, zip) = rst.download(&format!("/api/v1/data/{download_grant}/download?format=csv")).await;
    assert_eq!(status, StatusCode::OK);
    let zip_len = zip.len();
    assert_eq!(headers["content-type"], "application/zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut read = |name: &str| {
        let mut bytes = Vec::new();
        archive.by_name(name).unwrap().read_to_end(&mut bytes).unwrap();
        bytes
    };
    let data = read("data.csv");
    let manifest_bytes = read("manifest.json");
    let signature = String::from_utf8(read("manifest.sig")).unwrap();
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    assert_eq!(manifest["requester"]["name"], "浙江省人力资源和社会保障厅");
    assert_eq!(manifest["grant_id"], download_grant);
    assert_eq!(manifest["rows"], 3);
    assert_eq!(manifest["file"]["sm3"], govshare_service::crypto::sm3_hex(&data));
    let key =
        Client::anonymous(&app).get("/api/v1/node/signing-key").await.body["public_key"].as_str().unwrap().to_owned();
    assert!(
        govshare_service::crypto::verify_signature(&key, &manifest_bytes, &signature),
        "the manifest is SM2-signed"
    );
    let mut altered = manifest_bytes.clone();
    altered[10] ^= 1;
    assert!(!govshare_service::crypto::verify_signature(&key, &altered, &signature));
    let text = String::from_utf8(data).unwrap();
    assert_eq!(text.lines().next().unwrap(), "xm,sfzh,sjhm,xzqh,yx,_disputed", "the last column: 异议标注");
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(!text.contains("330302") && !text.contains("文三路"), "{text}");
    assert_eq!(headers["content-length"], zip_len.to_string(), "the spooled file's length is declared");

    // The same as an Excel workbook (written in constant memory), named columns, hashed and signed alike.
    let (status, _, zip) = rst.download(&format!("/api/v1/data/{download_grant}/download?format=xlsx")).await;
    assert_eq!(status, StatusCode::OK);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut book = Vec::new();
    archive.by_name("data.xlsx").unwrap().read_to_end(&mut book).unwrap();
    let mut manifest = String::new();
    archive.by_name("manifest.json").unwrap().read_to_string(&mut manifest).unwrap();
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        (manifest["rows"].clone(), manifest["file"]["sm3"].clone()),
        (json!(3), json!(govshare_service::crypto::sm3_hex(&book)))
    );
    use calamine::Reader;
    let mut workbook = calamine::Xlsx::new(std::io::Cursor::new(book)).unwrap();
    let sheet = workbook.worksheet_range("数据").unwrap();
    let cells: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
    assert_eq!(cells.len(), 4);
    assert_eq!(cells[0][0], "姓名（xm）");
    assert_eq!(cells[0][5], "异议标注（_disputed）");
    assert!(cells[1..].iter().all(|r| r[0].ends_with('*') && r[3].starts_with("3301")), "{cells:?}");

    // Bulk exchange: the snapshot, then only what changed.
    let system = api_key(&app, "mzt", "救助系统").await;
    let snapshot = system.get(&format!("/api/v1/data/{exchange_grant}/changes")).await;
    assert_eq!(snapshot.status, StatusCode::OK, "{}", snapshot.text);
    assert_eq!(snapshot.body["changes"].as_array().unwrap().len(), 3, "{}", snapshot.text);
    assert_eq!(snapshot.body["has_more"], false);
    // Pages of exactly the remaining changes end the walk without an extra call.
    let two = system.get(&format!("/api/v1/data/{exchange_grant}/changes?limit=2")).await;
    assert_eq!(
        (two.body["changes"].as_array().unwrap().len(), &two.body["has_more"]),
        (2, &json!(true)),
        "{}",
        two.text
    );
    let after = two.body["next_cursor"].as_i64().unwrap();
    let last = system.get(&format!("/api/v1/data/{exchange_grant}/changes?cursor={after}&limit=1")).await;
    assert_eq!(
        (last.body["changes"].as_array().unwrap().len(), &last.body["has_more"]),
        (1, &json!(false)),
        "{}",
        last.text
    );
    let exact = system.get(&format!("/api/v1/data/{exchange_grant}/changes?limit=3")).await;
    assert_eq!(exact.body["has_more"], false, "{}", exact.text);
    // A misspelt parameter is not silently ignored (a client would restart from the snapshot): 400 naming it.
    let typo = system.get(&format!("/api/v1/data/{exchange_grant}/changes?curosr=2")).await;
    assert_eq!((typo.status, typo.code()), (StatusCode::BAD_REQUEST, "bad_request"), "{}", typo.text);
    assert!(typo.body["error"]["message"].as_str().unwrap().contains("curosr"), "{}", typo.text);
    let cursor = snapshot.body["next_cursor"].as_i64().unwrap();
    let nothing = system.get(&format!("/api/v1/data/{exchange_grant}/changes?cursor={cursor}")).await;
    assert_eq!(nothing.body["changes"], json!([]));
    // 公安厅 reloads: 李四 moves house (changed), 赵六 leaves (deleted), 温州's 王五 changes (out of scope).
    let mut csv = HEADER.to_owned();
    csv += &row("张三", "330106", 1);
    csv += &row("李四", "330106", 2).replace("文三路2号", "天目山路9号");
    csv += &row("王五", "330302", 3).replace("文三路3号", "五马街1号");
    let clerk = Client::login(&app, "gat.clerk").await;
    let r = load(&clerk, &entry, &csv, "&mode=replace").await;
    assert_eq!(
        r.body["load"]["counts"],
        json!({"inserted": 0, "updated": 2, "unchanged": 1, "deleted": 1}),
        "{}",
        r.text
    );
    let changes = system.get(&format!("/api/v1/data/{exchange_grant}/changes?cursor={cursor}")).await;
    let ops: Vec<(String, String)> = changes.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["op"].as_str().unwrap().to_owned(), c["record"]["xm"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        ops,
        [("upsert".to_owned(), "李*".to_owned()), ("delete".to_owned(), "赵*".to_owned())],
        "{}",
        changes.text
    );
    // The exchange grant does not allow downloads.
    let mzt = Client::login(&app, "mzt.clerk").await;
    let (status, _, _) = mzt.download(&format!("/api/v1/data/{exchange_grant}/download")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The streamed export (one NDJSON stream instead of pages): a header line, every change in scope, masked as
/// granted, and a closing line; one usage record per chunk of up to 5,000 changes, each durable before its chunk
/// left; a volume limit reached mid-stream ends it with a closing line to resume from. Refusals come first.
async fn the_export_streams_the_feed_each_chunk_recorded_before_it_leaves(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let service_grant = granted(&app, &entry, "mzt", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let exchange_grant = granted(&app, &entry, "mzt", "bulk_exchange", &STANDARD_ITEMS, standard_grant()).await;
    let mut limited = standard_grant();
    limited["daily_rows"] = json!(7000);
    let limited_grant = granted(&app, &entry, "mzt", "bulk_exchange", &STANDARD_ITEMS, limited).await;
    let system = api_key(&app, "mzt", "救助系统").await;

    // Refusals before the first line: the wrong delivery method (recorded), an unknown parameter (not).
    let wrong = system.get(&format!("/api/v1/data/{service_grant}/export")).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::FORBIDDEN, "delivery_not_granted"), "{}", wrong.text);
    assert_eq!(usage_count(&app, &service_grant).await, 1);
    let typo = system.get(&format!("/api/v1/data/{exchange_grant}/export?curosr=2")).await;
    assert_eq!((typo.status, typo.code()), (StatusCode::BAD_REQUEST, "bad_request"), "{}", typo.text);
    let stranger = api_key(&app, "rst", "就业服务系统").await;
    let r = stranger.get(&format!("/api/v1/data/{exchange_grant}/export")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(usage_count(&app, &exchange_grant).await, 1, "the stranger's refusal is recorded, nothing else");

    // 10,001 more people in scope (杭州) and 1,000 out of it (温州): 10,004 changes in scope.
    let mut csv = HEADER.to_owned();
    for (region, ns) in [("330109", 10..5010), ("330110", 10..5011)] {
        for n in ns {
            csv += &row("钱七", region, n);
        }
    }
    for n in 6000..7000 {
        csv += &row("孙八", "330302", n);
    }
    let clerk = Client::login(&app, "gat.clerk").await;
    let loaded = load(&clerk, &entry, &csv, "&mode=upsert").await;
    assert_eq!(loaded.body["load"]["counts"]["inserted"], 11_001, "{}", loaded.text);

    let export = system.get(&format!("/api/v1/data/{exchange_grant}/export")).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    assert_eq!(export.headers["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = export.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (header, changes, trailer) = (&lines[0], &lines[1..lines.len() - 1], &lines[lines.len() - 1]);
    assert_eq!(header["grant_id"], exchange_grant);
    assert_eq!(header["items"], json!(["xm", "sfzh", "sjhm", "xzqh", "yx"]));
    assert_eq!(changes.len(), 10_004);
    assert!(changes.windows(2).all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()), "in sequence order");
    assert!(changes.iter().all(|c| c["op"] == "upsert" && c["record"]["xzqh"].as_str().unwrap().starts_with("3301")));
    assert!(
        changes.iter().all(|c| c["record"].get("hjdz").is_none() && c["record"]["xm"].as_str().unwrap().ends_with('*'))
    );
    // Out-of-scope rows would show their kept region "330302" as a JSON string, and their masked name "孙*" (a bare
    // 330302 can occur by chance inside one of the 10,004 hex digests of hashed ID numbers).
    assert!(!export.text.contains("\"330302\"") && !export.text.contains('孙'), "nothing out of scope");
    let last_seq = changes.last().unwrap()["seq"].as_i64().unwrap();
    assert_eq!(trailer, &json!({"complete": true, "rows": 10_004, "next_cursor": last_seq}));
    let gat = Client::login(&app, "gat.clerk").await;
    let usage = |grant: String| {
        let gat = &gat;
        async move {
            let records = gat.get(&format!("/api/v1/usage?grant_id={grant}")).await.body["records"].clone();
            records
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["operation"].as_str().unwrap().to_owned(),
                        r["result"].as_str().unwrap().to_owned(),
                        r["rows"].as_u64().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let export_ok = |rows: u64| ("export".to_owned(), "ok".to_owned(), rows);
    assert_eq!(
        usage(exchange_grant.clone()).await[..3],
        [export_ok(4), export_ok(5000), export_ok(5000)],
        "one record per chunk"
    );

    // From the closing line's cursor: nothing new, and still one record of the access.
    let again = system.get(&format!("/api/v1/data/{exchange_grant}/export?cursor={last_seq}")).await;
    let lines: Vec<Value> = again.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{}", again.text);
    assert_eq!(lines[1], json!({"complete": true, "rows": 0, "next_cursor": last_seq}));
    assert_eq!(usage(exchange_grant.clone()).await[0], export_ok(0));

    // A daily volume of 7,000 rows: the first chunk leaves, the second is refused, the stream says where to resume.
    let cut = system.get(&format!("/api/v1/data/{limited_grant}/export")).await;
    assert_eq!(cut.status, StatusCode::OK, "{}", cut.text);
    let lines: Vec<Value> = cut.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1 + 5000 + 1);
    let trailer = &lines[5001];
    assert_eq!(trailer["complete"], false, "{trailer}");
    assert_eq!(trailer["error"]["code"], "volume_exceeded", "{trailer}");
    assert_eq!(trailer["rows"], 5000);
    assert_eq!(trailer["next_cursor"], lines[5000]["seq"]);
    assert_eq!(
        usage(limited_grant.clone()).await,
        [("export".to_owned(), "volume_exceeded".to_owned(), 0), export_ok(5000)]
    );
}

/// The provider's own service, as a proxied source answers: one JSON object per key, 404 for unknown keys.
async fn provider_service() -> String {
    use axum::extract::Path;
    use axum::routing::get;
    async fn person(Path(key): Path<String>) -> axum::response::Response {
        use axum::response::IntoResponse;
        let region = if key == id_number("330302", 3) { "330302" } else { "330106" };
        if key == id_number("330106", 1) || key == id_number("330302", 3) {
            axum::Json(json!({
                "xm": "张三", "sfzh": key, "sjhm": "13812340001", "hjdz": "浙江省杭州市西湖区文三路1号",
                "xzqh": region, "yhkh": "6222021234567890001", "yx": "user1@example.gov.cn"
            }))
            .into_response()
        } else {
            axum::http::StatusCode::NOT_FOUND.into_response()
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/persons/{key}", get(person));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/persons/{{key}}")
}

async fn proxied_sources_are_governed_like_hosted_ones(backend: Backend) {
    let app = spawn(backend).await;
    let mut entry_json = people_entry();
    entry_json["resource_code"] = json!("330000-GAT-0101");
    let entry = publish(&app, "gat", entry_json).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let bind = |url: String| json!({"kind": "proxy", "key_item": "sfzh", "url": url});
    let path = format!("/api/v1/catalog/{entry}/source");
    let r = clerk.call(reqwest::Method::PUT, &path, bind("ftp://x/{key}".into())).await;
    assert_eq!((r.status, r.body["error"]["rule"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("scheme")));
    let r = clerk.call(reqwest::Method::PUT, &path, bind("http://127.0.0.1:1/persons".into())).await;
    assert_eq!(r.body["error"]["rule"], "key_placeholder", "{}", r.text);
    let url = provider_service().await;
    let r = clerk.call(reqwest::Method::PUT, &path, bind(url)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A proxied source holds no records on the platform: loading is refused.
    let r = load(&clerk, &entry, &people_csv(), "").await;
    assert_eq!(r.body["error"]["rule"], "not_hosted", "{}", r.text);

    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let system = api_key(&app, "rst", "就业服务系统").await;
    let r = system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330106", 1))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let row = &r.body["rows"][0];
    assert_eq!((row["xm"].as_str(), row["sjhm"].as_str()), (Some("张*"), Some("138****0001")));
    assert!(row.get("hjdz").is_none() && row.get("yhkh").is_none(), "what the service adds never leaves: {row}");
    let out = system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330302", 3))).await;
    assert_eq!(out.status, StatusCode::NOT_FOUND, "the row scope holds for proxied records too: {}", out.text);
    let unknown = system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330106", 9))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let v = system
        .post(&format!("/api/v1/data/{grant}/verify"), json!({"sfzh": id_number("330106", 1), "xm": "张三"}))
        .await;
    assert_eq!(v.body, json!({"match": true}), "{}", v.text);
    let q = system.get(&format!("/api/v1/data/{grant}/records")).await;
    assert_eq!(q.code(), "query_not_supported", "{}", q.text);

    // The provider's service goes away: 502, recorded like every other access.
    let r = clerk.call(reqwest::Method::PUT, &path, bind("http://127.0.0.1:1/persons/{key}".into())).await;
    assert_eq!(r.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the source cache's lifetime
    let down = system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330106", 1))).await;
    assert_eq!((down.status, down.code()), (StatusCode::BAD_GATEWAY, "upstream_failed"), "{}", down.text);
    let gat = Client::login(&app, "gat.clerk").await;
    let records = gat.get(&format!("/api/v1/usage?grant_id={grant}")).await.body["records"].clone();
    assert_eq!(records.as_array().unwrap().len(), 6, "one record per access, the failed one included");
    assert_eq!(records[0]["result"], "upstream_failed");
}

async fn excel_files_load_like_csv(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in
        ["姓名", "公民身份号码", "手机号码", "户籍地址", "行政区划代码", "银行卡号", "电子邮箱"].iter().enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let rows = [("钱七", id_number("330106", 7), "330106"), ("孙八", "110105194912310021".to_owned(), "330106")];
    for (r, (name, id, region)) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, *name).unwrap();
        sheet.write_string(r, 1, id).unwrap();
        sheet.write_number(r, 2, 13812340007.0).unwrap();
        sheet.write_string(r, 4, *region).unwrap();
    }
    let bytes = book.save_to_buffer().unwrap();
    let upload = |q: &str| format!("/api/v1/catalog/{entry}/source/load?file_name=人口.xlsx&mode=upsert{q}");
    let r = clerk.upload(&upload(""), bytes.clone(), true).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        r.body["errors"],
        json!([{"row": 3, "column": "sfzh", "rule": "check_character",
        "message": "公民身份号码：公民身份号码校验位错误：第 18 位应为「X」，实际为「1」"}])
    );
    let r = clerk.upload(&upload("&accept_valid=true"), bytes, true).await;
    assert_eq!(r.body["load"]["counts"]["inserted"], 1, "{}", r.text);
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let system = api_key(&app, "rst", "就业服务系统").await;
    let r = system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330106", 7))).await;
    assert_eq!(r.body["rows"][0]["sjhm"], "138****0007", "a number cell reads as its digits: {}", r.text);
}

/// What the store holds, read behind the platform's back: hosted payloads and keys, and whether usage records can
/// be changed.
async fn hosted_data_is_encrypted_at_rest_and_usage_records_are_append_only(backend: Backend) {
    use sqlx::Connection;
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let system = api_key(&app, "rst", "就业服务系统").await;
    let r = system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330106", 1))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let select = "SELECT key, payload FROM source_records";
    let rows: Vec<(String, Vec<u8>)> = match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
            sqlx::query_as(select).fetch_all(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
            sqlx::query_as(select).fetch_all(&mut conn).await.unwrap()
        }
    };
    assert_eq!(rows.len(), 4);
    for (key, payload) in &rows {
        assert_eq!(key.len(), 64, "keys are stored as keyed digests: {key}");
        assert!(!key.contains("330106") && !key.contains("330302"), "{key}");
        for clear in ["张三", "文三路", "13812340001", "example.gov.cn", "330106"] {
            assert!(!payload.windows(clear.len()).any(|w| w == clear.as_bytes()), "payload holds 「{clear}」 in clear");
        }
    }

    for statement in ["UPDATE usage_records SET rows = 0", "DELETE FROM usage_records"] {
        let refused = match backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
                sqlx::query(statement).execute(&mut conn).await.map(|_| ())
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
                sqlx::query(statement).execute(&mut conn).await.map(|_| ())
            }
        };
        assert!(refused.is_err(), "{statement} must be refused");
    }
    let gat = Client::login(&app, "gat.clerk").await;
    let records = gat.get(&format!("/api/v1/usage?grant_id={grant}")).await.body["records"].clone();
    assert_eq!(records[0]["rows"], 1, "the usage record is unchanged");
}
