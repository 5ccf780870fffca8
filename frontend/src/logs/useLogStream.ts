// Follows a task's live log over `/ws/logs`: the server replays the history, then streams new
// lines. A dropped connection reconnects with backoff and resumes with `after_seq` = the last
// line kept, so nothing is missed and nothing repeats (the buffer also drops any seq it has).
import { useEffect, useState, useSyncExternalStore } from 'react';

import { wsUrl } from '../api/base';
import { LogBuffer, parseFrame } from './buffer';

export type StreamStatus = 'connecting' | 'live' | 'reconnecting';

/** Delay before reconnect attempt `n` (1-based): 0.5 s doubling to 8 s. */
export function backoff(n: number): number {
  return Math.min(500 * 2 ** Math.max(0, n - 1), 8000);
}

export interface LogStream {
  buffer: LogBuffer;
  /** Changes whenever new lines are in `buffer.lines`. */
  version: number;
  status: StreamStatus;
  /** Connections opened after the first (drops survived). */
  reconnects: number;
}

/** Streams `taskId`'s log; give the component using it `key={taskId}` to switch tasks. */
export function useLogStream(taskId: string): LogStream {
  const [buffer] = useState(() => new LogBuffer());
  const version = useSyncExternalStore(buffer.subscribe, buffer.getVersion);
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const [reconnects, setReconnects] = useState(0);

  useEffect(() => {
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let stopped = false;
    let failures = 0;
    let opened = 0;

    const connect = () => {
      const params = new URLSearchParams({ task_id: taskId });
      if (buffer.lastSeq > 0) params.set('after_seq', String(buffer.lastSeq));
      const ws = new WebSocket(wsUrl(`ws/logs?${params.toString()}`));
      socket = ws;
      ws.onopen = () => {
        failures = 0;
        opened += 1;
        if (opened > 1) setReconnects((n) => n + 1);
        setStatus('live');
      };
      ws.onmessage = (event: MessageEvent) => {
        const frame = parseFrame(event.data);
        if (frame) buffer.push(frame);
      };
      ws.onclose = () => {
        if (stopped || socket !== ws) return;
        failures += 1;
        setStatus('reconnecting');
        timer = setTimeout(connect, backoff(failures));
      };
    };

    connect();
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      const ws = socket;
      socket = null;
      if (ws) {
        ws.onopen = ws.onmessage = ws.onclose = null;
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
      }
    };
  }, [taskId, buffer]);

  return { buffer, version, status, reconnects };
}
