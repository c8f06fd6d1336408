/**
 * Seeded RNG for reproducible ensembles: xoshiro128** seeded through splitmix32, gaussians by the
 * ziggurat method. Same seed, same members, on every platform.
 */

/**
 * The ziggurat of Marsaglia & Tsang (2000, J. Stat. Softw. 5(8), "RNOR"): 128 layers of equal
 * area under the normal density. A draw takes one 32-bit word, its low 7 bits choose the layer
 * and the other 25 give a signed value (kept apart, as Doornik 2005 advises, so that the layer
 * and the value are independent); 98.8% of draws end at one comparison. The engine draws a few
 * million per volume (every member's noise at every step), where Box-Muller's log, sqrt, sin and
 * cos were ~5% of a proposal's time.
 */
const ZIG_R = 3.442619855899;
const ZIG_V = 9.91256303526217e-3;
const ZIG_SCALE = 2 ** 24;
const zigK = new Float64Array(128);
const zigW = new Float64Array(128);
const zigF = new Float64Array(128);
{
  let d = ZIG_R;
  let t = d;
  const q = ZIG_V / Math.exp(-0.5 * d * d);
  zigK[0] = (d / q) * ZIG_SCALE;
  zigK[1] = 0;
  zigW[0] = q / ZIG_SCALE;
  zigW[127] = d / ZIG_SCALE;
  zigF[0] = 1;
  zigF[127] = Math.exp(-0.5 * d * d);
  for (let i = 126; i >= 1; i--) {
    d = Math.sqrt(-2 * Math.log(ZIG_V / d + Math.exp(-0.5 * d * d)));
    zigK[i + 1] = (d / t) * ZIG_SCALE;
    t = d;
    zigF[i] = Math.exp(-0.5 * d * d);
    zigW[i] = d / ZIG_SCALE;
  }
}
export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    let z = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b) >>> 0;
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (t ^ (t >>> 16)) >>> 0;
    }
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const r = Math.imul(((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ((s[3] << 11) | (s[3] >>> 21)) >>> 0;
    return r;
  }

  /** Standard normal (the ziggurat above). */
  gaussian(): number {
    for (;;) {
      const u = this.nextUint32();
      const i = u & 127;
      const h = (u | 0) >> 7; // signed 25 bits: the value, apart from the layer's 7 bits
      const x = h * zigW[i];
      if (Math.abs(h) < zigK[i]) return x;
      if (i === 0) {
        // the base layer's tail beyond R (Marsaglia 1964)
        let a: number;
        let b: number;
        do {
          a = -Math.log(1 - this.next()) / ZIG_R;
          b = -Math.log(1 - this.next());
        } while (b + b < a * a);
        return h > 0 ? ZIG_R + a : -ZIG_R - a;
      }
      // the wedge between the layer's rectangle and the density
      if (zigF[i] + this.next() * (zigF[i - 1] - zigF[i]) < Math.exp(-0.5 * x * x)) return x;
    }
  }

  fillGaussian(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.gaussian();
    return out;
  }
}
