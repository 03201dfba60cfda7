CREATE TABLE g_jobs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue       text NOT NULL,
    state       text NOT NULL CHECK (state IN ('new', 'running', 'done')),
    payload     jsonb NOT NULL,
    tags        jsonb,
    attempts    integer NOT NULL DEFAULT 0,
    urgent      boolean NOT NULL,
    run_at      timestamp with time zone NOT NULL,
    finished_at timestamp with time zone,
    owner_id    bigint
);
