//! Black-box tests of the foundation: the real server on port 0, called like a client, on both backends.

mod common;

use common::{Backend, Client, PASSWORD, spawn};
use reqwest::{Method, StatusCode};
use serde_json::json;

const GAT: &str = "浙江省公安厅";
const RST: &str = "浙江省人力资源和社会保障厅";

on_both_backends!(
    login_session_and_logout,
    failed_logins_are_throttled,
    unsafe_requests_need_the_csrf_token,
    departments_cannot_reach_each_others_objects,
    api_credentials_are_scoped_expire_and_revoke,
    bad_input_is_named_and_changes_nothing,
    disabling_an_account_ends_its_sessions,
    department_switcher_and_contractor_limits,
    operations_endpoints,
);

async fn login_session_and_logout(backend: Backend) {
    let app = spawn(backend).await;
    let anon = Client::anonymous(&app);
    let wrong = anon.post("/api/v1/auth/login", json!({"username": "gat.clerk", "password": "Wrong#Pass2026"})).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), "invalid_credentials");
    assert_eq!(wrong.body["error"]["message"], "用户名或密码错误");
    let unknown = anon.post("/api/v1/auth/login", json!({"username": "nobody", "password": PASSWORD})).await;
    assert_eq!(unknown.code(), "invalid_credentials", "unknown users look like wrong passwords");

    assert_eq!(anon.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    let clerk = Client::login(&app, "gat.clerk").await;
    let me = clerk.get("/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["name"], "gat.clerk");
    assert_eq!(me.body["org_name"], GAT);
    assert_eq!(me.body["roles"], json!(["clerk"]));

    let out = clerk.call(Method::POST, "/api/v1/auth/logout", json!({})).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(clerk.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "the old cookie is dead");
    // The console sends a signed-out person to the login form.
    let page = clerk.get("/console/users").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers["location"], "/login?next=%2Fconsole%2Fusers");
}

async fn failed_logins_are_throttled(backend: Backend) {
    let app = spawn(backend).await;
    let anon = Client::anonymous(&app);
    for _ in 0..5 {
        let r = anon.post("/api/v1/auth/login", json!({"username": "rst.clerk", "password": "Wrong#Pass2026"})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = anon.post("/api/v1/auth/login", json!({"username": "rst.clerk", "password": PASSWORD})).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS, "{}", blocked.text);
    assert_eq!(blocked.code(), "rate_limited");
    assert!(blocked.headers.contains_key("retry-after"));
    app.clock.advance(chrono::Duration::minutes(16));
    let later = anon.post("/api/v1/auth/login", json!({"username": "rst.clerk", "password": PASSWORD})).await;
    assert_eq!(later.status, StatusCode::OK, "the window has passed: {}", later.text);
}

async fn unsafe_requests_need_the_csrf_token(backend: Backend) {
    let app = spawn(backend).await;
    let head = Client::login(&app, "gat.head").await;
    let gat = head.org_id(GAT).await;
    let path = format!("/api/v1/organisations/{gat}/credentials");
    let body = json!({"name": "户籍核验系统", "valid_days": 30});

    let missing = head.send(Method::POST, &path, Some(body.clone()), None).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert_eq!(missing.code(), "csrf_failed");
    let wrong = head.send(Method::POST, &path, Some(body.clone()), Some("not-the-token")).await;
    assert_eq!(wrong.code(), "csrf_failed");
    // A console form without the hidden field is refused the same way.
    let form = head.form("/console/credentials", &[("name", "户籍核验系统"), ("valid_days", "30")]).await;
    assert_eq!(form.status, StatusCode::FORBIDDEN);
    assert!(form.text.contains("CSRF"), "{}", form.text);
    assert_eq!(head.get(&path).await.body, json!([]), "nothing was issued");

    let ok = head.post(&path, body).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let csrf = head.csrf.clone().unwrap();
    let form =
        head.form("/console/credentials", &[("csrf_token", &csrf), ("name", "出入境系统"), ("valid_days", "30")]).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text.contains("gsk_"), "the key is shown once on the page");
    assert_eq!(head.get(&path).await.body.as_array().unwrap().len(), 2);
}

