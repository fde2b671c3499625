//! Test harness: the real application on port 0, on SQLite or PostgreSQL, with the demo province.
#![allow(dead_code)]

pub mod people;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use govshare_http::{AppState, HttpSettings};
use govshare_service::{Clock, SecuritySettings, Services};
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A clock the test moves forward, for expiry rules. Starts at the real time.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    /// A clock standing at `now`.
    pub fn at(now: DateTime<Utc>) -> TestClock {
        TestClock(Arc::new(Mutex::new(now)))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub struct TestApp {
    pub base: String,
    pub db_url: String,
    pub services: Services,
    pub clock: TestClock,
    _dir: Option<tempfile::TempDir>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub const PASSWORD: &str = govshare::demo::DEMO_PASSWORD;

/// A fresh, empty database URL for the backend.
pub async fn fresh_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (format!("sqlite://{}/govshare.db", dir.path().display()), Some(dir))
        }
        Backend::Postgres => (govshare_store_postgres::testing::fresh_database().await, None),
    }
}

/// The HTTP settings of the test server: as in production (with the bench's baseline route).
pub fn test_settings() -> HttpSettings {
    HttpSettings {
        cookie_secure: govshare_http::CookieSecure::Always,
        node_name: "测试节点".into(),
        bench_baseline: true,
        ..Default::default()
    }
}

pub async fn spawn(backend: Backend) -> TestApp {
    spawn_with(backend, test_settings()).await
}

/// `spawn` with other HTTP settings (timeouts, connection limits, HSTS).
pub async fn spawn_with(backend: Backend, settings: HttpSettings) -> TestApp {
    let (db_url, dir) = fresh_database(backend).await;
    let store = govshare::open_store(&db_url).await.expect("store opens");
    let clock = TestClock(Arc::new(Mutex::new(Utc::now())));
    let services = Services::new(store, SecuritySettings::default()).with_clock(Arc::new(clock.clone()));
    govshare::demo::seed(&services).await.expect("demo seeds");
    let (base, tx) = serve(services.clone(), settings).await;
    TestApp { base, db_url, services, clock, _dir: dir, _shutdown: tx }
}

async fn serve(services: Services, settings: HttpSettings) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(services, settings);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(govshare_http::serve(listener, state, async {
        let _ = rx.await;
    }));
    (base, tx)
}

/// A node of a federation in this process: its own database, its own node keys (kept across a restart), the
/// federation's shared clock, the demo province seeded once.
pub struct FedNode {
    pub app: TestApp,
    secret: [u8; 32],
    addr: std::net::SocketAddr,
    /// The node's checkpoint file's directory (outside the database).
    pub checkpoints: Arc<tempfile::TempDir>,
}

/// A federation node stopped: what it needs to start again on the same database, keys and port.
pub struct StoppedNode {
    db_url: String,
    dir: Option<tempfile::TempDir>,
    clock: TestClock,
    secret: [u8; 32],
    addr: std::net::SocketAddr,
    checkpoints: Arc<tempfile::TempDir>,
}

fn fed_services(
    store: govshare_store::DynStore,
    clock: &TestClock,
    secret: &[u8; 32],
    checkpoints: &tempfile::TempDir,
) -> Services {
    Services::new(store, SecuritySettings::default())
        .with_clock(Arc::new(clock.clone()))
        .with_node_keys(govshare_service::crypto::NodeKeys::from_secret(secret))
        .with_checkpoints(govshare_service::CheckpointLog::new(checkpoints.path(), "测试节点"))
}

async fn serve_on(listener: tokio::net::TcpListener, services: Services) -> tokio::sync::oneshot::Sender<()> {
    let state = AppState::new(services, test_settings());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(govshare_http::serve(listener, state, async {
        let _ = rx.await;
    }));
    tx
}

impl FedNode {
    pub async fn start(backend: Backend, clock: &TestClock) -> FedNode {
        let (db_url, dir) = fresh_database(backend).await;
        let store = govshare::open_store(&db_url).await.expect("store opens");
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut secret);
        let checkpoints = Arc::new(tempfile::tempdir().unwrap());
        let services = fed_services(store, clock, &secret, &checkpoints);
        govshare::demo::seed(&services).await.expect("demo seeds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = serve_on(listener, services.clone()).await;
        let app = TestApp {
            base: format!("http://{addr}"),
            db_url,
            services,
            clock: clock.clone(),
            _dir: dir,
            _shutdown: shutdown,
        };
        FedNode { app, secret, addr, checkpoints }
    }

