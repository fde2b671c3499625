//! Both backends' migrations describe one schema: the same tables, the same columns with the same nullability,
//! and each column declared in SQLite as the storage the SQLite dialect uses for its PostgreSQL type.

use govshare_store_postgres::{PgStore, testing};
use govshare_store_sqlite::SqliteStore;

/// How the SQLite dialect stores a value of this PostgreSQL type (ids and dates as text, instants as integer
/// microseconds, booleans as integers).
fn sqlite_storage(pg_type: &str) -> &'static str {
    match pg_type {
        "uuid" | "text" | "date" => "TEXT",
        "timestamp with time zone" | "bigint" | "integer" | "boolean" => "INTEGER",
        "bytea" => "BLOB",
        other => panic!("the SQLite dialect defines no storage for the PostgreSQL type {other}"),
    }
}

#[tokio::test]
async fn both_backends_describe_the_same_tables_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let lite = SqliteStore::connect(&format!("sqlite://{}/schema.db", dir.path().display())).await.unwrap();
    lite.migrate().await.unwrap();
    let pg = PgStore::connect(&testing::fresh_database().await).await.unwrap();
    pg.migrate().await.unwrap();
    let lite = lite.schema().await.unwrap();
    let pg = pg.schema().await.unwrap();

    let shape = |schema: &[(String, String, String, bool)]| -> Vec<String> {
        schema.iter().map(|(t, c, _, nullable)| format!("{t}.{c}{}", if *nullable { " NULL" } else { "" })).collect()
    };
    let (lite_shape, pg_shape) = (shape(&lite), shape(&pg));
    let only_lite: Vec<_> = lite_shape.iter().filter(|c| !pg_shape.contains(c)).collect();
    let only_pg: Vec<_> = pg_shape.iter().filter(|c| !lite_shape.contains(c)).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "the migrations describe different schemas:\n only in SQLite: {only_lite:?}\n only in PostgreSQL: {only_pg:?}"
    );
    assert!(pg.iter().any(|(t, ..)| t == "usage_records") && pg.len() > 50, "the schema read back is incomplete");
    for ((table, column, lite_type, _), (_, _, pg_type, _)) in lite.iter().zip(&pg) {
        assert_eq!(
            lite_type.to_uppercase(),
            sqlite_storage(pg_type),
            "{table}.{column}: SQLite declares {lite_type}, PostgreSQL {pg_type}"
        );
    }
}
