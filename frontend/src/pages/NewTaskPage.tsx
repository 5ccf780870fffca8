// The New task form: a template, a project name checked as the API checks it, the brief, and
// the optional approval policy and budget. The API's problem detail is shown next to the
// field it concerns.
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';

import { ApiError } from '../api/client';
import { useCreateTask, useTemplates } from '../api/queries';
import type { ApprovalPolicy, BudgetLimits, CreateTask, TaskOptions } from '../api/types';
import {
  Button,
  ButtonLink,
  Card,
  ErrorNotice,
  Field,
  Loading,
  PageHeader,
  Select,
  TextArea,
  TextInput,
  cx,
  useTitle,
} from '../components/ui';
import { EMPTY_BRIEF, limitProblem, nameProblem } from '../lib/validate';

type FieldName = 'template' | 'name' | 'brief' | 'options';

/** Which field a problem of the API concerns, by its type. */
export function problemField(error: ApiError): FieldName | null {
  const kind = error.kind;
  if (kind === 'invalid-name' || kind === 'project-exists') return 'name';
  if (kind === 'unknown-template') return 'template';
  if (kind === 'empty-brief' || kind === 'brief-too-long') return 'brief';
  if (kind === 'invalid-options') return 'options';
  if (kind === 'missing-field' || kind === 'unexpected-field') {
    const m = /^(\w+) /.exec(error.problem.detail);
    const f = m?.[1];
    if (f === 'template' || f === 'name') return f;
  }
  return null;
}

const POLICIES: { value: ApprovalPolicy; label: string; hint: string }[] = [
  { value: 'none', label: 'No approvals', hint: 'Kiln plans, builds and deploys on its own.' },
  { value: 'plan', label: 'Approve the plan', hint: 'Wait for a person before generating code.' },
  { value: 'release', label: 'Approve the release', hint: 'Wait for a person before deploying.' },
  { value: 'both', label: 'Approve plan and release', hint: 'Wait at both points.' },
];

