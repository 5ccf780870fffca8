// The audit trail: every recorded action (sign-ins, approvals, pauses, token changes,
// refusals), newest first, filtered on the server by actor, action, source and task, and
// paged to older entries.
import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';

import { useAudit, type AuditFilters } from '../api/queries';
import type { AuditEntry } from '../api/types';
import {
  Button,
  Chip,
  Empty,
  ErrorNotice,
  Loading,
  PageHeader,
  RelativeTime,
  Select,
  TextInput,
  useTitle,
} from '../components/ui';

/** Where actions come from, as the API records them. */
export const AUDIT_SOURCES = ['api', 'dashboard', 'cli', 'telegram', 'discord', 'jira', 'github', 'system'] as const;

const FILTERS = ['actor', 'action', 'source', 'task_id'] as const;
type FilterName = (typeof FILTERS)[number];

function Detail({ entry }: { entry: AuditEntry }) {
  const detail = entry.detail as unknown;
  if (!detail || (typeof detail === 'object' && Object.keys(detail).length === 0)) return null;
  return (
    <details className="mt-1 text-xs">
      <summary className="cursor-pointer text-zinc-500 select-none dark:text-zinc-400">detail</summary>
      <pre className="mt-1 max-w-full overflow-x-auto rounded bg-zinc-50 p-2 font-mono whitespace-pre-wrap break-all dark:bg-zinc-800/60">
        {JSON.stringify(detail, null, 2)}
      </pre>
    </details>
  );
}

function Entry({ entry }: { entry: AuditEntry }) {
  const denied = entry.action.endsWith('.denied');
  return (
    <li className="py-2.5" data-testid="audit-entry" data-id={entry.id}>
      <div className="flex flex-wrap items-center gap-x-2 gap-y-1 text-sm">
        <span className="font-mono text-xs font-semibold" data-testid="audit-action">
          {entry.action}
        </span>
        <Chip tone={denied ? 'danger' : 'neutral'}>{entry.source}</Chip>
        <span className="font-medium" data-testid="audit-actor">
          {entry.actor}
        </span>
        {entry.target && (
          <span className="min-w-0 break-all text-zinc-600 dark:text-zinc-400">
            → <span className="font-mono text-xs">{entry.target}</span>
          </span>
        )}
        <RelativeTime iso={entry.at} className="ml-auto text-xs text-zinc-500 dark:text-zinc-400" />
      </div>
      {entry.reason && <p className="mt-0.5 text-sm break-words text-zinc-700 dark:text-zinc-300">“{entry.reason}”</p>}
      <p className="mt-0.5 flex flex-wrap gap-x-3 text-xs text-zinc-500 dark:text-zinc-400">
        {entry.task_id && (
          <Link to={`/tasks/${entry.task_id}`} className="font-mono hover:underline">
            task {entry.task_id.slice(0, 8)}
          </Link>
        )}
        {entry.request_id && <span className="font-mono break-all">request {entry.request_id}</span>}
        <span className="font-mono">#{entry.id}</span>
      </p>
      <Detail entry={entry} />
    </li>
  );
}

export function AuditPage() {
  useTitle('Audit');
  const [params, setParams] = useSearchParams();
  const applied: Record<FilterName, string> = {
    actor: params.get('actor') ?? '',
    action: params.get('action') ?? '',
    source: params.get('source') ?? '',
    task_id: params.get('task_id') ?? '',
  };
  // What is typed but not applied yet (the form applies on submit).
  const [draft, setDraft] = useState(applied);
  const filters: AuditFilters = {};
  for (const f of FILTERS) if (applied[f].trim()) filters[f] = applied[f].trim();
  const audit = useAudit(filters);

  const apply = (values: Record<FilterName, string>) => {
    const next = new URLSearchParams();
    for (const f of FILTERS) if (values[f].trim()) next.set(f, values[f].trim());
    setParams(next, { replace: true });
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    apply(draft);
  };
  const clear = () => {
    const empty = { actor: '', action: '', source: '', task_id: '' };
    setDraft(empty);
    apply(empty);
  };
  const filtered = FILTERS.some((f) => applied[f]);
  const entries = audit.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <div>
      <PageHeader title="Audit" subtitle="Who did what, from where, and why: newest first." />
      <form
        role="search"
        aria-label="Filter the audit trail"
        onSubmit={submit}
        className="mb-4 grid gap-2 sm:grid-cols-2 lg:grid-cols-[1fr_1fr_10rem_1fr_auto]"
      >
        <TextInput
          aria-label="Actor"
          placeholder="Actor (token name)"
          value={draft.actor}
          onChange={(e) => setDraft({ ...draft, actor: e.target.value })}
        />
        <TextInput
          aria-label="Action"
          placeholder="Action, or a prefix like release."
          value={draft.action}
          onChange={(e) => setDraft({ ...draft, action: e.target.value })}
        />
        <Select
          aria-label="Source"
          value={draft.source}
          onChange={(e) => {
            const next = { ...draft, source: e.target.value };
            setDraft(next);
            apply(next);
          }}
        >
          <option value="">All sources</option>
          {AUDIT_SOURCES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </Select>
        <TextInput
          aria-label="Task id"
          placeholder="Task id"
          value={draft.task_id}
          onChange={(e) => setDraft({ ...draft, task_id: e.target.value })}
          className="font-mono"
        />
        <div className="flex gap-2">
          <Button type="submit" variant="primary">
            Filter
          </Button>
          {filtered && <Button onClick={clear}>Clear</Button>}
        </div>
      </form>

      {audit.isPending ? (
        <Loading label="Loading the audit trail" />
      ) : audit.isError && !audit.data ? (
        <ErrorNotice error={audit.error} title="Audit trail not available" />
      ) : entries.length === 0 ? (
        <Empty>{filtered ? 'No entries match these filters.' : 'Nothing recorded yet.'}</Empty>
      ) : (
        <ul className="divide-y divide-zinc-100 rounded-xl border border-zinc-200 bg-white px-4 shadow-sm dark:divide-zinc-800 dark:border-zinc-800 dark:bg-zinc-900">
          {entries.map((e) => (
            <Entry key={e.id} entry={e} />
          ))}
        </ul>
      )}
      {audit.hasNextPage && (
        <div className="mt-4 flex justify-center">
          <Button onClick={() => void audit.fetchNextPage()} busy={audit.isFetchingNextPage}>
            Older entries
          </Button>
        </div>
      )}
      {audit.isError && audit.data && (
        <div className="mt-3">
          <ErrorNotice error={audit.error} title="Refresh failed" />
        </div>
      )}
    </div>
  );
}
