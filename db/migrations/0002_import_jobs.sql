-- Import jobs are rows claimed by runners with FOR UPDATE SKIP LOCKED; attempt is the
-- fencing token that refuses a stale runner's late writes.
CREATE TABLE IF NOT EXISTS import_jobs (
    id                 uuid PRIMARY KEY,
    kind               text NOT NULL,          -- ingest | backfill
    account_id         bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    board_id           bigint NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    group_id           text NOT NULL,
    user_id            bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    options            jsonb NOT NULL DEFAULT '{}',
    status             text NOT NULL DEFAULT 'UPLOAD_PENDING',
    object_key         text NOT NULL,
    upload_expires_at  timestamptz NOT NULL,
    counts             jsonb NOT NULL DEFAULT '{"submitted":0,"invalid":0,"skipped":0,"created":0,"updated":0,"failed":0}',
    progress           integer NOT NULL DEFAULT 0,
    total_rows         integer,
    failure_reason     text,
    failure_message    text,
    report_key         text,
    attempt            integer NOT NULL DEFAULT 0,
    lease_expires_at   timestamptz,
    checkpoint_line    integer NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    finished_at        timestamptz
);
CREATE INDEX IF NOT EXISTS import_jobs_status_idx ON import_jobs (status);

-- One row per CSV line that was not created or updated cleanly (or every line in dry runs):
-- the report's source, and with (job_id, line) unique a double write is impossible.
CREATE TABLE IF NOT EXISTS import_rows (
    job_id   uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    line     integer NOT NULL,
    status   text NOT NULL,
    item_id  bigint,
    errors   jsonb NOT NULL DEFAULT '[]',
    cells    jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (job_id, line)
);

-- Job starts and budget consumption, for the per-account hourly windows.
CREATE TABLE IF NOT EXISTS usage_events (
    id          bigserial PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind        text NOT NULL,     -- job_start | items
    amount      integer NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_events_window_idx ON usage_events (account_id, kind, at);
