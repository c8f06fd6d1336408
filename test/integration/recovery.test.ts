import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { JournalRecord, ProposalEvent, QuorumApi } from '../../core/src/api.ts';
import { Rng } from '../../core/src/rng.ts';
import { connectApi } from '../helpers/dataset.ts';
import { children, spawnHost } from '../helpers/host-process.ts';

/**
 * Crash recovery with real processes: the browser-mode host as it is started in production
 * (workers/src/host/main.ts), a real WebSocket client, kill -9.
 */
const state = mkdtempSync(join(tmpdir(), 'quorum-recovery-'));
const hosts: ChildProcess[] = [];
afterAll(() => {
  for (const h of hosts) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
  rmSync(state, { recursive: true, force: true });
});

interface Host {
  proc: ChildProcess;
  api: QuorumApi;
  ws: WebSocket;
}

async function startHost(): Promise<Host> {
  const h = await spawnHost(state);
  const proc = h.proc;
  hosts.push(proc);
  const { api, ws } = await connectApi(h);
  return { proc, api, ws };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // a zombie still answers kill 0; it is gone for our purpose
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

async function kill9(h: Host): Promise<void> {
  const exited = new Promise<NodeJS.Signals | null>((r) => h.proc.on('exit', (_c, s) => r(s)));
  h.proc.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

/**
 * A brush stroke as the journal carries it: the voxel indices it touched and the value painted
 * (1 = paint, 0 = erase), indices as raw little-endian u32 bytes.
 */
function stroke(dims: number[], rng: Rng, k: number, value: 0 | 1): JournalRecord {
  const [nx, ny] = dims;
  const cx = 60 + Math.floor(rng.next() * (nx - 120));
  const cy = 60 + Math.floor(rng.next() * (ny - 120));
  const r = 3 + Math.floor(rng.next() * 8);
  const idx: number[] = [];
  // a short drag: discs along a line
  for (let t = 0; t < 6; t++) {
    const x0 = cx + t * 2;
    const y0 = cy + t;
    for (let y = y0 - r; y <= y0 + r; y++)
      for (let x = x0 - r; x <= x0 + r; x++)
        if ((x - x0) ** 2 + (y - y0) ** 2 <= r * r) idx.push(x + nx * (y + ny * k));
  }
  const unique = Uint32Array.from(new Set(idx));
  return {
    op: { type: 'brush', slice: k, value, radius: r, count: unique.length },
    bytes: new Uint8Array(unique.buffer),
  };
}

function apply(labelmap: Uint8Array, rec: JournalRecord) {
  const b = rec.bytes!;
  const idx = new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  for (const i of idx) labelmap[i] = rec.op.value as number;
}

describe('crash recovery (real host process, kill -9)', () => {
  it('every acknowledged brush stroke survives kill -9 of the host and replays to the same labelmap', async () => {
    let h = await startHost();
    const info = await h.api.openSample();
    const dims = info.geometry.dims;
    const n = dims[0] * dims[1] * dims[2];
    const drawn = new Uint8Array(n);
    const rng = new Rng(42);
    const records: JournalRecord[] = [];
    const t0 = performance.now();
    // 60 strokes on 5 slices, some erasing, each appended as the renderer would after a stroke
    for (let s = 0; s < 60; s++) {
      const rec = stroke(dims, rng, 70 + (s % 5), s % 4 === 3 ? 0 : 1);
      apply(drawn, rec);
      records.push(rec);
      await h.api.appendJournal(info.id, [rec]);
    }
    const perStroke = (performance.now() - t0) / 60;
    console.log(`appendJournal round trip ${perStroke.toFixed(1)} ms per stroke (fsync included)`);
    expect(perStroke).toBeLessThan(1000); // on disk well within a second of the stroke
    let painted = 0;
    for (let i = 0; i < n; i++) painted += drawn[i];
    expect(painted).toBeGreaterThan(2000);

    // the engine was warmed at start-up: a child process of the host
    const engine = children(h.proc.pid!).find((c) => /engine\/main\.ts/.test(c.cmd));
    expect(engine).toBeDefined();
    // what survives is one append-only journal file in the state folder
    const files = readdirSync(join(state, 'journal'));
    expect(files.length).toBe(1);
    expect(statSync(join(state, 'journal', files[0])).size).toBeGreaterThan(0);
    await kill9(h);
    // the orphaned engine notices its host is gone and exits
    expect(await waitFor(() => !alive(engine!.pid), 5000)).toBe(true);

    h = await startHost();
    const again = await h.api.openSample();
    expect(again.id).not.toBe(info.id); // a new session, same case
    const back = (await h.api.readJournal(again.id)).records;
    expect(back.length).toBe(records.length);
    const replayed = new Uint8Array(n);
    for (const [i, r] of back.entries()) {
      expect(r.op).toEqual(records[i].op);
      expect(Buffer.from(r.bytes!).equals(Buffer.from(records[i].bytes!))).toBe(true);
      apply(replayed, r);
    }
    let diff = 0;
    for (let i = 0; i < n; i++) if (replayed[i] !== drawn[i]) diff++;
    expect(diff).toBe(0);
    h.ws.close();
    await kill9(h);
  });

  it('kill -9 of the engine mid-proposal: that run errors, the next proposal succeeds', async () => {
    const h = await startHost();
    const info = await h.api.openSample();
    // wait for the warmed engine
    expect(
      await waitFor(() => children(h.proc.pid!).some((c) => /engine\/main\.ts/.test(c.cmd)), 20000),
    ).toBe(true);
    const killed: number[] = [];
    const first = await new Promise<ProposalEvent>((ok) => {
      void h.api.propose({ caseId: info.id, slices: [70, 73], members: 2, steps: 20, seed: 1 }, (e) => {
        if (e.type === 'progress' && !killed.length) {
          const engine = children(h.proc.pid!).find((c) => /engine\/main\.ts/.test(c.cmd))!;
          killed.push(engine.pid);
          process.kill(engine.pid, 'SIGKILL');
        }
        if (e.type === 'done' || e.type === 'error' || e.type === 'cancelled') ok(e);
      });
    });
    expect(killed.length).toBe(1);
    expect(first).toMatchObject({ type: 'error', code: 'worker-crashed' });
    expect((first as { message: string }).message).toMatch(/SIGKILL/);

    const slices: number[] = [];
    const second = await new Promise<ProposalEvent>((ok) => {
      void h.api.propose({ caseId: info.id, slices: [75, 75], members: 2, steps: 2, seed: 1 }, (e) => {
        if (e.type === 'slice') slices.push(e.result.k);
        if (e.type === 'done' || e.type === 'error' || e.type === 'cancelled') ok(e);
      });
    });
    expect(second).toMatchObject({ type: 'done', slices: [75] });
    expect(slices).toEqual([75]);
    // a fresh engine process, not the killed one
    const now = children(h.proc.pid!).filter((c) => /engine\/main\.ts/.test(c.cmd));
    expect(now.length).toBe(1);
    expect(now[0].pid).not.toBe(killed[0]);
    h.ws.close();
    await kill9(h);
  });
});
