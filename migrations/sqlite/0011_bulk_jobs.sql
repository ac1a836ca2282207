-- Users bulk actions run as jobs: the request starts one and answers at once;
-- the server works through the users in batches and records its progress
-- here after each batch (in the batch's own transaction), so that the admin
-- can move on and come back, and any server process can answer "how far".
-- skipped: JSON array of {"reason", "count"}. status: running, finished, failed.
CREATE TABLE bulk_jobs (
    id          INTEGER PRIMARY KEY,
    actor_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    description TEXT NOT NULL,
    total       INTEGER NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    changed     INTEGER NOT NULL DEFAULT 0,
    skipped     TEXT NOT NULL DEFAULT '[]',
    status      TEXT NOT NULL,
    error       TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE INDEX bulk_jobs_actor ON bulk_jobs (actor_id, id);
