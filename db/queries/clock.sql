-- name: get_offset
SELECT offset_seconds FROM server_clock WHERE id = 1

-- name: advance
-- No row when the new offset would exceed $2, the most the clock may move.
UPDATE server_clock SET offset_seconds = offset_seconds + $1
WHERE id = 1 AND offset_seconds + $1 <= $2
RETURNING offset_seconds

-- name: reset
UPDATE server_clock SET offset_seconds = 0 WHERE id = 1 RETURNING offset_seconds
