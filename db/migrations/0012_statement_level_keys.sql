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

-- The triggers that stand for one foreign key `owner (columns) REFERENCES target (keys)
-- ON DELETE action` besides the owner's insert check: updates of the reference checked, deletes
-- of the target cascaded, changes of the target's key refused. Trigger names start with `name`.
CREATE OR REPLACE FUNCTION pg_temp.stand_in_for_key(
    name text, owner text, columns text, target text, keys text, action text
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'CREATE OR REPLACE TRIGGER %I AFTER UPDATE OF %s ON %I FOR EACH ROW '
        'WHEN ((%s) IS DISTINCT FROM (%s)) EXECUTE FUNCTION check_references(%L, %L, %L)',
        name || '_updated', columns, owner, regexp_replace(columns, '(\w+)', 'OLD.\1', 'g'),
        regexp_replace(columns, '(\w+)', 'NEW.\1', 'g'), columns, target, keys);
    EXECUTE format(
        'CREATE OR REPLACE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
        'FOR EACH STATEMENT EXECUTE FUNCTION cascade_references(%L, %L, %L, %L)',
        name || '_target_deleted', target, owner, columns, keys, action);
    EXECUTE format(
        'CREATE OR REPLACE TRIGGER %I AFTER UPDATE OF %s ON %I FOR EACH ROW '
        'WHEN ((%s) IS DISTINCT FROM (%s)) '
        'EXECUTE FUNCTION refuse_referenced_key_change(%L, %L, %L)',
        name || '_target_key', keys, target, regexp_replace(keys, '(\w+)', 'OLD.\1', 'g'),
        regexp_replace(keys, '(\w+)', 'NEW.\1', 'g'), owner, columns, keys);
END $$;

SELECT pg_temp.stand_in_for_key('items_group', 'items', 'board_id, group_id', 'groups', 'board_id, id', 'cascade');
SELECT pg_temp.stand_in_for_key('items_creator', 'items', 'creator_id', 'users', 'id', 'set null');
SELECT pg_temp.stand_in_for_key('activity_board', 'activity_log', 'board_id', 'boards', 'id', 'cascade');
SELECT pg_temp.stand_in_for_key('activity_item', 'activity_log', 'item_id', 'items', 'id', 'cascade');
SELECT pg_temp.stand_in_for_key('activity_user', 'activity_log', 'user_id', 'users', 'id', 'set null');
