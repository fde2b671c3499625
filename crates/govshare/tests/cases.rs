//! Black-box tests of what happens after sharing (2), on both backends: corrections with the disputed mark and
//! the change feed (Art. 26), the dispute ladder over the region tree (Art. 28), public complaints by tracking
//! code (Art. 37 ¶2). Refusals first.

mod common;

use chrono::Duration;
use common::people::{STANDARD_ITEMS, api_key, granted, hosted_entry, id_number, standard_grant};
use common::{Backend, Client, TestApp, file_complaint, is_number, spawn};
use govshare_domain::org::NewOrganisationInput;
use govshare_domain::principal::Principal;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    a_correction_marks_the_record_disputed_for_every_grant_until_the_corrected_value_reaches_them,
    a_correction_answered_late_is_overdue_and_counts_in_the_figures,
    a_dispute_climbs_the_ladder_to_the_common_superior_authority_without_skipping_a_rung,
    a_public_complaint_is_found_by_its_tracking_code_and_shows_nothing_else
);

/// The open duties of `client` on `subject`, as (kind, role, due date, late).
async fn duties_on(client: &Client, subject: &str) -> Vec<(String, String, String, bool)> {
    let r = client.get("/api/v1/duties").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["subject_id"] == subject)
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["role"].as_str().unwrap_or_default().to_owned(),
                d["due_date"].as_str().unwrap_or_default().to_owned(),
                d["late"].as_bool().unwrap_or_default(),
            )
        })
        .collect()
}

/// The bulk-exchange rows after `cursor`, as (name as delivered, phone as delivered, disputed, correction).
async fn feed(system: &Client, grant: &str, cursor: i64) -> (Vec<(String, String, Value, Value)>, i64) {
    let r = system.get(&format!("/api/v1/data/{grant}/changes?cursor={cursor}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rows = r.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["record"]["xm"].as_str().unwrap_or_default().to_owned(),
                c["record"]["sjhm"].as_str().unwrap_or_default().to_owned(),
                c["disputed"].clone(),
                c["correction"].clone(),
            )
        })
        .collect();
    (rows, r.body["next_cursor"].as_i64().unwrap())
}

