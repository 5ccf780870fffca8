// The live log console of a task: virtualised (only visible rows exist in the DOM, so 100k
// lines scroll smoothly), following new lines until the reader scrolls up, with search and a
// level filter.
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useDeferredValue, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode, type WheelEvent } from 'react';

import type { LogFrame } from '../api/types';
import { ArrowDownIcon, PauseIcon, SearchIcon } from '../components/icons';
import { cx } from '../components/ui';
import { clockTime, count } from '../lib/format';
import { useLogStream, type LogStream, type StreamStatus } from './useLogStream';

export const ROW_HEIGHT = 20;
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

const LEVEL_CLASSES: Record<string, string> = {
  debug: 'text-zinc-500',
  info: 'text-sky-700 dark:text-sky-400',
  warn: 'text-amber-700 dark:text-amber-400',
  error: 'text-red-700 dark:text-red-400',
};

/** Lines matching the level set and (case-insensitive) search text. */
export function filterLines(lines: LogFrame[], levels: ReadonlySet<string>, search: string): LogFrame[] {
  const needle = search.trim().toLowerCase();
  const allLevels = LEVELS.every((l) => levels.has(l));
  if (!needle && allLevels) return lines;
  return lines.filter(
    (l) =>
      (allLevels || levels.has(l.level)) &&
      (!needle ||
        l.message.toLowerCase().includes(needle) ||
        l.stage.toLowerCase().includes(needle) ||
        l.service.toLowerCase().includes(needle)),
  );
}

function highlight(text: string, needle: string): ReactNode {
  if (!needle) return text;
  const lower = text.toLowerCase();
  const parts: ReactNode[] = [];
  let from = 0;
  for (let at = lower.indexOf(needle); at !== -1; at = lower.indexOf(needle, from)) {
    parts.push(text.slice(from, at));
    parts.push(
      <mark key={at} className="rounded-sm bg-yellow-200 text-inherit dark:bg-yellow-700/60">
        {text.slice(at, at + needle.length)}
      </mark>,
    );
    from = at + needle.length;
  }
  parts.push(text.slice(from));
  return parts;
}

function StatusDot({ status, reconnects }: { status: StreamStatus; reconnects: number }) {
  const label =
    status === 'live' ? (reconnects > 0 ? `Live (reconnected ${reconnects}×)` : 'Live') : status === 'connecting' ? 'Connecting' : 'Reconnecting';
  return (
    <span className="inline-flex items-center gap-1.5 text-xs text-zinc-600 dark:text-zinc-400" data-testid="log-status" data-status={status}>
      <span
        aria-hidden
        className={cx(
          'size-2 rounded-full',
          status === 'live' ? 'bg-emerald-500' : 'animate-pulse bg-amber-500',
        )}
      />
      {label}
    </span>
  );
}

/** The live log of `taskId`; give it `key={taskId}`. Memoised: the task page re-renders often. */
export const LogConsole = memo(function LogConsole({ taskId, heightClass }: { taskId: string; heightClass?: string }) {
  return <LogView stream={useLogStream(taskId)} heightClass={heightClass} />;
});

