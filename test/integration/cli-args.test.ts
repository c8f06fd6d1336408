/**
 * The command line as a user types it (node bin/quorum.mjs): --help on every command, and a
 * misspelled option refused (exit 2) before anything is read or any engine is started.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quorum } from '../helpers/cli.ts';
import { PAT3 } from '../helpers/paths.ts';

describe('quorum command line', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'quorum-args-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it.each(['info', 'propose', 'evaluate', 'propose-dataset'])(
    'quorum %s --help: usage on stdout, exit 0',
    (cmd) => {
      const r = quorum(cmd, '--help');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: quorum ${cmd} `));
      expect(r.stderr).toBe('');
    },
  );

  it('quorum --help lists the commands and points at their --help', () => {
    const r = quorum('--help');
    expect(r.code).toBe(0);
    for (const cmd of ['info', 'propose', 'evaluate', 'propose-dataset'])
      expect(r.stdout).toContain(`  ${cmd} `);
    expect(r.stdout).toContain("'quorum <command> --help'");
  });

  it('propose --membres 3: refused with the option named and the usage, exit 2, no output folder', () => {
    const out = join(tmp, 'out');
    const r = quorum('propose', PAT3, '--out', out, '--membres', '3');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^quorum propose: unknown option --membres \(did you mean --members\?\)/);
    expect(r.stderr).toContain('usage: quorum propose <case> --out <dir>');
    expect(existsSync(out)).toBe(false);
  });

  it('propose-dataset --shards 2 and evaluate --pred without a value: refused, exit 2', () => {
    const a = quorum('propose-dataset', PAT3, '--out', join(tmp, 'ds'), '--shards', '0/2');
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/unknown option --shards \(did you mean --shard\?\)/);
    expect(existsSync(join(tmp, 'ds'))).toBe(false);
    const b = quorum('evaluate', '--pred');
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/^quorum evaluate: --pred needs a value/);
  });
});
