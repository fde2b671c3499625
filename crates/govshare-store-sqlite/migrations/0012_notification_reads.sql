-- Notifications are addressed to an organisation; each person of it reads them on their own. One row per person
-- and notification, the first reading. (notifications.read_at, the organisation-wide mark of earlier versions, is
-- no longer read or written.)
CREATE TABLE notification_reads (
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    reader          TEXT NOT NULL,
    read_at         INTEGER NOT NULL,
    PRIMARY KEY (notification_id, reader)
);
