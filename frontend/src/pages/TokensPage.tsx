// API tokens (admins): who may call Kiln and with which role. A new token's secret is shown
// once, right after creating it; Kiln keeps only its hash.
import { useState, type FormEvent } from 'react';

import { useCreateToken, useRevokeToken, useSession, useTokens } from '../api/queries';
import { allows } from '../api/session';
import { ROLES, type CreatedToken, type TokenView } from '../api/types';
import {
  Button,
  Card,
  Chip,
  ConfirmDialog,
  Empty,
  ErrorNotice,
  Field,
  Loading,
  PageHeader,
  RelativeTime,
  Select,
  TextInput,
  useTitle,
} from '../components/ui';

function NewSecret({ created, onDone }: { created: CreatedToken; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div
      role="status"
      className="mb-4 rounded-xl border border-emerald-300 bg-emerald-50 p-4 text-sm text-emerald-950 dark:border-emerald-800 dark:bg-emerald-950/60 dark:text-emerald-100"
    >
      <p className="font-medium">
        Token {created.token.name} ({created.token.role}) created. Copy its secret now: it is not shown again.
      </p>
      <div className="mt-2 flex flex-wrap items-center gap-2">
        <code className="min-w-0 break-all rounded bg-white px-2 py-1 font-mono text-xs dark:bg-zinc-900" data-testid="token-secret">
          {created.secret}
        </code>
        <Button
          onClick={() =>
            void navigator.clipboard?.writeText(created.secret).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </Button>
        <Button variant="ghost" onClick={onDone}>
          Done
        </Button>
      </div>
    </div>
  );
}

export function TokensPage() {
  useTitle('Tokens');
  const session = useSession();
  const admin = allows(session.data?.role, 'admin');
  const tokens = useTokens(admin);
  const create = useCreateToken();
  const revoke = useRevokeToken();
  const [name, setName] = useState('');
  const [role, setRole] = useState<string>('operator');
  const [revoking, setRevoking] = useState<TokenView | null>(null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return;
    create.mutate({ name: name.trim(), role }, { onSuccess: () => setName('') });
  };

  if (session.data && !admin) {
    return (
      <div>
        <PageHeader title="Tokens" />
        <Empty>Managing tokens needs the admin role; you are signed in as {session.data.role}.</Empty>
      </div>
    );
  }

  return (
    <div>
      <PageHeader title="Tokens" subtitle="Who may call Kiln, and what each may do: viewer < operator < approver < admin." />
      {create.data && <NewSecret created={create.data} onDone={() => create.reset()} />}
      <div className="grid gap-4 lg:grid-cols-[1fr_20rem]">
        <Card title="Live tokens">
          {tokens.isPending ? (
            <Loading label="Loading tokens" />
          ) : tokens.isError ? (
            <ErrorNotice error={tokens.error} title="Tokens not available" />
          ) : tokens.data.length === 0 ? (
            <Empty>No tokens.</Empty>
          ) : (
            <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
              {tokens.data.map((t) => (
                <li key={t.id} className="flex flex-wrap items-center gap-2 py-2 text-sm" data-testid="token-row">
                  <span className="font-medium">{t.name}</span>
                  <Chip tone={t.role === 'admin' ? 'warning' : 'neutral'}>{t.role}</Chip>
                  <span className="font-mono text-xs text-zinc-500">{t.hint}…</span>
                  <span className="text-xs text-zinc-500 dark:text-zinc-400">
                    by {t.created_by} · <RelativeTime iso={t.created_at} />
                    {t.last_used_at && (
                      <>
                        {' '}
                        · used <RelativeTime iso={t.last_used_at} />
                      </>
                    )}
                  </span>
                  <Button variant="ghost" className="ml-auto" onClick={() => setRevoking(t)} aria-label={`Revoke ${t.name}`}>
                    Revoke
                  </Button>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="New token">
          <form onSubmit={submit} className="space-y-3">
            <Field label="Name" hint="Recorded as the actor of everything done with it.">
              {(p) => <TextInput {...p} value={name} maxLength={64} onChange={(e) => setName(e.target.value)} />}
            </Field>
            <Field label="Role">
              {(p) => (
                <Select {...p} value={role} onChange={(e) => setRole(e.target.value)}>
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </Select>
              )}
            </Field>
            {create.isError && <ErrorNotice error={create.error} title="Not created" />}
            <Button type="submit" variant="primary" busy={create.isPending} disabled={!name.trim()}>
              Create token
            </Button>
          </form>
        </Card>
      </div>
      <ConfirmDialog
        open={revoking !== null}
        onClose={() => setRevoking(null)}
        title={`Revoke ${revoking?.name ?? ''}`}
        confirmLabel="Revoke"
        variant="danger"
        busy={revoke.isPending}
        onConfirm={() => revoking && revoke.mutate(revoking.id, { onSuccess: () => setRevoking(null) })}
      >
        <p>Everything using this token stops working at once, and its dashboard sessions end.</p>
        {revoke.isError && <ErrorNotice error={revoke.error} title="Not revoked" />}
      </ConfirmDialog>
    </div>
  );
}
