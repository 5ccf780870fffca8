import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';

import { system } from '../../test/fixtures';
import { renderApp } from '../../test/render';
import { api, server } from '../../test/server';

describe('System page', () => {
  it('shows replicas with health, queues per stage and dead letters', async () => {
    renderApp('/system');
    const codegen = await screen.findByTestId('service-codegen');
    expect(within(codegen).getByText('1/2 alive')).toBeInTheDocument();
    expect(within(codegen).getByText('codegen.2').parentElement).toHaveTextContent('not responding');
    expect(within(screen.getByTestId('service-tester')).getByText('no replica')).toBeInTheDocument();

    const stage = screen.getByTestId('stage-codegen');
    expect(within(stage).getAllByRole('cell').slice(0, 3).map((c) => c.textContent)).toEqual(['4', '2', '1']);
    expect(within(screen.getByTestId('stage-index')).getByText('no consumer')).toBeInTheDocument();

    const dead = screen.getByRole('region', { name: 'Dead letters' });
    expect(within(dead).getByText('sandbox: npm not found')).toBeInTheDocument();
    expect(within(dead).getByText('5 deliveries')).toBeInTheDocument();
    expect(within(dead).getByRole('link', { name: /task 01a1fb48/ })).toHaveAttribute('href', expect.stringContaining('/tasks/01a1fb48'));

    // The API has no pause switch yet.
    expect(screen.queryByRole('switch')).not.toBeInTheDocument();
  });

  it('shows the pause switch once the API reports `paused`, and flips it', async () => {
    const user = userEvent.setup();
    let paused = false;
    const sent: unknown[] = [];
    server.use(
      http.get(api('api/v1/system'), () => HttpResponse.json(system({ paused }))),
      http.put(api('api/v1/system/pause'), async ({ request }) => {
        const body = (await request.json()) as { paused: boolean };
        sent.push(body);
        paused = body.paused;
        return HttpResponse.json({ paused });
      }),
    );
    renderApp('/system');
    const toggle = await screen.findByRole('switch', { name: 'Pause the pipeline' });
    expect(toggle).not.toBeChecked();
    await user.click(toggle);
    await waitFor(() => expect(screen.getByRole('switch', { name: 'Pause the pipeline' })).toBeChecked());
    expect(sent).toEqual([{ paused: true }]);
    expect(screen.getByText('Paused')).toBeInTheDocument();
  });
});
