-- name: charge
-- One statement, so two processes never both spend the last of a budget. A window that has
-- ended (or starts after now: the admin clock went back) restarts with this operation;
-- otherwise the cost is added only if it fits. No row back: it does not fit.
-- $1 account, $2 now, $3 cost, $4 budget, $5 window length
INSERT INTO complexity_budgets AS b (account_id, window_start, used)
VALUES ($1, $2, $3)
ON CONFLICT (account_id) DO UPDATE SET
    window_start = CASE WHEN b.window_start + $5::interval <= $2 OR b.window_start > $2
                        THEN $2 ELSE b.window_start END,
    used = CASE WHEN b.window_start + $5::interval <= $2 OR b.window_start > $2
                THEN $3 ELSE b.used + $3 END
WHERE b.window_start + $5::interval <= $2 OR b.window_start > $2 OR b.used + $3 <= $4::bigint
RETURNING window_start, used

-- name: budget
-- The account's open window, if any. $1 account, $2 now, $3 window length
SELECT window_start, used FROM complexity_budgets
WHERE account_id = $1 AND window_start <= $2 AND window_start + $3::interval > $2
