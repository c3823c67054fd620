-- Which item a running import's match key finds can change under it: an item created by the
-- v2 API (or a duplicate) with a key the file creates too, a value or name changed meanwhile.
-- Every such write outside an import stamps the item from this sequence while it holds the
-- board's row lock (FOR SHARE at least), so that each chunk of an import, holding that lock
-- itself, reads the stamps past the last it saw (imports.sql key_changes) and matches by the
-- keys as they are (server/imports/matchkeys.py). An import's own rows are never stamped: the
-- index holds only the stamped items, and costs the bulk path nothing.
CREATE SEQUENCE IF NOT EXISTS item_key_changes_seq;
ALTER TABLE items ADD COLUMN IF NOT EXISTS key_change bigint;
CREATE INDEX IF NOT EXISTS items_key_change_idx ON items (board_id, key_change)
    WHERE key_change IS NOT NULL;
