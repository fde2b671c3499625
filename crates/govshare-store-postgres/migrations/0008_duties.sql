-- The duty ledger: every obligation to act, open and closed (govshare_domain::duty). Rows are derived by the domain
-- from a subject's timeline and written in the same transaction as the step; the key names the duty by the event
-- that opened it. alert: 0 nothing sent, 1 reminded, 2 marked overdue (reset when the due time moves).
CREATE TABLE duties (
    key          TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   UUID NOT NULL,
    title        TEXT NOT NULL,
    owner        UUID NOT NULL,
    role         TEXT NOT NULL,
    counterpart  UUID,
    started_at   TIMESTAMPTZ NOT NULL,
    days         INTEGER,
    due_at       TIMESTAMPTZ,
    closed_at    TIMESTAMPTZ,
    met          BOOLEAN NOT NULL,
    alert        INTEGER NOT NULL
);
-- The sweep: open duties not yet reminded (alert 0) or not yet marked overdue (alert 1), by due time and key, so that
-- it reads only what may need an alert now, page by page, however many duties are open.
CREATE INDEX duties_sweep ON duties (alert, due_at, key) WHERE closed_at IS NULL AND alert < 2;
-- A party's to-do list.
CREATE INDEX duties_party ON duties (owner, role, due_at) WHERE closed_at IS NULL;
CREATE INDEX duties_subject ON duties (subject_id);

-- Whether the duties of the timelines kept before this migration have been derived (done once, at the first start
-- after the upgrade; a database without timelines has nothing to derive).
CREATE TABLE duty_ledger (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    backfilled BOOLEAN NOT NULL
);
INSERT INTO duty_ledger (id, backfilled)
VALUES (1, NOT EXISTS (SELECT 1 FROM applications) AND NOT EXISTS (SELECT 1 FROM catalog_entries));
