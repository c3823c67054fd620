-- name: remember_event
INSERT INTO progress_events (board_id, user_id, type, payload, updated_at, seq)
VALUES ($1, $2, $3, $4, now(), nextval('progress_event_seq'))
ON CONFLICT (board_id, user_id, type) DO UPDATE
    SET payload = EXCLUDED.payload, updated_at = now(), seq = EXCLUDED.seq
RETURNING seq

-- name: notify
SELECT pg_notify('import_export_progress', $1)

-- name: latest_events
SELECT payload, seq FROM progress_events WHERE board_id = $1 AND user_id = $2 ORDER BY seq
