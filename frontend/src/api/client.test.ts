import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';

import { api, problem, server } from '../../test/server';
import { apiUrl, routerBasename, wsUrl } from './base';
import { ApiError, randomKey, request, requestText } from './client';

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
