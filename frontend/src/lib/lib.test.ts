import { describe, expect, it } from 'vitest';

import { absoluteTime, duration, relativeTime, usd } from './format';
import { EMPTY_BRIEF, limitProblem, nameProblem } from './validate';

describe('nameProblem', () => {
  it('accepts what the API accepts', () => {
    for (const ok of ['demo', 'a', 'pizza-board-2', 'x'.repeat(63)]) expect(nameProblem(ok)).toBeNull();
  });

  it('words each rule exactly as the API does', () => {
    const rule = "(a name is 1 to 63 lowercase ASCII letters, digits and '-', starts with a letter and does not end with '-')";
    expect(nameProblem('Bad Name')).toBe(`invalid name "Bad Name": use only lowercase ASCII letters, digits and '-' ${rule}`);
    expect(nameProblem('1demo')).toBe(`invalid name "1demo": must start with a letter ${rule}`);
    expect(nameProblem('demo-')).toBe(`invalid name "demo-": must not end with '-' ${rule}`);
    expect(nameProblem('')).toMatch(/^invalid name "": must be 1 to 63 characters/);
    expect(nameProblem('x'.repeat(64))).toMatch(/must be 1 to 63 characters/);
    expect(nameProblem('../x')).toMatch(/lowercase ASCII letters/);
    // Like the API, length counts bytes.
    expect(nameProblem('é'.repeat(32))).toMatch(/must be 1 to 63 characters/);
  });

  it('checks briefs and limits', () => {
    expect(EMPTY_BRIEF).toBe('brief must not be empty (it is empty or only whitespace)');
    expect(limitProblem('', true)).toBeNull();
    expect(limitProblem('10', true)).toBeNull();
    expect(limitProblem('2.5', false)).toBeNull();
    expect(limitProblem('2.5', true)).toBe('must be a whole number');
    expect(limitProblem('-1', false)).toBe('must be a positive number');
    expect(limitProblem('ten', false)).toBe('must be a positive number');
  });
});

describe('format', () => {
  it('formats times, durations and money', () => {
    const now = Date.parse('2026-11-20T12:00:00Z');
    expect(relativeTime('2026-11-20T11:59:58Z', now)).toBe('just now');
    expect(relativeTime('2026-11-20T11:59:30Z', now)).toBe('30 s ago');
    expect(relativeTime('2026-11-20T11:55:00Z', now)).toBe('5 min ago');
    expect(relativeTime('2026-11-20T09:00:00Z', now)).toBe('3 h ago');
    expect(relativeTime('2026-11-17T12:00:00Z', now)).toBe('3 d ago');
    expect(relativeTime('nonsense', now)).toBe('—');
    expect(absoluteTime('2026-11-20T12:00:00Z')).toMatch(/^2026-11-2\d \d\d:\d\d:00$/);
    expect([12, 1400, 45_000, 125_000, 3_780_000].map(duration)).toEqual(['12 ms', '1.4 s', '45 s', '2 min 5 s', '1 h 3 min']);
    expect([0, 0.0042, 0.42, 12, null].map(usd)).toEqual(['$0', '$0.0042', '$0.42', '$12.00', '—']);
  });
});
