//! The holes an outside security test found (issue 10), each shown closed, on both backends: the refusal first,
//! then what is still allowed.

mod common;

use std::io::Read;

use common::people::{api_key, granted, hosted_entry, load, people_entry, today};
use common::{Backend, Client, PASSWORD, household_entry, publish, spawn};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    a_head_cannot_take_over_accounts_of_other_organisations,
    a_password_change_ends_the_other_sessions,
    throttling_cannot_lock_a_person_out_of_their_own_browser,
    the_catalog_list_shows_other_departments_only_published_versions,
    system_keys_reach_only_the_data_interface,
    hostile_spreadsheets_cost_a_4xx_not_the_process,
    control_characters_are_refused_with_the_field_named,
    downloads_neutralise_formula_cells,
);

async fn member_id(client: &Client, org: &str, username: &str) -> Option<String> {
    let members = client.get(&format!("/api/v1/organisations/{org}/members")).await;
    assert_eq!(members.status, StatusCode::OK, "{}", members.text);
    let members = members.body.as_array().unwrap().iter();
    members.map(|m| &m["user"]).find(|u| u["username"] == username).map(|u| u["id"].as_str().unwrap().into())
}

/// A head (or the administrator) resets the password of `user` of `org`.
async fn reset_password(by: &Client, org: &str, user: &str, password: &str) -> common::Reply {
    let path = format!("/api/v1/organisations/{org}/members/{user}/password");
    by.call(Method::PUT, &path, json!({ "new_password": password })).await
}

async fn login_as(app: &common::TestApp, username: &str, password: &str) -> StatusCode {
    Client::anonymous(app).post("/api/v1/auth/login", json!({"username": username, "password": password})).await.status
}