    pub fn services(&self) -> &Services {
        &self.app.services
    }

    /// The node's keys, as its services hold them (to forge or replay its messages in tests).
    pub fn keys(&self) -> govshare_service::crypto::NodeKeys {
        govshare_service::crypto::NodeKeys::from_secret(&self.secret)
    }

    /// Stops serving (the port refuses connections) and drops the node's services.
    pub async fn stop(self) -> StoppedNode {
        let FedNode { app, secret, addr, checkpoints } = self;
        let TestApp { db_url, clock, _dir, _shutdown, .. } = app;
        let _ = _shutdown.send(());
        // Let the server notice, stop accepting and close the listener.
        for _ in 0..50 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        StoppedNode { db_url, dir: _dir, clock, secret, addr, checkpoints }
    }
}

impl StoppedNode {
    /// Starts again on the same database, keys and port.
    pub async fn restart(self) -> FedNode {
        let store = govshare::open_store(&self.db_url).await.expect("store opens again");
        let services = fed_services(store, &self.clock, &self.secret, &self.checkpoints);
        let listener = tokio::net::TcpListener::bind(self.addr).await.expect("the port is free again");
        let shutdown = serve_on(listener, services.clone()).await;
        let app = TestApp {
            base: format!("http://{}", self.addr),
            db_url: self.db_url,
            services,
            clock: self.clock,
            _dir: self.dir,
            _shutdown: shutdown,
        };
        FedNode { app, secret: self.secret, addr: self.addr, checkpoints: self.checkpoints }
    }
}

/// Another server instance on the same database, as a second node behind a load balancer.
pub struct Instance {
    pub base: String,
    pub services: Services,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn another_instance(app: &TestApp) -> Instance {
    let store = govshare::open_store(&app.db_url).await.expect("store opens");
    let services = Services::new(store, SecuritySettings::default()).with_clock(Arc::new(app.clock.clone()));
    let (base, tx) = serve(services.clone(), test_settings()).await;
    Instance { base, services, _shutdown: tx }
}

/// A client that keeps the session cookie and CSRF token by hand, so the test sees exactly what is sent.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// A validation error's problems as (field, rule), in the order given; panics when none are listed.
    pub fn problems(&self) -> Vec<(&str, &str)> {
        self.body["error"]["problems"]
            .as_array()
            .unwrap_or_else(|| panic!("the problems are listed: {}", self.text))
            .iter()
            .map(|p| (p["field"].as_str().unwrap(), p["rule"].as_str().unwrap()))
            .collect()
    }

    /// The `Set-Cookie` header that sets cookie `name`, whole.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}=");
        self.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find(|c| c.starts_with(&prefix))
    }
}

impl Client {
    pub fn anonymous(app: &TestApp) -> Client {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Client { http, base: app.base.clone(), cookie: None, csrf: None, bearer: None }
    }

    pub fn with_key(app: &TestApp, key: &str) -> Client {
        Client { bearer: Some(key.to_owned()), ..Client::anonymous(app) }
    }

    pub async fn login(app: &TestApp, username: &str) -> Client {
        Client::login_with(app, username, PASSWORD).await
    }

    pub async fn login_with(app: &TestApp, username: &str, password: &str) -> Client {
        let mut client = Client::anonymous(app);
        let reply =
            client.post("/api/v1/auth/login", serde_json::json!({"username": username, "password": password})).await;
        assert_eq!(reply.status, StatusCode::OK, "login {username}: {}", reply.text);
        client.adopt_session(&reply);
        client
    }

