/**
 * The engine's device as the CLI reports it, and progress when stderr is not a terminal (a log
 * file, a cluster job): `--device auto` without an accelerator says so in one line and runs on
 * the CPU; a device asked for by name that is not there stops the run with a clear message and no
 * output folder; a piped run prints plain progress lines (case, slices, ETA) as it goes.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { duration } from '../../workers/src/cli/progress.ts';
import { quorumWith } from '../helpers/cli.ts';
import { PAT3 } from '../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'quorum-device-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// pipes: stdout and stderr are not terminals, as in a batch job
const quorum = (args: string[], env: Record<string, string> = {}) =>
  quorumWith({ env, timeoutMs: 120_000 }, ...args);

describe('device and progress in the CLI', () => {
  let autoDevice = '';

  it('--device auto: at most one device line, then plain progress lines with case, slices and ETA', () => {
    const out = join(tmp, 'auto');
    const r = quorum(
      ['propose', PAT3, '--out', out, '--slices', '70:77', '--members', '2', '--steps', '10', '--seed', '1'],
      { QUORUM_PROGRESS_SECONDS: '0.5' },
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n');
    const deviceLines = lines.filter((l) => /cuda|webgpu|execution provider|device/i.test(l));
    expect(deviceLines.length).toBeLessThanOrEqual(1); // quiet: no provider load failure dumped
    if (deviceLines[0]) expect(deviceLines[0]).toMatch(/^device: auto: \w+ not available \(.*\); using cpu$/);
    const progress = lines.filter((l) => l.startsWith('progress: '));
    expect(progress.length, r.stderr).toBeGreaterThanOrEqual(1);
    for (const l of progress)
      expect(l).toMatch(
        /^progress: brats_2013_pat0003_1: \d+\/8 slices done \(\d+%\), step \d+\/10, \d+ s elapsed, ETA \d+ s$/,
      );
    expect(r.stderr).not.toContain('\r'); // no redrawn bar in a log
    autoDevice = deviceLines[0] ?? ''; // where CUDA could not be loaded, --device cuda must fail
  });

  it('--device cuda where CUDA cannot be loaded, or coreml off macOS: a clear error, exit 1, no --out', () => {
    const named = [
      ...(/cuda not available/.test(autoDevice) ? ['cuda'] : []),
      ...(process.platform === 'darwin' ? [] : ['coreml']),
    ];
    expect(named.length).toBeGreaterThan(0);
    for (const device of named) {
      const out = join(tmp, `named-${device}`);
      const r = quorum(['propose', PAT3, '--out', out, '--slices', '70:70', '--device', device]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        new RegExp(
          `\\nquorum propose: --device ${device}: ${device} not available \\(.+\\)\\. .*Use --device auto \\(falls back to the CPU\\) or --device cpu\\.\\n$`,
        ),
      );
      expect(r.stderr).not.toMatch(/engine process stopped|\n\s+at /);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('propose-dataset: a named device that is not there stops the whole run at once, no output folder', () => {
    if (process.platform === 'darwin') return;
    const ds = join(tmp, 'ds');
    mkdirSync(ds);
    symlinkSync(PAT3, join(ds, 'pat3'));
    const out = join(tmp, 'ds-out');
    const r = quorum(['propose-dataset', ds, '--out', out, '--slices', '70:70', '--device', 'coreml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\nquorum propose-dataset: --device coreml: coreml not available/);
    expect(existsSync(out)).toBe(false);
  });

  it('durations read as a person reads them', () => {
    expect([0, 8.2, 59.5, 75, 3600 + 120].map(duration)).toEqual([
      '0 s',
      '9 s',
      '1 min 0 s',
      '1 min 15 s',
      '1 h 2 min',
    ]);
  });
});
