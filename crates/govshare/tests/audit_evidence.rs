//! Tamper evidence against an insider with database access, on both backends: usage records sealed into the
//! chain, the chain held to signed checkpoints kept outside the database, the append-only triggers checked, and
//! one record's evidence verified offline.
//!
//! Every tampering step runs SQL directly on the database, as a database administrator would, then asks the
//! `govshare` binary, as an operator would.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::people::{STANDARD_ITEMS, api_key, granted, hosted_entry, id_number, standard_grant};
use common::{Backend, TestApp, fresh_database, spawn, tamper};
use govshare_domain::audit::{AuditEvent, AuditRecord, GENESIS};
use reqwest::StatusCode;
use sqlx::Connection;

on_both_backends!(
    usage_records_altered_removed_inserted_or_reordered_are_found,
    newest_records_cut_and_head_rewound_are_found_by_the_checkpoint,
    a_recomputed_chain_is_found_by_the_checkpoint,
    emptied_tables_are_found_by_the_checkpoint,
    dropped_triggers_are_reported_and_stop_the_server,
    evidence_verifies_offline_and_tampered_evidence_is_refused,
);

/// The node's files (key and checkpoints) in a directory of the test's own; the binary is pointed at them.
struct Node {
    dir: tempfile::TempDir,
    db_url: String,
}

impl Node {
    fn new(db_url: &str) -> Node {
        Node { dir: tempfile::tempdir().unwrap(), db_url: db_url.to_owned() }
    }

    fn key_file(&self) -> PathBuf {
        self.dir.path().join("node.key")
    }

    fn checkpoints(&self) -> PathBuf {
        self.dir.path().join("checkpoints")
    }

    /// Runs `govshare ARGS` against the node's database with its key and checkpoint directory.
    fn run(&self, args: &[&str]) -> (i32, String) {
        self.run_with(args, &self.checkpoints())
    }

    fn run_with(&self, args: &[&str], checkpoints: &Path) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_govshare"))
            .args(args)
            .args(["--database-url", &self.db_url, "--config", "/nonexistent/govshare.toml"])
            .env("GOVSHARE__SECURITY__NODE_KEY_FILE", self.key_file())
            .env("GOVSHARE__AUDIT__CHECKPOINT_DIR", checkpoints)
            .output()
            .expect("the binary runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
    }

    fn verify(&self) -> (i32, String) {
        self.run(&["audit", "verify"])
    }

    fn checkpoint(&self) {
        let (code, out) = self.run(&["audit", "checkpoint"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("checkpoint signed"), "{out}");
    }

    fn restore_guards(&self) {
        let (code, out) = self.run(&["audit", "restore-guards"]);
        assert_eq!(code, 0, "{out}");
    }

    fn public_key(&self) -> String {
        govshare::node_keys(&self.key_file()).unwrap().public_key_hex()
    }
}

/// One text value from the database (ids and digests are read as text on both backends).
async fn query_text(backend: Backend, db_url: &str, sql: &str) -> String {
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db_url).await.unwrap();
            sqlx::query_scalar::<_, String>(sql).fetch_one(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db_url).await.unwrap();
            sqlx::query_scalar::<_, String>(sql).fetch_one(&mut conn).await.unwrap()
        }
    }
}

fn drop_trigger(backend: Backend, name: &str, table: &str) -> String {
    match backend {
        Backend::Sqlite => format!("DROP TRIGGER {name}"),
        Backend::Postgres => format!("DROP TRIGGER {name} ON {table}"),
    }
}

/// Drops every append-only trigger of both tables.
/// PostgreSQL: each month's partition of `usage_records` has its own TRUNCATE guard; an attacker drops them all.
const DROP_PARTITION_TRUNCATE_GUARDS: &str = "DO $$ DECLARE p TEXT; BEGIN
    FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'usage_records'::regclass LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS usage_records_no_truncate ON %I', p);
    END LOOP; END $$";

