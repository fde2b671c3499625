//! The command line as an operator uses it: `migrate`, `admin …`, `audit verify`, on a fresh SQLite node.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn govshare(db: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_govshare"))
        .args(args)
        .args(["--database-url", db, "--config", "/nonexistent/govshare.toml"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn operator_builds_a_node_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/node.db", dir.path().display());

    let out = govshare(&db, &["migrate"], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = govshare(&db, &["audit", "verify"], None);
    assert!(out.status.success() && text(&out).contains("0 records verified"), "{}", text(&out));

    let out = govshare(&db, &["admin", "create-region", "--code", "33010", "--name", "杭州"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("region_code"), "{}", text(&out));
    let out = govshare(&db, &["admin", "create-region", "--code", "330000", "--name", "浙江省"], None);
    assert!(out.status.success(), "{}", text(&out));

    let org = |code: &str| {
        vec![
            "admin",
            "create-org",
            "--kind",
            "authority",
            "--region",
            "330000",
            "--name",
            "浙江省大数据发展管理局",
            "--credit-code",
            code,
            "--work-unit",
            "数据资源处",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
    };
    let bad = org("113300000024820768");
    let out = govshare(&db, &bad.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("校验位错误") && text(&out).contains("credit_code"), "{}", text(&out));
    let good = org("113300000024820769");
    let out = govshare(&db, &good.iter().map(String::as_str).collect::<Vec<_>>(), None);
    assert!(out.status.success(), "{}", text(&out));

    let out = govshare(
        &db,
        &[
            "admin",
            "create-user",
            "--username",
            "admin",
            "--name",
            "管理员",
            "--org",
            "113300000024820769",
            "--role",
            "platform_admin",
        ],
        Some("Strong#Pass2026\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("initial password"), "a piped password is not echoed");
    let out = govshare(
        &db,
        &[
            "admin",
            "create-user",
            "--username",
            "rev",
            "--name",
            "审核人",
            "--org",
            "113300000024820769",
            "--role",
            "authority_reviewer",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("initial password (shown once)"), "{}", text(&out));

    let out = govshare(&db, &["admin", "list-orgs"], None);
    assert!(text(&out).contains("浙江省大数据发展管理局"), "{}", text(&out));
    let out = govshare(&db, &["admin", "grant-role", "--username", "rev", "--org", "nope", "--role", "clerk"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no organisation"), "{}", text(&out));

    // Every change above is in the chain: region, org, two users, two memberships.
    let out = govshare(&db, &["audit", "verify"], None);
    assert!(out.status.success() && text(&out).contains("6 records verified"), "{}", text(&out));
}

#[test]
fn calendar_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/node.db", dir.path().display());
    let add = |date: &str, n: &str| govshare(&db, &["calendar", "add-working-days", date, n], None);

    let out = add("2025-09-30", "1");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2025-10-09", "National Day 2025: Oct 1–8 off");
    let out = add("2026-09-18", "1");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2026-09-20", "make-up Sunday");

    // 2027 is not shipped: weekends only, and the operator is told.
    let out = add("2026-12-31", "1");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2027-01-01");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no official holiday data for 2027"));

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"years":{"2027":{"holidays":[{"date":"2026-01-01","name":"元旦"}],"makeup_workdays":[]}}}"#,
    )
    .unwrap();
    let out = govshare(&db, &["calendar", "import", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("wrong_year"), "{}", text(&out));

    let notice = dir.path().join("2027.json");
    std::fs::write(
        &notice,
        r#"{"years":{"2027":{"holidays":[{"date":"2027-01-01","name":"元旦"},{"date":"2027-01-02","name":"元旦"},{"date":"2027-01-03","name":"元旦"}],"makeup_workdays":[]}}}"#,
    )
    .unwrap();
    let out = govshare(&db, &["calendar", "import", notice.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("loaded 2027: 3 holidays"), "{}", text(&out));
    let out = add("2026-12-31", "1");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2027-01-04", "the imported holidays now count");
    assert!(String::from_utf8_lossy(&out.stderr).is_empty(), "{}", text(&out));
    let out = govshare(&db, &["calendar", "years"], None);
    assert!(text(&out).contains("2027: 3 holidays"), "{}", text(&out));
}
