-- name: visible_boards
-- Boards of the caller's account that it is a member of; account admins see all of them.
SELECT b.*, m.role
FROM boards b
LEFT JOIN board_members m ON m.board_id = b.id AND m.user_id = $2
WHERE b.account_id = $1
  AND ($3 OR m.user_id IS NOT NULL)
  AND ($4::bigint[] IS NULL OR b.id = ANY($4))
  AND ($5::text IS NULL OR b.state = $5)
  AND ($8::text IS NULL OR b.board_kind = $8)
ORDER BY CASE WHEN $9 THEN b.created_at END DESC, CASE WHEN $9 THEN b.id END DESC, b.id
LIMIT $6 OFFSET $7

-- name: board_for_user
-- One board by numeric id, uid or slug, with the caller's role (NULL when not a member).
SELECT b.*, m.role
FROM boards b
LEFT JOIN board_members m ON m.board_id = b.id AND m.user_id = $2
WHERE b.account_id = $1
  AND (b.id::text = $3 OR b.uid = $3 OR b.slug = $3)
ORDER BY (b.id::text = $3) DESC
LIMIT 1

-- name: columns_of_boards
SELECT * FROM columns WHERE board_id = ANY($1) ORDER BY board_id, position

-- name: groups_of_boards
SELECT * FROM groups WHERE board_id = ANY($1) AND NOT deleted ORDER BY board_id, position

-- name: items_of_board
SELECT * FROM items WHERE board_id = $1 AND state = 'active'
ORDER BY position, id
LIMIT $2 OFFSET $3

-- name: items_by_ids
-- Items the caller may see: on boards of its account it is a member of (admins: all).
SELECT i.*
FROM items i
JOIN boards b ON b.id = i.board_id
LEFT JOIN board_members m ON m.board_id = b.id AND m.user_id = $2
WHERE b.account_id = $1 AND ($3 OR m.user_id IS NOT NULL)
  AND i.id = ANY($4)
ORDER BY i.id
LIMIT $5

-- name: column_values_of_items
-- The values in the items' documents, in the board's column order; each value read as jsonb,
-- whose key order and number forms are what the API has always shown.
SELECT i.id AS item_id, v.key AS column_id, (v.value -> 'value')::jsonb AS value,
       v.value ->> 'text' AS text
FROM items i
CROSS JOIN LATERAL json_each(i.column_values) AS v
LEFT JOIN columns c ON c.board_id = i.board_id AND c.id = v.key
WHERE i.id = ANY($1)
ORDER BY i.id, c.position, v.key

-- name: item_names_of_boards
SELECT board_id, id, name FROM items WHERE board_id = ANY($1) AND state = 'active'

