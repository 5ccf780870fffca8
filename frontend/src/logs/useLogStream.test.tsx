import { act, renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { frames } from '../../test/fixtures';
import { logState, logsSocket, server } from '../../test/server';
import { LogBuffer } from './buffer';
import { backoff, useLogStream } from './useLogStream';

const TASK = '0190f1c2-5e4b-7c3d-9a8e-1f2a3b4c5d6e';

function seqs(buffer: LogBuffer) {
  return buffer.lines.map((l) => l.seq);
}

describe('LogBuffer', () => {
  it('keeps lines in order and refuses any seq it has passed', () => {
    const b = new LogBuffer();
    for (const f of frames(1, 3)) b.push(f);
    expect(b.push(frames(2, 2)[0]!)).toBe(false);
    expect(b.push(frames(3, 3)[0]!)).toBe(false);
    expect(b.push(frames(7, 7)[0]!)).toBe(true);
    expect(seqs(b)).toEqual([1, 2, 3, 7]);
    expect(b.lastSeq).toBe(7);
    expect(b.duplicates).toBe(2);
  });
});

describe('useLogStream', () => {
  it('replays the history, then follows new lines', async () => {
    logState.lines = frames(1, 5);
    let live: { send: (d: string) => void } | null = null;
    server.use(
      logsSocket.addEventListener('connection', ({ client }) => {
        live = client;
      }),
    );
    const { result } = renderHook(() => useLogStream(TASK));
    await waitFor(() => expect(result.current.buffer.lines).toHaveLength(5));
    expect(result.current.status).toBe('live');
    expect(logState.connections[0]!.searchParams.get('task_id')).toBe(TASK);
    expect(logState.connections[0]!.searchParams.has('after_seq')).toBe(false);

    act(() => {
      for (const f of frames(6, 8)) live!.send(JSON.stringify(f));
    });
    await waitFor(() => expect(seqs(result.current.buffer)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]));
  });

  it('reconnects after a dropped connection with after_seq and never duplicates a line', async () => {
    logState.lines = frames(1, 10);
    let dropped = false;
    server.use(
      logsSocket.addEventListener('connection', ({ client }) => {
        if (!dropped) {
          dropped = true;
          // Drop the first connection right after its replay.
          setTimeout(() => client.close(1011, 'log stream ended; reconnect with after_seq'), 20);
        } else {
          // A server that resends an overlapping line must not produce a duplicate.
          client.send(JSON.stringify(frames(10, 10)[0]));
          for (const f of frames(11, 12)) client.send(JSON.stringify(f));
        }
      }),
    );
    const { result } = renderHook(() => useLogStream(TASK));
    await waitFor(() => expect(result.current.buffer.lines.length).toBeGreaterThanOrEqual(12), { timeout: 5000 });
    expect(seqs(result.current.buffer)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(logState.connections).toHaveLength(2);
    expect(logState.connections[1]!.searchParams.get('after_seq')).toBe('10');
    await waitFor(() => expect(result.current.reconnects).toBe(1));
    expect(result.current.status).toBe('live');
  });

  it('backs off between attempts, up to 8 s', () => {
    expect([1, 2, 3, 4, 5, 6, 9].map(backoff)).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });
});
