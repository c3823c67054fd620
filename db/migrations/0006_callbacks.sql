-- Completion callbacks (Zoho's callback option), signed with a secret per account.
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS callback_secret text;

CREATE TABLE IF NOT EXISTS job_callbacks (
    id               bigserial PRIMARY KEY,
    job_id           uuid NOT NULL UNIQUE REFERENCES import_jobs (id) ON DELETE CASCADE,
    account_id       bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url              text NOT NULL,
    body             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending',  -- pending | delivered | gave_up
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    delivered_at     timestamptz
);
CREATE INDEX IF NOT EXISTS job_callbacks_due_idx ON job_callbacks (next_attempt_at) WHERE status = 'pending';