fn drop_all_guards(backend: Backend) -> Vec<String> {
    let mut names = vec![("audit_log_no_update", "audit_log"), ("audit_log_no_delete", "audit_log")];
    match backend {
        Backend::Sqlite => {
            names.extend([("usage_records_no_update", "usage_records"), ("usage_records_no_delete", "usage_records")])
        }
        Backend::Postgres => names.extend([
            ("audit_log_no_truncate", "audit_log"),
            ("usage_records_no_change", "usage_records"),
            ("usage_records_no_truncate", "usage_records"),
        ]),
    }
    let mut statements: Vec<String> = names.into_iter().map(|(n, t)| drop_trigger(backend, n, t)).collect();
    if let Backend::Postgres = backend {
        // Each month's partition has its own TRUNCATE guard.
        statements.push(DROP_PARTITION_TRUNCATE_GUARDS.to_owned());
    }
    statements
}

fn as_text(backend: Backend, column: &str) -> String {
    match backend {
        Backend::Sqlite => format!("CAST({column} AS TEXT)"),
        Backend::Postgres => format!("{column}::text"),
    }
}

/// The demo province with a granted hosted entry, and usage records made by a business system through the real
/// data API: some one by one (one batch each), some at once (batches the usage log groups).
async fn app_with_usage(backend: Backend) -> TestApp {
    let app = spawn(backend).await;
    let entry = hosted_entry(&app).await;
    let grant = granted(&app, &entry, "rst", "service_api", &STANDARD_ITEMS, standard_grant()).await;
    let system = api_key(&app, "rst", "就业服务系统").await;
    for n in 1..=3 {
        let r = system.get(&format!("/api/v1/data/{grant}/records/{}", id_number("330106", n))).await;
        assert!(r.status == StatusCode::OK || r.status == StatusCode::NOT_FOUND, "{}", r.text);
    }
    let calls: Vec<_> = (0..8)
        .map(|n| {
            let system = system.clone();
            let path = format!("/api/v1/data/{grant}/records/{}", id_number("330106", 1 + n % 2));
            tokio::spawn(async move { system.get(&path).await.status })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), StatusCode::OK);
    }
    app
}

/// A batch of three usage records appended by the usage log's store call, copies of records the API made.
async fn three_record_batch(app: &TestApp) -> String {
    let made = app.services.store().usage_records(&Default::default(), 3).await.unwrap();
    assert_eq!(made.len(), 3);
    let copies: Vec<_> = made
        .into_iter()
        .map(|mut r| {
            r.id = uuid::Uuid::now_v7();
            r
        })
        .collect();
    app.services.store().append_usage(&copies).await.unwrap();
    copies[0].id.to_string()
}

