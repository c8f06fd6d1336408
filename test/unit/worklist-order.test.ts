/**
 * The worklist's order (workers/src/host/project-file.ts): the rows a reviewer works down, least
 * confident first, with the cases whose reports predate the confidence, and those not proposed yet.
 */
import { describe, expect, it } from 'vitest';
import { type StoredCase, worklistOrder } from '../../workers/src/host/project-file.ts';

const row = (name: string, confidence?: number, uncertaintyMl?: number): StoredCase => ({
  name,
  status: uncertaintyMl === undefined ? 'new' : 'proposed',
  secondsSpent: 0,
  confidence,
  uncertaintyMl,
});

describe('worklist order', () => {
  it('least confident first; equal confidence by most uncertain mL; older reports next; unproposed last, by name', () => {
    const rows = [
      row('unproposed-b'),
      row('old-report-small', undefined, 0.4),
      row('sure', 0.97, 9.0),
      row('unproposed-a'),
      row('doubtful-small', 0.62, 1.0),
      row('old-report-large', undefined, 3.2),
      row('doubtful-large', 0.62, 4.5),
      row('middling', 0.85, 0.2),
    ];
    expect([...rows].sort(worklistOrder).map((r) => r.name)).toEqual([
      'doubtful-large',
      'doubtful-small',
      'middling',
      'sure',
      'old-report-large',
      'old-report-small',
      'unproposed-a',
      'unproposed-b',
    ]);
  });

  it('is a consistent order: the same rows in any order sort alike', () => {
    const rows = [row('c', 0.5, 1), row('a', 0.5, 1), row('b'), row('d', undefined, 2), row('e', 0.1, 0)];
    const once = [...rows].sort(worklistOrder).map((r) => r.name);
    expect(once).toEqual(['e', 'a', 'c', 'd', 'b']);
    expect(
      [...rows]
        .reverse()
        .sort(worklistOrder)
        .map((r) => r.name),
    ).toEqual(once);
  });
});
