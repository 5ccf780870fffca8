import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';

import type { TaskList } from '../api/types';
import { summary } from '../../test/fixtures';
import { renderApp } from '../../test/render';
import { api, server } from '../../test/server';

function rowFor(project: string) {
  return screen.getAllByTestId('task-row').find((r) => within(r).queryByRole('link', { name: project }))!;
}

describe('Tasks page', () => {
  it('lists tasks with status chips, template, age, duration and cost', async () => {
    server.use(
      http.get(api('api/v1/tasks'), () =>
        HttpResponse.json<TaskList>({
          items: [
            summary({ id: 'a', project: 'bakery', created_at: new Date(Date.now() - 120_000).toISOString() }),
            summary({ id: 'b', project: 'shop', status: 'failed', cost_usd: 0.42 }),
          ],
          next_cursor: null,
        }),
      ),
    );
    renderApp('/');
    const row = await waitFor(() => rowFor('bakery'));
    expect(within(row).getByTestId('status')).toHaveTextContent('deployed');
    expect(within(row).getByText('static-site')).toBeInTheDocument();
    expect(within(row).getByText('2 min ago')).toHaveAttribute('title');
    expect(within(rowFor('shop')).getByText('417 ms')).toBeInTheDocument();
    expect(within(rowFor('shop')).getByTestId('status')).toHaveTextContent('failed');
    expect(within(rowFor('shop')).getByText('$0.42')).toBeInTheDocument();
    expect(within(row).getByRole('link', { name: 'bakery' })).toHaveAttribute('href', '/tasks/a');
  });

  it('filters by status and project on the server and searches loaded tasks', async () => {
    const user = userEvent.setup();
    const queries: URLSearchParams[] = [];
    server.use(
      http.get(api('api/v1/tasks'), ({ request }) => {
        const q = new URL(request.url).searchParams;
        queries.push(q);
        const items =
          q.get('status') === 'failed'
            ? [summary({ id: 'f', project: 'broken', status: 'failed' })]
            : [summary({ id: 'a', project: 'bakery' }), summary({ id: 'c', project: 'cafe', brief: 'A cafe menu' })];
        return HttpResponse.json<TaskList>({ items, next_cursor: null });
      }),
    );
    const { router } = renderApp('/');
    await waitFor(() => rowFor('cafe'));

    await user.type(screen.getByRole('searchbox', { name: /search tasks/i }), 'menu');
    await waitFor(() => expect(screen.getAllByTestId('task-row')).toHaveLength(1));
    expect(rowFor('cafe')).toBeInTheDocument();
    await user.clear(screen.getByRole('searchbox', { name: /search tasks/i }));

    await user.selectOptions(screen.getByRole('combobox', { name: 'Status' }), 'failed');
    await waitFor(() => expect(rowFor('broken')).toBeInTheDocument());
    expect(queries.at(-1)!.get('status')).toBe('failed');
    expect(router.state.location.search).toBe('?status=failed');

    await user.selectOptions(screen.getByRole('combobox', { name: 'Project' }), 'bakery');
    await waitFor(() => expect(queries.at(-1)!.get('project')).toBe('bakery'));
  });

  it('pages with the cursor', async () => {
    const user = userEvent.setup();
    server.use(
      http.get(api('api/v1/tasks'), ({ request }) => {
        const cursor = new URL(request.url).searchParams.get('cursor');
        return HttpResponse.json<TaskList>(
          cursor === 'page2'
            ? { items: [summary({ id: 'old', project: 'oldest' })], next_cursor: null }
            : { items: [summary({ id: 'new', project: 'newest' })], next_cursor: 'page2' },
        );
      }),
    );
    renderApp('/');
    await waitFor(() => rowFor('newest'));
    await user.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(rowFor('oldest')).toBeInTheDocument());
    expect(screen.getAllByTestId('task-row').map((r) => within(r).getAllByRole('link')[0]!.textContent)).toEqual(['newest', 'oldest']);
    expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();
  });

  it('invites to create the first task', async () => {
    server.use(http.get(api('api/v1/tasks'), () => HttpResponse.json<TaskList>({ items: [], next_cursor: null })));
    renderApp('/');
    expect(await screen.findByText(/No tasks yet/)).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Create the first one' })).toHaveAttribute('href', '/tasks/new');
  });
});