/// Art. 26: 人社厅 finds 张三's phone wrong and files a correction request. From then until 公安厅 answers, the record
/// is marked disputed in every grant that receives it (人社厅's and 民政厅's change feeds, 教育厅's lookups); the
/// corrected value then reaches both feeds as a new version naming the correction, and the mark is gone.
async fn a_correction_marks_the_record_disputed_for_every_grant_until_the_corrected_value_reaches_them(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let rst_grant = granted(&app, &entry, "rst", "bulk_exchange", &STANDARD_ITEMS, standard_grant()).await;
    let mzt_grant = granted(&app, &entry, "mzt", "bulk_exchange", &STANDARD_ITEMS, standard_grant()).await;
    let jyt_grant = granted(&app, &entry, "jyt", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let (rst_system, mzt_system, jyt_system) = (
        api_key(&app, "rst", "就业服务系统").await,
        api_key(&app, "mzt", "救助系统").await,
        api_key(&app, "jyt", "学籍系统").await,
    );
    let (_, rst_cursor) = feed(&rst_system, &rst_grant, 0).await;
    let (snapshot, mzt_cursor) = feed(&mzt_system, &mzt_grant, 0).await;
    assert!(snapshot.iter().all(|r| r.2.is_null()), "nothing is disputed yet");
    let zhang = id_number("330106", 1);
    let request = json!({"grant": rst_grant, "key": zhang, "claims": [{"item": "sjhm", "value": "13912340001"}],
                         "evidence": "本人到窗口办理时出示的手机号码与共享数据不一致", "checked_against": "窗口现场核验"});

    // Refusals: another department, a contractor, the provider, a system; then bad input, named.
    for who in ["mzt.clerk", "rst.vendor", "gat.clerk"] {
        let r = Client::login(&app, who).await.post("/api/v1/corrections", request.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {}", r.text);
    }
    assert_eq!(rst_system.post("/api/v1/corrections", request.clone()).await.status, StatusCode::FORBIDDEN);
    let rst = Client::login(&app, "rst.clerk").await;
    let r = rst.post("/api/v1/corrections", json!({"grant": rst_grant, "key": " ", "claims": []})).await;
    assert_eq!(r.problems(), [("key", "required"), ("claims", "required"), ("evidence", "required")]);
    let r = rst
        .post(
            "/api/v1/corrections",
            json!({"grant": rst_grant, "key": zhang, "claims": [{"item": "yhkh"}], "evidence": "x"}),
        )
        .await;
    assert_eq!(r.problems(), [("claims[0].item", "not_granted")], "an item the grant does not give");
    let wang = id_number("330302", 3);
    let r = rst
        .post(
            "/api/v1/corrections",
            json!({"grant": rst_grant, "key": wang, "claims": [{"item": "sjhm"}], "evidence": "x"}),
        )
        .await;
    assert_eq!(r.problems(), [("key", "no_record")], "温州's record is outside the grant's rows: {}", r.text);
    let r = rst
        .post(
            "/api/v1/corrections",
            json!({"grant": rst_grant, "key": zhang, "claims": [{"item": "sjhm"}], "evidence": "x",
                   "attachment": {"file_name": "a.pdf", "content_base64": "PGh0bWw+"}}),
        )
        .await;
    assert_eq!(r.problems(), [("attachment", "file_type")], "HTML is not a PDF whatever its name");
    assert!(rst.get("/api/v1/corrections").await.body.as_array().unwrap().is_empty(), "nothing was kept");

    let filed = rst.post("/api/v1/corrections", request.clone()).await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    let id = filed.body["id"].as_str().unwrap().to_owned();
    let number = filed.body["number"].as_str().unwrap().to_owned();
    assert!(is_number(&number, "JH"), "{number}");
    assert_eq!((&filed.body["open"], &filed.body["subject"]["key"]), (&json!(true), &json!(zhang)));
    assert_eq!(rst.post("/api/v1/corrections", request.clone()).await.status, StatusCode::CONFLICT, "one at a time");
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let due = filed.body["due_on"].as_str().unwrap().to_owned();
    assert_eq!(duties_on(&gat_clerk, &id).await, [("answer_correction".into(), "clerk".into(), due, false)]);

    // Marked disputed for every grant: both feeds (the record again, flagged) and the lookups.
    let (rows, _) = feed(&mzt_system, &mzt_grant, 0).await;
    let zhang_row = rows.iter().find(|r| r.0 == "张*").unwrap();
    assert_eq!(zhang_row.2, json!(number), "the snapshot flags the record: {rows:?}");
    assert!(rows.iter().filter(|r| r.0 != "张*").all(|r| r.2.is_null()), "only that record: {rows:?}");
    let lookup = jyt_system.get(&format!("/api/v1/data/{jyt_grant}/records/{zhang}")).await;
    assert_eq!(lookup.body["disputed"], json!([{"row": 0, "correction": number}]), "{}", lookup.text);
    let other = jyt_system.get(&format!("/api/v1/data/{jyt_grant}/records/{}", id_number("330106", 2))).await;
    assert_eq!(other.body["disputed"], json!([]));
    let query = jyt_system.get(&format!("/api/v1/data/{jyt_grant}/records?xzqh=330106")).await;
    assert_eq!(query.body["disputed"].as_array().unwrap().len(), 1, "{}", query.text);

    // The answer: only the provider's staff; the outcome decides what it must hold.
    let answer = format!("/api/v1/corrections/{id}/answer");
    assert_eq!(rst.post(&answer, json!({"outcome": "corrected"})).await.status, StatusCode::FORBIDDEN);
    let r = gat_clerk
        .post(&answer, json!({"outcome": "confirmed", "reasons": "一致", "values": {"sjhm": "13912340001"}}))
        .await;
    assert_eq!(r.problems(), [("values", "not_allowed")]);
    let r = gat_clerk.post(&answer, json!({"outcome": "corrected", "values": {"sfzh": zhang}})).await;
    assert_eq!(r.problems(), [("values.sfzh", "key_item")]);
    let r = gat_clerk.post(&answer, json!({"outcome": "corrected", "values": {"sjhm": "13812340001"}})).await;
    assert_eq!(r.problems(), [("values.sjhm", "unchanged")], "the value it holds already");
    let (still, _) = feed(&mzt_system, &mzt_grant, mzt_cursor).await;
    assert!(still.is_empty(), "the refused answers changed nothing: {still:?}");

    let answered = gat_clerk
        .post(
            &answer,
            json!({"outcome": "corrected", "reasons": "经户籍系统核实已更正", "values": {"sjhm": "13912340001"}}),
        )
        .await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.text);
    assert_eq!((&answered.body["open"], &answered.body["answer"]["outcome"]), (&json!(false), &json!("corrected")));
    assert!(answered.body["answer"]["applied_seq"].is_i64(), "{}", answered.text);
    assert_eq!(
        gat_clerk.post(&answer, json!({"outcome": "confirmed", "reasons": "x"})).await.status,
        StatusCode::CONFLICT
    );
    assert!(duties_on(&gat_clerk, &id).await.is_empty(), "the duty is met");

    // The corrected record reaches both grants' feeds once, naming the correction, and is no longer disputed.
    for (system, grant, cursor) in [(&rst_system, &rst_grant, rst_cursor), (&mzt_system, &mzt_grant, mzt_cursor)] {
        let (rows, _) = feed(system, grant, cursor).await;
        assert_eq!(rows, [("张*".to_owned(), "139****0001".to_owned(), Value::Null, json!(number))], "{grant}");
    }
    let lookup = jyt_system.get(&format!("/api/v1/data/{jyt_grant}/records/{zhang}")).await;
    assert_eq!((&lookup.body["disputed"], &lookup.body["rows"][0]["sjhm"]), (&json!([]), &json!("139****0001")));

    // The requester reads the outcome and the values; the authority supervises without them.
    let seen = rst.get(&format!("/api/v1/corrections/{id}")).await;
    let change = &seen.body["subject"]["changes"][0];
    assert_eq!(
        (&change["old"], &change["new"]),
        (&json!("138****0001"), &json!("139****0001")),
        "as the grant masks it"
    );
    let provider_view = gat_clerk.get(&format!("/api/v1/corrections/{id}")).await;
    assert_eq!(provider_view.body["subject"]["changes"][0]["new"], "13912340001", "the provider's own data in clear");
    let reviewer = Client::login(&app, "reviewer").await;
    let supervised = reviewer.get(&format!("/api/v1/corrections/{id}")).await;
    assert_eq!((supervised.status, &supervised.body["subject"]), (StatusCode::OK, &Value::Null), "{}", supervised.text);
    assert!(!supervised.text.contains("1391234"), "no personal data for supervision: {}", supervised.text);
    assert_eq!(
        Client::login(&app, "jyt.clerk").await.get(&format!("/api/v1/corrections/{id}")).await.status,
        StatusCode::FORBIDDEN
    );
    let history = gat_clerk.get(&format!("/api/v1/corrections?entry={entry}")).await;
    assert_eq!(history.body.as_array().unwrap().len(), 1, "{}", history.text);

    // A provider's own correction reaches the feeds the same way; the key item never changes.
    let own = format!("/api/v1/catalog/{entry}/corrections");
    let r = gat_clerk.post(&own, json!({"key": zhang, "values": {"yx": "zhang@example.gov.cn"}})).await;
    assert_eq!(r.problems(), [("reasons", "required")]);
    assert_eq!(
        Client::login(&app, "rst.clerk")
            .await
            .post(&own, json!({"key": zhang, "values": {"yx": "a@b.cn"}, "reasons": "x"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = gat_clerk
        .post(&own, json!({"key": zhang, "values": {"yx": "zhang@example.gov.cn"}, "reasons": "本人申请变更邮箱"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (rows, _) = feed(&rst_system, &rst_grant, rst_cursor).await;
    assert_eq!(rows.len(), 1, "the record's newest version only: {rows:?}");
    assert_eq!(rows[0].3, r.body["number"], "named by the new correction");
}

/// A request answered after its 10 working days is overdue (Art. 39 (6)); the figures count it, with the rate.
async fn a_correction_answered_late_is_overdue_and_counts_in_the_figures(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let rst = Client::login(&app, "rst.clerk").await;
    let filed = rst
        .post(
            "/api/v1/corrections",
            json!({"grant": grant, "key": id_number("330106", 2), "claims": [{"item": "xm"}], "evidence": "姓名有误"}),
        )
        .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    let id = filed.body["id"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::days(20));
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let owed = duties_on(&gat_clerk, &id).await;
    assert_eq!((owed[0].0.as_str(), owed[0].3), ("answer_correction", true), "overdue: {owed:?}");
    let r = gat_clerk
        .post(&format!("/api/v1/corrections/{id}/answer"), json!({"outcome": "confirmed", "reasons": "与户籍登记一致"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((&r.body["late"], &r.body["open"]), (&json!(true), &json!(false)), "answered late stays late");
    let figures = Client::login(&app, "reviewer").await.get("/api/v1/corrections/figures").await;
    let gat = &figures.body["departments"][0];
    assert_eq!(gat["name"], "浙江省公安厅", "{}", figures.text);
    assert_eq!(
        (&gat["stats"]["requests"], &gat["stats"]["answered"], &gat["stats"]["late"], &gat["stats"]["correction_rate"]),
        (&json!(1), &json!(1), &json!(1), &json!(0.0)),
        "{}",
        figures.text
    );
    assert!(gat["stats"]["mean_turnaround_days"].as_f64().unwrap() > 10.0, "{}", figures.text);
}

/// A department of `region` with a clerk `<key>.clerk` and a head `<key>.head`; returns its id.
async fn city_department(app: &TestApp, region: &str, name: &str, key: &str, n: u32) -> String {
    let operator = Principal::operator("test");
    let input = NewOrganisationInput {
        kind: "department".into(),
        region_code: region.into(),
        name: name.into(),
        credit_code: govshare::demo::government_credit_code(region, n),
        work_unit_name: "信息中心".into(),
    };
    let org = app.services.create_org(&operator, &input).await.unwrap();
    for (suffix, role) in [("clerk", "clerk"), ("head", "work_unit_head")] {
        let person = govshare_service::NewUserInput {
            username: format!("{key}.{suffix}"),
            display_name: format!("{name}{suffix}"),
            password: common::PASSWORD.into(),
            contractor: false,
            roles: vec![role.into()],
        };
        app.services.create_user(&operator, org.id, person).await.unwrap();
    }
    org.id.to_string()
}

/// Art. 28: 杭州市公安局 and 宁波市民政局 (two cities of 浙江) negotiate first; when that fails their common superior
/// authority, the province's, coordinates within its period, and on failure records its people's government's
/// decision. No rung is skipped; 杭州's authority coordinates a dispute of two 杭州 departments instead.
async fn a_dispute_climbs_the_ladder_to_the_common_superior_authority_without_skipping_a_rung(backend: Backend) {
    let app = spawn(backend).await;
    let _hz = city_department(&app, "330100", "杭州市公安局", "hzga", 501).await;
    let nb = city_department(&app, "330200", "宁波市民政局", "nbmz", 502).await;
    let hz_mz = city_department(&app, "330100", "杭州市民政局", "hzmz", 503).await;
    let (hz_clerk, nb_clerk) = (Client::login(&app, "hzga.clerk").await, Client::login(&app, "nbmz.clerk").await);
    let (reviewer, hz_reviewer) = (Client::login(&app, "reviewer").await, Client::login(&app, "hz.reviewer").await);

    let r = hz_clerk
        .post("/api/v1/disputes", json!({"counterpart": nb, "matter": "refusal", "title": "x", "description": "y"}))
        .await;
    assert_eq!(r.problems(), [("application", "required")], "a refusal names the application refused");
    let opened = hz_clerk
        .post(
            "/api/v1/disputes",
            json!({"counterpart": nb, "matter": "other", "title": "低保对象户籍数据共享口径",
            "description": "双方对共享字段范围意见不一"}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);
    let id = opened.body["id"].as_str().unwrap().to_owned();
    assert!(is_number(opened.body["number"].as_str().unwrap(), "ZY"));
    assert_eq!((&opened.body["coordinator_region"], &opened.body["superior"]), (&json!("330000"), &json!(true)));
    assert_eq!(opened.body["coordinator_name"], "浙江省大数据发展管理局", "two cities: the province's authority");
    let steps = format!("/api/v1/disputes/{id}/steps");

    // No rung skipped: no coordination, referral or decision before a negotiation is recorded.
    let r = hz_clerk.post(&steps, json!({"step": "escalate", "outcome": "协商不成"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "negotiation_required"), "{}", r.text);
    for step in ["coordinate", "refer", "decide"] {
        let r = reviewer
            .post(
                &steps,
                json!({"step": step, "meeting": "m", "positions": "p", "outcome": "o",
            "document": "d", "decided_on": "2026-12-01"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "negotiation_required"), "{step}: {}", r.text);
    }
    let r = nb_clerk.post(&steps, json!({"step": "negotiate"})).await;
    assert_eq!(r.problems(), [("meeting", "required"), ("positions", "required"), ("outcome", "required")]);
    assert_eq!(
        Client::login(&app, "gat.clerk")
            .await
            .post(&steps, json!({"step": "negotiate", "meeting": "m", "positions": "p", "outcome": "o"}))
            .await
            .status,
        StatusCode::FORBIDDEN,
        "not a party"
    );
    let r = nb_clerk
        .post(
            &steps,
            json!({"step": "negotiate", "meeting": "2026-12-02 视频会议", "positions": "杭州：需全部字段；宁波：仅核验",
            "outcome": "未达成一致"}),
        )
        .await;
    assert_eq!((r.status, &r.body["stage"]), (StatusCode::OK, &json!("negotiation")), "{}", r.text);
    let r = hz_clerk.post(&steps, json!({"step": "escalate", "outcome": "协商不成，申请协调"})).await;
    assert_eq!((r.status, &r.body["stage"]), (StatusCode::OK, &json!("coordination")), "{}", r.text);
    let due = r.body["coordination_due_on"].as_str().unwrap().to_owned();
    assert_eq!(
        duties_on(&reviewer, &id).await,
        [("coordinate_dispute".into(), "authority_reviewer".into(), due, false)]
    );
    let told = reviewer.get("/api/v1/notifications").await;
    assert!(told.text.contains("协商不成，申请协调"), "{}", told.text);

    // Only the common superior's reviewer coordinates: not a party, not 杭州's authority (which only sees it).
    let coordinate =
        json!({"step": "coordinate", "meeting": "2026-12-05 协调会", "positions": "各自陈述", "outcome": "未能一致"});
    assert_eq!(hz_clerk.post(&steps, coordinate.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(hz_reviewer.get(&format!("/api/v1/disputes/{id}")).await.status, StatusCode::OK, "in its region");
    assert_eq!(hz_reviewer.post(&steps, coordinate.clone()).await.status, StatusCode::FORBIDDEN);
    let r = reviewer.post(&steps, json!({"step": "refer", "outcome": "报请决定"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "coordination_required"), "{}", r.text);
    let r = hz_clerk.post(&steps, json!({"step": "negotiate", "meeting": "m", "positions": "p", "outcome": "o"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "coordination_stage"), "negotiation is over");

    // Past its period the coordination is overdue (an Art. 41 (2) candidate).
    app.clock.advance(Duration::days(20));
    let reviewer = Client::login(&app, "reviewer").await;
    assert!(duties_on(&reviewer, &id).await[0].3, "overdue");
    assert_eq!(reviewer.post(&steps, coordinate).await.status, StatusCode::OK);
    assert_eq!(
        reviewer.post(&steps, json!({"step": "refer", "outcome": "协调不成，报省人民政府决定"})).await.status,
        StatusCode::OK
    );
    assert!(duties_on(&reviewer, &id).await.is_empty(), "the coordination is over");
    let r =
        reviewer.post(&steps, json!({"step": "decide", "outcome": "按核验方式共享", "decided_on": "2026/12/20"})).await;
    assert_eq!(r.problems(), [("document", "required"), ("decided_on", "date_format")]);
    let r = reviewer
        .post(&steps, json!({"step": "decide", "outcome": "按核验方式共享", "document": "浙政办函〔2026〕88号", "decided_on": "2026-12-20"}))
        .await;
    assert_eq!((r.status, &r.body["stage"]), (StatusCode::OK, &json!("decided")), "{}", r.text);
    let kinds: Vec<&str> = r.body["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["negotiate", "escalate", "coordinate", "refer", "decide"]);
    assert_eq!(
        reviewer
            .post(&steps, json!({"step": "decide", "outcome": "x", "document": "y", "decided_on": "2026-12-21"}))
            .await
            .code(),
        "dispute_closed"
    );

    // Two departments of 杭州: the same-level authority, 杭州's, coordinates.
    let hz_clerk = Client::login(&app, "hzga.clerk").await;
    let opened = hz_clerk
        .post(
            "/api/v1/disputes",
            json!({"counterpart": hz_mz, "matter": "other", "title": "同城争议", "description": "d"}),
        )
        .await;
    assert_eq!((&opened.body["coordinator_region"], &opened.body["superior"]), (&json!("330100"), &json!(false)));
    let steps = format!("/api/v1/disputes/{}/steps", opened.body["id"].as_str().unwrap());
    let hz_mz_clerk = Client::login(&app, "hzmz.clerk").await;
    hz_mz_clerk.post(&steps, json!({"step": "negotiate", "meeting": "m", "positions": "p", "outcome": "o"})).await;
    let r = hz_mz_clerk.post(&steps, json!({"step": "escalate", "outcome": "协商不成"})).await;
    assert_eq!(r.body["coordinator_name"], "杭州市数据资源管理局", "{}", r.text);
    let coordinate = json!({"step": "coordinate", "meeting": "m", "positions": "p", "outcome": "达成一致"});
    assert_eq!(
        Client::login(&app, "reviewer").await.post(&steps, coordinate.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let hz_reviewer = Client::login(&app, "hz.reviewer").await;
    assert_eq!(hz_reviewer.post(&steps, coordinate).await.status, StatusCode::OK);
    let r = hz_reviewer.post(&steps, json!({"step": "agree", "outcome": "按协调意见执行"})).await;
    assert_eq!(r.body["stage"], "resolved", "{}", r.text);
}

/// Art. 37 ¶2: a citizen files a complaint without an account, answered with a tracking code; the code (and only
/// it) shows the public steps and the answer, never the complainant's contact, the handlers or internal notes. The
/// department concerned handles it as a duty; the public desk is behind a challenge and a rate limit.
async fn a_public_complaint_is_found_by_its_tracking_code_and_shows_nothing_else(backend: Backend) {
    let app = spawn(backend).await;
    let public = Client::anonymous(&app);
    let gat =
        Client::login(&app, "gat.clerk").await.get("/api/v1/me").await.body["org_id"].as_str().unwrap().to_owned();
    let body = json!({"kind": "complaint", "department": gat, "title": "我的户籍信息被提供给无关单位",
                      "description": "2026年11月，一家与我无业务往来的单位掌握了我的户籍地址。", "happened_on": "2026-11-20",
                      "contact": "13800001111"});

    // Refusals first: a wrong answer, a reused challenge, a robot's field, missing contact.
    let mut wrong = body.clone();
    wrong["challenge_answer"] = json!("1000");
    let r = file_complaint(&public, wrong).await;
    assert_eq!(r.problems(), [("challenge_answer", "wrong_answer")], "{}", r.text);
    let mut robot = body.clone();
    robot["website"] = json!("http://spam.example");
    assert_eq!(file_complaint(&public, robot).await.problems(), [("website", "not_allowed")]);
    let mut no_contact = body.clone();
    no_contact["contact"] = json!(" ");
    assert_eq!(file_complaint(&public, no_contact).await.problems(), [("contact", "required")]);
    let challenge = public.get("/api/v1/public/complaints/challenge").await;
    let mut once = body.clone();
    once["challenge_token"] = challenge.body["token"].clone();
    once["challenge_answer"] = json!(common::solve_challenge(challenge.body["question"].as_str().unwrap()));
    let filed = public.post("/api/v1/public/complaints", once.clone()).await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    let r = public.post("/api/v1/public/complaints", once).await;
    assert_eq!(r.problems(), [("challenge_token", "used")], "a challenge is good once: {}", r.text);

    let code = filed.body["tracking_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 19, "ABCD-EFGH-JKMN-PQRS: {code}");
    assert_eq!(filed.body["handler_name"], "浙江省公安厅");
    let status = public.get(&format!("/api/v1/public/complaints/{code}")).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text);
    let keys: Vec<&String> = status.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["answer", "answered_at", "due_on", "kind", "received_at", "state", "steps", "title"]);
    assert_eq!((&status.body["state"], &status.body["steps"][0]["label"]), (&json!("待受理"), &json!("已收到")));
    assert!(!status.text.contains("13800001111") && !status.text.contains("公安厅"), "{}", status.text);
    for guess in ["ABCD-EFGH-JKMN-PQRS", "not-a-code", &code[..18]] {
        let r = public.get(&format!("/api/v1/public/complaints/{guess}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{guess}: {}", r.text);
    }
    let lowercase = code.to_lowercase().replace('-', "");
    assert_eq!(public.get(&format!("/api/v1/public/complaints/{lowercase}")).await.status, StatusCode::OK, "forgiving");
    assert!(!public.get("/api/v1/complaints").await.status.is_success(), "the handlers' list needs an account");

    // The department concerned handles it; the contact is for its staff only.
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let list = gat_clerk.get("/api/v1/complaints").await;
    let case = list.body[0].clone();
    let id = case["id"].as_str().unwrap().to_owned();
    assert_eq!((&case["complainant"]["contact"], &case["complainant"]["name"]), (&json!("13800001111"), &json!("")));
    let due = case["due_on"].as_str().unwrap().to_owned();
    assert_eq!(duties_on(&gat_clerk, &id).await, [("handle_complaint".into(), "clerk".into(), due.clone(), false)]);
    let rst = Client::login(&app, "rst.clerk").await;
    assert!(rst.get("/api/v1/complaints").await.body.as_array().unwrap().is_empty());
    assert_eq!(rst.get(&format!("/api/v1/complaints/{id}")).await.status, StatusCode::FORBIDDEN);
    let supervised = Client::login(&app, "reviewer").await.get(&format!("/api/v1/complaints/{id}")).await;
    assert_eq!(
        (supervised.status, &supervised.body["complainant"]),
        (StatusCode::OK, &Value::Null),
        "{}",
        supervised.text
    );

    let steps = format!("/api/v1/complaints/{id}/steps");
    let r = gat_clerk.post(&steps, json!({"step": "answer", "text": "已处理"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "not_accepted"), "{}", r.text);
    assert_eq!(rst.post(&steps, json!({"step": "accept"})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(gat_clerk.post(&steps, json!({"step": "accept"})).await.status, StatusCode::OK);
    assert_eq!(
        gat_clerk.post(&steps, json!({"step": "note", "text": "内部：已调取共享日志 GX-2026"})).await.status,
        StatusCode::OK
    );
    let r =
        gat_clerk.post(&steps, json!({"step": "answer", "text": "经核查，相关单位系依法获取，已向您说明依据。"})).await;
    assert_eq!(r.body["state"], "已办结", "{}", r.text);
    assert!(duties_on(&gat_clerk, &id).await.is_empty(), "handled");
    let status = public.get(&format!("/api/v1/public/complaints/{code}")).await;
    let labels: Vec<&str> =
        status.body["steps"].as_array().unwrap().iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["已收到", "已受理，正在办理", "已办结"]);
    assert_eq!(status.body["answer"], "经核查，相关单位系依法获取，已向您说明依据。");
    assert!(!status.text.contains("内部") && !status.text.contains("王警官"), "{}", status.text);

    // Not knowing the department: the authority takes it, and hands it on with the same deadline.
    let mut unsure = body.clone();
    unsure["department"] = json!("");
    let filed = file_complaint(&public, unsure).await;
    assert_eq!(filed.body["handler_name"], "浙江省大数据发展管理局", "{}", filed.text);
    let reviewer = Client::login(&app, "reviewer").await;
    let case = reviewer
        .get("/api/v1/complaints")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["concerned_id"].is_null())
        .unwrap()
        .clone();
    let id = case["id"].as_str().unwrap().to_owned();
    assert!(case["complainant"].is_object(), "the authority handles it: it sees the contact");
    let r = reviewer
        .post(&format!("/api/v1/complaints/{id}/steps"), json!({"step": "transfer", "to": gat, "text": "涉及公安厅"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let owed = duties_on(&gat_clerk, &id).await;
    assert_eq!((owed[0].0.as_str(), owed[0].2.as_str()), ("handle_complaint", case["due_on"].as_str().unwrap()));
    assert!(duties_on(&reviewer, &id).await.is_empty(), "handed on");

    // Five filings an hour from one address (the refused attempts above are not filings); the sixth waits.
    for _ in 0..3 {
        assert_eq!(file_complaint(&public, body.clone()).await.status, StatusCode::CREATED);
    }
    let r = file_complaint(&public, body.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"), "{}", r.text);
}
