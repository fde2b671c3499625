-- Federation (Art. 30–32): this node's place in the national system, the signed directory it holds, the outbox
-- of catalog changes it owes its parent, the entries its children delivered, and what it knows of each child.

-- One row once the node is founded (the root) or has joined a parent.
CREATE TABLE federation_config (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    node_id       TEXT NOT NULL,
    name          TEXT NOT NULL,
    endpoint      TEXT NOT NULL,
    -- The root's SM2 public key: the trust anchor every directory must be signed with.
    anchor_key    TEXT NOT NULL,
    parent_id     TEXT,
    parent_endpoint TEXT,
    parent_key    TEXT,
    -- The highest outbox sequence number the parent acknowledged (-1: nothing yet).
    parent_acked  BIGINT NOT NULL,
    joined_at     TIMESTAMPTZ NOT NULL
);

-- Every directory version adopted, exactly as signed; the newest is the one in force.
CREATE TABLE federation_directories (
    version     BIGINT PRIMARY KEY,
    body        TEXT NOT NULL,
    signature   TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    adopted_at  TIMESTAMPTZ NOT NULL
);

-- The outbox: the entries whose newest published version the parent must receive, numbered by the audit
-- record of the transaction that changed them (the audit head's lock makes that order the commit order, so a
-- cursor never skips a row committed later with a lower number). `local`: the entry is this node's own;
-- otherwise it is in federated_entries.
CREATE TABLE federation_outbox (
    seq       BIGINT NOT NULL,
    entry_id  UUID NOT NULL,
    local     BOOLEAN NOT NULL,
    PRIMARY KEY (seq, entry_id)
);
-- Entries published before federation existed are owed too, from the start.
INSERT INTO federation_outbox (seq, entry_id, local)
  SELECT 0, entry_id, TRUE FROM catalog_versions WHERE status = 'published' GROUP BY entry_id;

-- Entries of other nodes, delivered by this node's children: the newest version of each, replaced in place.
CREATE TABLE federated_entries (
    entry_id     UUID PRIMARY KEY,
    origin       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    -- The child that delivered it.
    via          TEXT NOT NULL,
    document     TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX federated_entries_origin ON federated_entries (origin);

-- The children this node admitted, and what it last heard from each.
CREATE TABLE federation_children (
    node_id           TEXT PRIMARY KEY,
    request           TEXT NOT NULL,
    admitted_at       TIMESTAMPTZ NOT NULL,
    -- The highest outbox sequence number of the child's whose deltas are applied here (-1: none yet).
    last_seq          BIGINT NOT NULL,
    last_delta_at     TIMESTAMPTZ,
    last_seen_at      TIMESTAMPTZ,
    directory_version BIGINT,
    -- The child's clock minus this node's at its last message, in milliseconds.
    clock_skew_ms     BIGINT
);

-- Nonces of signed messages received, kept for the replay window.
CREATE TABLE federation_nonces (
    sender  TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sender, nonce)
);
CREATE INDEX federation_nonces_at ON federation_nonces (at);

-- Signed audit checkpoints this node's children sent it to witness: a child cannot rewind its chain past one
-- unseen (its `audit verify --witnessed` fetches them back). One per child and sequence number.
CREATE TABLE federation_witnessed (
    node_id     TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (node_id, seq)
);
