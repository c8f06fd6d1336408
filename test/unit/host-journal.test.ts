import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendJournalFile, readJournalFile } from '../../workers/src/host/journal-store.ts';
import { scratchDir } from '../../workers/src/host/service.ts';

describe('journal store', () => {
  const dir = scratchDir('quorum-journal');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('appends records with binary payloads and reads them back in order', () => {
    const p = join(dir, 'a.qjournal');
    expect(readJournalFile(p)).toEqual([]);
    appendJournalFile(p, [{ op: { kind: 'paint', k: 3 }, bytes: new Uint8Array([9, 8, 7]) }]);
    appendJournalFile(p, [{ op: { kind: 'erase', k: 4 } }, { op: { kind: 'accept', k: 5 } }]);
    const r = readJournalFile(p);
    expect(r.map((x) => x.op)).toEqual([
      { kind: 'paint', k: 3 },
      { kind: 'erase', k: 4 },
      { kind: 'accept', k: 5 },
    ]);
    expect(Array.from(r[0].bytes as Uint8Array)).toEqual([9, 8, 7]);
  });

  it('keeps every complete record when a crash tore the last append', () => {
    const p = join(dir, 'b.qjournal');
    appendJournalFile(p, [{ op: { kind: 'paint', k: 1 } }, { op: { kind: 'paint', k: 2 } }]);
    const whole = readFileSync(p);
    writeFileSync(p, whole.subarray(0, whole.length - 5)); // the second record loses its tail
    expect(readJournalFile(p).map((x) => x.op.k)).toEqual([1]);
    appendFileSync(p, Buffer.from([1, 2])); // and garbage shorter than a length prefix
    expect(readJournalFile(p).map((x) => x.op.k)).toEqual([1]);
    appendJournalFile(p, [{ op: { kind: 'paint', k: 3 } }]); // work goes on after the crash
    expect(readJournalFile(p).map((x) => x.op.k)).toEqual([1, 3]);
  });
});
