//! Console pages of the data plane (R-DEL-1..5): grants and their states, usage records, an entry's data
//! source (binding, uploads, load history) and the grant form on an approved application, on both backends.

mod common;

use chrono::Duration;
use common::people::{
    HEADER, STANDARD_ITEMS, api_key, approved, granted, hosted_entry, id_number, people_csv, people_entry,
    standard_grant, today,
};
use common::{Backend, Client, contains_uuid, is_number, publish, spawn};
use reqwest::StatusCode;

on_both_backends!(
    grant_pages_show_terms_states_and_usage,
    the_entry_page_binds_and_loads_the_data_source,
    an_approved_application_offers_the_grant_form
);

/// A multipart/form-data body by hand: (name, filename, bytes).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "govshare-test-boundary-3a5c";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts the console's upload form.
async fn upload_form(
    client: &Client,
    path: &str,
    parts: &[(&str, Option<&str>, &[u8])],
) -> (StatusCode, String, String) {
    let (content_type, body) = multipart(parts);
    let resp = client
        .http
        .post(format!("{}{}", client.base, path))
        .header("cookie", client.cookie.clone().unwrap())
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location, resp.text().await.unwrap())
}

/// The option selected in the `<select name="{name}">` of a page.
fn selected(page: &str, name: &str) -> String {
    let start = page.find(&format!("name=\"{name}\"")).unwrap_or_else(|| panic!("no select {name}"));
    let select = &page[start..start + page[start..].find("</select>").unwrap()];
    let at = select.find(" selected>").unwrap_or_else(|| panic!("nothing selected in {name}: {select}"));
    let value = &select[..at];
    let open = value.rfind("value=\"").unwrap() + "value=\"".len();
    value[open..].trim_end_matches('"').to_owned()
}

/// The `number` of the object the API returns at `path`.
async fn api_number(client: &Client, path: &str) -> String {
    client.get(path).await.body["number"].as_str().unwrap_or_default().to_owned()
}

fn location(reply: &common::Reply) -> String {
    reply.headers["location"].to_str().unwrap().to_owned()
}

// ---- tests ----

