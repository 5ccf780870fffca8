import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';

import { CSRF, session } from '../../test/fixtures';
import { renderApp } from '../../test/render';
import { api, server } from '../../test/server';
import { csrfToken } from '../api/session';

describe('Layout', () => {
  it('navigates between pages', async () => {
    const user = userEvent.setup();
    const { router } = renderApp('/');
    const nav = screen.getByRole('navigation', { name: 'Main' });
    await user.click(screen.getByRole('link', { name: 'System' }));
    expect(router.state.location.pathname).toBe('/system');
    expect(nav.querySelector('[aria-current="page"]')).toHaveTextContent('System');
    await user.click(screen.getByRole('link', { name: 'New task' }));
    expect(router.state.location.pathname).toBe('/tasks/new');
  });

  it('switches between system, light and dark themes and remembers the choice', async () => {
    const user = userEvent.setup();
    renderApp('/');
    const toggle = screen.getByRole('button', { name: /system theme/i });
    await user.click(toggle);
    expect(document.documentElement).not.toHaveClass('dark');
    expect(localStorage.getItem('kiln.theme')).toBe('light');
    await user.click(screen.getByRole('button', { name: /light theme; switch to dark/i }));
    expect(document.documentElement).toHaveClass('dark');
    expect(localStorage.getItem('kiln.theme')).toBe('dark');
    await user.click(screen.getByRole('button', { name: /dark theme; switch to system/i }));
    expect(localStorage.getItem('kiln.theme')).toBeNull();
    expect(document.documentElement).not.toHaveClass('dark');
  });

  it('has a page for unknown addresses', async () => {
    renderApp('/nowhere');
    expect(await screen.findByRole('heading', { name: 'Page not found' })).toBeInTheDocument();
  });

  it('shows who is signed in, links the audit trail, and signs out', async () => {
    const user = userEvent.setup();
    const deleted: (string | null)[] = [];
    server.use(
      http.delete(api('api/v1/session'), ({ request }) => {
        deleted.push(request.headers.get('x-csrf-token'));
        return new HttpResponse(null, { status: 204 });
      }),
    );
    const { router } = renderApp('/');
    expect(await screen.findByTestId('session-name')).toHaveTextContent('ada');
    expect(screen.getByTestId('session-role')).toHaveTextContent('admin');
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(within(nav).getByRole('link', { name: 'Audit' })).toHaveAttribute('href', '/audit');
    expect(within(nav).getByRole('link', { name: 'Tokens' })).toBeInTheDocument();
    expect(csrfToken()).toBe(CSRF);

    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    await waitFor(() => expect(router.state.location.pathname).toBe('/signin'));
    expect(deleted).toEqual([CSRF]);
    expect(csrfToken()).toBeNull();
    expect(screen.getByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
  });

  it('shows token administration to admins only', async () => {
    server.use(http.get(api('api/v1/session'), () => HttpResponse.json(session({ name: 'viewer-bot', role: 'viewer', csrf: '' }))));
    renderApp('/');
    expect(await screen.findByTestId('session-name')).toHaveTextContent('viewer-bot');
    expect(within(screen.getByRole('navigation', { name: 'Main' })).queryByRole('link', { name: 'Tokens' })).not.toBeInTheDocument();
  });
});
