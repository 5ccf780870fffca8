// Sign-in: paste an API token once and the browser keeps a session cookie. The link `kiln up`
// prints (`/signin#token=<secret>`) signs in by itself; the secret is dropped from the
// address (and the history entry) before anything else happens.
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useLocation, useNavigate, useSearchParams } from 'react-router';

import { ApiError } from '../api/client';
import { useSignIn } from '../api/queries';
import { safeNext } from '../api/session';
import { KilnLogo } from '../components/icons';
import { Button, ErrorNotice, Field, TextInput, useTitle } from '../components/ui';

/** The token in a `#token=<secret>` fragment, if any. */
export function fragmentToken(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('token')?.trim();
  return token ? token : null;
}

export function SignInPage() {
  useTitle('Sign in');
  const location = useLocation();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const signIn = useSignIn();
  const [token, setToken] = useState('');
  const [empty, setEmpty] = useState(false);
  const fromLink = useRef(false);
  const client = useQueryClient();

  // Nothing fetched under the session that ended stays around (the signed-in pages are gone).
  useEffect(() => {
    client.removeQueries();
  }, [client]);

  const go = (secret: string) =>
    signIn.mutate(secret, { onSuccess: () => void navigate(next, { replace: true }) });

  useEffect(() => {
    if (fromLink.current) return;
    const secret = fragmentToken(location.hash);
    if (!secret) return;
    fromLink.current = true;
    // Never keep the secret in the URL: replace this history entry with one without it.
    void navigate({ pathname: location.pathname, search: location.search }, { replace: true });
    go(secret);
    // Runs once, for the address the page was opened at.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const secret = token.trim();
    setEmpty(!secret);
    if (secret) go(secret);
  };

  const error = signIn.error;
  const refused = error instanceof ApiError && error.status === 401;

  return (
    <main id="main" className="flex min-h-dvh items-center justify-center px-4 py-10">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex items-center gap-2">
          <KilnLogo className="size-8" />
          <span className="text-lg font-semibold tracking-tight">Kiln</span>
        </div>
        <h1 className="text-xl font-semibold tracking-tight">Sign in</h1>
        <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
          Paste an API token. <code className="font-mono text-xs">kiln up</code> prints a sign-in link and writes the
          admin token to <code className="font-mono text-xs">&lt;data dir&gt;/admin-token</code>; admins create more with{' '}
          <code className="font-mono text-xs">kiln token create</code>.
        </p>
        <form onSubmit={submit} className="mt-5 space-y-4 rounded-xl border border-zinc-200 bg-white p-4 shadow-sm dark:border-zinc-800 dark:bg-zinc-900">
          <Field label="API token" error={empty ? 'Paste a token to sign in.' : null}>
            {(p) => (
              <TextInput
                {...p}
                type="password"
                name="token"
                autoComplete="off"
                spellCheck={false}
                value={token}
                onChange={(e) => setToken(e.target.value)}
                autoFocus
              />
            )}
          </Field>
          {error && (
            <ErrorNotice error={error} title={refused ? 'Not signed in' : 'Sign-in failed'} />
          )}
          <Button type="submit" variant="primary" className="w-full" busy={signIn.isPending}>
            Sign in
          </Button>
        </form>
      </div>
    </main>
  );
}
