-- Sharing applications (Art. 20–22). The document is the domain's Application (JSON) with its whole timeline;
-- stage and event count are copied out of it for listing and for compare-and-set on save.
CREATE TABLE applications (
    id         UUID PRIMARY KEY,
    requester  UUID NOT NULL REFERENCES organisations (id),
    provider   UUID NOT NULL REFERENCES organisations (id),
    entry_id   UUID NOT NULL REFERENCES catalog_entries (id),
    stage      TEXT NOT NULL,
    is_open    BOOLEAN NOT NULL,
    events     INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    document   TEXT NOT NULL
);
CREATE INDEX applications_requester ON applications (requester, created_at);
CREATE INDEX applications_provider ON applications (provider, created_at);
CREATE INDEX applications_open ON applications (is_open);

-- Reminders sent and overdue marks made by the deadline job; the key makes each happen once.
CREATE TABLE deadline_alerts (
    key        TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    due_at     TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    note       TEXT NOT NULL
);
CREATE INDEX deadline_alerts_subject ON deadline_alerts (subject);
CREATE INDEX deadline_alerts_kind ON deadline_alerts (kind, created_at);
