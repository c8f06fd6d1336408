import { randomBytes } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  appendJournalFile,
  JournalFile,
  journalIo,
  readJournalFile,
} from '../../workers/src/host/journal-store.ts';
import { scratchDir } from '../../workers/src/host/service.ts';

const realIo = { ...journalIo };
const sideFiles = (dir: string, name: string) =>
  readdirSync(dir).filter((f) => f.startsWith(`${name}.corrupt-`));

describe('journal store', () => {
  const dir = scratchDir('quorum-journal');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => Object.assign(journalIo, realIo));

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

  for (const [name, tail] of [
    ['a zero-filled tail', Buffer.alloc(4096)],
    ['random garbage', randomBytes(10_000)],
  ] as const) {
    it(`${name}: opens with every good record, sets the tail aside, later appends are readable`, () => {
      const file = `tail-${name.replace(/\W/g, '')}.qjournal`;
      const p = join(dir, file);
      const j = new JournalFile(p);
      j.read();
      j.append([{ op: { type: 'edit', k: 1 }, bytes: new Uint8Array([1, 2, 3]) }]);
      j.append([{ op: { type: 'edit', k: 2 } }]);
      const good = statSync(p).size;
      appendFileSync(p, tail); // what a crash or a bad disk leaves

      const opened = new JournalFile(p); // the case is opened again
      const r = opened.read();
      expect(r.records.map((x) => x.op.k)).toEqual([1, 2]);
      expect(r.notice?.bytes).toBe(tail.length);
      expect(r.notice?.message).toMatch(
        new RegExp(`last ${tail.length} bytes .* unreadable .* set aside in ${file}\\.corrupt-`),
      );
      const sides = sideFiles(dir, file);
      expect(sides.length).toBe(1);
      expect(join(dir, sides[0])).toBe(r.notice?.sideFile);
      expect(readFileSync(r.notice!.sideFile!).equals(tail)).toBe(true); // never deleted
      expect(statSync(p).size).toBe(good);

      opened.append([{ op: { type: 'edit', k: 3 } }]);
      const again = new JournalFile(p).read();
      expect(again.records.map((x) => x.op.k)).toEqual([1, 2, 3]);
      expect(again.notice).toBeUndefined();
    });
  }

  it('a failed write rejects with not-saved, leaves nothing behind, and the retry lands in order', () => {
    const p = join(dir, 'enospc.qjournal');
    const j = new JournalFile(p);
    j.read();
    j.append([{ op: { k: 1 } }]);
    const before = statSync(p).size;
    // The disk fills up half-way through the write.
    journalIo.write = (fd, data, off, len, pos) => {
      realIo.write(fd, data, off, Math.min(len, 7), pos);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    expect(() => j.append([{ op: { k: 2 } }, { op: { k: 3 } }])).toThrow(
      expect.objectContaining({ code: 'not-saved', message: expect.stringMatching(/disk is full/) }),
    );
    expect(statSync(p).size).toBe(before); // the half record was cut
    journalIo.write = () => {
      throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    };
    expect(() => j.append([{ op: { k: 2 } }, { op: { k: 3 } }])).toThrow(
      expect.objectContaining({ code: 'not-saved', message: expect.stringMatching(/input\/output/) }),
    );
    journalIo.write = realIo.write; // space is back: the same records again
    j.append([{ op: { k: 2 } }, { op: { k: 3 } }]);
    j.append([{ op: { k: 4 } }]);
    expect(readJournalFile(p).map((x) => x.op.k)).toEqual([1, 2, 3, 4]);
  });

  it('a failed fsync is not-saved too, and the retry does not duplicate the records', () => {
    const p = join(dir, 'eio-fsync.qjournal');
    const j = new JournalFile(p);
    j.read();
    j.append([{ op: { k: 1 } }]);
    journalIo.fsync = () => {
      throw Object.assign(new Error('EIO'), { code: 'EIO' });
    };
    expect(() => j.append([{ op: { k: 2 } }])).toThrow(expect.objectContaining({ code: 'not-saved' }));
    journalIo.fsync = realIo.fsync;
    j.append([{ op: { k: 2 } }]);
    expect(readJournalFile(p).map((x) => x.op.k)).toEqual([1, 2]);
  });

  it('appends are O(1): no read of the file, and a large journal does not slow them down', () => {
    const p = join(dir, 'large.qjournal');
    const j = new JournalFile(p);
    j.read();
    const big = new Uint8Array(1 << 20);
    for (let n = 0; n < 40; n++) j.append([{ op: { type: 'proposal-slice', k: n }, bytes: big }]);
    expect(statSync(p).size).toBeGreaterThan(40 << 20);

    const opened = new JournalFile(p); // the tail is checked once, at open
    let read = 0;
    journalIo.readFile = (path) => {
      const b = realIo.readFile(path);
      read += b.byteLength;
      return b;
    };
    expect(opened.read().records.length).toBe(40);
    const atOpen = read;
    expect(atOpen).toBe(statSync(p).size);
    let written = 0;
    journalIo.write = (fd, data, off, len, pos) => {
      const n = realIo.write(fd, data, off, len, pos);
      written += n;
      return n;
    };
    const t0 = performance.now();
    const rec = { op: { type: 'edit', voxels: 100 }, bytes: new Uint8Array(600) };
    for (let n = 0; n < 50; n++) opened.append([rec]);
    const perAppend = (performance.now() - t0) / 50;
    console.log(
      `append to a ${(statSync(p).size / 2 ** 20).toFixed(0)} MB journal: ${perAppend.toFixed(2)} ms (fsync included)`,
    );
    expect(read).toBe(atOpen); // not one byte read by the 50 appends
    expect(written).toBeLessThan(50 * 800); // only the new records were written
    expect(new JournalFile(p).read().records.length).toBe(90);
  });

  it('a journal removed under an open case is started again, not written at a stale offset', () => {
    const p = join(dir, 'removed.qjournal');
    const j = new JournalFile(p);
    j.read();
    j.append([{ op: { k: 1 } }, { op: { k: 2 } }]);
    rmSync(p);
    j.append([{ op: { k: 3 } }]);
    expect(readJournalFile(p).map((x) => x.op.k)).toEqual([3]);
    expect(readFileSync(p)[0]).not.toBe(0); // no hole of zeros at the start
  });
});
