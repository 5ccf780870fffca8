import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';

import { TASK_ID, deployedTask } from '../../test/fixtures';
import { renderApp } from '../../test/render';
import { api, problem, server } from '../../test/server';

async function fill(user: ReturnType<typeof userEvent.setup>, name: string, brief = 'A page for a bakery') {
  await user.type(await screen.findByRole('textbox', { name: 'Project name' }), name);
  await user.type(screen.getByRole('textbox', { name: 'Brief' }), brief);
}

describe('New task form', () => {
  it('offers the templates from the API', async () => {
    renderApp('/tasks/new');
    expect(await screen.findByRole('radio', { name: /Node\.js \+ Express/ })).toBeChecked();
    expect(screen.getByRole('radio', { name: /Static site/ })).not.toBeChecked();
  });

  it('checks the name as the API does and sends nothing while it is invalid', async () => {
    const user = userEvent.setup();
    let posted = 0;
    server.use(http.post(api('api/v1/tasks'), () => void (posted += 1)));
    renderApp('/tasks/new');
    await fill(user, 'Bad Name');
    await user.click(screen.getByRole('button', { name: 'Create task' }));
    const name = screen.getByRole('textbox', { name: 'Project name' });
    expect(name).toHaveAttribute('aria-invalid', 'true');
    expect(name).toHaveAccessibleDescription(
      `invalid name "Bad Name": use only lowercase ASCII letters, digits and '-' (a name is 1 to 63 lowercase ASCII letters, digits and '-', starts with a letter and does not end with '-')`,
    );
    expect(name).toHaveFocus();
    expect(posted).toBe(0);
  });

  it("shows the API's problem detail at the field it concerns", async () => {
    const user = userEvent.setup();
    server.use(
      http.post(api('api/v1/tasks'), () =>
        problem(409, 'project-exists', 'Project already exists', 'project "bakery" already exists; choose another name, e.g. "bakery-2"'),
      ),
    );
    renderApp('/tasks/new');
    await fill(user, 'bakery');
    await user.click(screen.getByRole('button', { name: 'Create task' }));
    const name = screen.getByRole('textbox', { name: 'Project name' });
    await waitFor(() =>
      expect(name).toHaveAccessibleDescription('project "bakery" already exists; choose another name, e.g. "bakery-2"'),
    );
    // Editing the name clears the API's complaint.
    await user.type(name, '-2');
    expect(name).not.toHaveAttribute('aria-invalid');
  });

  it('shows problems that concern no field above the buttons', async () => {
    const user = userEvent.setup();
    server.use(http.post(api('api/v1/tasks'), () => problem(503, 'unavailable', 'Service temporarily unavailable', 'a dependency of the API is unavailable; retry shortly')));
    renderApp('/tasks/new');
    await fill(user, 'bakery');
    await user.click(screen.getByRole('button', { name: 'Create task' }));
    expect(await screen.findByTestId('problem-detail')).toHaveTextContent('a dependency of the API is unavailable; retry shortly');
  });

  it('creates the task with its options and opens it', async () => {
    const user = userEvent.setup();
    let body: Record<string, unknown> | null = null;
    let key: string | null = null;
    server.use(
      http.post(api('api/v1/tasks'), async ({ request }) => {
        body = (await request.json()) as Record<string, unknown>;
        key = request.headers.get('idempotency-key');
        return HttpResponse.json(deployedTask({ status: 'queued' }), { status: 202 });
      }),
    );
    const { router } = renderApp('/tasks/new');
    await user.click(await screen.findByRole('radio', { name: /Static site/ }));
    await fill(user, 'bakery', 'A landing page for a bakery');
    await user.selectOptions(screen.getByRole('combobox', { name: 'Approval policy' }), 'release');
    await user.type(screen.getByRole('textbox', { name: 'Max cost (USD)' }), '2.5');
    await user.type(screen.getByRole('textbox', { name: 'Max calls' }), '40');
    await user.click(screen.getByRole('button', { name: 'Create task' }));
    await waitFor(() => expect(router.state.location.pathname).toBe(`/tasks/${TASK_ID}`));
    expect(body).toEqual({
      kind: 'new_app',
      template: 'static-site',
      name: 'bakery',
      brief: 'A landing page for a bakery',
      options: { approval: 'release', budget: { max_cost_usd: 2.5, max_calls: 40 } },
    });
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends empty options by default and refuses a bad limit', async () => {
    const user = userEvent.setup();
    let body: Record<string, unknown> | null = null;
    server.use(
      http.post(api('api/v1/tasks'), async ({ request }) => {
        body = (await request.json()) as Record<string, unknown>;
        return HttpResponse.json(deployedTask({ status: 'queued' }), { status: 202 });
      }),
    );
    renderApp('/tasks/new');
    await fill(user, 'bakery');
    await user.type(screen.getByRole('textbox', { name: 'Max calls' }), '2.5');
    await user.click(screen.getByRole('button', { name: 'Create task' }));
    expect(screen.getByRole('textbox', { name: 'Max calls' })).toHaveAccessibleDescription('must be a whole number');
    expect(body).toBeNull();
    await user.clear(screen.getByRole('textbox', { name: 'Max calls' }));
    await user.click(screen.getByRole('button', { name: 'Create task' }));
    await waitFor(() => expect(body).not.toBeNull());
    expect(body!.options).toEqual({});
  });
});
