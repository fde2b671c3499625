-- Data sources bound to catalog entries (R-DEL-1). The document is the domain's DataSource (JSON);
-- next_seq numbers the record changes of the source, load_no its loads.
CREATE TABLE data_sources (
    entry_id   UUID PRIMARY KEY REFERENCES catalog_entries (id),
    document   TEXT NOT NULL,
    next_seq   BIGINT NOT NULL DEFAULT 1,
    load_no    BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Hosted records: the current version of each record (deleted ones stay as tombstones for the change feed).
-- key is a keyed digest of the key item's value; payload is JSON or SM4-GCM ciphertext.
CREATE TABLE source_records (
    entry_id UUID NOT NULL,
    key      TEXT COLLATE "C" NOT NULL,
    scope    TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    digest   TEXT NOT NULL,
    payload  BYTEA NOT NULL,
    deleted  BOOLEAN NOT NULL,
    load_no  BIGINT NOT NULL,
    PRIMARY KEY (entry_id, key)
);
CREATE INDEX source_records_seq ON source_records (entry_id, seq);
CREATE INDEX source_records_scope ON source_records (entry_id, scope, key);

-- Change history: every version a load wrote or deleted.
CREATE TABLE source_changes (
    entry_id UUID NOT NULL,
    seq      BIGINT NOT NULL,
    key      TEXT COLLATE "C" NOT NULL,
    op       TEXT NOT NULL,
    digest   TEXT NOT NULL,
    payload  BYTEA,
    load_id  UUID NOT NULL,
    PRIMARY KEY (entry_id, seq)
);

CREATE TABLE source_loads (
    id       UUID PRIMARY KEY,
    entry_id UUID NOT NULL REFERENCES data_sources (entry_id),
    at       TIMESTAMPTZ NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX source_loads_entry ON source_loads (entry_id, at);

-- Grants (R-DEL-2): the document is the domain's Grant with its events.
CREATE TABLE grants (
    id             UUID PRIMARY KEY,
    application_id UUID NOT NULL REFERENCES applications (id),
    requester      UUID NOT NULL REFERENCES organisations (id),
    provider       UUID NOT NULL REFERENCES organisations (id),
    entry_id       UUID NOT NULL REFERENCES catalog_entries (id),
    events         INTEGER NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    document       TEXT NOT NULL
);
CREATE INDEX grants_requester ON grants (requester, created_at);
CREATE INDEX grants_provider ON grants (provider, created_at);

-- Usage records (Art. 29): append-only, kept at least three years.
CREATE TABLE usage_records (
    id        UUID PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL,
    requester UUID NOT NULL,
    provider  UUID NOT NULL,
    grant_id  UUID,
    entry_id  UUID NOT NULL,
    rows      BIGINT NOT NULL,
    document  TEXT NOT NULL
);
CREATE INDEX usage_requester ON usage_records (requester, at);
CREATE INDEX usage_provider ON usage_records (provider, at);
CREATE INDEX usage_grant ON usage_records (grant_id, at);
CREATE FUNCTION usage_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'usage records are append-only';
END;
$$;
CREATE TRIGGER usage_records_no_change BEFORE UPDATE OR DELETE ON usage_records
    FOR EACH ROW EXECUTE FUNCTION usage_records_append_only();
