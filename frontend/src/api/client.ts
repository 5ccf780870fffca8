// Fetching from the API: JSON in and out, and every failure as an ApiError carrying the
// RFC 9457 problem the API answered with, so forms and panels can show its `detail`.
//
// Every request carries the session cookie (`credentials: 'same-origin'`); every mutation
// carries the session's CSRF token as `X-CSRF-Token`; and a 401 from anywhere sends the
// person to the sign-in page (see session.ts).
import { apiUrl } from './base';
import { CSRF_COOKIE, CSRF_HEADER, csrfToken, notifyUnauthorized, readCookie, setCsrfToken } from './session';
import type { Problem } from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail);
    this.name = 'ApiError';
    this.status = problem.status;
    this.problem = problem;
  }

  /** The problem's kind, e.g. `invalid-name` for `urn:kiln:problem:invalid-name`. */
  get kind(): string {
    return this.problem.type.replace(/^urn:kiln:problem:/, '');
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  json?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Whether a 401 sends the person to sign in (default true; the sign-in form says no). */
  authRedirect?: boolean;
}

function isMutation(method: string): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(method);
}

/** A 403 for a missing or stale CSRF token, rather than a too-weak role. */
function isCsrfRefusal(e: ApiError): boolean {
  return e.status === 403 && /csrf/i.test(e.problem.detail);
}

function isProblem(value: unknown): value is Problem {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Problem).detail === 'string' &&
    typeof (value as Problem).status === 'number'
  );
}

async function send(path: string, options: RequestOptions, accept: string): Promise<Response> {
  const method = options.method ?? 'GET';
  const sent = isMutation(method) ? csrfToken() : null;
  try {
    return await sendOnce(path, options, accept, sent);
  } catch (e) {
    // The cached token went stale (signed in again in another tab): the cookie has the
    // current one. The API refused before doing anything, so asking again is safe.
    if (e instanceof ApiError && sent !== null && isCsrfRefusal(e)) {
      const current = readCookie(CSRF_COOKIE);
      if (current && current !== sent) {
        setCsrfToken(current);
        return sendOnce(path, options, accept, current);
      }
    }
    throw e;
  }
}

async function sendOnce(path: string, options: RequestOptions, accept: string, csrf: string | null): Promise<Response> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept, ...options.headers };
  if (csrf) headers[CSRF_HEADER] = csrf;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  let response: Response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: options.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError({
      type: 'urn:kiln:problem:unreachable',
      title: 'API unreachable',
      status: 0,
      detail: 'cannot reach the Kiln API; check that it is running',
    });
  }
  if (response.ok) return response;
  if (response.status === 401 && options.authRedirect !== false) notifyUnauthorized();
  const text = await response.text().catch(() => '');
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: described below
  }
  if (isProblem(parsed)) throw new ApiError(parsed);
  throw new ApiError({
    type: 'about:blank',
    title: response.statusText || 'Request failed',
    status: response.status,
    detail: text.trim() || `the API answered ${response.status} ${response.statusText}`.trim(),
  });
}

/** A JSON request; resolves with the parsed body (undefined for 204). */
export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(path, options, 'application/json');
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A plain-text request, e.g. a diff. */
export async function requestText(path: string, options: RequestOptions = {}): Promise<string> {
  const response = await send(path, options, 'text/plain');
  return response.text();
}

/** A random UUID (v4) that also works outside secure contexts, for Idempotency-Key. */
export function randomKey(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
