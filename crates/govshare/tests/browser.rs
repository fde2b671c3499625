//! Headless Chromium signs in to the console and reaches the users page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` and `scripts/test` install them). Paths can be
//! overridden with `CHROMIUM` and `CHROMEDRIVER`. The test fails, never skips, when they are missing.

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
                     "--window-size=1400,1000"]
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
    click(&browser, "#catalog-entries a").await;
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
    click(&browser, "#applications a").await;
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
/// than a 390 px phone. With `GOVSHARE_SCREENSHOTS=dir` each page is also saved as `{who}-{page}-{width}.png`.
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
                "/console/applications?box=inbox",
                "#applications a",
                "/console/grants",
                "#grants a",
                "/console/usage",
                "/console/catalog/sources",
                "/console/notifications",
            ],
        ),
        ("gat.head", &["/console", "/console/credentials", "/console/users", "/console/org"]),
        ("mzt.clerk", &["/console/applications", "#applications a", "/console/catalog?q=人口", "#catalog-entries a"]),
        ("reviewer", &["/console/catalog/review", "/console/catalog/obligations", "/console/organisations"]),
        ("supervisor", &["/console/audit"]),
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
                    let png = browser.screenshot().await.unwrap();
                    std::fs::write(format!("{dir}/{who}-{n:02}-{width}.png"), png).unwrap();
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
