// One task: what it is, where it stands, its stage timeline and live log, and every record
// the pipeline wrote, with the controls people have over it.
import { useState, type ReactNode } from 'react';
import { Link, useParams } from 'react-router';

import { ApiError } from '../api/client';
import { useCancelTask, useTask } from '../api/queries';
import { isTerminal } from '../api/status';
import type { TaskDetail, TaskOptions } from '../api/types';
import { CopyIcon, ExternalIcon } from '../components/icons';
import {
  Button,
  Card,
  Chip,
  ConfirmDialog,
  ErrorNotice,
  KeyValues,
  Loading,
  RelativeTime,
  StatusChip,
  Elapsed,
  useTitle,
} from '../components/ui';
import { LogConsole } from '../logs/LogConsole';
import { usd } from '../lib/format';
import { DeploymentPanel } from '../task/DeploymentPanel';
import { DiffPanel } from '../task/DiffPanel';
import { GatePanel } from '../task/GatePanel';
import { ApprovalsPanel, AwaitingPanel, ClarificationsPanel, OverridePanel } from '../task/PeoplePanels';
import { PlanPanel } from '../task/PlanPanel';
import { ReviewsPanel } from '../task/ReviewsPanel';
import { TestsPanel } from '../task/TestsPanel';
import { Timeline } from '../task/Timeline';
import { UsagePanel } from '../task/UsagePanel';

function CancelButton({ task }: { task: TaskDetail }) {
  const cancel = useCancelTask(task.id);
  const [open, setOpen] = useState(false);
  if (isTerminal(task.status)) return null;
  return (
    <>
      <Button variant="secondary" onClick={() => setOpen(true)}>
        Cancel task
      </Button>
      <ConfirmDialog
        open={open}
        onClose={() => setOpen(false)}
        title={`Cancel ${task.project}?`}
        confirmLabel="Cancel task"
        variant="danger"
        busy={cancel.isPending}
        onConfirm={() => cancel.mutate(undefined, { onSuccess: () => setOpen(false) })}
      >
        <p>The task stops where it is and will not deploy. This cannot be undone.</p>
        {cancel.isError && <ErrorNotice error={cancel.error} title="Not cancelled" />}
      </ConfirmDialog>
    </>
  );
}

function CopyId({ id }: { id: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="inline-flex items-center gap-1 font-mono text-xs text-zinc-500 hover:text-zinc-800 dark:hover:text-zinc-200"
      title="Copy the task id"
      onClick={() => {
        void navigator.clipboard?.writeText(id).then(() => {
          setCopied(true);
          setTimeout(() => setCopied(false), 1500);
        });
      }}
    >
      {id}
      <CopyIcon className="size-3" />
      <span className="sr-only" aria-live="polite">
        {copied ? 'copied' : ''}
      </span>
    </button>
  );
}

function options(task: TaskDetail): TaskOptions {
  return task.options;
}

function Details({ task }: { task: TaskDetail }) {
  const o = options(task);
  const items: [string, ReactNode][] = [
    ['Kind', task.kind.replace('_', ' ')],
    ['Template', task.template],
    ['Branch', <span className="font-mono text-xs break-all">{task.branch}</span>],
    ['Created', <RelativeTime iso={task.created_at} />],
  ];
  if (task.finished_at) items.push(['Finished', <RelativeTime iso={task.finished_at} />]);
  if (o.approval) items.push(['Approval', o.approval]);
  if (typeof o.max_fix_rounds === 'number') items.push(['Max fix rounds', String(o.max_fix_rounds)]);
  if (o.budget) {
    const b = o.budget;
    const parts = [
      b.max_tokens != null && `${b.max_tokens.toLocaleString('en-US')} tokens`,
      b.max_cost_usd != null && usd(b.max_cost_usd),
      b.max_calls != null && `${b.max_calls} calls`,
    ].filter(Boolean);
    if (parts.length) items.push(['Budget', parts.join(' · ')]);
  }
  return (
    <Card title="Task">
      <p className="mb-3 text-sm whitespace-pre-wrap">{task.brief}</p>
      <KeyValues items={items} />
    </Card>
  );
}

