// The dashboard's small component set: buttons, cards, chips, form fields, notices and
// times, built on Tailwind with Headless UI where behaviour matters (dialogs, switches).
import { Dialog, DialogPanel, DialogTitle, Switch } from '@headlessui/react';
import {
  useEffect,
  useId,
  useState,
  type ButtonHTMLAttributes,
  type ComponentProps,
  type ReactNode,
} from 'react';
import { Link } from 'react-router';

import { ApiError } from '../api/client';
import { TONE_CLASSES, statusLabel, statusTone, type Tone } from '../api/status';
import { absoluteTime, duration, elapsed, relativeTime } from '../lib/format';

export function cx(...classes: (string | false | null | undefined)[]): string {
  return classes.filter(Boolean).join(' ');
}

// ---- buttons

type Variant = 'primary' | 'secondary' | 'danger' | 'ghost';

const VARIANTS: Record<Variant, string> = {
  primary:
    'bg-brand-700 text-white shadow-sm hover:bg-brand-800 disabled:bg-brand-700/60 dark:bg-brand-700 dark:hover:bg-brand-600',
  secondary:
    'bg-white text-zinc-800 ring-1 ring-inset ring-zinc-300 shadow-sm hover:bg-zinc-50 dark:bg-zinc-900 dark:text-zinc-100 dark:ring-zinc-700 dark:hover:bg-zinc-800',
  danger:
    'bg-red-600 text-white shadow-sm hover:bg-red-700 disabled:bg-red-600/60 dark:bg-red-700 dark:hover:bg-red-600',
  ghost: 'text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800',
};

const BUTTON =
  'inline-flex items-center justify-center gap-1.5 rounded-md px-3 py-1.5 text-sm font-medium transition-colors disabled:cursor-not-allowed disabled:opacity-70 whitespace-nowrap';

export function Button({
  variant = 'secondary',
  className,
  busy,
  children,
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; busy?: boolean }) {
  return (
    <button
      type="button"
      className={cx(BUTTON, VARIANTS[variant], className)}
      disabled={props.disabled || busy}
      aria-busy={busy || undefined}
      {...props}
    >
      {busy && <Spinner className="size-3.5" />}
      {children}
    </button>
  );
}

export function ButtonLink({
  variant = 'secondary',
  className,
  ...props
}: ComponentProps<typeof Link> & { variant?: Variant }) {
  return <Link className={cx(BUTTON, VARIANTS[variant], className)} {...props} />;
}

// ---- layout

export function Card({
  title,
  actions,
  children,
  className,
  bodyClassName,
  id,
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  bodyClassName?: string;
  id?: string;
}) {
  const headingId = useId();
  return (
    <section
      id={id}
      aria-labelledby={title ? headingId : undefined}
      className={cx(
        'min-w-0 rounded-xl border border-zinc-200 bg-white shadow-sm dark:border-zinc-800 dark:bg-zinc-900',
        className,
      )}
    >
      {(title || actions) && (
        <header className="flex flex-wrap items-center justify-between gap-2 border-b border-zinc-200 px-4 py-2.5 dark:border-zinc-800">
          {title && (
            <h2 id={headingId} className="text-sm font-semibold text-zinc-900 dark:text-zinc-100">
              {title}
            </h2>
          )}
          {actions && <div className="flex flex-wrap items-center gap-2">{actions}</div>}
        </header>
      )}
      <div className={cx('p-4', bodyClassName)}>{children}</div>
    </section>
  );
}

