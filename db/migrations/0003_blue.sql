-- Blue's record fields that monday items do not have, Blue imports, exports and the outbox.
ALTER TABLE items ADD COLUMN IF NOT EXISTS done boolean NOT NULL DEFAULT false;
ALTER TABLE items ADD COLUMN IF NOT EXISTS start_date timestamptz;
ALTER TABLE items ADD COLUMN IF NOT EXISTS due_date timestamptz;
ALTER TABLE items ADD COLUMN IF NOT EXISTS description text;
ALTER TABLE items ADD COLUMN IF NOT EXISTS color text;

CREATE TABLE IF NOT EXISTS item_assignees (
    item_id  bigint NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (item_id, user_id)
);

CREATE UNIQUE INDEX IF NOT EXISTS tags_board_name_idx ON tags (board_id, lower(name));

ALTER TABLE import_jobs ADD COLUMN IF NOT EXISTS cancel_requested boolean NOT NULL DEFAULT false;
-- One Blue import at a time per workspace, enforced by the database itself.
CREATE UNIQUE INDEX IF NOT EXISTS one_blue_import_per_board
    ON import_jobs (board_id) WHERE kind = 'blue' AND status = 'PROCESSING';

-- The latest progress event per (workspace, user, type): a new subscriber gets it first.
CREATE TABLE IF NOT EXISTS progress_events (
    board_id    bigint NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type        text NOT NULL,
    payload     jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (board_id, user_id, type)
);

-- Messages the server would have e-mailed (export links); tests read them through the admin API.
CREATE TABLE IF NOT EXISTS outbox (
    id          bigserial PRIMARY KEY,
    account_id  bigint REFERENCES accounts (id) ON DELETE CASCADE,
    recipient   text NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL,
    links       jsonb NOT NULL DEFAULT '[]',
    sent_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS export_requests (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    board_id    bigint NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    requested_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS export_requests_user_idx ON export_requests (user_id, requested_at);

-- orders events: a subscriber skips queued events older than the state it started from
CREATE SEQUENCE IF NOT EXISTS progress_event_seq;
ALTER TABLE progress_events ADD COLUMN IF NOT EXISTS seq bigint NOT NULL DEFAULT 0;
