-- Fault injection (admin API): the next `remaining` calls of an operation fail as configured.
CREATE TABLE IF NOT EXISTS faults (
    id         bigserial PRIMARY KEY,
    operation  text NOT NULL,
    error      text NOT NULL,
    remaining  integer NOT NULL CHECK (remaining >= 0),
    params     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS faults_operation_idx ON faults (operation) WHERE remaining > 0;