export function NewTaskPage() {
  const templates = useTemplates();
  useTitle('New task');
  const create = useCreateTask();
  const navigate = useNavigate();
  const [template, setTemplate] = useState('');
  const [name, setName] = useState('');
  const [brief, setBrief] = useState('');
  const [approval, setApproval] = useState<ApprovalPolicy>('none');
  const [budget, setBudget] = useState({ max_tokens: '', max_cost_usd: '', max_calls: '' });
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const [submitted, setSubmitted] = useState(false);

  const list = templates.data?.items ?? [];
  const chosen = template || list.find((t) => t.available)?.name || list[0]?.name || '';
  const chosenTemplate = list.find((t) => t.name === chosen);

  const show = (f: string) => submitted || touched[f];
  const clientErrors = {
    name: nameProblem(name),
    brief: brief.trim() ? null : EMPTY_BRIEF,
    max_tokens: limitProblem(budget.max_tokens, true),
    max_cost_usd: limitProblem(budget.max_cost_usd, false),
    max_calls: limitProblem(budget.max_calls, true),
  };
  const apiError = create.error instanceof ApiError ? create.error : null;
  const apiField = apiError ? problemField(apiError) : null;
  const fieldError = (f: FieldName): string | null => {
    if (apiError && apiField === f) return apiError.problem.detail;
    if (f === 'name' || f === 'brief') return show(f) ? clientErrors[f] : null;
    return null;
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    if (Object.values(clientErrors).some(Boolean)) {
      const first = clientErrors.name ? 'name' : clientErrors.brief ? 'brief' : 'max_tokens';
      document.getElementById(`field-${first}`)?.focus();
      return;
    }
    const options: TaskOptions = {};
    if (approval !== 'none') options.approval = approval;
    const limits: BudgetLimits = {};
    if (budget.max_tokens.trim()) limits.max_tokens = Number(budget.max_tokens);
    if (budget.max_cost_usd.trim()) limits.max_cost_usd = Number(budget.max_cost_usd);
    if (budget.max_calls.trim()) limits.max_calls = Number(budget.max_calls);
    if (Object.keys(limits).length) options.budget = limits;
    const body: CreateTask = { kind: 'new_app', template: chosen, name, brief, options: options as Record<string, unknown> };
    create.mutate(body, { onSuccess: (task) => void navigate(`/tasks/${task.id}`) });
  };

  if (templates.isPending) return <Loading label="Loading templates" />;

  return (
    <div className="mx-auto max-w-3xl">
      <PageHeader title="New task" subtitle="Describe an app; Kiln plans, builds, tests, reviews and deploys it." />
      {templates.isError && <ErrorNotice error={templates.error} title="Templates not available" />}
      <form noValidate onSubmit={onSubmit} className="space-y-4" aria-label="New task">
        <Card title="What to build">
          <div className="space-y-4">
            <fieldset>
              <legend className="text-sm font-medium text-zinc-800 dark:text-zinc-200">Template</legend>
              <div className="mt-1 grid gap-2 sm:grid-cols-2" role="radiogroup">
                {list.map((t) => (
                  <label
                    key={t.name}
                    className={cx(
                      'relative flex cursor-pointer flex-col rounded-lg border p-3 text-sm has-focus-visible:ring-2 has-focus-visible:ring-brand-500',
                      t.name === chosen
                        ? 'border-brand-500 bg-brand-50 dark:border-brand-500 dark:bg-brand-500/10'
                        : 'border-zinc-200 hover:border-zinc-300 dark:border-zinc-700 dark:hover:border-zinc-600',
                      !t.available && 'cursor-not-allowed opacity-60',
                    )}
                  >
                    <input
                      type="radio"
                      name="template"
                      value={t.name}
                      checked={t.name === chosen}
                      disabled={!t.available}
                      onChange={() => setTemplate(t.name)}
                      className="sr-only"
                    />
                    <span className="font-medium">{t.title}</span>
                    <span className="font-mono text-xs text-zinc-500">{t.name}</span>
                    <span className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">{t.description}</span>
                    {t.missing_toolchains.length > 0 && (
                      <span className="mt-1 text-xs text-red-700 dark:text-red-400">
                        missing on this host: {t.missing_toolchains.join(', ')}
                      </span>
                    )}
                    {t.unreachable_registries.length > 0 && (
                      <span className="mt-1 text-xs text-red-700 dark:text-red-400">
                        unreachable: {t.unreachable_registries.join(', ')}
                      </span>
                    )}
                  </label>
                ))}
              </div>
              {fieldError('template') && (
                <p role="alert" className="mt-1 text-xs font-medium text-red-700 dark:text-red-400">
                  {fieldError('template')}
                </p>
              )}
            </fieldset>
            <Field
              label="Project name"
              hint="Lowercase letters, digits and '-'; it becomes the app's URL, e.g. /apps/bakery/."
              error={fieldError('name')}
              id="field-name"
            >
              {(p) => (
                <TextInput
                  {...p}
                  name="name"
                  autoComplete="off"
                  spellCheck={false}
                  value={name}
                  placeholder="bakery"
                  onChange={(e) => {
                    setName(e.target.value);
                    if (apiField === 'name') create.reset();
                  }}
                  onBlur={() => setTouched((t) => ({ ...t, name: true }))}
                />
              )}
            </Field>
            <Field
              label="Brief"
              hint={`What the app should do, in plain language. ${brief.trim().length.toLocaleString('en-US')} characters.`}
              error={fieldError('brief')}
              id="field-brief"
            >
              {(p) => (
                <TextArea
                  {...p}
                  name="brief"
                  rows={5}
                  value={brief}
                  placeholder="A landing page for a bakery with opening hours, a cake gallery and a contact form."
                  onChange={(e) => {
                    setBrief(e.target.value);
                    if (apiField === 'brief') create.reset();
                  }}
                  onBlur={() => setTouched((t) => ({ ...t, brief: true }))}
                />
              )}
            </Field>
          </div>
        </Card>

        <Card title="People and limits">
          <div className="space-y-4">
            <Field label="Approval policy" hint={POLICIES.find((p) => p.value === approval)?.hint}>
              {(p) => (
                <Select {...p} name="approval" value={approval} onChange={(e) => setApproval(e.target.value as ApprovalPolicy)}>
                  {POLICIES.map((o) => (
                    <option key={o.value} value={o.value}>
                      {o.label}
                    </option>
                  ))}
                </Select>
              )}
            </Field>
            <fieldset>
              <legend className="text-sm font-medium text-zinc-800 dark:text-zinc-200">Budget</legend>
              <p className="text-xs text-zinc-500 dark:text-zinc-400">
                Optional LLM limits; when one is reached the task pauses and asks instead of failing.
              </p>
              <div className="mt-2 grid gap-3 sm:grid-cols-3">
                {(
                  [
                    ['max_tokens', 'Max tokens', 'numeric', '200000'],
                    ['max_cost_usd', 'Max cost (USD)', 'decimal', '2.00'],
                    ['max_calls', 'Max calls', 'numeric', '60'],
                  ] as const
                ).map(([key, label, mode, placeholder]) => (
                  <Field key={key} id={`field-${key}`} label={label} error={show(key) ? clientErrors[key] : null}>
                    {(p) => (
                      <TextInput
                        {...p}
                        inputMode={mode}
                        placeholder={placeholder}
                        value={budget[key]}
                        onChange={(e) => setBudget({ ...budget, [key]: e.target.value })}
                        onBlur={() => setTouched((t) => ({ ...t, [key]: true }))}
                      />
                    )}
                  </Field>
                ))}
              </div>
              {fieldError('options') && (
                <p role="alert" className="mt-2 text-xs font-medium text-red-700 dark:text-red-400">
                  {fieldError('options')}
                </p>
              )}
            </fieldset>
          </div>
        </Card>

        {apiError && apiField === null && <ErrorNotice error={apiError} title="The task was not created" />}
        {create.error && !apiError && <ErrorNotice error={create.error} />}

        <div className="flex items-center justify-end gap-2">
          <ButtonLink to="/">Back</ButtonLink>
          <Button type="submit" variant="primary" busy={create.isPending} disabled={!chosenTemplate}>
            Create task
          </Button>
        </div>
      </form>
    </div>
  );
}
