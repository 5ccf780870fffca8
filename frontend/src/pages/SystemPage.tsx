// System: services and their replicas (alive by heartbeat), work waiting and redelivered at
// each stage, dead letters, and the pause switch once the API has one.
import { Link } from 'react-router';

import { useSetPaused, useSystem } from '../api/queries';
import type { SystemView } from '../api/types';
import { Card, Chip, Empty, ErrorNotice, Loading, PageHeader, RelativeTime, Toggle, cx, useTitle } from '../components/ui';
import { count } from '../lib/format';

function PauseSwitch({ paused }: { paused: boolean }) {
  const set = useSetPaused();
  return (
    <Card title="Pipeline">
      <div className="flex items-center justify-between gap-4">
        <div>
          <p className="text-sm font-medium">{paused ? 'Paused' : 'Running'}</p>
          <p className="text-xs text-zinc-500 dark:text-zinc-400">
            {paused ? 'No stage takes new work until resumed.' : 'Stages take work as it arrives.'}
          </p>
        </div>
        <Toggle checked={paused} onChange={(v) => set.mutate(v)} label="Pause the pipeline" disabled={set.isPending} />
      </div>
      {set.isError && (
        <div className="mt-3">
          <ErrorNotice error={set.error} title="Not changed" />
        </div>
      )}
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
      <PageHeader title="System" subtitle="Which services run, how much work waits, and what failed for good." />
      {system.isPending ? (
        <Loading label="Loading system" />
      ) : system.isError && !system.data ? (
        <ErrorNotice error={system.error} title="System status not available" />
      ) : (
        <div className="grid gap-4 lg:grid-cols-2">
          {typeof system.data.paused === 'boolean' && (
            <div className="lg:col-span-2">
              <PauseSwitch paused={system.data.paused} />
            </div>
          )}
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
