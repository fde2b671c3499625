//! Black-box tests of supervision (Art. 38 ¶2, 39–41), on both backends: a scripted history gives exactly the
//! expected indicators and violation candidates with their evidence; an order to rectify becomes a duty of the
//! department's head and runs to its close; a notice reaches the region; the report exports as Excel and PDF
//! holding the same figures. Refusals first.

mod common;

use std::io::Write;

use calamine::Reader;
use chrono::Duration;
use common::people::{STANDARD_ITEMS, api_key, granted, hosted_entry, id_number, standard_grant, today};
use common::{Backend, Client, TestApp, spawn};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(a_scripted_history_gives_the_expected_indicators_violations_orders_notices_and_report);

/// 民政厅 applies and sends; the test lets the reply period run out before 公安厅 answers. Returns the id.
async fn applied(app: &TestApp, entry: &str) -> String {
    let (clerk, head) = (Client::login(app, "mzt.clerk").await, Client::login(app, "mzt.head").await);
    let created = clerk
        .post(
            "/api/v1/applications",
            json!({
                "entry_id": entry, "items": STANDARD_ITEMS, "submit": true,
                "legal_basis": "《社会救助暂行办法》第十一条", "basis_document": "国务院令第649号",
                "scenario": "社会救助资格核查", "scope": "本厅救助处", "delivery": "service_api",
                "valid_from": today().to_string(), "valid_until": (today() + Duration::days(364)).to_string()
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let r = head.post(&format!("/api/v1/applications/{id}/steps"), json!({"step": "send"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    id
}

async fn reply(app: &TestApp, id: &str) {
    let steps = format!("/api/v1/applications/{id}/steps");
    let r = Client::login(app, "gat.clerk")
        .await
        .post(&steps, json!({"step": "draft_reply", "decision": "approve", "conditions": "仅用于救助资格核查"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = Client::login(app, "gat.head").await.post(&steps, json!({"step": "approve_reply"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

fn indicator<'a>(row: &'a Value, code: &str) -> &'a Value {
    row["indicators"].as_array().unwrap().iter().find(|i| i["indicator"] == code).unwrap()
}

fn counts(i: &Value) -> (i64, i64, i64) {
    (i["on_time"].as_i64().unwrap(), i["late"].as_i64().unwrap(), i["pending"].as_i64().unwrap())
}

/// The history: 人社厅's application answered and delivered on time; 民政厅's answered after its reply period
/// (Art. 39 (4)); a correction request of 人社厅 answered after 10 working days (39 (6)); 公安厅 stops 人社厅's
/// running service without negotiating or filing (39 (7)); 人社厅 records no use of its first month (40 (5)). The dashboard shows exactly these, each with its
/// evidence; the province's supervisor orders 公安厅 to rectify the late correction answer, 公安厅's head reports,
/// the supervisor closes it; a notice reaches 教育厅; the report's PDF and workbook hold the same figures.
async fn a_scripted_history_gives_the_expected_indicators_violations_orders_notices_and_report(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let far = json!({"valid_until": (today() + Duration::days(364)).to_string()});
    let mut grant_terms = standard_grant();
    grant_terms.as_object_mut().unwrap().extend(far.as_object().unwrap().clone());
    let rst_grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, grant_terms).await;
    let late_application = applied(&app, &entry).await;
    app.clock.advance(Duration::days(25));
    reply(&app, &late_application).await;
    let rst = Client::login(&app, "rst.clerk").await;
    let filed = rst
        .post(
            "/api/v1/corrections",
            json!({"grant": rst_grant, "key": id_number("330106", 2), "claims": [{"item": "xm"}], "evidence": "姓名有误"}),
        )
        .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    let correction = filed.body["id"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::days(20));
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let r = gat_clerk
        .post(
            &format!("/api/v1/corrections/{correction}/answer"),
            json!({"outcome": "confirmed", "reasons": "与户籍登记一致"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let gat_head = Client::login(&app, "gat.head").await;
    let r = gat_head
        .post(&format!("/api/v1/grants/{rst_grant}/state"), json!({"action": "suspend", "reason": "系统升级改造"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let from = today().to_string();
    let to = (today() + Duration::days(50)).to_string();
    let dashboard = format!("/api/v1/supervision/dashboard?region=330000&from={from}&to={to}");

    // Refusals first: another department, a business system, a city's authority for the province, a typo.
    let jyt = Client::login(&app, "jyt.clerk").await;
    assert_eq!(jyt.get(&dashboard).await.status, StatusCode::FORBIDDEN);
    let system = api_key(&app, "rst", "就业服务系统").await;
    assert_eq!(system.get(&dashboard).await.status, StatusCode::FORBIDDEN);
    let hz = Client::login(&app, "hz.reviewer").await;
    assert_eq!(hz.get(&dashboard).await.status, StatusCode::FORBIDDEN, "a city's authority does not see the province");
    let r = hz.get(&format!("/api/v1/supervision/dashboard?region=330100&from={from}&to={to}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["violations"], json!([]), "nothing happened in 杭州");
    let supervisor = Client::login(&app, "supervisor").await;
    let typo = supervisor.get(&format!("/api/v1/supervision/dashboard?region=330000&form={from}")).await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST, "{}", typo.text);
    let reversed = supervisor.get(&format!("/api/v1/supervision/dashboard?region=330000&from={to}&to={from}")).await;
    assert_eq!(
        (reversed.status, reversed.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("from"))
    );

    let d = supervisor.get(&dashboard).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let gat = d.body["departments"].as_array().unwrap().iter().find(|r| r["name"] == "浙江省公安厅").unwrap();
    assert_eq!(counts(indicator(gat, "reply")), (1, 1, 0), "one reply on time, one late: {gat}");
    assert_eq!(indicator(gat, "reply")["rate"], json!(0.5));
    // 人社厅's grant was made in time; 民政厅's delivery falls due after the period (not counted in it).
    assert_eq!(counts(indicator(gat, "delivery")), (1, 0, 0), "{gat}");
    assert_eq!(counts(indicator(gat, "correction")), (0, 1, 0), "{gat}");
    let totals = d.body["totals"].as_array().unwrap();
    assert_eq!(counts(totals.iter().find(|i| i["indicator"] == "reply").unwrap()), (1, 1, 0));

    let mut found: Vec<(String, String)> = d.body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["rule"].as_str().unwrap().to_owned(), v["party_name"].as_str().unwrap().to_owned()))
        .collect();
    found.sort();
    // And one nobody scripted on purpose: 人社厅's first month of use ended on 12-31 and it never recorded its use
    // (Art. 29 ¶2), due within 10 working days: Art. 40 (5).
    let expected = [
        ("39-4", "浙江省公安厅"),
        ("39-6", "浙江省公安厅"),
        ("39-7", "浙江省公安厅"),
        ("40-5", "浙江省人力资源和社会保障厅"),
    ];
    assert_eq!(found, expected.map(|(r, p)| (r.to_owned(), p.to_owned())), "{}", d.text);
    let rules = d.body["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 16, "every item of Art. 39 (1)–(8), 40 (1)–(6), 41 (1)–(2)");
    let unobserved = rules.iter().find(|r| r["rule"] == "40-1").unwrap();
    assert_eq!(unobserved["observation"]["by"], "not_observed", "40 (1) is listed as not observed, not faked");

    // Each violation carries its evidence, linked.
    let late_correction = d.body["violations"].as_array().unwrap().iter().find(|v| v["rule"] == "39-6").unwrap();
    let key = late_correction["key"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/supervision/violations/{}", urlencode(&key));
    assert_eq!(jyt.get(&path).await.status, StatusCode::FORBIDDEN);
    let v = supervisor.get(&path).await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    let evidence = v.body["evidence"].as_array().unwrap();
    assert_eq!(evidence[0]["link"], format!("/console/corrections/{correction}"), "{}", v.text);
    assert!(evidence.iter().any(|e| e["label"] == "校核反馈期限"), "{}", v.text);
    assert!(evidence.iter().any(|e| e["detail"].as_str().unwrap().contains("超过期限")), "{}", v.text);
    let stop = d.body["violations"].as_array().unwrap().iter().find(|v| v["rule"] == "39-7").unwrap();
    assert!(stop["evidence"].to_string().contains("系统升级改造"), "the stop's reason is in the evidence: {stop}");

    // An order to rectify: refusals, then the supervisor's order becomes a duty of 公安厅's head.
    let deadline = (today() + Duration::days(70)).to_string();
    let body = json!({"violation": key, "requirement": "建立校核申请按时反馈机制并报告", "deadline": deadline});
    let reviewer = Client::login(&app, "reviewer").await;
    assert_eq!(reviewer.post("/api/v1/supervision/orders", body.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(jyt.post("/api/v1/supervision/orders", body.clone()).await.status, StatusCode::FORBIDDEN);
    let past = json!({"violation": key, "requirement": "x", "deadline": from});
    let r = supervisor.post("/api/v1/supervision/orders", past).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("deadline")));
    let issued = supervisor.post("/api/v1/supervision/orders", body.clone()).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    assert!(issued.body["number"].as_str().unwrap().starts_with("ZG-"), "{}", issued.text);
    let again = supervisor.post("/api/v1/supervision/orders", body).await;
    assert_eq!((again.status, again.body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("order_exists")));
    let order = issued.body["id"].as_str().unwrap().to_owned();
    let duties = gat_head.get("/api/v1/duties").await;
    let owed: Vec<&Value> = duties.body.as_array().unwrap().iter().filter(|d| d["subject_id"] == order).collect();
    assert_eq!(owed.len(), 1, "{}", duties.text);
    assert_eq!(
        (owed[0]["kind"].as_str(), owed[0]["due_date"].as_str()),
        (Some("rectify_order"), Some(deadline.as_str()))
    );
    let steps = format!("/api/v1/supervision/orders/{order}/steps");
    assert_eq!(jyt.get(&format!("/api/v1/supervision/orders/{order}")).await.status, StatusCode::FORBIDDEN);
    let early = supervisor.post(&steps, json!({"step": "accept", "text": "好"})).await;
    assert_eq!((early.status, early.body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_reported")));
    assert_eq!(gat_clerk.post(&steps, json!({"step": "report", "text": "已整改"})).await.status, StatusCode::FORBIDDEN);
    let r = gat_head.post(&steps, json!({"step": "report", "text": "已建立校核台账，每日跟踪"})).await;
    assert_eq!((r.status, r.body["state"].as_str()), (StatusCode::OK, Some("reported")), "{}", r.text);
    let r = supervisor.post(&steps, json!({"step": "accept", "text": "整改到位"})).await;
    assert_eq!((r.status, r.body["state"].as_str()), (StatusCode::OK, Some("closed")), "{}", r.text);
    let d = supervisor.get(&dashboard).await;
    let gat = d.body["departments"].as_array().unwrap().iter().find(|r| r["name"] == "浙江省公安厅").unwrap();
    assert_eq!(counts(indicator(gat, "orders")), (0, 0, 0), "the order falls due after the period: {gat}");
    let with_order = d.body["violations"].as_array().unwrap().iter().find(|v| v["key"] == key).unwrap();
    assert_eq!(with_order["order"]["state"], "closed");

    // A notice reaches every organisation of the region.
    let notice = json!({"title": "关于校核反馈超期情况的通报", "body": "浙江省公安厅校核申请反馈超期。\n请各单位引以为戒。", "orders": [order]});
    assert_eq!(reviewer.post("/api/v1/supervision/notices", notice.clone()).await.status, StatusCode::FORBIDDEN);
    let published = supervisor.post("/api/v1/supervision/notices", notice).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    assert_eq!(published.body["department_names"], json!(["浙江省公安厅"]));
    let inbox = jyt.get("/api/v1/notifications").await;
    assert!(inbox.text.contains("通报：关于校核反馈超期情况的通报"), "{}", inbox.text);
    let listed = jyt.get("/api/v1/supervision/notices").await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1), "{}", listed.text);
    assert_eq!(system.get("/api/v1/supervision/notices").await.status, StatusCode::FORBIDDEN);

    // The report: the workbook's ranking and the PDF's text hold the department and its figures.
    let (status, _, xlsx) =
        supervisor.download(&format!("/api/v1/supervision/report?region=330000&from={from}&to={to}&format=xlsx")).await;
    assert_eq!(status, StatusCode::OK);
    let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = book.worksheet_range("部门排名").unwrap();
    let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
    let header = rows.iter().find(|r| r.contains(&"逾期".to_owned())).expect("a header row");
    let late_column = header.iter().position(|c| c == "逾期").unwrap();
    let gat_row = rows.iter().find(|r| r.contains(&"浙江省公安厅".to_owned())).expect("公安厅 is ranked");
    assert_eq!(gat_row[late_column], "2", "a reply and a correction answer late: {gat_row:?}");
    let (status, _, pdf) =
        supervisor.download(&format!("/api/v1/supervision/report?region=330000&from={from}&to={to}&format=pdf")).await;
    assert_eq!(status, StatusCode::OK);
    let text = pdftotext(&pdf);
    for needle in
        ["浙江省政务数据共享监督情况报告", "浙江省公安厅", "申请答复及时率", "50.0%", "第三十九条第（六）", "ZG-"]
    {
        assert!(text.contains(needle), "the PDF says {needle}: {text}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

fn pdftotext(pdf: &[u8]) -> String {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-raw", file.path().to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/test");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
