//! Headless Chromium signs in to the console and reaches the users page.
//!
//! Needs Debian's `chromium` and `chromium-driver`, and `fonts-noto-cjk` for readable screenshots (`.ci/run` and
//! `scripts/test` install them). Paths can be overridden with `CHROMIUM` and `CHROMEDRIVER`. The test fails, never
//! skips, when they are missing.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Backend, Client, PASSWORD, household_entry, publish, spawn};
use fantoccini::{ClientBuilder, Locator};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_browser() -> (Driver, fantoccini::Client) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    assert!(
        std::path::Path::new(&chromium).exists() && std::path::Path::new(&chromedriver).exists(),
        "browser tests need {chromium} and {chromedriver}: apt-get install chromium chromium-driver (scripts/test does this)"
    );
    let port = free_port();
    let driver = Driver(
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            // The browser of a Chinese-speaking user: its own controls (date fields, the file picker) in Chinese.
            .env("LANGUAGE", "zh_CN")
            .env("LANG", "zh_CN.UTF-8")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let profile = tempfile::tempdir().unwrap().keep();
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--disable-quic", format!("--user-data-dir={}", profile.display()),
                     "--window-size=1400,1000", "--lang=zh-CN"],
            "prefs": {"intl.accept_languages": "zh-CN,zh"}
        }
    });
    let caps = caps.as_object().unwrap().clone();
    // chromedriver needs a moment to listen; retry the session request instead of sleeping blindly.
    let mut last_err = None;
    for _ in 0..100 {
        match ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(err) => {
                last_err = Some(err);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("cannot start a chromium session: {last_err:?}");
}

async fn sign_in(browser: &fantoccini::Client, base: &str, username: &str) {
    browser.goto(&format!("{base}/login")).await.unwrap();
    browser.find(Locator::Id("username")).await.unwrap().send_keys(username).await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    browser.find(Locator::Id("login-submit")).await.unwrap().click().await.unwrap();
    wait_text(browser, "#current-user", "").await;
}

async fn sign_out(browser: &fantoccini::Client) {
    browser.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    wait_text(browser, "h2", "用户登录").await;
}

async fn fill(browser: &fantoccini::Client, css: &str, text: &str) {
    let field = browser.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn select(browser: &fantoccini::Client, name: &str, value: &str) {
    browser.find(Locator::Css(&format!("select[name='{name}']"))).await.unwrap().select_by_value(value).await.unwrap();
}

async fn click(browser: &fantoccini::Client, css: &str) {
    browser.wait().for_element(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Waits (bounded) until the element matching `css` shows `expected`. The element may belong to the page being
/// replaced, so a vanished element is retried rather than failed.
async fn wait_text(browser: &fantoccini::Client, css: &str, expected: &str) {
    let mut last = String::new();
    for _ in 0..200 {
        if let Ok(element) = browser.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if text.contains(expected) {
                return;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("`{css}` never showed `{expected}`; last seen: `{last}`");
}

async fn status_is(browser: &fantoccini::Client, expected: &str) {
    wait_text(browser, "#entry-status", expected).await;
}

/// R-CAT: a clerk drafts an entry, the head approves, the authority publishes, another department finds it by a
/// Chinese term.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_goes_from_clerk_to_publication_and_is_found() {
    let app = spawn(Backend::Sqlite).await;
    let (_driver, browser) = start_browser().await;

    sign_in(&browser, &app.base, "mzt.clerk").await;
    browser.goto(&format!("{}/console/catalog/mine", app.base)).await.unwrap();
    click(&browser, "#new-entry").await;
    browser.wait().for_element(Locator::Id("entry-form")).await.unwrap();
    fill(&browser, "#e-name", "最低生活保障对象信息").await;
    fill(&browser, "#e-code", "330000-MZT-0007").await;
    fill(&browser, "#e-summary", "全省城乡低保对象的认定信息,供社会救助协同使用").await;
    select(&browser, "sharing_attribute", "conditional").await;
    // Conditional without scope: refused, the field is named, nothing is saved.
    fill(&browser, "input[name=item_name_0]", "姓名").await;
    fill(&browser, "input[name=item_code_0]", "xm").await;
    fill(&browser, "input[name=item_length_0]", "50").await;
    select(&browser, "item_pi_0", "name").await;
    click(&browser, "input[name=delivery_methods][value=service_api]").await;
    click(&browser, "#save-entry").await;
    wait_text(&browser, "#form-error", "共享范围").await;
    fill(&browser, "#e-scope", "省级政府部门").await;
    fill(&browser, "#e-purposes", "社会救助资格核查").await;
    click(&browser, "#save-entry").await;
    status_is(&browser, "草稿").await;

    for (kind, title) in [("confidentiality", "保密风险评估报告"), ("personal_info_impact", "个人信息保护影响评估报告")]
    {
        browser
            .find(Locator::Css("#assess-form select[name=kind]"))
            .await
            .unwrap()
            .select_by_value(kind)
            .await
            .unwrap();
        fill(&browser, "#assess-form input[name=document_title]", title).await;
        fill(&browser, "#assess-form input[name=document_ref]", "浙民评〔2026〕3号").await;
        browser
            .execute("document.querySelector('#assess-form input[name=assessed_on]').value = '2026-11-02'", vec![])
            .await
            .unwrap();
        click(&browser, "#assess-form button").await;
        wait_text(&browser, "main", title).await;
    }
    click(&browser, "#submit-entry").await;
    status_is(&browser, "待负责人审核").await;
    let entry_url = browser.current_url().await.unwrap();
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "mzt.head").await;
    browser.goto(entry_url.as_str()).await.unwrap();
    click(&browser, "#approve-entry").await;
    status_is(&browser, "已报送主管部门").await;
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "reviewer").await;
    browser.goto(&format!("{}/console/catalog/review", app.base)).await.unwrap();
    click(&browser, "#catalog-entries tbody a").await;
    click(&browser, "#publish-entry").await;
    status_is(&browser, "已发布").await;
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "ylbz.clerk").await;
    browser.goto(&format!("{}/console/catalog", app.base)).await.unwrap();
    fill(&browser, "#catalog-search input[name=q]", "低保").await;
    click(&browser, "#catalog-search button").await;
    wait_text(&browser, "#catalog-entries", "最低生活保障对象信息").await;
    wait_text(&browser, "#catalog-entries", "浙江省民政厅").await;
    fill(&browser, "#catalog-search input[name=q]", "不动产").await;
    click(&browser, "#catalog-search button").await;
    wait_text(&browser, "#no-results", "没有找到符合条件的目录").await;
    if let Ok(dir) = std::env::var("GOVSHARE_SCREENSHOTS") {
        browser.goto(entry_url.as_str()).await.unwrap();
        std::fs::write(format!("{dir}/entry.png"), browser.screenshot().await.unwrap()).unwrap();
    }
    browser.close().await.unwrap();
}

/// R-APP: a conditional application goes from the requester's clerk through both work-unit heads to approval with
/// conditions, and the requester sees the delivery deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_application_goes_from_request_to_approval() {
    let app = spawn(Backend::Sqlite).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let (_driver, browser) = start_browser().await;

    sign_in(&browser, &app.base, "rst.clerk").await;
    browser.goto(&format!("{}/console/catalog/{entry}", app.base)).await.unwrap();
    click(&browser, "#apply-entry").await;
    browser.wait().for_element(Locator::Id("application-form")).await.unwrap();
    click(&browser, "#item-choices input[value=xm]").await;
    click(&browser, "#item-choices input[value=sfzh]").await;
    fill(&browser, "textarea[name=scenario]", "就业困难人员认定时核验户籍").await;
    fill(&browser, "input[name=scope]", "省人社厅就业促进处").await;
    fill(&browser, "input[name=basis_document]", "浙人社发〔2026〕8号").await;
    // Without the legal basis the form comes back with the reason and what was typed.
    browser
        .execute("document.querySelector('textarea[name=legal_basis]').removeAttribute('required')", vec![])
        .await
        .unwrap();
    click(&browser, "#submit-application").await;
    wait_text(&browser, "main", "使用依据不能为空").await;
    fill(&browser, "textarea[name=legal_basis]", "《就业促进法》第五十二条").await;
    click(&browser, "#submit-application").await;
    wait_text(&browser, "#application-stage", "待本单位负责人审核").await;
    let url = browser.current_url().await.unwrap();
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "rst.head").await;
    browser.goto(url.as_str()).await.unwrap();
    click(&browser, "#send-application").await;
    wait_text(&browser, "#application-stage", "待提供部门答复").await;
    wait_text(&browser, "#running-deadline", "前答复").await;
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "gat.clerk").await;
    browser.goto(&format!("{}/console/applications?box=inbox", app.base)).await.unwrap();
    click(&browser, "#applications tbody a").await;
    select(&browser, "decision", "approve").await;
    fill(&browser, "textarea[name=conditions]", "仅用于就业困难人员认定,不得向第三方提供").await;
    click(&browser, "#draft-reply").await;
    wait_text(&browser, "#application-stage", "答复意见待提供部门负责人审核").await;
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "gat.head").await;
    browser.goto(url.as_str()).await.unwrap();
    click(&browser, "#approve-reply").await;
    wait_text(&browser, "#application-stage", "已同意，待共享").await;
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "rst.clerk").await;
    browser.goto(url.as_str()).await.unwrap();
    wait_text(&browser, "#reply", "附条件同意共享").await;
    wait_text(&browser, "#reply", "不得向第三方提供").await;
    wait_text(&browser, "#running-deadline", "前共享交付").await;
    wait_text(&browser, "#timeline", "负责人同意答复").await;
    if let Ok(dir) = std::env::var("GOVSHARE_SCREENSHOTS") {
        std::fs::write(format!("{dir}/application.png"), browser.screenshot().await.unwrap()).unwrap();
    }
    browser.close().await.unwrap();
}

