-- name: visible_boards
-- Boards of the caller's account that it is a member of; account admins see all of them.
SELECT b.*, m.role
FROM boards b
LEFT JOIN board_members m ON m.board_id = b.id AND m.user_id = $2
WHERE b.account_id = $1
  AND ($3 OR m.user_id IS NOT NULL)
  AND ($4::bigint[] IS NULL OR b.id = ANY($4))
  AND ($5::text IS NULL OR b.state = $5)
ORDER BY b.id
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
SELECT v.item_id, v.column_id, v.value, v.text
FROM column_values v
WHERE v.item_id = ANY($1)

-- name: item_names_of_boards
SELECT board_id, id, name FROM items WHERE board_id = ANY($1) AND state = 'active'

-- name: activity_of_board
SELECT id, item_id, user_id, event, data, created_at FROM activity_log
WHERE board_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3

-- name: assignees_of_item
SELECT u.id FROM item_assignees a JOIN users u ON u.id = a.user_id WHERE a.item_id = $1 ORDER BY u.id

-- name: tags_of_item
SELECT t.id, t.name, t.color FROM item_tags it JOIN tags t ON t.id = it.tag_id WHERE it.item_id = $1 ORDER BY t.name
