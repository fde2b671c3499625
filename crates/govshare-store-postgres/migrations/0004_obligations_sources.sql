-- Catalog update obligations (Art. 17): the trigger and the extension; progress is derived from catalog_events.
CREATE TABLE catalog_obligations (
    id          UUID PRIMARY KEY,
    entry_id    UUID NOT NULL REFERENCES catalog_entries (id),
    kind        TEXT NOT NULL,
    changed_on  DATE NOT NULL,
    description TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    -- JSON of the domain's Extension; replaced by compare-and-set on its text.
    extension   TEXT
);
CREATE INDEX catalog_obligations_entry ON catalog_obligations (entry_id);

-- Source-of-record departments (Art. 19): one per region and data subject; a new designation replaces the old.
CREATE TABLE source_designations (
    id            UUID PRIMARY KEY,
    region        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    items         TEXT NOT NULL,
    source_org    UUID NOT NULL REFERENCES organisations (id),
    entry_id      UUID REFERENCES catalog_entries (id),
    basis         TEXT NOT NULL,
    designated_by TEXT NOT NULL,
    designated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (region, subject)
);