-- name: linkable_items_of_boards
-- The items a board relation cell may point at: active, on a board of the account ($2) that
-- is not deleted (a deleted board's items stay 'active' rows, but no one can open them).
SELECT i.board_id, i.id, i.name
FROM items i JOIN boards b ON b.id = i.board_id
WHERE i.board_id = ANY($1) AND i.state = 'active' AND b.account_id = $2 AND b.state <> 'deleted'

-- name: activity_of_board
SELECT id, item_id, user_id, event, data, created_at FROM activity_log
WHERE board_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3

-- name: assignees_of_item
SELECT u.id FROM item_assignees a JOIN users u ON u.id = a.user_id WHERE a.item_id = $1 ORDER BY u.id

-- name: tags_of_item
-- The tags of Blue's record (item_tags) and those the item's tags columns hold,
-- {"tag_ids": [...]} in its value document: read there rather than copied into item_tags
-- on every write, which the import's COPY of whole documents would have to do too. A value
-- shows only tags its board may use (account-wide ones and the board's own); an id that is
-- no bigint matches nothing instead of failing the cast.
SELECT t.id, t.name, t.color FROM item_tags it JOIN tags t ON t.id = it.tag_id WHERE it.item_id = $1
UNION
SELECT t.id, t.name, t.color
FROM items i
JOIN boards b ON b.id = i.board_id
JOIN columns c ON c.board_id = i.board_id AND c.type = 'tags'
CROSS JOIN LATERAL json_array_elements_text(
    CASE WHEN json_typeof(i.column_values -> c.id -> 'value' -> 'tag_ids') = 'array'
         THEN i.column_values -> c.id -> 'value' -> 'tag_ids' END
) AS e(tag_id)
JOIN tags t ON t.id = CASE WHEN e.tag_id ~ '^[0-9]{1,18}$' THEN e.tag_id::bigint END
WHERE i.id = $1 AND t.account_id = b.account_id AND (t.board_id IS NULL OR t.board_id = i.board_id)
ORDER BY name, id

-- name: items_page
-- Items the caller may see (boards of its account it is a member of; admins: all), filtered
-- by ids, state, board, group and the state of their board ($11, NULL for any);
-- $8 orders them: 'id', 'position' (board order) or 'newest'.
SELECT i.*
FROM items i
JOIN boards b ON b.id = i.board_id
LEFT JOIN board_members m ON m.board_id = b.id AND m.user_id = $2
WHERE b.account_id = $1 AND ($3 OR m.user_id IS NOT NULL)
  AND ($4::bigint[] IS NULL OR i.id = ANY($4))
  AND ($5::text IS NULL OR i.state = $5)
  AND ($6::bigint IS NULL OR i.board_id = $6)
  AND ($7::text IS NULL OR i.group_id = $7)
  AND ($11::text[] IS NULL OR b.state = ANY($11))
ORDER BY CASE WHEN $8 = 'newest' THEN i.created_at END DESC,
         CASE WHEN $8 = 'newest' THEN i.id END DESC,
         CASE WHEN $8 = 'position' THEN i.position END,
         i.id
LIMIT $9 OFFSET $10

-- name: items_by_column_value
-- Items of one board whose column $2 reads $3: its display text, a date column's day, a
-- dropdown label among its ids (those of the labels reading $3 are $7), or for the
-- pseudo-column `name` the item name.
SELECT i.*
FROM items i
WHERE i.board_id = $1
  AND ($4::text IS NULL OR i.state = $4)
  AND CASE WHEN $2 = 'name' THEN i.name = $3
           ELSE i.column_values -> $2::text ->> 'text' = $3
                OR i.column_values -> $2::text -> 'value' ->> 'date' = $3
                OR EXISTS (
                    SELECT 1
                    FROM json_array_elements(
                        CASE WHEN json_typeof(i.column_values -> $2::text -> 'value' -> 'ids')
                                  = 'array'
                             THEN i.column_values -> $2::text -> 'value' -> 'ids' END
                    ) AS held(id)
                    WHERE json_typeof(held.id) = 'number'
                      AND held.id::text = ANY($7::int[]::text[])
                ) END
ORDER BY i.position, i.id
LIMIT $5 OFFSET $6

-- name: members_of_board
-- Members of the board's own account: a fixture may name another account's user, who never
-- reads the board and is shown to nobody through it.
SELECT u.*, a.plan AS account_plan, a.slug AS account_slug, m.role
FROM board_members m
JOIN boards b ON b.id = m.board_id
JOIN users u ON u.id = m.user_id AND u.account_id = b.account_id
JOIN accounts a ON a.id = u.account_id
WHERE m.board_id = $1
ORDER BY u.id

-- name: board_tags
-- The board's own tags and the tags its active items carry: Blue's record tags and those in
-- the items' tags column values, read as `tags_of_item` reads them.
SELECT t.id, t.account_id, t.board_id, t.name, t.color FROM tags t WHERE t.board_id = $1
UNION
SELECT t.id, t.account_id, t.board_id, t.name, t.color
FROM tags t
JOIN item_tags it ON it.tag_id = t.id
JOIN items i ON i.id = it.item_id
WHERE i.board_id = $1 AND i.state = 'active'
UNION
SELECT t.id, t.account_id, t.board_id, t.name, t.color
FROM (
    SELECT DISTINCT e.tag_id
    FROM columns c
    JOIN items i ON i.board_id = c.board_id AND i.state = 'active'
    CROSS JOIN LATERAL json_array_elements_text(
        CASE WHEN json_typeof(i.column_values -> c.id -> 'value' -> 'tag_ids') = 'array'
             THEN i.column_values -> c.id -> 'value' -> 'tag_ids' END
    ) AS e(tag_id)
    WHERE c.board_id = $1 AND c.type = 'tags'
) held
JOIN tags t ON t.id = CASE WHEN held.tag_id ~ '^[0-9]{1,18}$' THEN held.tag_id::bigint END
JOIN boards b ON b.id = $1
WHERE t.account_id = b.account_id AND (t.board_id IS NULL OR t.board_id = $1)
ORDER BY id

-- name: public_tags
-- monday's account tags: account-wide ones and those of public boards the caller can see.
SELECT t.id, t.account_id, t.board_id, t.name, t.color
FROM tags t
LEFT JOIN boards b ON b.id = t.board_id
LEFT JOIN board_members m ON m.board_id = b.id AND m.user_id = $2
WHERE t.account_id = $1
  AND (t.board_id IS NULL OR (b.board_kind = 'public' AND ($3 OR m.user_id IS NOT NULL)))
  AND ($4::bigint[] IS NULL OR t.id = ANY($4))
ORDER BY t.id

-- name: updates_page
-- Updates on items the caller may see, newest first; by ids, board or item, and the state of
-- their board ($9, NULL for any).
SELECT up.*
FROM updates up
JOIN items i ON i.id = up.item_id
JOIN boards b ON b.id = up.board_id
LEFT JOIN board_members m ON m.board_id = b.id AND m.user_id = $2
WHERE b.account_id = $1 AND ($3 OR m.user_id IS NOT NULL)
  AND i.state <> 'deleted'
  AND ($9::text[] IS NULL OR b.state = ANY($9))
  AND ($4::bigint[] IS NULL OR up.id = ANY($4))
  AND ($5::bigint IS NULL OR up.board_id = $5)
  AND ($6::bigint IS NULL OR up.item_id = $6)
ORDER BY up.id DESC
LIMIT $7 OFFSET $8

-- name: update_authors
SELECT DISTINCT creator_id FROM updates WHERE item_id = $1 AND creator_id IS NOT NULL

-- name: create_board
-- A new board owned by its creator; the slug is its id, as for fixture boards without one.
WITH new AS (SELECT nextval('boards_id_seq') AS id)
INSERT INTO boards (id, account_id, name, uid, slug, description, board_kind, owner_id,
                    created_at, updated_at)
SELECT new.id, $1, $2, $3, new.id::text, $4, $5, $6, $7, $7 FROM new
RETURNING *

-- name: add_board_member
INSERT INTO board_members (board_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (board_id, user_id) DO UPDATE SET role = EXCLUDED.role

-- name: set_board_state
UPDATE boards SET state = $2, updated_at = $3 WHERE id = $1 RETURNING *

-- name: create_column
INSERT INTO columns (board_id, id, title, type, settings, position)
VALUES ($1, $2, $3, $4, $5, (SELECT coalesce(max(position), -1) + 1 FROM columns WHERE board_id = $1))
ON CONFLICT (board_id, id) DO NOTHING
RETURNING *

-- name: column_ids
SELECT id FROM columns WHERE board_id = $1

-- name: lock_column
SELECT * FROM columns WHERE board_id = $1 AND id = $2 FOR UPDATE

-- name: set_column_settings
UPDATE columns SET settings = $3 WHERE board_id = $1 AND id = $2 RETURNING *

-- name: insert_group
-- A new group first ($5 = true) or last among the board's groups.
INSERT INTO groups (board_id, id, title, color, position)
SELECT $1, $2, $3, $4,
       CASE WHEN $5 THEN coalesce(min(position), 1) - 1 ELSE coalesce(max(position), -1) + 1 END
FROM groups WHERE board_id = $1
ON CONFLICT (board_id, id) DO NOTHING
RETURNING *

-- name: group_of_board
SELECT * FROM groups WHERE board_id = $1 AND id = $2 AND NOT deleted

-- name: group_in_any_state
SELECT * FROM groups WHERE board_id = $1 AND id = $2

-- name: live_group_count
SELECT count(*) FROM groups WHERE board_id = $1 AND NOT deleted AND NOT archived

-- name: lock_board
-- Serialises the changes that must see the board's groups as they are (the last live group,
-- the first and last positions).
-- NO KEY UPDATE: writes that only reference the board (items, activity) take FOR KEY SHARE,
-- which this lock lets through; FOR UPDATE would block them and could deadlock with an item
-- write that holds the item the group closing is about to change.
SELECT id FROM boards WHERE id = $1 FOR NO KEY UPDATE

-- name: share_board
-- Taken before an item's row lock by the writes that change an item's values or name: they may
-- run side by side, but not while an import's chunk holds lock_board, so that the chunk reads
-- the match keys as they are until it commits (migration 0015).
SELECT id FROM boards WHERE id = $1 FOR SHARE

-- name: board_state
SELECT state FROM boards WHERE id = $1

-- name: archive_group
UPDATE groups SET archived = true WHERE board_id = $1 AND id = $2 AND NOT deleted RETURNING *

-- name: delete_group
UPDATE groups SET deleted = true WHERE board_id = $1 AND id = $2 AND NOT deleted RETURNING *

-- name: set_group_items_state
-- Archiving archives the group's active items; deleting deletes every item not deleted yet.
UPDATE items SET state = $3, updated_at = $4
WHERE board_id = $1 AND group_id = $2
  AND state <> 'deleted' AND ($3 = 'deleted' OR state = 'active')
RETURNING id

-- name: log_board_event
INSERT INTO activity_log (board_id, item_id, user_id, event, data, created_at)
VALUES ($1, NULL, $2, $3, $4, $5)
