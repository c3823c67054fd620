-- Rows that were created or updated cleanly, with nothing to report, are kept one chunk to a
-- row: their lines, outcomes and items as arrays. A row of `import_rows` per clean line cost
-- about a third of what PostgreSQL spent on a bulk import (a tuple, a key entry and a foreign
-- key check each; measured by `python -m bench`). Rows a report lists stay in `import_rows`.
-- first_line is a chunk's first line: a chunk written twice violates the key, as a line
-- written twice violates import_rows's.
CREATE TABLE IF NOT EXISTS import_clean_rows (
    job_id      uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    first_line  integer NOT NULL,
    lines       integer[] NOT NULL,
    statuses    text[] NOT NULL,
    item_ids    bigint[] NOT NULL,
    PRIMARY KEY (job_id, first_line)
);
