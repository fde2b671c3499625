//! Test support: a fresh, empty database per test on the PostgreSQL server named by
//! `GOVSHARE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! An unreachable server fails the test; it is never skipped.
#![doc(hidden)]

use sqlx::Connection;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Creates a database named `govshare_t_<uuid>` and returns its URL.
pub async fn fresh_database() -> String {
    let admin = std::env::var("GOVSHARE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL tests need a server at {admin} (set GOVSHARE_TEST_POSTGRES_URL): {e}"));
    let name = format!("govshare_t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("CREATE DATABASE");
    let _ = conn.close().await;
    match admin.rfind('/') {
        Some(slash) if !admin[..slash].ends_with('/') => {
            let (base, rest) = admin.split_at(slash);
            let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
            format!("{base}/{name}{query}")
        }
        _ => format!("{}/{name}", admin.trim_end_matches('/')),
    }
}
