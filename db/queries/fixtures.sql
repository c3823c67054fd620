-- Loading is additive (CONTRACT §4): a NULL parameter is a key the fixture left out, so a new
-- record takes the default and an existing one keeps what it has. PostgreSQL checks NOT NULL
-- on the row an INSERT proposes before ON CONFLICT turns it into an update, so a required
-- value the fixture leaves out is read from the stored record: NULL (refused) for a new one.

-- name: upsert_account
INSERT INTO accounts (id, name, slug, plan)
VALUES ($1::bigint, coalesce($2, (SELECT name FROM accounts WHERE id = $1)),
        coalesce($3, $1::bigint::text), coalesce($4, 'basic'))
ON CONFLICT (id) DO UPDATE SET name = coalesce($2, accounts.name),
    slug = coalesce($3, accounts.slug), plan = coalesce($4, accounts.plan)

-- name: upsert_user
INSERT INTO users (id, account_id, name, email, token_hash, token_id, token_secret_hash, is_admin, enabled, kind)
VALUES ($1, coalesce($2, (SELECT account_id FROM users WHERE id = $1)),
        coalesce($3, (SELECT name FROM users WHERE id = $1)), coalesce($4, ''), $5, $6, $7,
        coalesce($8, false), coalesce($9, true), coalesce($10, 'member'))
ON CONFLICT (id) DO UPDATE SET account_id = coalesce($2, users.account_id),
    name = coalesce($3, users.name), email = coalesce($4, users.email),
    token_hash = coalesce($5, users.token_hash), token_id = coalesce($6, users.token_id),
    token_secret_hash = coalesce($7, users.token_secret_hash),
    is_admin = coalesce($8, users.is_admin), enabled = coalesce($9, users.enabled),
    kind = coalesce($10, users.kind)

-- name: upsert_team
INSERT INTO teams (id, account_id, name)
VALUES ($1, coalesce($2, (SELECT account_id FROM teams WHERE id = $1)),
        coalesce($3, (SELECT name FROM teams WHERE id = $1)))
ON CONFLICT (id) DO UPDATE SET account_id = coalesce($2, teams.account_id),
    name = coalesce($3, teams.name)

-- name: add_team_member
INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING

-- name: upsert_board
-- $11 and $12 are the uid and slug a new board gets when the fixture names none.
INSERT INTO boards (id, account_id, name, uid, slug, description, board_kind, state, hierarchy_levels, owner_id)
VALUES (coalesce($1, nextval('boards_id_seq')), coalesce($2, (SELECT account_id FROM boards WHERE id = $1)),
        coalesce($3, (SELECT name FROM boards WHERE id = $1)), coalesce($4, $11), coalesce($5, $12), $6,
        coalesce($7, 'public'), coalesce($8, 'active'), coalesce($9, 1), $10)
ON CONFLICT (id) DO UPDATE SET account_id = coalesce($2, boards.account_id),
    name = coalesce($3, boards.name), uid = coalesce($4, boards.uid),
    slug = coalesce($5, boards.slug), description = coalesce($6, boards.description),
    board_kind = coalesce($7, boards.board_kind), state = coalesce($8, boards.state),
    hierarchy_levels = coalesce($9, boards.hierarchy_levels),
    owner_id = coalesce($10, boards.owner_id)
RETURNING id, account_id, owner_id