    pub fn adopt_session(&mut self, reply: &Reply) {
        let set_cookie = reply.set_cookie("govshare_session").expect("session cookie");
        assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
        assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
        self.cookie = Some(set_cookie.split(';').next().unwrap().to_owned());
        self.csrf = reply.body["csrf_token"].as_str().map(str::to_owned);
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, csrf: Option<&str>) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", cookie);
        }
        if let Some(token) = csrf {
            req = req.header("x-csrf-token", token);
        }
        if let Some(key) = &self.bearer {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request is answered");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body, text, headers }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, None).await
    }

    /// GET returning the raw body (files).
    pub async fn download(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.http.get(format!("{}{}", self.base, path));
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", cookie);
        }
        let resp = req.send().await.expect("request is answered");
        (resp.status(), resp.headers().clone(), resp.bytes().await.unwrap().to_vec())
    }

    /// POST that declares a body of `length` bytes and sends none of it: what a limit that refuses a body by its
    /// length answers, before reading anything. (Sending the whole oversized body races the server's early answer:
    /// the client may still be writing when the server closes.)
    pub async fn declared_upload(&self, path: &str, length: usize) -> Reply {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.base.trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("the server listens");
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\nConnection: close\r\n"
        );
        if let Some(cookie) = &self.cookie {
            head.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if let Some(token) = &self.csrf {
            head.push_str(&format!("X-CSRF-Token: {token}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut raw))
            .await
            .expect("answered without the body")
            .unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").expect("a whole response");
        let mut lines = head.lines();
        let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        for line in lines {
            let (name, value) = line.split_once(':').unwrap();
            headers.append(
                reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                value.trim().parse().unwrap(),
            );
        }
        let body = if headers.get("transfer-encoding").is_some_and(|v| v == "chunked") {
            let mut out = String::new();
            let mut rest = body;
            while let Some((size, more)) = rest.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 {
                    break;
                }
                out.push_str(&more[..n]);
                rest = &more[n + 2..];
            }
            out
        } else {
            body.to_owned()
        };
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
            text: body,
            headers,
        }
    }

    /// POST of a raw body (a file upload through the API), with the CSRF header unless `csrf` is false.
    pub async fn upload(&self, path: &str, bytes: Vec<u8>, csrf: bool) -> Reply {
        let mut req = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("content-type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", cookie);
        }
        if let (true, Some(token)) = (csrf, &self.csrf) {
            req = req.header("x-csrf-token", token);
        }
        let resp = req.body(bytes).send().await.expect("request is answered");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), text, headers }
    }

    /// An unsafe request with the session's CSRF token, as the console's scripts would send it.
    pub async fn call(&self, method: Method, path: &str, body: Value) -> Reply {
        self.send(method, path, Some(body), self.csrf.clone().as_deref()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, body).await
    }

    /// A console form post (urlencoded), with the given fields.
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut req = self.http.post(format!("{}{}", self.base, path)).form(fields);
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", cookie);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Reply { status, body: Value::Null, text, headers }
    }

    pub async fn org_id(&self, name: &str) -> String {
        let orgs = self.get("/api/v1/organisations").await;
        orgs.body.as_array().unwrap().iter().find(|o| o["name"] == name).unwrap_or_else(|| panic!("no org {name}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// Runs each named test function on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::common::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::common::Backend::Postgres).await } )*
        }
    };
}

// ---- catalog fixtures shared by the test files ----

pub fn household_entry() -> Value {
    serde_json::json!({
        "name": "居民户籍信息",
        "resource_code": "330000-GAT-0001",
        "summary": "全省户籍人口的登记信息,用于身份核验与社会救助资格审核",
        "format": "数据库",
        "update_frequency": "每日",
        "sharing_attribute": "有条件共享",
        "sharing_scope": "省级政府部门",
        "permitted_purposes": ["社会救助资格核查", "户籍迁移业务协同"],
        "delivery_methods": ["服务接口", "批量交换"],
        "grade_class": "一般数据",
        "grade_level": 3,
        "items": [
            {"name": "姓名", "code": "xm", "data_type": "字符型", "length": 50, "grade_class": "一般数据", "grade_level": 2, "personal_info": "姓名"},
            {"name": "公民身份号码", "code": "sfzh", "data_type": "string", "length": 18, "grade_class": "一般数据", "grade_level": 3, "personal_info": "id_number"},
            {"name": "户籍地址", "code": "hjdz", "data_type": "string", "length": 200, "grade_class": "一般数据", "grade_level": 3, "personal_info": "address"}
        ]
    })
}

pub fn assessment(kind: &str, date: &str) -> Value {
    serde_json::json!({"kind": kind, "document_title": "居民户籍信息共享评估报告", "document_ref": "浙公数评〔2026〕12号", "assessed_on": date, "conclusion": "pass"})
}

