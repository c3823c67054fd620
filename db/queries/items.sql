-- name: lock_item
SELECT * FROM items WHERE id = $1 FOR UPDATE

-- name: insert_item
-- A top-level item at the end of the board, as an import appends its rows, with its values.
-- Stamped as a change of the board's match keys (migration 0015).
INSERT INTO items (board_id, group_id, level, name, position, creator_id, created_at, updated_at,
                   column_values, key_change)
VALUES ($1, $2, 1, $3,
        (SELECT coalesce(max(position), 0) + 1 FROM items WHERE board_id = $1), $4, $5, $5, $6,
        nextval('item_key_changes_seq'))
RETURNING *

-- name: touch_item
-- $4: the item's whole new values document (the caller holds the row lock of lock_item, and
-- the board's of share_board: the stamp of a change of the board's match keys, migration 0015).
UPDATE items SET name = coalesce($2, name), updated_at = $3, column_values = $4,
                 key_change = nextval('item_key_changes_seq')
WHERE id = $1
RETURNING *

-- name: log_event
INSERT INTO activity_log (board_id, item_id, user_id, event, data, created_at)
VALUES ($1, $2, $3, $4, $5, $6)

-- name: log_events
INSERT INTO activity_log (board_id, item_id, user_id, event, data, created_at)
SELECT $1, r.item_id, $2, $3, $4, $5 FROM unnest($6::bigint[]) AS r(item_id)

-- name: item_tree
-- An item and its descendants (multi-level boards), not yet deleted, locked: an import adding
-- subitems locks their parent the same way, so the tree read again once these locks are held
-- holds every subitem committed under it (ItemStore._locked_tree).
WITH RECURSIVE tree AS (
    SELECT id FROM items WHERE id = $1
    UNION
    SELECT i.id FROM items i JOIN tree t ON i.parent_id = t.id
)
SELECT i.id FROM items i JOIN tree t ON t.id = i.id WHERE i.state <> 'deleted'
ORDER BY i.id
FOR NO KEY UPDATE OF i

-- name: move_items
UPDATE items SET group_id = $2, updated_at = $3 WHERE id = ANY($1)

-- name: set_items_state
UPDATE items SET state = $2, updated_at = $3 WHERE id = ANY($1)

-- name: item_by_id
SELECT * FROM items WHERE id = $1

-- name: group_items
-- The items of a group that a duplicate copies: parents before their children.
SELECT id FROM items WHERE board_id = $1 AND group_id = $2 AND state = 'active'
ORDER BY level, position, id

-- name: allocate_item_ids
SELECT nextval('items_id_seq') AS id FROM generate_series(1, $1)

-- name: copy_items
-- Copies of items $1, values included, with ids $2 into group $4, appended in the given
-- order; a copied child points at its parent's copy.
-- The copies are stamped as changes of the board's match keys (migration 0015).
INSERT INTO items (id, board_id, group_id, parent_id, level, name, position, creator_id, state,
                   created_at, updated_at, done, start_date, due_date, description, color,
                   column_values, key_change)
SELECT m.new_id, i.board_id, $4, coalesce(p.new_id, i.parent_id), i.level, i.name,
       (SELECT coalesce(max(position), 0) FROM items WHERE board_id = $3) + m.ord,
       $5, 'active', $6, $6, i.done, i.start_date, i.due_date, i.description, i.color,
       i.column_values, nextval('item_key_changes_seq')
FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS m(old_id, new_id, ord)
JOIN items i ON i.id = m.old_id
LEFT JOIN unnest($1::bigint[], $2::bigint[]) AS p(old_id, new_id) ON p.old_id = i.parent_id

-- name: copy_tags
INSERT INTO item_tags (item_id, tag_id)
SELECT m.new_id, t.tag_id
FROM unnest($1::bigint[], $2::bigint[]) AS m(old_id, new_id)
JOIN item_tags t ON t.item_id = m.old_id

-- name: copy_assignees
INSERT INTO item_assignees (item_id, user_id)
SELECT m.new_id, a.user_id
FROM unnest($1::bigint[], $2::bigint[]) AS m(old_id, new_id)
JOIN item_assignees a ON a.item_id = m.old_id

-- name: insert_update
INSERT INTO updates (board_id, item_id, creator_id, body, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $5)
RETURNING *

-- name: insert_notification
INSERT INTO notifications (account_id, user_id, sender_id, target_id, target_type, text, payload, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *

-- name: update_of_account
SELECT up.* FROM updates up JOIN boards b ON b.id = up.board_id
WHERE b.account_id = $1 AND up.id = $2

-- name: public_tag
INSERT INTO tags (account_id, board_id, name) VALUES ($1, NULL, $2)
ON CONFLICT (account_id, lower(name)) WHERE board_id IS NULL DO UPDATE SET name = tags.name
RETURNING id, account_id, board_id, name, color

-- name: board_tag
INSERT INTO tags (account_id, board_id, name) VALUES ($1, $2, $3)
ON CONFLICT (board_id, lower(name)) DO UPDATE SET name = tags.name
RETURNING id, account_id, board_id, name, color
