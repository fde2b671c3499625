//! Headless Chromium signs in to the console and reaches the users page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` and `scripts/test` install them). Paths can be
//! overridden with `CHROMIUM` and `CHROMEDRIVER`. The test fails, never skips, when they are missing.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Backend, PASSWORD, spawn};
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
