-- Human numbers (govshare_domain::number): every application carries SQ-<year>-<sequence> (申请编号), every grant
-- GX-<year>-<sequence> (授权编号), the year in Beijing time and the sequence per kind and year from 1, without gaps.
-- The store takes the next value from number_counters in the transaction that inserts the row (an upsert returning
-- it), so a creation that fails gives its number back and concurrent creations never share one.
CREATE TABLE number_counters (
    kind TEXT NOT NULL,
    year INTEGER NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (kind, year)
);

-- The rows kept before this migration are numbered by creation time (then id), and the counters start after them.
ALTER TABLE applications ADD COLUMN number TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN number TEXT NOT NULL DEFAULT '';

CREATE TEMPORARY TABLE numbered (kind TEXT NOT NULL, id UUID NOT NULL, year INTEGER NOT NULL, seq INTEGER NOT NULL,
                                 PRIMARY KEY (kind, id));
INSERT INTO numbered (kind, id, year, seq)
SELECT kind, id, year, ROW_NUMBER() OVER (PARTITION BY kind, year ORDER BY created_at, id)
FROM (SELECT 'SQ' AS kind, id, created_at,
             CAST(EXTRACT(YEAR FROM (created_at AT TIME ZONE 'UTC') + INTERVAL '8 hours') AS INTEGER) AS year
      FROM applications
      UNION ALL
      SELECT 'GX', id, created_at, CAST(EXTRACT(YEAR FROM (created_at AT TIME ZONE 'UTC') + INTERVAL '8 hours') AS INTEGER)
      FROM grants) AS kept;
UPDATE applications SET number = 'SQ-' || n.year || '-' || lpad(n.seq::text, greatest(6, length(n.seq::text)), '0')
FROM numbered n WHERE n.kind = 'SQ' AND n.id = applications.id;
UPDATE grants SET number = 'GX-' || n.year || '-' || lpad(n.seq::text, greatest(6, length(n.seq::text)), '0')
FROM numbered n WHERE n.kind = 'GX' AND n.id = grants.id;
INSERT INTO number_counters (kind, year, last) SELECT kind, year, MAX(seq) FROM numbered GROUP BY kind, year;
DROP TABLE numbered;
ALTER TABLE applications ALTER COLUMN number DROP DEFAULT;
ALTER TABLE grants ALTER COLUMN number DROP DEFAULT;

CREATE UNIQUE INDEX applications_number ON applications (number);
CREATE UNIQUE INDEX grants_number ON grants (number);
