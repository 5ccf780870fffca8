// The release gate's decision with every reason it gave.
import type { Gate } from '../api/types';
import { Card, Chip, OutcomeChip } from '../components/ui';

const KIND_TONE = { hard: 'danger', soft: 'warning', info: 'neutral' } as const;

export function GatePanel({ gate }: { gate: Gate | null }) {
  if (!gate) return null;
  return (
    <Card
      title="Gate decision"
      actions={
        <>
          <span className="text-xs text-zinc-500 dark:text-zinc-400">
            round {gate.round} · by {gate.decided_by}
          </span>
          <OutcomeChip value={gate.decision} />
        </>
      }
    >
      {gate.reasons.length === 0 ? (
        <p className="text-sm text-zinc-500">No reasons given.</p>
      ) : (
        <ul className="space-y-2" aria-label="Gate reasons">
          {gate.reasons.map((r, i) => (
            <li key={i} className="flex items-start gap-2 text-sm">
              <Chip tone={KIND_TONE[r.kind as keyof typeof KIND_TONE] ?? 'neutral'} className="mt-0.5">
                {r.kind}
              </Chip>
              <div className="min-w-0">
                <p>{r.message}</p>
                <p className="font-mono text-xs text-zinc-500">{r.code}</p>
              </div>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
