import { QuorumError } from '../../../core/src/errors.ts';

/** Minimal --flag value parser: positional args, --key value, --key=value, boolean --flags. */
export function parseArgs(
  argv: string[],
  booleans: string[] = [],
): { positional: string[]; flags: Record<string, string | true> } {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const [k, inline] = a.slice(2).split(/=(.*)/s, 2);
    if (booleans.includes(k)) flags[k] = true;
    else if (inline !== undefined) flags[k] = inline;
    else if (i + 1 < argv.length) flags[k] = argv[++i];
    else throw new QuorumError('bad-argument', `--${k} needs a value`);
  }
  return { positional, flags };
}

export function intFlag(
  flags: Record<string, string | true>,
  name: string,
  fallback?: number,
): number | undefined {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n))
    throw new QuorumError('bad-argument', `--${name} must be an integer, got ${v}`);
  return n;
}

export function numFlag(flags: Record<string, string | true>, name: string): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n))
    throw new QuorumError('bad-argument', `--${name} must be a number, got ${v}`);
  return n;
}

/** --slices a:b, an inclusive axial slice range. */
export function slicesFlag(flags: Record<string, string | true>): [number, number] | undefined {
  const v = flags.slices;
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^(\d+):(\d+)$/.exec(v) : null;
  if (!m)
    throw new QuorumError('bad-argument', `--slices must be a:b (inclusive axial slice range), got ${v}`);
  return [Number(m[1]), Number(m[2])];
}
