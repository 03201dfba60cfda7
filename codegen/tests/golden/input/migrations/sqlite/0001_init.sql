CREATE TABLE g_jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    queue       TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('new', 'running', 'done')),
    payload     TEXT NOT NULL,
    tags        TEXT,
    attempts    INT NOT NULL DEFAULT 0,
    urgent      INTEGER NOT NULL,
    run_at      INTEGER NOT NULL,
    finished_at INTEGER,
    owner_id    INTEGER
);
