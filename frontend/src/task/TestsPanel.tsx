// Test runs per round: each command with its exit, time and output tail, plus the structured
// errors the tester extracted (announced `rounds` field) that drive fix rounds.
import { Disclosure, DisclosureButton, DisclosurePanel } from '@headlessui/react';

import type { Round, TestRun } from '../api/types';
import { ChevronIcon } from '../components/icons';
import { Card, Chip, cx } from '../components/ui';
import { duration, shortSha } from '../lib/format';

function RoundErrors({ round }: { round: Round }) {
  if (round.errors.length === 0) return null;
  return (
    <div className="mt-2">
      <h4 className="text-xs font-semibold tracking-wide text-zinc-500 uppercase dark:text-zinc-400">
        Errors ({round.errors.length})
        {round.fingerprint && <span className="ml-2 font-mono normal-case">fingerprint {round.fingerprint.slice(0, 12)}</span>}
      </h4>
      <ul className="mt-1 divide-y divide-zinc-200 rounded-lg border border-red-200 bg-red-50/50 dark:divide-zinc-800 dark:border-red-900 dark:bg-red-950/30">
        {round.errors.map((e, i) => (
          <li key={i} className="px-3 py-2 text-sm">
            <p className="font-mono text-xs text-zinc-600 dark:text-zinc-400">
              {e.file ?? '(no file)'}
              {e.line !== null && `:${e.line}`}
              {e.column !== null && `:${e.column}`}
              <span className="ml-2">
                {e.tool} · <span className="break-all">{e.command}</span>
              </span>
            </p>
            <p className="mt-0.5 break-words whitespace-pre-wrap">{e.message}</p>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function TestsPanel({ runs, rounds }: { runs: TestRun[]; rounds?: Round[] | null }) {
  const roundNumbers = [...new Set([...runs.map((r) => r.round), ...(rounds ?? []).map((r) => r.round)])].sort((a, b) => a - b);
  if (roundNumbers.length === 0) return null;
  return (
    <Card title="Tests">
      <ol className="space-y-4">
        {roundNumbers.map((n) => {
          const run = runs.find((r) => r.round === n);
          const round = rounds?.find((r) => r.round === n);
          const passed = run ? run.passed : (round?.test_passed ?? null);
          return (
            <li key={n} data-testid={`test-round-${n}`}>
              <div className="flex flex-wrap items-center gap-2 text-sm">
                <span className="font-medium">{n === 0 ? 'Round 0' : `Fix round ${n}`}</span>
                {passed !== null && <Chip tone={passed ? 'success' : 'danger'}>{passed ? 'passed' : 'failed'}</Chip>}
                {run?.isolation && (
                  <Chip tone={run.isolation === 'none' ? 'warning' : 'neutral'}>
                    {run.isolation === 'none' ? 'no sandbox' : `sandbox: ${run.isolation}`}
                  </Chip>
                )}
                {(run?.commit_sha ?? round?.commit_sha) && (
                  <span className="font-mono text-xs text-zinc-500">{shortSha(run?.commit_sha ?? round?.commit_sha ?? '')}</span>
                )}
              </div>
              {round?.stop_reason && (
                <p className="mt-1 text-sm text-amber-800 dark:text-amber-300">Stopped fixing: {round.stop_reason}</p>
              )}
              {run?.error && <p className="mt-1 text-sm text-red-700 dark:text-red-400">{run.error}</p>}
              {run && run.commands.length > 0 && (
                <ul className="mt-2 space-y-1">
                  {run.commands.map((c, i) => {
                    const ok = c.exit_code === 0 && !c.timed_out && !c.limit_hit;
                    return (
                      <li key={i}>
                        <Disclosure>
                          <DisclosureButton className="group flex w-full items-center gap-2 rounded-md px-2 py-1 text-left text-sm hover:bg-zinc-100 dark:hover:bg-zinc-800">
                            <ChevronIcon className="size-3.5 shrink-0 transition-transform group-data-open:rotate-90" />
                            <span className={cx('font-mono text-xs', ok ? 'text-emerald-700 dark:text-emerald-400' : 'text-red-700 dark:text-red-400')}>
                              {ok ? '✓' : '✗'}
                            </span>
                            <span className="min-w-0 truncate font-mono text-xs">{c.command}</span>
                            <span className="ml-auto shrink-0 text-xs text-zinc-500">
                              {c.phase} · {c.limit_hit ? `stopped: ${c.limit_hit}` : c.timed_out ? 'timed out' : `exit ${c.exit_code ?? '—'}`} ·{' '}
                              {duration(c.duration_ms)}
                            </span>
                          </DisclosureButton>
                          <DisclosurePanel>
                            <pre className="mt-1 max-h-72 overflow-auto rounded-md bg-zinc-950 p-3 font-mono text-xs text-zinc-100">
                              {c.output_tail || '(no output)'}
                            </pre>
                          </DisclosurePanel>
                        </Disclosure>
                      </li>
                    );
                  })}
                </ul>
              )}
              {round && <RoundErrors round={round} />}
            </li>
          );
        })}
      </ol>
    </Card>
  );
}
