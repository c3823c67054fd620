-- name: user_by_token
SELECT u.*, a.plan AS account_plan, a.slug AS account_slug
FROM users u JOIN accounts a ON a.id = u.account_id
WHERE u.token_hash = $1 AND u.enabled

-- name: user_by_token_pair
SELECT u.*, a.plan AS account_plan, a.slug AS account_slug
FROM users u JOIN accounts a ON a.id = u.account_id
WHERE u.token_id = $1 AND u.token_secret_hash = $2 AND u.enabled
  AND ($3::text IS NULL OR a.slug = $3)

-- name: users_of_account
SELECT u.*, a.plan AS account_plan, a.slug AS account_slug
FROM users u JOIN accounts a ON a.id = u.account_id
WHERE u.account_id = $1 AND ($2::bigint[] IS NULL OR u.id = ANY($2))
ORDER BY u.id
LIMIT $3 OFFSET $4

-- name: teams_of_account
SELECT t.id, t.name, t.account_id,
       coalesce(array_agg(m.user_id ORDER BY m.user_id) FILTER (WHERE m.user_id IS NOT NULL), '{}') AS user_ids
FROM teams t LEFT JOIN team_members m ON m.team_id = t.id
WHERE t.account_id = $1 AND ($2::bigint[] IS NULL OR t.id = ANY($2))
GROUP BY t.id
ORDER BY t.id

-- name: account
SELECT * FROM accounts WHERE id = $1

-- name: directory_users
SELECT id, name, email, enabled FROM users WHERE account_id = $1

-- name: directory_teams
SELECT id, name FROM teams WHERE account_id = $1

-- name: revoke_token
-- The token stops working, and every process hears of it (on commit) to close its sockets.
WITH revoked AS (UPDATE users SET token_hash = NULL WHERE token_hash = $1 RETURNING id)
SELECT id, pg_notify($2, id::text) FROM revoked

-- name: directory_tags
-- The tags a board's values may hold: the account-wide ones and the board's own, never another
-- board's private tags ($2 NULL: every tag of the account, to read stored values). The board's
-- own come last, so that a name both have resolves to the board's tag, as monday's private
-- boards keep tags of their own.
SELECT id, name FROM tags
WHERE account_id = $1 AND ($2::bigint IS NULL OR board_id IS NULL OR board_id = $2)
ORDER BY board_id IS NOT NULL, id
