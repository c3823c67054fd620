-- A job's callback is queued in the transaction that ends the job, so that a process dying
-- right after the commit cannot lose it. Its body (the job's status, with pre-signed report
-- links that only a server process can sign) is written just after the commit; until then
-- it is NULL and the sender leaves the row alone (server/imports/runner.py writes it).
ALTER TABLE job_callbacks ALTER COLUMN body DROP NOT NULL;
CREATE INDEX IF NOT EXISTS job_callbacks_unwritten_idx ON job_callbacks (id) WHERE body IS NULL;
