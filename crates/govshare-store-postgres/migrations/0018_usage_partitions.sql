-- Usage records at national scale (Art. 29, R-DEL-5): the usage log is partitioned by month (declarative
-- partitioning). A batch belongs to the month (Beijing time) of its earliest record, so every row of a batch, and
-- so every seal, lies in one partition: a month past the retention leaves as one signed archive, and only then is
-- its partition detached and dropped.
ALTER TABLE usage_records RENAME TO usage_records_unpartitioned;
ALTER INDEX usage_records_pkey RENAME TO usage_records_unpartitioned_pkey;
ALTER INDEX usage_requester RENAME TO usage_unpartitioned_requester;
ALTER INDEX usage_provider RENAME TO usage_unpartitioned_provider;
ALTER INDEX usage_grant RENAME TO usage_unpartitioned_grant;
ALTER INDEX usage_seal RENAME TO usage_unpartitioned_seal;

CREATE TABLE usage_records (
    id            UUID NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    requester     UUID NOT NULL,
    provider      UUID NOT NULL,
    grant_id      UUID,
    entry_id      UUID NOT NULL,
    rows          BIGINT NOT NULL,
    document      TEXT NOT NULL,
    seal_id       UUID,
    seal_position BIGINT,
    month         DATE NOT NULL,
    PRIMARY KEY (id, month)
) PARTITION BY RANGE (month);
CREATE INDEX usage_id ON usage_records (id);
CREATE INDEX usage_requester ON usage_records (requester, at);
CREATE INDEX usage_provider ON usage_records (provider, at);
CREATE INDEX usage_grant ON usage_records (grant_id, at);
CREATE INDEX usage_seal ON usage_records (seal_id, seal_position);

-- One month's partition, created when first needed (by the store, before it writes a batch of that month). Each
-- partition carries its own TRUNCATE guard: a statement trigger on the parent does not fire for a partition
-- truncated by name. Serialised by an advisory lock, so instances starting a month at once do not collide.
CREATE FUNCTION usage_month_partition(m DATE) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    name TEXT := format('usage_records_%s', to_char(m, 'YYYY_MM'));
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('govshare.usage_month_partition'));
    IF to_regclass(quote_ident(name)) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF usage_records FOR VALUES FROM (%L) TO (%L)',
                       name, date_trunc('month', m)::date, (date_trunc('month', m) + interval '1 month')::date);
        EXECUTE format('CREATE TRIGGER usage_records_no_truncate BEFORE TRUNCATE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION usage_records_append_only()', name);
    END IF;
END;
$$;

DO $$
DECLARE
    m DATE;
BEGIN
    FOR m IN SELECT DISTINCT date_trunc('month', MIN(at) AT TIME ZONE 'Asia/Shanghai')::date
             FROM usage_records_unpartitioned GROUP BY seal_id
    LOOP
        PERFORM usage_month_partition(m);
    END LOOP;
END;
$$;

INSERT INTO usage_records (id, at, requester, provider, grant_id, entry_id, rows, document, seal_id, seal_position, month)
SELECT id, at, requester, provider, grant_id, entry_id, rows, document, seal_id, seal_position,
       date_trunc('month', MIN(at) OVER (PARTITION BY seal_id) AT TIME ZONE 'Asia/Shanghai')::date
FROM usage_records_unpartitioned;
DROP TABLE usage_records_unpartitioned;

CREATE TRIGGER usage_records_no_change BEFORE UPDATE OR DELETE ON usage_records
    FOR EACH ROW EXECUTE FUNCTION usage_records_append_only();
CREATE TRIGGER usage_records_no_truncate BEFORE TRUNCATE ON usage_records
    FOR EACH STATEMENT EXECUTE FUNCTION usage_records_append_only();

-- The node's archives of usage months, in order; each is also recorded in the audit chain (`usage.archive`, and
-- `usage.detach` once its rows left the database).
CREATE TABLE usage_archives (
    month       DATE PRIMARY KEY,
    file        TEXT NOT NULL,
    records     BIGINT NOT NULL,
    batches     BIGINT NOT NULL,
    link        TEXT NOT NULL,
    previous    TEXT,
    file_sm3    TEXT NOT NULL,
    archived_at TIMESTAMPTZ NOT NULL,
    detached_at TIMESTAMPTZ
);
-- The batches each archive holds, with their counts: how verification accepts a seal whose rows have left.
CREATE TABLE usage_archived_batches (
    batch_id UUID PRIMARY KEY,
    month    DATE NOT NULL,
    records  BIGINT NOT NULL
);
CREATE INDEX usage_archived_month ON usage_archived_batches (month, batch_id);
