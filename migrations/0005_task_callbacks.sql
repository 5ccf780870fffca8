-- Task-scoped webhook subscriptions: the compatibility route POST /api/v1/tasks/ready
-- subscribes its `evaluation_url` to one task's events, and only to those that end it.

-- the one task whose events the subscription wants; none: every task
ALTER TABLE webhook_subscriptions
    ADD COLUMN task_id uuid REFERENCES tasks (id) ON DELETE CASCADE;
-- task statuses wanted (an event carries the status it left the task in); empty: any
ALTER TABLE webhook_subscriptions
    ADD COLUMN statuses text[] NOT NULL DEFAULT '{}';

CREATE INDEX webhook_subscriptions_task ON webhook_subscriptions (task_id)
    WHERE task_id IS NOT NULL;
