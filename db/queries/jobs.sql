-- name: raw_job
SELECT * FROM import_jobs WHERE id::text = $1

-- name: create_job
INSERT INTO import_jobs (id, kind, account_id, board_id, group_id, user_id, options, object_key, upload_expires_at, created_at, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING *

-- name: job_of_account
-- A monday import job: a Blue import (kind 'blue') is no ItemsJob, and its states (CANCELLED)
-- are not monday's.
SELECT * FROM import_jobs WHERE id = $1 AND account_id = $2 AND kind IN ('ingest', 'backfill')

-- name: pending_uploads
-- Jobs still waiting for their file whose upload URL expires after $1 (the time, less the
-- grace a PUT begun before its URL expired may take to land).
SELECT * FROM import_jobs
WHERE status = 'UPLOAD_PENDING' AND upload_expires_at > $1
ORDER BY created_at

-- name: mark_uploaded
UPDATE import_jobs SET status = 'PROCESSING', lease_expires_at = NULL
WHERE id = $1 AND status = 'UPLOAD_PENDING'

-- name: lock_claims
-- Claims are made one at a time (each is a short transaction): two runners claiming two jobs
-- of one board at once would each see the other's job unclaimed.
SELECT pg_advisory_xact_lock(727004)

-- name: claim_job
-- One statement: the row lock of SKIP LOCKED keeps two runners off the same job, and a job
-- whose lease ran out (its runner died) is claimed again with a higher attempt number. A job
-- waits while another job of its board runs (its lease alive): jobs of one board run one after
-- the other, each matching the items the ones before it wrote (two upserts of the same keys
-- run at once would each create them).
UPDATE import_jobs SET attempt = attempt + 1, lease_expires_at = $1, started_at = coalesce(started_at, $2)
WHERE id = (
    SELECT id FROM import_jobs j
    WHERE status = 'PROCESSING' AND (lease_expires_at IS NULL OR lease_expires_at < $2)
      AND NOT EXISTS (SELECT FROM import_jobs o
                      WHERE o.board_id = j.board_id AND o.id <> j.id AND o.status = 'PROCESSING'
                        AND o.lease_expires_at >= $2)
    ORDER BY created_at
    FOR UPDATE SKIP LOCKED
    LIMIT 1
)
RETURNING *

-- name: renew_lease
UPDATE import_jobs SET lease_expires_at = $3 WHERE id = $1 AND attempt = $2 AND status = 'PROCESSING'

-- name: fence_job
-- At the start of a chunk's transaction: the job is still this runner's (the attempt check of
-- save_progress, before anything is written), its row locked until the chunk commits. The
-- transaction takes the name $3 || '<job id>:<attempt>' (application_name, until it ends): the
-- watchdog ties a backend stuck in the chunk's COPY to its job (end_stalled_copies).
SELECT set_config('application_name', $3 || id::text || ':' || attempt::text, true)
FROM import_jobs WHERE id = $1 AND attempt = $2 AND status = 'PROCESSING'
FOR NO KEY UPDATE

-- name: save_progress
-- Written in each chunk's own transaction; the attempt check fences out a stale runner.
UPDATE import_jobs SET checkpoint_line = $3, counts = $4, progress = $5, total_rows = $6, options = options || $7
WHERE id = $1 AND attempt = $2 AND status = 'PROCESSING'

-- name: finish_job
UPDATE import_jobs SET status = $3, counts = $4, progress = $5, failure_reason = $6,
    failure_message = $7, report_key = $8, finished_at = $9, lease_expires_at = NULL, total_rows = coalesce($10, total_rows)
WHERE id = $1 AND attempt = $2 AND status = 'PROCESSING'

-- name: row_results_page
-- The job's row results with lines after $3 and before $4, by line, at most $5 of them: a
-- report is written a page at a time, so the server never holds all of a job's cells at once.
SELECT line, status, item_id, errors, cells FROM import_rows
WHERE job_id = $1 AND ($2 OR status NOT IN ('created', 'updated')) AND line > $3 AND line < $4
UNION ALL
SELECT c.line, c.status, c.item_id, '[]'::jsonb, '[]'::jsonb
FROM import_clean_rows r, unnest(r.lines, r.statuses, r.item_ids) AS c(line, status, item_id)
WHERE r.job_id = $1 AND $2 AND c.line > $3 AND c.line < $4
ORDER BY line
LIMIT $5

-- name: usage_in_window
SELECT coalesce(sum(amount), 0)::bigint AS used, min(at) AS oldest
FROM usage_events WHERE account_id = $1 AND kind = $2 AND at > $3 AND at <= $4

-- name: record_usage
INSERT INTO usage_events (account_id, kind, amount, at) VALUES ($1, $2, $3, $4)

-- name: lock_account_usage
SELECT pg_advisory_xact_lock(727002, ($1 % 2147483647)::integer)

-- name: count_outcomes
SELECT status, count(*)::integer AS n
FROM (SELECT status FROM import_rows WHERE job_id = $1
      UNION ALL
      SELECT unnest(statuses) FROM import_clean_rows WHERE job_id = $1) AS outcomes
GROUP BY status

-- name: notify_changed
SELECT pg_notify('job_changed', $1::text)

-- name: merge_options
UPDATE import_jobs SET options = options || $2 WHERE id = $1

-- name: unclean_row_results
SELECT line, status, item_id, errors, cells FROM import_rows
WHERE job_id = $1 AND status NOT IN ('created', 'updated')
ORDER BY line
LIMIT $2

-- name: insert_clean_rows
INSERT INTO import_clean_rows (job_id, first_line, lines, statuses, item_ids)
VALUES ($1, $2, $3, $4, $5)

-- name: end_stalled_copies
-- The watchdog (server/imports/watchdog.py): end the chunk transactions of this database that
-- have waited inside a COPY FROM STDIN for their client's data since more than $2 seconds
-- and whose job's lease ran out before $3 (or which are no longer their job's attempt). A
-- server process frozen there (SIGSTOP, a paused VM) holds its board's and its job's row
-- locks, and PostgreSQL applies no timeout to a COPY waiting for data: only
-- pg_terminate_backend ends it. $1 is the name prefix fence_job gives a chunk's transaction.
SELECT a.pid, a.application_name, pg_terminate_backend(a.pid) AS ended
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
  AND a.state = 'active' AND a.wait_event_type = 'Client' AND a.wait_event = 'ClientRead'
  AND a.query ~* '^\s*copy\s' AND starts_with(a.application_name, $1)
  AND a.query_start < clock_timestamp() - make_interval(secs => $2)
  AND NOT EXISTS (
      SELECT FROM import_jobs j
      WHERE j.status = 'PROCESSING' AND j.lease_expires_at >= $3
        AND a.application_name = $1 || j.id::text || ':' || j.attempt::text)
