//! Usage records at national scale (Art. 29): months past the three-year retention leave the database only as
//! signed, hash-linked archives that `audit verify` and `audit verify-archive` check; nothing younger is removed.
//! On both backends, with a clock the test moves forward; on PostgreSQL the months are partitions that are
//! detached and dropped.

mod common;

use std::process::Command;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::{Backend, TestClock, fresh_database, tamper};
use govshare_domain::audit::ChainBreak;
use govshare_domain::catalog::EntryId;
use govshare_domain::grant::{GrantId, UsageRecord};
use govshare_domain::org::OrgId;
use govshare_domain::principal::Principal;
use govshare_service::Services;
use govshare_service::crypto::NodeKeys;

on_both_backends!(months_past_the_retention_leave_only_as_verified_archives, archiving_refuses_a_tampered_month);

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn month(y: i32, m: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, 1).unwrap()
}

fn usage(at: DateTime<Utc>) -> UsageRecord {
    UsageRecord {
        id: uuid::Uuid::now_v7(),
        at,
        requester: OrgId(uuid::Uuid::from_u128(1)),
        provider: OrgId(uuid::Uuid::from_u128(2)),
        actor: "system:核验".into(),
        system: Some("社保核验系统".into()),
        grant: Some(GrantId(uuid::Uuid::from_u128(3))),
        entry: EntryId(uuid::Uuid::from_u128(4)),
        purpose: "社会保险待遇资格核验".into(),
        operation: "lookup".into(),
        items: vec!["xm".into()],
        rows: 1,
        result: "ok".into(),
        latency_us: 100,
    }
}

/// A node's services on `db_url` with a fixed key and a clock at `now`.
async fn node(db_url: &str, secret: &[u8], now: DateTime<Utc>) -> (Services, TestClock) {
    let store = govshare::open_store(db_url).await.unwrap();
    let clock = TestClock::at(now);
    let services = Services::new(store, Default::default())
        .with_node_keys(NodeKeys::from_secret(secret))
        .with_clock(Arc::new(clock.clone()));
    (services, clock)
}

/// Usage of four months: October and November 2023 (November's last batch 23:59 Beijing time on the 30th),
/// December 2023, and November 2026.
fn history() -> Vec<Vec<UsageRecord>> {
    vec![
        (0..3).map(|i| usage(at("2023-10-10T02:00:00Z") + Duration::seconds(i))).collect(),
        (0..2).map(|i| usage(at("2023-11-03T02:00:00Z") + Duration::seconds(i))).collect(),
        // Straddles midnight in Beijing: the store splits it into a November and a December batch.
        vec![usage(at("2023-11-30T15:59:59Z")), usage(at("2023-11-30T16:00:01Z"))],
        (0..4).map(|i| usage(at("2023-12-20T02:00:00Z") + Duration::seconds(i))).collect(),
        (0..5).map(|i| usage(at("2026-11-20T02:00:00Z") + Duration::seconds(i))).collect(),
    ]
}

