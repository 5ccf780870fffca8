-- Issue 4: which isolation ran a test, which limit stopped a command, where a project deploys.

-- 'bubblewrap' or 'none' (the operator chose to run generated code without a sandbox);
-- NULL for runs that never started a command (missing toolchain, unreachable registry).
ALTER TABLE test_runs ADD COLUMN isolation text;

-- The sandbox limit that stopped a command (wall clock, CPU, memory, processes, file size).
ALTER TABLE test_commands ADD COLUMN limit_hit text;

-- The named deploy target (`local` or one configured under [deployer.targets]) a project's
-- deploys go to; chosen when a task names one, kept for the project's later tasks.
ALTER TABLE projects ADD COLUMN deploy_target text NOT NULL DEFAULT 'local';
