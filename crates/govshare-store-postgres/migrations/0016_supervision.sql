-- Supervision (Art. 38 ¶2, 39–41): the indexes the indicators read the duty ledger by, the usage roll-up the
-- dashboard reads usage by, orders to rectify and circulated notices.

-- Indicators count the duties due in a period (govshare_domain::supervision::classify).
CREATE INDEX duties_due ON duties (due_at, owner) WHERE due_at IS NOT NULL;
-- The overdue-over-time line and the violations read only the duties that ever were late: met after their due
-- time, or not closed (the open ones past due at the moment of reading are among them).
-- The acts that are violations in themselves open duties of a few kinds (a restoration owed, a rectification).
CREATE INDEX duties_kind ON duties (kind, started_at);
CREATE INDEX duties_late ON duties (due_at) WHERE due_at IS NOT NULL AND (closed_at IS NULL OR closed_at > due_at);

-- Usage per Beijing day, requester, provider, entry and grant (nil when none): accesses, rows delivered, refusals
-- (a result other than ok and not_found). Written in the transaction that appends the usage records, so it never
-- disagrees with the log; the log stays the evidence.
CREATE TABLE usage_daily (
    day       DATE NOT NULL,
    requester UUID NOT NULL,
    provider  UUID NOT NULL,
    entry_id  UUID NOT NULL,
    grant_id  UUID NOT NULL,
    accesses  BIGINT NOT NULL,
    rows      BIGINT NOT NULL,
    refusals  BIGINT NOT NULL,
    PRIMARY KEY (day, requester, provider, entry_id, grant_id)
);
INSERT INTO usage_daily (day, requester, provider, entry_id, grant_id, accesses, rows, refusals)
SELECT (at AT TIME ZONE 'Asia/Shanghai')::date, requester, provider, entry_id,
       COALESCE(grant_id, '00000000-0000-0000-0000-000000000000'), COUNT(*), SUM(rows),
       SUM(CASE WHEN document::jsonb ->> 'result' IN ('ok', 'not_found') THEN 0 ELSE 1 END)
FROM usage_records
GROUP BY 1, 2, 3, 4, 5;

-- Orders to rectify (govshare_domain::enforcement::Order): ZG-<year>-<sequence>.
CREATE TABLE orders (
    id         UUID PRIMARY KEY,
    number     TEXT NOT NULL,
    violation  TEXT NOT NULL,
    department UUID NOT NULL REFERENCES organisations (id),
    authority  UUID NOT NULL REFERENCES organisations (id),
    events     INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    document   TEXT NOT NULL
);
CREATE INDEX orders_department ON orders (department, created_at);
CREATE INDEX orders_violation ON orders (violation);

-- Circulated notices (通报, Art. 29 ¶1): TB-<year>-<sequence>.
CREATE TABLE notices (
    id           UUID PRIMARY KEY,
    number       TEXT NOT NULL,
    region       TEXT NOT NULL,
    authority    UUID NOT NULL REFERENCES organisations (id),
    published_at TIMESTAMPTZ NOT NULL,
    document     TEXT NOT NULL
);
CREATE INDEX notices_published ON notices (published_at);