async fn months_past_the_retention_leave_only_as_verified_archives(backend: Backend) {
    let (db_url, _db) = fresh_database(backend).await;
    let secret = [42u8; 32];
    let (services, clock) = node(&db_url, &secret, at("2026-12-04T02:00:00Z")).await;
    let store = services.store().clone();
    for batch in history() {
        store.append_usage(&batch).await.unwrap();
    }
    assert_eq!(
        store.usage_months().await.unwrap(),
        [month(2023, 10), month(2023, 11), month(2023, 12), month(2026, 11)]
    );
    let operator = Principal::operator("archivist");
    let dir = tempfile::tempdir().unwrap();
    let partitions = backend == Backend::Postgres;

    // Refusals first: archiving is a platform operator's act.
    let supervisor = supervisor();
    assert!(services.archive_usage(&supervisor, dir.path(), "测试节点").await.is_err());
    assert!(store.usage_archives().await.unwrap().is_empty() && std::fs::read_dir(dir.path()).unwrap().count() == 0);

    // 2026-12-04: October and November 2023 ended more than three years ago; December 2023 did not.
    let done = services.archive_usage(&operator, dir.path(), "测试节点").await.unwrap();
    let summary: Vec<_> = done.iter().map(|m| (m.month, m.records, m.removed)).collect();
    assert_eq!(summary, [(month(2023, 10), 3, partitions), (month(2023, 11), 3, partitions)]);
    let kept: Vec<NaiveDate> = store.usage_months().await.unwrap();
    if partitions {
        assert_eq!(kept, [month(2023, 12), month(2026, 11)], "the archived months' partitions are gone");
        assert_eq!(store.usage_count().await.unwrap(), 10, "December 2023 (4 + the straddling 1) and 2026 stay");
    } else {
        assert_eq!(store.usage_count().await.unwrap(), 16, "SQLite keeps every usage record");
    }
    let again = services.archive_usage(&operator, dir.path(), "测试节点").await.unwrap();
    assert!(again.is_empty(), "a second run the same day archives nothing: {again:?}");

    // The whole log verifies: the archived batches by their archive's list, the archive files by themselves.
    let v = services.verify_audit_with(&operator, Some(dir.path())).await.unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!((v.usage_archived, v.archive_files), (if partitions { 6 } else { 0 }, 2));
    assert_eq!(v.usage_records + v.usage_archived, 16);

    // A month later December 2023 goes too, linked to November's archive.
    clock.advance(Duration::days(31));
    let done = services.archive_usage(&operator, dir.path(), "测试节点").await.unwrap();
    assert_eq!(done.iter().map(|m| (m.month, m.records)).collect::<Vec<_>>(), [(month(2023, 12), 5)]);
    let archives = store.usage_archives().await.unwrap();
    assert_eq!(archives[2].previous.as_deref(), Some(archives[1].link.as_str()));
    assert!(archives[0].previous.is_none());
    assert_eq!(archives.iter().all(|a| a.detached_at.is_some()), partitions);
    let v = services.verify_audit_with(&operator, Some(dir.path())).await.unwrap();
    assert!(v.is_intact() && v.archive_files == 3, "{v:?}");
    // Nothing younger than three years has left: November 2026 is whole.
    assert!(store.usage_months().await.unwrap().contains(&month(2026, 11)));

    // Offline, with the node's published key: every file, in order.
    let files: Vec<String> = archives.iter().map(|a| dir.path().join(&a.file).display().to_string()).collect();
    let key = hex_public_key(&secret);
    let (code, out) = verify_offline(&files, Some(&key));
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("ARCHIVE VALID").count(), 3, "{out}");
    // Leaving one out of the middle breaks the links.
    let (code, out) = verify_offline(&[files[0].clone(), files[2].clone()], Some(&key));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("an archive was removed, replaced or reordered"), "{out}");

    // An altered archive: found offline and by `audit verify --archives`.
    let november = dir.path().join(&archives[1].file);
    let original = std::fs::read_to_string(&november).unwrap();
    std::fs::write(&november, original.replacen("社会保险待遇资格核验", "其他用途", 1)).unwrap();
    let (code, out) = verify_offline(&files, Some(&key));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("do not hash to the seal's Merkle root"), "{out}");
    let v = services.verify_audit_with(&operator, Some(dir.path())).await.unwrap();
    assert!(!v.is_intact() && v.archive_problems.len() == 1, "{v:?}");
    std::fs::write(&november, &original).unwrap();

    // Someone with database access edits what the archive lists (PostgreSQL: to cover rows they removed).
    let listed = "UPDATE usage_archived_batches SET records = records + 1 WHERE month = '2023-10-01'";
    tamper(backend, &db_url, &[listed]).await.unwrap();
    let v = services.verify_audit(&operator).await.unwrap();
    if partitions {
        assert!(matches!(v.first_break, Some(ChainBreak::UsageCount { .. })), "{v:?}");
    } else {
        assert!(matches!(v.first_break, Some(ChainBreak::ArchiveMismatch { .. })), "{v:?}");
    }
    tamper(backend, &db_url, &["UPDATE usage_archived_batches SET records = records - 1 WHERE month = '2023-10-01'"])
        .await
        .unwrap();
    assert!(services.verify_audit(&operator).await.unwrap().is_intact());
    if partitions {
        // A partition's own guards are guards: its TRUNCATE trigger dropped, its clone of the row guard disabled.
        let strip = [
            "DROP TRIGGER usage_records_no_truncate ON usage_records_2026_11",
            "ALTER TABLE usage_records_2026_11 DISABLE TRIGGER usage_records_no_change",
        ];
        tamper(backend, &db_url, &strip).await.unwrap();
        let missing = services.missing_guards().await.unwrap();
        assert_eq!(
            missing,
            ["usage_records_no_change ON usage_records_2026_11", "usage_records_no_truncate ON usage_records_2026_11"]
        );
        assert_eq!(services.restore_guards(&operator).await.unwrap().len(), 2);
        assert!(services.missing_guards().await.unwrap().is_empty());
        // Dropping a young month's partition by hand removes sealed records no archive holds: found.
        tamper(backend, &db_url, &["ALTER TABLE usage_records DETACH PARTITION usage_records_2026_11"]).await.unwrap();
        let v = services.verify_audit(&operator).await.unwrap();
        assert!(
            matches!(v.first_break, Some(ChainBreak::UsageCount { expected: 5, found: 0, .. })),
            "{:?}",
            v.first_break
        );
    }
}

