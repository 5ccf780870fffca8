// Tasks, newest first: a live list with status chips, filters (status, project, search) and
// cursor paging.
import { useMemo } from 'react';
import { Link, useSearchParams } from 'react-router';

import { useProjects, useTasks } from '../api/queries';
import { TASK_STATUSES, statusLabel } from '../api/status';
import type { TaskSummary } from '../api/types';
import { PlusIcon, SearchIcon } from '../components/icons';
import {
  Button,
  ButtonLink,
  Empty,
  ErrorNotice,
  Loading,
  PageHeader,
  RelativeTime,
  Select,
  StatusChip,
  TextInput,
  Elapsed,
  useTitle,
} from '../components/ui';
import { usd } from '../lib/format';

/** A task's cost, once the API puts it on list rows. */
function cost(t: TaskSummary): number | null {
  if (typeof t.cost_usd === 'number') return t.cost_usd;
  if (t.llm_usage && typeof t.llm_usage.cost_usd === 'number') return t.llm_usage.cost_usd;
  return null;
}

export function matches(t: TaskSummary, q: string): boolean {
  const needle = q.trim().toLowerCase();
  if (!needle) return true;
  return [t.project, t.brief, t.id, t.template, t.status].some((s) => s.toLowerCase().includes(needle));
}

function TaskRow({ t }: { t: TaskSummary }) {
  const c = cost(t);
  return (
    <tr className="group hover:bg-zinc-50 dark:hover:bg-zinc-800/50" data-testid="task-row">
      <td className="py-2.5 pr-3 pl-4">
        <StatusChip status={t.status} />
      </td>
      <td className="max-w-0 py-2.5 pr-3">
        <Link
          to={`/tasks/${t.id}`}
          className="font-medium text-zinc-900 after:absolute after:inset-0 hover:text-brand-700 dark:text-zinc-100 dark:hover:text-brand-400"
        >
          {t.project}
        </Link>
        <p className="truncate text-xs text-zinc-500 dark:text-zinc-400" title={t.brief}>
          {t.brief}
        </p>
      </td>
      <td className="py-2.5 pr-3 text-sm text-zinc-600 dark:text-zinc-400">{t.template}</td>
      <td className="py-2.5 pr-3 text-sm whitespace-nowrap text-zinc-600 dark:text-zinc-400">
        {/* Above the row's link overlay, so hovering shows the absolute time. */}
        <RelativeTime iso={t.created_at} className="relative z-10" />
      </td>
      <td className="py-2.5 pr-3 text-sm whitespace-nowrap text-zinc-600 tabular-nums dark:text-zinc-400">
        <Elapsed start={t.created_at} end={t.finished_at} />
      </td>
      <td className="py-2.5 pr-4 text-right text-sm text-zinc-600 tabular-nums dark:text-zinc-400">{usd(c)}</td>
    </tr>
  );
}

function TaskCard({ t }: { t: TaskSummary }) {
  return (
    <li className="relative rounded-lg border border-zinc-200 bg-white p-3 dark:border-zinc-800 dark:bg-zinc-900" data-testid="task-card">
      <div className="flex items-center justify-between gap-2">
        <Link to={`/tasks/${t.id}`} className="truncate font-medium after:absolute after:inset-0">
          {t.project}
        </Link>
        <StatusChip status={t.status} />
      </div>
      <p className="mt-1 line-clamp-2 text-xs text-zinc-500 dark:text-zinc-400">{t.brief}</p>
      <p className="mt-2 flex flex-wrap gap-x-3 text-xs text-zinc-500 dark:text-zinc-400">
        <span>{t.template}</span>
        <RelativeTime iso={t.created_at} className="relative z-10" />
        <Elapsed className="tabular-nums" start={t.created_at} end={t.finished_at} />
        {cost(t) !== null && <span>{usd(cost(t))}</span>}
      </p>
    </li>
  );
}

