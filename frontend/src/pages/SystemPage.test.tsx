import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';

import { CSRF, pauseView, session, system } from '../../test/fixtures';
import { renderApp } from '../../test/render';
import { api, problem, server } from '../../test/server';

describe('System page', () => {
  it('shows replicas with health, queues per stage and dead letters', async () => {
    renderApp('/system');
    const codegen = await screen.findByTestId('service-codegen');
    expect(within(codegen).getByText('1/2 alive')).toBeInTheDocument();
    expect(within(codegen).getByText('codegen.2').parentElement).toHaveTextContent('not responding');
    expect(within(screen.getByTestId('service-tester')).getByText('no replica')).toBeInTheDocument();
    // A replica that works without a feature says which and why.
    expect(screen.getByTestId('service-indexer')).toHaveTextContent('indexer.1: dense retrieval is off, results are BM25 only');

    const stage = screen.getByTestId('stage-codegen');
    expect(within(stage).getAllByRole('cell').slice(0, 3).map((c) => c.textContent)).toEqual(['4', '2', '1']);
    expect(within(screen.getByTestId('stage-index')).getByText('no consumer')).toBeInTheDocument();

    const dead = screen.getByRole('region', { name: 'Dead letters' });
    expect(within(dead).getByText('sandbox: npm not found')).toBeInTheDocument();
    expect(within(dead).getByText('5 deliveries')).toBeInTheDocument();
    expect(within(dead).getByRole('link', { name: /task 01a1fb48/ })).toHaveAttribute('href', expect.stringContaining('/tasks/01a1fb48'));

    expect(screen.getByRole('switch', { name: 'Pause the pipeline' })).not.toBeChecked();
    expect(screen.getByTestId('pause-state')).toHaveTextContent('Running');
  });

  it('pauses with a reason, shows who heard it, and resumes', async () => {
    const user = userEvent.setup();
    let state = pauseView();
    const sent: { body: unknown; csrf: string | null }[] = [];
    server.use(
      http.get(api('api/v1/system'), () => HttpResponse.json(system({ paused: state.paused }))),
      http.get(api('api/v1/system/pause'), () => HttpResponse.json(state)),
      http.put(api('api/v1/system/pause'), async ({ request }) => {
        const body = (await request.json()) as { paused: boolean; reason?: string };
        sent.push({ body, csrf: request.headers.get('x-csrf-token') });
        state = body.paused
          ? pauseView({ paused: true, reason: body.reason ?? null, actor: 'ada', since: new Date(Date.now() - 60_000).toISOString() })
          : pauseView();
        return HttpResponse.json({
          ...state,
          reached: ['api.1', 'codegen.1'],
          reach_ms: 42,
          resumed_tasks: body.paused ? 0 : 3,
        });
      }),
    );
    renderApp('/system');
    const toggle = await screen.findByRole('switch', { name: 'Pause the pipeline' });
    expect(toggle).not.toBeChecked();

    // Pausing asks for a reason, and will not go without one.
    await user.click(toggle);
    const dialog = await screen.findByRole('dialog', { name: 'Pause everything' });
    const pauseButton = within(dialog).getByRole('button', { name: 'Pause' });
    expect(pauseButton).toBeDisabled();
    await user.type(within(dialog).getByRole('textbox', { name: 'Reason' }), 'runaway model costs');
    await user.click(pauseButton);

    await waitFor(() => expect(screen.getByRole('switch', { name: 'Pause the pipeline' })).toBeChecked());
    expect(sent).toEqual([{ body: { paused: true, reason: 'runaway model costs' }, csrf: CSRF }]);
    const panel = screen.getByTestId('pause-state');
    expect(panel).toHaveAttribute('data-paused', 'true');
    expect(within(panel).getByText('Paused')).toBeInTheDocument();
    expect(within(panel).getByTestId('pause-reason')).toHaveTextContent('runaway model costs');
    expect(within(panel).getByTestId('pause-actor')).toHaveTextContent('ada');
    expect(within(panel).getByText('1 min ago')).toBeInTheDocument();
    const reach = screen.getByTestId('pause-reach');
    expect(reach).toHaveTextContent('Reached 2 workers in 42 ms');
    expect(within(reach).getByRole('list', { name: 'Workers reached' })).toHaveTextContent('api.1codegen.1');

    // Resuming confirms, sends no reason unless one is given, and reports resumed tasks.
    await user.click(screen.getByRole('switch', { name: 'Pause the pipeline' }));
    const resume = await screen.findByRole('dialog', { name: 'Resume everything' });
    await user.click(within(resume).getByRole('button', { name: 'Resume' }));
    await waitFor(() => expect(screen.getByRole('switch', { name: 'Pause the pipeline' })).not.toBeChecked());
    expect(sent[1]).toEqual({ body: { paused: false }, csrf: CSRF });
    expect(screen.getByTestId('pause-reach')).toHaveTextContent('3 parked tasks resumed.');
  });

  it('shows per-project pauses and resumes one project; the API\'s refusal is shown', async () => {
    const user = userEvent.setup();
    const sent: unknown[] = [];
    server.use(
      http.get(api('api/v1/system/pause'), () =>
        HttpResponse.json(
          pauseView({ projects: [{ project: 'bakery', reason: 'bad deploy', actor: 'grace', since: '2026-11-20T23:00:00Z' }] }),
        ),
      ),
      http.put(api('api/v1/system/pause'), async ({ request }) => {
        sent.push(await request.json());
        return problem(403, 'forbidden', 'Not allowed', 'PUT /api/v1/system/pause needs the admin role');
      }),
    );
    renderApp('/system');
    const row = await screen.findByTestId('paused-project-bakery');
    expect(row).toHaveTextContent('bad deploy');
    expect(row).toHaveTextContent('grace');
    await user.click(within(row).getByRole('button', { name: 'Resume bakery' }));
    const dialog = await screen.findByRole('dialog', { name: 'Resume project bakery' });
    await user.click(within(dialog).getByRole('button', { name: 'Resume' }));
    expect(await within(dialog).findByTestId('problem-detail')).toHaveTextContent('needs the admin role');
    expect(sent).toEqual([{ paused: false, project: 'bakery' }]);
  });

  it('pauses one project with a reason', async () => {
    const user = userEvent.setup();
    const sent: unknown[] = [];
    server.use(
      http.put(api('api/v1/system/pause'), async ({ request }) => {
        sent.push(await request.json());
        return HttpResponse.json(pauseView({ reached: [], reach_ms: null }));
      }),
    );
    renderApp('/system');
    await user.click(await screen.findByRole('button', { name: /pause a project/i }));
    const dialog = await screen.findByRole('dialog', { name: 'Pause a project' });
    await user.selectOptions(within(dialog).getByRole('combobox', { name: 'Project' }), 'pizzaboard');
    await user.type(within(dialog).getByRole('textbox', { name: 'Reason' }), 'flaky tests');
    await user.click(within(dialog).getByRole('button', { name: 'Pause' }));
    await waitFor(() => expect(sent).toEqual([{ paused: true, reason: 'flaky tests', project: 'pizzaboard' }]));
    expect(await screen.findByTestId('pause-reach')).toHaveTextContent('No worker acknowledged');
  });

  it('leaves the switch to admins', async () => {
    server.use(http.get(api('api/v1/session'), () => HttpResponse.json(session({ name: 'op', role: 'operator' }))));
    renderApp('/system');
    await screen.findByText('Pausing and resuming needs the admin role.');
    expect(screen.getByRole('switch', { name: 'Pause the pipeline' })).toBeDisabled();
  });
});
