// LLM accounting: calls, tokens and cost, per stage when the API reports it, and the task's
// budget with how much of each limit is used.
import type { Budget, LlmUsage } from '../api/types';
import { Card, Chip, cx } from '../components/ui';
import { count, usd } from '../lib/format';

function Meter({ label, used, limit, format }: { label: string; used: number; limit: number | null | undefined; format: (n: number) => string }) {
  const hasLimit = typeof limit === 'number' && limit > 0;
  const ratio = hasLimit ? Math.min(used / limit, 1) : 0;
  const tone = ratio >= 1 ? 'bg-red-500' : ratio >= 0.8 ? 'bg-amber-500' : 'bg-emerald-500';
  return (
    <div>
      <div className="flex justify-between text-xs">
        <span className="text-zinc-600 dark:text-zinc-400">{label}</span>
        <span className="tabular-nums">
          {format(used)}
          {hasLimit ? ` / ${format(limit)}` : ' · no limit'}
        </span>
      </div>
      {hasLimit && (
        <div
          role="meter"
          aria-label={`${label} used`}
          aria-valuemin={0}
          aria-valuemax={limit}
          aria-valuenow={used}
          className="mt-1 h-1.5 overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-800"
        >
          <div className={cx('h-full rounded-full', tone)} style={{ width: `${ratio * 100}%` }} />
        </div>
      )}
    </div>
  );
}

export function UsagePanel({ usage, budget }: { usage: LlmUsage; budget?: Budget | null }) {
  const stages = usage.by_stage ?? [];
  return (
    <Card title="LLM usage" actions={<Chip tone={usage.mode === 'offline' ? 'neutral' : 'active'}>{usage.mode}</Chip>}>
      <dl className="grid grid-cols-2 gap-3 text-sm xl:grid-cols-3">
        {(
          [
            ['Calls', count(usage.calls)],
            ['Input tokens', count(usage.input_tokens)],
            ['Output tokens', count(usage.output_tokens)],
            ['Cost', usd(usage.cost_usd)],
          ] as const
        ).map(([k, v]) => (
          <div key={k}>
            <dt className="text-xs text-zinc-500 dark:text-zinc-400">{k}</dt>
            <dd className="font-semibold tabular-nums">{v}</dd>
          </div>
        ))}
        {typeof usage.cached_tokens === 'number' && (
          <div>
            <dt className="text-xs text-zinc-500 dark:text-zinc-400">Cached tokens</dt>
            <dd className="font-semibold tabular-nums">{count(usage.cached_tokens)}</dd>
          </div>
        )}
      </dl>
      {usage.mode === 'offline' && usage.calls === 0 && (
        <p className="mt-2 text-xs text-zinc-500 dark:text-zinc-400">Offline mode: no LLM was used for this task.</p>
      )}
      {stages.length > 0 && (
        <div className="mt-4 overflow-x-auto">
          <table className="w-full text-left text-xs">
            <caption className="sr-only">Usage per stage</caption>
            <thead className="text-zinc-500 dark:text-zinc-400">
              <tr>
                <th scope="col" className="py-1 pr-3 font-medium">Stage</th>
                <th scope="col" className="py-1 pr-3 text-right font-medium">Calls</th>
                <th scope="col" className="py-1 pr-3 text-right font-medium">In</th>
                <th scope="col" className="py-1 pr-3 text-right font-medium">Out</th>
                <th scope="col" className="py-1 text-right font-medium">Cost</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-zinc-100 tabular-nums dark:divide-zinc-800">
              {stages.map((s) => (
                <tr key={s.stage}>
                  <th scope="row" className="py-1 pr-3 font-medium">{s.stage}</th>
                  <td className="py-1 pr-3 text-right">{count(s.calls)}</td>
                  <td className="py-1 pr-3 text-right">{count(s.input_tokens)}</td>
                  <td className="py-1 pr-3 text-right">{count(s.output_tokens)}</td>
                  <td className="py-1 text-right">{usd(s.cost_usd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {budget && (
        <div className="mt-4 space-y-2" data-testid="budget">
          <h3 className="text-xs font-semibold tracking-wide text-zinc-500 uppercase dark:text-zinc-400">Budget</h3>
          <Meter label="Tokens" used={budget.used.tokens} limit={budget.limits.max_tokens} format={count} />
          <Meter label="Cost" used={budget.used.cost_usd} limit={budget.limits.max_cost_usd} format={usd} />
          <Meter label="Calls" used={budget.used.calls} limit={budget.limits.max_calls} format={count} />
        </div>
      )}
    </Card>
  );
}
