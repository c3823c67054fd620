-- name: add
INSERT INTO faults (operation, error, remaining, params) VALUES ($1, $2, $3, $4)

-- name: take
-- One call's worth of the oldest fault queued for the operation, atomically.
UPDATE faults SET remaining = remaining - 1
WHERE id = (
    SELECT id FROM faults WHERE operation = $1 AND remaining > 0
    ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1
)
RETURNING error, params

-- name: take_each
-- `take` for each of the operations $1 in one round trip: what a job takes as it starts.
UPDATE faults SET remaining = faults.remaining - 1
FROM unnest($1::text[]) AS o(operation),
     LATERAL (SELECT id FROM faults f WHERE f.operation = o.operation AND f.remaining > 0
              ORDER BY f.id FOR UPDATE SKIP LOCKED LIMIT 1) AS oldest
WHERE faults.id = oldest.id
RETURNING faults.operation, faults.error, faults.params

-- name: clear
DELETE FROM faults

-- name: metrics_jobs
SELECT kind, status, count(*)::bigint AS n FROM import_jobs GROUP BY kind, status

-- name: metrics_rows
-- A dry run imports nothing: its rows (kept for its report) are not counted.
SELECT outcomes.status, count(*)::bigint AS n
FROM (SELECT job_id, status FROM import_rows
      UNION ALL
      SELECT job_id, unnest(statuses) FROM import_clean_rows) AS outcomes
JOIN import_jobs j ON j.id = outcomes.job_id
WHERE NOT coalesce((j.options->>'dry_run')::boolean, false)
  AND NOT coalesce((j.options->>'dryRun')::boolean, false)
GROUP BY outcomes.status

-- name: metrics_durations
SELECT kind, extract(epoch FROM finished_at - started_at)::float8 AS seconds,
       coalesce(total_rows, 0) AS rows
FROM import_jobs WHERE finished_at IS NOT NULL AND started_at IS NOT NULL