/// R-APP-5: the head signs in and finds the reply awaiting approval on the home page (with the count in the
/// navigation), follows it, approves, and it leaves the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_finds_the_pending_reply_on_the_home_page_and_approves_it() {
    let app = spawn(Backend::Sqlite).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let clerk = Client::login(&app, "rst.clerk").await;
    let body = serde_json::json!({
        "entry_id": entry, "items": ["xm", "sfzh"], "legal_basis": "《就业促进法》第五十二条",
        "basis_document": "浙人社发〔2026〕8号", "scenario": "就业困难人员认定时核验户籍", "scope": "省人社厅就业促进处",
        "delivery": "service_api", "valid_from": common::people::today().to_string(),
        "valid_until": (common::people::today() + chrono::Duration::days(364)).to_string(), "submit": true
    });
    let id = clerk.post("/api/v1/applications", body).await.body["id"].as_str().unwrap().to_owned();
    let step = |who: Client, body: serde_json::Value| {
        let id = id.clone();
        async move { assert!(who.post(&format!("/api/v1/applications/{id}/steps"), body).await.status.is_success()) }
    };
    step(Client::login(&app, "rst.head").await, serde_json::json!({"step": "send"})).await;
    let draft =
        serde_json::json!({"step": "draft_reply", "decision": "approve", "conditions": "仅用于就业困难人员认定"});
    step(Client::login(&app, "gat.clerk").await, draft).await;
    let (_driver, browser) = start_browser().await;

    sign_in(&browser, &app.base, "gat.head").await;
    wait_text(&browser, "#todo", "答复共享申请").await;
    wait_text(&browser, "#todo", "浙江省人力资源和社会保障厅").await;
    wait_text(&browser, "#todo", "剩余 10 个工作日").await;
    wait_text(&browser, "#todo-count", "1").await;
    if let Ok(dir) = std::env::var("GOVSHARE_SCREENSHOTS") {
        std::fs::write(format!("{dir}/home-todo.png"), browser.screenshot().await.unwrap()).unwrap();
    }
    click(&browser, "#todo tr.duty a").await;
    wait_text(&browser, "#application-stage", "答复意见待提供部门负责人审核").await;
    click(&browser, "#approve-reply").await;
    wait_text(&browser, "#application-stage", "已同意，待共享").await;
    browser.goto(&format!("{}/console", app.base)).await.unwrap();
    wait_text(&browser, "#todo", "暂无待办事项").await;
    assert!(browser.find(Locator::Id("todo-count")).await.is_err(), "no badge without open duties");
    browser.close().await.unwrap();
}

