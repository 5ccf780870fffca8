import { describe, expect, it } from 'vitest';

import { DIFF, awaitingTask, deployedTask } from '../../test/fixtures';
import { parseDiff } from './DiffPanel';
import { awaitingKind } from './PeoplePanels';
import { timelineRows } from './Timeline';

describe('timelineRows', () => {
  it('groups stage runs under their round, in start order', () => {
    const now = Date.parse('2026-11-20T23:26:37Z');
    const rows = timelineRows(awaitingTask(), now);
    expect(rows.map((r) => (r.group ? `[${r.label}]` : r.label))).toEqual([
      '[Round 0]',
      'plan',
      'codegen',
      'test',
      '[Fix round 1]',
      'codegen',
      'test',
      'review',
      'gate',
    ]);
    const gate = rows.at(-1)!;
    expect(gate.running).toBe(true);
    expect(gate.end).toBe(now);
    expect(rows[0]!.outcome).toBe('tests failed');
    expect(rows[4]!.outcome).toBe('running · tests passed');
  });

  it('names retries', () => {
    const t = deployedTask();
    t.stages[2] = { ...t.stages[2]!, attempt: 2 };
    expect(timelineRows(t, Date.now())[3]!.sub).toBe('attempt 2');
  });
});

describe('parseDiff', () => {
  it('splits files and counts lines', () => {
    const files = parseDiff(DIFF);
    expect(files.map((f) => [f.path, f.added, f.removed])).toEqual([
      ['index.html', 2, 0],
      ['styles.css', 1, 1],
    ]);
    expect(files[1]!.lines.at(-1)).toBe(' h1 { margin: 0 }');
  });
});

describe('awaitingKind', () => {
  it('prefers the awaiting object and falls back to the status', () => {
    expect(awaitingKind(awaitingTask())).toBe('release_approval');
    expect(awaitingKind(deployedTask({ status: 'awaiting_plan_approval' }))).toBe('plan_approval');
    expect(awaitingKind(deployedTask())).toBeNull();
  });
});
