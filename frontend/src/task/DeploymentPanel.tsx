// The deployment: its URL, the verification of what is served, and earlier deployments
// (superseded or rolled back).
import type { Deployment } from '../api/types';
import { ExternalIcon } from '../components/icons';
import { Card, Chip, ExternalLink, OutcomeChip, RelativeTime } from '../components/ui';
import { shortSha } from '../lib/format';

interface Check {
  name: string;
  ok: boolean;
  detail?: string;
}

function checks(verification: Record<string, unknown>): { ok: boolean | null; checks: Check[] } {
  const list = Array.isArray(verification.checks) ? (verification.checks as unknown[]) : [];
  return {
    ok: typeof verification.ok === 'boolean' ? verification.ok : null,
    checks: list
      .filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null)
      .map((c) => ({
        name: typeof c.name === 'string' ? c.name : 'check',
        ok: c.ok === true,
        detail: typeof c.detail === 'string' ? c.detail : undefined,
      })),
  };
}

export function DeploymentPanel({ deployment, deployments }: { deployment: Deployment | null; deployments: Deployment[] }) {
  if (!deployment) return null;
  const v = checks(deployment.verification);
  // `deployment` is the newest, the last of `deployments`.
  const earlier = deployments.slice(0, -1).reverse();
  return (
    <Card title="Deployment" actions={<OutcomeChip value={deployment.status} />}>
      <div className="space-y-3 text-sm">
        <div className="flex flex-wrap items-center gap-2">
          <ExternalLink href={deployment.url} className="inline-flex items-center gap-1 break-all">
            <span data-testid="app-url">{deployment.url}</span>
            <ExternalIcon className="size-3.5 shrink-0" />
          </ExternalLink>
        </div>
        <p className="text-xs text-zinc-500 dark:text-zinc-400">
          commit <span className="font-mono">{shortSha(deployment.commit_sha)}</span> · target {deployment.target} ·{' '}
          <RelativeTime iso={deployment.created_at} />
        </p>
        <div>
          <h3 className="flex items-center gap-2 text-xs font-semibold tracking-wide text-zinc-500 uppercase dark:text-zinc-400">
            Verification
            {v.ok !== null && <Chip tone={v.ok ? 'success' : 'danger'}>{v.ok ? 'verified' : 'failed'}</Chip>}
          </h3>
          <ul className="mt-1.5 space-y-1">
            {v.checks.map((c, i) => (
              <li key={i} className="flex items-start gap-2">
                <span
                  aria-label={c.ok ? 'passed' : 'failed'}
                  className={c.ok ? 'text-emerald-600 dark:text-emerald-400' : 'text-red-600 dark:text-red-400'}
                >
                  {c.ok ? '✓' : '✗'}
                </span>
                <span className="min-w-0">
                  <span className="font-medium">{c.name}</span>
                  {c.detail && <span className="block text-xs break-all text-zinc-500">{c.detail}</span>}
                </span>
              </li>
            ))}
          </ul>
        </div>
        {earlier.length > 0 && (
          <div>
            <h3 className="text-xs font-semibold tracking-wide text-zinc-500 uppercase dark:text-zinc-400">
              Earlier deployments and rollbacks
            </h3>
            <ul className="mt-1.5 space-y-1">
              {earlier.map((d, i) => (
                <li key={i} className="flex flex-wrap items-center gap-2 text-xs">
                  <OutcomeChip value={d.status} />
                  <span className="font-mono">{shortSha(d.commit_sha)}</span>
                  <RelativeTime iso={d.created_at} className="text-zinc-500" />
                </li>
              ))}
            </ul>
          </div>
        )}
      </div>
    </Card>
  );
}