/// A destructive action asks first: dismissing the question changes nothing, accepting it acts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawing_an_application_asks_for_confirmation() {
    let app = spawn(Backend::Sqlite).await;
    let entry = publish(&app, "gat", household_entry()).await;
    let body = serde_json::json!({
        "entry_id": entry, "items": ["xm"], "legal_basis": "《就业促进法》第五十二条", "basis_document": "浙人社发〔2026〕8号",
        "scenario": "核验", "scope": "就业促进处", "delivery": "service_api", "valid_from": common::people::today().to_string(),
        "valid_until": (common::people::today() + chrono::Duration::days(364)).to_string(), "submit": true
    });
    let id = Client::login(&app, "rst.clerk").await.post("/api/v1/applications", body).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_driver, browser) = start_browser().await;
    sign_in(&browser, &app.base, "rst.head").await;
    browser.goto(&format!("{}/console/applications/{id}", app.base)).await.unwrap();
    wait_text(&browser, "#application-stage", "待本单位负责人审核").await;
    click(&browser, "#withdraw-application").await;
    let question = browser.get_alert_text().await.expect("a confirmation is asked");
    assert!(question.contains("撤回后本申请终结"), "{question}");
    browser.dismiss_alert().await.unwrap();
    browser.refresh().await.unwrap();
    wait_text(&browser, "#application-stage", "待本单位负责人审核").await;
    click(&browser, "#withdraw-application").await;
    browser.accept_alert().await.unwrap();
    wait_text(&browser, "#application-stage", "已撤回").await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_signs_in_and_reaches_the_users_page() {
    let app = spawn(Backend::Sqlite).await;
    let (_driver, browser) = start_browser().await;

    browser.goto(&format!("{}/console/users", app.base)).await.unwrap();
    // Not signed in: the console sends us to the login form, remembering where we were going.
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.path(), "/login", "{url}");

    browser.find(Locator::Id("username")).await.unwrap().send_keys("admin").await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys("wrong-password").await.unwrap();
    browser.find(Locator::Id("login-submit")).await.unwrap().click().await.unwrap();
    let error = browser.wait().for_element(Locator::Id("login-error")).await.unwrap();
    assert_eq!(error.text().await.unwrap(), "用户名或密码错误");

    browser.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    browser.find(Locator::Id("login-submit")).await.unwrap().click().await.unwrap();
    let members = browser.wait().for_element(Locator::Css("table#members")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/console/users");
    let text = members.text().await.unwrap();
    assert!(text.contains("admin") && text.contains("平台管理员"), "{text}");
    let heading = browser.find(Locator::Css(".page-head h1")).await.unwrap().text().await.unwrap();
    assert_eq!(heading, "人员与角色");

    // Create a clerk through the form, as an administrator would.
    browser.find(Locator::Id("nu-username")).await.unwrap().send_keys("qian.clerk").await.unwrap();
    browser.find(Locator::Id("nu-display")).await.unwrap().send_keys("钱经办").await.unwrap();
    browser.find(Locator::Id("nu-password")).await.unwrap().send_keys("Qian#Pass2026").await.unwrap();
    browser.find(Locator::Css("#new-user input[value=clerk]")).await.unwrap().click().await.unwrap();
    browser.find(Locator::Css("#new-user button[type=submit]")).await.unwrap().click().await.unwrap();
    let notice = browser.wait().for_element(Locator::Css(".alert-ok")).await.unwrap();
    assert!(notice.text().await.unwrap().contains("账号已创建"));
    let text = browser.find(Locator::Css("table#members")).await.unwrap().text().await.unwrap();
    assert!(text.contains("qian.clerk") && text.contains("钱经办"), "{text}");

    if let Ok(dir) = std::env::var("GOVSHARE_SCREENSHOTS") {
        let png = browser.screenshot().await.unwrap();
        std::fs::write(format!("{dir}/users.png"), png).unwrap();
    }
    browser.close().await.unwrap();
}

/// What a page shows that a person should not have to read: UUIDs, snake_case codes (outside `code` elements,
/// which show commands and document numbers on purpose), and a page wider than the window.
const PAGE_SCAN: &str = r#"
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll('code, script, style, input, select, textarea, .sr-only').forEach(e => e.remove());
    const text = copy.innerText || copy.textContent;
    const uuids = text.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi) || [];
    const codes = text.match(/\b[a-z][a-z0-9]*_[a-z0-9_]+\b/g) || [];
    const overflow = document.documentElement.scrollWidth > window.innerWidth + 1;
    return { uuids, codes, overflow, width: window.innerWidth, scroll: document.documentElement.scrollWidth };
"#;

