// The plan: the epic and its stories with acceptance criteria.
import type { Plan } from '../api/types';
import { Card, Chip } from '../components/ui';

export function PlanPanel({ plan }: { plan: Plan | null }) {
  if (!plan) return null;
  return (
    <Card title="Plan" id="plan" actions={<Chip tone="neutral">{plan.planner} planner</Chip>}>
      <p className="text-sm">
        <span className="font-medium text-zinc-500 dark:text-zinc-400">Epic · </span>
        <span className="font-medium">{plan.epic}</span>
      </p>
      <ol className="mt-3 space-y-3">
        {plan.stories.map((story, i) => (
          <li key={i} className="rounded-lg border border-zinc-200 p-3 dark:border-zinc-800">
            <h3 className="text-sm font-semibold">
              <span className="mr-1.5 text-zinc-400 tabular-nums">{i + 1}.</span>
              {story.title}
            </h3>
            {story.description && <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">{story.description}</p>}
            {story.acceptance.length > 0 && (
              <ul className="mt-2 space-y-1 text-sm" aria-label={`Acceptance criteria of ${story.title}`}>
                {story.acceptance.map((a, j) => (
                  <li key={j} className="flex gap-2">
                    <span aria-hidden className="mt-1.5 size-1.5 shrink-0 rounded-full bg-brand-500" />
                    <span>{a}</span>
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ol>
    </Card>
  );
}
