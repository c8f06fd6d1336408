import { describe, expect, it } from 'vitest';
import { connectedComponent } from '../../core/src/components.ts';

/** A volume drawn by hand, slice by slice (rows are j, columns are i). */
function volume(slices: string[][]): { labels: Uint8Array; dims: [number, number, number] } {
  const nz = slices.length;
  const ny = slices[0].length;
  const nx = slices[0][0].length;
  const labels = new Uint8Array(nx * ny * nz);
  for (const [k, rows] of slices.entries())
    for (const [j, row] of rows.entries())
      for (const [i, c] of [...row].entries()) labels[i + nx * (j + ny * k)] = Number(c);
  return { labels, dims: [nx, ny, nz] };
}
const at = (dims: number[], i: number, j: number, k: number) => i + dims[0] * (j + dims[1] * k);

describe('connectedComponent (6-connected)', () => {
  const { labels, dims } = volume([
    ['22000', '20001', '00011', '00000'],
    ['20000', '00000', '00002', '02000'],
    ['00000', '00000', '00002', '00000'],
  ]);

  it('follows faces across slices and stops at edges/corners', () => {
    // (0,0,0),(1,0,0),(0,1,0) in slice 0 and (0,0,1) below: 4 voxels
    const c = connectedComponent(labels, dims, at(dims, 1, 0, 0), 2);
    expect([...c]).toEqual(
      [at(dims, 0, 0, 0), at(dims, 1, 0, 0), at(dims, 0, 1, 0), at(dims, 0, 0, 1)].sort((a, b) => a - b),
    );
    // (4,2,1) and (4,2,2) share a face; (4,2,0) above them holds 1, another value
    expect([...connectedComponent(labels, dims, at(dims, 4, 2, 2), 2)]).toEqual([
      at(dims, 4, 2, 1),
      at(dims, 4, 2, 2),
    ]);
    // (1,3,1) touches nothing
    expect(connectedComponent(labels, dims, at(dims, 1, 3, 1), 2).length).toBe(1);
    // value 1: (4,1,0),(3,2,0),(4,2,0) — (3,2) and (4,1) meet only through (4,2)
    expect(connectedComponent(labels, dims, at(dims, 3, 2, 0), 1).length).toBe(3);
  });

  it('is empty when the seed holds another value or lies outside', () => {
    expect(connectedComponent(labels, dims, at(dims, 2, 2, 2), 2).length).toBe(0);
    expect(connectedComponent(labels, dims, -1, 2).length).toBe(0);
    expect(connectedComponent(labels, dims, labels.length, 2).length).toBe(0);
    expect(() => connectedComponent(labels.subarray(1), dims, 0, 2)).toThrow(/voxels/);
  });

  it('does not wrap around row ends', () => {
    // (1,0) ends row 0 and (0,1) starts row 1: neighbours in memory, diagonal in space
    const v = volume([['01', '10']]);
    expect(connectedComponent(v.labels, v.dims, 1, 1).length).toBe(1);
  });
});
