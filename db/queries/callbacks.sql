-- name: enqueue
INSERT INTO job_callbacks (job_id, account_id, url, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (job_id) DO NOTHING

-- name: claim_due
-- Claimed with a short lease (next_attempt_at moves on) so a crashed sender's call is retried.
UPDATE job_callbacks c SET next_attempt_at = $2, attempts = c.attempts + 1
FROM (
    SELECT id FROM job_callbacks
    WHERE status = 'pending' AND next_attempt_at <= $1
    ORDER BY next_attempt_at
    FOR UPDATE SKIP LOCKED
    LIMIT 10
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