/// Drives an entry from draft to publication: clerk, head and the provincial authority.
pub async fn publish(app: &TestApp, dept: &str, entry: Value) -> String {
    let clerk = Client::login(app, &format!("{dept}.clerk")).await;
    let head = Client::login(app, &format!("{dept}.head")).await;
    let reviewer = Client::login(app, "reviewer").await;
    let created = clerk.post("/api/v1/catalog", entry).await;
    assert_eq!(created.status, reqwest::StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    clerk.post(&format!("/api/v1/catalog/{id}/assessments"), assessment("confidentiality", "2026-11-02")).await;
    clerk.post(&format!("/api/v1/catalog/{id}/assessments"), assessment("personal_info_impact", "2026-11-02")).await;
    let r = clerk.post(&format!("/api/v1/catalog/{id}/submit"), serde_json::json!({})).await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.text);
    head.post(&format!("/api/v1/catalog/{id}/head-decision"), serde_json::json!({"approve": true})).await;
    let r = reviewer.post(&format!("/api/v1/catalog/{id}/review"), serde_json::json!({"approve": true})).await;
    assert_eq!(r.body["published_version"], 1, "{}", r.text);
    id
}

pub fn assistance_entry() -> Value {
    serde_json::json!({
        "name": "城乡低保对象信息",
        "resource_code": "330000-MZT-0007",
        "summary": "全省最低生活保障对象的认定与救助金发放情况",
        "format": "database",
        "update_frequency": "monthly",
        "sharing_attribute": "unconditional",
        "delivery_methods": ["file_download"],
        "grade_class": "一般数据",
        "grade_level": 2,
        "items": [
            {"name": "姓名", "code": "xm", "data_type": "string", "length": 50, "grade_class": "一般数据", "grade_level": 2, "personal_info": "name"},
            {"name": "救助金额", "code": "jzje", "data_type": "decimal", "grade_class": "一般数据", "grade_level": 2}
        ]
    })
}

/// Runs SQL as someone with direct database access would, bypassing the application.
pub async fn tamper(backend: Backend, db_url: &str, statements: &[&str]) -> Result<(), sqlx::Error> {
    match backend {
        Backend::Sqlite => {
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(db_url).await?;
            for s in statements {
                sqlx::query(s).execute(&mut conn).await?;
            }
        }
        Backend::Postgres => {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(db_url).await?;
            for s in statements {
                sqlx::query(s).execute(&mut conn).await?;
            }
        }
    }
    Ok(())
}

/// Whether `text` is a human number `<prefix>-<year>-<six digits>`, e.g. `SQ-2026-000123`.
pub fn is_number(text: &str, prefix: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    match text.split('-').collect::<Vec<_>>()[..] {
        [p, year, seq] => p == prefix && digits(year, 4) && digits(seq, 6),
        _ => false,
    }
}

/// Whether `text` holds a UUID (8-4-4-4-12 hexadecimal digits) anywhere.
pub fn contains_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    let shape = [8, 4, 4, 4, 12];
    (0..b.len()).any(|start| {
        let mut at = start;
        shape.iter().enumerate().all(|(k, &n)| {
            let run = b.get(at..at + n).is_some_and(|r| r.iter().all(u8::is_ascii_hexdigit));
            at += n;
            let dash = k == 4 || b.get(at) == Some(&b'-');
            at += 1;
            run && dash
        })
    })
}

/// The text of an HTML fragment with its tags (and so their attribute values) dropped.
pub fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in html.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

/// The answer to the public desk's challenge: a sum in Chinese numerals (`七加三等于多少？…`).
pub fn solve_challenge(question: &str) -> String {
    const NUMERALS: [&str; 21] = [
        "零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三", "十四", "十五",
        "十六", "十七", "十八", "十九", "二十",
    ];
    let (a, rest) = question.split_once('加').expect("a sum");
    let b = rest.split_once("等于").expect("a sum").0;
    let n = |s: &str| NUMERALS.iter().position(|x| *x == s).unwrap_or_else(|| panic!("numeral {s}"));
    (n(a) + n(b)).to_string()
}

/// Files a public complaint through the API with a fresh challenge answered: `body` gives the other fields.
pub async fn file_complaint(client: &Client, mut body: Value) -> Reply {
    let challenge = client.get("/api/v1/public/complaints/challenge").await;
    assert_eq!(challenge.status, StatusCode::OK, "{}", challenge.text);
    body["challenge_token"] = challenge.body["token"].clone();
    if body.get("challenge_answer").is_none() {
        body["challenge_answer"] = serde_json::json!(solve_challenge(challenge.body["question"].as_str().unwrap()));
    }
    client.post("/api/v1/public/complaints", body).await
}
