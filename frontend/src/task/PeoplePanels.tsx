// People in the loop: what the task waits for (answers, a plan or release approval, more
// budget), the clarifying questions with an answer box, and the approvals given so far.
import { useState } from 'react';

import { useAnswer, useApprove, useReject } from '../api/queries';
import type { Approval, AwaitingKind, BudgetLimits, Clarification, TaskDetail } from '../api/types';
import { Button, Card, ConfirmDialog, ErrorNotice, Field, OutcomeChip, RelativeTime, TextArea, TextInput } from '../components/ui';
import { statusLabel } from '../api/status';

const AWAITING_TITLE: Record<AwaitingKind, string> = {
  clarification: 'Kiln has questions',
  plan_approval: 'The plan waits for approval',
  release_approval: 'The release waits for approval',
  budget_approval: 'The budget is used up',
};

/** What the task waits for: the announced `awaiting` object, or else its status. */
export function awaitingKind(task: TaskDetail): AwaitingKind | null {
  if (task.awaiting) return task.awaiting.kind;
  const m = /^awaiting_(clarification|plan_approval|release_approval|budget_approval)$/.exec(task.status);
  return m ? (m[1] as AwaitingKind) : null;
}

/** One figure: numbers and text as they are, lists item by item, reasons by their message. */
function FigureValue({ value }: { value: unknown }) {
  if (typeof value === 'number') return <>{value.toLocaleString('en-US')}</>;
  if (typeof value === 'string' || typeof value === 'boolean') return <>{String(value)}</>;
  if (Array.isArray(value)) {
    return (
      <ul className="space-y-0.5 font-normal">
        {(value as unknown[]).map((v, i) => (
          <li key={i}>
            <FigureValue value={v} />
          </li>
        ))}
      </ul>
    );
  }
  if (value && typeof value === 'object' && 'message' in value && typeof value.message === 'string') {
    const kind = 'kind' in value && typeof value.kind === 'string' ? value.kind : null;
    return (
      <>
        {kind && <span className="mr-1.5 text-xs uppercase opacity-70">{kind}</span>}
        {value.message}
      </>
    );
  }
  return <span className="font-mono text-xs">{JSON.stringify(value)}</span>;
}

