// Task statuses as data: their order, which are terminal, and how they look.
import type { TaskStatus } from './types';

/** Every status in lifecycle order; typechecking fails when the API adds one. */
export const TASK_STATUSES = [
  'queued',
  'planning',
  'awaiting_clarification',
  'awaiting_plan_approval',
  'generating',
  'testing',
  'fixing',
  'reviewing',
  'gating',
  'awaiting_release_approval',
  'awaiting_budget_approval',
  'deploying',
  'verifying',
  'paused',
  'deployed',
  'merged',
  'blocked',
  'failed',
  'cancelled',
  'rolled_back',
] as const satisfies readonly TaskStatus[];

type Unlisted = Exclude<TaskStatus, (typeof TASK_STATUSES)[number]>;
const everyStatusListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyStatusListed;

const TERMINAL: ReadonlySet<string> = new Set(['deployed', 'merged', 'blocked', 'failed', 'cancelled', 'rolled_back']);

export function isTerminal(status: string): boolean {
  return TERMINAL.has(status);
}

export type Tone = 'neutral' | 'active' | 'waiting' | 'success' | 'warning' | 'danger' | 'muted' | 'violet';

export function statusTone(status: string): Tone {
  switch (status) {
    case 'queued':
      return 'neutral';
    case 'deployed':
    case 'merged':
      return 'success';
    case 'blocked':
      return 'warning';
    case 'failed':
      return 'danger';
    case 'cancelled':
      return 'muted';
    case 'rolled_back':
      return 'violet';
    case 'paused':
      return 'waiting';
    default:
      return status.startsWith('awaiting_') ? 'waiting' : 'active';
  }
}

export function statusLabel(status: string): string {
  return status.replaceAll('_', ' ');
}

/** Tailwind classes of a tone, for chips and dots (contrast checked in both themes). */
export const TONE_CLASSES: Record<Tone, { chip: string; dot: string }> = {
  neutral: {
    chip: 'bg-zinc-100 text-zinc-700 ring-zinc-300 dark:bg-zinc-800 dark:text-zinc-200 dark:ring-zinc-600',
    dot: 'bg-zinc-400',
  },
  active: {
    chip: 'bg-sky-50 text-sky-800 ring-sky-300 dark:bg-sky-950 dark:text-sky-200 dark:ring-sky-700',
    dot: 'bg-sky-500',
  },
  waiting: {
    chip: 'bg-amber-50 text-amber-900 ring-amber-300 dark:bg-amber-950 dark:text-amber-200 dark:ring-amber-700',
    dot: 'bg-amber-500',
  },
  success: {
    chip: 'bg-emerald-50 text-emerald-800 ring-emerald-300 dark:bg-emerald-950 dark:text-emerald-200 dark:ring-emerald-700',
    dot: 'bg-emerald-500',
  },
  warning: {
    chip: 'bg-orange-50 text-orange-900 ring-orange-300 dark:bg-orange-950 dark:text-orange-200 dark:ring-orange-700',
    dot: 'bg-orange-500',
  },
  danger: {
    chip: 'bg-red-50 text-red-800 ring-red-300 dark:bg-red-950 dark:text-red-200 dark:ring-red-700',
    dot: 'bg-red-500',
  },
  muted: {
    chip: 'bg-zinc-100 text-zinc-600 ring-zinc-300 dark:bg-zinc-900 dark:text-zinc-400 dark:ring-zinc-700',
    dot: 'bg-zinc-400',
  },
  violet: {
    chip: 'bg-violet-50 text-violet-800 ring-violet-300 dark:bg-violet-950 dark:text-violet-200 dark:ring-violet-700',
    dot: 'bg-violet-500',
  },
};
