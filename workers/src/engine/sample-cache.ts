/**
 * Members' final x0 of model slices a case has already had sampled, by everything that decides
 * them (run settings, slice, clicks): a slice's members depend only on those (its RNG is seeded
 * by (seed, k) and the network's output is batch-invariant), so a slice asked for again, by a
 * prompt run's planning and final pass or by a later run with the same settings, is not sampled
 * again. Bounded: the least recently used go first.
 *
 * What it saves most: a click on a file not stored in axial slices, where every model slice must
 * be proposed again (propose.ts) though the clicks change only a few of them.
 */
export const SAMPLE_CACHE_BYTES = 96 * 2 ** 20;

export class SampleCache {
  private readonly map = new Map<string, Float32Array>();
  private bytes = 0;

  constructor(private readonly maxBytes = SAMPLE_CACHE_BYTES) {}

  get(key: string): Float32Array | undefined {
    const x = this.map.get(key);
    if (x) {
      this.map.delete(key);
      this.map.set(key, x);
    }
    return x;
  }

  set(key: string, x: Float32Array): void {
    if (this.map.has(key)) return;
    this.map.set(key, x);
    this.bytes += x.byteLength;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.byteLength;
    }
  }
}
