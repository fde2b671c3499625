-- After sharing (2): corrections (Art. 26), disputes (Art. 28), public complaints (Art. 37 ¶2). Each document is
-- the domain's case with its steps; numbers are JH-/ZY-/TS-<year>-<sequence> (govshare_domain::number).

-- A correction request, or a provider's own correction. While it is open, the record (entry_id, record_key) is
-- marked disputed for every grant that receives it; applied_seq is the version the correction wrote.
CREATE TABLE corrections (
    id          UUID PRIMARY KEY,
    number      TEXT NOT NULL,
    entry_id    UUID NOT NULL REFERENCES catalog_entries (id),
    provider    UUID NOT NULL REFERENCES organisations (id),
    requester   UUID REFERENCES organisations (id),
    record_key  TEXT NOT NULL,
    open        BOOLEAN NOT NULL,
    applied_seq BIGINT,
    events      INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    document    TEXT NOT NULL
);
CREATE INDEX corrections_marks ON corrections (entry_id, open);
CREATE INDEX corrections_provider ON corrections (provider, created_at);
CREATE INDEX corrections_requester ON corrections (requester, created_at);

CREATE TABLE disputes (
    id          UUID PRIMARY KEY,
    number      TEXT NOT NULL,
    opener      UUID NOT NULL REFERENCES organisations (id),
    counterpart UUID NOT NULL REFERENCES organisations (id),
    events      INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    document    TEXT NOT NULL
);
CREATE INDEX disputes_opener ON disputes (opener, created_at);
CREATE INDEX disputes_counterpart ON disputes (counterpart, created_at);

-- The tracking code is kept only as its keyed digest.
CREATE TABLE complaints (
    id              UUID PRIMARY KEY,
    number          TEXT NOT NULL,
    tracking_digest TEXT NOT NULL UNIQUE,
    handler         UUID NOT NULL REFERENCES organisations (id),
    events          INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    document        TEXT NOT NULL
);
CREATE INDEX complaints_handler ON complaints (handler, created_at);

-- Attachments of corrections and complaints: the bytes SM4-sealed with the node key; the reference (name, type,
-- size, SM3) is in the owner's document.
CREATE TABLE attachments (
    id         UUID PRIMARY KEY,
    owner_id   UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    data       BYTEA NOT NULL
);
CREATE INDEX attachments_owner ON attachments (owner_id);
