// The stage timeline: like a trace view, each round is a bar spanning its stage runs and each
// stage run a bar under it, placed on one time axis from the task's creation, with start,
// duration and outcome.
import type { StageRun, TaskDetail } from '../api/types';
import { Card, cx, useNow } from '../components/ui';
import { absoluteTime, clockTime, duration, elapsed } from '../lib/format';

const BAR: Record<string, string> = {
  succeeded: 'bg-emerald-500 dark:bg-emerald-500',
  failed: 'bg-red-500',
  running: 'bg-sky-500 stripes animate-stripes',
  interrupted: 'bg-amber-500',
  skipped: 'bg-zinc-400 dark:bg-zinc-600',
};

interface Row {
  key: string;
  label: string;
  sub?: string;
  start: number;
  end: number;
  running: boolean;
  outcome: string;
  summary?: string | null;
  group: boolean;
  title: string;
}

function roundOutcome(task: TaskDetail, round: number, runs: StageRun[]): string {
  const announced = task.rounds?.find((r) => r.round === round);
  const test = task.test_runs.find((t) => t.round === round);
  const passed = announced && announced.test_passed !== null ? announced.test_passed : test ? test.passed : null;
  const tests = passed === null ? null : passed ? 'tests passed' : 'tests failed';
  if (runs.some((r) => !r.finished_at)) return tests ? `running · ${tests}` : 'running';
  if (tests) return tests;
  return runs.some((r) => r.status === 'failed') ? 'failed' : 'succeeded';
}

/** Rows of the timeline: a group row per round, then that round's runs by start time. */
export function timelineRows(task: TaskDetail, now: number): Row[] {
  const runs = [...task.stages].sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
  const rounds = [...new Set(runs.map((r) => r.round))].sort((a, b) => a - b);
  const rows: Row[] = [];
  for (const round of rounds) {
    const inRound = runs.filter((r) => r.round === round);
    const start = Math.min(...inRound.map((r) => Date.parse(r.started_at)));
    const running = inRound.some((r) => !r.finished_at);
    const end = Math.max(...inRound.map((r) => (r.finished_at ? Date.parse(r.finished_at) : now)));
    const outcome = roundOutcome(task, round, inRound);
    const label = round === 0 ? 'Round 0' : `Fix round ${round}`;
    rows.push({
      key: `round-${round}`,
      label,
      start,
      end,
      running,
      outcome,
      group: true,
      title: `${label}: started ${absoluteTime(new Date(start).toISOString())}, ${duration(end - start)}, ${outcome}`,
    });
    for (const r of inRound) {
      const s = Date.parse(r.started_at);
      const e = r.finished_at ? Date.parse(r.finished_at) : now;
      const sub = r.attempt > 1 ? `attempt ${r.attempt}` : undefined;
      rows.push({
        key: `${r.stage}-${r.round}-${r.attempt}-${r.started_at}`,
        label: r.stage,
        sub,
        start: s,
        end: e,
        running: !r.finished_at,
        outcome: r.status,
        summary: r.summary,
        group: false,
        title: `${r.stage}${sub ? ` (${sub})` : ''} on ${r.worker}: started ${clockTime(r.started_at)}, ${duration(
          r.duration_ms ?? elapsed(r.started_at, r.finished_at, now),
        )}, ${r.status}${r.summary ? ` — ${r.summary}` : ''}`,
      });
    }
  }
  return rows;
}

export function Timeline({ task }: { task: TaskDetail }) {
  const now = useNow(1000);
  if (task.stages.length === 0) {
    return (
      <Card title="Timeline">
        <p className="text-sm text-zinc-500 dark:text-zinc-400">No stage has started yet.</p>
      </Card>
    );
  }
  const rows = timelineRows(task, now);
  const t0 = Math.min(Date.parse(task.created_at), ...rows.map((r) => r.start));
  const t1 = Math.max(...rows.map((r) => r.end), task.finished_at ? Date.parse(task.finished_at) : 0);
  const span = Math.max(t1 - t0, 1);
  const ticks = [0, 0.25, 0.5, 0.75, 1];

  return (
    <Card title="Timeline" actions={<span className="text-xs text-zinc-500 dark:text-zinc-400">total {duration(span)}</span>}>
      <div className="grid grid-cols-[minmax(6.5rem,9rem)_1fr] gap-x-3 text-xs sm:grid-cols-[9rem_1fr_minmax(8rem,14rem)]">
        <div />
        <div className="relative mb-1 h-4 text-[10px] text-zinc-500 dark:text-zinc-400" aria-hidden>
          {ticks.map((t) => (
            <span
              key={t}
              className={cx(
                'absolute -translate-x-1/2 whitespace-nowrap tabular-nums first:translate-x-0 last:-translate-x-full',
                (t === 0.25 || t === 0.75) && 'hidden sm:inline',
              )}
              style={{ left: `${t * 100}%` }}
            >
              {duration(span * t)}
            </span>
          ))}
        </div>
        <div className="hidden sm:block" />
        <ol className="contents">
          {rows.map((row) => {
            const left = ((row.start - t0) / span) * 100;
            const width = Math.max(((row.end - row.start) / span) * 100, 0.6);
            const bar = row.group
              ? row.running
                ? 'bg-sky-300/70 dark:bg-sky-800'
                : row.outcome.endsWith('tests failed') || row.outcome === 'failed'
                  ? 'bg-red-300/70 dark:bg-red-900'
                  : 'bg-zinc-300 dark:bg-zinc-700'
              : (BAR[row.outcome] ?? 'bg-zinc-400');
            return (
              <li key={row.key} className="contents" title={row.title} aria-label={row.title} data-testid="timeline-row">
                <div
                  className={cx(
                    'flex min-w-0 items-center gap-1 truncate py-1',
                    row.group ? 'mt-1 font-semibold text-zinc-800 dark:text-zinc-200' : 'pl-3 text-zinc-700 dark:text-zinc-300',
                  )}
                >
                  <span className="truncate">{row.label}</span>
                  {row.sub && <span className="text-zinc-500">· {row.sub}</span>}
                </div>
                <div className={cx('relative my-1 rounded bg-zinc-100 dark:bg-zinc-800/60', row.group ? 'mt-2 h-2.5' : 'h-4')}>
                  <div
                    className={cx('absolute inset-y-0 rounded', bar)}
                    style={{ left: `${left}%`, width: `${Math.min(width, 100 - left)}%` }}
                  />
                </div>
                <div className="hidden min-w-0 items-center gap-2 truncate py-1 text-zinc-600 sm:flex dark:text-zinc-400">
                  <span className="tabular-nums">{duration(row.end - row.start)}</span>
                  <span className={cx('truncate', row.outcome === 'failed' && 'text-red-700 dark:text-red-400')}>
                    {row.group ? row.outcome : (row.summary ?? row.outcome)}
                  </span>
                </div>
              </li>
            );
          })}
        </ol>
      </div>
    </Card>
  );
}
