-- An item's column values live on its row as one JSON document,
-- {"<column_id>": {"value": <the column type's JSON>, "text": "<display text>"}, ...}, holding
-- only the columns that have a value: a bulk import was capped by writing one row per value
-- (measured by `python -m bench`). `json`, not `jsonb`: COPY takes it as it comes, cheaper;
-- the statements that merge documents cast to jsonb for `||` and `-`.
ALTER TABLE items ADD COLUMN IF NOT EXISTS column_values json NOT NULL DEFAULT '{}';

-- Moves what the old table holds and drops it (a fresh database runs 0001, which creates it
-- empty, then this).
DO $$
BEGIN
    IF to_regclass('column_values') IS NOT NULL THEN
        UPDATE items i SET column_values = d.document
        FROM (
            SELECT v.item_id,
                   json_object_agg(v.column_id, json_build_object('value', v.value, 'text', v.text)
                                   ORDER BY v.column_id) AS document
            FROM column_values v
            GROUP BY v.item_id
        ) d
        WHERE i.id = d.item_id;
        DROP TABLE column_values;
    END IF;
END $$;

-- items reference groups (board_id, id), which cascade from boards: the direct foreign key to
-- boards added nothing but a trigger call per COPYed row.
DO $$
DECLARE
    redundant text;
BEGIN
    FOR redundant IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'items'::regclass AND confrelid = 'boards'::regclass AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE items DROP CONSTRAINT %I', redundant);
    END LOOP;
END $$;