async fn usage_records_altered_removed_inserted_or_reordered_are_found(backend: Backend) {
    let app = app_with_usage(backend).await;
    let first = three_record_batch(&app).await;
    let db = app.db_url.clone();
    let node = Node::new(&db);
    let (code, out) = node.verify();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("audit chain intact") && out.contains("14 usage records match their seals"), "{out}");

    let seal = query_text(
        backend,
        &db,
        &format!("SELECT {} FROM usage_records WHERE id = '{first}'", as_text(backend, "seal_id")),
    )
    .await;
    let seal_seq = query_text(
        backend,
        &db,
        &format!(
            "SELECT {} FROM audit_log WHERE action = 'usage.seal' AND object_id = '{seal}'",
            as_text(backend, "seq")
        ),
    )
    .await;
    let in_batch = |position: i64| format!("seal_id = '{seal}' AND seal_position = {position}");

    // The database refuses changes while the triggers are in place.
    let blocked = tamper(backend, &db, &[&format!("UPDATE usage_records SET rows = 99 WHERE id = '{first}'")]).await;
    assert!(blocked.is_err(), "an UPDATE of usage_records must be refused");
    if let Backend::Postgres = backend {
        assert!(tamper(backend, &db, &["TRUNCATE usage_records"]).await.is_err(), "TRUNCATE must be refused");
    }
    let drops: Vec<String> = match backend {
        Backend::Sqlite => vec![
            drop_trigger(backend, "usage_records_no_update", "usage_records"),
            drop_trigger(backend, "usage_records_no_delete", "usage_records"),
        ],
        Backend::Postgres => vec![
            drop_trigger(backend, "usage_records_no_change", "usage_records"),
            drop_trigger(backend, "usage_records_no_truncate", "usage_records"),
            DROP_PARTITION_TRUNCATE_GUARDS.to_owned(),
        ],
    };
    tamper(backend, &db, &drops.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    let (code, out) = node.verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("audit chain intact") && out.contains("APPEND-ONLY GUARDS MISSING: usage_records_no_"),
        "{out}"
    );

    let expect_break = |out: &str, code: i32, text: &str| {
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(&format!("AUDIT CHAIN BROKEN at record {seal_seq}")), "{out}");
        assert!(out.contains(text), "expected `{text}` in: {out}");
    };

    // Altered: the sealed document.
    let alter = format!(
        "UPDATE usage_records SET document = replace(document, '\"operation\":\"lookup\"', '\"operation\":\"verify\"') WHERE {}",
        in_batch(1)
    );
    let undo = format!(
        "UPDATE usage_records SET document = replace(document, '\"operation\":\"verify\"', '\"operation\":\"lookup\"') WHERE {}",
        in_batch(1)
    );
    tamper(backend, &db, &[&alter]).await.unwrap();
    let (code, out) = node.verify();
    expect_break(&out, code, "do not match its SM3 Merkle root");
    tamper(backend, &db, &[&undo]).await.unwrap();
    assert!(node.verify().1.contains("audit chain intact"), "undone, the batch is whole again");

    // Altered: a filter column only, the document left as sealed.
    let requester = query_text(
        backend,
        &db,
        &format!("SELECT {} FROM usage_records WHERE id = '{first}'", as_text(backend, "requester")),
    )
    .await;
    tamper(backend, &db, &[&format!("UPDATE usage_records SET requester = provider WHERE id = '{first}'")])
        .await
        .unwrap();
    let (code, out) = node.verify();
    expect_break(
        &out,
        code,
        &format!("usage record {first} (sealed by record {seal_seq}) was altered: its columns disagree"),
    );
    tamper(backend, &db, &[&format!("UPDATE usage_records SET requester = '{requester}' WHERE id = '{first}'")])
        .await
        .unwrap();

    // Reordered: two records swap places in their batch (the same statements swap them back).
    let swap = [
        format!("UPDATE usage_records SET seal_position = -1 WHERE {}", in_batch(0)),
        format!("UPDATE usage_records SET seal_position = 0 WHERE {}", in_batch(1)),
        format!("UPDATE usage_records SET seal_position = 1 WHERE {}", in_batch(-1)),
    ];
    let swap: Vec<&str> = swap.iter().map(String::as_str).collect();
    tamper(backend, &db, &swap).await.unwrap();
    let (code, out) = node.verify();
    expect_break(&out, code, "altered or reordered");
    tamper(backend, &db, &swap).await.unwrap();
    assert!(node.verify().1.contains("audit chain intact"));

    // Inserted: a forged copy appended to the batch, then one under a seal that does not exist.
    let forged = uuid::Uuid::now_v7().to_string();
    let insert = |seal_id: &str, position: i64| {
        format!(
            "INSERT INTO usage_records (id, at, requester, provider, grant_id, entry_id, rows, document, seal_id, seal_position, month)
             SELECT '{forged}', at, requester, provider, grant_id, entry_id, rows, replace(document, '{first}', '{forged}'), '{seal_id}', {position}, month
             FROM usage_records WHERE id = '{first}'"
        )
    };
    tamper(backend, &db, &[&insert(&seal, 3)]).await.unwrap();
    let (code, out) = node.verify();
    expect_break(&out, code, "usage records were inserted into the batch sealed by record");
    let other_seal = uuid::Uuid::now_v7().to_string();
    tamper(backend, &db, &[&format!("DELETE FROM usage_records WHERE id = '{forged}'"), &insert(&other_seal, 0)])
        .await
        .unwrap();
    let (code, out) = node.verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("1 usage records are covered by no seal in the chain"), "{out}");
    tamper(backend, &db, &[&format!("DELETE FROM usage_records WHERE id = '{forged}'")]).await.unwrap();
    assert!(node.verify().1.contains("audit chain intact"));

    // Removed: one record of the batch.
    tamper(backend, &db, &[&format!("DELETE FROM usage_records WHERE id = '{first}'")]).await.unwrap();
    let (code, out) = node.verify();
    expect_break(&out, code, "were removed: 2 of the 3 sealed remain");

    // Emptied: every usage record (TRUNCATE on PostgreSQL, which row triggers never see).
    let empty = match backend {
        Backend::Sqlite => "DELETE FROM usage_records",
        Backend::Postgres => "TRUNCATE usage_records",
    };
    tamper(backend, &db, &[empty]).await.unwrap();
    let (code, out) = node.verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("were removed: 0 of the"), "{out}");

    // Restoring the guards is audited and makes the guard warning go; the removal stays found.
    node.restore_guards();
    let (code, out) = node.verify();
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("GUARDS MISSING") && out.contains("were removed"), "{out}");
}