/// Every role's main pages, at desktop and phone width: no UUID or snake_case code shown as text, no page wider
/// than a 390 px phone. With `GOVSHARE_SCREENSHOTS=dir` each page is also saved, whole, as `{who}-{page}-{width}.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_roles_pages_show_names_not_codes_and_fit_a_phone() {
    let app = spawn(Backend::Sqlite).await;
    govshare::demo::seed_data(&app.services).await.expect("demo data");
    let (_driver, browser) = start_browser().await;
    let shots = std::env::var("GOVSHARE_SCREENSHOTS").ok();
    let tour: &[(&str, &[&str])] = &[
        (
            "gat.clerk",
            &[
                "/console",
                "/console/catalog",
                "/console/catalog/mine",
                "/console/catalog/new",
                "/console/applications?box=inbox",
                "#applications tbody a",
                "/console/grants",
                "#grants tbody a",
                "/console/usage",
                "/console/catalog/sources",
                "/console/notifications",
                "/console/incidents",
                "/console/corrections",
                "#corrections tbody a",
                "/console/disputes",
                "#disputes tbody a",
                "/console/complaints",
                "#complaints tbody a",
            ],
        ),
        ("gat.head", &["/console", "/console/credentials", "/console/users", "/console/org"]),
        (
            "mzt.clerk",
            &[
                "/console/applications",
                "#applications tbody a",
                "/console/catalog?q=人口",
                "#catalog-entries a",
                "/console/corrections",
                "/console/disputes",
            ],
        ),
        (
            "reviewer",
            &[
                "/console/catalog/review",
                "/console/catalog/obligations",
                "/console/organisations",
                "/console/incidents",
                "/console/complaints",
                "/console/disputes",
            ],
        ),
        (
            "supervisor",
            &[
                "/console/audit",
                "/console/corrections",
                "/console/supervision",
                "/console/supervision/orders",
                "/console/supervision/notices",
            ],
        ),
        ("admin", &["/console/users", "/console/organisations", "/console/audit"]),
        ("rst.vendor", &["/console", "/console/applications", "/console/no-such-page"]),
        ("liu.yang", &["/console"]),
    ];
    let mut problems = Vec::new();
    for (who, pages) in tour {
        sign_in(&browser, &app.base, who).await;
        for (n, page) in pages.iter().enumerate() {
            if page.starts_with('#') {
                // Follow the first link of the list shown by the previous page.
                let href = browser.find(Locator::Css(page)).await.unwrap().attr("href").await.unwrap().unwrap();
                browser.goto(&format!("{}{href}", app.base)).await.unwrap();
            } else {
                browser.goto(&format!("{}{page}", app.base)).await.unwrap();
            }
            let url = browser.current_url().await.unwrap();
            for (width, height) in [(1400u32, 1000u32), (390, 844)] {
                browser.set_window_size(width, height).await.unwrap();
                let seen = browser.execute(PAGE_SCAN, vec![]).await.unwrap();
                if let Some(dir) = &shots {
                    // The whole page, not only the window: the window (with its frame) grows to the page's height.
                    let full = browser.execute("return document.documentElement.scrollHeight", vec![]).await.unwrap();
                    let full = full.as_u64().map_or(height, |h| (h as u32 + 160).clamp(height, 4000));
                    browser.set_window_size(width, full).await.unwrap();
                    let png = browser.screenshot().await.unwrap();
                    std::fs::write(format!("{dir}/{who}-{n:02}-{width}.png"), png).unwrap();
                    browser.set_window_size(width, height).await.unwrap();
                }
                for kind in ["uuids", "codes"] {
                    if let Some(found) = seen[kind].as_array().filter(|a| !a.is_empty()) {
                        let some: Vec<&str> = found.iter().take(3).filter_map(|v| v.as_str()).collect();
                        problems.push(format!(
                            "{who} {} at {width}px shows {} {kind}: {some:?}…",
                            url.path(),
                            found.len()
                        ));
                    }
                }
                if width < 1000 && seen["overflow"] == true {
                    problems.push(format!(
                        "{who} {} is {} px wide in a {} px window",
                        url.path(),
                        seen["scroll"],
                        seen["width"]
                    ));
                }
            }
            browser.set_window_size(1400, 1000).await.unwrap();
        }
        browser.goto(&format!("{}/console", app.base)).await.unwrap();
        sign_out(&browser).await;
    }
    browser.close().await.unwrap();
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// Issue 13: the administrator registers an organisation, follows the directory's link to its people (it has
/// none), creates its head's account there; the new head signs in and acts for the new organisation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_creates_the_first_account_of_a_new_organisation() {
    let app = spawn(Backend::Sqlite).await;
    let (_driver, browser) = start_browser().await;
    let name = "浙江省体育局";

    sign_in(&browser, &app.base, "admin").await;
    browser.goto(&format!("{}/console/organisations", app.base)).await.unwrap();
    select(&browser, "kind", "department").await;
    fill(&browser, "#org-region", "330000").await;
    fill(&browser, "#org-name", name).await;
    fill(&browser, "#org-code", &govshare::demo::government_credit_code("330000", 91)).await;
    fill(&browser, "#org-unit", "信息中心").await;
    click(&browser, "#new-org button[type=submit]").await;
    // Registered: straight to its people, with the head's account suggested.
    wait_text(&browser, "#people-of", name).await;
    wait_text(&browser, ".alert-ok", "工作机构负责人的账号").await;
    wait_text(&browser, "#no-members", "尚无人员").await;

    browser.goto(&format!("{}/console/organisations", app.base)).await.unwrap();
    wait_text(&browser, "#orgs", "尚无人员").await;
    click(&browser, "#orgs a.first-account").await;
    wait_text(&browser, "#people-of", name).await;
    wait_text(&browser, "#head-missing", "尚无工作机构负责人").await;
    let head_role = browser.find(Locator::Css("#new-user input[value=work_unit_head]")).await.unwrap();
    assert_eq!(head_role.prop("checked").await.unwrap().as_deref(), Some("true"), "the head's role is suggested");
    fill(&browser, "#nu-username", "ty.head").await;
    fill(&browser, "#nu-display", "体育负责人").await;
    fill(&browser, "#nu-password", PASSWORD).await;
    click(&browser, "#new-user button[type=submit]").await;
    wait_text(&browser, ".alert-ok", "账号已创建").await;
    wait_text(&browser, "#people-of", name).await;
    wait_text(&browser, "#members", "体育负责人").await;
    wait_text(&browser, "#members", "工作机构负责人").await;
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "ty.head").await;
    wait_text(&browser, "#current-user", "体育负责人").await;
    wait_text(&browser, "header #org-switch", name).await;
    wait_text(&browser, ".crumb", name).await;
    browser.goto(&format!("{}/console/users", app.base)).await.unwrap();
    wait_text(&browser, "#people-of", name).await;
    assert!(browser.find(Locator::Id("org-picker")).await.is_err(), "only the administrator picks organisations");
    browser.close().await.unwrap();
}

/// The HTTP status of the page the browser shows (the response to its last navigation, a form post included).
async fn page_status(browser: &fantoccini::Client) -> u64 {
    let status =
        browser.execute("return performance.getEntriesByType('navigation')[0].responseStatus", vec![]).await.unwrap();
    status.as_u64().unwrap_or_else(|| panic!("no navigation status: {status}"))
}

/// The text of every element matching `css`.
async fn texts(browser: &fantoccini::Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for element in browser.find_all(Locator::Css(css)).await.unwrap() {
        out.push(element.text().await.unwrap());
    }
    out
}

/// The `class` attribute of the element matching `css`.
async fn class_of(browser: &fantoccini::Client, css: &str) -> String {
    browser.find(Locator::Css(css)).await.unwrap().attr("class").await.unwrap().unwrap_or_default()
}

/// The current value of the form control matching `css`.
async fn value_of(browser: &fantoccini::Client, css: &str) -> String {
    browser.find(Locator::Css(css)).await.unwrap().prop("value").await.unwrap().unwrap_or_default()
}

/// The text a person reads on the page, without code elements (commands, raw records) and form controls.
const READABLE_TEXT: &str = r#"
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll('code, script, style, input, select, textarea, .sr-only').forEach(e => e.remove());
    return copy.textContent;
"#;

/// The audit table's rows as (operator's name, operation), in the order shown.
async fn audit_rows(browser: &fantoccini::Client) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for row in browser.find_all(Locator::Css("#audit-records tbody tr")).await.unwrap() {
        let actor = row.find(Locator::Css(".audit-actor")).await.unwrap().text().await.unwrap();
        let action = row.find(Locator::Css(".audit-action")).await.unwrap().text().await.unwrap();
        let name = actor.lines().next().unwrap_or_default().trim().to_owned();
        rows.push((name, action.trim().to_owned()));
    }
    rows
}

