-- name: upsert_account
INSERT INTO accounts (id, name, slug, plan) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, slug = EXCLUDED.slug, plan = EXCLUDED.plan

-- name: upsert_user
INSERT INTO users (id, account_id, name, email, token_hash, token_id, token_secret_hash, is_admin, enabled, kind)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (id) DO UPDATE SET account_id = EXCLUDED.account_id, name = EXCLUDED.name,
    email = EXCLUDED.email, token_hash = EXCLUDED.token_hash, token_id = EXCLUDED.token_id,
    token_secret_hash = EXCLUDED.token_secret_hash, is_admin = EXCLUDED.is_admin,
    enabled = EXCLUDED.enabled, kind = EXCLUDED.kind

-- name: upsert_team
INSERT INTO teams (id, account_id, name) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET account_id = EXCLUDED.account_id, name = EXCLUDED.name

-- name: add_team_member
INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING

-- name: upsert_board
INSERT INTO boards (id, account_id, name, uid, slug, description, board_kind, state, hierarchy_levels, owner_id)
VALUES (coalesce($1, nextval('boards_id_seq')), $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, uid = EXCLUDED.uid, slug = EXCLUDED.slug,
    description = EXCLUDED.description, board_kind = EXCLUDED.board_kind, state = EXCLUDED.state,
    hierarchy_levels = EXCLUDED.hierarchy_levels, owner_id = EXCLUDED.owner_id
RETURNING id

-- name: upsert_board_member
INSERT INTO board_members (board_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (board_id, user_id) DO UPDATE SET role = EXCLUDED.role

-- name: upsert_group
INSERT INTO groups (board_id, id, title, position) VALUES ($1, $2, $3, $4)
ON CONFLICT (board_id, id) DO UPDATE SET title = EXCLUDED.title, position = EXCLUDED.position

-- name: upsert_column
INSERT INTO columns (board_id, id, title, type, settings, position) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (board_id, id) DO UPDATE SET title = EXCLUDED.title, type = EXCLUDED.type,
    settings = EXCLUDED.settings, position = EXCLUDED.position

-- name: upsert_item
INSERT INTO items (id, board_id, group_id, parent_id, level, name, position, creator_id)
VALUES (coalesce($1, nextval('items_id_seq')), $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO UPDATE SET board_id = EXCLUDED.board_id, group_id = EXCLUDED.group_id,
    parent_id = EXCLUDED.parent_id, level = EXCLUDED.level, name = EXCLUDED.name,
    position = EXCLUDED.position
RETURNING id

-- name: upsert_column_values
-- An item's fixture values laid over the ones it has.
UPDATE items SET column_values = (column_values::jsonb || $2::jsonb)::json WHERE id = $1

-- name: bump_sequences
-- Fixture ids are kept; generated ids must start above them.
SELECT setval('boards_id_seq', greatest((SELECT max(id) FROM boards), (SELECT last_value FROM boards_id_seq))),
       setval('items_id_seq', greatest((SELECT max(id) FROM items), (SELECT last_value FROM items_id_seq)))

-- name: reset_all
TRUNCATE accounts, users, teams, team_members, boards, board_members, columns, groups, items,
    tags, item_tags, activity_log, import_jobs, import_rows, import_clean_rows, usage_events,
    item_assignees, progress_events, outbox, export_requests, faults, complexity_budgets CASCADE

-- name: reset_clock
UPDATE server_clock SET offset_seconds = 0