export function PageHeader({ title, subtitle, actions }: { title: ReactNode; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="mb-5 flex flex-wrap items-end justify-between gap-3">
      <div className="min-w-0">
        <h1 className="truncate text-xl font-semibold tracking-tight sm:text-2xl">{title}</h1>
        {subtitle && <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">{subtitle}</p>}
      </div>
      {actions && <div className="flex flex-wrap items-center gap-2">{actions}</div>}
    </div>
  );
}

export function KeyValues({ items }: { items: [ReactNode, ReactNode][] }) {
  return (
    <dl className="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1.5 text-sm">
      {items.map(([k, v], i) => (
        <div key={i} className="contents">
          <dt className="text-zinc-500 dark:text-zinc-400">{k}</dt>
          <dd className="min-w-0 break-words">{v}</dd>
        </div>
      ))}
    </dl>
  );
}

// ---- chips

export function Chip({ tone, children, dot, className }: { tone: Tone; children: ReactNode; dot?: boolean; className?: string }) {
  const t = TONE_CLASSES[tone];
  return (
    <span
      className={cx(
        'inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap ring-1 ring-inset',
        t.chip,
        className,
      )}
    >
      {dot && <span className={cx('size-1.5 rounded-full', t.dot, tone === 'active' && 'animate-pulse')} aria-hidden />}
      {children}
    </span>
  );
}

export function StatusChip({ status }: { status: string }) {
  return (
    <Chip tone={statusTone(status)} dot>
      <span data-testid="status">{statusLabel(status)}</span>
    </Chip>
  );
}

/** Outcome words (`succeeded`, `pass`, `approved`, `live`, ...) as chips. */
export function OutcomeChip({ value }: { value: string }) {
  const tones: Record<string, Tone> = {
      succeeded: 'success',
      pass: 'success',
      passed: 'success',
      approved: 'success',
      approve: 'success',
      live: 'success',
      ok: 'success',
      running: 'active',
      concerns: 'waiting',
      skipped: 'muted',
      superseded: 'muted',
      stopped: 'muted',
      interrupted: 'waiting',
      blocked: 'warning',
      block: 'danger',
      reject: 'danger',
      failed: 'danger',
      rolled_back: 'violet',
    };
  const tone = tones[value] ?? 'neutral';
  return <Chip tone={tone}>{statusLabel(value)}</Chip>;
}

export function SeverityChip({ severity }: { severity: string }) {
  const tone: Tone =
    ({ critical: 'danger', high: 'danger', medium: 'warning', low: 'waiting', info: 'neutral' } as Record<string, Tone>)[
      severity
    ] ?? 'neutral';
  return <Chip tone={tone}>{severity}</Chip>;
}

// ---- time

/** Sets the browser tab's title while a page is shown. */
export function useTitle(title: string | null | undefined) {
  useEffect(() => {
    document.title = title ? `${title} · Kiln` : 'Kiln';
  }, [title]);
}

/** Re-renders every `ms` so relative times and running durations stay current. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** Time from `start` to `end`, or to now (ticking) while unfinished. */
export function Elapsed({ start, end, className }: { start: string; end: string | null | undefined; className?: string }) {
  const now = useNow(end ? 60_000 : 1000);
  return <span className={className}>{duration(elapsed(start, end, now))}</span>;
}

export function RelativeTime({ iso, className }: { iso: string; className?: string }) {
  const now = useNow(5000);
  return (
    <time dateTime={iso} title={absoluteTime(iso)} className={className}>
      {relativeTime(iso, now)}
    </time>
  );
}

// ---- feedback

export function Spinner({ className }: { className?: string }) {
  return (
    <svg viewBox="0 0 24 24" className={cx('animate-spin', className ?? 'size-4')} aria-hidden="true">
      <circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" strokeOpacity="0.25" strokeWidth="3" />
      <path d="M21 12a9 9 0 0 0-9-9" fill="none" stroke="currentColor" strokeWidth="3" strokeLinecap="round" />
    </svg>
  );
}

export function Loading({ label = 'Loading' }: { label?: string }) {
  return (
    <div role="status" className="flex items-center gap-2 py-6 text-sm text-zinc-500 dark:text-zinc-400">
      <Spinner /> {label}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="py-4 text-sm text-zinc-500 dark:text-zinc-400">{children}</p>;
}

/** An error, with the API's problem detail when there is one. */
export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  const detail =
    error instanceof ApiError ? error.problem.detail : error instanceof Error ? error.message : String(error);
  const heading = title ?? (error instanceof ApiError ? error.problem.title : 'Something went wrong');
  return (
    <div
      role="alert"
      className="rounded-lg border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100"
    >
      <p className="font-medium">{heading}</p>
      <p className="mt-0.5 break-words" data-testid="problem-detail">
        {detail}
      </p>
    </div>
  );
}

// ---- form fields

const INPUT =
  'block w-full rounded-md border-0 bg-white px-3 py-1.5 text-sm text-zinc-900 shadow-sm ring-1 ring-inset ring-zinc-300 placeholder:text-zinc-400 focus:ring-2 focus:ring-inset focus:ring-brand-500 focus:outline-none dark:bg-zinc-950 dark:text-zinc-100 dark:ring-zinc-700 aria-invalid:ring-red-500 dark:aria-invalid:ring-red-500';

export function Field({
  label,
  hint,
  error,
  children,
  className,
  id: fixedId,
}: {
  label: string;
  hint?: ReactNode;
  error?: string | null;
  className?: string;
  /** The control's id (generated when not given). */
  id?: string;
  children: (props: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => ReactNode;
}) {
  const generated = useId();
  const id = fixedId ?? generated;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint ? hintId : null, error ? errorId : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className={className}>
      <label htmlFor={id} className="block text-sm font-medium text-zinc-800 dark:text-zinc-200">
        {label}
      </label>
      <div className="mt-1">{children({ id, 'aria-describedby': describedBy, 'aria-invalid': error ? true : undefined })}</div>
      {hint && !error && (
        <p id={hintId} className="mt-1 text-xs text-zinc-500 dark:text-zinc-400">
          {hint}
        </p>
      )}
      {error && (
        <p id={errorId} role="alert" className="mt-1 text-xs font-medium text-red-700 dark:text-red-400">
          {error}
        </p>
      )}
    </div>
  );
}

export function TextInput({ className, ...props }: ComponentProps<'input'>) {
  return <input className={cx(INPUT, className)} {...props} />;
}

export function TextArea({ className, ...props }: ComponentProps<'textarea'>) {
  return <textarea className={cx(INPUT, 'min-h-24', className)} {...props} />;
}

export function Select({ className, ...props }: ComponentProps<'select'>) {
  return <select className={cx(INPUT, 'pr-8', className)} {...props} />;
}

export function Toggle({
  checked,
  onChange,
  label,
  disabled,
}: {
  checked: boolean;
  onChange: (v: boolean) => void;
  label: string;
  disabled?: boolean;
}) {
  return (
    <Switch
      checked={checked}
      onChange={onChange}
      disabled={disabled}
      aria-label={label}
      className="group relative inline-flex h-5 w-9 shrink-0 cursor-pointer rounded-full bg-zinc-300 transition-colors data-checked:bg-brand-600 data-disabled:opacity-60 dark:bg-zinc-700"
    >
      <span className="pointer-events-none inline-block size-4 translate-x-0.5 translate-y-0.5 rounded-full bg-white shadow transition group-data-checked:translate-x-4.5" />
    </Switch>
  );
}

/** A modal asking to confirm an action, optionally with a text answer. */
export function ConfirmDialog({
  open,
  onClose,
  title,
  children,
  confirmLabel,
  variant = 'primary',
  busy,
  onConfirm,
  confirmDisabled,
}: {
  open: boolean;
  onClose: () => void;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  variant?: Variant;
  busy?: boolean;
  onConfirm: () => void;
  confirmDisabled?: boolean;
}) {
  return (
    <Dialog open={open} onClose={onClose} className="relative z-50">
      <div className="fixed inset-0 bg-zinc-950/50" aria-hidden="true" />
      <div className="fixed inset-0 flex items-end justify-center p-4 sm:items-center">
        <DialogPanel className="w-full max-w-md rounded-xl bg-white p-5 shadow-xl dark:bg-zinc-900 dark:ring-1 dark:ring-zinc-800">
          <DialogTitle className="text-base font-semibold">{title}</DialogTitle>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              onConfirm();
            }}
          >
            <div className="mt-3 space-y-3 text-sm text-zinc-700 dark:text-zinc-300">{children}</div>
            <div className="mt-5 flex justify-end gap-2">
              <Button onClick={onClose}>Back</Button>
              <Button type="submit" variant={variant} busy={busy} disabled={confirmDisabled}>
                {confirmLabel}
              </Button>
            </div>
          </form>
        </DialogPanel>
      </div>
    </Dialog>
  );
}

export function ExternalLink({ href, children, className }: { href: string; children: ReactNode; className?: string }) {
  return (
    <a
      href={href}
      target="_blank"
      rel="noreferrer"
      className={cx('font-medium text-brand-700 underline-offset-2 hover:underline dark:text-brand-400', className)}
    >
      {children}
    </a>
  );
}
