-- The foreign keys that every imported row went through are checked once per statement
-- instead of once per row. A foreign key is a trigger call and a keyed lookup per inserted
-- row: on `items` the keys to groups and users cost about a quarter of what a bulk COPY spent
-- in PostgreSQL, and `activity_log` (a row per item an ingest job writes) paid three more
-- (measured by `python -m bench` and a COPY of the same rows into copies of the table).
--
-- The triggers below keep what the keys guaranteed:
-- - an inserted or updated reference must exist. The referenced rows are locked FOR KEY SHARE,
--   as a foreign key check locks them, so a delete running at the same time waits for the
--   inserting transaction and then cascades to what it inserted;
-- - deleting a referenced row cascades (or sets the reference to NULL) as ON DELETE did;
-- - a referenced key cannot change while rows refer to it (NO ACTION on update).
-- TRUNCATE is not covered: the admin reset truncates all the tables in one statement.
-- Keys that see few rows (items' parent, assignees, tags, import rows) stay foreign keys.

CREATE OR REPLACE FUNCTION raise_missing_reference(owner text, columns text, target text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'insert or update on table "%" violates the reference (%) to "%"',
        owner, columns, target USING ERRCODE = 'foreign_key_violation';
END $$;

-- After each INSERT statement, its rows (the transition table new_rows) checked at once: each
-- distinct reference must lock an existing row. Static SQL, so PL/pgSQL keeps the plans:
-- the same check written once with EXECUTE cost a single-row insert 0.3 ms of planning.
CREATE OR REPLACE FUNCTION items_check_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM (SELECT DISTINCT board_id, group_id FROM new_rows) AS wanted)
       > (SELECT count(*) FROM (SELECT 1 FROM groups
                                WHERE (board_id, id) IN (SELECT board_id, group_id FROM new_rows)
                                FOR KEY SHARE) AS held) THEN
        PERFORM raise_missing_reference('items', 'board_id, group_id', 'groups');
    END IF;
    IF (SELECT count(DISTINCT creator_id) FROM new_rows)  -- NULLs are not counted
       > (SELECT count(*) FROM (SELECT 1 FROM users WHERE id IN (SELECT creator_id FROM new_rows)
                                FOR KEY SHARE) AS held) THEN
        PERFORM raise_missing_reference('items', 'creator_id', 'users');
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION activity_check_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(DISTINCT board_id) FROM new_rows)
       > (SELECT count(*) FROM (SELECT 1 FROM boards WHERE id IN (SELECT board_id FROM new_rows)
                                FOR KEY SHARE) AS held) THEN
        PERFORM raise_missing_reference('activity_log', 'board_id', 'boards');
    END IF;
    IF (SELECT count(DISTINCT item_id) FROM new_rows)
       > (SELECT count(*) FROM (SELECT 1 FROM items WHERE id IN (SELECT item_id FROM new_rows)
                                FOR KEY SHARE) AS held) THEN
        PERFORM raise_missing_reference('activity_log', 'item_id', 'items');
    END IF;
    IF (SELECT count(DISTINCT user_id) FROM new_rows)
       > (SELECT count(*) FROM (SELECT 1 FROM users WHERE id IN (SELECT user_id FROM new_rows)
                                FOR KEY SHARE) AS held) THEN
        PERFORM raise_missing_reference('activity_log', 'user_id', 'users');
    END IF;
    RETURN NULL;
END $$;

-- A row trigger for updates that change references (rare: moving an item to another group).
-- TG_ARGV: the referencing columns, the referenced table, its key columns (SQL lists, from
-- this file only).
CREATE OR REPLACE FUNCTION check_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    EXECUTE format(
        'WITH wanted AS (SELECT DISTINCT %1$s FROM (SELECT ($1).*) AS n WHERE ROW(%1$s) IS NOT NULL), '
        '     held AS (SELECT 1 FROM %2$I WHERE (%3$s) IN (SELECT %1$s FROM wanted) FOR KEY SHARE) '
        'SELECT (SELECT count(*) FROM wanted) - (SELECT count(*) FROM held)',
        TG_ARGV[0], TG_ARGV[1], TG_ARGV[2])
    INTO missing USING NEW;
    IF missing > 0 THEN
        PERFORM raise_missing_reference(TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[1]);
    END IF;
    RETURN NULL;
END $$;

-- TG_ARGV: the referencing table, its referencing columns, the key columns of the table the
-- trigger is on, and 'cascade' or 'set null' (one referencing column). Reads `old_rows`.
CREATE OR REPLACE FUNCTION cascade_references() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_ARGV[3] = 'cascade' THEN
        EXECUTE format('DELETE FROM %1$I WHERE (%2$s) IN (SELECT %3$s FROM old_rows)',
                       TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]);
    ELSE
        EXECUTE format('UPDATE %1$I SET %2$s = NULL WHERE %2$s IN (SELECT %3$s FROM old_rows)',
                       TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]);
    END IF;
    RETURN NULL;
END $$;