/// A demo node with a signed checkpoint and some records after it.
async fn checkpointed_node(backend: Backend) -> (Node, Option<tempfile::TempDir>, govshare_service::Services, i64) {
    let (db_url, dir) = fresh_database(backend).await;
    let store = govshare::open_store(&db_url).await.unwrap();
    let services = govshare_service::Services::new(store, Default::default());
    govshare::demo::seed(&services).await.unwrap();
    let node = Node::new(&db_url);
    node.checkpoint();
    let checkpointed = services.store().audit_head().await.unwrap().unwrap().seq;
    for n in 0..3 {
        let event = AuditEvent::new("operator:test", None, "test.event", "test", n, serde_json::json!({ "n": n }));
        services.store().append_audit(&event).await.unwrap();
    }
    let (code, out) = node.verify();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 signed checkpoints"), "{out}");
    (node, dir, services, checkpointed)
}

async fn set_head(backend: Backend, db_url: &str, seq: i64, hash: &[u8]) {
    let statement = match backend {
        Backend::Sqlite => format!("UPDATE audit_head SET seq = {seq}, hash = X'{}' WHERE id = 1", hex::encode(hash)),
        Backend::Postgres => {
            format!("UPDATE audit_head SET seq = {seq}, hash = decode('{}', 'hex') WHERE id = 1", hex::encode(hash))
        }
    };
    tamper(backend, db_url, &[&statement]).await.unwrap();
}

async fn newest_records_cut_and_head_rewound_are_found_by_the_checkpoint(backend: Backend) {
    let (node, _dir, services, checkpointed) = checkpointed_node(backend).await;
    let keep = checkpointed - 2;
    let kept = services.store().audit_records(keep - 1, 1).await.unwrap().remove(0);
    let drops = drop_all_guards(backend);
    let mut statements: Vec<&str> = drops.iter().map(String::as_str).collect();
    let cut = format!("DELETE FROM audit_log WHERE seq > {keep}");
    statements.push(&cut);
    tamper(backend, &node.db_url, &statements).await.unwrap();
    set_head(backend, &node.db_url, kept.seq, &kept.hash).await;
    node.restore_guards();
    let (code, out) = node.verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "the log ends at record {} but a signed checkpoint names record {checkpointed}",
            keep + 1
        )),
        "{out}"
    );
    // The checkpoint is what finds it: held to no checkpoint, the shortened chain looks whole.
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, out) = node.run_with(&["audit", "verify"], elsewhere.path());
    assert_eq!(code, 0, "{out}");
}

