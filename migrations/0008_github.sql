-- Projects whose code lives on GitHub: the project is bound to one repository there, Kiln
-- mirrors it locally (as for an imported project), and publishes each task as a pull request
-- from `kiln/<task-id>` with one check run per stage.

-- 'local': the bare repository under the data dir is the only home of the code (default).
-- 'github': `repository` (owner/name) on GitHub is the home; the local repository mirrors it.
ALTER TABLE projects
    ADD COLUMN host text NOT NULL DEFAULT 'local' CHECK (host IN ('local', 'github')),
    ADD COLUMN repository text,
    -- who merges an approved pull request: 'auto' (the gate's approval is enough) or
    -- 'on_approval' (the gate's and a person's, other than the requester)
    ADD COLUMN merge_policy text NOT NULL DEFAULT 'auto' CHECK (merge_policy IN ('auto', 'on_approval')),
    -- write each approved plan as a tracking issue with one task-list item per story
    ADD COLUMN plan_as_issues boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT projects_repository_host CHECK ((host = 'local') = (repository IS NULL));

-- One pull request per task: what Kiln last wrote to it. Looked up on GitHub by head branch
-- before it is ever created, so a lost row never means a second pull request.
CREATE TABLE github_pulls (
    task_id         uuid PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    repository      text NOT NULL,
    number          bigint NOT NULL,
    node_id         text NOT NULL,
    html_url        text NOT NULL,
    -- the commit last pushed to the head branch
    head_sha        text,
    draft           boolean NOT NULL DEFAULT true,
    -- sha256 of the title and body last written, so an unchanged body is not sent again
    body_hash       text,
    -- 'open', 'merged' or 'closed'
    state           text NOT NULL DEFAULT 'open',
    merge_sha       text,
    -- the comment that reported the deployment of the merge commit
    comment_id      bigint,
    -- the task's updated_at when it was last published in full: a finished task whose
    -- records have not changed since is not looked at again
    synced_at       timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One check run per (task, name, head commit): its GitHub id and the state last written.
CREATE TABLE github_checks (
    task_id         uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    name            text NOT NULL,
    head_sha        text NOT NULL,
    check_run_id    bigint NOT NULL,
    -- the status last written: 'queued', 'in_progress' or 'completed'
    status          text NOT NULL,
    -- sha256 of the status, conclusion and output last written
    state_hash      text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, name, head_sha)
);

-- What Kiln would have written to GitHub while a write guard was off, once per task and
-- action, so a person can see it.
CREATE TABLE github_withheld (
    task_id         uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    action          text NOT NULL,
    guard           text NOT NULL,
    detail          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, action)
);

-- A task started from a GitHub issue (a label, or a `/kiln <brief>` comment): its pull
-- request resolves the issue, and the issue is told about the pull request once.
CREATE TABLE github_issues (
    task_id         uuid PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    repository      text NOT NULL,
    number          bigint NOT NULL,
    pull_comment_id bigint
);

-- The tracking issue a task's plan was written as (`plan_as_issues`), closed once the pull
-- request is merged.
CREATE TABLE github_plan_issues (
    task_id         uuid PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    repository      text NOT NULL,
    number          bigint NOT NULL,
    closed          boolean NOT NULL DEFAULT false
);

-- Lessons Kiln proposes from a person's review ("request changes") for the project's
-- memory: kept (added to project_memory) only once a person approves, or dropped.
CREATE TABLE lesson_proposals (
    id              uuid PRIMARY KEY,
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    task_id         uuid REFERENCES tasks (id) ON DELETE CASCADE,
    lesson          text NOT NULL,
    proposed_from   text NOT NULL,
    status          text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'kept', 'dropped')),
    decided_by      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lesson_proposals_project_idx ON lesson_proposals (project_id, created_at);

-- A person can also send a release back for changes (a fix round with their feedback).
ALTER TABLE approvals DROP CONSTRAINT approvals_decision_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_decision_check
    CHECK (decision IN ('approve', 'reject', 'changes_requested'));