-- A row trigger on the referenced table, fired only when its key changes. TG_ARGV as for
-- cascade_references, less the action.
CREATE OR REPLACE FUNCTION refuse_referenced_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    referenced boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %1$I WHERE (%2$s) = (SELECT %3$s FROM (SELECT ($1).*) AS o))',
                   TG_ARGV[0], TG_ARGV[1], TG_ARGV[2])
    INTO referenced USING OLD;
    IF referenced THEN
        RAISE EXCEPTION 'update on table "%" changes a key (%) that "%" refers to',
            TG_TABLE_NAME, TG_ARGV[2], TG_ARGV[0]
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

-- The foreign keys replaced: items -> groups and users; activity_log -> boards, items, users.
DO $$
DECLARE
    replaced record;
BEGIN
    FOR replaced IN
        SELECT conrelid::regclass AS owner, conname FROM pg_constraint
        WHERE contype = 'f'
          AND ((conrelid = 'items'::regclass AND confrelid IN ('groups'::regclass, 'users'::regclass))
               OR conrelid = 'activity_log'::regclass)
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', replaced.owner, replaced.conname);
    END LOOP;
END $$;

CREATE OR REPLACE TRIGGER items_references_inserted AFTER INSERT ON items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION items_check_inserted();
CREATE OR REPLACE TRIGGER activity_references_inserted AFTER INSERT ON activity_log
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION activity_check_inserted();

-- items -> groups (ON DELETE CASCADE)
CREATE OR REPLACE TRIGGER items_group_updated AFTER UPDATE OF board_id, group_id ON items
    FOR EACH ROW WHEN ((OLD.board_id, OLD.group_id) IS DISTINCT FROM (NEW.board_id, NEW.group_id))
    EXECUTE FUNCTION check_references('board_id, group_id', 'groups', 'board_id, id');
CREATE OR REPLACE TRIGGER groups_items_deleted AFTER DELETE ON groups
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION cascade_references('items', 'board_id, group_id', 'board_id, id', 'cascade');
CREATE OR REPLACE TRIGGER groups_items_key AFTER UPDATE OF board_id, id ON groups
    FOR EACH ROW WHEN ((OLD.board_id, OLD.id) IS DISTINCT FROM (NEW.board_id, NEW.id))
    EXECUTE FUNCTION refuse_referenced_key_change('items', 'board_id, group_id', 'board_id, id');

-- items -> users (ON DELETE SET NULL)
CREATE OR REPLACE TRIGGER items_creator_updated AFTER UPDATE OF creator_id ON items
    FOR EACH ROW WHEN (OLD.creator_id IS DISTINCT FROM NEW.creator_id)
    EXECUTE FUNCTION check_references('creator_id', 'users', 'id');
CREATE OR REPLACE TRIGGER users_items_deleted AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION cascade_references('items', 'creator_id', 'id', 'set null');
CREATE OR REPLACE TRIGGER users_items_key AFTER UPDATE OF id ON users
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION refuse_referenced_key_change('items', 'creator_id', 'id');

-- activity_log -> boards (ON DELETE CASCADE)
CREATE OR REPLACE TRIGGER activity_board_updated AFTER UPDATE OF board_id ON activity_log
    FOR EACH ROW WHEN (OLD.board_id IS DISTINCT FROM NEW.board_id)
    EXECUTE FUNCTION check_references('board_id', 'boards', 'id');
CREATE OR REPLACE TRIGGER boards_activity_deleted AFTER DELETE ON boards
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION cascade_references('activity_log', 'board_id', 'id', 'cascade');
CREATE OR REPLACE TRIGGER boards_activity_key AFTER UPDATE OF id ON boards
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION refuse_referenced_key_change('activity_log', 'board_id', 'id');

-- activity_log -> items (ON DELETE CASCADE)
CREATE OR REPLACE TRIGGER activity_item_updated AFTER UPDATE OF item_id ON activity_log
    FOR EACH ROW WHEN (OLD.item_id IS DISTINCT FROM NEW.item_id)
    EXECUTE FUNCTION check_references('item_id', 'items', 'id');
CREATE OR REPLACE TRIGGER items_activity_deleted AFTER DELETE ON items
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION cascade_references('activity_log', 'item_id', 'id', 'cascade');
CREATE OR REPLACE TRIGGER items_activity_key AFTER UPDATE OF id ON items
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION refuse_referenced_key_change('activity_log', 'item_id', 'id');

-- activity_log -> users (ON DELETE SET NULL)
CREATE OR REPLACE TRIGGER activity_user_updated AFTER UPDATE OF user_id ON activity_log
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION check_references('user_id', 'users', 'id');
CREATE OR REPLACE TRIGGER users_activity_deleted AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION cascade_references('activity_log', 'user_id', 'id', 'set null');
CREATE OR REPLACE TRIGGER users_activity_key AFTER UPDATE OF id ON users
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION refuse_referenced_key_change('activity_log', 'user_id', 'id');
