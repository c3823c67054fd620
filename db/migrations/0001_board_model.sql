-- The one data model behind both API dialects: a Blue workspace is a board, a list is a
-- group, a custom field is a column and a record is an item.

CREATE TABLE IF NOT EXISTS accounts (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    slug        text NOT NULL UNIQUE,
    plan        text NOT NULL DEFAULT 'basic',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS users (
    id                  bigint PRIMARY KEY,
    account_id          bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name                text NOT NULL,
    email               text NOT NULL,
    -- tokens are stored as SHA-256 hex digests, never in clear
    token_hash          text UNIQUE,
    token_id            text UNIQUE,
    token_secret_hash   text,
    is_admin            boolean NOT NULL DEFAULT false,
    enabled             boolean NOT NULL DEFAULT true,
    kind                text NOT NULL DEFAULT 'member',
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS users_account_idx ON users (account_id);

CREATE TABLE IF NOT EXISTS teams (
    id          bigint PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        text NOT NULL
);

CREATE TABLE IF NOT EXISTS team_members (
    team_id  bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);

CREATE SEQUENCE IF NOT EXISTS boards_id_seq START 5000000000;
CREATE TABLE IF NOT EXISTS boards (
    id                bigint PRIMARY KEY DEFAULT nextval('boards_id_seq'),
    account_id        bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name              text NOT NULL,
    uid               text NOT NULL UNIQUE,
    slug              text NOT NULL,
    description       text,
    board_kind        text NOT NULL DEFAULT 'public',
    state             text NOT NULL DEFAULT 'active',
    hierarchy_levels  integer NOT NULL DEFAULT 1 CHECK (hierarchy_levels BETWEEN 1 AND 5),
    owner_id          bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, slug)
);

CREATE TABLE IF NOT EXISTS board_members (
    board_id  bigint NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'CLIENT', 'COMMENT_ONLY', 'VIEW_ONLY')),
    PRIMARY KEY (board_id, user_id)
);

CREATE TABLE IF NOT EXISTS columns (
    board_id  bigint NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    id        text NOT NULL,
    title     text NOT NULL,
    type      text NOT NULL,
    settings  jsonb NOT NULL DEFAULT '{}',
    position  integer NOT NULL,
    archived  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (board_id, id)
);

CREATE TABLE IF NOT EXISTS groups (
    board_id  bigint NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    id        text NOT NULL,
    title     text NOT NULL,
    color     text NOT NULL DEFAULT '#579bfc',
    position  integer NOT NULL,
    archived  boolean NOT NULL DEFAULT false,
    deleted   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (board_id, id)
);

CREATE SEQUENCE IF NOT EXISTS items_id_seq START 9000000000;
CREATE TABLE IF NOT EXISTS items (
    id          bigint PRIMARY KEY DEFAULT nextval('items_id_seq'),
    board_id    bigint NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    group_id    text NOT NULL,
    parent_id   bigint REFERENCES items (id) ON DELETE CASCADE,
    level       integer NOT NULL DEFAULT 1,
    name        text NOT NULL,
    position    bigint NOT NULL DEFAULT 0,
    creator_id  bigint REFERENCES users (id) ON DELETE SET NULL,
    state       text NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (board_id, group_id) REFERENCES groups (board_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS items_board_idx ON items (board_id, position);
CREATE INDEX IF NOT EXISTS items_parent_idx ON items (parent_id);

-- value is the monday API v2 JSON of the column type; text is monday's display text.
CREATE TABLE IF NOT EXISTS column_values (
    item_id    bigint NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    column_id  text NOT NULL,
    value      jsonb NOT NULL,
    text       text NOT NULL,
    PRIMARY KEY (item_id, column_id)
);
CREATE INDEX IF NOT EXISTS column_values_match_idx ON column_values (column_id, text);

CREATE SEQUENCE IF NOT EXISTS tags_id_seq START 100000;
CREATE TABLE IF NOT EXISTS tags (
    id          bigint PRIMARY KEY DEFAULT nextval('tags_id_seq'),
    account_id  bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    board_id    bigint REFERENCES boards (id) ON DELETE CASCADE,
    name        text NOT NULL,
    color       text NOT NULL DEFAULT '#579bfc'
);

CREATE TABLE IF NOT EXISTS item_tags (
    item_id  bigint NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    tag_id   bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (item_id, tag_id)
);

CREATE TABLE IF NOT EXISTS activity_log (
    id          bigserial PRIMARY KEY,
    board_id    bigint NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    item_id     bigint REFERENCES items (id) ON DELETE CASCADE,
    user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    event       text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS activity_log_board_idx ON activity_log (board_id, id);

-- The admin clock: an offset every process applies to its notion of "now".
CREATE TABLE IF NOT EXISTS server_clock (
    id              integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    offset_seconds  double precision NOT NULL DEFAULT 0
);
INSERT INTO server_clock (id, offset_seconds) VALUES (1, 0) ON CONFLICT DO NOTHING;
