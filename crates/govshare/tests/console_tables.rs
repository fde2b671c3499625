//! The console's one table pattern on applications, grants, usage records and people (issue 13): the server
//! filters, sorts and pages with the state in the URL, and exports the filtered rows to Excel; a bad filter is
//! named and changes nothing; nobody's table shows rows they may not read.

mod common;

use std::io::Cursor;

use calamine::{Reader, Xlsx};
use chrono::{Duration, TimeZone, Utc};
use common::people::{STANDARD_ITEMS, approved, granted, hosted_entry, standard_grant};
use common::{Backend, Client, Reply, spawn};
use govshare_domain::grant::UsageRecord;
use reqwest::StatusCode;

on_both_backends!(
    applications_and_grants_filter_sort_and_export,
    usage_records_page_in_the_store_and_filter_by_counterpart_and_date,
    people_filter_by_words_role_and_state,
    the_demo_data_has_usage_to_show
);

/// `serve --demo`'s data: 民政厅's system has used its grant, so the usage pages of both sides have rows.
async fn the_demo_data_has_usage_to_show(backend: Backend) {
    let app = spawn(backend).await;
    govshare::demo::seed_data(&app.services).await.expect("the demo data seeds");
    for who in ["mzt.clerk", "gat.head"] {
        let page = Client::login(&app, who).await.get("/console/usage").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let shown = rows(&page, "usage");
        assert_eq!(shown.len(), 9, "{who}: {}", page.text);
        assert!(shown.iter().all(|r| r.contains("社会救助信息系统")), "{who}: {shown:?}");
        assert_eq!(shown.iter().filter(|r| r.contains("未找到") || r.contains("无记录")).count(), 1, "{shown:?}");
    }
}

/// The text of the rows of the table `id` on a page (tags stripped), one string per `<tr>` of its body.
fn rows(page: &Reply, id: &str) -> Vec<String> {
    let Some(start) = page.text.find(&format!("id=\"{id}\"")) else { return Vec::new() };
    let table = &page.text[start..];
    let body = &table[table.find("<tbody>").unwrap()..table.find("</tbody>").unwrap()];
    body.split("<tr").skip(1).map(|r| strip_tags(&format!("<tr{r}"))).collect()
}

