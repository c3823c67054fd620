-- name: allocate_item_ids
SELECT nextval('items_id_seq') AS id FROM generate_series(1, $1)

-- name: write_target
-- What a chunk may write, read once it holds the board's row lock (boards.sql lock_board), which
-- group closings, board deletions and every writer of new positions take first: the board's
-- state, the job group's, and the board's next free position.
SELECT b.state AS board_state, g.archived, g.deleted,
       (SELECT coalesce(max(position), 0) + 1 FROM items WHERE board_id = $1) AS next_position
FROM boards b LEFT JOIN groups g ON g.board_id = b.id AND g.id = $2
WHERE b.id = $1

-- name: next_position
-- The board's next free position (the caller holds the board's row lock).
SELECT coalesce(max(position), 0) + 1 FROM items WHERE board_id = $1

-- name: lock_live_parents
-- Of the items new subitems go under, the active ones, locked until the chunk commits: an item
-- deleted or archived meanwhile takes its subtree as it stands once it holds these locks.
SELECT id FROM items WHERE id = ANY($1::bigint[]) AND state = 'active'
ORDER BY id
FOR NO KEY UPDATE

-- name: active_item_count
SELECT count(*) FROM items WHERE board_id = $1 AND state = 'active'

-- name: update_items
-- Matched items renamed, their values documents replaced or merged. When the new document has
-- a value for every column the stored one has (r.keys: its column ids, each between unit
-- separators, chr(31)), it replaces the stored one as it is: a merge converts both to
-- jsonb and back, about 25 of an updated row's 45-50 microseconds; the check costs about 8
-- (measured by `python -m bench` and a run of each form on 5,000 items). Otherwise the
-- columns of a JSON array of column ids are removed, then the new values laid over.
-- One entry per item (an UPDATE applies one joined row per target row). Only active items:
-- one deleted or archived since the job matched it is left as it is (RETURNING tells which).
UPDATE items
SET name = CASE WHEN r.name = '' THEN items.name ELSE r.name END,  -- '': the row left it empty
    updated_at = $1,
    column_values = CASE
        WHEN r.keys IS NOT NULL
             AND NOT EXISTS (SELECT FROM json_object_keys(items.column_values) AS k
                             WHERE strpos(r.keys, chr(31) || k || chr(31)) = 0)
            THEN r.sets::json
        ELSE ((CASE WHEN r.clears = '[]' THEN items.column_values::jsonb  -- most rows clear nothing
                    ELSE items.column_values::jsonb - ARRAY(SELECT json_array_elements_text(r.clears::json)) END)
              || r.sets::jsonb)::json
    END
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(id, name, sets, clears, keys)
WHERE items.id = r.id AND items.state = 'active'
RETURNING items.id

-- name: log_activity
INSERT INTO activity_log (board_id, item_id, user_id, event, data, created_at)
SELECT $1, r.item_id, $2, r.event, '{"source": "ingest_items"}', $3
FROM unnest($4::bigint[], $5::text[]) AS r(item_id, event)

-- name: match_by_column
-- Active top-level items of the board with a value in column $2, by that value's text.
-- Subitems are never matched: in monday they live on their own subitems board.
SELECT key, item_id
FROM (SELECT column_values -> $2::text ->> 'text' AS key, id AS item_id
      FROM items WHERE board_id = $1 AND state = 'active' AND parent_id IS NULL) AS i
WHERE key IS NOT NULL

-- name: match_by_name
SELECT name AS key, id AS item_id
FROM items WHERE board_id = $1 AND state = 'active' AND parent_id IS NULL

-- name: match_by_id
-- The board's active top-level items by their id, for a file that names them by id.
SELECT id::text AS key, id AS item_id
FROM items WHERE board_id = $1 AND state = 'active' AND parent_id IS NULL

-- name: key_watermark
-- The last stamp of a change to board $1's match keys (migration 0015). The caller holds the
-- board's row lock (boards.sql lock_board, taken by a statement before this one, whose
-- snapshot follows the lock): every write stamped below it has committed, and any after it
-- takes a higher stamp.
SELECT coalesce(max(key_change), 0) FROM items WHERE board_id = $1 AND key_change IS NOT NULL

-- name: key_changes
-- Board $1's items stamped after $2, with the match key each holds now (the text of column
-- $3, or the name where $3 is NULL; NULL for a subitem) and whether it is active. Read by each
-- chunk of a matching job under the board's row lock, through the partial index of stamped
-- items: usually no row.
SELECT id, key_change, state = 'active' AS active,
       CASE WHEN parent_id IS NULL
            THEN CASE WHEN $3::text IS NULL THEN name ELSE column_values -> $3::text ->> 'text' END
       END AS key
FROM items WHERE board_id = $1 AND key_change > $2

-- name: done_lines
SELECT line, item_id FROM import_rows WHERE job_id = $1
UNION ALL
SELECT unnest(lines), unnest(item_ids) FROM import_clean_rows WHERE job_id = $1