async fn a_recomputed_chain_is_found_by_the_checkpoint(backend: Backend) {
    let (node, _dir, services, checkpointed) = checkpointed_node(backend).await;
    // Alter record 5 and recompute every later digest, as an insider who knows the (unkeyed) encoding would.
    let records = services.store().audit_records(0, 10_000).await.unwrap();
    let mut prev = GENESIS;
    let mut statements = drop_all_guards(backend);
    for r in &records {
        if r.seq < 5 {
            prev = r.hash;
            continue;
        }
        let actor = if r.seq == 5 { "user:mallory".to_owned() } else { r.actor.clone() };
        let event = AuditEvent {
            actor,
            org_id: r.org_id,
            action: r.action.clone(),
            object_type: r.object_type.clone(),
            object_id: r.object_id.clone(),
            detail: serde_json::from_str(&r.detail).unwrap(),
        };
        let sealed = AuditRecord::seal(r.seq, r.at, &event, prev);
        assert_eq!(sealed.detail, r.detail, "the detail re-encodes to the same text");
        let (h, p) = (hex::encode(sealed.hash), hex::encode(sealed.prev_hash));
        statements.push(match backend {
            Backend::Sqlite => format!(
                "UPDATE audit_log SET actor = '{}', hash = X'{h}', prev_hash = X'{p}' WHERE seq = {}",
                sealed.actor, r.seq
            ),
            Backend::Postgres => format!(
                "UPDATE audit_log SET actor = '{}', hash = decode('{h}', 'hex'), prev_hash = decode('{p}', 'hex') WHERE seq = {}",
                sealed.actor, r.seq
            ),
        });
        prev = sealed.hash;
    }
    tamper(backend, &node.db_url, &statements.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    set_head(backend, &node.db_url, records.last().unwrap().seq, &prev).await;
    node.restore_guards();
    let (code, out) = node.verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("record {checkpointed} is not the record the signed checkpoint names")), "{out}");
    // Held to no checkpoint, the recomputed chain verifies: the checkpoint is what finds it.
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, out) = node.run_with(&["audit", "verify"], elsewhere.path());
    assert_eq!(code, 0, "{out}");
    // And the node refuses to sign the rewritten head.
    let (code, out) = node.run(&["audit", "checkpoint"]);
    assert_ne!(code, 0, "{out}");
}

