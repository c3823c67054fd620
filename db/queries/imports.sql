-- name: allocate_item_ids
SELECT nextval('items_id_seq') AS id FROM generate_series(1, $1)

-- name: next_position
SELECT coalesce(max(position), 0) + 1 FROM items WHERE board_id = $1

-- name: active_item_count
SELECT count(*) FROM items WHERE board_id = $1 AND state = 'active'

-- name: insert_items
INSERT INTO items (id, board_id, group_id, parent_id, level, name, position, creator_id, created_at, updated_at)
SELECT r.id, $1, $2, r.parent_id, r.level, r.name, r.position, $3, $4, $4
FROM unnest($5::bigint[], $6::bigint[], $7::integer[], $8::text[], $9::bigint[])
    AS r(id, parent_id, level, name, position)

-- name: rename_items
UPDATE items SET name = r.name, updated_at = $1
FROM unnest($2::bigint[], $3::text[]) AS r(id, name)
WHERE items.id = r.id

-- name: upsert_values
INSERT INTO column_values (item_id, column_id, value, text)
SELECT r.item_id, r.column_id, r.value::jsonb, r.text
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS r(item_id, column_id, value, text)
ON CONFLICT (item_id, column_id) DO UPDATE SET value = EXCLUDED.value, text = EXCLUDED.text

-- name: clear_values
DELETE FROM column_values v
USING unnest($1::bigint[], $2::text[]) AS r(item_id, column_id)
WHERE v.item_id = r.item_id AND v.column_id = r.column_id

-- name: log_activity
INSERT INTO activity_log (board_id, item_id, user_id, event, data, created_at)
SELECT $1, r.item_id, $2, r.event, '{"source": "ingest_items"}', $3
FROM unnest($4::bigint[], $5::text[]) AS r(item_id, event)

-- name: match_by_column
SELECT v.text AS key, v.item_id
FROM column_values v JOIN items i ON i.id = v.item_id
WHERE i.board_id = $1 AND v.column_id = $2 AND i.state = 'active'

-- name: match_by_name
SELECT name AS key, id AS item_id FROM items WHERE board_id = $1 AND state = 'active'

-- name: done_lines
SELECT line, item_id FROM import_rows WHERE job_id = $1

-- name: count_outcomes
SELECT status, count(*)::integer AS n FROM import_rows WHERE job_id = $1 GROUP BY status