-- name: upsert_board_member
INSERT INTO board_members (board_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (board_id, user_id) DO UPDATE SET role = EXCLUDED.role

-- name: add_default_group
-- A board needs a group for its items; one that has any (even deleted ones) keeps them as they are.
INSERT INTO groups (board_id, id, title, position)
SELECT $1, 'topics', 'Group Title', 0
WHERE NOT EXISTS (SELECT 1 FROM groups WHERE board_id = $1)

-- name: upsert_group
-- A new group goes after the board's last one; an existing group keeps its place.
INSERT INTO groups (board_id, id, title, position)
VALUES ($1, $2, coalesce($3, $2), (SELECT coalesce(max(position), -1) + 1 FROM groups WHERE board_id = $1))
ON CONFLICT (board_id, id) DO UPDATE SET title = coalesce($3, groups.title)

-- name: upsert_column
-- A new column goes after the board's last one; an existing column keeps its place.
INSERT INTO columns (board_id, id, title, type, settings, position)
VALUES ($1, $2, coalesce($3, $2), coalesce($4, (SELECT type FROM columns WHERE board_id = $1 AND id = $2)),
        coalesce($5::jsonb, '{}'::jsonb),
        (SELECT coalesce(max(position), -1) + 1 FROM columns WHERE board_id = $1))
ON CONFLICT (board_id, id) DO UPDATE SET title = coalesce($3, columns.title),
    type = coalesce($4, columns.type), settings = coalesce($5::jsonb, columns.settings)

-- name: upsert_item
-- A new item goes after the board's last one (as items.sql places created items), in the
-- board's first group unless the fixture names one, one level below its parent, created by
-- the board's owner unless the fixture says otherwise. An existing item keeps its place,
-- group, level and creator unless it moves to another board or the fixture gives them.
-- (SET expressions read the row as it was, so items.board_id is the board before the load.)
INSERT INTO items (id, board_id, group_id, parent_id, level, name, position, creator_id)
VALUES (coalesce($1, nextval('items_id_seq')), $2,
        coalesce($3, (SELECT g.id FROM groups g WHERE g.board_id = $2 AND NOT g.deleted
                      ORDER BY g.position, g.id LIMIT 1)),
        $4, coalesce($5, (SELECT p.level + 1 FROM items p WHERE p.id = $4), 1),
        coalesce($6, (SELECT s.name FROM items s WHERE s.id = $1)),
        (SELECT coalesce(max(i.position), 0) + 1 FROM items i WHERE i.board_id = $2),
        coalesce($7, (SELECT b.owner_id FROM boards b WHERE b.id = $2)))
ON CONFLICT (id) DO UPDATE SET
    group_id = CASE WHEN $3 IS NULL AND items.board_id = $2 THEN items.group_id ELSE EXCLUDED.group_id END,
    position = CASE WHEN items.board_id = $2 THEN items.position ELSE EXCLUDED.position END,
    board_id = $2, parent_id = coalesce($4, items.parent_id),
    level = CASE WHEN $5 IS NULL AND $4 IS NULL THEN items.level ELSE EXCLUDED.level END,
    name = coalesce($6, items.name), creator_id = coalesce($7, items.creator_id)
RETURNING id

-- name: board_columns
SELECT id, title, type, settings FROM columns WHERE board_id = $1

-- name: upsert_column_values
-- An item's fixture values laid over the ones it has.
UPDATE items SET column_values = (column_values::jsonb || $2::jsonb)::json WHERE id = $1

-- name: bump_sequences
-- Fixture ids are kept; generated ids must start above them.
SELECT setval('boards_id_seq', greatest((SELECT max(id) FROM boards), (SELECT last_value FROM boards_id_seq))),
       setval('items_id_seq', greatest((SELECT max(id) FROM items), (SELECT last_value FROM items_id_seq)))

-- name: lock_data
-- First in a reset: the data lock alone, once every export transaction holding it shared
-- (exports.sql `share_data`) is over; a reading export sees a reset waiting and lets go.
SELECT pg_advisory_xact_lock(727005)

-- name: reset_all
-- The tables are locked in this order: import jobs first, as a job's chunk locks its job's row
-- before anything else, so a chunk and a reset wait for each other instead of deadlocking.
TRUNCATE import_jobs, import_rows, import_clean_rows, accounts, users, teams, team_members,
    boards, board_members, columns, groups, items, tags, item_tags, activity_log, usage_events,
    item_assignees, progress_events, outbox, export_requests, faults, complexity_budgets CASCADE

-- name: reset_clock
UPDATE server_clock SET offset_seconds = 0
