-- monday's complexity budget: one window per account, shared by every process on the database.
CREATE TABLE IF NOT EXISTS complexity_budgets (
    account_id    bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    window_start  timestamptz NOT NULL,
    used          bigint NOT NULL
);
