-- Only subitems have a parent: the index on items.parent_id held an entry for every
-- top-level item too, which each imported row paid for (about 0.5-1 µs of PostgreSQL's CPU a
-- row in a COPY of bench rows) and which no query reads. Every lookup by parent (children of
-- an item, `parent_id = ANY(...)`, the cascade from a deleted parent) compares with `=`,
-- which implies IS NOT NULL, so the planner still takes the partial index.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_indexes
                   WHERE indexname = 'items_parent_idx' AND indexdef LIKE '%WHERE%') THEN
        DROP INDEX IF EXISTS items_parent_idx;
        CREATE INDEX items_parent_idx ON items (parent_id) WHERE parent_id IS NOT NULL;
    END IF;
END $$;
