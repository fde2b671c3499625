-- Indexes measured by `govshare bench supervision --backend postgres` (1M duties): the indicators' tally of the
-- duties due in a period is answered from the index alone (no heap visit per duty), and the overdue-over-time
-- line finds the late duties that ended, or are still open, by their closing time.
DROP INDEX duties_due;
CREATE INDEX duties_tally ON duties (due_at, owner, kind, closed_at, met) WHERE due_at IS NOT NULL;
CREATE INDEX duties_overdue_end ON duties (closed_at) WHERE due_at IS NOT NULL AND (closed_at IS NULL OR closed_at > due_at);
