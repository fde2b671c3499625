//! Black-box tests of the catalog lifecycle (R-CAT-1..3), on both backends.

mod common;

use common::{
    Backend, Client, TestApp, another_instance, assessment, assistance_entry, household_entry, publish, spawn,
};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    catalog_lifecycle_from_draft_to_publication_and_revision,
    sharing_attribute_rules_name_the_missing_field,
    search_finds_published_entries_with_facets,
    search_index_of_another_instance_catches_up,
    update_obligation_runs_on_working_days_with_one_extension,
    sources_of_record_and_the_duplicate_collection_check,
    console_pages_for_obligations_and_sources,
    excel_import_is_all_or_nothing_and_exports_round_trip,
    console_import_checks_the_upload_form_token_and_reports_cells,
    a_draft_never_submitted_can_be_deleted_and_nothing_else,
    a_wrongly_attached_assessment_comes_off_an_editable_draft_only,
    the_review_queue_counts_down_and_the_entry_page_shows_its_step,
    the_assessment_report_is_a_pdf_kept_with_its_sm3_digest
);

async fn sharing_attribute_rules_name_the_missing_field(backend: Backend) {
    let app = spawn(backend).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let mut entry = household_entry();
    entry["sharing_scope"] = json!("");
    let r = clerk.post("/api/v1/catalog", entry.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        (r.body["error"]["field"].as_str(), r.body["error"]["rule"].as_str()),
        (Some("sharing_scope"), Some("required_for_conditional"))
    );
    entry["sharing_scope"] = json!("省级政府部门");
    entry["permitted_purposes"] = json!([]);
    assert_eq!(clerk.post("/api/v1/catalog", entry.clone()).await.body["error"]["field"], "permitted_purposes");

    let mut secret = household_entry();
    secret["sharing_attribute"] = json!("不予共享");
    secret["delivery_methods"] = json!([]);
    secret["not_shared_reason"] = json!("涉及侦查工作秘密");
    let r = clerk.post("/api/v1/catalog", secret.clone()).await;
    assert_eq!(r.body["error"]["field"], "legal_basis", "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("国务院决定"));
    secret["legal_basis"] = json!("《中华人民共和国刑事诉讼法》");
    secret["resource_code"] = json!("330000-GAT-0099");
    assert_eq!(clerk.post("/api/v1/catalog", secret).await.status, StatusCode::CREATED);

    let mut bad_item = household_entry();
    bad_item["items"][1]["code"] = json!("xm");
    let r = clerk.post("/api/v1/catalog", bad_item).await;
    assert_eq!(
        (r.body["error"]["field"].as_str(), r.body["error"]["rule"].as_str()),
        (Some("items[1].code"), Some("duplicate"))
    );
    assert_eq!(
        clerk.get("/api/v1/catalog?scope=mine").await.body.as_array().unwrap().len(),
        1,
        "refused drafts were not stored"
    );
}

async fn catalog_lifecycle_from_draft_to_publication_and_revision(backend: Backend) {
    let app = spawn(backend).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let head = Client::login(&app, "gat.head").await;
    let reviewer = Client::login(&app, "reviewer").await;
    let other = Client::login(&app, "rst.clerk").await;

    let created = clerk.post("/api/v1/catalog", household_entry()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["versions"][0]["status"], "draft");
    let path = |tail: &str| format!("/api/v1/catalog/{id}{tail}");

    // Art. 13: assessments first.
    let r = clerk.post(&path("/submit"), json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("保密风险评估"), "{}", r.text);
    let r = clerk.post(&path("/assessments"), assessment("confidentiality", "2099-01-01")).await;
    assert_eq!(r.body["error"]["rule"], "in_future");
    assert_eq!(
        clerk.post(&path("/assessments"), assessment("confidentiality", "2026-11-02")).await.status,
        StatusCode::OK
    );
    let r = clerk.post(&path("/submit"), json!({})).await;
    assert!(
        r.body["error"]["message"].as_str().unwrap().contains("个人信息保护影响评估"),
        "personal data needs a PIA: {}",
        r.text
    );
    clerk.post(&path("/assessments"), assessment("个人信息保护影响评估", "2026-11-03")).await;
    let r = clerk.post(&path("/submit"), json!({})).await;
    assert_eq!(r.body["versions"][0]["status"], "awaiting_head", "{}", r.text);

    // Only the head approves; another department sees nothing of it.
    assert_eq!(clerk.post(&path("/head-decision"), json!({"approve": true})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(other.get(&path("")).await.status, StatusCode::NOT_FOUND);
    let r = head.post(&path("/head-decision"), json!({"approve": true})).await;
    assert_eq!(r.body["versions"][0]["status"], "submitted", "{}", r.text);
    let inbox = reviewer.get("/api/v1/notifications").await;
    assert!(inbox.text.contains("待审核目录：居民户籍信息"), "{}", inbox.text);
    let queue = reviewer.get("/api/v1/catalog?scope=review").await;
    assert_eq!(queue.body.as_array().unwrap().len(), 1);

    // Only the same-level authority reviews; a return needs reasons.
    let city = Client::login(&app, "hz.reviewer").await;
    assert_eq!(city.post(&path("/review"), json!({"approve": true})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reviewer.post(&path("/review"), json!({"approve": false, "reason": " "})).await.status,
        StatusCode::CONFLICT
    );
    let long = reviewer.post(&path("/review"), json!({"approve": false, "reason": "理".repeat(1001)})).await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", long.text);
    assert_eq!((&long.body["error"]["field"], &long.body["error"]["rule"]), (&json!("reason"), &json!("too_long")));
    let r = reviewer.post(&path("/review"), json!({"approve": false, "reason": "户籍地址分级偏低,请复核"})).await;
    assert_eq!(r.body["versions"][0]["status"], "returned", "{}", r.text);
    assert!(clerk.get("/api/v1/notifications").await.text.contains("户籍地址分级偏低"));

    // Fix, resubmit, approve, publish.
    let mut fixed = household_entry();
    fixed["items"][2]["grade_level"] = json!(3);
    fixed["summary"] = json!("全省户籍人口的登记信息(已复核分级)");
    assert_eq!(clerk.call(reqwest::Method::PUT, &path(""), fixed.clone()).await.body["versions"][0]["status"], "draft");
    clerk.post(&path("/submit"), json!({})).await;
    head.post(&path("/head-decision"), json!({"approve": true})).await;
    let r = reviewer.post(&path("/review"), json!({"approve": true})).await;
    assert_eq!(r.body["versions"][0]["status"], "published", "{}", r.text);
    assert_eq!(r.body["published_version"], 1);

    // Every department is told, and finds it in the unified catalog.
    assert!(other.get("/api/v1/notifications").await.text.contains("目录发布：居民户籍信息"));
    let published = other.get("/api/v1/catalog").await;
    assert_eq!(published.body.as_array().unwrap().len(), 1);
    let seen = other.get(&path("")).await;
    assert_eq!(seen.status, StatusCode::OK);
    let actions: Vec<&str> =
        seen.body["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.first(), Some(&"draft.create"));
    assert_eq!(actions.last(), Some(&"authority.publish"));

    // A revision is a new version; others keep seeing the published one until it is published.
    let mut revised = fixed.clone();
    revised["update_frequency"] = json!("实时");
    revised["items"].as_array_mut().unwrap().push(json!({"name": "联系电话", "code": "lxdh", "data_type": "string", "length": 20, "grade_class": "一般数据", "grade_level": 3, "personal_info": "phone"}));
    let r = clerk.call(reqwest::Method::PUT, &path(""), revised).await;
    assert_eq!(
        (r.body["working_version"].as_u64(), r.body["published_version"].as_u64()),
        (Some(2), Some(1)),
        "{}",
        r.text
    );
    assert_eq!(other.get(&path("")).await.body["versions"].as_array().unwrap().len(), 1);
    let d = clerk.get(&path("/diff?from=1&to=2")).await;
    let fields: Vec<&str> = d.body.as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["更新频率", "数据项 lxdh"], "{}", d.text);
    assert_eq!(other.get(&path("/diff?from=1&to=2")).await.status, StatusCode::NOT_FOUND);

    clerk.post(&path("/assessments"), assessment("confidentiality", "2026-11-20")).await;
    clerk.post(&path("/assessments"), assessment("personal_info_impact", "2026-11-20")).await;
    clerk.post(&path("/submit"), json!({})).await;
    head.post(&path("/head-decision"), json!({"approve": true})).await;
    let r = reviewer.post(&path("/review"), json!({"approve": true})).await;
    let statuses: Vec<&str> =
        r.body["versions"].as_array().unwrap().iter().map(|v| v["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["superseded", "published"], "{}", r.text);

    // Everything above is in the audit chain, intact.
    let admin = Client::login(&app, "admin").await;
    let v = admin.post("/api/v1/audit/verify", json!({})).await;
    assert_eq!(v.body["intact"], true, "{}", v.text);
}

async fn search(client: &Client, query: &str) -> common::Reply {
    client.get(&format!("/api/v1/catalog/search?{query}")).await
}

fn names(reply: &common::Reply) -> Vec<String> {
    reply.body["hits"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap().to_owned()).collect()
}

fn facet(reply: &common::Reply, dimension: &str) -> Vec<(String, u64)> {
    let facets = reply.body["facets"].as_array().unwrap();
    let f = facets.iter().find(|f| f["dimension"] == dimension).unwrap();
    f["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["label"].as_str().unwrap().to_owned(), v["count"].as_u64().unwrap()))
        .collect()
}

async fn search_finds_published_entries_with_facets(backend: Backend) {
    let app = spawn(backend).await;
    let other = Client::login(&app, "ylbz.clerk").await;

    // A draft is not in the catalog anyone searches.
    let mzt = Client::login(&app, "mzt.clerk").await;
    let draft = mzt.post("/api/v1/catalog", assistance_entry()).await;
    assert_eq!(draft.status, StatusCode::CREATED);
    let found = search(&other, "q=低保").await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    assert_eq!(found.body["total"], 0);

    let mut second = assistance_entry();
    second["resource_code"] = json!("330000-MZT-0008");
    let household = publish(&app, "gat", household_entry()).await;
    let _ = publish(&app, "mzt", second).await;

    // Chinese words, in names, abstracts and data items.
    assert_eq!(names(&search(&other, "q=低保").await), ["城乡低保对象信息"]);
    assert_eq!(names(&search(&other, "q=生活保障").await), ["城乡低保对象信息"], "inside 最低生活保障");
    assert_eq!(names(&search(&other, "q=户籍%20身份核验").await), ["居民户籍信息"]);
    assert_eq!(names(&search(&other, "q=公民身份号码").await), ["居民户籍信息"], "a data item");
    // The duplicate-collection check's synonyms: 「身份证」 finds the entry whose item is 公民身份号码, not the other.
    assert_eq!(names(&search(&other, "q=身份证").await), ["居民户籍信息"], "a synonym of a data item");
    assert!(names(&search(&other, "q=不动产").await).is_empty());
    assert_eq!(names(&search(&other, "q=330000-GAT-0001").await), ["居民户籍信息"], "a resource code");

    // Facets count what matches; filters narrow.
    let all = search(&other, "").await;
    assert_eq!(all.body["total"], 2);
    assert_eq!(facet(&all, "provider"), [("浙江省公安厅".to_owned(), 1), ("浙江省民政厅".to_owned(), 1)]);
    assert_eq!(facet(&all, "attribute"), [("有条件共享".to_owned(), 1), ("无条件共享".to_owned(), 1)], "ties by code");
    assert_eq!(facet(&all, "region"), [("浙江省".to_owned(), 2)]);
    let conditional = search(&other, "attribute=conditional").await;
    assert_eq!(names(&conditional), ["居民户籍信息"]);
    assert_eq!(search(&other, "delivery=服务接口").await.body["total"], 1);
    assert_eq!(search(&other, "grade=一般数据-2").await.body["total"], 1);
    assert_eq!(search(&other, "q=信息&format=database&region=330000").await.body["total"], 2);
    let hit = &conditional.body["hits"][0];
    assert_eq!(hit["id"], household.as_str());
    assert_eq!(hit["provider_name"], "浙江省公安厅");
    assert_eq!(hit["delivery_methods"], json!(["service_api", "bulk_exchange"]));

    // Bad filters are named.
    for (query, field) in
        [("attribute=maybe", "attribute"), ("grade=机密-9", "grade"), ("region=33", "region"), ("limit=0", "limit")]
    {
        let r = search(&other, query).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", r.text);
        assert_eq!(r.body["error"]["field"], field, "{query}: {}", r.text);
    }

    // A published revision replaces the old version in the index.
    let gat = Client::login(&app, "gat.clerk").await;
    let mut renamed = household_entry();
    renamed["name"] = json!("常住人口登记信息");
    let path = format!("/api/v1/catalog/{household}");
    assert_eq!(gat.call(reqwest::Method::PUT, &path, renamed).await.status, StatusCode::OK);
    assert_eq!(names(&search(&other, "q=户籍").await), ["居民户籍信息"], "the revision is not published yet");
    gat.post(&format!("{path}/assessments"), assessment("confidentiality", "2026-11-20")).await;
    gat.post(&format!("{path}/assessments"), assessment("personal_info_impact", "2026-11-20")).await;
    gat.post(&format!("{path}/submit"), json!({})).await;
    Client::login(&app, "gat.head").await.post(&format!("{path}/head-decision"), json!({"approve": true})).await;
    Client::login(&app, "reviewer").await.post(&format!("{path}/review"), json!({"approve": true})).await;
    assert_eq!(names(&search(&other, "q=常住人口").await), ["常住人口登记信息"]);
    assert!(names(&search(&other, "q=居民户籍").await).is_empty());
    assert_eq!(search(&other, "").await.body["total"], 2);
}

async fn search_index_of_another_instance_catches_up(backend: Backend) {
    let app = spawn(backend).await;
    let second = another_instance(&app).await;
    // The session lives in the database: the same client works on both instances.
    let mut client = Client::login(&app, "ylbz.clerk").await;
    client.base = second.base.clone();
    assert_eq!(client.get("/api/v1/catalog/search?q=户籍").await.body["total"], 0);

    publish(&app, "gat", household_entry()).await;
    // The first instance indexed it when it published; the second has not seen it yet ...
    assert_eq!(client.get("/api/v1/catalog/search?q=户籍").await.body["total"], 0);
    // ... until its periodic reconciliation runs.
    let report = second.services.sync_search_index().await.unwrap();
    assert_eq!((report.indexed, report.removed, report.total), (1, 0, 1));
    assert_eq!(names(&client.get("/api/v1/catalog/search?q=户籍").await), ["居民户籍信息"]);
    assert_eq!(second.services.sync_search_index().await.unwrap().indexed, 0, "nothing left to do");
}

fn beijing_today(app: &TestApp) -> chrono::NaiveDate {
    use govshare_service::Clock;
    app.clock.now().with_timezone(&govshare_domain::calendar::beijing()).date_naive()
}

async fn update_obligation_runs_on_working_days_with_one_extension(backend: Backend) {
    let app = spawn(backend).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let reviewer = Client::login(&app, "reviewer").await;
    let head = Client::login(&app, "gat.head").await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let today = beijing_today(&app);
    let calendar = govshare_domain::calendar::WorkingCalendar::official();
    let trigger = |changed_on: String| json!({"entry_id": entry, "kind": "law_change", "changed_on": changed_on, "description": "《户口登记条例》修订,新增登记事项"});

    let r = reviewer.post("/api/v1/obligations", trigger((today + chrono::Days::new(1)).to_string())).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("changed_on")));
    assert_eq!(clerk.post("/api/v1/obligations", trigger(today.to_string())).await.status, StatusCode::FORBIDDEN);
    let r = reviewer.post("/api/v1/obligations", trigger(today.to_string())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["stage"], "awaiting_department");
    let due10 = calendar.add_working_days(today, 10).unwrap().0;
    assert_eq!(r.body["due_date"], due10.to_string());
    assert!(clerk.get("/api/v1/notifications").await.text.contains(&format!("请于 {due10} 前完成更新")));
    let again = reviewer.post("/api/v1/obligations", trigger(today.to_string())).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "one open obligation per entry: {}", again.text);
    assert_eq!(Client::login(&app, "rst.clerk").await.get("/api/v1/obligations").await.body, json!([]));
    assert_eq!(clerk.get("/api/v1/obligations").await.body.as_array().unwrap().len(), 1);

    // The extension: the head asks once, with a reason; only the same-level authority decides.
    let ext = format!("/api/v1/obligations/{id}/extension");
    assert_eq!(clerk.post(&ext, json!({"reason": "涉及多个处室"})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(head.post(&ext, json!({"reason": " "})).await.body["error"]["field"], "reason");
    assert_eq!(head.post(&ext, json!({"reason": "涉及多个处室数据项调整"})).await.status, StatusCode::OK);
    assert_eq!(head.post(&ext, json!({"reason": "再次申请"})).await.body["error"]["rule"], "once");
    let decide = format!("/api/v1/obligations/{id}/extension-decision");
    let city = Client::login(&app, "hz.reviewer").await;
    assert_eq!(city.post(&decide, json!({"approve": true})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(reviewer.post(&decide, json!({"approve": false})).await.body["error"]["field"], "note");
    let r = reviewer.post(&decide, json!({"approve": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["extended"], true);
    assert_eq!(r.body["due_date"], calendar.add_working_days(today, 15).unwrap().0.to_string());
    assert_eq!(r.body["extension"]["granted"], true);

    // Submitting the updated entry hands it to the authority, whose 2 working days start at receipt.
    app.clock.advance(chrono::Duration::minutes(5));
    let path = format!("/api/v1/catalog/{entry}");
    let mut updated = household_entry();
    updated["items"].as_array_mut().unwrap().push(json!({"name": "登记事项", "code": "djsx", "data_type": "string", "length": 100, "grade_class": "一般数据", "grade_level": 2}));
    assert_eq!(clerk.call(reqwest::Method::PUT, &path, updated).await.status, StatusCode::OK);
    clerk.post(&format!("{path}/assessments"), assessment("confidentiality", &today.to_string())).await;
    clerk.post(&format!("{path}/assessments"), assessment("personal_info_impact", &today.to_string())).await;
    clerk.post(&format!("{path}/submit"), json!({})).await;
    head.post(&format!("{path}/head-decision"), json!({"approve": true})).await;
    let o = &clerk.get("/api/v1/obligations").await.body[0];
    assert_eq!(o["stage"], "awaiting_authority", "{o}");
    assert_eq!(o["department_late"], false);
    let review_due: chrono::DateTime<chrono::Utc> = serde_json::from_value(o["review_due_at"].clone()).unwrap();
    let review_day = review_due.with_timezone(&govshare_domain::calendar::beijing()).date_naive();
    assert_eq!(review_day, calendar.add_working_days(today, 2).unwrap().0);

    // A month later the authority is late; publishing completes the obligation, late.
    app.clock.advance(chrono::Duration::days(30));
    let reviewer = Client::login(&app, "reviewer").await; // the earlier session has expired
    let o = &reviewer.get("/api/v1/obligations").await.body[0];
    assert_eq!((o["authority_late"].as_bool(), o["working_days_left"].as_i64().unwrap() < 0), (Some(true), true));
    reviewer.post(&format!("{path}/review"), json!({"approve": true})).await;
    let o = &reviewer.get("/api/v1/obligations").await.body[0];
    assert_eq!(o["stage"], "completed", "{o}");
    assert_eq!(o["authority_late"], true);
    assert!(o["working_days_left"].is_null());
}

async fn sources_of_record_and_the_duplicate_collection_check(backend: Backend) {
    let app = spawn(backend).await;
    let household = publish(&app, "gat", household_entry()).await;
    let mut marriage = assistance_entry();
    marriage["name"] = json!("婚姻登记档案");
    marriage["resource_code"] = json!("330000-MZT-0101");
    marriage["sharing_attribute"] = json!("not_shared");
    marriage["not_shared_reason"] = json!("涉及个人隐私的档案原件");
    marriage["legal_basis"] = json!("《婚姻登记档案管理办法》第十二条");
    marriage["delivery_methods"] = json!([]);
    marriage["items"] = json!([{"name": "婚姻状况", "code": "hyzk", "data_type": "string", "length": 10, "grade_class": "一般数据", "grade_level": 2}]);
    publish(&app, "mzt", marriage).await;

    let reviewer = Client::login(&app, "reviewer").await;
    let orgs = reviewer.get("/api/v1/organisations").await;
    let gat = orgs.body.as_array().unwrap().iter().find(|o| o["name"] == "浙江省公安厅").unwrap()["id"].clone();
    let designation = json!({"subject": "户籍人口", "items": ["姓名", "公民身份号码", "户籍地址"], "source_org_id": gat, "entry_id": household, "basis": "浙数据〔2026〕3号"});
    let clerk = Client::login(&app, "gat.clerk").await;
    assert_eq!(clerk.post("/api/v1/sources", designation.clone()).await.status, StatusCode::FORBIDDEN);
    let mut bad = designation.clone();
    bad["source_org_id"] = json!(uuid::Uuid::nil());
    assert_eq!(reviewer.post("/api/v1/sources", bad).await.body["error"]["field"], "source_org");
    let r = reviewer.post("/api/v1/sources", designation).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(clerk.get("/api/v1/notifications").await.text.contains("数源部门认定：户籍人口"));
    assert_eq!(clerk.get("/api/v1/sources").await.body.as_array().unwrap().len(), 1);

    let rst = Client::login(&app, "rst.clerk").await;
    let r = rst.post("/api/v1/sources/check", json!({"fields": ["身份证号", "婚姻状况", "工作单位"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let checks = r.body.as_array().unwrap();
    assert_eq!(checks[0]["verdict"], "obtain_by_sharing", "{}", r.text);
    assert_eq!(checks[0]["sources"][0]["provider_name"], "浙江省公安厅");
    assert_eq!(checks[0]["sources"][0]["item_name"], "公民身份号码", "found under its synonym");
    assert_eq!(checks[0]["sources"][0]["source_of_record"], true);
    assert_eq!(checks[1]["verdict"], "catalogued_not_shared");
    assert_eq!(checks[2]["verdict"], "collect");
    assert!(checks[2]["sources"].as_array().unwrap().is_empty());
    assert_eq!(rst.post("/api/v1/sources/check", json!({"fields": [" "]})).await.body["error"]["field"], "fields");
}

async fn console_pages_for_obligations_and_sources(backend: Backend) {
    let app = spawn(backend).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let reviewer = Client::login(&app, "reviewer").await;
    let page = reviewer.get("/console/catalog/obligations").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("登记更新触发") && page.text.contains("居民户籍信息（浙江省公安厅）"), "{}", page.text);
    let csrf = reviewer.csrf.clone().unwrap();
    let today = beijing_today(&app).to_string();
    let bad = reviewer
        .form(
            "/console/catalog/obligations",
            &[
                ("csrf_token", &csrf),
                ("entry_id", &entry),
                ("kind", "law_change"),
                ("changed_on", &today),
                ("description", ""),
            ],
        )
        .await;
    assert!(bad.text.contains("变化情况说明不能为空"), "the form shows the field's error");
    let ok = reviewer
        .form(
            "/console/catalog/obligations",
            &[
                ("csrf_token", &csrf),
                ("entry_id", &entry),
                ("kind", "law_change"),
                ("changed_on", &today),
                ("description", "条例修订"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let head = Client::login(&app, "gat.head").await;
    let page = head.get("/console/catalog/obligations").await;
    assert!(page.text.contains("待部门更新报送") && page.text.contains("申请延期 5 个工作日"), "{}", page.text);
    assert!(!page.text.contains("同意延期"), "only the authority decides");

    let page = reviewer.get("/console/catalog/sources").await;
    assert!(page.text.contains("认定数源部门"));
    let check = head
        .form(
            "/console/catalog/sources/check",
            &[("csrf_token", head.csrf.as_deref().unwrap()), ("fields", "身份证号\n爱好")],
        )
        .await;
    assert!(
        check.text.contains("可通过共享获取，不应重复采集") && check.text.contains("目录中没有，需自行采集"),
        "{}",
        check.text
    );
}

fn import_workbook(entries: &[&[&str]], items: &[&[&str]]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let headers = [
        "资源代码",
        "资源名称",
        "摘要",
        "数据格式",
        "更新频率",
        "共享属性",
        "共享范围",
        "使用用途",
        "不予共享理由",
        "法律依据",
        "共享方式",
        "使用条件",
        "分类",
        "级别",
        "是否向社会开放",
        "关联目录",
    ];
    let sheet = wb.add_worksheet().set_name("目录").unwrap();
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in entries.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    let headers = ["资源代码", "数据项名称", "数据项代码", "数据类型", "长度", "分类", "级别", "个人信息类别"];
    let sheet = wb.add_worksheet().set_name("数据项").unwrap();
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in items.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

async fn excel_import_is_all_or_nothing_and_exports_round_trip(backend: Backend) {
    let app = spawn(backend).await;
    publish(&app, "gat", household_entry()).await;
    let rst = Client::login(&app, "rst.clerk").await;
    let mine = |c: &Client| {
        let c = c.clone();
        async move { c.get("/api/v1/catalog?scope=mine").await.body.as_array().unwrap().len() }
    };

    let (status, headers, template) = rst.download("/api/v1/catalog/template.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().contains("spreadsheetml"));
    assert!(govshare_interchange::parse_xlsx(&template, &Default::default()).unwrap().entries.is_empty());

    // Exports: Excel in the template's layout, and DCAT.
    let (status, _, exported) = rst.download("/api/v1/catalog/export.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    let report = govshare_interchange::parse_xlsx(&exported, &Default::default()).unwrap();
    assert!(report.is_clean(), "{:?}", report.errors);
    assert_eq!(report.entries[0].input.resource_code, "330000-GAT-0001");
    let dcat = rst.get("/api/v1/catalog/export.jsonld").await;
    assert_eq!(dcat.status, StatusCode::OK);
    assert_eq!(dcat.body["dcat:dataset"][0]["dct:identifier"], "330000-GAT-0001", "{}", dcat.text);

    // Re-importing it clashes with the code in use: nothing is created.
    let r = rst.upload("/api/v1/catalog/import", exported, true).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(mine(&rst).await, 0);

    let good: &[&str] = &[
        "330000-RST-0001",
        "社会保险参保信息",
        "参保登记",
        "数据库",
        "每月",
        "无条件共享",
        "",
        "",
        "",
        "",
        "服务接口",
        "",
        "一般数据",
        "2",
        "否",
        "",
    ];
    let bad: &[&str] = &[
        "330000-RST-0002",
        "养老保险缴费",
        "缴费记录",
        "数据库",
        "每月",
        "有条件共享",
        "",
        "",
        "",
        "",
        "服务接口",
        "",
        "一般数据",
        "2",
        "否",
        "",
    ];
    let items: &[&[&str]] = &[
        &["330000-RST-0001", "姓名", "xm", "字符型", "50", "一般数据", "2", "姓名"],
        &["330000-RST-0002", "缴费基数", "jfjs", "数值型", "", "一般数据", "2", ""],
    ];
    let file = import_workbook(&[good, bad], items);
    assert_eq!(rst.upload("/api/v1/catalog/import", file.clone(), false).await.status, StatusCode::FORBIDDEN, "CSRF");
    let r = rst.upload("/api/v1/catalog/import", file.clone(), true).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!((r.body["entries"].as_u64(), r.body["valid"].as_u64()), (Some(2), Some(1)));
    assert_eq!(r.body["created"], json!([]));
    let e = &r.body["errors"][0];
    assert_eq!(
        (e["sheet"].as_str(), e["row"].as_u64(), e["column"].as_str()),
        (Some("目录"), Some(3), Some("共享范围")),
        "{}",
        r.text
    );
    assert_eq!(mine(&rst).await, 0, "a file with errors imports nothing");

    let r = rst.upload("/api/v1/catalog/import?accept_valid=true", file, true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["created"].as_array().unwrap().len(), 1);
    let drafts = rst.get("/api/v1/catalog?scope=mine").await;
    assert_eq!(drafts.body[0]["versions"][0]["status"], "draft");
    assert_eq!(drafts.body[0]["versions"][0]["content"]["resource_code"], "330000-RST-0001", "{}", drafts.text);

    let r = rst.upload("/api/v1/catalog/import", b"not a workbook".to_vec(), true).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("file")));
}

/// A multipart/form-data body by hand: (name, filename, bytes).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "govshare-test-boundary-7d91";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn console_import_checks_the_upload_form_token_and_reports_cells(backend: Backend) {
    let app = spawn(backend).await;
    let clerk = Client::login(&app, "rst.clerk").await;
    let bad: &[&str] = &[
        "330000-RST-0002",
        "养老保险缴费",
        "缴费记录",
        "数据库",
        "每月",
        "有条件共享",
        "",
        "",
        "",
        "",
        "服务接口",
        "",
        "一般数据",
        "2",
        "否",
        "",
    ];
    let file = import_workbook(&[bad], &[&["330000-RST-0002", "缴费基数", "jfjs", "数值型", "", "一般数据", "2", ""]]);
    let send = |parts: Vec<(&'static str, Option<&'static str>, Vec<u8>)>| {
        let clerk = clerk.clone();
        async move {
            let borrowed: Vec<(&str, Option<&str>, &[u8])> =
                parts.iter().map(|(n, f, b)| (*n, *f, b.as_slice())).collect();
            let (content_type, body) = multipart(&borrowed);
            clerk
                .http
                .post(format!("{}/console/catalog/import", clerk.base))
                .header("cookie", clerk.cookie.clone().unwrap())
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let token = clerk.csrf.clone().unwrap().into_bytes();
    let forged = send(vec![("csrf_token", None, b"wrong".to_vec()), ("file", Some("a.xlsx"), file.clone())]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let missing = send(vec![("file", Some("a.xlsx"), file.clone())]).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let reply = send(vec![("csrf_token", None, token.clone()), ("file", Some("a.xlsx"), file)]).await;
    assert_eq!(reply.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = reply.text().await.unwrap();
    assert!(page.contains("未导入任何目录") && page.contains("共享范围"), "{page}");
    let empty = send(vec![("csrf_token", None, token)]).await;
    assert!(empty.text().await.unwrap().contains("请选择要导入的 Excel 文件"));
}

async fn a_draft_never_submitted_can_be_deleted_and_nothing_else(backend: Backend) {
    let app = spawn(backend).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let head = Client::login(&app, "gat.head").await;
    let created = clerk.post("/api/v1/catalog", household_entry()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let draft = created.body["id"].as_str().unwrap().to_owned();
    let delete = |client: &Client, id: &str| {
        let (client, path) = (client.clone(), format!("/api/v1/catalog/{id}"));
        async move { client.call(reqwest::Method::DELETE, &path, json!({})).await }
    };

    // Refusals first. Another department's clerk and head, and a business system.
    for other in ["rst.clerk", "rst.head"] {
        let r = delete(&Client::login(&app, other).await, &draft).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"), "{other}: {}", r.text);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("编制目录"), "{}", r.text);
    }
    let key = common::people::api_key(&app, "gat", "目录删除测试系统").await;
    assert_eq!(delete(&key, &draft).await.status, StatusCode::FORBIDDEN, "a system key deletes nothing");
    // A published entry, one waiting for the head, and one the head sent back: all stay.
    let mut second = household_entry();
    second["resource_code"] = json!("330000-GAT-0002");
    let published = publish(&app, "gat", second).await;
    let r = delete(&clerk, &published).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"), "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("已发布的目录不能删除"), "{}", r.text);
    let mut third = household_entry();
    third["resource_code"] = json!("330000-GAT-0003");
    let submitted = clerk.post("/api/v1/catalog", third).await.body["id"].as_str().unwrap().to_owned();
    let path = |id: &str, tail: &str| format!("/api/v1/catalog/{id}{tail}");
    clerk.post(&path(&submitted, "/assessments"), assessment("confidentiality", "2026-11-02")).await;
    clerk.post(&path(&submitted, "/assessments"), assessment("personal_info_impact", "2026-11-02")).await;
    assert_eq!(clerk.post(&path(&submitted, "/submit"), json!({})).await.status, StatusCode::OK);
    let r = delete(&clerk, &submitted).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("待负责人审核"), "{}", r.text);
    let back = head.post(&path(&submitted, "/head-decision"), json!({"approve": false, "reason": "分级有误"})).await;
    assert_eq!(back.body["versions"][0]["status"], "draft", "{}", back.text);
    let r = delete(&head, &submitted).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("曾提交审核"), "{}", r.text);
    assert_eq!(clerk.get("/api/v1/catalog?scope=mine").await.body.as_array().unwrap().len(), 3, "nothing deleted");

    // The clerk deletes the draft: gone, audited, its resource code free again.
    let r = delete(&clerk, &draft).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(clerk.get(&path(&draft, "")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(delete(&clerk, &draft).await.status, StatusCode::NOT_FOUND);
    let supervisor = Client::login(&app, "supervisor").await;
    let audit = supervisor.get("/api/v1/audit?limit=20").await;
    let record = audit.body.as_array().unwrap().iter().find(|r| r["action"] == "catalog.delete").expect("audited");
    assert_eq!(record["object_id"], draft.as_str());
    assert!(record["detail"].as_str().unwrap().contains("330000-GAT-0001"), "{record}");
    let again = clerk.post("/api/v1/catalog", household_entry()).await;
    assert_eq!(again.status, StatusCode::CREATED, "the code is free: {}", again.text);
    let again = again.body["id"].as_str().unwrap().to_owned();

    // The console: the head may delete it too, after confirming; the button is only on a deletable draft.
    let page = head.get(&format!("/console/catalog/{again}")).await;
    assert!(
        page.text.contains("id=\"delete-entry-form\"") && page.text.contains("data-confirm=\"删除后"),
        "{}",
        page.text
    );
    for id in [&published, &submitted] {
        assert!(!clerk.get(&format!("/console/catalog/{id}")).await.text.contains("delete-entry-form"));
    }
    let csrf = head.csrf.clone().unwrap();
    let refused = head.form(&format!("/console/catalog/{published}/delete"), &[("csrf_token", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text.contains("已发布的目录不能删除"), "{}", refused.text);
    let done = head.form(&format!("/console/catalog/{again}/delete"), &[("csrf_token", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.headers["location"], "/console/catalog/mine?notice=entry_deleted");
    assert!(head.get("/console/catalog/mine?notice=entry_deleted").await.text.contains("目录草稿已删除"));
    assert_eq!(clerk.get(&path(&again, "")).await.status, StatusCode::NOT_FOUND);
}

async fn a_wrongly_attached_assessment_comes_off_an_editable_draft_only(backend: Backend) {
    let app = spawn(backend).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let id = clerk.post("/api/v1/catalog", household_entry()).await.body["id"].as_str().unwrap().to_owned();
    let path = |tail: &str| format!("/api/v1/catalog/{id}{tail}");
    let mut wrong = assessment("confidentiality", "2026-11-01");
    wrong["document_title"] = json!("别的目录的评估报告");
    wrong["document_ref"] = json!("浙公数评〔2026〕99号");
    clerk.post(&path("/assessments"), wrong.clone()).await;
    wrong["document_ref"] = json!("浙公数评〔2026〕98号");
    clerk.post(&path("/assessments"), wrong).await;
    let r = clerk.post(&path("/assessments"), assessment("confidentiality", "2026-11-02")).await;
    let ids: Vec<String> = r.body["versions"][0]["assessments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "{}", r.text);
    let remove = |client: &Client, assessment: &str| {
        let (client, path) = (client.clone(), path(&format!("/assessments/{assessment}")));
        async move { client.call(reqwest::Method::DELETE, &path, json!({})).await }
    };

    // Refusals first: another department, an unknown or malformed assessment.
    let r = remove(&Client::login(&app, "rst.clerk").await, &ids[0]).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"), "{}", r.text);
    let r = remove(&clerk, "00000000-0000-0000-0000-000000000000").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"), "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("评估不存在"));
    let r = remove(&clerk, "第一份").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["error"]["field"], "assessment_id");
    assert_eq!(clerk.get(&path("")).await.body["versions"][0]["assessments"].as_array().unwrap().len(), 3);

    // The clerk takes one off through the API, the other in the console after confirming.
    let r = remove(&clerk, &ids[0]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let left: Vec<&str> =
        r.body["versions"][0]["assessments"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(left, [ids[1].as_str(), ids[2].as_str()]);
    let last = r.body["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "assessment.remove");
    assert!(last["note"].as_str().unwrap().contains("浙公数评〔2026〕99号"), "{last}");
    let page = clerk.get(&format!("/console/catalog/{id}")).await;
    assert!(page.text.contains(&format!("value=\"{}\"", ids[1])), "{}", page.text);
    assert!(page.text.contains("data-confirm=\"将从草稿中移除「别的目录的评估报告」"), "{}", page.text);
    let csrf = clerk.csrf.clone().unwrap();
    let done = clerk
        .form(&format!("/console/catalog/{id}/remove-assessment"), &[("csrf_token", &csrf), ("assessment_id", &ids[1])])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let page = clerk.get(&format!("/console/catalog/{id}?notice=assessment_removed")).await;
    assert!(page.text.contains("评估材料已从草稿中移除") && page.text.contains("移除评估"), "{}", page.text);
    let list = page.text.split("id=\"assessments\"").nth(1).and_then(|t| t.split("</ul>").next()).unwrap();
    assert!(!list.contains("98号") && list.contains("12号"), "gone from the list: {list}");
    assert!(page.text.contains("浙公数评〔2026〕98号"), "the timeline says what was removed");
    let supervisor = Client::login(&app, "supervisor").await;
    let audit = supervisor.get("/api/v1/audit?limit=30").await;
    let removals = audit.body.as_array().unwrap().iter().filter(|r| r["action"] == "catalog.assessment.remove").count();
    assert_eq!(removals, 2, "each removal is audited");

    // Once submitted, and once published, the assessments stay.
    clerk.post(&path("/assessments"), assessment("personal_info_impact", "2026-11-02")).await;
    assert_eq!(clerk.post(&path("/submit"), json!({})).await.status, StatusCode::OK);
    let r = remove(&clerk, &ids[2]).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"), "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("待负责人审核"), "{}", r.text);
    assert!(!clerk.get(&format!("/console/catalog/{id}")).await.text.contains("remove-assessment"));
    Client::login(&app, "gat.head").await.post(&path("/head-decision"), json!({"approve": true})).await;
    Client::login(&app, "reviewer").await.post(&path("/review"), json!({"approve": true})).await;
    let r = remove(&clerk, &ids[2]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("已发布"), "{}", r.text);
    assert_eq!(clerk.get(&path("")).await.body["versions"][0]["assessments"].as_array().unwrap().len(), 2);
}

/// The review queue's row of one entry (from its link to the end of the row).
fn queue_row<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page.find(&format!("/console/catalog/{id}\"")).unwrap_or_else(|| panic!("{id} is not in the queue"));
    let start = page[..at].rfind("<tr").unwrap();
    &page[start..at + page[at..].find("</tr>").unwrap()]
}

/// The step the entry page highlights.
fn current_step(page: &str) -> &str {
    let at = page.find("aria-current=\"step\"").expect("a current step");
    let rest = &page[at..];
    let end = rest.find("</li>").unwrap();
    rest[..end].rsplit("</span>").next().unwrap()
}

/// The clerk attaches both assessments and submits; the head sends the entry to the authority.
async fn through_head(app: &TestApp, id: &str, clerk: &Client, head: &Client) {
    let path = format!("/api/v1/catalog/{id}");
    let today = beijing_today(app).to_string();
    clerk.post(&format!("{path}/assessments"), assessment("confidentiality", &today)).await;
    clerk.post(&format!("{path}/assessments"), assessment("personal_info_impact", &today)).await;
    assert_eq!(clerk.post(&format!("{path}/submit"), json!({})).await.status, StatusCode::OK);
    let r = head.post(&format!("{path}/head-decision"), json!({"approve": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn the_review_queue_counts_down_and_the_entry_page_shows_its_step(backend: Backend) {
    let app = spawn(backend).await;
    let (clerk, head) = (Client::login(&app, "gat.clerk").await, Client::login(&app, "gat.head").await);
    let reviewer = Client::login(&app, "reviewer").await;

    // A draft: the indicator is at 起草.
    let entry = clerk.post("/api/v1/catalog", household_entry()).await.body["id"].as_str().unwrap().to_owned();
    let page = clerk.get(&format!("/console/catalog/{entry}")).await;
    assert!(page.text.contains("class=\"steps\""), "{}", page.text);
    assert_eq!(current_step(&page.text), "起草");
    through_head(&app, &entry, &clerk, &head).await;
    assert_eq!(current_step(&clerk.get(&format!("/console/catalog/{entry}")).await.text), "主管部门审核");
    reviewer.post(&format!("/api/v1/catalog/{entry}/review"), json!({"approve": true})).await;
    assert_eq!(current_step(&clerk.get(&format!("/console/catalog/{entry}")).await.text), "已发布");

    // An update under Art. 17 has 2 working days of review; a first submission (Art. 16) has none.
    let trigger = json!({"entry_id": entry, "kind": "law_change", "changed_on": beijing_today(&app).to_string(), "description": "条例修订"});
    assert_eq!(reviewer.post("/api/v1/obligations", trigger).await.status, StatusCode::CREATED);
    let mut updated = household_entry();
    updated["summary"] = json!("全省户籍人口的登记信息（按修订后的条例更新）");
    assert_eq!(
        clerk.call(reqwest::Method::PUT, &format!("/api/v1/catalog/{entry}"), updated).await.status,
        StatusCode::OK
    );
    through_head(&app, &entry, &clerk, &head).await;
    let mzt = Client::login(&app, "mzt.clerk").await;
    let first = mzt.post("/api/v1/catalog", assistance_entry()).await.body["id"].as_str().unwrap().to_owned();
    through_head(&app, &first, &mzt, &Client::login(&app, "mzt.head").await).await;
    assert_eq!(current_step(&head.get(&format!("/console/catalog/{entry}")).await.text), "主管部门审核", "v2");

    // The queue shows what the to-do list says: the same due date and working days left.
    let duties = reviewer.get("/api/v1/duties").await;
    let duty = duties.body.as_array().unwrap().iter().find(|d| d["subject_id"] == entry.as_str()).unwrap().clone();
    let (due, left) = (duty["due_date"].as_str().unwrap().to_owned(), duty["working_days_left"].as_i64().unwrap());
    let page = reviewer.get("/console/catalog/review").await;
    assert!(page.text.contains("<th>审核期限</th>"), "{}", page.text);
    let row = queue_row(&page.text, &entry);
    assert!(row.contains(&format!("{due} 前")) && row.contains(&format!("剩余 {left} 个工作日")), "{row}");
    assert!(row.contains("tag-warn"), "2 days or fewer are urgent: {row}");
    let untimed = queue_row(&page.text, &first);
    assert!(untimed.contains("无法定期限") && untimed.contains("首次报送"), "{untimed}");
    assert!(page.text.find(&entry).unwrap() < page.text.find(&first).unwrap(), "timed entries first");

    // A month later the review is overdue, in red.
    app.clock.advance(chrono::Duration::days(30));
    let reviewer = Client::login(&app, "reviewer").await;
    let page = reviewer.get("/console/catalog/review").await;
    let row = queue_row(&page.text, &entry);
    assert!(row.contains("class=\"duty-overdue overdue\"") && row.contains("tag tag-err"), "{row}");
    assert!(row.contains("已逾期") && row.contains("个工作日"), "{row}");
    assert!(!queue_row(&page.text, &first).contains("已逾期"), "no period, never overdue");
}

/// A raw PUT with the session's CSRF token.
async fn put_bytes(client: &Client, path: &str, content_type: &str, bytes: Vec<u8>) -> common::Reply {
    let resp = client
        .http
        .put(format!("{}{path}", client.base))
        .header("cookie", client.cookie.clone().unwrap())
        .header("x-csrf-token", client.csrf.clone().unwrap())
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let text = resp.text().await.unwrap();
    common::Reply { status, body: serde_json::from_str(&text).unwrap_or_default(), text, headers }
}

fn pdf(body: &str) -> Vec<u8> {
    format!("%PDF-1.7\n1 0 obj\n<< /Title ({body}) >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n").into_bytes()
}

async fn the_assessment_report_is_a_pdf_kept_with_its_sm3_digest(backend: Backend) {
    use govshare_domain::catalog::{MAX_REPORT_BYTES, file_sm3};
    let app = spawn(backend).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let other = Client::login(&app, "rst.clerk").await;
    let id = clerk.post("/api/v1/catalog", household_entry()).await.body["id"].as_str().unwrap().to_owned();
    let r = clerk.post(&format!("/api/v1/catalog/{id}/assessments"), assessment("confidentiality", "2026-11-02")).await;
    let aid = r.body["versions"][0]["assessments"][0]["id"].as_str().unwrap().to_owned();
    assert!(r.body["versions"][0]["assessments"][0]["report"].is_null());
    let report = format!("/api/v1/catalog/{id}/assessments/{aid}/report");
    let upload =
        format!("{report}?file_name=%E4%BF%9D%E5%AF%86%E9%A3%8E%E9%99%A9%E8%AF%84%E4%BC%B0%E6%8A%A5%E5%91%8A.pdf");
    let nothing_stored = || async {
        let entry = clerk.get(&format!("/api/v1/catalog/{id}")).await;
        assert!(entry.body["versions"][0]["assessments"][0]["report"].is_null(), "{}", entry.text);
        assert_eq!(clerk.get(&report).await.status, StatusCode::NOT_FOUND);
        let audit = Client::login(&app, "supervisor").await.get("/api/v1/audit?limit=50").await;
        assert!(!audit.text.contains("catalog.assessment.report"));
    };

    // Refusals first: another department; a file that is not a PDF whatever its name; one too large.
    let r = put_bytes(&other, &upload, "application/pdf", pdf("别人的")).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"), "{}", r.text);
    let zip = b"PK\x03\x04\x14\x00 a spreadsheet renamed to .pdf".to_vec();
    let r = put_bytes(&clerk, &upload, "application/pdf", zip).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        (r.body["error"]["field"].as_str(), r.body["error"]["rule"].as_str()),
        (Some("report"), Some("not_pdf"))
    );
    assert!(r.body["error"]["message"].as_str().unwrap().contains("不是 PDF"), "{}", r.text);
    let mut big = pdf("大");
    big.resize(MAX_REPORT_BYTES + 1, b' ');
    let r = put_bytes(&clerk, &upload, "application/pdf", big.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        (r.body["error"]["field"].as_str(), r.body["error"]["rule"].as_str()),
        (Some("report"), Some("too_large"))
    );
    big.resize(MAX_REPORT_BYTES + 4096, b' ');
    // Refused by its length before the body is read: the server may answer and close while the client is still
    // writing, which the client sees as a broken pipe. Such an attempt is tried again until the answer is read.
    let mut answered = None;
    for _ in 0..5 {
        let sent = clerk
            .http
            .put(format!("{}{upload}", clerk.base))
            .header("cookie", clerk.cookie.clone().unwrap())
            .header("x-csrf-token", clerk.csrf.clone().unwrap())
            .header("content-type", "application/pdf")
            .body(big.clone())
            .send()
            .await;
        if let Ok(resp) = sent {
            answered = Some((resp.status(), resp.text().await.unwrap()));
            break;
        }
    }
    let (status, text) = answered.expect("the oversized upload is answered");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
    nothing_stored().await;

    // The report is kept with its SM3 digest and handed back as it was.
    let file = pdf("居民户籍信息保密风险评估");
    let r = put_bytes(&clerk, &upload, "application/pdf", file.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let meta = &r.body["versions"][0]["assessments"][0]["report"];
    assert_eq!(meta["file_name"], "保密风险评估报告.pdf");
    assert_eq!(
        (meta["size"].as_u64(), meta["sm3"].as_str()),
        (Some(file.len() as u64), Some(file_sm3(&file).as_str()))
    );
    assert_eq!(meta["uploaded_by"], "王警官");
    let (status, headers, bytes) = clerk.download(&report).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, file.as_slice()));
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-sm3"], file_sm3(&file).as_str());
    assert!(headers["content-disposition"].to_str().unwrap().contains("filename*=UTF-8''%E4%BF%9D"));
    assert_eq!(other.get(&report).await.status, StatusCode::NOT_FOUND, "a draft's report is its department's");
    let audit = Client::login(&app, "supervisor").await.get("/api/v1/audit?limit=50").await;
    let record = audit.body.as_array().unwrap().iter().find(|r| r["action"] == "catalog.assessment.report").unwrap();
    assert!(record["detail"].as_str().unwrap().contains(&file_sm3(&file)), "{record}");
    // Reading a report is audited too: who downloaded which file; a refused download leaves no record.
    let downloads: Vec<&serde_json::Value> =
        audit.body.as_array().unwrap().iter().filter(|r| r["action"] == "catalog.assessment.report.download").collect();
    assert_eq!(downloads.len(), 1, "one download (the other caller was refused): {}", audit.text);
    assert_eq!(downloads[0]["actor"], "user:gat.clerk", "{}", downloads[0]);
    assert!(downloads[0]["detail"].as_str().unwrap().contains(&file_sm3(&file)), "{}", downloads[0]);

    // The console: a report chosen with the assessment goes in with it; a wrong file is named on the form.
    let page = clerk.get(&format!("/console/catalog/{id}")).await;
    assert!(page.text.contains("enctype=\"multipart/form-data\" class=\"form\" id=\"assess-form\""), "{}", page.text);
    assert!(page.text.contains(&format!("href=\"{report}\"")) && page.text.contains("下载评估报告（PDF，1 KB）"));
    let token = clerk.csrf.clone().unwrap();
    let form = |report: (&'static str, Vec<u8>)| {
        let mut parts: Vec<(&str, Option<&str>, Vec<u8>)> = vec![("csrf_token", None, token.clone().into_bytes())];
        for (k, v) in [
            ("kind", "personal_info_impact"),
            ("document_title", "个人信息保护影响评估报告"),
            ("document_ref", "浙公数评〔2026〕13号"),
            ("assessed_on", "2026-11-03"),
            ("conclusion", "pass"),
        ] {
            parts.push((k, None, v.as_bytes().to_vec()));
        }
        parts.push(("report", Some(report.0), report.1));
        let borrowed: Vec<(&str, Option<&str>, &[u8])> = parts.iter().map(|(n, f, b)| (*n, *f, b.as_slice())).collect();
        multipart(&borrowed)
    };
    let post = |(content_type, body): (String, Vec<u8>)| {
        let clerk = clerk.clone();
        let path = format!("/console/catalog/{id}/assessments");
        async move {
            let resp = clerk
                .http
                .post(format!("{}{path}", clerk.base))
                .header("cookie", clerk.cookie.clone().unwrap())
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            (resp.status(), resp.headers().clone(), resp.text().await.unwrap())
        }
    };
    let (status, _, text) = post(form(("影响评估.pdf", b"GIF89a not a pdf".to_vec()))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text.contains("不是 PDF") && text.contains("name=\"report\" accept=\"application/pdf,.pdf\" class=\"invalid\""),
        "{text}"
    );
    let entry = clerk.get(&format!("/api/v1/catalog/{id}")).await;
    assert_eq!(
        entry.body["versions"][0]["assessments"].as_array().unwrap().len(),
        1,
        "the refused form stored nothing"
    );
    let second = pdf("个人信息保护影响评估");
    let (status, headers, _) = post(form(("影响评估.pdf", second.clone()))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], format!("/console/catalog/{id}?notice=assessment_attached").as_str());
    let entry = clerk.get(&format!("/api/v1/catalog/{id}")).await;
    let attached = &entry.body["versions"][0]["assessments"][1];
    assert_eq!(attached["report"]["sm3"], file_sm3(&second).as_str(), "{}", entry.text);
    let second_report = format!("/api/v1/catalog/{id}/assessments/{}/report", attached["id"].as_str().unwrap());

    // Once published, everyone who reads the entry may read its reports; nobody may replace them.
    clerk.post(&format!("/api/v1/catalog/{id}/submit"), json!({})).await;
    Client::login(&app, "gat.head")
        .await
        .post(&format!("/api/v1/catalog/{id}/head-decision"), json!({"approve": true}))
        .await;
    let r = Client::login(&app, "reviewer")
        .await
        .post(&format!("/api/v1/catalog/{id}/review"), json!({"approve": true}))
        .await;
    assert_eq!(r.body["published_version"], 1, "{}", r.text);
    let (status, _, bytes) = other.download(&second_report).await;
    assert_eq!((status, bytes), (StatusCode::OK, second));
    let r = put_bytes(&clerk, &upload, "application/pdf", pdf("改")).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"), "{}", r.text);
    assert_eq!(clerk.download(&report).await.2, file, "the published report is unchanged");
}