async fn departments_cannot_reach_each_others_objects(backend: Backend) {
    let app = spawn(backend).await;
    let rst_head = Client::login(&app, "rst.head").await;
    let rst = rst_head.org_id(RST).await;
    let issued = rst_head
        .post(&format!("/api/v1/organisations/{rst}/credentials"), json!({"name": "社保卡系统", "valid_days": 90}))
        .await;
    assert_eq!(issued.status, StatusCode::CREATED);
    let cred = issued.body["credential"]["id"].as_str().unwrap().to_owned();
    let members = rst_head.get(&format!("/api/v1/organisations/{rst}/members")).await;
    let clerk_id =
        members.body.as_array().unwrap().iter().find(|m| m["user"]["username"] == "rst.clerk").unwrap()["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let audit_before = app.services.store().audit_head().await.unwrap();

    // The head of another department tries every route that takes 人社厅's objects.
    let intruder = Client::login(&app, "gat.head").await;
    let attempts: Vec<(Method, String, serde_json::Value)> = vec![
        (Method::GET, format!("/api/v1/organisations/{rst}/members"), json!(null)),
        (
            Method::POST,
            format!("/api/v1/organisations/{rst}/members"),
            json!({"username": "mole", "display_name": "内鬼", "password": "Mole#Pass2026", "roles": ["clerk"]}),
        ),
        (
            Method::POST,
            format!("/api/v1/organisations/{rst}/members/roles"),
            json!({"username": "gat.clerk", "role": "clerk"}),
        ),
        (Method::DELETE, format!("/api/v1/organisations/{rst}/members/{clerk_id}/roles/clerk"), json!(null)),
        (Method::POST, format!("/api/v1/organisations/{rst}/members/{clerk_id}/disable"), json!(null)),
        (Method::POST, format!("/api/v1/organisations/{rst}/members/{clerk_id}/enable"), json!(null)),
        (
            Method::PUT,
            format!("/api/v1/organisations/{rst}/members/{clerk_id}/password"),
            json!({"new_password": "Taken#Over2026"}),
        ),
        (Method::GET, format!("/api/v1/organisations/{rst}/credentials"), json!(null)),
        (
            Method::POST,
            format!("/api/v1/organisations/{rst}/credentials"),
            json!({"name": "冒用系统", "valid_days": 30}),
        ),
        (Method::DELETE, format!("/api/v1/organisations/{rst}/credentials/{cred}"), json!(null)),
        (Method::PATCH, format!("/api/v1/organisations/{rst}"), json!({"work_unit_name": "被篡改"})),
    ];
    for (method, path, body) in &attempts {
        let body = (!body.is_null()).then(|| body.clone());
        let reply = intruder.send(method.clone(), path, body, intruder.csrf.as_deref()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}: {}", reply.text);
        assert_eq!(reply.code(), "forbidden");
        assert!(reply.body["error"]["message"].as_str().unwrap().starts_with("无权"), "{}", reply.text);
    }
    // Its clerk fares no better, and neither does the console: it only ever acts for the acting department.
    let clerk = Client::login(&app, "gat.clerk").await;
    assert_eq!(clerk.get(&format!("/api/v1/organisations/{rst}/members")).await.status, StatusCode::FORBIDDEN);
    let switch = intruder.call(Method::PUT, "/api/v1/me/org", json!({"org_id": rst})).await;
    assert_eq!(switch.status, StatusCode::FORBIDDEN);

    // Nothing changed.
    assert_eq!(
        app.services.store().audit_head().await.unwrap().map(|h| h.seq),
        audit_before.map(|h| h.seq).map(|s| s + 2),
        "only the two logins were recorded"
    );
    let creds = rst_head.get(&format!("/api/v1/organisations/{rst}/credentials")).await;
    assert_eq!(creds.body[0]["status"], "active");
    let org = rst_head.get(&format!("/api/v1/organisations/{rst}")).await;
    assert_ne!(org.body["work_unit_name"], "被篡改");
    // The administrator may.
    let admin = Client::login(&app, "admin").await;
    assert_eq!(admin.get(&format!("/api/v1/organisations/{rst}/members")).await.status, StatusCode::OK);
}

async fn api_credentials_are_scoped_expire_and_revoke(backend: Backend) {
    let app = spawn(backend).await;
    let head = Client::login(&app, "rst.head").await;
    let rst = head.org_id(RST).await;
    let gat = head.org_id(GAT).await;
    let issued = head
        .post(&format!("/api/v1/organisations/{rst}/credentials"), json!({"name": "社保卡系统", "valid_days": 1}))
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let key = issued.body["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("gsk_"));
    let listed = head.get(&format!("/api/v1/organisations/{rst}/credentials")).await;
    assert!(!listed.text.contains(&key[40..]), "the secret is never shown again");

    let system = Client::with_key(&app, &key);
    let me = system.get("/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["kind"], "system");
    assert_eq!(me.body["org_id"], rst.as_str());
    assert_eq!(me.body["roles"], json!(["system_client"]));
    assert_eq!(system.get("/api/v1/organisations").await.status, StatusCode::OK, "a system may read the directory");
    // Scope: a system acts only for its department, and only calls data APIs, not administration.
    for path in [
        format!("/api/v1/organisations/{rst}/members"),
        format!("/api/v1/organisations/{gat}/credentials"),
        "/api/v1/audit".into(),
    ] {
        assert_eq!(system.get(&path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let escalate = system
        .send(
            Method::POST,
            &format!("/api/v1/organisations/{rst}/credentials"),
            Some(json!({"name": "x", "valid_days": 1})),
            None,
        )
        .await;
    assert_eq!(escalate.status, StatusCode::FORBIDDEN);

    let forged = Client::with_key(&app, &format!("{}x", &key[..key.len() - 1]));
    assert_eq!(forged.get("/api/v1/me").await.code(), "invalid_api_key");
    assert_eq!(Client::with_key(&app, "gsk_garbage").get("/api/v1/me").await.code(), "invalid_api_key");

    app.clock.advance(chrono::Duration::hours(25));
    let expired = system.get("/api/v1/me").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.code(), "api_key_expired");

    let head = Client::login(&app, "rst.head").await;
    let second = head
        .post(&format!("/api/v1/organisations/{rst}/credentials"), json!({"name": "就业系统", "valid_days": 30}))
        .await;
    let second_key = second.body["api_key"].as_str().unwrap().to_owned();
    let second_id = second.body["credential"]["id"].as_str().unwrap().to_owned();
    assert_eq!(Client::with_key(&app, &second_key).get("/api/v1/me").await.status, StatusCode::OK);
    let revoked =
        head.call(Method::DELETE, &format!("/api/v1/organisations/{rst}/credentials/{second_id}"), json!(null)).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(Client::with_key(&app, &second_key).get("/api/v1/me").await.code(), "api_key_revoked");
    // A clerk can see the credentials but not issue them.
    let clerk = Client::login(&app, "rst.clerk").await;
    assert_eq!(clerk.get(&format!("/api/v1/organisations/{rst}/credentials")).await.status, StatusCode::OK);
    assert_eq!(
        clerk
            .post(&format!("/api/v1/organisations/{rst}/credentials"), json!({"name": "x", "valid_days": 1}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn bad_input_is_named_and_changes_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let admin = Client::login(&app, "admin").await;
    let before = app.services.store().audit_head().await.unwrap().unwrap().seq;
    let org = |code: &str| json!({"kind": "department", "region_code": "330000", "name": "浙江省文化和旅游厅", "credit_code": code, "work_unit_name": "信息中心"});

    let bad_check = admin.post("/api/v1/organisations", org("113300000024820768")).await;
    assert_eq!(bad_check.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad_check.text);
    assert_eq!(bad_check.body["error"]["code"], "validation_failed");
    assert_eq!(bad_check.body["error"]["field"], "credit_code");
    assert_eq!(bad_check.body["error"]["rule"], "check_character");
    assert!(bad_check.body["error"]["message"].as_str().unwrap().contains("校验位错误"));

    let bad_region = admin.post("/api/v1/regions", json!({"code": "33010", "name": "杭州"})).await;
    assert_eq!(bad_region.body["error"]["field"], "region_code");
    let duplicate =
        admin.post("/api/v1/organisations", org(&govshare::demo::government_credit_code("330000", 10))).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT, "{}", duplicate.text);
    let second_authority = admin
        .post(
            "/api/v1/organisations",
            json!({"kind": "authority", "region_code": "330000", "name": "另一个主管部门",
            "credit_code": govshare::demo::government_credit_code("330000", 99), "work_unit_name": "处"}),
        )
        .await;
    assert_eq!(second_authority.status, StatusCode::CONFLICT, "{}", second_authority.text);
    let rst = admin.org_id(RST).await;
    let weak = admin
        .post(
            &format!("/api/v1/organisations/{rst}/members"),
            json!({"username": "new.clerk", "display_name": "新人", "password": "short", "roles": ["clerk"]}),
        )
        .await;
    assert_eq!(weak.body["error"]["field"], "password");
    let second_head = admin
        .post(&format!("/api/v1/organisations/{rst}/members"), json!({"username": "new.head", "display_name": "新负责人", "password": "Strong#Pass2026", "roles": ["work_unit_head"]}))
        .await;
    assert_eq!(second_head.status, StatusCode::CONFLICT, "one head per work unit: {}", second_head.text);
    let contractor_head = admin
        .post(&format!("/api/v1/organisations/{rst}/members"), json!({"username": "new.vendor", "display_name": "外包", "password": "Strong#Pass2026", "contractor": true, "roles": ["work_unit_head"]}))
        .await;
    assert_eq!(contractor_head.body["error"]["rule"], "contractor_restricted");
    let not_json = admin.send(Method::POST, "/api/v1/regions", None, admin.csrf.as_deref()).await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.code(), "bad_request");
    let bad_id = admin.get("/api/v1/organisations/not-a-uuid").await;
    assert_eq!(bad_id.body["error"]["field"], "org_id");

    assert_eq!(
        app.services.store().audit_head().await.unwrap().unwrap().seq,
        before,
        "no refused request changed anything"
    );
    let ok = admin.post("/api/v1/organisations", org(&govshare::demo::government_credit_code("330000", 77))).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
}

async fn disabling_an_account_ends_its_sessions(backend: Backend) {
    let app = spawn(backend).await;
    let clerk = Client::login(&app, "zrzy.clerk").await;
    let head = Client::login(&app, "zrzy.head").await;
    let org = head.org_id("浙江省自然资源厅").await;
    let me = clerk.get("/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);
    let members = head.get(&format!("/api/v1/organisations/{org}/members")).await;
    let clerk_id =
        members.body.as_array().unwrap().iter().find(|m| m["user"]["username"] == "zrzy.clerk").unwrap()["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let r =
        head.call(Method::POST, &format!("/api/v1/organisations/{org}/members/{clerk_id}/disable"), json!(null)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(clerk.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    let again = Client::anonymous(&app)
        .post("/api/v1/auth/login", json!({"username": "zrzy.clerk", "password": PASSWORD}))
        .await;
    assert_eq!(again.code(), "account_disabled");
    head.call(Method::POST, &format!("/api/v1/organisations/{org}/members/{clerk_id}/enable"), json!(null)).await;
    Client::login(&app, "zrzy.clerk").await;
}

async fn department_switcher_and_contractor_limits(backend: Backend) {
    let app = spawn(backend).await;
    let liu = Client::login(&app, "liu.yang").await;
    let me = liu.get("/api/v1/me").await;
    assert_eq!(me.body["orgs"].as_array().unwrap().len(), 2, "{}", me.text);
    let wjw = liu.org_id("浙江省卫生健康委员会").await;
    let switched = liu.call(Method::PUT, "/api/v1/me/org", json!({"org_id": wjw})).await;
    assert_eq!(switched.status, StatusCode::NO_CONTENT);
    assert_eq!(liu.get("/api/v1/me").await.body["org_name"], "浙江省卫生健康委员会");
    assert_eq!(liu.get(&format!("/api/v1/organisations/{wjw}/members")).await.status, StatusCode::OK);
    let mzt = liu.org_id("浙江省民政厅").await;
    assert_eq!(
        liu.get(&format!("/api/v1/organisations/{mzt}/members")).await.status,
        StatusCode::FORBIDDEN,
        "acts for one department at a time"
    );

    let vendor = Client::login(&app, "rst.vendor").await;
    assert_eq!(vendor.get("/api/v1/me").await.body["contractor"], true);
    let rst = vendor.org_id(RST).await;
    assert_eq!(vendor.get(&format!("/api/v1/organisations/{rst}/credentials")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(vendor.get(&format!("/api/v1/organisations/{rst}/members")).await.status, StatusCode::FORBIDDEN);
}

async fn operations_endpoints(backend: Backend) {
    let app = spawn(backend).await;
    let anon = Client::anonymous(&app);
    assert_eq!(anon.get("/healthz").await.text, "ok");
    assert_eq!(anon.get("/readyz").await.text, "ready");
    let spec = anon.get("/api/openapi.json").await;
    assert_eq!(spec.status, StatusCode::OK);
    assert!(spec.body["paths"]["/api/v1/organisations/{org_id}/credentials"]["post"].is_object());
    assert!(spec.body["components"]["securitySchemes"]["api_key"].is_object());
    let docs = anon.get("/api/docs/").await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.text.contains("swagger"), "the viewer is served from the binary");
    anon.get("/api/v1/me").await;
    let metrics = anon.get("/metrics").await;
    assert!(metrics.text.contains("govshare_http_requests_total"), "{}", metrics.text);
    let login_page = anon.get("/login").await;
    assert!(login_page.text.contains("用户登录"));
    assert_eq!(login_page.headers["x-frame-options"], "DENY");
}

/// From December, a missing next-year calendar is announced on every console page (REQUIREMENTS §9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_warns_when_the_calendar_lacks_a_year() {
    let app = spawn(Backend::Sqlite).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let now = app.services.now();
    let today = now.with_timezone(&govshare_domain::calendar::beijing()).date_naive();
    let page = clerk.get("/console").await;
    let covered = govshare_domain::calendar::WorkingCalendar::official().missing_years(today).is_empty();
    assert_eq!(!page.text.contains("calendar-warning"), covered, "banner shown exactly when a year is missing");
    // Move the clock to the first of December of the last shipped year: next year has no data.
    let december = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(4, 0, 0).unwrap().and_utc();
    app.clock.advance(december - now);
    let clerk = Client::login(&app, "gat.clerk").await;
    let page = clerk.get("/console").await;
    assert!(page.text.contains("工作日历缺少 2027 年"), "{today}: banner missing");
    assert!(
        page.text.contains("请联系平台管理员导入") && !page.text.contains("govshare calendar import"),
        "the command is the admin's"
    );
    let admin = Client::login(&app, "admin").await.get("/console").await;
    assert!(admin.text.contains("govshare calendar import"), "the administrator is told how");
}
