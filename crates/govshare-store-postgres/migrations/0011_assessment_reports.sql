-- Assessment reports (Art. 13): the uploaded PDF files. What a report is (name, size, SM3 digest) is in the
-- assessment, in catalog_versions.assessments; the file itself is here.
CREATE TABLE assessment_reports (
    id         UUID PRIMARY KEY,
    entry_id   UUID NOT NULL REFERENCES catalog_entries (id),
    content    BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX assessment_reports_entry ON assessment_reports (entry_id);
