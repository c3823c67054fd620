-- monday API v2 objects that have no place in the board model yet: updates on items,
-- notifications sent to users, and one public tag per name in an account.

CREATE SEQUENCE IF NOT EXISTS updates_id_seq START 700000000;
CREATE TABLE IF NOT EXISTS updates (
    id          bigint PRIMARY KEY DEFAULT nextval('updates_id_seq'),
    board_id    bigint NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    item_id     bigint NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    creator_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS updates_item_idx ON updates (item_id, id);
CREATE INDEX IF NOT EXISTS updates_board_idx ON updates (board_id, id);

CREATE SEQUENCE IF NOT EXISTS notifications_id_seq START 800000000;
CREATE TABLE IF NOT EXISTS notifications (
    id           bigint PRIMARY KEY DEFAULT nextval('notifications_id_seq'),
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sender_id    bigint REFERENCES users (id) ON DELETE SET NULL,
    target_id    bigint NOT NULL,
    target_type  text NOT NULL,   -- Project (a board or an item) | Post (an update)
    text         text NOT NULL,
    payload      jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS notifications_user_idx ON notifications (user_id, id);

-- tags_board_name_idx leaves board_id NULL (public tags) out: NULLs never conflict
CREATE UNIQUE INDEX IF NOT EXISTS tags_public_name_idx
    ON tags (account_id, lower(name)) WHERE board_id IS NULL;

-- a group's items, in board order (group.items, duplicate_group, archive_group)
CREATE INDEX IF NOT EXISTS items_group_idx ON items (board_id, group_id, position);