/// Issue 13: the supervisor filters the audit log by a person (picked by name) and an operation (in words); only
/// that person's records of that operation remain, by name, the filter is in the URL and survives a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_filters_by_operator_and_operation_and_shows_names() {
    let app = spawn(Backend::Sqlite).await;
    govshare::demo::seed_data(&app.services).await.expect("demo data");
    // Two people act: 王警官 (gat.clerk) and 刘民政 (mzt.clerk) each sign in and draft an entry.
    let gat = Client::login(&app, "gat.clerk").await;
    let mut entry = household_entry();
    entry["resource_code"] = "330000-GAT-0002".into();
    assert_eq!(gat.post("/api/v1/catalog", entry).await.status, reqwest::StatusCode::CREATED);
    let mzt = Client::login(&app, "mzt.clerk").await;
    let created = mzt.post("/api/v1/catalog", common::assistance_entry()).await;
    assert_eq!(created.status, reqwest::StatusCode::CREATED, "{}", created.text);
    let (_driver, browser) = start_browser().await;

    sign_in(&browser, &app.base, "supervisor").await;
    browser.goto(&format!("{}/console/audit", app.base)).await.unwrap();
    let (name, operation) = ("王警官", "登录");
    let before = audit_rows(&browser).await;
    assert!(before.iter().any(|(a, o)| a == name && o == operation), "{before:?}");
    assert!(before.iter().any(|(a, _)| a == "刘民政"), "another person's records are shown unfiltered: {before:?}");
    assert!(before.iter().any(|(a, o)| a == name && o != operation), "the person's other operations: {before:?}");

    // The operator is picked by the name shown, the operation by its words.
    let mut picked = false;
    for option in browser.find_all(Locator::Css("select[name=actor] option")).await.unwrap() {
        let text = option.text().await.unwrap();
        assert!(!text.contains("user:") && !common::contains_uuid(&text), "operator option {text}");
        if !picked && text.starts_with(name) {
            option.click().await.unwrap();
            picked = true;
        }
    }
    assert!(picked, "{name} is offered in the operator filter");
    browser.find(Locator::Css("select[name=action]")).await.unwrap().select_by_label(operation).await.unwrap();
    click(&browser, "#audit-search").await;
    wait_text(&browser, "#audit-filter", "清除筛选").await;

    let url = browser.current_url().await.unwrap();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query.get("actor").map(String::as_str), Some("user:gat.clerk"), "{url}");
    assert_eq!(query.get("action").map(String::as_str), Some("session.login"), "{url}");
    for round in ["filtered", "reloaded"] {
        let after = audit_rows(&browser).await;
        assert!(after.len() >= 2, "{round}: the person's sign-ins are found: {after:?}");
        assert!(after.iter().all(|(a, o)| a == name && o == operation), "{round}: only {name}/{operation}: {after:?}");
        let actor = browser.find(Locator::Css("select[name=actor]")).await.unwrap().prop("value").await.unwrap();
        assert_eq!(actor.as_deref(), Some("user:gat.clerk"), "{round}: the filter stays selected");
        assert_eq!(value_of(&browser, "select[name=action]").await, "session.login", "{round}");
        let text = browser.execute(READABLE_TEXT, vec![]).await.unwrap();
        let text = text.as_str().unwrap();
        assert!(!text.contains("user:") && !common::contains_uuid(text), "{round}: codes shown: {text}");
        let table = browser.find(Locator::Id("audit-records")).await.unwrap().text().await.unwrap();
        assert!(!table.contains("刘民政") && !table.contains("吴监管"), "{round}: other operators shown: {table}");
        let seen = browser.execute(PAGE_SCAN, vec![]).await.unwrap();
        assert_eq!(seen["uuids"], serde_json::json!([]), "{round}");
        assert_eq!(seen["codes"], serde_json::json!([]), "{round}");
        browser.refresh().await.unwrap();
        browser.wait().for_element(Locator::Id("audit-records")).await.unwrap();
    }
    assert_eq!(browser.current_url().await.unwrap(), url, "a reload keeps the filter");
    browser.close().await.unwrap();
}

/// Issue 13: a catalog form with three mistakes (no name, a bad item code, a conditional entry without its scope)
/// comes back once with all three listed and marked, and everything typed kept as typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_form_shows_three_errors_at_once() {
    let app = spawn(Backend::Sqlite).await;
    let (_driver, browser) = start_browser().await;

    sign_in(&browser, &app.base, "gat.clerk").await;
    browser.goto(&format!("{}/console/catalog/new", app.base)).await.unwrap();
    browser.wait().for_element(Locator::Id("entry-form")).await.unwrap();
    // The browser would refuse an empty required field itself; the server must name it as well.
    browser.execute("document.querySelector('#e-name').removeAttribute('required')", vec![]).await.unwrap();
    fill(&browser, "#e-code", "330000-GAT-0009").await;
    fill(&browser, "#e-summary", "全省法人单位的登记信息").await;
    select(&browser, "sharing_attribute", "conditional").await;
    fill(&browser, "#e-purposes", "市场主体登记核验").await;
    click(&browser, "input[name=delivery_methods][value=service_api]").await;
    fill(&browser, "input[name=item_name_0]", "统一社会信用代码").await;
    fill(&browser, "input[name=item_code_0]", "TYSHXYDM").await;
    fill(&browser, "input[name=item_length_0]", "18").await;
    fill(&browser, "input[name=item_name_1]", "单位名称").await;
    fill(&browser, "input[name=item_code_1]", "1dwmc").await;
    fill(&browser, "input[name=item_length_1]", "200").await;
    click(&browser, "#save-entry").await;

    wait_text(&browser, "#form-error", "共有 3 处需要修改").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/console/catalog/new", "nothing was saved");
    let status = page_status(&browser).await;
    assert!((400..500).contains(&status), "the form comes back as a refusal, not {status}");
    let problems = texts(&browser, "#form-error ol.problems li").await;
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("目录名称不能为空")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("数据项代码「1dwmc」格式错误")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("必须列明共享范围")), "{problems:?}");
    for p in &problems {
        assert!(!p.contains("required") && !p.contains("items[") && !p.contains("sharing_scope"), "{p}");
    }
    // Each faulty field is marked, and only those.
    for faulty in ["#e-name", "input[name=item_code_1]", "#e-scope"] {
        assert!(class_of(&browser, faulty).await.split(' ').any(|c| c == "invalid"), "{faulty} is marked");
    }
    for fine in ["#e-code", "#e-summary", "#e-purposes", "input[name=item_code_0]", "input[name=item_name_1]"] {
        assert!(!class_of(&browser, fine).await.split(' ').any(|c| c == "invalid"), "{fine} is not marked");
    }
    // What was typed is kept as typed: the upper-case code is not lowercased, nothing else is lost.
    for (field, typed) in [
        ("#e-code", "330000-GAT-0009"),
        ("#e-summary", "全省法人单位的登记信息"),
        ("#e-purposes", "市场主体登记核验"),
        ("#e-attr", "conditional"),
        ("input[name=item_name_0]", "统一社会信用代码"),
        ("input[name=item_code_0]", "TYSHXYDM"),
        ("input[name=item_length_0]", "18"),
        ("input[name=item_name_1]", "单位名称"),
        ("input[name=item_code_1]", "1dwmc"),
        ("input[name=item_length_1]", "200"),
    ] {
        assert_eq!(value_of(&browser, field).await, typed, "{field}");
    }
    let method = browser.find(Locator::Css("input[name=delivery_methods][value=service_api]")).await.unwrap();
    assert_eq!(method.prop("checked").await.unwrap().as_deref(), Some("true"), "the delivery method stays ticked");
    browser.close().await.unwrap();
}