async fn archiving_refuses_a_tampered_month(backend: Backend) {
    let (db_url, _db) = fresh_database(backend).await;
    let (services, _) = node(&db_url, &[7u8; 32], at("2026-12-04T02:00:00Z")).await;
    let store = services.store().clone();
    for batch in history() {
        store.append_usage(&batch).await.unwrap();
    }
    let drop_guard = match backend {
        Backend::Sqlite => "DROP TRIGGER usage_records_no_update",
        Backend::Postgres => "ALTER TABLE usage_records_2023_11 DISABLE TRIGGER usage_records_no_change",
    };
    let edit = "UPDATE usage_records SET document = replace(document, '社会保险', '其他') \
                WHERE month = '2023-11-01' AND seal_position = 0";
    tamper(backend, &db_url, &[drop_guard, edit]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = services.archive_usage(&Principal::operator("archivist"), dir.path(), "测试节点").await.unwrap_err();
    assert!(err.to_string().contains("cannot be archived"), "{err}");
    // October was archived before November was refused; November and everything after it stay.
    let archives = store.usage_archives().await.unwrap();
    assert_eq!(archives.iter().map(|a| a.month).collect::<Vec<_>>(), [month(2023, 10)]);
    assert!(store.usage_months().await.unwrap().contains(&month(2023, 11)));
    assert!(!dir.path().join("usage-archive-2023-11.jsonl").exists());
}

/// A supervisor of the authority: may read and verify the audit log, may not archive it.
fn supervisor() -> Principal {
    use govshare_domain::principal::{ActingOrg, Actor};
    Principal {
        actor: Actor::User {
            id: govshare_domain::user::UserId::new(),
            username: govshare_domain::user::Username::parse("jianguan").unwrap(),
            display_name: "监管人".into(),
            contractor: false,
        },
        org: Some(ActingOrg {
            id: OrgId::new(),
            kind: govshare_domain::org::OrgKind::Authority,
            region: govshare_domain::region::RegionCode::parse("330000").unwrap(),
            name: "浙江省大数据发展管理局".into(),
        }),
        roles: [govshare_domain::role::Role::AuthoritySupervisor].into(),
    }
}

fn hex_public_key(secret: &[u8]) -> String {
    NodeKeys::from_secret(secret).public_key_hex()
}

fn verify_offline(files: &[String], key: Option<&str>) -> (i32, String) {
    let mut args = vec!["audit".to_owned(), "verify-archive".to_owned()];
    args.extend(files.iter().cloned());
    if let Some(key) = key {
        args.extend(["--public-key".to_owned(), key.to_owned()]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_govshare"))
        .args(&args)
        .args(["--config", "/nonexistent/govshare.toml"])
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

/// The command line end to end, with the real clock: records of 2023 are past the retention today.
#[tokio::test]
async fn the_archive_command_archives_and_verify_checks_the_files() {
    let backend = Backend::Postgres;
    let (db_url, _db) = fresh_database(backend).await;
    let node_dir = tempfile::tempdir().unwrap();
    {
        let store = govshare::open_store(&db_url).await.unwrap();
        for batch in history().into_iter().take(2) {
            store.append_usage(&batch).await.unwrap();
        }
    }
    let run = |args: &[&str]| -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_govshare"))
            .args(["audit"])
            .args(args)
            .args(["--database-url", &db_url, "--config", "/nonexistent/govshare.toml"])
            .env("GOVSHARE__SECURITY__NODE_KEY_FILE", node_dir.path().join("node.key"))
            .env("GOVSHARE__AUDIT__CHECKPOINT_DIR", node_dir.path().join("checkpoints"))
            .output()
            .expect("the binary runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    };
    let (code, out) = run(&["archive"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2023-10: archived to") && out.contains("removed from the database"), "{out}");
    let archives = node_dir.path().join("archives");
    assert!(archives.join("usage-archive-2023-11.jsonl").exists(), "the default directory is beside the node key");
    let (code, out) = run(&["verify", "--archives", &archives.display().to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("5 sealed usage records have left the database") && out.contains("2 usage archives checked"));
    let (code, out) = run(&["verify-archive", &archives.join("usage-archive-2023-10.jsonl").display().to_string()]);
    assert_eq!(code, 0, "{out}");
}