async fn emptied_tables_are_found_by_the_checkpoint(backend: Backend) {
    let (node, _dir, services, checkpointed) = checkpointed_node(backend).await;
    // Some usage records, sealed, so that both tables hold rows.
    let orgs = services.store().list_orgs().await.unwrap();
    let record = govshare_domain::grant::UsageRecord {
        id: uuid::Uuid::now_v7(),
        at: chrono::Utc::now(),
        requester: orgs[1].id,
        provider: orgs[2].id,
        actor: "system:x".into(),
        system: Some("业务系统".into()),
        grant: None,
        entry: govshare_domain::catalog::EntryId::new(),
        purpose: "核验".into(),
        operation: "lookup".into(),
        items: vec!["xm".into()],
        rows: 0,
        result: "grant_not_found".into(),
        latency_us: 10,
    };
    services.store().append_usage(&[record]).await.unwrap();
    node.checkpoint();
    let newest = services.store().audit_head().await.unwrap().unwrap().seq;
    assert!(newest > checkpointed);
    if let Backend::Postgres = backend {
        let refused = tamper(backend, &node.db_url, &["TRUNCATE audit_log, usage_records"]).await;
        assert!(refused.is_err(), "TRUNCATE must be refused while the triggers are in place");
    }
    let mut statements = drop_all_guards(backend);
    statements.extend(match backend {
        Backend::Sqlite => vec!["DELETE FROM usage_records".to_owned(), "DELETE FROM audit_log".to_owned()],
        Backend::Postgres => vec!["TRUNCATE audit_log, usage_records".to_owned()],
    });
    tamper(backend, &node.db_url, &statements.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    set_head(backend, &node.db_url, 0, &GENESIS).await;
    node.restore_guards();
    let (code, out) = node.verify();
    assert_eq!(code, 1, "{out}");
    // The log holds only the record of the guards' restoration, while the checkpoint names a later one.
    assert!(out.contains(&format!("the log ends at record 1 but a signed checkpoint names record {newest}")), "{out}");
}

async fn dropped_triggers_are_reported_and_stop_the_server(backend: Backend) {
    let (db_url, _dir) = fresh_database(backend).await;
    let store = govshare::open_store(&db_url).await.unwrap();
    let services = govshare_service::Services::new(store, Default::default());
    govshare::demo::seed(&services).await.unwrap();
    let node = Node::new(&db_url);
    assert_eq!(node.verify().0, 0);

    let mut statements = vec![drop_trigger(backend, "audit_log_no_delete", "audit_log")];
    if let Backend::Postgres = backend {
        // A disabled trigger, and a guard function replaced by one that lets everything through, count as missing.
        statements.push("ALTER TABLE usage_records DISABLE TRIGGER usage_records_no_change".into());
        statements.push(
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END; $$"
                .into(),
        );
    }
    tamper(backend, &db_url, &statements.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    let (code, out) = node.verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("APPEND-ONLY GUARDS MISSING") && out.contains("audit_log_no_delete"), "{out}");
    if let Backend::Postgres = backend {
        assert!(out.contains("usage_records_no_change") && out.contains("audit_log_append_only()"), "{out}");
    }

    let (code, out) = node.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("refusing to start") && out.contains("audit_log_no_delete"), "{out}");
    assert!(out.contains("govshare audit restore-guards"), "{out}");

    let (code, out) = node.run(&["audit", "restore-guards"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("restored append-only guards: ") && out.contains("audit_log_no_delete"), "{out}");
    let (code, out) = node.verify();
    assert_eq!(code, 0, "{out}");
    let newest = services.store().recent_audit(None, 1).await.unwrap().remove(0);
    assert_eq!(newest.action, "audit.guards.restore", "the restoration is in the chain");
    // Restored, they guard again.
    let refused = tamper(backend, &db_url, &["DELETE FROM audit_log WHERE seq = 3"]).await;
    assert!(refused.is_err());
    let (code, out) = node.run(&["audit", "restore-guards"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing restored"), "{out}");
}

async fn evidence_verifies_offline_and_tampered_evidence_is_refused(backend: Backend) {
    let app = app_with_usage(backend).await;
    let node = Node::new(&app.db_url);
    let usage = app.services.store().usage_records(&Default::default(), 20).await.unwrap();
    let record = &usage[usage.len() / 2];
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("evidence.json");
    let file_arg = file.to_str().unwrap();

    // No checkpoint covers the record yet: the export signs one.
    let (code, out) = node.run(&["audit", "evidence", "--usage", &record.id.to_string(), "-o", file_arg]);
    assert_eq!(code, 0, "{out}");
    assert!(node.checkpoints().join("checkpoints.jsonl").exists());
    let key = node.public_key();
    let verify_proof = |path: &str, key: Option<&str>| {
        let mut args = vec!["audit", "verify-proof", path];
        if let Some(key) = key {
            args.extend(["--public-key", key]);
        }
        // No database: the URL points nowhere, and the command must not need it.
        let out = Command::new(env!("CARGO_BIN_EXE_govshare"))
            .args(&args)
            .args(["--database-url", "postgres://nobody@127.0.0.1:1/none"])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    let (code, out) = verify_proof(file_arg, Some(&key));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("EVIDENCE VALID") && out.contains(&record.id.to_string()), "{out}");

    let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let refused = |edit: &dyn Fn(&mut serde_json::Value), expected: &str| {
        let mut tampered = original.clone();
        edit(&mut tampered);
        let path = out_dir.path().join("tampered.json");
        std::fs::write(&path, serde_json::to_string_pretty(&tampered).unwrap()).unwrap();
        let (code, out) = verify_proof(path.to_str().unwrap(), Some(&key));
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("EVIDENCE REFUSED") && out.contains(expected), "expected `{expected}` in: {out}");
    };
    // The record changed (fewer rows delivered than were).
    refused(
        &|e| {
            let doc = e["subject"]["document"].as_str().unwrap().replace("\"rows\":1", "\"rows\":0");
            e["subject"]["document"] = doc.into();
        },
        "Merkle proof does not reach the sealed root",
    );
    // The proof changed.
    refused(
        &|e| {
            let path = e["subject"]["merkle_path"].as_array_mut().unwrap();
            if path.is_empty() {
                path.push(hex::encode([7u8; 32]).into());
            } else {
                path[0] = hex::encode([7u8; 32]).into();
            }
        },
        "Merkle proof does not reach the sealed root",
    );
    // The checkpoint's signature changed.
    refused(
        &|e| {
            let signature = e["checkpoint"]["signature"].as_str().unwrap();
            let flipped = format!("{}{}", if signature.starts_with('0') { "1" } else { "0" }, &signature[1..]);
            e["checkpoint"]["signature"] = flipped.into();
        },
        "SM2 signature does not verify",
    );
    // A record of the chain segment changed.
    refused(&|e| e["chain"][0]["actor"] = "user:mallory".into(), "was altered");
    // Signed by another key than the one the verifier trusts.
    let (code, out) = verify_proof(file_arg, Some(&govshare_service::crypto::NodeKeys::generate().public_key_hex()));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not by the expected key"), "{out}");

    // An audit record's evidence, covered by the checkpoint the first export signed.
    let file2 = out_dir.path().join("audit.json");
    let (code, out) = node.run(&["audit", "evidence", "--seq", "3", "-o", file2.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = verify_proof(file2.to_str().unwrap(), None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("EVIDENCE VALID: audit record 3"), "{out}");
    // Both exports are themselves in the chain, and the chain still verifies against the checkpoint.
    let (code, out) = node.verify();
    assert_eq!(code, 0, "{out}");
}

/// Upgrading a node that kept usage records before seals existed seals them once, in the start that migrates; a
/// restart after rows were forged into that batch does not seal them (SQLite: the schema is built up to 0006 from
/// the shipped migration files, as an old release would have left it).
#[tokio::test]
async fn pre_existing_usage_records_are_sealed_once_on_upgrade() {
    let (db_url, _dir) = fresh_database(Backend::Sqlite).await;
    let old_migrations = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../govshare-store-sqlite/migrations");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0007" {
            std::fs::copy(&path, old_migrations.path().join(name)).unwrap();
        }
    }
    let options =
        <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&db_url).unwrap().create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::migrate::Migrator::new(old_migrations.path()).await.unwrap().run(&mut conn).await.unwrap();
    let insert = |id: &str, second: i64| {
        let at = chrono::DateTime::from_timestamp(1_790_000_000 + second, 0).unwrap();
        let record = serde_json::json!({
            "id": id, "at": at, "requester": uuid::Uuid::nil(), "provider": uuid::Uuid::nil(),
            "actor": "system:x", "system": null, "grant": null, "entry": uuid::Uuid::nil(), "purpose": "核验",
            "operation": "lookup", "items": [], "rows": 1, "result": "ok", "latency_us": 5
        });
        format!(
            "INSERT INTO usage_records (id, at, requester, provider, grant_id, entry_id, rows, document)
             VALUES ('{id}', {micros}, '{nil}', '{nil}', NULL, '{nil}', 1, '{record}')",
            nil = uuid::Uuid::nil(),
            micros = at.timestamp_micros()
        )
    };
    for n in 0..3 {
        let id = uuid::Uuid::from_u128(n + 1).to_string();
        sqlx::query(&insert(&id, n as i64)).execute(&mut conn).await.unwrap();
    }
    drop(conn);

    // The upgrade: migration 0007, then the one legacy seal.
    let store = govshare::open_store(&db_url).await.unwrap();
    let head = store.audit_head().await.unwrap().unwrap();
    let seal = store.seal_record(uuid::Uuid::nil()).await.unwrap().unwrap();
    assert_eq!(seal.seq, head.seq);
    assert!(seal.detail.contains("\"legacy\":true") && seal.detail.contains("\"count\":3"), "{}", seal.detail);
    let node = Node::new(&db_url);
    let (code, out) = node.verify();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 usage records match their seals"), "{out}");

    // A forged row put into the pre-existing batch, then restarts: nothing more is sealed, the forgery stays found.
    let forged = insert(&uuid::Uuid::from_u128(99).to_string(), 100)
        .replace("document)", "document, seal_id, seal_position)")
        .replace("}')", &format!("}}', '{}', 3)", uuid::Uuid::nil()));
    tamper(Backend::Sqlite, &db_url, &["DROP TRIGGER usage_records_no_update", &forged]).await.unwrap();
    node.restore_guards();
    drop(store);
    let store = govshare::open_store(&db_url).await.unwrap();
    let again = govshare::open_store(&db_url).await.unwrap();
    assert_eq!(again.audit_head().await.unwrap().unwrap().seq, head.seq + 1, "only the guards' restoration was added");
    drop((store, again));
    let (code, out) = node.verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("usage records were inserted into the batch sealed by record"), "{out}");
}
