// Projects: every app Kiln has built, with its live URL and latest task.
import { Link } from 'react-router';

import { useProjects } from '../api/queries';
import { ExternalIcon } from '../components/icons';
import { Empty, ErrorNotice, ExternalLink, Loading, PageHeader, RelativeTime, StatusChip, useTitle } from '../components/ui';

export function ProjectsPage() {
  const projects = useProjects();
  useTitle('Projects');
  return (
    <div>
      <PageHeader title="Projects" subtitle="Apps Kiln has built, with where they run and what they learned." />
      {projects.isPending ? (
        <Loading label="Loading projects" />
      ) : projects.isError ? (
        <ErrorNotice error={projects.error} title="Projects not available" />
      ) : projects.data.length === 0 ? (
        <Empty>No projects yet: a task creates one.</Empty>
      ) : (
        <ul className="grid gap-3 sm:grid-cols-2 xl:grid-cols-3">
          {projects.data.map((p) => (
            <li
              key={p.name}
              className="relative flex flex-col gap-2 rounded-xl border border-zinc-200 bg-white p-4 shadow-sm hover:border-zinc-300 dark:border-zinc-800 dark:bg-zinc-900 dark:hover:border-zinc-700"
              data-testid="project-card"
            >
              <div className="flex items-center justify-between gap-2">
                <Link
                  to={`/projects/${encodeURIComponent(p.name)}`}
                  className="truncate font-semibold after:absolute after:inset-0 hover:text-brand-700 dark:hover:text-brand-400"
                >
                  {p.name}
                </Link>
                {p.last_status && <StatusChip status={p.last_status} />}
              </div>
              <p className="text-xs text-zinc-500 dark:text-zinc-400">
                {p.template} · created <RelativeTime iso={p.created_at} />
              </p>
              {p.deployment_url ? (
                <ExternalLink href={p.deployment_url} className="relative z-10 inline-flex items-center gap-1 truncate text-sm">
                  {p.deployment_url}
                  <ExternalIcon className="size-3.5 shrink-0" />
                </ExternalLink>
              ) : (
                <p className="text-sm text-zinc-500">not deployed</p>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
