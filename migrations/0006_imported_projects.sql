-- Projects Kiln did not scaffold: an existing repository mirrored in, and what Kiln learned
-- about each of its commits.

-- where an imported project came from (credentials masked); NULL for scaffolded projects,
-- whose `template` names their stack (imported ones have template '')
ALTER TABLE projects
    ADD COLUMN source_url text,
    ADD COLUMN source_branch text;

-- project knowledge (kiln-knowledge's scan, with the repository's .kiln/project.toml
-- applied), one row per commit the indexer saw
CREATE TABLE project_knowledge (
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    commit_sha      text NOT NULL,
    knowledge       jsonb NOT NULL,
    scanned_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, commit_sha)
);