/// Issue 13: the contractor's engineer is offered only what it may do: no sharing applications in the navigation
/// or on the home page, every link it is offered opens, a forbidden page and an unknown one keep the console's
/// frame and say what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contractor_is_offered_only_what_it_may_do() {
    let app = spawn(Backend::Sqlite).await;
    let (_driver, browser) = start_browser().await;

    sign_in(&browser, &app.base, "rst.vendor").await;
    wait_text(&browser, "header .user-box", "受托方").await;
    let nav = browser.find(Locator::Css("nav.sidebar")).await.unwrap().text().await.unwrap();
    assert!(nav.contains("目录编制与报送") && nav.contains("共享授权与使用记录"), "{nav}");
    assert!(!nav.contains("共享申请与受理") && !nav.contains("人员与角色") && !nav.contains("API 凭证"), "{nav}");
    let home = browser.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(home.contains("经办人（受托方）") && home.contains("第三十六条"), "{home}");
    assert!(!home.contains("提出和办理共享申请"), "the home page promises no applications: {home}");

    let mut links = Vec::new();
    for a in browser.find_all(Locator::Css("nav.sidebar a.nav-item")).await.unwrap() {
        links.push(a.attr("href").await.unwrap().expect("a link has an address"));
    }
    assert!(links.len() >= 6, "{links:?}");
    assert!(!links.iter().any(|l| l.starts_with("/console/applications")), "{links:?}");
    for link in &links {
        browser.goto(&format!("{}{link}", app.base)).await.unwrap();
        assert_eq!(page_status(&browser).await, 200, "{link} opens");
        assert!(browser.find(Locator::Id("error-panel")).await.is_err(), "{link} is no error page");
    }

    for (path, status, title) in [
        ("/console/applications", 403, "无权办理"),
        ("/console/users", 403, "无权办理"),
        ("/console/no-such-page", 404, "页面不存在"),
    ] {
        browser.goto(&format!("{}{path}", app.base)).await.unwrap();
        assert_eq!(page_status(&browser).await, status, "{path}");
        // The frame stays: the person, the navigation; the page says what happened and what to do, in Chinese.
        wait_text(&browser, "#current-user", "外包工程师").await;
        let nav = browser.find(Locator::Css("nav.sidebar")).await.unwrap().text().await.unwrap();
        assert!(nav.contains("政务数据目录"), "{path}: {nav}");
        let heading = browser.find(Locator::Css(".page-head h1")).await.unwrap().text().await.unwrap();
        assert_eq!(heading, title, "{path}");
        // The title is said once, by the page's heading.
        let repeated = browser.find_all(Locator::Css("#error-panel h1, #error-panel h2")).await.unwrap();
        assert!(repeated.is_empty(), "{path}: the panel repeats no heading");
        let message = browser.find(Locator::Id("error-message")).await.unwrap().text().await.unwrap();
        let advice = browser.find(Locator::Id("error-advice")).await.unwrap().text().await.unwrap();
        if status == 403 {
            // The reason is the contractor's own (Art. 36), not another role's rule; the advice is for a contractor.
            assert!(advice.contains("受托方人员") && !advice.contains("授予相应角色"), "{path}: {advice}");
        }
        if path == "/console/applications" {
            assert!(message.contains("第三十六条") && !message.contains("审核同意"), "{path}: {message}");
        }
        for text in [&message, &advice] {
            assert!(text.chars().filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c)).count() >= 8, "{path}: {text}");
            assert!(!text.is_ascii() && !text.contains("forbidden") && !text.contains("not_found"), "{path}: {text}");
        }
        let way_back = browser.find(Locator::Css("#error-panel a[href='/console']")).await.unwrap();
        assert_eq!(way_back.text().await.unwrap(), "返回工作台", "{path}");
        let seen = browser.execute(PAGE_SCAN, vec![]).await.unwrap();
        assert_eq!(seen["codes"], serde_json::json!([]), "{path}");
        assert_eq!(seen["uuids"], serde_json::json!([]), "{path}");
    }
    if let Ok(dir) = std::env::var("GOVSHARE_SCREENSHOTS") {
        browser.goto(&format!("{}/console/applications", app.base)).await.unwrap();
        std::fs::write(format!("{dir}/contractor-forbidden.png"), browser.screenshot().await.unwrap()).unwrap();
    }
    browser.close().await.unwrap();
}

