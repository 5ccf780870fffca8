// The diff of each round's commit, fetched on demand and shown file by file.
import { Disclosure, DisclosureButton, DisclosurePanel } from '@headlessui/react';
import { useMemo, useState } from 'react';

import { useDiff } from '../api/queries';
import type { Commit } from '../api/types';
import { ChevronIcon } from '../components/icons';
import { Button, Card, ErrorNotice, Loading, cx } from '../components/ui';
import { shortSha } from '../lib/format';

/** Lines shown before asking, so a 2 MiB diff does not stall the page. */
const SHOWN_LINES = 4000;

export interface DiffFile {
  path: string;
  lines: string[];
  added: number;
  removed: number;
}

/** Splits a unified diff into files (`diff --git a/x b/x` sections). */
export function parseDiff(text: string): DiffFile[] {
  const files: DiffFile[] = [];
  let current: DiffFile | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('diff --git ')) {
      const m = / b\/(.*)$/.exec(line);
      current = { path: m?.[1] ?? line.slice(11), lines: [], added: 0, removed: 0 };
      files.push(current);
      continue;
    }
    if (!current) {
      if (line.trim()) {
        current = { path: '(diff)', lines: [], added: 0, removed: 0 };
        files.push(current);
      } else continue;
    }
    current.lines.push(line);
    if (line.startsWith('+') && !line.startsWith('+++')) current.added += 1;
    else if (line.startsWith('-') && !line.startsWith('---')) current.removed += 1;
  }
  for (const f of files) while (f.lines.length && f.lines[f.lines.length - 1] === '') f.lines.pop();
  return files;
}

/** The lines of each file that fit in `budget` lines overall, in order. */
function limitLines(files: DiffFile[], budget: number): string[][] {
  let left = budget;
  return files.map((f) => {
    const shown = f.lines.slice(0, Math.max(0, left));
    left -= shown.length;
    return shown;
  });
}

function lineClass(line: string): string {
  if (line.startsWith('+++') || line.startsWith('---')) return 'text-zinc-500';
  if (line.startsWith('+')) return 'bg-emerald-50 text-emerald-900 dark:bg-emerald-950/60 dark:text-emerald-200';
  if (line.startsWith('-')) return 'bg-red-50 text-red-900 dark:bg-red-950/60 dark:text-red-200';
  if (line.startsWith('@@')) return 'bg-sky-50 text-sky-800 dark:bg-sky-950/60 dark:text-sky-300';
  if (/^(index|new file|deleted file|similarity|rename|old mode|new mode)/.test(line)) return 'text-zinc-500';
  return 'text-zinc-700 dark:text-zinc-300';
}

function DiffView({ taskId, round }: { taskId: string; round: number }) {
  const diff = useDiff(taskId, round, true);
  const [all, setAll] = useState(false);
  const files = useMemo(() => (diff.data === undefined ? [] : parseDiff(diff.data)), [diff.data]);
  if (diff.isPending) return <Loading label="Loading diff" />;
  if (diff.isError) return <ErrorNotice error={diff.error} title="Diff unavailable" />;
  if (files.length === 0) return <p className="text-sm text-zinc-500">This commit changed nothing.</p>;
  const shownPerFile = limitLines(files, all ? Infinity : SHOWN_LINES);
  const hidden = files.reduce((n, f) => n + f.lines.length, 0) - SHOWN_LINES;
  return (
    <div className="space-y-2" data-testid="diff">
      {files.map((f, i) => {
        const shown = shownPerFile[i] ?? [];
        return (
          <Disclosure key={`${f.path}-${i}`} defaultOpen={files.length <= 2}>
            <div className="overflow-hidden rounded-lg border border-zinc-200 dark:border-zinc-800">
              <DisclosureButton className="group flex w-full items-center gap-2 bg-zinc-50 px-3 py-1.5 text-left text-sm hover:bg-zinc-100 dark:bg-zinc-900 dark:hover:bg-zinc-800">
                <ChevronIcon className="size-3.5 shrink-0 transition-transform group-data-open:rotate-90" />
                <span className="min-w-0 truncate font-mono text-xs">{f.path}</span>
                <span className="ml-auto shrink-0 font-mono text-xs">
                  <span className="text-emerald-700 dark:text-emerald-400">+{f.added}</span>{' '}
                  <span className="text-red-700 dark:text-red-400">-{f.removed}</span>
                </span>
              </DisclosureButton>
              <DisclosurePanel>
                <pre className="max-h-[32rem] overflow-auto font-mono text-xs leading-5">
                  {shown.map((line, j) => (
                    <div key={j} className={cx('px-3 whitespace-pre', lineClass(line))}>
                      {line || ' '}
                    </div>
                  ))}
                </pre>
              </DisclosurePanel>
            </div>
          </Disclosure>
        );
      })}
      {!all && hidden > 0 && (
        <Button onClick={() => setAll(true)}>Show {hidden.toLocaleString('en-US')} more lines</Button>
      )}
    </div>
  );
}

export function DiffPanel({ taskId, commits }: { taskId: string; commits: Commit[] }) {
  const rounds = commits.map((c) => c.round);
  const [chosen, setChosen] = useState<number | null>(null);
  if (commits.length === 0) return null;
  const round = chosen ?? rounds[rounds.length - 1]!;
  const commit = commits.find((c) => c.round === round);
  return (
    <Card
      title="Changes"
      actions={
        rounds.length > 1 && (
          <div role="tablist" aria-label="Round" className="flex gap-1">
            {rounds.map((r) => (
              <button
                key={r}
                role="tab"
                type="button"
                aria-selected={r === round}
                onClick={() => setChosen(r)}
                className={cx(
                  'rounded-md px-2 py-0.5 text-xs font-medium',
                  r === round
                    ? 'bg-zinc-900 text-white dark:bg-zinc-100 dark:text-zinc-900'
                    : 'text-zinc-600 hover:bg-zinc-100 dark:text-zinc-400 dark:hover:bg-zinc-800',
                )}
              >
                {r === 0 ? 'Round 0' : `Fix ${r}`}
              </button>
            ))}
          </div>
        )
      }
    >
      {commit && (
        <p className="mb-3 text-xs text-zinc-500 dark:text-zinc-400">
          <span className="font-mono">{shortSha(commit.sha)}</span> · {commit.files_changed} files ·{' '}
          <span className="text-emerald-700 dark:text-emerald-400">+{commit.insertions}</span>{' '}
          <span className="text-red-700 dark:text-red-400">-{commit.deletions}</span> · {commit.message.split('\n')[0]}
        </p>
      )}
      <DiffView key={round} taskId={taskId} round={round} />
    </Card>
  );
}
