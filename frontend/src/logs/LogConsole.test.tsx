import { Profiler, useSyncExternalStore } from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { frames } from '../../test/fixtures';
import { logState, logsSocket, server } from '../../test/server';
import { FLUSH_MS, LogBuffer } from './buffer';
import { LogConsole, LogView, filterLines } from './LogConsole';
import type { LogStream } from './useLogStream';

const TASK = '0190f1c2-5e4b-7c3d-9a8e-1f2a3b4c5d6e';

const rows = () => screen.queryAllByTestId('log-line');
const renderedSeqs = () => rows().map((r) => Number(r.dataset.seq));
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

function liveStream(buffer: LogBuffer): LogStream {
  return { buffer, version: buffer.version, status: 'live', reconnects: 0 };
}

/** A view over a buffer filled beforehand. */
function Harness({ buffer }: { buffer: LogBuffer }) {
  return <LogView stream={liveStream(buffer)} />;
}

describe('LogView with 100k lines', () => {
  it('renders a bounded window of rows and follows the newest', async () => {
    const buffer = new LogBuffer();
    for (const f of frames(1, 100_000)) buffer.push(f);
    await tick(FLUSH_MS * 2);
    render(<Harness buffer={buffer} />);
    expect(screen.getByTestId('log-count')).toHaveTextContent('100,000 lines');
    await waitFor(() => expect(renderedSeqs()).toContain(100_000));
    // Only what fits the 400 px viewport (20 px rows) plus overscan is in the DOM.
    expect(rows().length).toBeGreaterThan(10);
    expect(rows().length).toBeLessThan(60);
    // Searching all 100k lines still renders only a window.
    const user = userEvent.setup();
    await user.type(screen.getByRole('searchbox', { name: /search the log/i }), 'line 9999');
    await waitFor(() => expect(screen.getByTestId('log-count')).toHaveTextContent('11 of 100,000 lines'));
    expect(renderedSeqs()).toEqual([9999, 99990, 99991, 99992, 99993, 99994, 99995, 99996, 99997, 99998, 99999]);
  });

  it('takes 100k streamed lines in a handful of renders', async () => {
    const buffer = new LogBuffer();
    let commits = 0;
    render(
      <Profiler id="log" onRender={() => void (commits += 1)}>
        <Subscribed buffer={buffer} />
      </Profiler>,
    );
    const before = commits;
    act(() => {
      for (const f of frames(1, 100_000)) buffer.push(f);
    });
    await waitFor(() => expect(screen.getByTestId('log-count')).toHaveTextContent('100,000 lines'));
    await waitFor(() => expect(renderedSeqs()).toContain(100_000));
    // Lines are batched: the view re-rendered a few times, not once per line.
    expect(commits - before).toBeLessThan(10);
    expect(rows().length).toBeLessThan(60);
  });
});

/** The view re-rendering on buffer notifications, as useLogStream makes it. */
function Subscribed({ buffer }: { buffer: LogBuffer }) {
  const version = useSyncExternalStore(buffer.subscribe, buffer.getVersion);
  return <LogView stream={{ ...liveStream(buffer), version }} />;
}

describe('LogConsole', () => {
  it('streams a replayed log over the socket into the console', async () => {
    logState.lines = frames(1, 500);
    render(<LogConsole taskId={TASK} />);
    await waitFor(() => expect(screen.getByTestId('log-count')).toHaveTextContent('500 lines'));
    await waitFor(() => expect(renderedSeqs()).toContain(500));
    expect(screen.getByTestId('log-status')).toHaveAttribute('data-status', 'live');
  });

  it('searches and filters by level over every line', async () => {
    const user = userEvent.setup();
    logState.lines = frames(1, 200);
    render(<LogConsole taskId={TASK} />);
    await waitFor(() => expect(screen.getByTestId('log-count')).toHaveTextContent('200 lines'));

    await user.type(screen.getByRole('searchbox', { name: /search the log/i }), 'line 15');
    await waitFor(() => expect(screen.getByTestId('log-count')).toHaveTextContent('11 of 200 lines'));
    expect(renderedSeqs()).toEqual([15, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159]);
    expect(within(rows()[0]!).getByText('line 15', { selector: 'mark' })).toBeInTheDocument();

    await user.clear(screen.getByRole('searchbox', { name: /search the log/i }));
    const levels = screen.getByRole('group', { name: /levels shown/i });
    await user.click(within(levels).getByRole('button', { name: 'info' }));
    await user.click(within(levels).getByRole('button', { name: 'warn' }));
    expect(within(levels).getByRole('button', { name: 'info' })).toHaveAttribute('aria-pressed', 'false');
    await waitFor(() => expect(screen.getByTestId('log-count')).toHaveTextContent('4 of 200 lines'));
    expect(renderedSeqs()).toEqual([50, 100, 150, 200]);
  });

  it('pauses when the reader scrolls up and resumes from the jump button', async () => {
    const user = userEvent.setup();
    logState.lines = frames(1, 1000);
    let live: { send: (d: string) => void } | null = null;
    server.use(logsSocket.addEventListener('connection', ({ client }) => void (live = client)));
    render(<LogConsole taskId={TASK} />);
    await waitFor(() => expect(renderedSeqs()).toContain(1000));

    const log = screen.getByRole('log', { name: /task log/i });
    await tick(250); // past the grace period for scroll events caused by following
    log.scrollTop = 0;
    fireEvent.scroll(log);
    await waitFor(() => expect(screen.getByRole('button', { name: /paused/i })).toHaveAttribute('aria-pressed', 'false'));
    await waitFor(() => expect(renderedSeqs()).toContain(1));

    act(() => {
      for (const f of frames(1001, 1005)) live!.send(JSON.stringify(f));
    });
    const jump = await screen.findByRole('button', { name: /5 new — jump to latest/i });
    expect(renderedSeqs()).not.toContain(1005);
    await user.click(jump);
    await waitFor(() => expect(renderedSeqs()).toContain(1005));
    expect(screen.getByRole('button', { name: /following/i })).toHaveAttribute('aria-pressed', 'true');
  });

  it('pauses at once when the reader wheels or keys up, and End resumes', async () => {
    logState.lines = frames(1, 300);
    render(<LogConsole taskId={TASK} />);
    await waitFor(() => expect(renderedSeqs()).toContain(300));
    const log = screen.getByRole('log', { name: /task log/i });
    fireEvent.wheel(log, { deltaY: -120 });
    expect(screen.getByRole('button', { name: /paused/i })).toBeInTheDocument();
    fireEvent.keyDown(log, { key: 'End' });
    expect(screen.getByRole('button', { name: /following/i })).toBeInTheDocument();
    fireEvent.keyDown(log, { key: 'PageUp' });
    expect(screen.getByRole('button', { name: /paused/i })).toBeInTheDocument();
  });

  it('shows the connection state', async () => {
    render(<LogConsole taskId={TASK} />);
    await waitFor(() => expect(screen.getByTestId('log-status')).toHaveAttribute('data-status', 'live'));
    expect(screen.getByText('No log lines yet.')).toBeInTheDocument();
  });
});

describe('filterLines', () => {
  it('returns the same array when nothing filters', () => {
    const lines = frames(1, 3);
    expect(filterLines(lines, new Set(['debug', 'info', 'warn', 'error']), ' ')).toBe(lines);
  });
});