/// Art. 25 ¶1: 人社厅's clerk asks to pass two items of a running grant to a third party (a wrong credit code is
/// marked and what was typed stays), its head sends the request, 公安厅's clerk drafts the approval and its head
/// gives it; the grant page then shows the second terms version and who receives what.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_request_for_a_third_party_is_approved_and_shown_on_the_grant() {
    use common::people::{STANDARD_ITEMS, granted, hosted_entry, standard_grant};
    let app = spawn(Backend::Sqlite).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let page = format!("{}/console/grants/{grant}", app.base);
    let (_driver, browser) = start_browser().await;

    sign_in(&browser, &app.base, "rst.clerk").await;
    browser.goto(&page).await.unwrap();
    wait_text(&browser, "#terms-version", "第 1 版").await;
    click(&browser, "#change-request-section summary").await;
    fill(&browser, "input[name='third_party_name']", "杭州市就业管理服务中心").await;
    fill(&browser, "input[name='third_party_credit_code']", "12330100").await;
    click(&browser, "#change-request-form input[name='third_party_items'][value='xm']").await;
    click(&browser, "#change-request-form input[name='third_party_items'][value='xzqh']").await;
    fill(&browser, "input[name='third_party_purpose']", "就业援助补贴发放").await;
    fill(&browser, "textarea[name='reasons']", "补贴由市就业中心发放，需核对对象姓名和所在地").await;
    fill(&browser, "input[name='legal_basis']", "《就业促进法》第五十二条").await;
    click(&browser, "#change-request-form button").await;
    wait_text(&browser, "#form-error", "统一社会信用代码应为 18 位").await;
    assert_eq!(
        value_of(&browser, "input[name='third_party_name']").await,
        "杭州市就业管理服务中心",
        "typed values stay"
    );
    assert!(class_of(&browser, "input[name='third_party_credit_code']").await.contains("invalid"));
    fill(&browser, "input[name='third_party_credit_code']", "").await;
    click(&browser, "#change-request-form button").await;
    wait_text(&browser, "#open-change h3", "待需求部门负责人审核发送").await;
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "rst.head").await;
    browser.goto(&page).await.unwrap();
    wait_text(&browser, "#open-change", "杭州市就业管理服务中心").await;
    click(&browser, "#change-send-form button").await;
    wait_text(&browser, "#open-change h3", "待提供部门办理").await;
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "gat.clerk").await;
    browser.goto(&page).await.unwrap();
    click(&browser, "#change-decision-form button").await;
    wait_text(&browser, "#change-draft", "同意：向第三方提供").await;
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "gat.head").await;
    browser.goto(&page).await.unwrap();
    click(&browser, "#change-decide-form button").await;
    wait_text(&browser, "#terms-version", "第 2 版").await;
    wait_text(&browser, "#grant-third-parties", "杭州市就业管理服务中心").await;
    wait_text(&browser, "#grant-third-parties", "姓名").await;
    wait_text(&browser, "#grant-third-parties", "就业援助补贴发放").await;
    wait_text(&browser, "#change-cases", "已同意").await;
    wait_text(&browser, "#terms-history", "第 1 版").await;
    if let Ok(dir) = std::env::var("SCREENSHOT_DIR") {
        browser.set_window_size(1400, 3000).await.unwrap();
        std::fs::write(format!("{dir}/change.png"), browser.screenshot().await.unwrap()).unwrap();
    }
    browser.close().await.unwrap();
}

/// Art. 37 ¶2: a citizen, never signed in, files a complaint on the public page (answering the challenge), keeps
/// the tracking code from the receipt, and later finds the answer on the status page by that code alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_files_a_complaint_and_follows_it_by_tracking_code_without_an_account() {
    let app = spawn(Backend::Sqlite).await;
    let gat =
        Client::login(&app, "gat.clerk").await.get("/api/v1/me").await.body["org_id"].as_str().unwrap().to_owned();
    let (_driver, browser) = start_browser().await;
    browser.goto(&format!("{}/public/complaints", app.base)).await.unwrap();
    wait_text(&browser, "h1", "投诉、举报").await;
    select(&browser, "department", &gat).await;
    fill(&browser, "input[name='title']", "我的手机号码被共享给无关单位").await;
    fill(&browser, "textarea[name='description']", "近期多次接到陌生单位来电，对方知道我的户籍地址。").await;
    fill(&browser, "input[name='contact']", "13800002222").await;
    // A wrong answer first: the form comes back with what was typed, and a new question.
    fill(&browser, "#challenge-answer", "999").await;
    click(&browser, "#complaint-submit").await;
    wait_text(&browser, "#form-error", "验证题答案不正确").await;
    assert_eq!(value_of(&browser, "input[name='contact']").await, "13800002222", "typed values stay");
    let question = browser.find(Locator::Id("challenge-question")).await.unwrap().text().await.unwrap();
    fill(&browser, "#challenge-answer", &common::solve_challenge(&question)).await;
    click(&browser, "#complaint-submit").await;
    wait_text(&browser, "#receipt h1", "提交成功").await;
    let code = browser.find(Locator::Id("tracking-code")).await.unwrap().text().await.unwrap();
    assert_eq!(code.len(), 19, "{code}");
    wait_text(&browser, "#receipt", "浙江省公安厅").await;
    if let Ok(dir) = std::env::var("SCREENSHOT_DIR") {
        std::fs::write(format!("{dir}/complaint-receipt.png"), browser.screenshot().await.unwrap()).unwrap();
    }

    // 公安厅 accepts and answers it (its clerk, through the console's API).
    let clerk = Client::login(&app, "gat.clerk").await;
    let id = clerk.get("/api/v1/complaints").await.body[0]["id"].as_str().unwrap().to_owned();
    for step in [
        json_step("accept", ""),
        json_step("note", "内部：调取共享日志"),
        json_step("answer", "经核查已处理，并向您说明。"),
    ] {
        let r = clerk.post(&format!("/api/v1/complaints/{id}/steps"), step).await;
        assert!(r.status.is_success(), "{}", r.text);
    }

    // The citizen comes back with the code (typed in lower case, without dashes).
    browser.goto(&format!("{}/public/complaints/status", app.base)).await.unwrap();
    fill(&browser, "input[name='code']", &code.to_lowercase().replace('-', "")).await;
    click(&browser, "#status-form button").await;
    wait_text(&browser, "#status-state", "已办结").await;
    wait_text(&browser, "#status-steps", "已受理，正在办理").await;
    wait_text(&browser, "#status-answer", "经核查已处理，并向您说明。").await;
    let page = browser.source().await.unwrap();
    assert!(!page.contains("内部") && !page.contains("13800002222") && !page.contains("王警官"), "nothing internal");
    if let Ok(dir) = std::env::var("SCREENSHOT_DIR") {
        std::fs::write(format!("{dir}/complaint-status.png"), browser.screenshot().await.unwrap()).unwrap();
    }
    browser.goto(&format!("{}/public/complaints/status?code=ABCD-EFGH-JKMN-PQRS", app.base)).await.unwrap();
    wait_text(&browser, "#status-error", "没有这个查询码").await;
    browser.close().await.unwrap();
}

fn json_step(step: &str, text: &str) -> serde_json::Value {
    serde_json::json!({"step": step, "text": text})
}

