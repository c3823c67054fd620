-- name: users_of_kind
-- monday's `users` query: $3 is its UserKind (NULL = all); guests are users of kind 'guest',
-- pending users (invited, not joined yet) of kind 'pending'.
SELECT u.*, a.plan AS account_plan, a.slug AS account_slug
FROM users u JOIN accounts a ON a.id = u.account_id
WHERE u.account_id = $1
  AND ($2::bigint[] IS NULL OR u.id = ANY($2))
  AND CASE $3::text
        WHEN 'guests' THEN u.kind = 'guest'
        WHEN 'non_guests' THEN u.kind <> 'guest'
        WHEN 'non_pending' THEN u.kind <> 'pending'
        ELSE true
      END
ORDER BY CASE WHEN $4 THEN u.created_at END DESC, CASE WHEN $4 THEN u.id END DESC, u.id
LIMIT $5