/// The visible text of a fragment, whitespace runs joined to one space.
fn strip_tags(html: &str) -> String {
    common::strip_tags(html).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first sheet of an exported workbook, header row first.
async fn sheet(client: &Client, path: &str) -> Vec<Vec<String>> {
    let (status, headers, bytes) = client.download(path).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    assert!(headers["content-type"].to_str().unwrap().contains("spreadsheetml"), "{headers:?}");
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

async fn applications_and_grants_filter_sort_and_export(backend: Backend) {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "mzt", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    approved(&app, &entry, "rst", "service_api", &["xm"]).await;
    let rst_clerk = Client::login(&app, "rst.clerk").await;
    let sent = rst_clerk
        .post(
            "/api/v1/applications",
            serde_json::json!({
                "entry_id": entry, "items": ["xm"], "submit": true,
                "legal_basis": "《社会保险法》第八条", "basis_document": "主席令第35号",
                "scenario": "参保资格核验", "scope": "社保处", "delivery": "service_api",
                "valid_from": common::people::today().to_string(),
                "valid_until": (common::people::today() + Duration::days(30)).to_string()
            }),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
    let rst_number = sent.body["number"].as_str().unwrap().to_owned();
    let id = sent.body["id"].as_str().unwrap();
    let head = Client::login(&app, "rst.head").await;
    let steps = format!("/api/v1/applications/{id}/steps");
    assert_eq!(head.post(&steps, serde_json::json!({"step": "send"})).await.status, StatusCode::OK);

    let gat = Client::login(&app, "gat.clerk").await;
    let inbox = gat.get("/console/applications?box=inbox").await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.text);
    let all = rows(&inbox, "applications");
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(inbox.text.contains("共 3 条，第 1/1 页"), "{}", inbox.text);

    // Words: the department's name. Stage: awaiting a reply. Both kept in the URL of every link.
    let by_words = rows(&gat.get("/console/applications?box=inbox&q=%E6%B0%91%E6%94%BF").await, "applications");
    assert_eq!(by_words.len(), 1, "{by_words:?}");
    assert!(by_words[0].contains("民政厅"), "{by_words:?}");
    let waiting = gat.get("/console/applications?box=inbox&stage=awaiting_reply").await;
    let waiting_rows = rows(&waiting, "applications");
    assert_eq!(waiting_rows.len(), 1, "{waiting_rows:?}");
    assert!(waiting_rows[0].contains(&rst_number), "{waiting_rows:?}");
    assert!(waiting.text.contains("stage=awaiting_reply&#38;sort=number"), "sort links keep the filter");
    assert!(waiting.text.contains("清除筛选"));
    let none = gat.get("/console/applications?box=inbox&q=%E4%B8%8D%E5%AD%98%E5%9C%A8").await;
    assert!(rows(&none, "applications").is_empty() && none.text.contains("没有符合条件的共享申请"), "{}", none.text);

    // Sorted by number both ways: the same rows, turned round.
    let numbers = |page: &Reply| -> Vec<String> {
        rows(page, "applications").iter().map(|r| r.split(' ').next().unwrap().to_owned()).collect()
    };
    let asc = numbers(&gat.get("/console/applications?box=inbox&sort=number&dir=asc").await);
    let mut desc = numbers(&gat.get("/console/applications?box=inbox&sort=number&dir=desc").await);
    assert_eq!(asc.len(), 3);
    assert!(asc.windows(2).all(|w| w[0] < w[1]), "{asc:?}");
    desc.reverse();
    assert_eq!(asc, desc);

    // The export holds the filtered rows, by name.
    let exported = sheet(&gat, "/console/applications?box=inbox&stage=awaiting_reply&format=xlsx").await;
    assert_eq!(exported.len(), 2, "a header and one row: {exported:?}");
    assert_eq!(exported[0][0], "申请编号");
    assert_eq!(exported[1][0], rst_number);
    assert_eq!(exported[1][2], "浙江省人力资源和社会保障厅", "{exported:?}");

    // The requester's own box never shows another requester's application, whatever the filter.
    let mine = rows(&rst_clerk.get("/console/applications?box=mine&q=%E6%B0%91%E6%94%BF").await, "applications");
    assert!(mine.is_empty(), "{mine:?}");

    // Grants: by status, by side, and the export.
    let grants = gat.get("/console/grants").await;
    assert_eq!(rows(&grants, "grants").len(), 1, "{}", grants.text);
    assert_eq!(rows(&gat.get("/console/grants?status=active").await, "grants").len(), 1);
    let terminated = gat.get("/console/grants?status=terminated").await;
    assert!(rows(&terminated, "grants").is_empty() && terminated.text.contains("没有符合条件的共享授权"));
    assert_eq!(rows(&gat.get("/console/grants?side=provider").await, "grants").len(), 1);
    assert!(rows(&gat.get("/console/grants?side=requester").await, "grants").is_empty());
    let book = sheet(&gat, "/console/grants?status=active&format=xlsx").await;
    assert_eq!(book.len(), 2, "{book:?}");
    assert_eq!(book[1][2], "浙江省民政厅");
    let view = Client::login(&app, "mzt.clerk").await.get(&format!("/api/v1/grants/{grant}")).await;
    assert_eq!(book[1][0], view.body["number"].as_str().unwrap(), "{}", view.text);
}

async fn usage_records_page_in_the_store_and_filter_by_counterpart_and_date(backend: Backend) {
    let app = spawn(backend).await;
    let gat = Client::login(&app, "gat.clerk").await;
    let (gat_id, mzt_id, rst_id) = (
        gat.org_id("浙江省公安厅").await,
        gat.org_id("浙江省民政厅").await,
        gat.org_id("浙江省人力资源和社会保障厅").await,
    );
    let entry = hosted_entry(&app).await;
    // 55 calls by 民政厅 on 2026-11-02 (北京时间) and 3 by 人社厅 on 2026-11-20, appended as the usage log does.
    let day = |d: u32, i: i64| {
        Utc.with_ymd_and_hms(2026, 11, d, 2, 0, 0).unwrap() + Duration::seconds(i) // 10:00 北京时间
    };
    let record = |requester: &str, at| UsageRecord {
        id: uuid::Uuid::now_v7(),
        at,
        requester: requester.parse().unwrap(),
        provider: gat_id.parse().unwrap(),
        actor: "user:mzt.clerk".into(),
        system: None,
        grant: None,
        entry: entry.parse().unwrap(),
        purpose: "社会救助资格核查".into(),
        operation: "lookup".into(),
        items: vec!["xm".into()],
        rows: 1,
        result: "ok".into(),
        latency_us: 900,
    };
    let mut records: Vec<UsageRecord> = (0..55).map(|i| record(&mzt_id, day(2, i))).collect();
    records.extend((0..3).map(|i| record(&rst_id, day(20, i))));
    app.services.store().append_usage(&records).await.unwrap();

    let first = gat.get("/console/usage").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(rows(&first, "usage").len(), 50, "one page of the default size");
    assert!(first.text.contains("共 58 条，第 1/2 页"), "{}", first.text);
    assert!(first.text.contains("刘民政"), "the caller by name, not its account");
    let second = gat.get("/console/usage?page=2").await;
    assert_eq!(rows(&second, "usage").len(), 8);

    let from_rst = gat.get(&format!("/console/usage?counterpart={rst_id}")).await;
    assert_eq!(rows(&from_rst, "usage").len(), 3, "{}", from_rst.text);
    assert!(rows(&from_rst, "usage").iter().all(|r| r.contains("人力资源和社会保障厅")));
    let november_2 = gat.get("/console/usage?from=2026-11-02&to=2026-11-02").await;
    assert!(november_2.text.contains("共 55 条"), "{}", november_2.text);
    let later = gat.get("/console/usage?from=2026-11-03").await;
    assert!(later.text.contains("共 3 条"), "{}", later.text);
    let export = sheet(&gat, &format!("/console/usage?counterpart={mzt_id}&format=xlsx")).await;
    assert_eq!(export.len(), 56, "every filtered row, not one page");
    assert_eq!(export[1][3], "浙江省民政厅");

    // Bad filters: named, refused, nothing else shown as if it were the answer.
    let bad_date = gat.get("/console/usage?from=2026-13-01").await;
    assert_eq!(bad_date.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad_date.text);
    assert!(bad_date.text.contains("起始日期应为「年-月-日」格式的日期"), "{}", bad_date.text);
    let bad_org = gat.get("/console/usage?counterpart=nobody").await;
    assert_eq!(bad_org.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad_org.text);
    assert!(bad_org.text.contains("对方单位不在单位名录中"), "{}", bad_org.text);

    // The requester sees its own calls only; another department sees none of them.
    let mzt = Client::login(&app, "mzt.clerk").await;
    assert!(mzt.get("/console/usage").await.text.contains("共 55 条"));
    let other = Client::login(&app, "jyt.clerk").await.get("/console/usage").await;
    assert!(other.text.contains("共 0 条") && rows(&other, "usage").is_empty(), "{}", other.text);
    // The authority reads its region's.
    assert!(Client::login(&app, "supervisor").await.get("/console/usage").await.text.contains("共 58 条"));
}

async fn people_filter_by_words_role_and_state(backend: Backend) {
    let app = spawn(backend).await;
    let head = Client::login(&app, "gat.head").await;
    let all = head.get("/console/users").await;
    let everyone = rows(&all, "members");
    assert!(everyone.len() >= 2, "{everyone:?}");
    let wang = rows(&head.get("/console/users?q=%E7%8E%8B").await, "members");
    assert_eq!(wang.len(), 1, "{wang:?}");
    assert!(wang[0].contains("王警官"));
    let heads = rows(&head.get("/console/users?role=work_unit_head").await, "members");
    assert!(!heads.is_empty() && heads.iter().all(|r| r.contains("工作机构负责人")), "{heads:?}");
    assert!(heads.len() < everyone.len(), "the role filter leaves someone out");
    let disabled = head.get("/console/users?state=disabled").await;
    assert!(disabled.text.contains("没有符合条件的人员"), "{}", disabled.text);
    let book = sheet(&head, "/console/users?q=%E7%8E%8B&format=xlsx").await;
    assert_eq!(book.len(), 2, "{book:?}");
    assert_eq!((book[1][0].as_str(), book[1][1].as_str()), ("王警官", "gat.clerk"));
    // The filter is no way into another organisation.
    let mzt = head.org_id("浙江省民政厅").await;
    assert_eq!(head.get(&format!("/console/users?org={mzt}&q=%E5%88%98")).await.status, StatusCode::FORBIDDEN);
}
