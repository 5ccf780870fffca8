// The dashboard's sign-in state as the API client needs it: the session's CSRF token (sent
// as `X-CSRF-Token` on every mutation) and what to do when the API answers 401.
//
// The session itself is the HttpOnly `kiln_session` cookie, which scripts never see. The CSRF
// token comes from the session's JSON (sign-in, `GET /api/v1/session`) and is cached here;
// before that (a reload) it is read from the readable `kiln_csrf` cookie.
import { ROLES, type Role } from './types';

export const CSRF_COOKIE = 'kiln_csrf';
export const CSRF_HEADER = 'X-CSRF-Token';

let cached: string | null = null;

/** Remembers the session's CSRF token (`null` forgets it, e.g. on sign-out). */
export function setCsrfToken(token: string | null): void {
  cached = token ? token : null;
}

/** The value of cookie `name`, if the page can read it. */
export function readCookie(name: string): string | null {
  if (typeof document === 'undefined') return null;
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value) || null;
      } catch {
        return value || null;
      }
    }
  }
  return null;
}

/** The CSRF token to send: the cached one, else the `kiln_csrf` cookie's. */
export function csrfToken(): string | null {
  return cached ?? readCookie(CSRF_COOKIE);
}

// ---- 401: the session ended (or never began)

type Handler = () => void;
let unauthorized: Handler | null = null;

/** Installs what happens on a 401 (the app sends the person to /signin); returns the undo. */
export function onUnauthorized(handler: Handler): () => void {
  unauthorized = handler;
  return () => {
    if (unauthorized === handler) unauthorized = null;
  };
}

/** Called by the API client on every 401. */
export function notifyUnauthorized(): void {
  unauthorized?.();
}

// ---- where to go after signing in

export const SIGNIN_PATH = '/signin';

/** A dashboard path that is safe to return to: same app, never another origin. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (next === SIGNIN_PATH || next.startsWith(`${SIGNIN_PATH}?`) || next.startsWith(`${SIGNIN_PATH}#`)) return '/';
  return next;
}

/** The sign-in page's path, remembering where the person was heading. */
export function signinPath(next: string): string {
  const target = safeNext(next);
  return target === '/' ? SIGNIN_PATH : `${SIGNIN_PATH}?${new URLSearchParams({ next: target }).toString()}`;
}

// ---- roles

function rank(role: string | null | undefined): number {
  return ROLES.indexOf(role as Role);
}

/** Whether `role` allows what `needed` may do (viewer < operator < approver < admin). */
export function allows(role: string | null | undefined, needed: Role): boolean {
  return rank(role) >= rank(needed);
}
