//! The store's `$n` placeholders as SQLite takes them: anonymous `?` where they run 1, 2, 3 … once each (binding
//! stays linear), numbered `?n` otherwise.

use govshare_store_sqlite::placeholders;

#[test]
fn in_order_placeholders_become_anonymous_and_others_numbered() {
    assert_eq!(placeholders("INSERT INTO t VALUES ($1, $2), ($3, $4)"), "INSERT INTO t VALUES (?, ?), (?, ?)");
    assert_eq!(placeholders("SELECT 1 WHERE a = $1 OR b = $1"), "SELECT 1 WHERE a = ?1 OR b = ?1");
    assert_eq!(placeholders("SELECT 1 WHERE a = $2 AND b = $1"), "SELECT 1 WHERE a = ?2 AND b = ?1");
    assert_eq!(placeholders("SELECT $10, $11"), "SELECT ?10, ?11", "does not start at 1");
    assert_eq!(placeholders("SELECT 'a$' || x FROM t"), "SELECT 'a$' || x FROM t");
}
