-- A btree entry must fit in a page, so a long text value could not be stored at all under the
-- old (column_id, text) index. A hash index keeps lookups by text and takes any length.
DROP INDEX IF EXISTS column_values_match_idx;
CREATE INDEX IF NOT EXISTS column_values_text_hash_idx ON column_values USING hash (text);
CREATE INDEX IF NOT EXISTS column_values_column_idx ON column_values (column_id);
