import { QuorumError } from './errors.ts';

/**
 * `value` as one of `allowed`, or a QuorumError ('bad-argument') that names what was asked for
 * and every allowed value: "unknown sampler 'ddmi' (allowed: ddim, ddpm)".
 */
export function oneOf<K extends string>(what: string, allowed: readonly K[], value: unknown): K {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as K;
  throw new QuorumError(
    'bad-argument',
    `unknown ${what} '${String(value)}' (allowed: ${allowed.join(', ')})`,
  );
}

/**
 * Things registered by name, as cornerstone3D registers image loaders and tools: one file per
 * entry and one line in its registry. `entries` is a `Record` over a const list
 * (core/src/lists.ts), so the compiler refuses a name without an entry and an entry without a name.
 */
export class Registry<K extends string, T> {
  readonly names: readonly K[];
  constructor(
    readonly what: string,
    private readonly entries: Record<K, T>,
  ) {
    this.names = Object.keys(entries) as K[];
  }
  /** The entry for `name`; unknown names are refused with the allowed ones listed. */
  get(name: unknown): T {
    return this.entries[oneOf(this.what, this.names, name)];
  }
  has(name: unknown): name is K {
    return typeof name === 'string' && Object.hasOwn(this.entries, name);
  }
}
