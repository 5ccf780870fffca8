// System: the kill switch (pause everything or one project), services and their replicas
// (alive by heartbeat), work waiting and redelivered at each stage, and dead letters.
import { useState } from 'react';
import { Link } from 'react-router';

import { usePause, useProjects, useSession, useSetPaused, useSystem } from '../api/queries';
import { allows } from '../api/session';
import type { PauseView, SystemView } from '../api/types';
import { PauseIcon } from '../components/icons';
import {
  Button,
  Card,
  Chip,
  ConfirmDialog,
  Empty,
  ErrorNotice,
  Field,
  Loading,
  PageHeader,
  RelativeTime,
  Select,
  TextArea,
  TextInput,
  Toggle,
  cx,
  useTitle,
} from '../components/ui';
import { count } from '../lib/format';

type Change = { paused: true; project: string } | { paused: false; project: string | null };

/** Who paused what, when and why. */
function PauseFacts({ reason, actor, since }: { reason: string | null | undefined; actor: string | null | undefined; since: string | null | undefined }) {
  return (
    <>
      {reason && <p className="mt-1 text-sm break-words" data-testid="pause-reason">“{reason}”</p>}
      {(actor || since) && (
        <p className="mt-0.5 text-xs text-zinc-500 dark:text-zinc-400">
          {actor && (
            <>
              by <span className="font-medium" data-testid="pause-actor">{actor}</span>
            </>
          )}
          {actor && since && ' · '}
          {since && (
            <>
              since <RelativeTime iso={since} />
            </>
          )}
        </p>
      )}
    </>
  );
}

/** What the last change reached: the workers that acknowledged it, and how fast. */
function Reach({ view }: { view: PauseView }) {
  const n = view.reached.length;
  return (
    <div className="mt-3 rounded-lg bg-zinc-50 px-3 py-2 text-sm dark:bg-zinc-800/60" data-testid="pause-reach" role="status">
      {n === 0 ? (
        <p>No worker acknowledged the change in time; every service still reads the flag before each side effect.</p>
      ) : (
        <p>
          Reached {n} {n === 1 ? 'worker' : 'workers'}
          {typeof view.reach_ms === 'number' && (
            <>
              {' '}
              in <span data-testid="pause-reach-ms">{view.reach_ms.toLocaleString('en-US')} ms</span>
            </>
          )}
          .
        </p>
      )}
      {n > 0 && (
        <ul className="mt-1 flex flex-wrap gap-1.5" aria-label="Workers reached">
          {view.reached.map((w) => (
            <li key={w} className="rounded-md px-1.5 py-0.5 font-mono text-xs ring-1 ring-zinc-300 ring-inset dark:ring-zinc-700">
              {w}
            </li>
          ))}
        </ul>
      )}
      {view.resumed_tasks > 0 && (
        <p className="mt-1">
          {view.resumed_tasks} parked {view.resumed_tasks === 1 ? 'task' : 'tasks'} resumed.
        </p>
      )}
    </div>
  );
}

