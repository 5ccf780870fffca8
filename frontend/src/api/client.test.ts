import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { api, problem, server } from '../../test/server';
import { apiUrl, routerBasename, wsUrl } from './base';
import { ApiError, randomKey, request, requestText } from './client';
import { allows, csrfToken, onUnauthorized, safeNext, setCsrfToken, signinPath } from './session';

describe('request', () => {
  it('returns JSON and sends JSON', async () => {
    let seen: unknown = null;
    server.use(
      http.post(api('api/v1/echo'), async ({ request: r }) => {
        seen = { body: await r.json(), type: r.headers.get('content-type'), key: r.headers.get('idempotency-key') };
        return HttpResponse.json({ ok: true });
      }),
    );
    const out = await request<{ ok: boolean }>('api/v1/echo', { method: 'POST', json: { a: 1 }, headers: { 'idempotency-key': 'k' } });
    expect(out).toEqual({ ok: true });
    expect(seen).toEqual({ body: { a: 1 }, type: 'application/json', key: 'k' });
  });

  it('turns problem+json into an ApiError with the detail', async () => {
    server.use(http.get(api('api/v1/nope'), () => problem(422, 'invalid-name', 'Invalid project name', 'invalid name "X": lowercase')));
    const e = await request('api/v1/nope').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(422);
    expect((e as ApiError).kind).toBe('invalid-name');
    expect((e as ApiError).message).toBe('invalid name "X": lowercase');
  });

  it('describes errors that are not problems, and an unreachable API', async () => {
    server.use(
      http.get(api('api/v1/text'), () => new HttpResponse('upstream down', { status: 502, statusText: 'Bad Gateway' })),
      http.get(api('api/v1/gone'), () => HttpResponse.error()),
    );
    const e = (await request('api/v1/text').catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(502);
    expect(e.problem.detail).toBe('upstream down');
    const gone = (await request('api/v1/gone').catch((x: unknown) => x)) as ApiError;
    expect(gone.status).toBe(0);
    expect(gone.problem.detail).toMatch(/cannot reach the Kiln API/);
  });

  it('reads text bodies', async () => {
    server.use(http.get(api('api/v1/plain'), () => HttpResponse.text('diff --git')));
    expect(await requestText('api/v1/plain')).toBe('diff --git');
  });

  it('makes v4 UUIDs without a secure context', () => {
    const k = randomKey();
    expect(k).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(randomKey()).not.toBe(k);
  });
});

describe('authentication', () => {
  /** Records the CSRF header and credentials mode of every request to api/v1/x. */
  function recorder() {
    const seen: { method: string; csrf: string | null; credentials: string }[] = [];
    const record = ({ request: r }: { request: Request }) => {
      seen.push({ method: r.method, csrf: r.headers.get('x-csrf-token'), credentials: r.credentials });
      return HttpResponse.json({ ok: true });
    };
    server.use(http.get(api('api/v1/x'), record), http.post(api('api/v1/x'), record), http.put(api('api/v1/x'), record), http.delete(api('api/v1/x'), record));
    return seen;
  }

  it('sends the cached CSRF token on every mutation and none on reads, with the session cookie', async () => {
    const seen = recorder();
    setCsrfToken('cached-token');
    await request('api/v1/x');
    await request('api/v1/x', { method: 'POST', json: {} });
    await request('api/v1/x', { method: 'PUT', json: {} });
    await request('api/v1/x', { method: 'DELETE' });
    expect(seen).toEqual([
      { method: 'GET', csrf: null, credentials: 'same-origin' },
      { method: 'POST', csrf: 'cached-token', credentials: 'same-origin' },
      { method: 'PUT', csrf: 'cached-token', credentials: 'same-origin' },
      { method: 'DELETE', csrf: 'cached-token', credentials: 'same-origin' },
    ]);
  });

  it('falls back to the kiln_csrf cookie before the session was read', async () => {
    const seen = recorder();
    document.cookie = 'other=1; path=/';
    document.cookie = 'kiln_csrf=from-cookie; path=/';
    expect(csrfToken()).toBe('from-cookie');
    await request('api/v1/x', { method: 'POST', json: {} });
    expect(seen[0]?.csrf).toBe('from-cookie');
  });

  it('retries once with the cookie\'s token when the cached one went stale', async () => {
    const sent: (string | null)[] = [];
    server.use(
      http.post(api('api/v1/x'), ({ request: r }) => {
        const csrf = r.headers.get('x-csrf-token');
        sent.push(csrf);
        return csrf === 'new'
          ? HttpResponse.json({ ok: true })
          : problem(403, 'forbidden', 'Not allowed', 'a signed-in dashboard request that changes something must send the x-csrf-token header');
      }),
    );
    setCsrfToken('old');
    document.cookie = 'kiln_csrf=new; path=/';
    expect(await request('api/v1/x', { method: 'POST' })).toEqual({ ok: true });
    expect(sent).toEqual(['old', 'new']);
    expect(csrfToken()).toBe('new');

    // A 403 for a too-weak role is not retried.
    server.use(http.post(api('api/v1/y'), () => problem(403, 'forbidden', 'Not allowed', 'needs the admin role')));
    document.cookie = 'kiln_csrf=newer; path=/';
    const e = (await request('api/v1/y', { method: 'POST' }).catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(403);
  });

  it('reports every 401 to the sign-in redirect, unless asked not to', async () => {
    server.use(http.get(api('api/v1/x'), () => problem(401, 'unauthorized', 'Authentication required', 'needs a token')));
    const handler = vi.fn();
    const undo = onUnauthorized(handler);
    const e = (await request('api/v1/x').catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(401);
    expect(e.message).toBe('needs a token');
    expect(handler).toHaveBeenCalledTimes(1);
    await request('api/v1/x', { authRedirect: false }).catch(() => {});
    expect(handler).toHaveBeenCalledTimes(1);
    undo();
    await request('api/v1/x').catch(() => {});
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('returns only to paths of the dashboard, and ranks roles', () => {
    expect(signinPath('/tasks?status=failed')).toBe('/signin?next=%2Ftasks%3Fstatus%3Dfailed');
    expect(signinPath('/')).toBe('/signin');
    expect(safeNext('//evil.example')).toBe('/');
    expect(safeNext('https://evil.example')).toBe('/');
    expect(safeNext('/\\evil.example')).toBe('/');
    expect(safeNext('/signin?next=/x')).toBe('/');
    expect(safeNext('/system')).toBe('/system');
    expect(allows('admin', 'approver')).toBe(true);
    expect(allows('operator', 'approver')).toBe(false);
    expect(allows('viewer', 'viewer')).toBe(true);
    expect(allows(undefined, 'viewer')).toBe(false);
  });
});

describe('base', () => {
  afterEach(() => document.head.querySelectorAll('base').forEach((b) => b.remove()));

  it('resolves API and WebSocket URLs from the document base, under a prefix too', () => {
    expect(apiUrl('/api/v1/tasks')).toBe('http://localhost:3000/api/v1/tasks');
    expect(wsUrl('ws/logs?task_id=1')).toBe('ws://localhost:3000/ws/logs?task_id=1');
    expect(routerBasename()).toBe('');

    const base = document.createElement('base');
    base.href = '/kiln/';
    document.head.append(base);
    expect(apiUrl('api/v1/tasks')).toBe('http://localhost:3000/kiln/api/v1/tasks');
    expect(wsUrl('ws/logs')).toBe('ws://localhost:3000/kiln/ws/logs');
    expect(routerBasename()).toBe('/kiln');
  });
});
