-- name: allocate_item_ids
SELECT nextval('items_id_seq') AS id FROM generate_series(1, $1)

-- name: next_position
SELECT coalesce(max(position), 0) + 1 FROM items WHERE board_id = $1

-- name: active_item_count
SELECT count(*) FROM items WHERE board_id = $1 AND state = 'active'

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

-- name: insert_records
-- Blue records: items with Blue's own fields.
INSERT INTO items (id, board_id, group_id, level, name, position, creator_id, created_at, updated_at,
                   done, start_date, due_date, description, color)
SELECT r.id, $1, r.group_id, 1, r.name, r.position, r.creator_id, r.created_at, r.updated_at,
       r.done, r.start_date, r.due_date, r.description, r.color
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::timestamptz[],
            $8::timestamptz[], $9::boolean[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[])
    AS r(id, group_id, name, position, creator_id, created_at, updated_at, done, start_date, due_date, description, color)

-- name: add_assignees
INSERT INTO item_assignees (item_id, user_id)
SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING

-- name: add_item_tags
INSERT INTO item_tags (item_id, tag_id)
SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING

-- name: groups_by_title
SELECT id, title FROM groups WHERE board_id = $1 AND NOT deleted

-- name: create_group
INSERT INTO groups (board_id, id, title, position)
VALUES ($1, $2, $3, (SELECT coalesce(max(position), -1) + 1 FROM groups WHERE board_id = $1))
ON CONFLICT (board_id, id) DO NOTHING

-- name: tags_of_board
SELECT id, name FROM tags WHERE board_id = $1

-- name: create_tag
INSERT INTO tags (account_id, board_id, name) VALUES ($1, $2, $3)
ON CONFLICT (board_id, lower(name)) DO UPDATE SET name = tags.name
RETURNING id

-- name: board_members_directory
SELECT u.id, u.name, u.email FROM board_members m JOIN users u ON u.id = m.user_id
WHERE m.board_id = $1 AND u.enabled

-- name: running_blue_import
SELECT * FROM import_jobs WHERE board_id = $1 AND kind = 'blue' AND status = 'PROCESSING'

-- name: latest_blue_import
SELECT * FROM import_jobs WHERE board_id = $1 AND kind = 'blue' ORDER BY created_at DESC LIMIT 1

-- name: request_cancel
UPDATE import_jobs SET cancel_requested = true
WHERE board_id = $1 AND kind = 'blue' AND status = 'PROCESSING'

-- name: cancel_requested
SELECT cancel_requested FROM import_jobs WHERE id = $1

-- name: parent_keys
-- Parent-file rows of a job with subitems: their key cell (by index) and the item they became.
SELECT btrim(r.cells->>$2::integer) AS key, r.item_id, r.status, coalesce(i.level, 1) AS level
FROM import_rows r LEFT JOIN items i ON i.id = r.item_id
WHERE r.job_id = $1 AND r.line < $3 AND r.status IN ('created', 'updated', 'skipped')
  -- a row skipped for want of a match became no item; one to be created has none yet in a dry run
  AND (r.item_id IS NOT NULL OR r.status = 'created')
