import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';

import { session } from '../../test/fixtures';
import { renderApp } from '../../test/render';
import { api, problem, server } from '../../test/server';
import { csrfToken } from '../api/session';
import { fragmentToken } from './SignInPage';

const GOOD = 'kiln_s3cr3t';

/** The sign-in endpoint: the good token signs in, anything else is refused. */
function signInEndpoint(seen: string[]) {
  let signedIn = false;
  return [
    http.post(api('api/v1/session'), async ({ request }) => {
      const { token } = (await request.json()) as { token: string };
      seen.push(token);
      if (token !== GOOD) return problem(401, 'unauthorized', 'Authentication required', 'that token is not valid: unknown or revoked');
      signedIn = true;
      return HttpResponse.json(session({ csrf: 'fresh-csrf' }));
    }),
    http.get(api('api/v1/session'), () =>
      signedIn
        ? HttpResponse.json(session({ csrf: 'fresh-csrf' }))
        : problem(401, 'unauthorized', 'Authentication required', 'GET /api/v1/session needs a token'),
    ),
  ];
}

describe('Sign-in', () => {
  it('reads the token from a #token= fragment', () => {
    expect(fragmentToken('#token=kiln_abc')).toBe('kiln_abc');
    expect(fragmentToken('#other=1&token=%20kiln_x%20')).toBe('kiln_x');
    expect(fragmentToken('')).toBeNull();
    expect(fragmentToken('#token=')).toBeNull();
  });

  it('signs in by itself from the printed link, drops the secret from the URL, and opens the dashboard', async () => {
    const seen: string[] = [];
    server.use(...signInEndpoint(seen));
    const { router } = renderApp(`/signin#token=${GOOD}`);
    // The secret leaves the address at once, not only after the answer.
    await waitFor(() => expect(router.state.location.hash).toBe(''));
    await waitFor(() => expect(router.state.location.pathname).toBe('/'));
    expect(seen).toEqual([GOOD]);
    expect(router.state.location.hash).toBe('');
    expect(csrfToken()).toBe('fresh-csrf');
    expect(await screen.findByTestId('session-name')).toHaveTextContent('ada');
    // The history entry that held the secret was replaced, not kept behind.
    expect(router.state.historyAction).toBe('REPLACE');
  });

  it('shows the API\'s refusal of a wrong token plainly and stays', async () => {
    const user = userEvent.setup();
    const seen: string[] = [];
    server.use(...signInEndpoint(seen));
    const { router } = renderApp('/signin?next=%2Fsystem');
    const field = await screen.findByLabelText('API token');
    expect(field).toHaveAttribute('type', 'password');

    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByText('Paste a token to sign in.')).toBeInTheDocument();
    expect(seen).toEqual([]);

    await user.type(field, 'kiln_wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Not signed in');
    expect(alert).toHaveTextContent('that token is not valid: unknown or revoked');
    expect(router.state.location.pathname).toBe('/signin');

    await user.clear(field);
    await user.type(field, GOOD);
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(router.state.location.pathname).toBe('/system'));
    expect(seen).toEqual(['kiln_wrong', GOOD]);
  });

  it('sends a person without a session to /signin from any page, and back after signing in', async () => {
    const user = userEvent.setup();
    server.use(
      ...signInEndpoint([]),
      http.get(api('api/v1/tasks'), () => problem(401, 'unauthorized', 'Authentication required', 'GET /api/v1/tasks needs a token')),
    );
    const { router } = renderApp('/tasks?status=failed');
    await waitFor(() => expect(router.state.location.pathname).toBe('/signin'));
    expect(router.state.location.search).toBe(`?next=${encodeURIComponent('/tasks?status=failed')}`);

    server.use(http.get(api('api/v1/tasks'), () => HttpResponse.json({ items: [], next_cursor: null })));
    await user.type(await screen.findByLabelText('API token'), GOOD);
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(router.state.location.pathname).toBe('/tasks'));
    expect(router.state.location.search).toBe('?status=failed');
  });

  it('never returns to another origin after signing in', async () => {
    const user = userEvent.setup();
    server.use(...signInEndpoint([]));
    const { router } = renderApp('/signin?next=%2F%2Fevil.example%2F');
    await user.type(await screen.findByLabelText('API token'), GOOD);
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(router.state.location.pathname).toBe('/'));
  });
});
