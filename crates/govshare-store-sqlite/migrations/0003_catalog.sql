-- The government data catalog: entries, their versions (content as JSON of the domain's EntryContent), the
-- timeline of each entry, and notifications to organisations.

CREATE TABLE catalog_entries (
    id            TEXT PRIMARY KEY,
    provider      TEXT NOT NULL REFERENCES organisations (id),
    resource_code TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL
);
CREATE INDEX catalog_entries_provider ON catalog_entries (provider);

CREATE TABLE catalog_versions (
    entry_id    TEXT NOT NULL REFERENCES catalog_entries (id),
    version     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    content     TEXT NOT NULL,
    assessments TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (entry_id, version)
);
CREATE INDEX catalog_versions_status ON catalog_versions (status);

CREATE TABLE catalog_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id   TEXT NOT NULL REFERENCES catalog_entries (id),
    version    INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    note       TEXT NOT NULL
);
CREATE INDEX catalog_events_entry ON catalog_events (entry_id, seq);

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organisations (id),
    created_at INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    link       TEXT NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notifications_org ON notifications (org_id, created_at);
