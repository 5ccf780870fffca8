import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';

import type { TokenView } from '../api/types';
import { CSRF, session } from '../../test/fixtures';
import { renderApp } from '../../test/render';
import { api, server } from '../../test/server';

const token = (name: string, role: string): TokenView => ({
  id: `id-${name}`,
  name,
  role,
  hint: 'kiln_ab12',
  created_by: 'kiln up',
  created_at: '2026-11-20T23:00:00Z',
  last_used_at: null,
  revoked_at: null,
});

describe('Tokens page', () => {
  it('creates a token, shows its secret once, and revokes one', async () => {
    const user = userEvent.setup();
    let tokens = [token('admin', 'admin')];
    const sent: { method: string; body: unknown; csrf: string | null }[] = [];
    server.use(
      http.get(api('api/v1/tokens'), () => HttpResponse.json(tokens)),
      http.post(api('api/v1/tokens'), async ({ request }) => {
        const body = (await request.json()) as { name: string; role: string };
        sent.push({ method: 'POST', body, csrf: request.headers.get('x-csrf-token') });
        const created = token(body.name, body.role);
        tokens = [created, ...tokens];
        return HttpResponse.json({ token: created, secret: 'kiln_fresh-secret' }, { status: 201 });
      }),
      http.delete(api('api/v1/tokens/:id'), ({ params, request }) => {
        sent.push({ method: 'DELETE', body: params.id, csrf: request.headers.get('x-csrf-token') });
        tokens = tokens.filter((t) => t.id !== params.id);
        return new HttpResponse(null, { status: 204 });
      }),
    );
    renderApp('/tokens');
    await waitFor(() => expect(screen.getAllByTestId('token-row')).toHaveLength(1));
    await user.type(screen.getByRole('textbox', { name: 'Name' }), 'ci');
    await user.selectOptions(screen.getByRole('combobox', { name: 'Role' }), 'approver');
    await user.click(screen.getByRole('button', { name: 'Create token' }));
    expect(await screen.findByTestId('token-secret')).toHaveTextContent('kiln_fresh-secret');
    await waitFor(() => expect(screen.getAllByTestId('token-row')).toHaveLength(2));

    await user.click(screen.getByRole('button', { name: 'Revoke ci' }));
    const dialog = await screen.findByRole('dialog', { name: 'Revoke ci' });
    await user.click(within(dialog).getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(screen.getAllByTestId('token-row')).toHaveLength(1));
    expect(sent).toEqual([
      { method: 'POST', body: { name: 'ci', role: 'approver' }, csrf: CSRF },
      { method: 'DELETE', body: 'id-ci', csrf: CSRF },
    ]);
  });

  it('tells a non-admin that tokens need the admin role', async () => {
    server.use(http.get(api('api/v1/session'), () => HttpResponse.json(session({ role: 'operator' }))));
    renderApp('/tokens');
    expect(await screen.findByText(/needs the admin role; you are signed in as operator/)).toBeInTheDocument();
  });
});
