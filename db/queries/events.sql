-- name: remember_event
INSERT INTO progress_events (board_id, user_id, type, payload, updated_at, seq)
VALUES ($1, $2, $3, $4, now(), nextval('progress_event_seq'))
ON CONFLICT (board_id, user_id, type) DO UPDATE
    SET payload = EXCLUDED.payload, updated_at = now(), seq = EXCLUDED.seq
RETURNING seq

-- name: notify
SELECT pg_notify('import_export_progress', $1)

-- name: latest_events
-- An export's state not refreshed for $3 seconds is left out: an export runs in one server
-- process, and one that died with it (killed, out of memory) never publishes its end.
SELECT payload, seq, type FROM progress_events
WHERE board_id = $1 AND user_id = $2
  AND (type <> 'EXPORT' OR updated_at > now() - make_interval(secs => $3))
ORDER BY seq
