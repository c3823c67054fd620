-- Every lookup of a value goes through its item (the primary key (item_id, column_id)): the
-- extra indexes only slowed each write of a value row (measured by `python -m bench`).
DROP INDEX IF EXISTS column_values_text_hash_idx;
DROP INDEX IF EXISTS column_values_column_idx;