function Figures({ figures }: { figures: Record<string, unknown> }) {
  const entries = Object.entries(figures);
  if (entries.length === 0) return null;
  return (
    <dl className="mt-2 grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm">
      {entries.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="text-amber-900/80 dark:text-amber-200/80">{statusLabel(k)}</dt>
          <dd className="min-w-0 font-medium tabular-nums">
            <FigureValue value={v} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

function numberOrUndefined(raw: string): number | undefined {
  const t = raw.trim();
  if (!t) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

function ApprovalActions({ task, kind }: { task: TaskDetail; kind: AwaitingKind }) {
  const approve = useApprove(task.id);
  const reject = useReject(task.id);
  const [reason, setReason] = useState('');
  const [rejecting, setRejecting] = useState(false);
  const [feedback, setFeedback] = useState('');
  const [limits, setLimits] = useState({ max_tokens: '', max_cost_usd: '', max_calls: '' });

  const onApprove = () => {
    let budget: BudgetLimits | undefined;
    if (kind === 'budget_approval') {
      const b: BudgetLimits = {};
      const t = numberOrUndefined(limits.max_tokens);
      const c = numberOrUndefined(limits.max_cost_usd);
      const n = numberOrUndefined(limits.max_calls);
      if (t !== undefined) b.max_tokens = t;
      if (c !== undefined) b.max_cost_usd = c;
      if (n !== undefined) b.max_calls = n;
      if (Object.keys(b).length) budget = b;
    }
    approve.mutate({ ...(reason.trim() ? { reason: reason.trim() } : {}), ...(budget ? { budget } : {}) });
  };

  return (
    <div className="mt-3 space-y-3">
      {kind === 'budget_approval' && (
        <fieldset>
          <legend className="text-sm font-medium">New limits (leave empty to keep)</legend>
          <div className="mt-1 grid gap-2 sm:grid-cols-3">
            <Field label="Max tokens">
              {(p) => (
                <TextInput {...p} inputMode="numeric" value={limits.max_tokens} onChange={(e) => setLimits({ ...limits, max_tokens: e.target.value })} />
              )}
            </Field>
            <Field label="Max cost (USD)">
              {(p) => (
                <TextInput {...p} inputMode="decimal" value={limits.max_cost_usd} onChange={(e) => setLimits({ ...limits, max_cost_usd: e.target.value })} />
              )}
            </Field>
            <Field label="Max calls">
              {(p) => (
                <TextInput {...p} inputMode="numeric" value={limits.max_calls} onChange={(e) => setLimits({ ...limits, max_calls: e.target.value })} />
              )}
            </Field>
          </div>
        </fieldset>
      )}
      <Field label="Note (optional)">
        {(p) => <TextInput {...p} value={reason} onChange={(e) => setReason(e.target.value)} placeholder="Why you approve" />}
      </Field>
      <div className="flex flex-wrap gap-2">
        <Button variant="primary" busy={approve.isPending} onClick={onApprove}>
          Approve
        </Button>
        <Button variant="danger" onClick={() => setRejecting(true)}>
          Reject…
        </Button>
      </div>
      {approve.isError && <ErrorNotice error={approve.error} title="Approval failed" />}
      {reject.isError && !rejecting && <ErrorNotice error={reject.error} title="Rejection failed" />}
      <ConfirmDialog
        open={rejecting}
        onClose={() => setRejecting(false)}
        title="Reject"
        confirmLabel="Reject"
        variant="danger"
        busy={reject.isPending}
        confirmDisabled={!feedback.trim()}
        onConfirm={() =>
          reject.mutate({ feedback: feedback.trim() }, { onSuccess: () => setRejecting(false) })
        }
      >
        <Field label="Feedback" hint="Tell Kiln what to change; it is recorded with the rejection.">
          {(p) => <TextArea {...p} required value={feedback} onChange={(e) => setFeedback(e.target.value)} autoFocus />}
        </Field>
        {reject.isError && <ErrorNotice error={reject.error} title="Rejection failed" />}
      </ConfirmDialog>
    </div>
  );
}

export function AwaitingPanel({ task }: { task: TaskDetail }) {
  const kind = awaitingKind(task);
  if (!kind) return null;
  const awaiting = task.awaiting;
  return (
    <section
      aria-label="Waiting for you"
      className="rounded-xl border border-amber-300 bg-amber-50 p-4 text-amber-950 shadow-sm dark:border-amber-800 dark:bg-amber-950/60 dark:text-amber-100"
    >
      <h2 className="flex flex-wrap items-center gap-2 text-sm font-semibold">
        {AWAITING_TITLE[kind]}
        {awaiting && (
          <span className="text-xs font-normal opacity-80">
            since <RelativeTime iso={awaiting.since} />
          </span>
        )}
      </h2>
      {awaiting?.detail && <p className="mt-1 text-sm">{awaiting.detail}</p>}
      {awaiting?.figures && <Figures figures={awaiting.figures} />}
      {kind === 'plan_approval' && task.plan && (
        <p className="mt-2 text-sm">
          <a href="#plan" className="font-medium underline underline-offset-2">
            Read the plan
          </a>{' '}
          ({task.plan.stories.length} {task.plan.stories.length === 1 ? 'story' : 'stories'}) before deciding.
        </p>
      )}
      {kind === 'clarification' ? (
        <p className="mt-2 text-sm">
          <a href="#clarifications" className="font-medium underline underline-offset-2">
            Answer the questions below
          </a>{' '}
          and the task continues.
        </p>
      ) : (
        <ApprovalActions task={task} kind={kind} />
      )}
    </section>
  );
}

/** A release the gate blocked can still ship when a person overrides it, with a reason. */
export function OverridePanel({ task }: { task: TaskDetail }) {
  const approve = useApprove(task.id);
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  if (task.status !== 'blocked' || task.commits.length === 0) return null;
  return (
    <section
      aria-label="Blocked release"
      className="flex flex-wrap items-center justify-between gap-3 rounded-xl border border-orange-300 bg-orange-50 p-4 text-orange-950 shadow-sm dark:border-orange-800 dark:bg-orange-950/60 dark:text-orange-100"
    >
      <div className="min-w-0">
        <h2 className="text-sm font-semibold">The gate blocked this release</h2>
        <p className="text-sm">The gate decision lists why. A person can override it and deploy anyway.</p>
      </div>
      <Button onClick={() => setOpen(true)}>Override and deploy…</Button>
      <ConfirmDialog
        open={open}
        onClose={() => setOpen(false)}
        title="Override the gate"
        confirmLabel="Override and deploy"
        variant="danger"
        busy={approve.isPending}
        confirmDisabled={!reason.trim()}
        onConfirm={() => approve.mutate({ reason: reason.trim() }, { onSuccess: () => setOpen(false) })}
      >
        <Field label="Reason" hint="Recorded with the decision, next to the gate's reasons.">
          {(p) => <TextArea {...p} required value={reason} onChange={(e) => setReason(e.target.value)} autoFocus />}
        </Field>
        {approve.isError && <ErrorNotice error={approve.error} title="Not overridden" />}
      </ConfirmDialog>
    </section>
  );
}

function AnswerForm({ taskId, open }: { taskId: string; open: Clarification[] }) {
  const answer = useAnswer(taskId);
  const [answers, setAnswers] = useState<Record<string, string>>({});
  const filled = open.filter((c) => (answers[c.id] ?? '').trim());
  return (
    <form
      className="mt-3 space-y-3"
      onSubmit={(e) => {
        e.preventDefault();
        answer.mutate({ answers: filled.map((c) => ({ id: c.id, answer: (answers[c.id] ?? '').trim() })) });
      }}
    >
      {open.map((c) => (
        <Field key={c.id} label={c.question} hint={<>asked <RelativeTime iso={c.asked_at} /></>}>
          {(p) => (
            <TextArea
              {...p}
              className="min-h-16"
              value={answers[c.id] ?? ''}
              onChange={(e) => setAnswers({ ...answers, [c.id]: e.target.value })}
            />
          )}
        </Field>
      ))}
      <Button type="submit" variant="primary" busy={answer.isPending} disabled={filled.length === 0}>
        Send {filled.length > 1 ? `${filled.length} answers` : 'answer'}
      </Button>
      {answer.isError && <ErrorNotice error={answer.error} title="Answers not accepted" />}
    </form>
  );
}

export function ClarificationsPanel({ task }: { task: TaskDetail }) {
  const list = task.clarifications;
  if (!list || list.length === 0) return null;
  const open = list.filter((c) => c.answer === null);
  const answered = list.filter((c) => c.answer !== null);
  return (
    <Card title="Clarifying questions" id="clarifications">
      {answered.length > 0 && (
        <ul className="space-y-3">
          {answered.map((c) => (
            <li key={c.id} className="text-sm">
              <p className="font-medium">{c.question}</p>
              <p className="mt-0.5 text-zinc-700 dark:text-zinc-300">{c.answer}</p>
              {c.answered_at && (
                <p className="text-xs text-zinc-500">
                  answered <RelativeTime iso={c.answered_at} />
                </p>
              )}
            </li>
          ))}
        </ul>
      )}
      {open.length > 0 && <AnswerForm taskId={task.id} open={open} />}
    </Card>
  );
}

export function ApprovalsPanel({ approvals }: { approvals?: Approval[] | null }) {
  if (!approvals || approvals.length === 0) return null;
  return (
    <Card title="Approvals">
      <ul className="space-y-2">
        {approvals.map((a, i) => (
          <li key={i} className="flex flex-wrap items-start gap-2 text-sm">
            <OutcomeChip value={a.decision} />
            <div className="min-w-0">
              <p>
                <span className="font-medium">{statusLabel(a.kind)}</span> by {a.actor} ·{' '}
                <RelativeTime iso={a.created_at} className="text-zinc-500" />
              </p>
              {a.reason && <p className="text-zinc-600 dark:text-zinc-400">{a.reason}</p>}
            </div>
          </li>
        ))}
      </ul>
    </Card>
  );
}
