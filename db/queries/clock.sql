-- name: get_offset
SELECT offset_seconds FROM server_clock WHERE id = 1

-- name: advance
UPDATE server_clock SET offset_seconds = offset_seconds + $1 WHERE id = 1 RETURNING offset_seconds

-- name: reset
UPDATE server_clock SET offset_seconds = 0 WHERE id = 1 RETURNING offset_seconds