export function TaskDetailPage() {
  const { id = '' } = useParams();
  const task = useTask(id);
  useTitle(task.data ? `${task.data.project} (${task.data.status.replaceAll('_', ' ')})` : 'Task');

  if (task.isPending) return <Loading label="Loading task" />;
  if (task.isError) {
    const notFound = task.error instanceof ApiError && (task.error.status === 404 || task.error.status === 400);
    return (
      <div className="space-y-4">
        <ErrorNotice error={task.error} title={notFound ? 'No such task' : 'Task not available'} />
        <Link to="/" className="text-sm font-medium text-brand-700 hover:underline dark:text-brand-400">
          ← All tasks
        </Link>
      </div>
    );
  }
  const t = task.data;
  const url = t.deployment_url ?? (t.deployment?.status === 'live' ? t.deployment.url : null);

  return (
    <div className="space-y-4">
      <nav aria-label="Breadcrumb" className="text-sm">
        <Link to="/" className="text-zinc-500 hover:text-zinc-800 dark:text-zinc-400 dark:hover:text-zinc-200">
          Tasks
        </Link>
        <span className="mx-1.5 text-zinc-400">/</span>
        <Link
          to={`/projects/${encodeURIComponent(t.project)}`}
          className="text-zinc-500 hover:text-zinc-800 dark:text-zinc-400 dark:hover:text-zinc-200"
        >
          {t.project}
        </Link>
      </nav>
      <header className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0 space-y-1">
          <div className="flex flex-wrap items-center gap-2">
            <h1 className="truncate text-xl font-semibold tracking-tight sm:text-2xl">{t.project}</h1>
            <StatusChip status={t.status} />
            <Chip tone="neutral">{t.template}</Chip>
            {t.llm_mode === 'offline' && <Chip tone="muted">offline</Chip>}
          </div>
          <p className="flex flex-wrap items-center gap-x-3 gap-y-1 text-xs text-zinc-500 dark:text-zinc-400">
            <CopyId id={t.id} />
            <span>
              created <RelativeTime iso={t.created_at} />
            </span>
            <span>
              {t.finished_at ? 'took' : 'running for'} <Elapsed start={t.created_at} end={t.finished_at} />
            </span>
          </p>
          {t.status_reason && t.status_reason !== t.awaiting?.detail && (
            <p
              className={
                t.status === 'failed' || t.status === 'blocked'
                  ? 'text-sm text-red-700 dark:text-red-400'
                  : 'text-sm text-zinc-600 dark:text-zinc-400'
              }
            >
              {t.status_reason}
            </p>
          )}
        </div>
        <div className="flex flex-wrap gap-2">
          {url && (
            <a
              href={url}
              target="_blank"
              rel="noreferrer"
              className="inline-flex items-center gap-1.5 rounded-md bg-brand-700 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-brand-800"
            >
              Open app <ExternalIcon className="size-3.5" />
            </a>
          )}
          <CancelButton task={t} />
        </div>
      </header>

      <AwaitingPanel task={t} />
      <OverridePanel task={t} />
      <Timeline task={t} />

      <div className="grid gap-4 lg:grid-cols-3">
        <div className="min-w-0 space-y-4 lg:col-span-2">
          <LogConsole key={t.id} taskId={t.id} />
          <ClarificationsPanel task={t} />
          <PlanPanel plan={t.plan} />
          <TestsPanel runs={t.test_runs} rounds={t.rounds} />
          <DiffPanel taskId={t.id} commits={t.commits} />
          <ReviewsPanel reviews={t.reviews} />
        </div>
        <div className="min-w-0 space-y-4">
          <GatePanel gate={t.gate} />
          <DeploymentPanel deployment={t.deployment} deployments={t.deployments} />
          <UsagePanel usage={t.llm_usage} budget={t.budget} />
          <ApprovalsPanel approvals={t.approvals} />
          <Details task={t} />
        </div>
      </div>
    </div>
  );
}
