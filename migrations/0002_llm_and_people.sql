-- LLM calls, budgets, people in the loop, fix rounds and project memory (issue 3).

-- Every model call, with what it cost. A row is written as `reserved` before the request
-- is sent (holding the estimate against the task's budget) and completed afterwards.
CREATE TABLE llm_calls (
    id              uuid PRIMARY KEY,
    task_id         uuid REFERENCES tasks (id),
    stage           text NOT NULL,
    provider        text NOT NULL,
    model           text NOT NULL,
    input_tokens    bigint NOT NULL DEFAULT 0,
    output_tokens   bigint NOT NULL DEFAULT 0,
    cached_tokens   bigint NOT NULL DEFAULT 0,
    cost_usd        double precision NOT NULL DEFAULT 0,
    latency_ms      bigint NOT NULL DEFAULT 0,
    -- reserved | ok | error | fallback
    outcome         text NOT NULL,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_calls_task_idx ON llm_calls (task_id, created_at);

-- A work item set aside while the task waits for a person (clarification, plan approval,
-- release approval, budget approval); approving or answering puts it back in the outbox.
CREATE TABLE parked_work (
    task_id         uuid PRIMARY KEY REFERENCES tasks (id),
    -- clarification | plan_approval | release_approval | budget_approval
    kind            text NOT NULL,
    subject         text NOT NULL,
    payload         bytea NOT NULL,
    detail          jsonb NOT NULL DEFAULT '{}'::jsonb,
    parked_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clarifications (
    id              uuid PRIMARY KEY,
    task_id         uuid NOT NULL REFERENCES tasks (id),
    ordinal         integer NOT NULL,
    question        text NOT NULL,
    answer          text,
    asked_at        timestamptz NOT NULL DEFAULT now(),
    answered_at     timestamptz,
    UNIQUE (task_id, ordinal)
);

CREATE TABLE approvals (
    id              uuid PRIMARY KEY,
    task_id         uuid NOT NULL REFERENCES tasks (id),
    kind            text NOT NULL,
    decision        text NOT NULL CHECK (decision IN ('approve', 'reject')),
    actor           text NOT NULL,
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Structured errors of a test run (they feed the self-correction loop).
CREATE TABLE test_errors (
    task_id         uuid NOT NULL REFERENCES tasks (id),
    round           integer NOT NULL,
    ordinal         integer NOT NULL,
    tool            text NOT NULL,
    command         text NOT NULL,
    file            text,
    line            integer,
    col             integer,
    message         text NOT NULL,
    PRIMARY KEY (task_id, round, ordinal)
);

CREATE TABLE project_memory (
    id              uuid PRIMARY KEY,
    project_id      uuid NOT NULL REFERENCES projects (id),
    lesson          text NOT NULL,
    source_task_id  uuid REFERENCES tasks (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX project_memory_project_idx ON project_memory (project_id, created_at);

-- Stuck detection compares a round's (diff, errors) fingerprint with earlier rounds'.
ALTER TABLE test_runs ADD COLUMN fingerprint text;
-- Why the self-correction loop stopped at this round (stuck, out of rounds), if it did.
ALTER TABLE test_runs ADD COLUMN stop_reason text;
-- Paths a round changed that need a person's approval (CI workflows, deploy config, policy).
ALTER TABLE commits ADD COLUMN protected_paths jsonb NOT NULL DEFAULT '[]'::jsonb;
-- A revision starts from the project's deployed code; the gate compares against it.
ALTER TABLE tasks ADD COLUMN base_commit text;

-- A person's override is a gate decision of its own for the same round.
ALTER TABLE gate_decisions DROP CONSTRAINT gate_decisions_pkey;
ALTER TABLE gate_decisions ADD COLUMN id bigserial PRIMARY KEY;

-- A stage run that stopped to wait for a person.
ALTER TABLE stage_runs DROP CONSTRAINT stage_runs_status_check;
ALTER TABLE stage_runs ADD CONSTRAINT stage_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted', 'skipped', 'paused'));

-- Plans get versions: rejecting a plan with feedback re-plans into a new version.
ALTER TABLE stories DROP CONSTRAINT stories_task_id_fkey;
ALTER TABLE stories DROP CONSTRAINT stories_pkey;
ALTER TABLE plans DROP CONSTRAINT plans_pkey;
ALTER TABLE plans ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE plans ADD PRIMARY KEY (task_id, version);
ALTER TABLE stories ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE stories ADD PRIMARY KEY (task_id, version, ordinal);
ALTER TABLE stories ADD FOREIGN KEY (task_id, version) REFERENCES plans (task_id, version);