/// Art. 26: 人社厅's clerk finds a phone number wrong under its grant and files a correction request from the grant's
/// page; 公安厅's clerk finds it on the to-do list, corrects the value; the requester sees the corrected value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_goes_from_request_to_the_corrected_value_seen_by_the_requester() {
    use common::people::{STANDARD_ITEMS, granted, hosted_entry, id_number, standard_grant};
    let app = spawn(Backend::Sqlite).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let zhang = id_number("330106", 1);
    let (_driver, browser) = start_browser().await;

    sign_in(&browser, &app.base, "rst.clerk").await;
    browser.goto(&format!("{}/console/grants/{grant}", app.base)).await.unwrap();
    click(&browser, "#grant-correct").await;
    wait_text(&browser, "h2", "提出校核申请").await;
    fill(&browser, "input[name='key']", &zhang).await;
    fill(&browser, "input[name='value.sjhm']", "13912340001").await;
    fill(&browser, "textarea[name='evidence']", "本人到窗口办理时出示的手机号码与共享数据不一致").await;
    // No item ticked: the form comes back saying so, with what was typed.
    click(&browser, "#correction-form button").await;
    wait_text(&browser, "#form-error", "请至少指出一个不准确或不完整的数据项").await;
    assert_eq!(value_of(&browser, "input[name='value.sjhm']").await, "13912340001", "typed values stay");
    click(&browser, "#claim-sjhm").await;
    click(&browser, "#correction-form button").await;
    wait_text(&browser, "#correction-state", "核实中").await;
    let number = browser.find(Locator::Id("correction-number")).await.unwrap().text().await.unwrap();
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "gat.clerk").await;
    browser.goto(&format!("{}/console", app.base)).await.unwrap();
    wait_text(&browser, ".content", "核实更正并反馈校核结果").await;
    browser.goto(&format!("{}/console/corrections", app.base)).await.unwrap();
    click(&browser, "#corrections tbody a").await;
    wait_text(&browser, "#correction-claims", "138").await;
    fill(&browser, "input[name='value.sjhm']", "13912340001").await;
    select(&browser, "outcome", "corrected").await;
    fill(&browser, "textarea[name='reasons']", "经户籍系统核实已更正").await;
    click(&browser, "#correction-answer-form button").await;
    wait_text(&browser, "#correction-state", "已更正").await;
    sign_out(&browser).await;

    sign_in(&browser, &app.base, "rst.clerk").await;
    browser.goto(&format!("{}/console/corrections", app.base)).await.unwrap();
    wait_text(&browser, "#corrections", &number).await;
    click(&browser, "#corrections tbody a").await;
    wait_text(&browser, "#correction-answer", "已更正").await;
    wait_text(&browser, "#correction-claims", "139****0001").await;
    if let Ok(dir) = std::env::var("SCREENSHOT_DIR") {
        browser.set_window_size(1400, 1600).await.unwrap();
        std::fs::write(format!("{dir}/correction.png"), browser.screenshot().await.unwrap()).unwrap();
    }
    browser.close().await.unwrap();
    // And its business system gets the corrected value, no longer marked disputed.
    let system = common::people::api_key(&app, "rst", "就业服务系统").await;
    let r = system.get(&format!("/api/v1/data/{grant}/records/{zhang}")).await;
    assert_eq!(
        (&r.body["rows"][0]["sjhm"], &r.body["disputed"]),
        (&serde_json::json!("139****0001"), &serde_json::json!([]))
    );
}

/// R-SUP-3: the province's supervisor opens the dashboard (charts drawn), drills into the department that answered
/// a correction late, opens the violation's evidence and orders the department to rectify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisor_opens_the_dashboard_drills_into_a_department_and_a_violations_evidence() {
    use common::people::{STANDARD_ITEMS, granted, hosted_entry, id_number, standard_grant, today};
    let app = spawn(Backend::Sqlite).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let rst = Client::login(&app, "rst.clerk").await;
    let body = serde_json::json!({"grant": grant, "key": id_number("330106", 2), "claims": [{"item": "xm"}], "evidence": "姓名有误"});
    let filed = rst.post("/api/v1/corrections", body).await;
    assert_eq!(filed.status.as_u16(), 201, "{}", filed.text);
    app.clock.advance(chrono::Duration::days(20));
    let id = filed.body["id"].as_str().unwrap();
    let answer = serde_json::json!({"outcome": "confirmed", "reasons": "与户籍登记一致"});
    let r = Client::login(&app, "gat.clerk").await.post(&format!("/api/v1/corrections/{id}/answer"), answer).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);

    let (_driver, browser) = start_browser().await;
    sign_in(&browser, &app.base, "supervisor").await;
    let (from, to) = (today(), today() + chrono::Duration::days(25));
    browser.goto(&format!("{}/console/supervision?region=330000&from={from}&to={to}", app.base)).await.unwrap();
    wait_text(&browser, "h2", "监督看板").await;
    // The charts are drawn on the server: an <svg> with the department's name in it, no script needed.
    for chart in ["#chart-timeliness svg", "#chart-overdue svg", "#chart-usage svg"] {
        browser.find(Locator::Css(chart)).await.unwrap_or_else(|_| panic!("{chart} is drawn"));
    }
    wait_text(&browser, "#chart-timeliness", "浙江省公安厅").await;
    wait_text(&browser, "#violations", "第三十九条第（六）项").await;
    if let Ok(dir) = std::env::var("SCREENSHOT_DIR") {
        browser.set_window_size(1400, 2400).await.unwrap();
        std::fs::write(format!("{dir}/supervision.png"), browser.screenshot().await.unwrap()).unwrap();
    }
    // Drill down: the department's own indicators.
    browser.find(Locator::LinkText("浙江省公安厅")).await.unwrap().click().await.unwrap();
    wait_text(&browser, "h2", "浙江省公安厅 · 监督指标").await;
    wait_text(&browser, "#indicators", "校核反馈及时率").await;
    // The violation's evidence, linked to the correction itself.
    browser.find(Locator::Css("#violations tbody a")).await.unwrap().click().await.unwrap();
    wait_text(&browser, "#evidence", "校核反馈期限").await;
    wait_text(&browser, "#evidence", "超过期限").await;
    fill(&browser, "textarea[name='requirement']", "建立校核申请台账，按时反馈").await;
    // A date input's typing format follows the browser's locale; set its value as the picker would.
    let deadline = (today() + chrono::Duration::days(40)).to_string();
    browser
        .execute("document.querySelector(\"input[name='deadline']\").value = arguments[0];", vec![deadline.into()])
        .await
        .unwrap();
    click(&browser, "#order-form button").await;
    wait_text(&browser, "#order-state", "整改中").await;
    if let Ok(dir) = std::env::var("SCREENSHOT_DIR") {
        std::fs::write(format!("{dir}/supervision-order.png"), browser.screenshot().await.unwrap()).unwrap();
    }
    browser.close().await.unwrap();
}