/// The reported path: a head pulls another organisation's head (or the administrator) into their own
/// department, resets the password, and signs in as them. Every step is now refused.
async fn a_head_cannot_take_over_accounts_of_other_organisations(backend: Backend) {
    let app = spawn(backend).await;
    let gat_head = Client::login(&app, "gat.head").await;
    let admin = Client::login(&app, "admin").await;
    let gat = gat_head.org_id("浙江省公安厅").await;
    let authority = admin.org_id("浙江省大数据发展管理局").await;
    let roles = format!("/api/v1/organisations/{gat}/members/roles");

    // Step 1: pulling someone of another organisation in is refused, for a head and for the administrator.
    for victim in ["rst.head", "admin", "liu.yang"] {
        let r = gat_head.post(&roles, json!({"username": victim, "role": "clerk"})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{victim}: {}", r.text);
        assert!(member_id(&gat_head, &gat, victim).await.is_none(), "{victim} must not be in 公安厅");
    }
    // Step 2: resetting the password of someone who is not a member stays refused (not found in this unit).
    let admin_id = member_id(&admin, &authority, "admin").await.unwrap();
    let r = reset_password(&gat_head, &gat, &admin_id, "Takeover-2026!x").await;
    assert!(matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "{}", r.text);
    // Step 3: so nobody signs in as the victims with a password the attacker chose.
    assert_eq!(login_as(&app, "admin", "Takeover-2026!x").await, StatusCode::UNAUTHORIZED);

    // A person who also serves another department: the administrator adds 民政厅's clerk to 公安厅 (the only way
    // in), and then 公安厅's head may no longer reset that person's password or disable the account.
    let r = admin.post(&roles, json!({"username": "mzt.clerk", "role": "clerk"})).await;
    assert!(r.status.is_success(), "the administrator may add an existing person: {}", r.text);
    let shared = member_id(&gat_head, &gat, "mzt.clerk").await.expect("now a member of 公安厅");
    let reset = format!("/api/v1/organisations/{gat}/members/{shared}/password");
    let r = gat_head.call(Method::PUT, &reset, json!({"new_password": "Takeover-2026!x"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("其他单位"), "{}", r.text);
    let r = gat_head.post(&format!("/api/v1/organisations/{gat}/members/{shared}/disable"), json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(login_as(&app, "mzt.clerk", PASSWORD).await, StatusCode::OK, "the account is untouched");

    // The head still manages their own people: someone who belongs to 公安厅 alone.
    let clerk = member_id(&gat_head, &gat, "gat.clerk").await.unwrap();
    let r = reset_password(&gat_head, &gat, &clerk, "Reset-by-head-2026").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(login_as(&app, "gat.clerk", "Reset-by-head-2026").await, StatusCode::OK);
    // A head gives roles to existing members of the unit (the clerk already is one), not to outsiders.
    let r = gat_head.post(&roles, json!({"username": "gat.clerk", "role": "clerk"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "already a clerk, but not refused as an outsider: {}", r.text);

    // Nobody but an administrator manages an administrator: the authority's own head cannot either.
    let r = admin
        .post(&format!("/api/v1/organisations/{authority}/members"), json!({"username": "auth.head", "display_name": "负责人", "password": "Authority-head-2026", "roles": ["work_unit_head"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let auth_head = Client::login_with(&app, "auth.head", "Authority-head-2026").await;
    let r = reset_password(&auth_head, &authority, &admin_id, "Takeover-2026!x").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("平台管理员"), "{}", r.text);
    assert_eq!(login_as(&app, "admin", PASSWORD).await, StatusCode::OK);
}

async fn a_password_change_ends_the_other_sessions(backend: Backend) {
    let app = spawn(backend).await;
    let laptop = Client::login(&app, "gat.clerk").await;
    let phone = Client::login(&app, "gat.clerk").await;
    let stolen = Client::login(&app, "gat.clerk").await;
    let r = laptop
        .call(
            Method::PUT,
            "/api/v1/me/password",
            json!({"current_password": PASSWORD, "new_password": "Changed-pass-2026"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(phone.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "other sessions end");
    assert_eq!(stolen.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(laptop.get("/api/v1/me").await.status, StatusCode::OK, "the session that changed it stays");

    // A reset by the head ends every session of the person.
    let head = Client::login(&app, "gat.head").await;
    let gat = head.org_id("浙江省公安厅").await;
    let clerk = member_id(&head, &gat, "gat.clerk").await.unwrap();
    let r = reset_password(&head, &gat, &clerk, "Reset-by-head-2026").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(laptop.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(head.get("/api/v1/me").await.status, StatusCode::OK, "the head's own session is not touched");
}

/// Five wrong passwords used to lock the account for everyone. Now an attacker slows down only themselves:
/// the person's own browser (which holds the device cookie from an earlier sign-in) still signs in.
async fn throttling_cannot_lock_a_person_out_of_their_own_browser(backend: Backend) {
    let app = spawn(backend).await;
    let mut own_browser = Client::anonymous(&app);
    let first = own_browser.post("/api/v1/auth/login", json!({"username": "gat.head", "password": PASSWORD})).await;
    assert_eq!(first.status, StatusCode::OK);
    let device = first.set_cookie("govshare_device").expect("a device cookie").split(';').next().unwrap().to_owned();

    let attacker = Client::anonymous(&app);
    for _ in 0..5 {
        let r = attacker.post("/api/v1/auth/login", json!({"username": "gat.head", "password": "wrong-guess-1"})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let held = attacker.post("/api/v1/auth/login", json!({"username": "gat.head", "password": PASSWORD})).await;
    assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS, "the guessing client waits, even with the right password");
    let wait: i64 = held.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "a short back-off first, not the whole window: {wait}");

    // The person's browser, from the same address even, is not held up.
    own_browser.cookie = Some(device.clone());
    let r = own_browser.post("/api/v1/auth/login", json!({"username": "gat.head", "password": PASSWORD})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A device cookie is bound to its person: it does not exempt guesses at someone else.
    let mut borrowed = Client::anonymous(&app);
    borrowed.cookie = Some(device);
    for _ in 0..5 {
        borrowed.post("/api/v1/auth/login", json!({"username": "rst.head", "password": "wrong-guess-1"})).await;
    }
    let r = borrowed.post("/api/v1/auth/login", json!({"username": "rst.head", "password": PASSWORD})).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // A forged device cookie counts as no cookie.
    let mut forged = Client::anonymous(&app);
    forged.cookie = Some("govshare_device=abc.0000".into());
    let r = forged.post("/api/v1/auth/login", json!({"username": "gat.head", "password": PASSWORD})).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);

    // The back-off ends: after it, the right password works from the attacker's address too.
    app.clock.advance(chrono::Duration::seconds(wait + 1));
    let r = attacker.post("/api/v1/auth/login", json!({"username": "gat.head", "password": PASSWORD})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn the_catalog_list_shows_other_departments_only_published_versions(backend: Backend) {
    let app = spawn(backend).await;
    let id = publish(&app, "gat", household_entry()).await;
    let gat_clerk = Client::login(&app, "gat.clerk").await;
    let mut revised = household_entry();
    revised["name"] = json!("居民户籍信息(未发布修订稿)");
    let r = gat_clerk.call(Method::PUT, &format!("/api/v1/catalog/{id}"), revised).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let find = |list: &Value| list.as_array().unwrap().iter().find(|e| e["id"] == id.as_str()).cloned();
    let mzt = Client::login(&app, "mzt.clerk").await;
    let key = api_key(&app, "mzt", "救助系统").await;
    for (who, client) in [("民政厅 clerk", &mzt), ("民政厅 system key", &key)] {
        let list = client.get("/api/v1/catalog").await;
        assert_eq!(list.status, StatusCode::OK, "{who}: {}", list.text);
        assert!(!list.text.contains("未发布修订稿"), "{who} sees the working version: {}", list.text);
        let entry = find(&list.body).unwrap_or_else(|| panic!("{who}: the published entry is listed"));
        assert_eq!(entry["working_version"], Value::Null, "{who}: {entry}");
        assert_eq!(entry["versions"].as_array().unwrap().len(), 1, "{who}: only the published version: {entry}");
        let detail = client.get(&format!("/api/v1/catalog/{id}")).await;
        assert!(!detail.text.contains("未发布修订稿"), "{who}: {}", detail.text);
        let found = client.get("/api/v1/catalog/search?q=修订稿").await;
        assert!(!found.text.contains("未发布修订稿"), "{who}: {}", found.text);
    }
    // The provider itself sees its working version.
    let own = gat_clerk.get("/api/v1/catalog").await;
    assert!(own.text.contains("未发布修订稿"), "{}", own.text);
}

async fn system_keys_reach_only_the_data_interface(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    // An authority's business system: its key is issued by the authority's administrator.
    let admin = Client::login(&app, "admin").await;
    let authority = admin.org_id("浙江省大数据发展管理局").await;
    let issued = admin
        .post(&format!("/api/v1/organisations/{authority}/credentials"), json!({"name": "监管系统", "valid_days": 30}))
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let authority_key = Client::with_key(&app, issued.body["api_key"].as_str().unwrap());
    let gat_key = api_key(&app, "gat", "户籍系统").await;
    for (who, key) in [("authority key", &authority_key), ("provider key", &gat_key)] {
        for path in [
            "/api/v1/usage".to_owned(),
            format!("/api/v1/catalog/{entry}/source"),
            "/api/v1/notifications".into(),
            "/api/v1/obligations".into(),
        ] {
            let r = key.get(&path).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{who} GET {path}: {}", r.text);
        }
        let r = key.post(&format!("/api/v1/notifications/{}/read", uuid::Uuid::new_v4()), json!({})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who} marks notifications read: {}", r.text);
        // What a business system is for still works: the directory and the published catalog.
        assert_eq!(key.get("/api/v1/catalog").await.status, StatusCode::OK);
        assert_eq!(key.get("/api/v1/organisations").await.status, StatusCode::OK);
    }
    // The people of the authority still supervise: the supervisor reads the region's usage records and sources.
    let supervisor = Client::login(&app, "supervisor").await;
    assert_eq!(supervisor.get("/api/v1/usage").await.status, StatusCode::OK);
    assert_eq!(supervisor.get(&format!("/api/v1/catalog/{entry}/source")).await.status, StatusCode::OK);
    // The requester's system sees its own grants and uses them.
    let grant =
        granted(&app, &entry, "mzt", "service_api", &common::people::STANDARD_ITEMS, common::people::standard_grant())
            .await;
    let mzt_key = api_key(&app, "mzt", "救助系统").await;
    let grants = mzt_key.get("/api/v1/grants").await;
    assert_eq!(grants.status, StatusCode::OK, "{}", grants.text);
    assert!(grants.text.contains(&grant), "{}", grants.text);
    assert_eq!(mzt_key.get(&format!("/api/v1/grants/{grant}")).await.status, StatusCode::OK);
    assert_eq!(
        gat_key.get(&format!("/api/v1/grants/{grant}")).await.status,
        StatusCode::FORBIDDEN,
        "not the provider's key"
    );
}

/// A workbook with cells at A1 and XFD1048576: a few kilobytes that made calamine ask for 512 GiB.
fn far_cell_workbook() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("目录").unwrap();
    sheet.write_string(0, 0, "目录名称").unwrap();
    sheet.write_string(1_048_575, 16_383, "x").unwrap();
    let items = book.add_worksheet();
    items.set_name("数据项").unwrap();
    items.write_string(0, 0, "目录代码").unwrap();
    book.save_to_buffer().unwrap()
}

/// Thousands of long bad cells: the report stays bounded.
fn many_bad_cells_workbook() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("目录").unwrap();
    let (headers, item_headers) = govshare_interchange::import_headers();
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let long = "超长".repeat(150);
    for r in 1..1200u32 {
        for c in 0..headers.len() as u16 {
            sheet.write_string(r, c, &long).unwrap();
        }
    }
    let items = book.add_worksheet();
    items.set_name("数据项").unwrap();
    for (c, h) in item_headers.iter().enumerate() {
        items.write_string(0, c as u16, *h).unwrap();
    }
    book.save_to_buffer().unwrap()
}

async fn hostile_spreadsheets_cost_a_4xx_not_the_process(backend: Backend) {
    let app = spawn(backend).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let bomb = far_cell_workbook();
    assert!(bomb.len() < 16 * 1024, "the hostile file is small: {} bytes", bomb.len());
    let r = clerk.upload("/api/v1/catalog/import", bomb.clone(), true).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("XFD1048576"), "the refusal names the cell: {}", r.text);

    let entry = hosted_entry(&app).await;
    let r = clerk
        .upload(&format!("/api/v1/catalog/{entry}/source/load?file_name=people.xlsx&format=xlsx"), bomb, true)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("XFD1048576"), "{}", r.text);

    let flood = many_bad_cells_workbook();
    let r = clerk.upload("/api/v1/catalog/import", flood, true).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.len() < 2 * 1024 * 1024, "the report is bounded: {} bytes", r.text.len());
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1000, "the first 1,000 errors");
    assert!(r.body["errors_total"].as_u64().unwrap() > 1000, "{}", r.body["errors_total"]);

    // The process is alive and serves everyone else.
    assert_eq!(Client::anonymous(&app).get("/healthz").await.status, StatusCode::OK);
    assert_eq!(clerk.get("/api/v1/me").await.status, StatusCode::OK);
}

async fn control_characters_are_refused_with_the_field_named(backend: Backend) {
    let app = spawn(backend).await;
    // The fuzzer's 500 on PostgreSQL: NUL in the login name.
    let r = Client::anonymous(&app).post("/api/v1/auth/login", json!({"username": "a\u{0}b", "password": "x"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        (r.body["error"]["field"].as_str(), r.body["error"]["rule"].as_str()),
        (Some("username"), Some("control_character"))
    );

    let clerk = Client::login(&app, "gat.clerk").await;
    let mut entry = household_entry();
    entry["items"][1]["name"] = json!("公民\u{0}身份号码");
    let r = clerk.post("/api/v1/catalog", entry).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["error"]["field"], "items[1].name", "{}", r.text);
    let mut entry = household_entry();
    entry["name"] = json!("居民户籍\u{202e}信息");
    let r = clerk.post("/api/v1/catalog", entry).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        (r.body["error"]["field"].as_str(), r.body["error"]["rule"].as_str()),
        (Some("name"), Some("bidi_control"))
    );
    let r = clerk.get("/api/v1/catalog/search?q=%00").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["error"]["field"], "q");
    let r = clerk.get("/api/v1/catalog/a%00b").await;
    assert!(r.status.is_client_error(), "{}", r.text);
    // Nothing was created; the same entry without the characters is.
    let mine = clerk.get("/api/v1/catalog?scope=mine").await;
    assert!(!mine.text.contains("居民户籍"), "{}", mine.text);
    assert_eq!(clerk.post("/api/v1/catalog", household_entry()).await.status, StatusCode::CREATED);
    // The console's forms too.
    let csrf = clerk.csrf.clone().unwrap();
    let r = clerk.form("/console/catalog/new", &[("csrf_token", csrf.as_str()), ("name", "a\u{0}b")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("控制字符"), "{}", r.text);
}

async fn downloads_neutralise_formula_cells(backend: Backend) {
    let app = spawn(backend).await;
    let entry = publish(&app, "gat", people_entry()).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let bound = clerk
        .call(
            Method::PUT,
            &format!("/api/v1/catalog/{entry}/source"),
            json!({"kind": "hosted", "key_item": "sfzh", "scope_item": "xzqh"}),
        )
        .await;
    assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
    let hostile =
        ["=HYPERLINK(\"\"http://evil.example\"\",\"\"点击\"\")", "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)"];
    let mut csv = common::people::HEADER.to_owned();
    for (i, h) in hostile.iter().enumerate() {
        let n = i as u32 + 1;
        csv += &format!(
            "张{n},{},1381234000{n},\"{h}\",330106,,user{n}@example.gov.cn\n",
            common::people::id_number("330106", n)
        );
    }
    let r = load(&clerk, &entry, &csv, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let terms = json!({
        "items": {"xm": "mask", "hjdz": "keep", "xzqh": "keep"},
        "scope_item": "xzqh", "scope_prefixes": ["3301"],
        "valid_until": (today() + chrono::Duration::days(30)).to_string()
    });
    let grant = granted(&app, &entry, "rst", "file_download", &["xm", "hjdz", "xzqh"], terms).await;
    let rst = Client::login(&app, "rst.clerk").await;
    let unquoted: Vec<String> = hostile.iter().map(|h| h.replace("\"\"", "\"")).collect();

    let (status, _, zip) = rst.download(&format!("/api/v1/data/{grant}/download?format=csv")).await;
    assert_eq!(status, StatusCode::OK);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut text = String::new();
    archive.by_name("data.csv").unwrap().read_to_string(&mut text).unwrap();
    let cells: Vec<String> =
        csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap().get(1).unwrap().to_owned()).collect();
    assert_eq!(cells.len(), hostile.len(), "{text}");
    for value in &unquoted {
        assert!(cells.contains(&format!("'{value}")), "{value} is quoted in the CSV: {cells:?}");
    }

    let (status, _, zip) = rst.download(&format!("/api/v1/data/{grant}/download?format=xlsx")).await;
    assert_eq!(status, StatusCode::OK);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let name = archive.file_names().find(|n| n.ends_with(".xlsx")).unwrap().to_owned();
    let mut bytes = Vec::new();
    archive.by_name(&name).unwrap().read_to_end(&mut bytes).unwrap();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let cells: Vec<String> = range.rows().skip(1).map(|r| r[1].to_string()).collect();
    for value in &unquoted {
        assert!(cells.contains(&format!("'{value}")), "{value} is quoted in the workbook: {cells:?}");
    }
}
