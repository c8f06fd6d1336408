import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../workers/src/host/service.ts';
import { type Harness, startHarness } from './harness.ts';

/**
 * The harness and the host's browser-side guarantees, with a tiny stand-in page (the real
 * renderer is tested by E2's files): the CSP stops inline script and external requests, and the
 * API socket opens from the page's own origin and answers a real call.
 */
describe('browser harness against the host', () => {
  let h: Harness;
  const dist = scratchDir('quorum-harness-dist');

  beforeAll(async () => {
    mkdirSync(join(dist, 'assets'), { recursive: true });
    writeFileSync(
      join(dist, 'index.html'),
      `<!doctype html><meta charset="utf-8"><title>probe</title>
<script>window.inlineRan = true</script><script type="module" src="/assets/probe.js"></script><body>probe</body>`,
    );
    // A hand-made call frame: u32 header length | JSON | pad; the reply's header is read back.
    writeFileSync(
      join(dist, 'assets', 'probe.js'),
      `window.probe = (async () => {
  const out = {};
  try { await fetch('http://example.com/x'); out.external = 'reached'; } catch { out.external = 'blocked'; }
  const ws = new WebSocket('ws://' + location.host + '/api');
  ws.binaryType = 'arraybuffer';
  await new Promise((r, j) => { ws.onopen = r; ws.onerror = j; });
  const head = new TextEncoder().encode(JSON.stringify({ kind: 'call', id: 1, method: 'getModelInfo', args: [] }));
  const frame = new Uint8Array((4 + head.length + 7) & ~7);
  new DataView(frame.buffer).setUint32(0, head.length, true);
  frame.set(head, 4);
  ws.send(frame);
  const reply = await new Promise((r) => { ws.onmessage = (e) => r(new Uint8Array(e.data)); });
  const n = new DataView(reply.buffer).getUint32(0, true);
  out.reply = JSON.parse(new TextDecoder().decode(reply.subarray(4, 4 + n)));
  return out;
})();`,
    );
    h = await startHarness({ rendererDir: dist, build: false });
  });
  afterAll(async () => {
    await h?.cleanup();
    rmSync(dist, { recursive: true, force: true });
  });

  it('loads the page in Chromium; CSP blocks inline script and external fetches; API answers', async () => {
    await h.page.goto(h.url);
    const res = (await h.page.evaluate('window.probe')) as {
      external: string;
      reply: { kind: string; id: number; value: { channels: string[]; available: boolean } };
    };
    expect(await h.page.evaluate('window.inlineRan === true')).toBe(false);
    expect(res.external).toBe('blocked');
    expect(res.reply.kind).toBe('result');
    expect(res.reply.id).toBe(1);
    expect(res.reply.value.channels).toEqual(['flair', 't1c']);
    expect(h.pageErrors.join('\n')).toMatch(/Content Security Policy/);
    const png = await h.screenshot('host-harness-probe');
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });

  it('has WebGL2 in the headless Chromium (software rendering)', async () => {
    const gl = await h.page.evaluate(() => !!document.createElement('canvas').getContext('webgl2'));
    expect(gl).toBe(true);
  });
});