export function TasksPage() {
  const [params, setParams] = useSearchParams();
  const status = params.get('status') ?? '';
  const project = params.get('project') ?? '';
  const q = params.get('q') ?? '';
  useTitle('Tasks');
  const tasks = useTasks({ status: status || undefined, project: project || undefined });
  const projects = useProjects();

  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };

  const items = useMemo(
    () => (tasks.data?.pages.flatMap((p) => p.items) ?? []).filter((t) => matches(t, q)),
    [tasks.data, q],
  );
  const loaded = tasks.data?.pages.reduce((n, p) => n + p.items.length, 0) ?? 0;

  return (
    <div>
      <PageHeader
        title="Tasks"
        subtitle="Every requirement Kiln is building or has built, newest first."
        actions={
          <ButtonLink to="/tasks/new" variant="primary">
            <PlusIcon className="size-4" /> New task
          </ButtonLink>
        }
      />
      <form role="search" className="mb-4 grid gap-2 sm:grid-cols-[1fr_12rem_12rem]" onSubmit={(e) => e.preventDefault()}>
        <div className="relative">
          <SearchIcon className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-zinc-400" />
          <TextInput
            type="search"
            aria-label="Search tasks"
            placeholder="Search project, brief or id"
            value={q}
            onChange={(e) => set('q', e.target.value)}
            className="pl-8"
          />
        </div>
        <Select aria-label="Status" value={status} onChange={(e) => set('status', e.target.value)}>
          <option value="">All statuses</option>
          {TASK_STATUSES.map((s) => (
            <option key={s} value={s}>
              {statusLabel(s)}
            </option>
          ))}
        </Select>
        <Select aria-label="Project" value={project} onChange={(e) => set('project', e.target.value)}>
          <option value="">All projects</option>
          {project && !projects.data?.some((p) => p.name === project) && <option value={project}>{project}</option>}
          {projects.data?.map((p) => (
            <option key={p.name} value={p.name}>
              {p.name}
            </option>
          ))}
        </Select>
      </form>

      {tasks.isPending ? (
        <Loading label="Loading tasks" />
      ) : tasks.isError && !tasks.data ? (
        <ErrorNotice error={tasks.error} title="Tasks not available" />
      ) : items.length === 0 ? (
        <Empty>
          {loaded === 0 && !status && !project ? (
            <>
              No tasks yet.{' '}
              <Link to="/tasks/new" className="font-medium text-brand-700 hover:underline dark:text-brand-400">
                Create the first one
              </Link>
              .
            </>
          ) : (
            'No tasks match these filters.'
          )}
        </Empty>
      ) : (
        <>
          <div className="hidden overflow-hidden rounded-xl border border-zinc-200 bg-white shadow-sm md:block dark:border-zinc-800 dark:bg-zinc-900">
            <table className="w-full table-fixed text-left">
              <caption className="sr-only">Tasks</caption>
              <colgroup>
                <col className="w-44" />
                <col />
                <col className="w-32" />
                <col className="w-28" />
                <col className="w-28" />
                <col className="w-20" />
              </colgroup>
              <thead className="border-b border-zinc-200 text-xs font-medium text-zinc-500 dark:border-zinc-800 dark:text-zinc-400">
                <tr>
                  <th scope="col" className="py-2 pr-3 pl-4 font-medium">Status</th>
                  <th scope="col" className="py-2 pr-3 font-medium">Project</th>
                  <th scope="col" className="py-2 pr-3 font-medium">Template</th>
                  <th scope="col" className="py-2 pr-3 font-medium">Age</th>
                  <th scope="col" className="py-2 pr-3 font-medium">Duration</th>
                  <th scope="col" className="py-2 pr-4 text-right font-medium">Cost</th>
                </tr>
              </thead>
              <tbody className="relative divide-y divide-zinc-100 dark:divide-zinc-800 [&>tr]:relative">
                {items.map((t) => (
                  <TaskRow key={t.id} t={t} />
                ))}
              </tbody>
            </table>
          </div>
          <ul className="space-y-2 md:hidden">
            {items.map((t) => (
              <TaskCard key={t.id} t={t} />
            ))}
          </ul>
        </>
      )}
      {tasks.hasNextPage && (
        <div className="mt-4 flex justify-center">
          <Button onClick={() => void tasks.fetchNextPage()} busy={tasks.isFetchingNextPage}>
            Load more
          </Button>
        </div>
      )}
      {tasks.isError && tasks.data && (
        <div className="mt-3">
          <ErrorNotice error={tasks.error} title="Refresh failed" />
        </div>
      )}
    </div>
  );
}