async fn grant_pages_show_terms_states_and_usage(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;

    // The requester's list shows the grant.
    let rst = Client::login(&app, "rst.clerk").await;
    let list = rst.get("/console/grants").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(list.text.contains("共享授权与使用记录"), "the navigation links the pages");
    assert!(list.text.contains("id=\"grants\""), "{}", list.text);
    assert!(
        list.text.contains(&format!("/console/grants/{grant}")) && list.text.contains("常住人口基本信息"),
        "{}",
        list.text
    );
    assert!(list.text.contains("6 项") && list.text.contains("有效"), "{}", list.text);
    // People read the grant's number (授权编号), not its id, which stays in the URLs.
    let number = api_number(&rst, &format!("/api/v1/grants/{grant}")).await;
    assert!(is_number(&number, "GX"), "{number}");
    assert!(list.text.contains(&format!("/console/grants/{grant}\">{number}</a>")), "{}", list.text);

    // The grant's page: terms with the masking of each item, scope, limits and status; never the hash key.
    let gat = Client::login(&app, "gat.clerk").await;
    let page = gat.get(&format!("/console/grants/{grant}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(&format!("id=\"grant-number\">{number}<")), "{}", page.text);
    let application = app.services.store().get_grant(grant.parse().unwrap()).await.unwrap().application;
    let application = app.services.store().get_application(application).await.unwrap();
    assert!(is_number(&application.number, "SQ"), "{}", application.number);
    assert!(
        page.text
            .contains(&format!("/console/applications/{}\" class=\"mono\">{}</a>", application.id, application.number)),
        "the grant's page names its application by number: {}",
        page.text
    );
    for text in ["id=\"grant-items\"", "姓名（xm）", "脱敏", "哈希（按授权加密钥）", "不返回", "原样"]
    {
        assert!(page.text.contains(text), "{text}: {}", page.text);
    }
    assert!(page.text.contains("行政区划代码（xzqh） 以 3301 开头的记录"), "{}", page.text);
    assert!(page.text.contains("每分钟 600 次 · 每日 100,000 行"), "{}", page.text);
    assert!(page.text.contains("id=\"grant-status\">有效<"), "{}", page.text);
    assert!(!page.text.contains("id=\"suspend-form\""), "a clerk cannot suspend a grant");
    let id: govshare_domain::grant::GrantId = grant.parse().unwrap();
    let stored = app.services.store().get_grant(id).await.unwrap();
    assert!(!page.text.contains(&stored.hash_key), "the grant's hash key is never shown");

    // A lookup through the API leaves a usage record, shown on the usage page and on the grant's page.
    let system = api_key(&app, "rst", "就业服务系统").await;
    let r = system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330106", 1))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let usage = rst.get("/console/usage").await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    for text in
        ["id=\"usage\"", "按主键查询", "就业服务系统", "成功", "常住人口基本信息", &format!("/console/grants/{grant}")]
    {
        assert!(usage.text.contains(text), "{text}: {}", usage.text);
    }
    assert!(usage.text.contains(&format!(">{number}</a>")), "usage records name the grant by number: {}", usage.text);
    let page = gat.get(&format!("/console/grants/{grant}")).await;
    assert!(page.text.contains("id=\"usage\"") && page.text.contains("就业服务系统"), "{}", page.text);

    // The provider's head suspends through the console; a reason is required.
    let head = Client::login(&app, "gat.head").await;
    let csrf = head.csrf.clone().unwrap();
    let page = head.get(&format!("/console/grants/{grant}")).await;
    assert!(page.text.contains("id=\"suspend-form\""), "{}", page.text);
    let state = format!("/console/grants/{grant}/state");
    let refused = head.form(&state, &[("csrf_token", &csrf), ("action", "suspend"), ("reason", " ")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    assert!(refused.text.contains("暂停或终止共享授权应当说明理由"), "{}", refused.text);
    let forged = head.form(&state, &[("csrf_token", "wrong"), ("action", "suspend"), ("reason", "核查")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let done =
        head.form(&state, &[("csrf_token", &csrf), ("action", "suspend"), ("reason", "发现超范围使用,暂停核查")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(location(&done), format!("/console/grants/{grant}?notice=grant_suspend"));
    let page = head.get(&location(&done)).await;
    assert!(page.text.contains("id=\"grant-status\">已暂停<"), "{}", page.text);
    assert!(page.text.contains("共享授权已暂停") && page.text.contains("发现超范围使用,暂停核查"), "{}", page.text);
    assert!(page.text.contains("id=\"resume-form\"") && !page.text.contains("id=\"suspend-form\""));
    let r = system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330106", 1))).await;
    assert_ne!(r.status, StatusCode::OK, "a suspended grant is refused at once: {}", r.text);
    let list = rst.get("/console/grants").await;
    assert!(list.text.contains("已暂停"), "{}", list.text);

    // The requester cannot control the grant: the form is not offered and a forged post is refused on the page.
    let rst_page = rst.get(&format!("/console/grants/{grant}")).await;
    assert!(!rst_page.text.contains("id=\"resume-form\""), "{}", rst_page.text);
    let rst_csrf = rst.csrf.clone().unwrap();
    let r = rst.form(&state, &[("csrf_token", &rst_csrf), ("action", "resume"), ("reason", "")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("id=\"form-error\""), "{}", r.text);

    // Resumed, the grant works again.
    let done = head.form(&state, &[("csrf_token", &csrf), ("action", "resume"), ("reason", "")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let page = head.get(&location(&done)).await;
    assert!(page.text.contains("id=\"grant-status\">有效<") && page.text.contains("共享授权已恢复"), "{}", page.text);

    // Another department sees neither the grant nor its usage.
    let other = Client::login(&app, "mzt.clerk").await;
    assert_eq!(other.get(&format!("/console/grants/{grant}")).await.status, StatusCode::FORBIDDEN);
    assert!(!other.get("/console/grants").await.text.contains(&grant));
}

async fn the_entry_page_binds_and_loads_the_data_source(backend: Backend) {
    let app = spawn(backend).await;
    let entry = publish(&app, "gat", people_entry()).await;
    let clerk = Client::login(&app, "gat.clerk").await;
    let csrf = clerk.csrf.clone().unwrap();
    let detail = format!("/console/catalog/{entry}");

    let page = clerk.get(&detail).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("id=\"source-section\"") && page.text.contains("尚未绑定数据源"), "{}", page.text);
    assert!(page.text.contains("id=\"bind-source-form\"") && !page.text.contains("id=\"load-form\""), "{}", page.text);
    let other = Client::login(&app, "rst.clerk").await;
    assert!(!other.get(&detail).await.text.contains("id=\"source-section\""), "only the provider sees its source");

    // Binding: a refusal is shown on the entry's page with every problem at once, each field marked, and the
    // form keeps what was typed.
    let source = format!("/console/catalog/{entry}/source");
    let bad = clerk
        .form(&source, &[("csrf_token", &csrf), ("kind", "proxy"), ("key_item", "dz"), ("scope_item", ""), ("url", "")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert!(bad.text.contains("id=\"source-section\""), "{}", bad.text);
    for text in [
        "共有 2 处需要修改",
        "「dz」不是该目录的数据项",
        "服务地址应以 http:// 或 https:// 开头",
        "<select name=\"key_item\" class=\"invalid\" aria-invalid=\"true\">",
        "<input name=\"url\" value=\"\" placeholder=\"https://api.example.gov.cn/people/{key}\" class=\"invalid\"",
    ] {
        assert!(bad.text.contains(text), "{text}: {}", bad.text);
    }
    assert_eq!(selected(&bad.text, "kind"), "proxy", "the refused binding stays in the form");
    let api = clerk
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/catalog/{entry}/source"),
            serde_json::json!({"kind": "proxy", "key_item": "dz", "url": "ftp://x"}),
        )
        .await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", api.text);
    assert_eq!(api.problems(), [("key_item", "not_in_entry"), ("url", "scheme")], "{}", api.text);
    assert_eq!(clerk.get(&format!("/api/v1/catalog/{entry}/source")).await.body["source"], serde_json::Value::Null);
    let bound = clerk
        .form(
            &source,
            &[("csrf_token", &csrf), ("kind", "hosted"), ("key_item", "sfzh"), ("scope_item", "xzqh"), ("url", "")],
        )
        .await;
    assert_eq!(bound.status, StatusCode::SEE_OTHER, "{}", bound.text);
    assert_eq!(location(&bound), format!("{detail}?notice=source_bound"));
    let page = clerk.get(&location(&bound)).await;
    for text in [
        "数据源已绑定",
        "平台托管",
        "公民身份号码（sfzh）",
        "行政区划代码（xzqh）",
        "SM4 加密存储</dt><dd>是",
        "id=\"load-form\"",
    ] {
        assert!(page.text.contains(text), "{text}: {}", page.text);
    }
    assert_eq!(selected(&page.text, "key_item"), "sfzh");
    assert_eq!(selected(&page.text, "scope_item"), "xzqh");
    let api = clerk.get(&format!("/api/v1/catalog/{entry}/source")).await;
    assert_eq!(api.body["source"]["kind"]["key_item"], "sfzh", "{}", api.text);

    // Loading through the upload form: the CSRF token is checked in the multipart body.
    let load = format!("/console/catalog/{entry}/source/load");
    let csv = people_csv().into_bytes();
    let (status, _, _) =
        upload_form(&clerk, &load, &[("csrf_token", None, b"wrong"), ("file", Some("people.csv"), &csv)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, to, text) = upload_form(
        &clerk,
        &load,
        &[("csrf_token", None, csrf.as_bytes()), ("mode", None, b"replace"), ("file", Some("people.csv"), &csv)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
    assert_eq!(to, format!("{detail}?notice=source_loaded"));
    let page = clerk.get(&to).await;
    assert!(page.text.contains("id=\"loads\"") && page.text.contains("people.csv"), "{}", page.text);
    assert!(
        page.text.contains("全量替换</td><td class=\"num\">4</td><td class=\"num\">0</td><td class=\"num\">4</td>"),
        "read 4, rejected 0, inserted 4: {}",
        page.text
    );

    // A file with bad rows: the row-level report, nothing loaded.
    let mut bad_id = id_number("330106", 8);
    let last = bad_id.pop().unwrap();
    bad_id.push(if last == '0' { '1' } else { '0' });
    let bad_csv = format!(
        "{HEADER}孙八,{bad_id},13812340008,浙江省杭州市,330106,,\n周九,{},not-a-phone,浙江省杭州市,330106,,\n",
        id_number("330106", 9)
    );
    let (status, _, text) = upload_form(
        &clerk,
        &load,
        &[
            ("csrf_token", None, csrf.as_bytes()),
            ("mode", None, b"upsert"),
            ("file", Some("bad.csv"), bad_csv.as_bytes()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("id=\"load-errors\"") && text.contains("未加载任何数据"), "{text}");
    assert!(text.contains("校验位错误") && text.contains("sjhm"), "{text}");
    assert!(!text.contains("check_character"), "the rule's code is for the API, not for people: {text}");
    let api = clerk.get(&format!("/api/v1/catalog/{entry}/source")).await;
    assert_eq!(api.body["loads"].as_array().unwrap().len(), 1, "nothing was loaded: {}", api.text);

    // Asked to, the valid rows load and the report still lists the bad ones.
    let (status, _, text) = upload_form(
        &clerk,
        &load,
        &[
            ("csrf_token", None, csrf.as_bytes()),
            ("mode", None, b"upsert"),
            ("accept_valid", None, b"on"),
            ("file", Some("bad.csv"), bad_csv.as_bytes()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("已加载无误的行：新增 0") && text.contains("id=\"load-errors\""), "{text}");
    let page = clerk.get(&detail).await;
    assert!(page.text.contains("bad.csv") && page.text.contains("增量更新"), "{}", page.text);

    // No file: the reason, on the entry's page.
    let (status, _, text) =
        upload_form(&clerk, &load, &[("csrf_token", None, csrf.as_bytes()), ("mode", None, b"upsert")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("请选择要加载的数据文件") && text.contains("id=\"source-section\""), "{text}");
    // Another department cannot bind or load.
    let other_csrf = other.csrf.clone().unwrap();
    let r = other
        .form(
            &source,
            &[("csrf_token", &other_csrf), ("kind", "hosted"), ("key_item", "xm"), ("scope_item", ""), ("url", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let (status, _, _) =
        upload_form(&other, &load, &[("csrf_token", None, other_csrf.as_bytes()), ("file", Some("people.csv"), &csv)])
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The entry's other actions still reach their handler.
    let r = clerk.form(&format!("/console/catalog/{entry}/submit"), &[("csrf_token", &csrf)]).await;
    assert_ne!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

async fn an_approved_application_offers_the_grant_form(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let application = approved(&app, &entry, "rst", "service_api", &["xm", "sfzh", "sjhm", "xzqh"]).await;
    let path = format!("/console/applications/{application}");

    let gat = Client::login(&app, "gat.clerk").await;
    let csrf = gat.csrf.clone().unwrap();
    let page = gat.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("id=\"grant-form\""), "{}", page.text);
    assert_eq!(selected(&page.text, "mask_xm"), "mask", "personal information is masked by default");
    assert_eq!(selected(&page.text, "mask_sfzh"), "mask");
    assert_eq!(selected(&page.text, "mask_xzqh"), "keep", "other items are kept");
    assert!(!page.text.contains("name=\"mask_hjdz\""), "only requested items are offered");
    assert!(page.text.contains(&format!("name=\"valid_from\" value=\"{}\"", today())), "{}", page.text);
    assert!(page.text.contains("name=\"rate_per_minute\" min=\"1\" value=\"600\""), "{}", page.text);
    assert!(page.text.contains("name=\"daily_rows\" min=\"1\" value=\"100000\""), "{}", page.text);
    let requester = Client::login(&app, "rst.clerk").await;
    assert!(!requester.get(&path).await.text.contains("id=\"grant-form\""), "only the provider grants");

    let valid_until = (today() + Duration::days(90)).to_string();
    let valid_from = today().to_string();
    let fields = |daily: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("mask_xm", "mask".to_owned()),
            ("mask_sfzh", "hash".to_owned()),
            ("mask_sjhm", String::new()),
            ("mask_xzqh", "keep".to_owned()),
            ("scope_item", "xzqh".to_owned()),
            ("scope_prefixes", "3301".to_owned()),
            ("valid_from", valid_from.clone()),
            ("valid_until", valid_until.clone()),
            ("rate_per_minute", "600".to_owned()),
            ("daily_rows", daily.to_owned()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let gat = gat.clone();
        let target = format!("{path}/grant");
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            gat.form(&target, &pairs).await
        }
    };
    let mut worse = fields("很多");
    for (name, value) in &mut worse {
        match *name {
            "rate_per_minute" => *value = "0".into(),
            "scope_prefixes" => *value = String::new(),
            _ => {}
        }
    }
    let bad = post(worse).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    for text in [
        "共有 3 处需要修改",
        "限定行范围时请填写取值前缀",
        "每分钟调用上限应在 1 至 1000000 之间",
        "每日数据量上限应在",
        "name=\"scope_prefixes\" value=\"\" class=\"invalid\"",
        "name=\"rate_per_minute\" min=\"1\" value=\"0\" class=\"invalid\"",
    ] {
        assert!(bad.text.contains(text), "every problem at once, each field marked — {text}: {}", bad.text);
    }
    assert!(!bad.text.contains("name=\"valid_until\" value=\"\" class=\"invalid\""), "only the faulty fields");
    assert_eq!(selected(&bad.text, "mask_sfzh"), "hash", "what was typed is kept");
    assert_eq!(selected(&bad.text, "mask_sjhm"), "", "an item left out stays left out");

    let made = post(fields("5000")).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
    let to = location(&made);
    assert!(to.starts_with("/console/grants/") && to.ends_with("?notice=grant_created"), "{to}");
    let grant = to.trim_start_matches("/console/grants/").split('?').next().unwrap().to_owned();
    let page = gat.get(&to).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("共享授权已创建"), "{}", page.text);
    assert!(page.text.contains("授权数据项（3）") && page.text.contains("哈希（按授权加密钥）"), "{}", page.text);
    assert!(!page.text.contains("手机号码（sjhm）"), "the item left out is not granted");
    assert!(page.text.contains(&format!("{valid_from} 至 {valid_until}")) && page.text.contains("每日 5,000 行"));

    // The application is delivered, links its grant and no longer offers the form.
    let page = gat.get(&path).await;
    assert!(page.text.contains(&format!("/console/grants/{grant}")), "{}", page.text);
    let number = api_number(&gat, &format!("/api/v1/grants/{grant}")).await;
    assert!(is_number(&number, "GX"), "{number}");
    let timeline = &page.text[page.text.find("id=\"application-grants\"").expect("the grants are linked")..];
    assert!(timeline.contains(&format!("\">{number} · ")), "the link is the grant's number: {}", page.text);
    let application_number = api_number(&gat, &format!("/api/v1/applications/{application}")).await;
    assert!(is_number(&application_number, "SQ"), "{application_number}");
    assert!(page.text.contains(&format!("id=\"application-number\">{application_number}<")), "{}", page.text);
    let body = &page.text[page.text.find("<main").unwrap_or(0)..];
    let visible: String = body.split('<').map(|part| part.split_once('>').map_or(part, |(_, text)| text)).collect();
    assert!(!contains_uuid(&visible), "no UUID in the application's text: {visible}");
    assert!(!page.text.contains("id=\"grant-form\""), "{}", page.text);
    let api = requester.get(&format!("/api/v1/applications/{application}")).await;
    assert_eq!(api.body["stage"], "delivered", "{}", api.text);
}
