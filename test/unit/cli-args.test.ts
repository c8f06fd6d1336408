import { describe, expect, it } from 'vitest';
import {
  type CommandSpec,
  choiceFlag,
  intFlag,
  parseCommand,
  slicesFlag,
  UsageError,
} from '../../workers/src/cli/args.ts';

const SPEC: CommandSpec = {
  usage: 'usage: quorum demo <case> --out <dir> [--members N] [--verbose]',
  options: { out: { type: 'string', short: 'o' }, members: { type: 'string' }, verbose: { type: 'boolean' } },
  maxPositionals: 1,
};

function usageError(argv: string[]): UsageError {
  try {
    parseCommand(argv, SPEC);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('parseCommand (node:util parseArgs, strict)', () => {
  it('positionals, --key value, --key=value, short options and booleans', () => {
    expect(parseCommand(['case', '--out', 'o', '--members=3', '--verbose'], SPEC)).toEqual({
      positional: ['case'],
      flags: { out: 'o', members: '3', verbose: true },
    });
    expect(parseCommand(['-o', 'x', 'case'], SPEC)).toEqual({ positional: ['case'], flags: { out: 'x' } });
  });

  it('a misspelled option is an error naming it, the closest known option and the usage', () => {
    const e = usageError(['case', '--out', 'o', '--membres', '3']);
    expect(e.message).toMatch(/^unknown option --membres \(did you mean --members\?\)/);
    expect(e.message).toContain(SPEC.usage);
    expect(usageError(['--frobnicate']).message).toMatch(/^unknown option --frobnicate\n/);
  });

  it('a missing value, a value on a boolean and an extra positional are errors', () => {
    expect(usageError(['case', '--out']).message).toMatch(/^--out needs a value/);
    expect(usageError(['case', '--out', '--members', '2']).message).toMatch(/^--out needs a value/);
    expect(usageError(['case', '--verbose=yes']).message).toMatch(/^--verbose takes no value/);
    expect(usageError(['a', 'b', 'c']).message).toMatch(/^unexpected arguments 'b' 'c'/);
  });

  it('--help and -h win over everything else on the line', () => {
    expect(parseCommand(['--help'], SPEC)).toBe('help');
    expect(parseCommand(['case', '--membres', '3', '-h'], SPEC)).toBe('help');
  });

  it('values: integers, choices and slice ranges are checked', () => {
    expect(intFlag({ members: '5' }, 'members')).toBe(5);
    expect(intFlag({}, 'members', 7)).toBe(7);
    for (const bad of ['5.5', 'x', '', ' '])
      expect(() => intFlag({ members: bad }, 'members')).toThrow(/--members must be an integer/);
    expect(choiceFlag({ sampler: 'ddpm' }, 'sampler', ['ddim', 'ddpm'])).toBe('ddpm');
    expect(choiceFlag({}, 'sampler', ['ddim', 'ddpm'], 'ddim')).toBe('ddim');
    expect(() => choiceFlag({ device: 'gpu' }, 'device', ['auto', 'cpu', 'cuda'])).toThrow(
      '--device must be one of auto, cpu, cuda, got gpu',
    );
    expect(slicesFlag({ slices: '70:77' })).toEqual([70, 77]);
    expect(() => slicesFlag({ slices: '70-77' })).toThrow(/--slices must be a:b/);
  });
});
