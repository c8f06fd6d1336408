/**
 * Files Quorum writes, on real files (issue 13): header-derived names stay inside the export
 * folder, nothing Quorum did not write is ever replaced (case files, every file of a DICOM series,
 * earlier exports), uploads are private and go with their case; and bad input (a symlink loop in a
 * DICOM folder) ends in a plain message.
 */

import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import dicomParser from 'dicom-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { QuorumError } from '../../core/src/errors.ts';
import { safeFileName } from '../../core/src/file-name.ts';
import { isQuorumFile, WRITTEN_DIR, writeOutputFile } from '../../core/src/node/atomic.ts';
import { openCase } from '../../core/src/node/case.ts';
import { QuorumService } from '../../workers/src/host/service.ts';
import { quorum } from '../helpers/cli.ts';
import { walkExplicitLE } from '../helpers/dicom-bytes.ts';
import { DATA, PAT3, REPO } from '../helpers/paths.ts';

const root = mkdtempSync(join(tmpdir(), 'quorum-file-safety-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const MR_SMALL = join(DATA, 'dicom', 'pydicom-testfiles', 'MR_small.dcm');
const GE_SERIES = join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918GE', 'mr_0004');

/** MR_small.dcm (a real MR image) with its PatientName rewritten in place, space-padded to its length. */
function withPatientName(name: string): Uint8Array {
  const b = new Uint8Array(readFileSync(MR_SMALL));
  const pn = walkExplicitLE(b, 132, () => true).find((e) => e.group === 0x10 && e.element === 0x10)!;
  expect(name.length).toBeLessThanOrEqual(pn.length);
  b.set(Buffer.from(name.padEnd(pn.length, ' ')), pn.valueOffset);
  return b;
}

const inside = (file: string, dir: string) => realpathSync(file).startsWith(realpathSync(dir) + sep);

describe('safeFileName', () => {
  it('keeps one harmless path component', () => {
    expect(safeFileName('../../../../tmp/x')).toBe('_tmp_x');
    expect(safeFileName('..')).toBe('case');
    expect(safeFileName('a/b\\c:d*e?f"g<h>i|j')).toBe('a_b_c_d_e_f_g_h_i_j');
    expect(safeFileName('x\u0000y\u001fz\u007f')).toBe('xyz');
    expect(safeFileName('CON')).toBe('_CON');
    expect(safeFileName('lpt1.nii.gz')).toBe('_lpt1.nii.gz');
    expect(safeFileName('  .hidden. ')).toBe('hidden');
    expect(safeFileName('DOE^JOHN')).toBe('DOE^JOHN');
    expect(safeFileName('')).toBe('case');
    expect(safeFileName('x'.repeat(500)).length).toBe(120);
  });
});

describe('exports from the app (QuorumService.export)', () => {
  const caseDir = join(root, 'dicom-case');
  const state = join(root, 'state');
  const outDir = join(root, 'exports');
  let svc: QuorumService;

  afterAll(() => svc?.close());

  it('a PatientName of ../../../../tmp/x exports inside the export folder', async () => {
    mkdirSync(caseDir);
    writeFileSync(join(caseDir, 'MR_small.dcm'), withPatientName('../../../../tmp/x'));
    svc = new QuorumService({ mode: 'browser', stateDir: state, outDir });
    const info = await svc.openCase(join(caseDir, 'MR_small.dcm'));
    expect(info.name).toBe('../../../../tmp/x');
    const [nx, ny, nz] = info.geometry.dims;
    const mask = new Uint8Array(nx * ny * nz).fill(1, 0, 100);
    const res = await svc.export({
      caseId: info.id,
      formats: ['nifti-mask', 'dicom-seg', 'report-json'],
      mask,
    });
    const files = Object.values(res.files) as string[];
    expect(files).toHaveLength(3);
    for (const f of files) expect(inside(f, outDir), f).toBe(true);
    expect(readdirSync(outDir)).toEqual(['_tmp_x']);
    expect(readdirSync(join(outDir, '_tmp_x')).filter((f) => !f.startsWith('.'))).toEqual([
      '_tmp_x_quorum_mask.nii.gz',
      '_tmp_x_quorum_report.json',
      '_tmp_x_quorum_seg.dcm',
    ]);

    // The SEG carries the source study's date, time and ID (dciodvfy: no empty type-2 study attributes).
    const seg = dicomParser.parseDicom(new Uint8Array(readFileSync(res.files['dicom-seg']!)));
    expect(seg.string('x00080020')).toBe('20040826');
    expect(seg.string('x00080030')).toBe('185059');
    expect(seg.string('x00200010')).toBe('4MR1');
  });

  it('never replaces a file: case files, the loaded image and earlier exports are kept, names are numbered', async () => {
    const info = await svc.openCase(join(caseDir, 'MR_small.dcm'));
    // A file of the user's own with an export's name, and another case file, in the case folder.
    const stem = '_tmp_x_quorum';
    writeFileSync(join(caseDir, `${stem}_mask.nii.gz`), 'the user own mask');
    copyFileSync(join(PAT3, 'brainmask.nii.gz'), join(caseDir, 'brain_mask.nii.gz'));
    const before = new Map(
      readdirSync(caseDir).map((f) => [f, readFileSync(join(caseDir, f))] as [string, Buffer]),
    );
    const mask = new Uint8Array(info.geometry.dims[0] * info.geometry.dims[1]).fill(1);
    const exportTo = (baseName?: string) =>
      svc.export({
        caseId: info.id,
        formats: ['nifti-mask', 'report-json'],
        mask,
        targetDir: caseDir,
        baseName,
      });

    const first = await exportTo();
    expect(first.files['nifti-mask']).toBe(join(caseDir, `${stem}-2_mask.nii.gz`));
    expect(first.files['report-json']).toBe(join(caseDir, `${stem}-2_report.json`));
    const second = await exportTo();
    expect(second.files['nifti-mask']).toBe(join(caseDir, `${stem}-3_mask.nii.gz`));
    // A requested name that is a case file's: numbered too, the case file untouched.
    const third = await exportTo('brain');
    expect(third.files['nifti-mask']).toBe(join(caseDir, 'brain_mask.nii.gz'.replace('brain_', 'brain-2_')));
    // A requested name with separators stays in the folder.
    const fourth = await exportTo('../../escape');
    expect(inside(fourth.files['nifti-mask']!, caseDir)).toBe(true);

    for (const [f, bytes] of before) expect(readFileSync(join(caseDir, f)).equals(bytes), f).toBe(true);
    expect(readFileSync(first.files['nifti-mask']!).length).toBeGreaterThan(0);
  });

  it('dropped files are written 0600 in a 0700 folder and removed when the case closes', async () => {
    const bytes = readFileSync(MR_SMALL);
    const info = await svc.openUploaded([
      { name: 'MR_small.dcm', bytes: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) },
    ]);
    const uploads = join(state, 'uploads');
    const [dir] = readdirSync(uploads);
    expect(statSync(join(uploads, dir)).mode & 0o777).toBe(0o700);
    expect(statSync(join(uploads, dir, 'MR_small.dcm')).mode & 0o777).toBe(0o600);
    expect(info.geometry.dims).toEqual([64, 64, 1]);
    await svc.closeCase(info.id);
    expect(readdirSync(uploads)).toEqual([]);
  });
});

describe('writeOutputFile: only files Quorum wrote are ever replaced', () => {
  const dir = join(root, 'outputs');

  it('records what it wrote; replaces it only when asked; refuses anything else, naming the file', () => {
    mkdirSync(dir);
    const out = join(dir, 'mask.nii.gz');
    writeOutputFile(out, 'one');
    expect(isQuorumFile(out)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual([WRITTEN_DIR, 'mask.nii.gz']);
    // 'never' (the default): not even Quorum's own file.
    expect(() => writeOutputFile(out, 'two')).toThrow(
      /mask\.nii\.gz: already exists; Quorum never overwrites/,
    );
    writeOutputFile(out, 'two', { replace: 'own' });
    expect(readFileSync(out, 'utf8')).toBe('two');
    // A user who saves over it (another size or time) makes it theirs: kept from then on.
    writeFileSync(out, 'edited in ITK-SNAP');
    utimesSync(out, new Date(), new Date(Date.now() + 5000));
    expect(isQuorumFile(out)).toBe(false);
    expect(() => writeOutputFile(out, 'three', { replace: 'own' })).toThrow(QuorumError);
    expect(() => writeOutputFile(out, 'three', { replace: 'own' })).toThrow(/not written by Quorum/);
    expect(readFileSync(out, 'utf8')).toBe('edited in ITK-SNAP');
    // No temp file is left by a refusal.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a run killed -9 at any moment while replacing its own file leaves a file it may replace again', async () => {
    // A resumed propose-dataset rewrites summary.csv after every case; a kill between the new
    // record and the rename once left the old file beside the new file's record, and the rerun
    // refused its own CSV. The child replaces one file in a loop; each kill lands at a random point.
    const out = join(dir, 'killed', 'summary.csv');
    mkdirSync(join(dir, 'killed'), { recursive: true });
    const child = `import { writeOutputFile } from ${JSON.stringify(join(REPO, 'core/src/node/atomic.ts'))};
      const [p] = process.argv.slice(-1);
      writeOutputFile(p, 'case,status\\n', { replace: 'own' });
      process.stdout.write('ready');
      for (let i = 1; ; i++) writeOutputFile(p, 'case,status\\n' + 'pat,done\\n'.repeat(i % 40), { replace: 'own' });`;
    for (let kill = 0; kill < 20; kill++) {
      const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child, out], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise((r) => p.on('exit', r));
      // a child that dies before its first write fails the test here, not by a timeout
      const ready = await Promise.race([
        new Promise((r) => p.stdout.once('data', () => r(true))),
        exited.then(() => false),
      ]);
      expect(ready, 'the writing child exited before its first write').toBe(true);
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 40));
      p.kill('SIGKILL');
      await exited;
      expect(isQuorumFile(out), `after kill ${kill + 1}`).toBe(true);
      expect(readFileSync(out, 'utf8')).toMatch(/^case,status\n(pat,done\n)*$/);
    }
    // The next write clears the temp files the killed children left, here and in the records.
    writeOutputFile(out, 'case,status\n', { replace: 'own' });
    const temps = (d: string) => readdirSync(d).filter((f) => f.endsWith('.tmp'));
    expect(temps(join(dir, 'killed'))).toEqual([]);
    expect(temps(join(dir, 'killed', WRITTEN_DIR))).toEqual([]);
  });

  it("a write removes its file's temp files left by a killed writer, and only those", async () => {
    const folder = join(dir, 'stale');
    mkdirSync(folder, { recursive: true });
    const out = join(folder, 'pat1_proposal.nii.gz');
    const dead = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    const alive = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    try {
      const gone = new Promise((r) => dead.on('exit', r));
      dead.kill('SIGKILL');
      await gone;
      const left = {
        deadWriter: `.pat1_proposal.nii.gz.${dead.pid}.1764640000000.tmp`,
        liveWriter: `.pat1_proposal.nii.gz.${alive.pid}.1764640000000.tmp`,
        otherFile: `.pat2_proposal.nii.gz.${dead.pid}.1764640000000.tmp`,
        users: 'notes.tmp',
      };
      for (const f of Object.values(left)) writeFileSync(join(folder, f), 'x');
      writeOutputFile(out, 'proposal');
      expect(
        readdirSync(folder)
          .filter((f) => f.endsWith('.tmp'))
          .sort(),
      ).toEqual([left.liveWriter, left.otherFile, left.users].sort());
      expect(readFileSync(out, 'utf8')).toBe('proposal');
    } finally {
      alive.kill('SIGKILL');
    }
  });

  it('every file of a DICOM series is protected, not only the first', () => {
    const series = join(root, 'series');
    mkdirSync(series);
    const files = readdirSync(GE_SERIES)
      .filter((f) => !f.endsWith('.txt'))
      .sort()
      .slice(0, 15);
    for (const f of files) copyFileSync(join(GE_SERIES, f), join(series, f));
    for (const f of files) {
      expect(() => writeOutputFile(join(series, f), 'x', { replace: 'own' }), f).toThrow(
        /not written by Quorum/,
      );
      expect(readFileSync(join(series, f)).equals(readFileSync(join(GE_SERIES, f)))).toBe(true);
    }
  });

  it('quorum propose refuses an --out holding a file it did not write, before the engine starts; --overwrite too', () => {
    const out = join(root, 'propose-out');
    mkdirSync(out);
    copyFileSync(join(PAT3, 'brainmask.nii.gz'), join(out, 'mask.nii.gz'));
    const original = readFileSync(join(out, 'mask.nii.gz'));
    const plain = quorum('propose', PAT3, '--out', out);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain(`${join(out, 'mask.nii.gz')}: already exists`);
    expect(plain.stderr).toMatch(/--overwrite replaces only files Quorum wrote/);
    const forced = quorum('propose', PAT3, '--out', out, '--overwrite');
    expect(forced.code).not.toBe(0);
    expect(forced.stderr).toContain(
      `${join(out, 'mask.nii.gz')}: already exists and was not written by Quorum`,
    );
    for (const r of [plain, forced]) expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(join(out, 'mask.nii.gz')).equals(original)).toBe(true);
  });
});

describe('folder scans: a symlink loop is a clear error', () => {
  it('a link back up the DICOM folder, and a link to itself, name the link', async () => {
    const dir = join(root, 'loop');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    copyFileSync(MR_SMALL, join(dir, 'sub', 'MR_small.dcm'));
    symlinkSync('..', join(dir, 'sub', 'up'));
    let err: unknown;
    try {
      await openCase(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(QuorumError);
    expect((err as QuorumError).file).toBe(join(dir, 'sub', 'up'));
    expect((err as Error).message).toMatch(/symlink loop/);

    const self = join(root, 'self-loop');
    mkdirSync(self);
    copyFileSync(MR_SMALL, join(self, 'MR_small.dcm'));
    symlinkSync('me', join(self, 'me'));
    await expect(openCase(self)).rejects.toThrow(/me: this symbolic link points to itself/);

    // The CLI says it in one line, no stack trace.
    const r = quorum('info', dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/symlink loop/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'sub', 'MR_small.dcm'))).toBe(true);
  });
});
