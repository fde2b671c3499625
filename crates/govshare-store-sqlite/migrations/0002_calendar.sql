-- Official working-day calendar data loaded by `govshare calendar import`, one row per year (the file format's
-- JSON for that year). Years shipped with the binary need no row; a stored year replaces the shipped one.
CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY,
    data TEXT NOT NULL
);
