import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeOutputFile } from '../../core/src/node/atomic.ts';
import { JournalFile, readJournalFile } from '../../workers/src/host/journal-store.ts';

/**
 * A real full disk: a 512 KiB tmpfs mounted for the test (the injected-error tests in
 * host-journal.test.ts and journal-browser.test.ts cover the UI; this one checks that the kernel's
 * own ENOSPC, with its partial writes, leaves nothing half-written and loses nothing once space
 * returns). Mounting needs root with CAP_SYS_ADMIN (CI's machine has it); elsewhere it is skipped
 * with the reason.
 */
const base = mkdtempSync(join(tmpdir(), 'quorum-disk-full-'));
const mnt = join(base, 'mnt');
mkdirSync(mnt);
let mounted = false;
let why = '';
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt], { stdio: 'pipe' });
  mounted = true;
} catch (e) {
  why = String((e as { stderr?: Buffer }).stderr ?? e).trim();
}
if (!mounted) console.warn(`disk-full tests skipped: cannot mount a tmpfs here (${why})`);

/** Fills the disk with a file of whatever still fits; returns its path (remove it to free space). */
function fill(dir: string): string {
  const p = join(dir, 'filler.bin');
  const chunk = Buffer.alloc(4096, 7);
  let fd: number | undefined;
  try {
    fd = openSync(p, 'a');
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return p;
}

describe.skipIf(!mounted)('a real full disk (tmpfs)', () => {
  beforeAll(() => {
    for (const f of readdirSync(mnt)) rmSync(join(mnt, f), { recursive: true, force: true });
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', [mnt]);
    rmSync(base, { recursive: true, force: true });
  });

  it('the journal says not saved (disk full, with the file), keeps every record, and takes the retry', () => {
    const p = join(mnt, 'case.qjournal');
    const j = new JournalFile(p);
    j.read();
    j.append([{ op: { type: 'edit', k: 1 }, bytes: new Uint8Array(1000).fill(1) }]);
    const filler = fill(mnt);
    const big = { op: { type: 'edit', k: 2 }, bytes: new Uint8Array(64 * 1024).fill(2) };
    let err: unknown;
    try {
      j.append([big]);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'not-saved', file: p });
    expect(String((err as Error).message)).toMatch(/disk is full, ENOSPC/);
    // What was on disk is intact and readable: no half record after the first.
    expect(readJournalFile(p).map((r) => r.op.k)).toEqual([1]);
    rmSync(filler); // space is back: the same record again, then another
    j.append([big]);
    j.append([{ op: { type: 'edit', k: 3 } }]);
    const back = readJournalFile(p);
    expect(back.map((r) => r.op.k)).toEqual([1, 2, 3]);
    expect(new Uint8Array(back[1].bytes!).every((b) => b === 2)).toBe(true);
    rmSync(p);
  });

  it('an export on a full disk names the file, leaves no partial or temp file, and keeps the old one', () => {
    const out = join(mnt, 'export');
    mkdirSync(out);
    const target = join(out, 'case_mask.nii.gz');
    const state = join(out, 'state.json');
    writeFileAtomic(state, '{"v":1}');
    const filler = fill(mnt);
    const bytes = new Uint8Array(128 * 1024).fill(9);
    expect(() => writeOutputFile(target, bytes)).toThrow(
      expect.objectContaining({
        code: 'not-saved',
        file: target,
        message: expect.stringMatching(/disk is full/),
      }),
    );
    expect(() => writeFileAtomic(state, 'x'.repeat(64 * 1024))).toThrow(
      expect.objectContaining({ code: 'not-saved', file: state }),
    );
    expect(existsSync(target)).toBe(false);
    expect(readFileSync(state, 'utf8')).toBe('{"v":1}'); // the old state file, whole
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    rmSync(filler);
    writeOutputFile(target, bytes); // space is back: the export goes through
    expect(new Uint8Array(readFileSync(target))).toEqual(bytes);
  });
});
