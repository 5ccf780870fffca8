-- Change tasks on any project with code, attached ones included (kind `change`). A change
-- that passed the gate on a project with no deploy recipe ends `merged` (on the project's
-- main branch, nothing deployed).
ALTER TABLE tasks DROP CONSTRAINT tasks_kind_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_kind_check CHECK (kind IN ('new_app', 'revision', 'change'));

ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check CHECK (status IN (
    'queued', 'planning', 'awaiting_clarification', 'awaiting_plan_approval',
    'generating', 'testing', 'fixing', 'reviewing', 'gating',
    'awaiting_release_approval', 'awaiting_budget_approval', 'deploying',
    'verifying', 'paused', 'deployed', 'merged', 'blocked', 'failed', 'cancelled',
    'rolled_back'));

-- Project settings given through the API (`PUT /api/v1/projects/{name}/settings`): the same
-- overrides as a checked-in .kiln/project.toml, applied on top of it.
ALTER TABLE projects ADD COLUMN settings jsonb;
