//! `govshare audit verify` finds a record altered or removed directly in the database, on both backends.

mod common;

use std::process::Command;

use common::{Backend, fresh_database, tamper};

on_both_backends!(verify_finds_altered_and_removed_records);

fn verify(db_url: &str) -> (i32, String) {
    run(db_url, "verify")
}

/// `govshare audit COMMAND` with a node key and checkpoint directory of the test's own.
fn run(db_url: &str, command: &str) -> (i32, String) {
    let node = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_govshare"))
        .args(["audit", command, "--database-url", db_url, "--config", "/nonexistent/govshare.toml"])
        .env("GOVSHARE__SECURITY__NODE_KEY_FILE", node.path().join("node.key"))
        .env("GOVSHARE__AUDIT__CHECKPOINT_DIR", node.path().join("checkpoints"))
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
}

async fn verify_finds_altered_and_removed_records(backend: Backend) {
    let (db_url, _dir) = fresh_database(backend).await;
    let store = govshare::open_store(&db_url).await.unwrap();
    let services = govshare_service::Services::new(store, Default::default());
    govshare::demo::seed(&services).await.unwrap();

    let (code, out) = verify(&db_url);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("audit chain intact"), "{out}");

    // The log is append-only in the database itself.
    let blocked = tamper(backend, &db_url, &["UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 7"]).await;
    assert!(blocked.is_err(), "an UPDATE of audit_log must be refused");

    // A privileged attacker removes the guard and alters record 7.
    let (drop_update, drop_delete) = match backend {
        Backend::Sqlite => ("DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"),
        Backend::Postgres => {
            ("DROP TRIGGER audit_log_no_update ON audit_log", "DROP TRIGGER audit_log_no_delete ON audit_log")
        }
    };
    tamper(backend, &db_url, &[drop_update, "UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 7"])
        .await
        .unwrap();
    let (code, out) = verify(&db_url);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("record 7 was altered"), "{out}");
    assert!(out.contains("6 records before it verified intact"), "{out}");

    // Put it back: the chain is whole again, which shows the check looks at content, not at a flag; the missing
    // trigger is still reported until it is restored.
    tamper(backend, &db_url, &["UPDATE audit_log SET actor = 'operator:demo' WHERE seq = 7"]).await.unwrap();
    let (code, out) = verify(&db_url);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("audit chain intact") && out.contains("GUARDS MISSING: audit_log_no_update"), "{out}");
    let (code, out) = run(&db_url, "restore-guards");
    assert_eq!(code, 0, "{out}");
    let (code, out) = verify(&db_url);
    assert_eq!(code, 0, "{out}");

    // Remove a record in the middle, then one at the end.
    tamper(backend, &db_url, &[drop_delete, "DELETE FROM audit_log WHERE seq = 12"]).await.unwrap();
    let (code, out) = verify(&db_url);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("record 12 is missing"), "{out}");
}

/// Without the head, removing the newest records would go unnoticed; with it, it does not.
#[tokio::test]
async fn verify_finds_records_removed_from_the_end() {
    let backend = Backend::Sqlite;
    let (db_url, _dir) = fresh_database(backend).await;
    let store = govshare::open_store(&db_url).await.unwrap();
    let services = govshare_service::Services::new(store, Default::default());
    govshare::demo::seed(&services).await.unwrap();
    let head = services.store().audit_head().await.unwrap().unwrap().seq;
    tamper(
        backend,
        &db_url,
        &["DROP TRIGGER audit_log_no_delete", &format!("DELETE FROM audit_log WHERE seq >= {}", head - 1)],
    )
    .await
    .unwrap();
    let (code, out) = verify(&db_url);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("removed from the end"), "{out}");
}
