-- name: queue
-- In the transaction that ends the job, for a job that named a callback URL; the body is
-- written after the commit (write_body). A job ends once, and job_id is unique: one delivery.
INSERT INTO job_callbacks (job_id, account_id, url)
SELECT id, account_id, options->'callback'->>'url' FROM import_jobs
WHERE id = $1 AND options->'callback'->>'url' IS NOT NULL
ON CONFLICT (job_id) DO NOTHING

-- name: unwritten
SELECT job_id FROM job_callbacks WHERE body IS NULL ORDER BY id LIMIT 100

-- name: write_body
-- Only the first writer's body stands: every attempt of a delivery sends the same bytes.
UPDATE job_callbacks SET body = $2 WHERE job_id = $1 AND body IS NULL

-- name: claim_due
-- Claimed with a short lease (next_attempt_at moves on) so a crashed sender's call is retried;
-- at most $3 at a time, the sender's free slots.
UPDATE job_callbacks c SET next_attempt_at = $2, attempts = c.attempts + 1
FROM (
    SELECT id FROM job_callbacks
    WHERE status = 'pending' AND next_attempt_at <= $1 AND body IS NOT NULL
    ORDER BY next_attempt_at
    FOR UPDATE SKIP LOCKED
    LIMIT $3
) due
WHERE c.id = due.id
RETURNING c.id, c.job_id, c.account_id, c.url, c.body, c.attempts

-- name: delivered
UPDATE job_callbacks SET status = 'delivered', delivered_at = $2, last_error = NULL WHERE id = $1

-- name: failed
UPDATE job_callbacks SET status = CASE WHEN attempts >= $4 THEN 'gave_up' ELSE 'pending' END,
    next_attempt_at = $2, last_error = $3
WHERE id = $1

-- name: secret
SELECT callback_secret FROM accounts WHERE id = $1

-- name: set_secret
UPDATE accounts SET callback_secret = coalesce(callback_secret, $2) WHERE id = $1 RETURNING callback_secret
