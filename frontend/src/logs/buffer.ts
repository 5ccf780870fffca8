// A task's log lines in arrival order, deduplicated by stream sequence, with change
// notifications batched so a flood of lines (a replay of 100k) costs a few renders, not one
// per line.
import type { LogFrame } from '../api/types';

/** How long lines collect before listeners hear about them, in ms. */
export const FLUSH_MS = 50;

export class LogBuffer {
  /** Every line kept, in stream order. Mutated in place; read it when `version` changes. */
  readonly lines: LogFrame[] = [];
  /** Stream sequence of the last line kept: where a reconnect resumes (`after_seq`). */
  lastSeq = 0;
  /** Bumped when listeners are told about new lines. */
  version = 0;
  /** Lines refused because their seq was already seen (a replay overlap). */
  duplicates = 0;

  private listeners = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** Keeps `frame` unless its seq is not after the last one; true when kept. */
  push(frame: LogFrame): boolean {
    if (!(frame.seq > this.lastSeq)) {
      this.duplicates += 1;
      return false;
    }
    this.lines.push(frame);
    this.lastSeq = frame.seq;
    this.schedule();
    return true;
  }

  private schedule() {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.version += 1;
      for (const l of this.listeners) l();
    }, FLUSH_MS);
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  getVersion = (): number => this.version;
}

/** A frame from the socket, or null for anything else. */
export function parseFrame(data: unknown): LogFrame | null {
  if (typeof data !== 'string') return null;
  try {
    const v = JSON.parse(data) as Partial<LogFrame>;
    if (typeof v.seq !== 'number' || typeof v.message !== 'string') return null;
    return {
      seq: v.seq,
      time: typeof v.time === 'string' ? v.time : '',
      level: typeof v.level === 'string' ? v.level : 'info',
      service: typeof v.service === 'string' ? v.service : '',
      stage: typeof v.stage === 'string' ? v.stage : '',
      message: v.message,
    };
  } catch {
    return null;
  }
}
