// Review verdicts per round and reviewer, with their findings.
import type { Review } from '../api/types';
import { Card, OutcomeChip, SeverityChip } from '../components/ui';

export function ReviewsPanel({ reviews }: { reviews: Review[] }) {
  if (reviews.length === 0) return null;
  return (
    <Card title="Reviews">
      <ul className="space-y-4">
        {reviews.map((r, i) => (
          <li key={i}>
            <div className="flex flex-wrap items-center gap-2 text-sm">
              <span className="font-medium">{r.reviewer}</span>
              <span className="text-xs text-zinc-500">round {r.round}</span>
              <OutcomeChip value={r.verdict} />
            </div>
            <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">{r.summary}</p>
            {r.findings.length > 0 && (
              <ul className="mt-2 divide-y divide-zinc-200 rounded-lg border border-zinc-200 dark:divide-zinc-800 dark:border-zinc-800">
                {r.findings.map((f, j) => (
                  <li key={j} className="flex flex-wrap items-start gap-2 px-3 py-2 text-sm">
                    <SeverityChip severity={f.severity} />
                    <div className="min-w-0 flex-1">
                      <p>{f.message}</p>
                      <p className="font-mono text-xs text-zinc-500">
                        {f.rule}
                        {f.file && (
                          <>
                            {' · '}
                            {f.file}
                            {f.line !== null && `:${f.line}`}
                          </>
                        )}
                      </p>
                    </div>
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
    </Card>
  );
}
