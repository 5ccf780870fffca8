-- The control plane: who may steer Kiln (tokens, roles, dashboard sessions), what they did
-- (a hash-chained audit trail), the kill switch (pause), and the doors people use besides
-- HTTP (chat and tracker intake, outbound webhooks).

-- API tokens. Only a SHA-256 of the secret is kept; the secret is shown once at creation.
CREATE TABLE api_tokens (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    role            text NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
    -- sha256(secret); the lookup key of every authenticated request.
    secret_hash     bytea NOT NULL UNIQUE,
    -- The first characters of the secret, so a person can tell tokens apart.
    hint            text NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
-- One live token per name, so an actor name in the audit trail means one token.
CREATE UNIQUE INDEX api_tokens_live_name_idx ON api_tokens (name) WHERE revoked_at IS NULL;

-- Dashboard sessions: the HttpOnly cookie carries the session secret, whose hash is kept
-- here with the CSRF token every mutation must echo. Revoking the token ends its sessions.
CREATE TABLE api_sessions (
    secret_hash     bytea PRIMARY KEY,
    token_id        uuid NOT NULL REFERENCES api_tokens (id),
    csrf            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);

-- Who asked for a task, and from where: the requester may not approve its own release.
ALTER TABLE tasks ADD COLUMN requested_by text NOT NULL DEFAULT 'unknown';
ALTER TABLE tasks ADD COLUMN source text NOT NULL DEFAULT 'api';

-- The kill switch parks work in flight with the task in `paused`.
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check CHECK (status IN (
    'queued', 'planning', 'awaiting_clarification', 'awaiting_plan_approval',
    'generating', 'testing', 'fixing', 'reviewing', 'gating',
    'awaiting_release_approval', 'awaiting_budget_approval', 'deploying',
    'verifying', 'paused', 'deployed', 'blocked', 'failed', 'cancelled', 'rolled_back'));

-- The audit trail, hash-chained: each row's hash covers its fields and the previous row's
-- hash, so editing or deleting a row breaks the chain (`kiln audit verify`).
ALTER TABLE audit_log ADD COLUMN source text NOT NULL DEFAULT 'api';
ALTER TABLE audit_log ADD COLUMN target text NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN reason text;
ALTER TABLE audit_log ADD COLUMN request_id text;
ALTER TABLE audit_log ADD COLUMN prev_hash bytea;
ALTER TABLE audit_log ADD COLUMN hash bytea;
CREATE INDEX audit_log_task_idx ON audit_log (task_id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);

-- What a row's hash covers; verification recomputes it with the same function.
CREATE FUNCTION kiln_audit_hash(
    id bigint, task_id uuid, actor text, source text, action text, target text,
    reason text, request_id text, detail jsonb, at timestamptz, prev_hash bytea
) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(
        concat_ws(E'\x1f',
            id::text, coalesce(task_id::text, ''), actor, source, action, target,
            coalesce(reason, ''), coalesce(request_id, ''), detail::text,
            to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
            coalesce(encode(prev_hash, 'hex'), '')),
        'UTF8'))
$$;

-- Chains every new row. The advisory lock serialises writers until they commit, and the id
-- is drawn after it, so ids follow chain order and no two rows claim the same predecessor.
CREATE FUNCTION kiln_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7204315);
    NEW.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
    NEW.at := date_trunc('microseconds', clock_timestamp());
    SELECT hash INTO NEW.prev_hash FROM audit_log ORDER BY id DESC LIMIT 1;
    NEW.hash := kiln_audit_hash(NEW.id, NEW.task_id, NEW.actor, NEW.source, NEW.action,
        NEW.target, NEW.reason, NEW.request_id, NEW.detail, NEW.at, NEW.prev_hash);
    RETURN NEW;
END
$$;

-- Rows written before the chain existed are chained now, in id order.
DO $$
DECLARE
    r record;
    prev bytea := NULL;
    h bytea;
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        h := kiln_audit_hash(r.id, r.task_id, r.actor, r.source, r.action, r.target,
            r.reason, r.request_id, r.detail, r.at, prev);
        UPDATE audit_log SET prev_hash = prev, hash = h WHERE id = r.id;
        prev := h;
    END LOOP;
END
$$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION kiln_audit_chain();

-- A delivery from a chat or tracker (Telegram update, Discord interaction, Jira webhook) is
-- handled once: its id is claimed here in the transaction that acts on it.
CREATE TABLE intake_deliveries (
    source          text NOT NULL,
    delivery_id     text NOT NULL,
    task_id         uuid REFERENCES tasks (id),
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, delivery_id)
);

-- Where a task reports back: the chat message Kiln edits in place as stages finish, the
-- Discord interaction it follows up, the Jira issue it comments on.
CREATE TABLE task_threads (
    task_id         uuid NOT NULL REFERENCES tasks (id),
    source          text NOT NULL CHECK (source IN ('telegram', 'discord', 'jira')),
    -- chat id, interaction token or issue key
    channel         text NOT NULL,
    -- the message Kiln edits in place (Telegram message id, Discord message id), once sent
    message_id      text,
    -- the last state reported there, so a redelivered event does not send twice
    last_reported   text,
    detail          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, source)
);

-- Outbound webhooks: subscribers get task events signed with HMAC-SHA256.
CREATE TABLE webhook_subscriptions (
    id              uuid PRIMARY KEY,
    url             text NOT NULL,
    -- event kinds wanted (`created`, `deployed`, ...); empty means every kind
    kinds           text[] NOT NULL DEFAULT '{}',
    -- the signing key; stored because every delivery is signed with it
    secret          text NOT NULL,
    description     text NOT NULL DEFAULT '',
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz
);

-- One event for one subscriber, retried with backoff until delivered or given up.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id),
    -- the event's CloudEvents id: one delivery per (subscription, event)
    event_id        text NOT NULL,
    task_id         uuid,
    kind            text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

-- Every attempt, with what the subscriber answered.
CREATE TABLE webhook_attempts (
    delivery_id     uuid NOT NULL REFERENCES webhook_deliveries (id),
    attempt         integer NOT NULL,
    status_code     integer,
    error           text,
    duration_ms     integer NOT NULL,
    attempted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (delivery_id, attempt)
);
