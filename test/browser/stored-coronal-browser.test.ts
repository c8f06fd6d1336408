/**
 * A case not stored in axial slices (a 3-D FLAIR often is not): the real TCGA_DU_A5TY written
 * with its voxel axes (S-I, L-R, A-P reversed), every voxel at its world position, so that its
 * slices k are coronal. Each view must count and step through the voxel axis along its own normal
 * (the axial view through the 36 axial planes, not through voxel axis 2), and "this slice" for a
 * proposal is the file's slice k, shown in the view that steps through voxel axis 2 (here the
 * coronal one).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVolume, writeNiftiFile } from '../../core/src/node/load.ts';
import { scratchDir } from '../../workers/src/host/service.ts';
import { CORONAL, reorder } from '../helpers/reorder.ts';
import { DATA, type Harness, openApp, startHarness } from './harness.ts';

const SOURCE = join(DATA, 'tcga-lgg', 'TCGA_DU_A5TY_19970709');
/** The file slice k (new voxel axis 2 = 255 - old j) crossing the most reference lesion voxels. */
let LESION_K = 0;

describe('a case stored in coronal slices in the viewer', () => {
  const state = scratchDir('quorum-coronal-browser');
  const dir = join(state, 'A5TY-coronal');
  let h: Harness;
  const text = (id: string) => h.page.getByTestId(id).textContent();

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    for (const f of ['flair.nii.gz', 't1c.nii.gz']) {
      const v = await loadVolume(join(SOURCE, f));
      writeNiftiFile(join(dir, f), reorder(v, ...CORONAL).volume);
    }
    const seg = await loadVolume(join(SOURCE, 'seg.nii.gz'));
    const perJ = new Array<number>(256).fill(0);
    for (let n = 0; n < seg.data.length; n++) if (seg.data[n] > 0) perJ[Math.floor(n / 256) % 256]++;
    LESION_K = 255 - perJ.indexOf(Math.max(...perJ));
    h = await startHarness({ stateDir: state, initialCase: dir });
    await openApp(h.page, h.url);
  }, 180_000);
  afterAll(async () => {
    await h?.cleanup();
    rmSync(state, { recursive: true, force: true });
  });

  it('each view counts and steps through the voxel axis along its normal', async () => {
    expect(await h.page.evaluate('window.__quorumTest.dims()')).toEqual([36, 256, 256]);
    expect(await text('slice-axial')).toMatch(/ \/ 36$/);
    expect(await text('slice-sagittal')).toMatch(/ \/ 256$/);
    const before = { axial: await text('slice-axial'), sagittal: await text('slice-sagittal') };
    const r = (await h.page.evaluate("window.__quorumTest.rect('axial')")) as { x: number; y: number };
    await h.page.mouse.click(r.x + 10, r.y + 30, { button: 'middle' });
    await h.page.keyboard.press('ArrowUp');
    await h.page.keyboard.press('ArrowUp');
    const start = Number(before.axial!.split(' ')[0]);
    await expect
      .poll(async () => Math.abs(Number((await text('slice-axial'))!.split(' ')[0]) - start))
      .toBe(2);
    expect(await text('slice-sagittal')).toBe(before.sagittal);
    await h.page.evaluate(`window.__quorumTest.goToSlice('coronal', ${LESION_K})`);
    await expect.poll(() => text('slice-coronal')).toBe(`${LESION_K + 1} / 256`);
  });

  it('proposes "this slice" on the file slice k the coronal view shows', async () => {
    await h.page.getByTestId('members').fill('2');
    await h.page.getByTestId('steps').fill('2');
    await h.page.getByTestId('propose-slice').click();
    await h.page
      .getByTestId('run-message')
      .filter({ hasText: /^Done: 1 slice/ })
      .waitFor({ timeout: 180_000 });
    const nz = (await h.page.evaluate('window.__quorumTest.nonZero()')) as number[];
    const plane = 36 * 256;
    const ks = new Set<number>();
    for (let n = 0; n < nz.length; n += 2) ks.add(Math.floor(nz[n] / plane));
    expect(nz.length / 2).toBeGreaterThan(50);
    expect([...ks]).toEqual([LESION_K]);

    // the Members panel draws that slice as the coronal view does: patient left to the right
    // (voxel axis j across), superior at the top (voxel axis i = S-I, upwards)
    const members = (await h.page.evaluate(`[...document.querySelectorAll('.members canvas')].map((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const on = [];
      for (let p = 0; p < c.width * c.height; p++) if (d[4 * p] === 255) on.push(p);
      return { width: c.width, height: c.height, on };
    })`)) as { width: number; height: number; on: number[] }[];
    expect(members.length).toBe(2);
    for (const m of members) expect([m.width, m.height]).toEqual([256, 36]);
    // either member's pixels, as drawn
    const on = new Set(members.flatMap((m) => m.on));
    let hit = 0;
    for (let n = 0; n < nz.length; n += 2) {
      const i = nz[n] % 36;
      const j = Math.floor(nz[n] / 36) % 256;
      if (on.has(j + (35 - i) * 256)) hit++;
    }
    // the proposal is the 2 members' mean > 0.5, so where it is on at least one member is on: drawn
    // in the coronal view's orientation, the members' pixels cover every proposed voxel (a panel
    // drawn upside down or transposed would miss most of them)
    expect(hit / (nz.length / 2)).toBeGreaterThan(0.99);
  });
});
