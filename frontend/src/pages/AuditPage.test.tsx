import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';

import type { AuditPage } from '../api/types';
import { TASK_ID, auditEntry } from '../../test/fixtures';
import { renderApp } from '../../test/render';
import { api, problem, server } from '../../test/server';

/** The audit endpoint over `count` entries (ids count..1, newest first), filtering like the API. */
function auditEndpoint(queries: URLSearchParams[], count = 5) {
  const all = Array.from({ length: count }, (_, i) =>
    auditEntry(count - i, i % 2 ? { actor: 'grace', source: 'api', action: 'system.pause', reason: 'maintenance', task_id: null } : {}),
  );
  return http.get(api('api/v1/audit'), ({ request }) => {
    const q = new URL(request.url).searchParams;
    queries.push(q);
    const limit = Number(q.get('limit') ?? 2);
    const before = q.get('cursor') ? Number(q.get('cursor')) : Infinity;
    const matching = all.filter(
      (e) =>
        e.id < before &&
        (!q.get('actor') || e.actor === q.get('actor')) &&
        (!q.get('source') || e.source === q.get('source')) &&
        (!q.get('action') || e.action === q.get('action') || (q.get('action')!.endsWith('.') && e.action.startsWith(q.get('action')!))),
    );
    const items = matching.slice(0, limit);
    const more = matching.length > limit;
    return HttpResponse.json<AuditPage>({ items, next_cursor: more ? String(items.at(-1)!.id) : null });
  });
}

const ids = () => screen.getAllByTestId('audit-entry').map((e) => Number(e.dataset.id));

describe('Audit page', () => {
  it('lists entries newest first and pages to older ones by cursor', async () => {
    const user = userEvent.setup();
    const queries: URLSearchParams[] = [];
    server.use(auditEndpoint(queries));
    renderApp('/audit');
    await waitFor(() => expect(ids()).toEqual([5, 4]));
    const first = screen.getAllByTestId('audit-entry')[0]!;
    expect(within(first).getByTestId('audit-action')).toHaveTextContent('release.approve');
    expect(within(first).getByTestId('audit-actor')).toHaveTextContent('ada');
    expect(within(first).getByText('dashboard')).toBeInTheDocument();
    expect(within(first).getByRole('link', { name: /task 01a1fb48/ })).toHaveAttribute('href', `/tasks/${TASK_ID}`);
    expect(within(screen.getAllByTestId('audit-entry')[1]!).getByText('“maintenance”')).toBeInTheDocument();
    expect(queries[0]?.has('cursor')).toBe(false);

    await user.click(screen.getByRole('button', { name: 'Older entries' }));
    await waitFor(() => expect(ids()).toEqual([5, 4, 3, 2]));
    expect(queries.at(-1)?.get('cursor')).toBe('4');
    await user.click(screen.getByRole('button', { name: 'Older entries' }));
    await waitFor(() => expect(ids()).toEqual([5, 4, 3, 2, 1]));
    expect(screen.queryByRole('button', { name: 'Older entries' })).not.toBeInTheDocument();
  });

  it('filters by actor, action, source and task on the server, and clears', async () => {
    const user = userEvent.setup();
    const queries: URLSearchParams[] = [];
    server.use(auditEndpoint(queries));
    const { router } = renderApp('/audit');
    await waitFor(() => expect(ids()).toEqual([5, 4]));

    await user.type(screen.getByRole('textbox', { name: 'Actor' }), 'grace');
    await user.type(screen.getByRole('textbox', { name: 'Action' }), 'system.{Enter}');
    await waitFor(() => expect(ids()).toEqual([4, 2]));
    expect(Object.fromEntries(queries.at(-1)!)).toEqual({ actor: 'grace', action: 'system.' });
    expect(router.state.location.search).toBe('?actor=grace&action=system.');

    await user.selectOptions(screen.getByRole('combobox', { name: 'Source' }), 'dashboard');
    await waitFor(() => expect(screen.getByText('No entries match these filters.')).toBeInTheDocument());
    expect(Object.fromEntries(queries.at(-1)!)).toEqual({ actor: 'grace', action: 'system.', source: 'dashboard' });

    await user.click(screen.getByRole('button', { name: 'Clear' }));
    await waitFor(() => expect(ids()).toEqual([5, 4]));
    expect(screen.getByRole('textbox', { name: 'Actor' })).toHaveValue('');

    await user.type(screen.getByRole('textbox', { name: 'Task id' }), `${TASK_ID}{Enter}`);
    await waitFor(() => expect(queries.at(-1)?.get('task_id')).toBe(TASK_ID));
  });

  it('starts from filters in the address, and shows the API\'s problem for a bad one', async () => {
    const queries: URLSearchParams[] = [];
    server.use(
      http.get(api('api/v1/audit'), ({ request }) => {
        const q = new URL(request.url).searchParams;
        queries.push(q);
        return problem(400, 'invalid-task-id', 'Invalid task id', `"${q.get('task_id')}" is not a task id`);
      }),
    );
    renderApp('/audit?task_id=nope&source=cli');
    expect(await screen.findByTestId('problem-detail')).toHaveTextContent('"nope" is not a task id');
    expect(Object.fromEntries(queries[0]!)).toEqual({ task_id: 'nope', source: 'cli' });
    expect(screen.getByRole('textbox', { name: 'Task id' })).toHaveValue('nope');
    expect(screen.getByRole('combobox', { name: 'Source' })).toHaveValue('cli');
  });
});