/** The console over any log stream. */
export function LogView({ stream, heightClass = 'h-80 sm:h-[28rem]' }: { stream: LogStream; heightClass?: string }) {
  const { buffer, version, status, reconnects } = stream;
  const [search, setSearch] = useState('');
  const deferredSearch = useDeferredValue(search);
  const [levels, setLevels] = useState<ReadonlySet<Level>>(() => new Set(LEVELS));
  const [follow, setFollow] = useState(true);
  const scroller = useRef<HTMLDivElement>(null);
  const autoScrolledAt = useRef(0);

  const lines = useMemo(
    () => filterLines(buffer.lines, levels, deferredSearch),
    // `version` changes whenever buffer.lines (mutated in place) has new lines.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [buffer, version, levels, deferredSearch],
  );
  const total = buffer.lines.length;
  const needle = deferredSearch.trim().toLowerCase();

  // The dashboard does not use the React Compiler, so the virtualizer's unmemoizable
  // functions are harmless here.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtualizer = useVirtualizer({
    count: lines.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });

  // Follow: keep the newest line in view while following.
  useLayoutEffect(() => {
    if (!follow || lines.length === 0) return;
    autoScrolledAt.current = Date.now();
    virtualizer.scrollToIndex(lines.length - 1, { align: 'end' });
  }, [follow, lines, lines.length, virtualizer, version]);

  // Line count when following stopped, to tell the reader how much arrived meanwhile.
  const [pausedAt, setPausedAt] = useState<number | null>(null);
  const pause = () => {
    setFollow(false);
    setPausedAt(total);
  };
  const resume = () => {
    setFollow(true);
    setPausedAt(null);
  };

  // Scrolling up by wheel, touch or keys is the reader's intent even while lines stream in
  // (when scroll events are hard to tell from following).
  const onWheel = (e: WheelEvent) => {
    if (e.deltaY < 0 && follow) pause();
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (follow && ['ArrowUp', 'PageUp', 'Home'].includes(e.key)) pause();
    if (!follow && e.key === 'End') resume();
  };

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    // Scroll events caused by following are not the reader's.
    if (Date.now() - autoScrolledAt.current < 200) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < ROW_HEIGHT * 1.5;
    if (atBottom && !follow) resume();
    if (!atBottom && follow) pause();
  };

  const toggleLevel = (level: Level) =>
    setLevels((prev) => {
      const next = new Set(prev);
      if (next.has(level)) next.delete(level);
      else next.add(level);
      return next;
    });

  const newSincePause = pausedAt === null ? 0 : Math.max(0, total - pausedAt);

  return (
    <div className="overflow-hidden rounded-xl border border-zinc-200 bg-white shadow-sm dark:border-zinc-800 dark:bg-zinc-900">
      <div className="flex flex-wrap items-center gap-2 border-b border-zinc-200 px-3 py-2 dark:border-zinc-800">
        <h2 className="mr-1 text-sm font-semibold">Live log</h2>
        <StatusDot status={status} reconnects={reconnects} />
        <span className="text-xs text-zinc-500 tabular-nums dark:text-zinc-400" data-testid="log-count">
          {lines.length === total ? `${count(total)} lines` : `${count(lines.length)} of ${count(total)} lines`}
        </span>
        <div className="ml-auto flex flex-wrap items-center gap-2">
          <div className="relative">
            <SearchIcon className="pointer-events-none absolute top-1/2 left-2 size-3.5 -translate-y-1/2 text-zinc-400" />
            <input
              type="search"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
              placeholder="Search"
              aria-label="Search the log"
              className="w-36 rounded-md border-0 bg-zinc-50 py-1 pr-2 pl-7 text-xs ring-1 ring-zinc-300 ring-inset focus:ring-2 focus:ring-brand-500 focus:outline-none sm:w-48 dark:bg-zinc-950 dark:ring-zinc-700"
            />
          </div>
          <div role="group" aria-label="Levels shown" className="flex overflow-hidden rounded-md ring-1 ring-zinc-300 dark:ring-zinc-700">
            {LEVELS.map((level) => (
              <button
                key={level}
                type="button"
                aria-pressed={levels.has(level)}
                onClick={() => toggleLevel(level)}
                className={cx(
                  'px-2 py-1 text-xs font-medium',
                  levels.has(level)
                    ? 'bg-zinc-800 text-white dark:bg-zinc-200 dark:text-zinc-900'
                    : 'bg-white text-zinc-500 hover:bg-zinc-100 dark:bg-zinc-900 dark:text-zinc-400 dark:hover:bg-zinc-800',
                )}
              >
                {level}
              </button>
            ))}
          </div>
          <button
            type="button"
            onClick={() => (follow ? pause() : resume())}
            aria-pressed={follow}
            className={cx(
              'inline-flex items-center gap-1 rounded-md px-2 py-1 text-xs font-medium ring-1 ring-inset',
              follow
                ? 'bg-emerald-50 text-emerald-800 ring-emerald-300 dark:bg-emerald-950 dark:text-emerald-200 dark:ring-emerald-800'
                : 'bg-amber-50 text-amber-900 ring-amber-300 dark:bg-amber-950 dark:text-amber-200 dark:ring-amber-800',
            )}
          >
            {follow ? <ArrowDownIcon className="size-3.5" /> : <PauseIcon className="size-3.5" />}
            {follow ? 'Following' : 'Paused'}
          </button>
        </div>
      </div>
      <div className="relative">
        <div
          ref={scroller}
          onScroll={onScroll}
          onWheel={onWheel}
          onTouchMove={() => follow && pause()}
          onKeyDown={onKeyDown}
          data-virtual-scroller
          role="log"
          aria-label="Task log"
          aria-live="off"
          tabIndex={0}
          className={cx('overflow-auto bg-zinc-50 font-mono text-xs dark:bg-zinc-950', heightClass)}
        >
          {total === 0 ? (
            <p className="p-3 text-zinc-500">{status === 'live' ? 'No log lines yet.' : 'Connecting to the log…'}</p>
          ) : lines.length === 0 ? (
            <p className="p-3 text-zinc-500">No lines match.</p>
          ) : (
            <div style={{ height: virtualizer.getTotalSize(), position: 'relative', minWidth: '100%' }}>
              {virtualizer.getVirtualItems().map((item) => {
                const line = lines[item.index]!;
                return (
                  <div
                    key={line.seq}
                    data-testid="log-line"
                    data-seq={line.seq}
                    className="absolute left-0 flex w-max min-w-full gap-3 px-3 leading-5 whitespace-pre hover:bg-zinc-100 dark:hover:bg-zinc-900"
                    style={{ height: ROW_HEIGHT, transform: `translateY(${item.start}px)` }}
                  >
                    <span className="text-zinc-500 tabular-nums select-none" title={line.time}>
                      {clockTime(line.time)}
                    </span>
                    <span className={cx('w-[5ch] shrink-0 uppercase', LEVEL_CLASSES[line.level] ?? 'text-zinc-500')}>
                      {line.level}
                    </span>
                    <span className="w-[8ch] shrink-0 truncate text-zinc-500" title={`${line.service} · ${line.stage}`}>
                      {line.stage === 'unspecified' ? line.service : line.stage}
                    </span>
                    <span className="text-zinc-800 dark:text-zinc-200">{highlight(line.message, needle)}</span>
                  </div>
                );
              })}
            </div>
          )}
        </div>
        {!follow && (
          <button
            type="button"
            onClick={resume}
            className="absolute right-4 bottom-3 inline-flex items-center gap-1 rounded-full bg-zinc-900 px-3 py-1 text-xs font-medium text-white shadow-lg hover:bg-zinc-700 dark:bg-zinc-100 dark:text-zinc-900"
          >
            <ArrowDownIcon className="size-3.5" />
            {newSincePause > 0 ? `${count(newSincePause)} new — jump to latest` : 'Jump to latest'}
          </button>
        )}
      </div>
    </div>
  );
}
