import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';

import type { TaskDetail } from '../api/types';
import { TASK_ID, awaitingTask, deployedTask, frames, legacyTask } from '../../test/fixtures';
import { renderApp } from '../../test/render';
import { api, logState, problem, server } from '../../test/server';

/** Serves `task` until a handler changes it with `update`, as the real API would. */
let current: TaskDetail;
function serve(task: TaskDetail) {
  current = task;
  server.use(http.get(api(`api/v1/tasks/${TASK_ID}`), () => HttpResponse.json(current)));
}
function update(task: TaskDetail) {
  current = task;
  return HttpResponse.json(task);
}

const section = (name: string | RegExp) => screen.getByRole('region', { name });

describe('Task detail', () => {
  it('shows a deployed task as the API returns it', async () => {
    logState.lines = frames(1, 40, 'deploy');
    renderApp(`/tasks/${TASK_ID}`);
    expect(await screen.findByRole('heading', { level: 1, name: 'bakery' })).toBeInTheDocument();
    expect(screen.getAllByTestId('status')[0]).toHaveTextContent('deployed');
    expect(screen.getByRole('link', { name: /open app/i })).toHaveAttribute('href', 'http://127.0.0.1:18181/apps/bakery/');

    // Timeline: a round bar, then one bar per stage run with duration and outcome.
    const timeline = section('Timeline');
    const rows = within(timeline).getAllByTestId('timeline-row');
    expect(rows).toHaveLength(7);
    expect(rows[0]).toHaveAccessibleName(/^Round 0: started .*, 394 ms, tests passed$/);
    expect(rows[1]).toHaveAccessibleName(/^plan on plan\.1: started \d\d:\d\d:\d\d\.\d{3}, 12 ms, succeeded — 3 stories planned$/);

    // The live log replays.
    await waitFor(() => expect(screen.getByTestId('log-count')).toHaveTextContent('40 lines'));

    expect(within(section('Plan')).getByText('A landing page for a bakery')).toBeInTheDocument();
    expect(within(section('Plan')).getByRole('list', { name: 'Acceptance criteria of Opening hours' }).children).toHaveLength(2);
    expect(within(section('Gate decision')).getByText('2 install/build/test commands passed')).toBeInTheDocument();
    expect(within(section('Gate decision')).getByText('tests_passed')).toBeInTheDocument();
    expect(within(section('Deployment')).getByTestId('app-url')).toHaveTextContent('http://127.0.0.1:18181/apps/bakery/');
    expect(within(section('Deployment')).getByText('verified')).toBeInTheDocument();
    expect(within(section('Tests')).getByText('sh test.sh')).toBeInTheDocument();
    expect(within(section('Reviews')).getByText('deterministic')).toBeInTheDocument();
    expect(within(section('LLM usage')).getByText(/Offline mode/)).toBeInTheDocument();

    // The diff of the round, file by file.
    const diff = await within(section('Changes')).findByTestId('diff');
    expect(within(diff).getByText('index.html')).toBeInTheDocument();
    expect(within(diff).getByText('+<h1>Bakery</h1>')).toBeInTheDocument();

    // Nothing asked, approved or budgeted: those panels render nothing.
    expect(screen.queryByRole('region', { name: 'Clarifying questions' })).not.toBeInTheDocument();
    expect(screen.queryByRole('region', { name: 'Approvals' })).not.toBeInTheDocument();
    expect(screen.queryByRole('region', { name: 'Waiting for you' })).not.toBeInTheDocument();
    expect(screen.queryByTestId('budget')).not.toBeInTheDocument();
    // A finished task cannot be cancelled.
    expect(screen.queryByRole('button', { name: 'Cancel task' })).not.toBeInTheDocument();
  });

  it('renders an API without the people-in-the-loop fields', async () => {
    serve(legacyTask());
    renderApp(`/tasks/${TASK_ID}`);
    expect(await screen.findByRole('region', { name: 'Timeline' })).toBeInTheDocument();
    expect(screen.getByRole('region', { name: 'Gate decision' })).toBeInTheDocument();
    expect(within(section('LLM usage')).queryByText('Cached tokens')).not.toBeInTheDocument();
    expect(screen.queryByRole('region', { name: 'Clarifying questions' })).not.toBeInTheDocument();
    expect(screen.queryByRole('region', { name: 'Approvals' })).not.toBeInTheDocument();
    expect(screen.queryByTestId('budget')).not.toBeInTheDocument();
  });

  it('overrides a blocked release with a reason', async () => {
    const user = userEvent.setup();
    let sent: unknown = null;
    serve(deployedTask({ status: 'blocked', status_reason: 'the gate blocked round 0', deployment: null, deployments: [], deployment_url: null }));
    server.use(
      http.post(api(`api/v1/tasks/${TASK_ID}/approve`), async ({ request }) => {
        sent = await request.json();
        return update(deployedTask({ status: 'deploying', finished_at: null }));
      }),
    );
    renderApp(`/tasks/${TASK_ID}`);
    const blocked = await screen.findByRole('region', { name: 'Blocked release' });
    await user.click(within(blocked).getByRole('button', { name: 'Override and deploy…' }));
    const dialog = await screen.findByRole('dialog', { name: 'Override the gate' });
    await user.type(within(dialog).getByRole('textbox', { name: 'Reason' }), 'false positive: test fixture');
    await user.click(within(dialog).getByRole('button', { name: 'Override and deploy' }));
    await waitFor(() => expect(sent).toEqual({ actor: 'dashboard', reason: 'false positive: test fixture' }));
    await waitFor(() => expect(screen.queryByRole('region', { name: 'Blocked release' })).not.toBeInTheDocument());
  });

  it('names the sandbox limit that stopped a command and an unsandboxed run', async () => {
    const task = deployedTask();
    const run = task.test_runs[0]!;
    serve({
      ...task,
      test_runs: [
        {
          ...run,
          passed: false,
          isolation: 'none',
          commands: [{ ...run.commands[1]!, exit_code: 137, limit_hit: 'memory limit of 256 MiB' }],
        },
      ],
    });
    renderApp(`/tasks/${TASK_ID}`);
    const round = await screen.findByTestId('test-round-0');
    expect(within(round).getByText('no sandbox')).toBeInTheDocument();
    expect(within(round).getByText(/stopped: memory limit of 256 MiB/)).toBeInTheDocument();
    expect(within(round).getByText('✗')).toBeInTheDocument();
  });

  it('shows every people-in-the-loop field the API returns', async () => {
    serve(awaitingTask());
    renderApp(`/tasks/${TASK_ID}`);
    const waiting = await screen.findByRole('region', { name: 'Waiting for you' });
    expect(within(waiting).getByText('The release waits for approval')).toBeInTheDocument();
    expect(within(waiting).getByText('the gate approved round 1; deploying needs a person')).toBeInTheDocument();
    expect(within(waiting).getByText('cost usd')).toBeInTheDocument();

    const rows = within(section('Timeline')).getAllByTestId('timeline-row');
    expect(rows.map((r) => r.textContent)).toEqual(
      expect.arrayContaining([expect.stringContaining('Round 0'), expect.stringContaining('Fix round 1')]),
    );
    expect(rows.find((r) => r.textContent?.startsWith('Fix round 1'))).toHaveAccessibleName(/running · tests passed$/);

    const tests = section('Tests');
    expect(within(tests).getByText('no non-empty <title>')).toBeInTheDocument();
    expect(within(tests).getByText(/fingerprint a1b2c3d4e5f6/)).toBeInTheDocument();
    expect(within(within(tests).getByTestId('test-round-0')).getByText('failed')).toBeInTheDocument();

    const reviews = section('Reviews');
    expect(within(reviews).getByText('inline script without a nonce')).toBeInTheDocument();
    expect(within(reviews).getByText(/index\.html:12/)).toBeInTheDocument();

    const usage = section('LLM usage');
    expect(within(usage).getByRole('rowheader', { name: 'codegen' })).toBeInTheDocument();
    expect(within(usage).getByText('$0.34')).toBeInTheDocument();
    expect(within(usage).getByText('Cached tokens').nextElementSibling).toHaveTextContent('10,000');
    expect(within(usage).getByRole('meter', { name: 'Tokens used' })).toHaveAttribute('aria-valuenow', '85000');
    // A zero limit is no limit.
    expect(within(usage).queryByRole('meter', { name: 'Calls used' })).not.toBeInTheDocument();

    const questions = section('Clarifying questions');
    expect(within(questions).getByText('Mon–Sat 7–19')).toBeInTheDocument();
    expect(within(questions).getByRole('textbox', { name: 'Should the contact form send email?' })).toBeInTheDocument();

    expect(within(section('Approvals')).getByText('looks right')).toBeInTheDocument();
    expect(within(section('Task')).getByText('release')).toBeInTheDocument();
    expect(within(section('Task')).getByText('$2.50')).toBeInTheDocument();

    // Two rounds of changes to choose from.
    expect(within(section('Changes')).getByRole('tab', { name: 'Fix 1' })).toHaveAttribute('aria-selected', 'true');
  });

  it('answers clarifying questions', async () => {
    const user = userEvent.setup();
    let sent: unknown = null;
    serve(awaitingTask({ status: 'awaiting_clarification', awaiting: { kind: 'clarification', since: '2026-11-20T23:26:36Z', detail: 'one question is open', figures: null } }));
    server.use(
      http.post(api(`api/v1/tasks/${TASK_ID}/answers`), async ({ request }) => {
        sent = await request.json();
        return update(awaitingTask({ status: 'generating', awaiting: null, clarifications: [] }));
      }),
    );
    renderApp(`/tasks/${TASK_ID}`);
    const waiting = await screen.findByRole('region', { name: 'Waiting for you' });
    expect(within(waiting).getByText('Kiln has questions')).toBeInTheDocument();
    await user.type(screen.getByRole('textbox', { name: 'Should the contact form send email?' }), 'Yes, to the owner');
    await user.click(screen.getByRole('button', { name: 'Send answer' }));
    await waitFor(() => expect(sent).toEqual({ answers: [{ id: 'q2', answer: 'Yes, to the owner' }] }));
    await waitFor(() => expect(screen.queryByRole('region', { name: 'Waiting for you' })).not.toBeInTheDocument());
  });

  it('approves with a note, and shows why an approval was refused', async () => {
    const user = userEvent.setup();
    const sent: unknown[] = [];
    serve(awaitingTask());
    server.use(
      http.post(api(`api/v1/tasks/${TASK_ID}/approve`), async ({ request }) => {
        sent.push(await request.json());
        return problem(409, 'task-not-awaiting', 'Task not awaiting', 'task is not awaiting an approval');
      }),
    );
    renderApp(`/tasks/${TASK_ID}`);
    const waiting = await screen.findByRole('region', { name: 'Waiting for you' });
    await user.type(within(waiting).getByRole('textbox', { name: 'Note (optional)' }), 'ship it');
    await user.click(within(waiting).getByRole('button', { name: 'Approve' }));
    expect(await within(waiting).findByText('task is not awaiting an approval')).toBeInTheDocument();
    expect(sent).toEqual([{ actor: 'dashboard', reason: 'ship it' }]);
  });

  it('rejects with feedback', async () => {
    const user = userEvent.setup();
    let sent: unknown = null;
    serve(awaitingTask());
    server.use(
      http.post(api(`api/v1/tasks/${TASK_ID}/reject`), async ({ request }) => {
        sent = await request.json();
        return update(awaitingTask({ status: 'blocked', awaiting: null, finished_at: '2026-11-20T23:30:00Z' }));
      }),
    );
    renderApp(`/tasks/${TASK_ID}`);
    const waiting = await screen.findByRole('region', { name: 'Waiting for you' });
    await user.click(within(waiting).getByRole('button', { name: 'Reject…' }));
    const dialog = await screen.findByRole('dialog', { name: 'Reject' });
    expect(within(dialog).getByRole('button', { name: 'Reject' })).toBeDisabled();
    await user.type(within(dialog).getByRole('textbox', { name: 'Feedback' }), 'Use the brand colours');
    await user.click(within(dialog).getByRole('button', { name: 'Reject' }));
    await waitFor(() => expect(sent).toEqual({ actor: 'dashboard', feedback: 'Use the brand colours' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(screen.getAllByTestId('status')[0]).toHaveTextContent('blocked');
  });

  it('raises the budget when approving a budget stop', async () => {
    const user = userEvent.setup();
    let sent: unknown = null;
    serve(awaitingTask({ status: 'awaiting_budget_approval', awaiting: { kind: 'budget_approval', since: '2026-11-20T23:26:36Z', detail: 'tokens used up', figures: { used_tokens: 100000 } } }));
    server.use(
      http.post(api(`api/v1/tasks/${TASK_ID}/approve`), async ({ request }) => {
        sent = await request.json();
        return update(awaitingTask({ status: 'generating', awaiting: null, clarifications: [] }));
      }),
    );
    renderApp(`/tasks/${TASK_ID}`);
    const waiting = await screen.findByRole('region', { name: 'Waiting for you' });
    expect(within(waiting).getByText('The budget is used up')).toBeInTheDocument();
    await user.type(within(waiting).getByRole('textbox', { name: 'Max tokens' }), '200000');
    await user.click(within(waiting).getByRole('button', { name: 'Approve' }));
    await waitFor(() => expect(sent).toEqual({ actor: 'dashboard', budget: { max_tokens: 200000 } }));
  });

  it('cancels a running task after confirming', async () => {
    const user = userEvent.setup();
    let cancelled = false;
    serve(deployedTask({ status: 'testing', finished_at: null, deployment: null, deployments: [], deployment_url: null, gate: null }));
    server.use(
      http.post(api(`api/v1/tasks/${TASK_ID}/cancel`), () => {
        cancelled = true;
        return update(deployedTask({ status: 'cancelled', status_reason: 'cancelled by a person' }));
      }),
    );
    renderApp(`/tasks/${TASK_ID}`);
    await user.click(await screen.findByRole('button', { name: 'Cancel task' }));
    const dialog = await screen.findByRole('dialog');
    await user.click(within(dialog).getByRole('button', { name: 'Cancel task' }));
    await waitFor(() => expect(cancelled).toBe(true));
    await waitFor(() => expect(screen.getAllByTestId('status')[0]).toHaveTextContent('cancelled'));
    expect(screen.getByText('cancelled by a person')).toBeInTheDocument();
  });

  it("shows the API's problem for an unknown task", async () => {
    renderApp('/tasks/0190f1c2-0000-7000-8000-000000000000');
    expect(await screen.findByText('No such task')).toBeInTheDocument();
    expect(screen.getByTestId('problem-detail')).toHaveTextContent('no task with id 0190f1c2-0000-7000-8000-000000000000');
  });
});
