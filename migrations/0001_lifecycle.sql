-- Kiln lifecycle records. Every stage writes its results here in the same transaction as
-- its inbox row and the outbox rows of the next step (design.md §2, delivery discipline).

CREATE TABLE projects (
    id              uuid PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    template        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
    id              uuid PRIMARY KEY,
    project_id      uuid NOT NULL REFERENCES projects (id),
    kind            text NOT NULL CHECK (kind IN ('new_app', 'revision')),
    template        text NOT NULL,
    brief           text NOT NULL,
    options         jsonb NOT NULL DEFAULT '{}'::jsonb,
    status          text NOT NULL CHECK (status IN (
                        'queued', 'planning', 'awaiting_clarification', 'awaiting_plan_approval',
                        'generating', 'testing', 'fixing', 'reviewing', 'gating',
                        'awaiting_release_approval', 'awaiting_budget_approval', 'deploying',
                        'verifying', 'deployed', 'blocked', 'failed', 'cancelled', 'rolled_back')),
    status_reason   text,
    -- 'offline' when no LLM was used; later the provider chain that served the task.
    llm_mode        text NOT NULL DEFAULT 'offline',
    branch          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
-- Cursor pagination walks (created_at, id) descending.
CREATE INDEX tasks_created_idx ON tasks (created_at DESC, id DESC);
CREATE INDEX tasks_status_idx ON tasks (status);
CREATE INDEX tasks_project_idx ON tasks (project_id);

CREATE TABLE idempotency_keys (
    key             text PRIMARY KEY,
    request_hash    text NOT NULL,
    task_id         uuid NOT NULL REFERENCES tasks (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stage_runs (
    id              uuid PRIMARY KEY,
    task_id         uuid NOT NULL REFERENCES tasks (id),
    stage           text NOT NULL,
    round           integer NOT NULL DEFAULT 0,
    -- JetStream delivery count of the work item this run handled.
    attempt         integer NOT NULL,
    status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted', 'skipped')),
    summary         text,
    worker          text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (task_id, stage, round, attempt)
);
CREATE INDEX stage_runs_task_idx ON stage_runs (task_id, started_at);

CREATE TABLE plans (
    task_id         uuid PRIMARY KEY REFERENCES tasks (id),
    epic            text NOT NULL,
    planner         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stories (
    task_id         uuid NOT NULL REFERENCES plans (task_id),
    ordinal         integer NOT NULL,
    title           text NOT NULL,
    description     text NOT NULL,
    acceptance      jsonb NOT NULL,
    PRIMARY KEY (task_id, ordinal)
);

CREATE TABLE commits (
    task_id         uuid NOT NULL REFERENCES tasks (id),
    round           integer NOT NULL,
    sha             text NOT NULL,
    branch          text NOT NULL,
    message         text NOT NULL,
    files_changed   integer NOT NULL,
    insertions      integer NOT NULL,
    deletions       integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, round)
);

CREATE TABLE test_runs (
    id              uuid PRIMARY KEY,
    task_id         uuid NOT NULL REFERENCES tasks (id),
    round           integer NOT NULL,
    commit_sha      text NOT NULL,
    passed          boolean NOT NULL,
    -- Why the run could not happen at all (missing toolchain), as opposed to failing tests.
    error           text,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    UNIQUE (task_id, round)
);

CREATE TABLE test_commands (
    test_run_id     uuid NOT NULL REFERENCES test_runs (id),
    ordinal         integer NOT NULL,
    phase           text NOT NULL CHECK (phase IN ('install', 'build', 'test')),
    command         text NOT NULL,
    exit_code       integer,
    timed_out       boolean NOT NULL,
    duration_ms     bigint NOT NULL,
    output_tail     text NOT NULL,
    PRIMARY KEY (test_run_id, ordinal)
);

CREATE TABLE reviews (
    id              uuid PRIMARY KEY,
    task_id         uuid NOT NULL REFERENCES tasks (id),
    round           integer NOT NULL,
    reviewer        text NOT NULL,
    verdict         text NOT NULL CHECK (verdict IN ('pass', 'concerns', 'block')),
    summary         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (task_id, round, reviewer)
);

CREATE TABLE review_findings (
    review_id       uuid NOT NULL REFERENCES reviews (id),
    ordinal         integer NOT NULL,
    rule            text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    file            text,
    line            integer,
    message         text NOT NULL,
    PRIMARY KEY (review_id, ordinal)
);

CREATE TABLE gate_decisions (
    task_id         uuid NOT NULL REFERENCES tasks (id),
    round           integer NOT NULL,
    decision        text NOT NULL CHECK (decision IN ('approved', 'skipped', 'blocked')),
    -- [{code, kind: hard|soft|info, message}]
    reasons         jsonb NOT NULL,
    decided_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, round)
);

CREATE TABLE deployments (
    id              uuid PRIMARY KEY,
    task_id         uuid NOT NULL REFERENCES tasks (id),
    project_id      uuid NOT NULL REFERENCES projects (id),
    commit_sha      text NOT NULL,
    target          text NOT NULL,
    url             text NOT NULL,
    status          text NOT NULL CHECK (status IN ('live', 'failed', 'superseded', 'stopped', 'rolled_back')),
    -- {ok, checks: [{name, ok, detail}]}
    verification    jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (task_id, commit_sha)
);
-- At most one live deployment per project: the deployer restores exactly these on start.
CREATE UNIQUE INDEX deployments_one_live_idx ON deployments (project_id) WHERE status = 'live';

CREATE TABLE index_runs (
    project_id      uuid NOT NULL REFERENCES projects (id),
    commit_sha      text NOT NULL,
    task_id         uuid REFERENCES tasks (id),
    files           integer NOT NULL,
    bytes           bigint NOT NULL,
    indexed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, commit_sha)
);

CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    task_id         uuid REFERENCES tasks (id),
    actor           text NOT NULL,
    action          text NOT NULL,
    detail          jsonb NOT NULL DEFAULT '{}'::jsonb,
    at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE control_flags (
    name            text PRIMARY KEY,
    value           jsonb NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Delivery discipline. The inbox makes handlers idempotent: a message id recorded here was
-- fully handled, and its effects committed in the same transaction.
CREATE TABLE inbox (
    consumer        text NOT NULL,
    message_id      text NOT NULL,
    processed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- The outbox holds messages written with the state change that caused them; a relay
-- publishes them with Nats-Msg-Id = id and marks them sent.
CREATE TABLE outbox (
    id              uuid PRIMARY KEY,
    -- Publish order: rows written by one transaction go out in the order they were written.
    seq             bigserial NOT NULL,
    subject         text NOT NULL,
    payload         bytea NOT NULL,
    headers         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (seq) WHERE sent_at IS NULL;
