//! The data plane's fixtures: 公安厅's population entry with a hosted source, applications granted through the
//! API, API keys. Dates are counted from today (北京时间), as the test clock starts at the real time.

use chrono::{Duration, NaiveDate, Utc};
use govshare_domain::record::id_check_character;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Client, Reply, TestApp, publish};

/// Today in 北京时间, the day application and grant periods are counted from.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&govshare_domain::calendar::beijing()).date_naive()
}

/// A valid 公民身份号码 for region `region` (6 digits), born 1980-01-`n`, sequence `n`.
pub fn id_number(region: &str, n: u32) -> String {
    let body = format!("{region}198001{:02}{:03}", n % 28 + 1, n % 1000);
    format!("{body}{}", id_check_character(body.as_bytes()))
}

pub fn people_entry() -> Value {
    json!({
        "name": "常住人口基本信息",
        "resource_code": "330000-GAT-0100",
        "summary": "全省常住人口的姓名、身份号码、联系方式和户籍地",
        "format": "database",
        "update_frequency": "daily",
        "sharing_attribute": "conditional",
        "sharing_scope": "省级政府部门",
        "permitted_purposes": ["社会救助资格核查", "就业服务"],
        "delivery_methods": ["service_api", "bulk_exchange", "file_download"],
        "grade_class": "一般数据",
        "grade_level": 3,
        "items": [
            {"name": "姓名", "code": "xm", "data_type": "string", "length": 50, "grade_class": "一般数据", "grade_level": 2, "personal_info": "name"},
            {"name": "公民身份号码", "code": "sfzh", "data_type": "string", "length": 18, "grade_class": "一般数据", "grade_level": 3, "personal_info": "id_number"},
            {"name": "手机号码", "code": "sjhm", "data_type": "string", "length": 20, "grade_class": "一般数据", "grade_level": 3, "personal_info": "phone"},
            {"name": "户籍地址", "code": "hjdz", "data_type": "string", "length": 200, "grade_class": "一般数据", "grade_level": 3, "personal_info": "address"},
            {"name": "行政区划代码", "code": "xzqh", "data_type": "string", "length": 6, "grade_class": "一般数据", "grade_level": 1},
            {"name": "银行卡号", "code": "yhkh", "data_type": "string", "length": 19, "grade_class": "一般数据", "grade_level": 3, "personal_info": "bank_card"},
            {"name": "电子邮箱", "code": "yx", "data_type": "string", "length": 100, "grade_class": "一般数据", "grade_level": 2, "personal_info": "email"}
        ]
    })
}

pub const HEADER: &str = "xm,sfzh,sjhm,hjdz,xzqh,yhkh,yx\n";

pub fn row(name: &str, region: &str, n: u32) -> String {
    format!(
        "{name},{},1381234{:04},浙江省杭州市西湖区文三路{n}号,{region},622202123456789{:04},user{n}@example.gov.cn\n",
        id_number(region, n),
        n,
        n
    )
}

/// Four people: three in 杭州 (3301…), one in 温州 (3303…).
pub fn people_csv() -> String {
    let mut csv = HEADER.to_owned();
    csv += &row("张三", "330106", 1);
    csv += &row("李四", "330106", 2);
    csv += &row("王五", "330302", 3);
    csv += &row("赵六", "330108", 4);
    csv
}

pub async fn load(client: &Client, entry: &str, csv: &str, query: &str) -> Reply {
    client
        .upload(
            &format!("/api/v1/catalog/{entry}/source/load?file_name=people.csv{query}"),
            csv.as_bytes().to_vec(),
            true,
        )
        .await
}

/// 公安厅 publishes the entry, binds a hosted source keyed by 公民身份号码 and scoped by 行政区划, loads four people.
pub async fn hosted_entry(app: &TestApp) -> String {
    let entry = publish(app, "gat", people_entry()).await;
    let clerk = Client::login(app, "gat.clerk").await;
    let bound = clerk
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/catalog/{entry}/source"),
            json!({"kind": "hosted", "key_item": "sfzh", "scope_item": "xzqh"}),
        )
        .await;
    assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
    assert_eq!(bound.body["source"]["encrypted"], true, "a level-3 entry is kept SM4-encrypted");
    let loaded = load(&clerk, &entry, &people_csv(), "").await;
    assert_eq!(loaded.status, StatusCode::OK, "{}", loaded.text);
    assert_eq!(loaded.body["load"]["counts"]["inserted"], 4);
    entry
}

/// An application by `dept` for `items` by `delivery`, sent and approved by 公安厅 (no grant yet: creating one before
/// the approval is refused). Returns the application's id.
pub async fn approved(app: &TestApp, entry: &str, dept: &str, delivery: &str, items: &[&str]) -> String {
    let clerk = Client::login(app, &format!("{dept}.clerk")).await;
    let head = Client::login(app, &format!("{dept}.head")).await;
    let created = clerk
        .post(
            "/api/v1/applications",
            json!({
                "entry_id": entry, "items": items, "submit": true,
                "legal_basis": "《社会救助暂行办法》第十一条", "basis_document": "国务院令第649号",
                "scenario": "社会救助资格核查", "scope": "本厅救助处", "delivery": delivery,
                "valid_from": today().to_string(), "valid_until": (today() + Duration::days(364)).to_string()
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let steps = format!("/api/v1/applications/{id}/steps");
    assert_eq!(head.post(&steps, json!({"step": "send"})).await.status, StatusCode::OK);
    let gat_clerk = Client::login(app, "gat.clerk").await;
    let gat_head = Client::login(app, "gat.head").await;
    // Not approved yet: no grant.
    let early = gat_clerk.post(&format!("/api/v1/applications/{id}/grant"), standard_grant()).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    let r = gat_clerk
        .post(&steps, json!({"step": "draft_reply", "decision": "approve", "conditions": "仅用于救助资格核查"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(gat_head.post(&steps, json!({"step": "approve_reply"})).await.status, StatusCode::OK);
    id
}

/// `approved`, then granted with `grant` by 公安厅's clerk; the grant meets the delivery obligation. Returns the
/// grant's id.
pub async fn granted(app: &TestApp, entry: &str, dept: &str, delivery: &str, items: &[&str], grant: Value) -> String {
    let id = approved(app, entry, dept, delivery, items).await;
    let made = Client::login(app, "gat.clerk").await.post(&format!("/api/v1/applications/{id}/grant"), grant).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let application =
        Client::login(app, &format!("{dept}.clerk")).await.get(&format!("/api/v1/applications/{id}")).await;
    assert_eq!(application.body["stage"], "delivered", "the grant meets the delivery obligation");
    made.body["id"].as_str().unwrap().to_owned()
}

pub async fn api_key(app: &TestApp, dept: &str, name: &str) -> Client {
    let head = Client::login(app, &format!("{dept}.head")).await;
    let org = head.get("/api/v1/me").await.body["org_id"].as_str().unwrap().to_owned();
    let issued =
        head.post(&format!("/api/v1/organisations/{org}/credentials"), json!({"name": name, "valid_days": 365})).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    Client::with_key(app, issued.body["api_key"].as_str().unwrap())
}

pub fn standard_grant() -> Value {
    json!({
        "items": {"xm": "mask", "sfzh": "hash", "sjhm": "mask", "hjdz": "drop", "xzqh": "keep", "yx": "mask"},
        "scope_item": "xzqh", "scope_prefixes": ["3301"],
        "valid_until": (today() + Duration::days(30)).to_string()
    })
}

pub const STANDARD_ITEMS: [&str; 6] = ["xm", "sfzh", "sjhm", "hjdz", "xzqh", "yx"];
