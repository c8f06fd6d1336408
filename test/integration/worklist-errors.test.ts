/**
 * Pre-labelling errors are reported, never fatal (issue 13): a project file that cannot be saved
 * and a full disk (ENOSPC) pause the queue with the reason in the queue event and the worklist,
 * instead of an unhandled rejection that ends the browser-mode host. Real dataset (two BraTS
 * subjects linked), real project files; the engine factory is where the write error is injected.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DatasetEvent } from '../../core/src/api.ts';
import { DatasetWorklist } from '../../workers/src/host/worklist.ts';
import { linkDataset } from '../helpers/dataset.ts';

const root = mkdtempSync(join(tmpdir(), 'quorum-worklist-errors-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Resolves with every event up to the queue's final one (state not running). */
function untilStopped(w: DatasetWorklist): Promise<DatasetEvent[]> {
  return new Promise((ok) => {
    const events: DatasetEvent[] = [];
    w.subscribe((e) => {
      events.push(e);
      if (e.type === 'queue' && e.state !== 'running') ok(events);
    });
  });
}

describe('pre-labelling: save failures are reported, never fatal', () => {
  it('a full disk while a case is written pauses the queue and says why', async () => {
    const ds = linkDataset(join(root, 'full'), false);
    let asked = 0;
    const w = DatasetWorklist.open(ds, {
      stateDir: join(root, 'state'),
      engine: async () => {
        asked++;
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    });
    const stopped = untilStopped(w);
    w.start({ slices: [75, 76], members: 2, steps: 2 });
    const events = await stopped;
    expect(asked).toBe(1); // the second case is not tried on a full disk
    expect(events.find((e) => e.type === 'case-error')).toMatchObject({ case: { name: 'pat3' } });
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: 'queue', state: 'paused' });
    expect(last.type === 'queue' && last.error).toMatch(
      /^pat3: ENOSPC: no space left on device.*pre-labelling paused$/,
    );
    const list = w.worklist();
    expect(list.queue.error).toMatch(/ENOSPC/);
    expect(list.cases.find((c) => c.name === 'pat3')?.error).toMatch(/ENOSPC/);
    await w.close();
  });

  it('a project file that cannot be written pauses the queue with the reason (no unhandled rejection)', async () => {
    const ds = linkDataset(join(root, 'unsaved'), false);
    const w = DatasetWorklist.open(ds, {
      stateDir: join(root, 'state'),
      engine: async () => {
        throw Object.assign(new Error('the model is missing'), { code: 'model' });
      },
    });
    const stopped = untilStopped(w);
    w.start({ slices: [75, 76] });
    // After the queue's first save: the project file's name is now taken by a folder, so every
    // later save fails (a rename over a non-empty folder fails even for root, unlike a chmod).
    rmSync(w.projectFile);
    mkdirSync(w.projectFile);
    writeFileSync(join(w.projectFile, 'x'), '');
    const events = await stopped;
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: 'queue', state: 'paused' });
    expect(last.type === 'queue' && last.error).toMatch(
      /project file could not be saved .*pre-labelling paused/,
    );
    expect(w.worklist().queue.error).toMatch(/project file could not be saved/);
    // A new start clears the reason (and refuses plainly while the file still cannot be written).
    expect(() => w.start()).toThrow(/EISDIR|EEXIST|ENOTEMPTY|directory/);
    expect(w.worklist().queue.state).toBe('paused');
    rmSync(w.projectFile, { recursive: true });
    await w.close();
  });
});
