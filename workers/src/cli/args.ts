import { parseArgs as nodeParseArgs } from 'node:util';
import { QuorumError } from '../../../core/src/errors.ts';

/**
 * Command-line options, parsed by node:util's parseArgs in strict mode: an unknown or misspelled
 * option (`--membres 3`) is an error, never silently ignored with the defaults used instead.
 */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
}

export interface CommandSpec {
  /** Printed by --help (stdout, exit 0) and after every usage error (stderr, exit 2). */
  usage: string;
  options: Record<string, OptionSpec>;
  /** How many positional arguments the command takes at most. */
  maxPositionals: number;
}

export type Flags = Record<string, string | boolean | undefined>;

/** A malformed command line (unknown option, missing value, extra argument): exit code 2. */
export class UsageError extends QuorumError {
  constructor(message: string, usage: string) {
    super('bad-argument', `${message}\n\n${usage}`);
    this.name = 'UsageError';
  }
}

/** Levenshtein distance, for "did you mean --members?" on a misspelled option. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function suggestion(unknown: string, known: string[]): string {
  const name = unknown.replace(/^-+/, '').split('=')[0];
  const best = known
    .map((k) => ({ k, d: editDistance(name, k) }))
    .sort((x, y) => x.d - y.d)
    .find((x) => x.d <= Math.max(1, Math.floor(x.k.length / 3)));
  return best ? ` (did you mean --${best.k}?)` : '';
}

/**
 * Parses `argv` for one command. Returns 'help' when --help/-h is given (anywhere, even next to
 * other mistakes: asking for help always gets it), otherwise the positionals and option values.
 */
export function parseCommand(
  argv: string[],
  spec: CommandSpec,
): 'help' | { positional: string[]; flags: Flags } {
  const options = { ...spec.options, help: { type: 'boolean' as const, short: 'h' } };
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  let parsed: ReturnType<typeof nodeParseArgs>;
  try {
    parsed = nodeParseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const opt = /'([^']+)'/.exec(err.message)?.[1] ?? '?';
      throw new UsageError(`unknown option ${opt}${suggestion(opt, Object.keys(spec.options))}`, spec.usage);
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      // "Option '-o, --out <value>' argument missing": name the long form
      const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? '';
      const opt = /--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(/[ ,]/)[0];
      const what = /does not take/.test(err.message)
        ? `${opt} takes no value`
        : /ambiguous/.test(err.message)
          ? `${opt} needs a value (write ${opt}=<value> for one starting with '-')`
          : `${opt} needs a value`;
      throw new UsageError(what, spec.usage);
    }
    throw new UsageError(err.message, spec.usage);
  }
  const positional = parsed.positionals;
  if (positional.length > spec.maxPositionals)
    throw new UsageError(
      `unexpected argument${positional.length - spec.maxPositionals > 1 ? 's' : ''} ${positional
        .slice(spec.maxPositionals)
        .map((p) => `'${p}'`)
        .join(' ')}`,
      spec.usage,
    );
  return { positional, flags: parsed.values as Flags };
}

export function intFlag(flags: Flags, name: string, fallback?: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isInteger(n))
    throw new QuorumError('bad-argument', `--${name} must be an integer, got ${v}`);
  return n;
}

export function numFlag(flags: Flags, name: string): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n))
    throw new QuorumError('bad-argument', `--${name} must be a number, got ${v}`);
  return n;
}

/** --slices a:b, an inclusive axial slice range. */
export function slicesFlag(flags: Flags): [number, number] | undefined {
  const v = flags.slices;
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^(\d+):(\d+)$/.exec(v) : null;
  if (!m)
    throw new QuorumError('bad-argument', `--slices must be a:b (inclusive axial slice range), got ${v}`);
  return [Number(m[1]), Number(m[2])];
}

/** The value of a string option, or the fallback. */
export function strFlag(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** One of a fixed set of values (--sampler, --device). */
export function choiceFlag<T extends string>(
  flags: Flags,
  name: string,
  choices: readonly T[],
  fallback: T,
): T;
export function choiceFlag<T extends string>(
  flags: Flags,
  name: string,
  choices: readonly T[],
): T | undefined;
export function choiceFlag<T extends string>(
  flags: Flags,
  name: string,
  choices: readonly T[],
  fallback?: T,
): T | undefined {
  const v = flags[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v))
    throw new QuorumError('bad-argument', `--${name} must be one of ${choices.join(', ')}, got ${v}`);
  return v as T;
}

/** A comma-separated list of values from a fixed set (--export nifti-probability,nifti-members). */
export function listFlag<T extends string>(
  flags: Flags,
  name: string,
  choices: readonly T[],
): T[] | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const items =
    typeof v === 'string'
      ? v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
      : [];
  if (!items.length)
    throw new QuorumError('bad-argument', `--${name} needs one or more of ${choices.join(', ')}`);
  for (const x of items) choiceFlag({ [name]: x }, name, choices);
  return [...new Set(items)] as T[];
}
