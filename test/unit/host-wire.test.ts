import { describe, expect, it } from 'vitest';
import type { RpcMessage as WireMessage } from '../../core/src/rpc/channel.ts';
import { decodeFrame, encodeFrame } from '../../core/src/rpc/frame.ts';

describe('API wire frames', () => {
  it('round-trips typed arrays as raw bytes, not JSON numbers', () => {
    const mean = new Float32Array([0, 0.25, 0.5, 1, Number.NaN]);
    const mask = new Uint8Array([0, 1, 1, 0, 1, 1, 1]); // odd length: padding between blobs
    const sub = new Int16Array([7, -3, 32767, -32768]).subarray(1, 3); // view with an offset
    const msg: WireMessage = {
      kind: 'result',
      id: 42,
      value: { mean, mask, sub, text: 'ok', nested: [{ a: 1 }] },
    };
    const frame = encodeFrame(msg);
    const headLen = new DataView(frame.buffer).getUint32(0, true);
    const header = new TextDecoder().decode(frame.subarray(4, 4 + headLen));
    expect(header).not.toContain('0.25'); // voxels stay out of the JSON
    const back = decodeFrame(frame) as Extract<WireMessage, { kind: 'result' }>;
    const v = back.value as {
      mean: Float32Array;
      mask: Uint8Array;
      sub: Int16Array;
      text: string;
      nested: unknown;
    };
    expect(v.mean).toBeInstanceOf(Float32Array);
    expect(Array.from(v.mean.subarray(0, 4))).toEqual([0, 0.25, 0.5, 1]);
    expect(Number.isNaN(v.mean[4])).toBe(true);
    expect(Array.from(v.mask)).toEqual(Array.from(mask));
    expect(Array.from(v.sub)).toEqual([-3, 32767]);
    expect(v.text).toBe('ok');
    expect(v.nested).toEqual([{ a: 1 }]);
  });

  it('decodes a frame that sits at an odd offset in a larger buffer (copying when misaligned)', () => {
    const f = encodeFrame({ kind: 'result', id: 3, value: new Float32Array([1.5, -2, 3.25]) });
    const big = new Uint8Array(f.byteLength + 1);
    big.set(f, 1);
    const v = (decodeFrame(big.subarray(1)) as { value: Float32Array }).value;
    expect(Array.from(v)).toEqual([1.5, -2, 3.25]);
    const aligned = (decodeFrame(f) as { value: Float32Array }).value;
    expect(aligned.buffer).toBe(f.buffer); // zero copy when aligned
  });

  it('refuses truncated frames with an error instead of garbage', () => {
    const frame = encodeFrame({ kind: 'result', id: 1, value: new Float32Array(100) });
    expect(() => decodeFrame(frame.subarray(0, 2))).toThrow(/shorter/);
    expect(() => decodeFrame(frame.subarray(0, frame.byteLength - 16))).toThrow(/truncated/);
  });

  it('an oversized $bin index in a 100-byte frame is refused without allocating', () => {
    const frameOf = (header: string) => {
      const head = new TextEncoder().encode(header);
      const f = new Uint8Array(100);
      new DataView(f.buffer).setUint32(0, head.length, true);
      f.set(head, 4);
      return f;
    };
    const hostile = [
      '{"v":{"$bin":1000000000,"t":"Uint8Array","n":8}}',
      '{"v":{"$bin":-1,"t":"Uint8Array","n":8}}',
      '{"v":{"$bin":0.5,"t":"Uint8Array","n":8}}',
      '{"v":{"$bin":"0","t":"Uint8Array","n":8}}',
      '{"v":{"$bin":0,"t":"Uint8Array","n":1000000000}}',
      '{"v":{"$bin":0,"t":"Uint8Array","n":-8}}',
      '{"v":{"$bin":0,"t":"BigInt64Array","n":8}}',
      '{"v":{"$bin":0,"t":"Float32Array","n":3}}',
      '{"a":{"$bin":0,"t":"Uint8Array","n":8},"b":{"$bin":0,"t":"Uint8Array","n":8}}',
      '{"v":',
    ];
    const before = process.memoryUsage().arrayBuffers;
    const t = performance.now();
    for (const h of hostile) {
      expect(h.length + 4, h).toBeLessThan(100);
      expect(() => decodeFrame(frameOf(h)), h).toThrow(expect.objectContaining({ code: 'corrupt' }));
    }
    expect(performance.now() - t).toBeLessThan(200);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2 ** 20);
    // A well-formed frame of the same size still decodes; one over the cap does not.
    const ok = decodeFrame<{ v: Uint8Array }>(frameOf('{"v":{"$bin":0,"t":"Uint8Array","n":8}}'));
    expect(ok.v).toHaveLength(8);
    expect(() => decodeFrame(frameOf('{}'), 64)).toThrow(/over the 64-byte limit/);
  });
});