/** The kill switch: pause everything or one project (with a reason), resume, and who heard it. */
function PausePanel({ systemPaused }: { systemPaused: boolean }) {
  const pause = usePause();
  const session = useSession();
  const projects = useProjects();
  const set = useSetPaused();
  const [change, setChange] = useState<Change | null>(null);
  const [reason, setReason] = useState('');

  const view = pause.data;
  const paused = view?.paused ?? systemPaused;
  const pausedProjects = view?.projects ?? [];
  const mayChange = !session.data || allows(session.data.role, 'admin');

  const open = (next: Change) => {
    set.reset();
    setReason('');
    setChange(next);
  };
  const confirm = () => {
    if (!change) return;
    const why = reason.trim();
    if (change.paused && !why) return;
    set.mutate(
      { paused: change.paused, ...(why ? { reason: why } : {}), ...(change.project ? { project: change.project } : {}) },
      { onSuccess: () => setChange(null) },
    );
  };
  const what = change?.project ? `project ${change.project}` : 'everything';

  return (
    <Card
      title="Pipeline"
      actions={
        mayChange && !paused ? (
          <Button variant="ghost" onClick={() => open({ paused: true, project: projects.data?.[0]?.name ?? '' })} disabled={!projects.data?.length}>
            <PauseIcon className="size-4" /> Pause a project
          </Button>
        ) : undefined
      }
    >
      <div className="flex items-start justify-between gap-4" data-testid="pause-state" data-paused={paused}>
        <div className="min-w-0">
          <p className="flex items-center gap-2 text-sm font-medium">
            {paused ? <Chip tone="danger" dot>Paused</Chip> : <Chip tone="success" dot>Running</Chip>}
          </p>
          {paused ? (
            <>
              <p className="mt-1 text-xs text-zinc-500 dark:text-zinc-400">
                Nothing takes a new side effect (model calls, pushes, deploys) until resumed; work in flight parks as{' '}
                <span className="font-medium">paused</span>.
              </p>
              <PauseFacts reason={view?.reason} actor={view?.actor} since={view?.since} />
            </>
          ) : (
            <p className="mt-1 text-xs text-zinc-500 dark:text-zinc-400">Stages take work as it arrives.</p>
          )}
        </div>
        <Toggle
          checked={paused}
          onChange={(v) => open(v ? { paused: true, project: '' } : { paused: false, project: null })}
          label="Pause the pipeline"
          disabled={set.isPending || !mayChange}
        />
      </div>
      {!mayChange && <p className="mt-2 text-xs text-zinc-500 dark:text-zinc-400">Pausing and resuming needs the admin role.</p>}

      {pausedProjects.length > 0 && (
        <div className="mt-4">
          <h3 className="text-xs font-semibold text-zinc-500 uppercase dark:text-zinc-400">Paused projects</h3>
          <ul className="mt-1 divide-y divide-zinc-100 dark:divide-zinc-800">
            {pausedProjects.map((p) => (
              <li key={p.project} className="flex items-start justify-between gap-3 py-2" data-testid={`paused-project-${p.project}`}>
                <div className="min-w-0">
                  <Link to={`/projects/${encodeURIComponent(p.project)}`} className="font-medium hover:underline">
                    {p.project}
                  </Link>
                  <PauseFacts reason={p.reason} actor={p.actor} since={p.since} />
                </div>
                {mayChange && (
                  <Button onClick={() => open({ paused: false, project: p.project })} aria-label={`Resume ${p.project}`}>
                    Resume
                  </Button>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}

      {set.data && !change && <Reach view={set.data} />}
      {pause.isError && !view && (
        <div className="mt-3">
          <ErrorNotice error={pause.error} title="Pause details not available" />
        </div>
      )}

      <ConfirmDialog
        open={change !== null}
        onClose={() => setChange(null)}
        title={change?.paused ? (change.project ? 'Pause a project' : 'Pause everything') : `Resume ${what}`}
        confirmLabel={change?.paused ? 'Pause' : 'Resume'}
        variant={change?.paused ? 'danger' : 'primary'}
        busy={set.isPending}
        confirmDisabled={change?.paused === true && !reason.trim()}
        onConfirm={confirm}
      >
        {change?.paused ? (
          <>
            {change.project ? (
              <Field label="Project">
                {(p) => (
                  <Select {...p} value={change.project} onChange={(e) => setChange({ paused: true, project: e.target.value })}>
                    {projects.data?.map((pr) => (
                      <option key={pr.name} value={pr.name}>
                        {pr.name}
                      </option>
                    ))}
                  </Select>
                )}
              </Field>
            ) : (
              <p>Every stage stops taking new side effects; tasks in flight park until you resume.</p>
            )}
            <Field label="Reason" hint="Required; recorded in the audit trail and shown to everyone.">
              {(p) => (
                <TextArea {...p} required maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} autoFocus />
              )}
            </Field>
          </>
        ) : (
          <>
            <p>Every task the pause parked goes back to work from where it stopped.</p>
            <Field label="Note (optional)">
              {(p) => <TextInput {...p} maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} />}
            </Field>
          </>
        )}
        {set.isError && <ErrorNotice error={set.error} title="Not changed" />}
      </ConfirmDialog>
    </Card>
  );
}

function Services({ system }: { system: SystemView }) {
  return (
    <Card title="Services">
      <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
        {system.services.map((s) => {
          const alive = s.replicas.filter((r) => r.alive).length;
          const tone = s.replicas.length === 0 ? 'muted' : alive === s.replicas.length ? 'success' : alive === 0 ? 'danger' : 'warning';
          return (
            <li key={s.service} className="flex flex-wrap items-center gap-2 py-2" data-testid={`service-${s.service}`}>
              <span className="w-24 font-medium">{s.service}</span>
              <Chip tone={tone}>{s.replicas.length === 0 ? 'no replica' : `${alive}/${s.replicas.length} alive`}</Chip>
              <ul className="flex flex-wrap gap-1.5">
                {s.replicas.map((r) => (
                  <li key={r.worker}>
                    <span
                      className={cx(
                        'inline-flex items-center gap-1 rounded-md px-1.5 py-0.5 font-mono text-xs ring-1 ring-inset',
                        r.alive
                          ? 'text-emerald-800 ring-emerald-300 dark:text-emerald-300 dark:ring-emerald-800'
                          : 'text-red-800 ring-red-300 dark:text-red-300 dark:ring-red-800',
                      )}
                    >
                      <span aria-hidden className={cx('size-1.5 rounded-full', r.alive ? 'bg-emerald-500' : 'bg-red-500')} />
                      {r.worker}
                      <span className="sr-only">{r.alive ? 'alive' : 'not responding'}</span>
                      <span className="text-zinc-500">
                        · <RelativeTime iso={r.last_seen} />
                      </span>
                    </span>
                  </li>
                ))}
              </ul>
              {s.replicas
                .flatMap((r) => r.warnings.map((w) => ({ worker: r.worker, warning: w })))
                .map(({ worker, warning }) => (
                  <p key={`${worker}-${warning}`} className="basis-full text-xs text-amber-700 dark:text-amber-400">
                    {worker}: {warning}
                  </p>
                ))}
            </li>
          );
        })}
      </ul>
    </Card>
  );
}

function Queues({ system }: { system: SystemView }) {
  const max = Math.max(1, ...system.stages.map((s) => (s.pending ?? 0) + (s.ack_pending ?? 0)));
  return (
    <Card title="Stages">
      <div className="overflow-x-auto">
        <table className="w-full text-left text-sm">
          <caption className="sr-only">Work per stage</caption>
          <thead className="text-xs text-zinc-500 dark:text-zinc-400">
            <tr>
              <th scope="col" className="py-1 pr-3 font-medium">Stage</th>
              <th scope="col" className="py-1 pr-3 text-right font-medium">Waiting</th>
              <th scope="col" className="py-1 pr-3 text-right font-medium">In progress</th>
              <th scope="col" className="py-1 pr-3 text-right font-medium">Redelivered</th>
              <th scope="col" className="hidden w-1/3 py-1 font-medium sm:table-cell">
                <span className="sr-only">Load</span>
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-zinc-100 tabular-nums dark:divide-zinc-800">
            {system.stages.map((s) => (
              <tr key={s.consumer} data-testid={`stage-${s.stage}`}>
                <th scope="row" className="py-1.5 pr-3 font-medium">
                  {s.stage}
                  {s.pending === null && <span className="ml-2 text-xs font-normal text-zinc-500">no consumer</span>}
                </th>
                <td className="py-1.5 pr-3 text-right">{count(s.pending)}</td>
                <td className="py-1.5 pr-3 text-right">{count(s.ack_pending)}</td>
                <td className={cx('py-1.5 pr-3 text-right', (s.redelivered ?? 0) > 0 && 'font-semibold text-amber-700 dark:text-amber-400')}>
                  {count(s.redelivered)}
                </td>
                <td className="hidden py-1.5 sm:table-cell" aria-hidden>
                  <div className="flex h-1.5 overflow-hidden rounded-full bg-zinc-100 dark:bg-zinc-800">
                    <div className="bg-sky-500" style={{ width: `${((s.ack_pending ?? 0) / max) * 100}%` }} />
                    <div className="bg-zinc-400" style={{ width: `${((s.pending ?? 0) / max) * 100}%` }} />
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

function DeadLetters({ system }: { system: SystemView }) {
  const dl = system.dead_letters;
  return (
    <Card title="Dead letters" actions={<Chip tone={dl.count > 0 ? 'danger' : 'success'}>{count(dl.count)}</Chip>}>
      {dl.recent.length === 0 ? (
        <Empty>None: every message was handled.</Empty>
      ) : (
        <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
          {dl.recent.map((d, i) => (
            <li key={i} className="py-2 text-sm">
              <p className="flex flex-wrap items-center gap-2 text-xs text-zinc-500 dark:text-zinc-400">
                <Chip tone="danger">{d.stage}</Chip>
                <RelativeTime iso={d.time} />
                <span>{d.deliveries} deliveries</span>
                {d.task_id && (
                  <Link to={`/tasks/${d.task_id}`} className="font-mono hover:underline">
                    task {d.task_id.slice(0, 8)}
                  </Link>
                )}
              </p>
              <p className="mt-1 break-words">{d.reason}</p>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export function SystemPage() {
  const system = useSystem();
  useTitle('System');
  return (
    <div>
      <PageHeader title="System" subtitle="The kill switch, which services run, how much work waits, and what failed for good." />
      {system.isPending ? (
        <Loading label="Loading system" />
      ) : system.isError && !system.data ? (
        <ErrorNotice error={system.error} title="System status not available" />
      ) : (
        <div className="grid gap-4 lg:grid-cols-2">
          <div className="lg:col-span-2">
            <PausePanel systemPaused={system.data.paused} />
          </div>
          <Services system={system.data} />
          <div className="space-y-4">
            <Queues system={system.data} />
            <DeadLetters system={system.data} />
          </div>
        </div>
      )}
    </div>
  );
}
