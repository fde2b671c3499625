-- Data sources bound to catalog entries (R-DEL-1). The document is the domain's DataSource (JSON);
-- next_seq numbers the record changes of the source, load_no its loads.
CREATE TABLE data_sources (
    entry_id   TEXT PRIMARY KEY REFERENCES catalog_entries (id),
    document   TEXT NOT NULL,
    next_seq   INTEGER NOT NULL DEFAULT 1,
    load_no    INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

-- Hosted records: the current version of each record (deleted ones stay as tombstones for the change feed).
-- key is a keyed digest of the key item's value; payload is JSON or SM4-GCM ciphertext.
CREATE TABLE source_records (
    entry_id TEXT NOT NULL,
    key      TEXT NOT NULL,
    scope    TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    digest   TEXT NOT NULL,
    payload  BLOB NOT NULL,
    deleted  INTEGER NOT NULL,
    load_no  INTEGER NOT NULL,
    PRIMARY KEY (entry_id, key)
) WITHOUT ROWID;
CREATE INDEX source_records_seq ON source_records (entry_id, seq);
CREATE INDEX source_records_scope ON source_records (entry_id, scope, key);

-- Change history: every version a load wrote or deleted.
CREATE TABLE source_changes (
    entry_id TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    key      TEXT NOT NULL,
    op       TEXT NOT NULL,
    digest   TEXT NOT NULL,
    payload  BLOB,
    load_id  TEXT NOT NULL,
    PRIMARY KEY (entry_id, seq)
) WITHOUT ROWID;

CREATE TABLE source_loads (
    id       TEXT PRIMARY KEY,
    entry_id TEXT NOT NULL REFERENCES data_sources (entry_id),
    at       INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX source_loads_entry ON source_loads (entry_id, at);

-- Grants (R-DEL-2): the document is the domain's Grant with its events.
CREATE TABLE grants (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    requester      TEXT NOT NULL REFERENCES organisations (id),
    provider       TEXT NOT NULL REFERENCES organisations (id),
    entry_id       TEXT NOT NULL REFERENCES catalog_entries (id),
    events         INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    document       TEXT NOT NULL
);
CREATE INDEX grants_requester ON grants (requester, created_at);
CREATE INDEX grants_provider ON grants (provider, created_at);

-- Usage records (Art. 29): append-only, kept at least three years.
CREATE TABLE usage_records (
    id        TEXT PRIMARY KEY,
    at        INTEGER NOT NULL,
    requester TEXT NOT NULL,
    provider  TEXT NOT NULL,
    grant_id  TEXT,
    entry_id  TEXT NOT NULL,
    rows      INTEGER NOT NULL,
    document  TEXT NOT NULL
);
CREATE INDEX usage_requester ON usage_records (requester, at);
CREATE INDEX usage_provider ON usage_records (provider, at);
CREATE INDEX usage_grant ON usage_records (grant_id, at);
CREATE TRIGGER usage_records_no_update BEFORE UPDATE ON usage_records
BEGIN SELECT RAISE(ABORT, 'usage records are append-only'); END;
CREATE TRIGGER usage_records_no_delete BEFORE DELETE ON usage_records
BEGIN SELECT RAISE(ABORT, 'usage records are append-only'); END;
