import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';

import type { Lesson } from '../api/types';
import { SHA0, TASK_ID, deployedTask, summary } from '../../test/fixtures';
import { renderApp } from '../../test/render';
import { api, problem, server } from '../../test/server';

describe('Projects', () => {
  it('lists every project with its status and URL', async () => {
    renderApp('/projects');
    const cards = await screen.findAllByTestId('project-card');
    expect(cards).toHaveLength(2);
    expect(within(cards[0]!).getByRole('link', { name: 'bakery' })).toHaveAttribute('href', '/projects/bakery');
    expect(within(cards[0]!).getByRole('link', { name: /apps\/bakery/ })).toHaveAttribute('href', 'http://127.0.0.1:18181/apps/bakery/');
    expect(within(cards[1]!).getByTestId('status')).toHaveTextContent('failed');
    expect(within(cards[1]!).getByText('not deployed')).toBeInTheDocument();
  });

  it('shows a project with deployments and recent tasks, and no memory panel on an API without memory', async () => {
    const asked: string[] = [];
    server.use(
      http.get(api('api/v1/projects/:name/memory'), ({ request }) =>
        problem(404, 'not-found', 'Not found', `no route for ${new URL(request.url).pathname}`),
      ),
      http.get(api('api/v1/tasks'), ({ request }) => {
        asked.push(new URL(request.url).search);
        return HttpResponse.json({ items: [summary()], next_cursor: null });
      }),
      http.get(api(`api/v1/tasks/${TASK_ID}`), () =>
        HttpResponse.json(
          deployedTask({
            deployments: [
              { ...deployedTask().deployment!, status: 'rolled_back', commit_sha: 'aaaaaaaaaaaa1111', created_at: '2026-11-20T23:20:00Z' },
              deployedTask().deployment!,
            ],
          }),
        ),
      ),
    );
    renderApp('/projects/bakery');
    expect(await screen.findByRole('heading', { level: 1, name: 'bakery' })).toBeInTheDocument();
    expect(asked[0]).toContain('project=bakery');
    const deployments = screen.getByRole('region', { name: 'Deployments' });
    await waitFor(() => expect(within(deployments).getAllByRole('listitem')).toHaveLength(2));
    const [newest, older] = within(deployments).getAllByRole('listitem');
    expect(newest).toHaveTextContent(SHA0.slice(0, 12));
    expect(newest).toHaveTextContent('live');
    expect(older).toHaveTextContent('rolled back');
    expect(within(screen.getByRole('region', { name: 'Recent tasks' })).getByRole('link', { name: /bakery with opening hours/ })).toHaveAttribute(
      'href',
      `/tasks/${TASK_ID}`,
    );
    await waitFor(() => expect(screen.queryByRole('region', { name: 'Memory' })).not.toBeInTheDocument());
  });

  it('says when a project has no lessons yet', async () => {
    renderApp('/projects/bakery');
    const memory = await screen.findByRole('region', { name: 'Memory' });
    expect(await within(memory).findByText('No lessons yet.')).toBeInTheDocument();
  });

  it('adds, edits and deletes memory lessons', async () => {
    const user = userEvent.setup();
    let lessons: Lesson[] = [
      { id: 'l1', lesson: 'Use the brand orange', source_task_id: TASK_ID, created_at: '2026-11-20T23:00:00Z', updated_at: '2026-11-20T23:00:00Z' },
    ];
    const calls: string[] = [];
    server.use(
      http.get(api('api/v1/projects/bakery/memory'), () => HttpResponse.json({ items: lessons })),
      http.post(api('api/v1/projects/bakery/memory'), async ({ request }) => {
        const { lesson } = (await request.json()) as { lesson: string };
        calls.push(`POST ${lesson}`);
        const l = { id: 'l2', lesson, source_task_id: null, created_at: new Date().toISOString(), updated_at: new Date().toISOString() };
        lessons = [...lessons, l];
        return HttpResponse.json(l, { status: 201 });
      }),
      http.put(api('api/v1/projects/bakery/memory/:id'), async ({ params, request }) => {
        const { lesson } = (await request.json()) as { lesson: string };
        calls.push(`PUT ${String(params.id)} ${lesson}`);
        lessons = lessons.map((l) => (l.id === params.id ? { ...l, lesson } : l));
        return HttpResponse.json(lessons.find((l) => l.id === params.id));
      }),
      http.delete(api('api/v1/projects/bakery/memory/:id'), ({ params }) => {
        calls.push(`DELETE ${String(params.id)}`);
        lessons = lessons.filter((l) => l.id !== params.id);
        return new HttpResponse(null, { status: 204 });
      }),
    );
    renderApp('/projects/bakery');
    const memory = await screen.findByRole('region', { name: 'Memory' });
    expect(await within(memory).findByText('Use the brand orange')).toBeInTheDocument();

    await user.type(within(memory).getByRole('textbox', { name: 'New lesson' }), 'Keep pages under 100 kB');
    await user.click(within(memory).getByRole('button', { name: 'Add lesson' }));
    expect(await within(memory).findByText('Keep pages under 100 kB')).toBeInTheDocument();

    await user.click(within(memory).getByRole('button', { name: 'Edit lesson: Use the brand orange' }));
    const box = within(memory).getByRole('textbox', { name: 'Lesson' });
    await user.clear(box);
    await user.type(box, 'Use the brand orange #c2410c');
    await user.click(within(memory).getByRole('button', { name: 'Save' }));
    expect(await within(memory).findByText('Use the brand orange #c2410c')).toBeInTheDocument();

    await user.click(within(memory).getByRole('button', { name: 'Delete lesson: Keep pages under 100 kB' }));
    await waitFor(() => expect(within(memory).queryByText('Keep pages under 100 kB')).not.toBeInTheDocument());
    expect(calls).toEqual(['POST Keep pages under 100 kB', 'PUT l1 Use the brand orange #c2410c', 'DELETE l2']);
  });
});