-- name: insert_records
-- Blue records: items with Blue's own fields and their values documents (JSON text).
INSERT INTO items (id, board_id, group_id, level, name, position, creator_id, created_at, updated_at,
                   done, start_date, due_date, description, color, column_values)
SELECT r.id, $1, r.group_id, 1, r.name, r.position, r.creator_id, r.created_at, r.updated_at,
       r.done, r.start_date, r.due_date, r.description, r.color, r.column_values::json
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::timestamptz[],
            $8::timestamptz[], $9::boolean[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[],
            $14::text[])
    AS r(id, group_id, name, position, creator_id, created_at, updated_at, done, start_date, due_date, description, color,
         column_values)

-- name: add_assignees
INSERT INTO item_assignees (item_id, user_id)
SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING

-- name: add_item_tags
INSERT INTO item_tags (item_id, tag_id)
SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING

-- name: groups_by_title
-- The lists an import may name, first by position: records without a list go to the first
-- open one (an archived list takes no records; a deleted one is gone).
SELECT id, title, archived FROM groups WHERE board_id = $1 AND NOT deleted
ORDER BY archived, position, id

-- name: tags_of_board
SELECT id, name FROM tags WHERE board_id = $1

-- name: create_tags
-- The tags named $3 (by a chunk of records), created on board $2 where it has none of that
-- name in any case: each name's position in $3 (from 1) and its tag's id. One statement for
-- the chunk: a round trip for each tag took 17 s for a cell of 200,000 of them.
WITH given AS (
    SELECT name, n FROM unnest($3::text[]) WITH ORDINALITY AS t(name, n)
), created AS (
    INSERT INTO tags (account_id, board_id, name)
    SELECT $1, $2, name FROM (
        SELECT DISTINCT ON (lower(name)) name, n FROM given ORDER BY lower(name), n
    ) AS firsts
    ORDER BY n
    ON CONFLICT (board_id, lower(name)) DO UPDATE SET name = tags.name
    RETURNING id, name
)
SELECT given.n, created.id FROM given JOIN created ON lower(created.name) = lower(given.name)

-- name: board_members_directory
SELECT u.id, u.name, u.email FROM board_members m JOIN users u ON u.id = m.user_id
WHERE m.board_id = $1 AND u.enabled

-- name: running_blue_import
SELECT * FROM import_jobs WHERE board_id = $1 AND kind = 'blue' AND status = 'PROCESSING'

-- name: latest_blue_import
SELECT * FROM import_jobs WHERE board_id = $1 AND kind = 'blue' ORDER BY created_at DESC LIMIT 1

-- name: request_cancel
-- Recorded only on an import still running (or queued): its id, or no row. The UPDATE waits
-- for the row lock a chunk holds until it commits, and an import ends in its last chunk's
-- transaction, so a cancel that comes too late finds the import ended and records nothing.
UPDATE import_jobs SET cancel_requested = true
WHERE board_id = $1 AND kind = 'blue' AND status = 'PROCESSING'
RETURNING id

-- name: lock_for_end
-- The job's row locked (while still this runner's) for the transaction that ends it: whether
-- a cancel was recorded before.
SELECT cancel_requested FROM import_jobs WHERE id = $1 AND attempt = $2 AND status = 'PROCESSING'
FOR NO KEY UPDATE

-- name: cancel_requested
-- Read in a chunk's transaction once the job's row is locked (fence_job): a cancel recorded
-- before is seen, a later one waits for the chunk to commit.
SELECT cancel_requested FROM import_jobs WHERE id = $1

-- name: parent_keys
-- Parent-file rows of a job with subitems: their key cell (trimmed; the first non-empty of the
-- cells at indexes $2, which are the level cells of a multi-level file's name, a row naming
-- one level; `<NULL>` names none) and the item they became. An empty or missing key takes the
-- field mapping's default $4, as the row's own value did; with $5 (the key is the name) a
-- matched row that kept its item's name has that name. Rows that became no item (invalid,
-- failed, or skipped for want of a match) come too, for their children's report.
SELECT r.line, btrim(coalesce(
           (SELECT btrim(r.cells->>k.index)
            FROM unnest($2::integer[]) WITH ORDINALITY AS k(index, n)
            WHERE btrim(r.cells->>k.index) NOT IN ('', '<NULL>') ORDER BY k.n LIMIT 1),
           $4::text, CASE WHEN $5::boolean THEN i.name END)) AS key, r.item_id,
       r.status, coalesce(i.level, 1) AS level
FROM import_rows r LEFT JOIN items i ON i.id = r.item_id
WHERE r.job_id = $1 AND r.line < $3
ORDER BY r.line

-- name: parents_by_id
-- The board's active items by their id, for child rows naming their parent by item id.
SELECT id::text AS key, id AS item_id, level FROM items WHERE board_id = $1 AND state = 'active'

-- name: subitems_of
-- Active subitems of the given items, for child rows that match by name under their parent.
SELECT parent_id, name, id AS item_id FROM items WHERE parent_id = ANY($1::bigint[]) AND state = 'active'
