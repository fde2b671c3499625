//! The console's people pages across organisations (issue 13): the administrator picks any organisation and
//! manages its people, a new organisation gets its first account there; a head or clerk sees and manages their
//! own organisation's people only, whatever the query string or the forms' hidden `org` field say.

mod common;

use common::{Backend, Client, PASSWORD, Reply, spawn};
use reqwest::StatusCode;
use serde_json::Value;

on_both_backends!(
    a_head_cannot_see_or_manage_another_organisations_people,
    the_admin_gives_a_new_organisation_its_first_account
);

const STRONG: &str = "Xin#Fuze2026ok";

fn location(reply: &Reply) -> String {
    reply.headers.get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The members of `org`, as the administrator's API sees them.
async fn members(admin: &Client, org: &str) -> Vec<Value> {
    let reply = admin.get(&format!("/api/v1/organisations/{org}/members")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body.as_array().unwrap().clone()
}

fn usernames(members: &[Value]) -> Vec<String> {
    members.iter().map(|m| m["user"]["username"].as_str().unwrap().to_owned()).collect()
}

async fn a_head_cannot_see_or_manage_another_organisations_people(backend: Backend) {
    let app = spawn(backend).await;
    let admin = Client::login(&app, "admin").await;
    let head = Client::login(&app, "gat.head").await;
    let csrf = head.csrf.clone().unwrap();
    let gat = head.org_id("浙江省公安厅").await;
    let mzt = head.org_id("浙江省民政厅").await;
    let mzt_before = members(&admin, &mzt).await;
    let mzt_clerk = mzt_before.iter().find(|m| m["user"]["username"] == "mzt.clerk").unwrap()["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Their own people, by name, without the administrator's picker.
    let own = head.get("/console/users").await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    assert!(
        own.text.contains("王警官") && own.text.contains("gat.clerk") && own.text.contains("经办人"),
        "{}",
        own.text
    );
    assert!(!own.text.contains("id=\"org-picker\""), "only the administrator picks organisations");
    assert!(own.text.contains(&format!("name=\"org\" value=\"{gat}\"")), "the forms name the organisation");
    assert_eq!(head.get(&format!("/console/users?org={gat}")).await.status, StatusCode::OK);

    // Another organisation's people: refused, and nothing of theirs on the page.
    for who in [&head, &Client::login(&app, "gat.clerk").await] {
        let other = who.get(&format!("/console/users?org={mzt}")).await;
        assert_eq!(other.status, StatusCode::FORBIDDEN, "{}", other.text);
        for name in ["刘民政", "黄主任", "mzt.clerk", "mzt.head", "浙江省民政厅 · 人员"] {
            assert!(!other.text.contains(name), "{name} shown to a foreign caller: {}", other.text);
        }
    }
    assert_eq!(head.get("/console/users?org=not-an-id").await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The forms' hidden field naming another organisation: every one refused by the service, nothing changes.
    let create = head
        .form(
            "/console/users",
            &[
                ("csrf_token", &csrf),
                ("org", &mzt),
                ("username", "intruder.clerk"),
                ("display_name", "冒名经办"),
                ("password", STRONG),
                ("roles", "clerk"),
            ],
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN, "{}", create.text);
    assert!(!create.text.contains("刘民政"), "{}", create.text);
    let grant = head
        .form(
            "/console/users/grant",
            &[("csrf_token", &csrf), ("org", &mzt), ("username", "gat.clerk"), ("role", "clerk")],
        )
        .await;
    assert_eq!(grant.status, StatusCode::FORBIDDEN, "{}", grant.text);
    for (action, extra) in
        [("revoke", Some(("role", "clerk"))), ("disable", None), ("password", Some(("new_password", STRONG)))]
    {
        let mut fields = vec![("csrf_token", csrf.as_str()), ("org", mzt.as_str())];
        fields.extend(extra);
        let r = head.form(&format!("/console/users/{mzt_clerk}/{action}"), &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{action}: {}", r.text);
    }
    assert_eq!(members(&admin, &mzt).await, mzt_before, "民政厅's people are as they were");
    let intruder = Client::anonymous(&app)
        .post("/api/v1/auth/login", serde_json::json!({"username": "intruder.clerk", "password": STRONG}))
        .await;
    assert_eq!(intruder.status, StatusCode::UNAUTHORIZED, "no account was created");
    Client::login(&app, "mzt.clerk").await;

    // The same forms for their own organisation still work (the field may also be left out).
    let mine = head
        .form(
            "/console/users",
            &[
                ("csrf_token", &csrf),
                ("org", &gat),
                ("username", "gat.newclerk"),
                ("display_name", "新经办"),
                ("password", STRONG),
                ("roles", "clerk"),
            ],
        )
        .await;
    assert_eq!(mine.status, StatusCode::SEE_OTHER, "{}", mine.text);
    assert_eq!(location(&mine), "/console/users?notice=user_created");
    assert!(usernames(&members(&admin, &gat).await).contains(&"gat.newclerk".to_owned()));
}

async fn the_admin_gives_a_new_organisation_its_first_account(backend: Backend) {
    let app = spawn(backend).await;
    let admin = Client::login(&app, "admin").await;
    let csrf = admin.csrf.clone().unwrap();
    let name = "浙江省体育局";
    let credit_code = govshare::demo::government_credit_code("330000", 91);
    let created = admin
        .form(
            "/console/organisations",
            &[
                ("csrf_token", &csrf),
                ("kind", "department"),
                ("region_code", "330000"),
                ("name", name),
                ("credit_code", &credit_code),
                ("work_unit_name", "信息中心"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    let people_page = location(&created);
    let org = admin.org_id(name).await;
    assert_eq!(people_page, format!("/console/users?org={org}&notice=org_created"));

    // Its people page: empty, suggesting the head's account, with the picker on it.
    let page = admin.get(&people_page).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(&format!("{name} · 人员（0）")), "{}", page.text);
    assert!(page.text.contains("尚无人员") && page.text.contains("工作机构负责人的账号"), "{}", page.text);
    assert!(page.text.contains("id=\"org-picker\""), "{}", page.text);
    assert!(page.text.contains(&format!("<option value=\"{org}\" selected>{name}</option>")), "{}", page.text);
    assert!(page.text.contains(&format!("name=\"org\" value=\"{org}\"")), "{}", page.text);
    assert!(page.text.contains("value=\"work_unit_head\" checked"), "the head's role is suggested: {}", page.text);
    let directory = admin.get("/console/organisations").await;
    assert!(
        directory.text.contains(&format!("href=\"/console/users?org={org}\" class=\"first-account\">创建第一个账号"))
    );

    // The first account: its head.
    let head = admin
        .form(
            "/console/users",
            &[
                ("csrf_token", &csrf),
                ("org", &org),
                ("username", "ty.head"),
                ("display_name", "体育负责人"),
                ("password", STRONG),
                ("roles", "work_unit_head"),
            ],
        )
        .await;
    assert_eq!(head.status, StatusCode::SEE_OTHER, "{}", head.text);
    assert_eq!(location(&head), format!("/console/users?org={org}&notice=user_created"));
    let page = admin.get(&location(&head)).await;
    assert!(page.text.contains("账号已创建") && page.text.contains("体育负责人") && page.text.contains("ty.head"));
    assert!(!page.text.contains("id=\"head-missing\""), "{}", page.text);
    let directory = admin.get("/console/organisations").await;
    assert!(directory.text.contains(&format!("href=\"/console/users?org={org}\">1 人")), "{}", directory.text);

    // The new head signs in, acts for the new organisation and creates its clerk.
    let new_head = Client::login_with(&app, "ty.head", STRONG).await;
    let me = new_head.get("/api/v1/me").await;
    assert_eq!(me.body["org_name"], name, "{}", me.text);
    assert_eq!(me.body["roles"], serde_json::json!(["work_unit_head"]));
    let head_csrf = new_head.csrf.clone().unwrap();
    let clerk = new_head
        .form(
            "/console/users",
            &[
                ("csrf_token", &head_csrf),
                ("username", "ty.clerk"),
                ("display_name", "体育经办"),
                ("password", STRONG),
                ("roles", "clerk"),
            ],
        )
        .await;
    assert_eq!(clerk.status, StatusCode::SEE_OTHER, "{}", clerk.text);
    assert_eq!(location(&clerk), "/console/users?notice=user_created");
    let gat = admin.org_id("浙江省公安厅").await;
    assert_eq!(new_head.get(&format!("/console/users?org={gat}")).await.status, StatusCode::FORBIDDEN);

    // The administrator manages the new organisation's people from its page: reset, disable, enable, roles.
    let head_id =
        members(&admin, &org).await.iter().find(|m| m["user"]["username"] == "ty.head").unwrap()["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let clerk_id =
        members(&admin, &org).await.iter().find(|m| m["user"]["username"] == "ty.clerk").unwrap()["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let back = |notice: &str| format!("/console/users?org={org}&notice={notice}");
    let reset = admin
        .form(
            &format!("/console/users/{head_id}/password"),
            &[("csrf_token", &csrf), ("org", &org), ("new_password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&reset), back("password_reset"), "{}", reset.text);
    assert_eq!(new_head.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "a reset ends the sessions");
    let disable =
        admin.form(&format!("/console/users/{clerk_id}/disable"), &[("csrf_token", &csrf), ("org", &org)]).await;
    assert_eq!(location(&disable), back("user_disabled"), "{}", disable.text);
    let refused = Client::anonymous(&app)
        .post("/api/v1/auth/login", serde_json::json!({"username": "ty.clerk", "password": STRONG}))
        .await;
    assert_eq!(refused.code(), "account_disabled", "{}", refused.text);
    let enable =
        admin.form(&format!("/console/users/{clerk_id}/enable"), &[("csrf_token", &csrf), ("org", &org)]).await;
    assert_eq!(location(&enable), back("user_enabled"), "{}", enable.text);
    Client::login_with(&app, "ty.clerk", STRONG).await;
    let revoke = admin
        .form(
            &format!("/console/users/{head_id}/revoke"),
            &[("csrf_token", &csrf), ("org", &org), ("role", "work_unit_head")],
        )
        .await;
    assert_eq!(location(&revoke), back("role_revoked"), "{}", revoke.text);
    let grant = admin
        .form(
            "/console/users/grant",
            &[("csrf_token", &csrf), ("org", &org), ("username", "ty.head"), ("role", "work_unit_head")],
        )
        .await;
    assert_eq!(location(&grant), back("role_granted"), "{}", grant.text);
    let head = Client::login(&app, "ty.head").await;
    assert_eq!(head.get("/api/v1/me").await.body["roles"], serde_json::json!(["work_unit_head"]));
}
