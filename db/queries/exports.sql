-- name: lock_user_exports
-- Serialises one user's export requests, so two concurrent calls cannot both pass the window.
SELECT pg_advisory_xact_lock(727003, ($1 % 2147483647)::integer)

-- name: latest_export_request
SELECT max(requested_at) FROM export_requests
WHERE user_id = $1 AND requested_at > $2 AND requested_at <= $3

-- name: record_export_request
INSERT INTO export_requests (user_id, board_id, requested_at) VALUES ($1, $2, $3) RETURNING id

-- name: share_data
-- The data lock, shared: first in each transaction of an export (taking its slot, reading its
-- snapshot, publishing), so an admin reset (fixtures.sql `lock_data`, the same key, taken
-- alone) runs before or after it, never amid it: their table locks cannot cross.
SELECT pg_advisory_xact_lock_shared(727005)

-- name: try_share_data
-- The data lock, shared, only if no reset holds it or waits for it: an export that holds its
-- snapshot open (which such a reset waits for) must not wait for that reset in turn.
SELECT pg_try_advisory_xact_lock_shared(727005)

-- name: export_request_exists
-- In each transaction that publishes an export's event or mail, after `share_data`: an admin
-- reset removes the request, and the export then writes nothing more.
SELECT EXISTS (SELECT FROM export_requests WHERE id = $1)

-- name: records
-- A workspace's active records in list, then board order, with everything an export row
-- shows and the number of matching records (`total`, the same on every row).
-- Filters: $2 list ids, $3 lower-cased list titles, $4 lower-cased tag names (any of),
-- $5 assignee ids (any of), $6 done, $7/$8 due date range (inclusive); NULL = no filter.
WITH matching AS MATERIALIZED (
    SELECT i.id, g.title AS list, g.position AS list_position, i.position
    FROM items i
    JOIN groups g ON g.board_id = i.board_id AND g.id = i.group_id AND NOT g.deleted
    WHERE i.board_id = $1 AND i.state = 'active'
      AND ($2::text[] IS NULL OR i.group_id = ANY($2))
      AND ($3::text[] IS NULL OR lower(g.title) = ANY($3))
      AND ($4::text[] IS NULL OR EXISTS (
            SELECT 1 FROM item_tags it JOIN tags t ON t.id = it.tag_id
            WHERE it.item_id = i.id AND lower(t.name) = ANY($4)))
      AND ($5::bigint[] IS NULL OR EXISTS (
            SELECT 1 FROM item_assignees a WHERE a.item_id = i.id AND a.user_id = ANY($5)))
      AND ($6::boolean IS NULL OR i.done = $6)
      -- an infinite due date (no import writes one) is exported empty: it matches no range
      AND ($7::timestamptz IS NULL OR (i.due_date >= $7 AND isfinite(i.due_date)))
      AND ($8::timestamptz IS NULL OR (i.due_date <= $8 AND isfinite(i.due_date)))
)
SELECT (SELECT count(*) FROM matching) AS total,
       i.id, i.name, m.list, i.done, i.start_date, i.due_date, i.description, i.color,
       i.created_at, i.updated_at,
       coalesce(nullif(c.email, ''), c.name) AS creator,
       coalesce((SELECT array_agg(coalesce(nullif(u.email, ''), u.name) ORDER BY u.id)
                 FROM item_assignees a JOIN users u ON u.id = a.user_id
                 WHERE a.item_id = i.id), '{}') AS assignees,
       coalesce((SELECT array_agg(t.name ORDER BY lower(t.name))
                 FROM item_tags it JOIN tags t ON t.id = it.tag_id
                 WHERE it.item_id = i.id), '{}') AS tags,
       coalesce((SELECT jsonb_object_agg(v.key, (v.value -> 'value')::jsonb)
                 FROM json_each(i.column_values) AS v), '{}') AS custom_values,
       octet_length(i.column_values::text) AS values_bytes
FROM matching m
JOIN items i ON i.id = m.id
LEFT JOIN users c ON c.id = i.creator_id
ORDER BY m.list_position, m.position, m.id

-- name: send_message
INSERT INTO outbox (account_id, recipient, subject, body, links, sent_at)
VALUES ($1, $2, $3, $4, $5, $6)

-- name: outbox
SELECT recipient, subject, body, links, sent_at FROM outbox ORDER BY id
