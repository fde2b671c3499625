-- After sharing (2): corrections (Art. 26), disputes (Art. 28), public complaints (Art. 37 ¶2). Each document is
-- the domain's case with its steps; numbers are JH-/ZY-/TS-<year>-<sequence> (govshare_domain::number).

-- A correction request, or a provider's own correction. While it is open, the record (entry_id, record_key) is
-- marked disputed for every grant that receives it; applied_seq is the version the correction wrote.
CREATE TABLE corrections (
    id          TEXT PRIMARY KEY,
    number      TEXT NOT NULL,
    entry_id    TEXT NOT NULL REFERENCES catalog_entries (id),
    provider    TEXT NOT NULL REFERENCES organisations (id),
    requester   TEXT REFERENCES organisations (id),
    record_key  TEXT NOT NULL,
    open        INTEGER NOT NULL,
    applied_seq INTEGER,
    events      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    document    TEXT NOT NULL
);
CREATE INDEX corrections_marks ON corrections (entry_id, open);
CREATE INDEX corrections_provider ON corrections (provider, created_at);
CREATE INDEX corrections_requester ON corrections (requester, created_at);

CREATE TABLE disputes (
    id          TEXT PRIMARY KEY,
    number      TEXT NOT NULL,
    opener      TEXT NOT NULL REFERENCES organisations (id),
    counterpart TEXT NOT NULL REFERENCES organisations (id),
    events      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    document    TEXT NOT NULL
);
CREATE INDEX disputes_opener ON disputes (opener, created_at);
CREATE INDEX disputes_counterpart ON disputes (counterpart, created_at);

-- The tracking code is kept only as its keyed digest.
CREATE TABLE complaints (
    id              TEXT PRIMARY KEY,
    number          TEXT NOT NULL,
    tracking_digest TEXT NOT NULL UNIQUE,
    handler         TEXT NOT NULL REFERENCES organisations (id),
    events          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    document        TEXT NOT NULL
);
CREATE INDEX complaints_handler ON complaints (handler, created_at);

-- Attachments of corrections and complaints: the bytes SM4-sealed with the node key; the reference (name, type,
-- size, SM3) is in the owner's document.
CREATE TABLE attachments (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    data       BLOB NOT NULL
);
CREATE INDEX attachments_owner ON attachments (owner_id);
