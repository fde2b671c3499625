-- Security incident reports (Art. 35 ¶3): the document is the domain's Incident with its steps; its number is
-- SJ-<year>-<sequence> (事件编号, govshare_domain::number).
CREATE TABLE incidents (
    id         UUID PRIMARY KEY,
    number     TEXT NOT NULL,
    org_id     UUID NOT NULL REFERENCES organisations (id),
    region     TEXT NOT NULL,
    events     INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    document   TEXT NOT NULL
);
CREATE INDEX incidents_org ON incidents (org_id, created_at);
CREATE INDEX incidents_region ON incidents (region, created_at);
