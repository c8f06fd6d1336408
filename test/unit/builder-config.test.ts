import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, matchesGlob, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ModelManifest, networkFiles } from '../../core/src/manifest.ts';
import { REPO } from '../helpers/paths.ts';

/**
 * Static checks of the installer configuration (build/electron-builder.json): what the packaged
 * app needs is in it, native binaries stay outside the asar archive, nothing phones home.
 * Building the installers needs the Electron binaries of each platform; this test needs nothing.
 */
interface BuilderConfig {
  appId: string;
  files: string[];
  asar: boolean;
  asarUnpack: string[];
  publish: unknown;
  npmRebuild: boolean;
  directories: { output: string; buildResources: string };
  linux: { target: string[] };
  win: { target: string[] };
  mac: { target: string[] };
  [k: string]: unknown;
}

const CONFIG = join(REPO, 'build', 'electron-builder.json');
const config = JSON.parse(readFileSync(CONFIG, 'utf8')) as BuilderConfig;
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  main: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

// `path.matchesGlob` (Node >= 20.17) implements the same glob syntax (minimatch-style, ** = any
// depth) that electron-builder uses for files/asarUnpack.
const matches = (file: string, pattern: string) => matchesGlob(file, pattern);
const unpacked = (file: string) => config.asarUnpack.some((p) => matches(file, p));
/** In the app: matched by a pattern of `files` and by none of its negations. */
const packaged = (file: string) =>
  config.files.some((p) => !p.startsWith('!') && matches(file, p)) &&
  !config.files.some((p) => p.startsWith('!') && matches(file, p.slice(1)));

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

const tracked = execFileSync('git', ['ls-files'], { cwd: REPO, encoding: 'utf8' }).trim().split('\n');

describe('electron-builder configuration', () => {
  it("is valid for electron-builder's own schema", async () => {
    const require = createRequire(join(REPO, 'package.json'));
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js');
    const { DebugLogger } = require('builder-util');
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
    // and the validator does reject a wrong key (the check above is not vacuous)
    await expect(
      validateConfiguration({ ...config, telemetry: true }, new DebugLogger(false)),
    ).rejects.toThrow(/unknown property 'telemetry'/);
  });

  it('the glob matcher behaves as assumed', () => {
    expect(matches('node_modules/a/b/c/x.node', '**/*.node')).toBe(true);
    expect(matches('node_modules/a/libonnxruntime.so.1', '**/*.so*')).toBe(true);
    expect(matches('node_modules/a/index.js', '**/*.node')).toBe(false);
    expect(matches('models/quorum-wt-2ch/model.onnx', 'models/**')).toBe(true);
    expect(matches('models/train/train.py', 'models/*/model.onnx')).toBe(false);
  });

  it('every native onnxruntime-node binary (all platforms) is packaged and unpacked from the asar', () => {
    const bin = join(REPO, 'node_modules', 'onnxruntime-node', 'bin');
    const natives = walk(bin)
      .map((f) => relative(REPO, f).split('\\').join('/'))
      .filter((f) => /\.(node|dylib|dll)$|\.so(\.|$)/.test(f));
    // linux x64 + arm64, darwin arm64, win32 x64 + arm64: binding + runtime library each
    expect(natives.length).toBeGreaterThanOrEqual(8);
    for (const platform of ['linux', 'darwin', 'win32'])
      expect(natives.some((f) => f.includes(`/${platform}/`))).toBe(true);
    const notUnpacked = natives.filter((f) => !unpacked(f));
    expect(notUnpacked).toEqual([]);
    expect(natives.filter((f) => !packaged(f))).toEqual([]);
  });

  it('bundles every shipped model (ONNX + manifest) unpacked, the sample case, the app code; not the training code', () => {
    const manifests = tracked.filter((f) => /^models\/[^/]+\/manifest\.json$/.test(f));
    expect(manifests.length).toBeGreaterThan(0);
    for (const m of manifests) {
      // every network of a deep ensemble, not only the first (core/src/manifest.ts networkFiles)
      const files = networkFiles(JSON.parse(readFileSync(join(REPO, m), 'utf8')) as ModelManifest);
      const onnx = files.map((f) => `${m.slice(0, m.lastIndexOf('/'))}/${f}`);
      for (const f of [m, ...onnx]) {
        expect(packaged(f), f).toBe(true);
        expect(unpacked(f), f).toBe(true);
      }
    }
    const needed = tracked.filter(
      (f) => /^(core\/src|workers\/src|build\/sample-case)\//.test(f) || /^electron\/[^/]+\.ts$/.test(f),
    );
    expect(needed.some((f) => f.startsWith('build/sample-case/') && f.endsWith('.nii.gz'))).toBe(true);
    expect(needed.filter((f) => !packaged(f))).toEqual([]);
    for (const f of [
      'package.json',
      pkg.main,
      'electron/dist/preload.cjs',
      'renderer/dist/index.html',
      'renderer/dist/assets/index.js',
    ])
      expect(packaged(f), f).toBe(true);
    for (const f of tracked.filter((x) => x.startsWith('models/train/'))) expect(packaged(f), f).toBe(false);
    // electron-builder's default buildResources folder is `build`, which it leaves out of the app:
    // it must point elsewhere, or the sample case would silently go missing.
    expect(config.directories.buildResources).not.toBe('build');
    expect(config.directories.output.startsWith('dist/')).toBe(true); // git-ignored
  });

  it('no auto-update, no publishing, no native rebuild (which would need the network)', () => {
    expect(config.publish).toBeNull();
    for (const platform of ['linux', 'win', 'mac', 'nsis', 'deb', 'dmg'])
      expect((config[platform] as Record<string, unknown> | undefined)?.publish ?? null).toBeNull();
    expect(config.npmRebuild).toBe(false);
    expect(JSON.stringify(config)).not.toMatch(/https?:\/\//);
    expect(Object.keys(pkg.dependencies)).not.toContain('electron-updater');
    expect(pkg.scripts.dist).toMatch(
      /electron-builder --config build\/electron-builder\.json --publish never/,
    );
  });

  it('sets the Electron fuses: no RunAsNode, NODE_OPTIONS or --inspect; encrypted cookies; app only from an integrity-checked asar', () => {
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
    // the key is the one this electron-builder reads (app-builder-lib's FuseOptionsV1)
    const require = createRequire(join(REPO, 'package.json'));
    const scheme = require('app-builder-lib/scheme.json') as {
      definitions: Record<string, { properties: Record<string, unknown> }>;
    };
    const fuseKeys = Object.keys(scheme.definitions.FuseOptionsV1.properties);
    for (const k of Object.keys(config.electronFuses as object)) expect(fuseKeys).toContain(k);
    expect(JSON.stringify(scheme)).toContain(
      '"electronFuses":{"anyOf":[{"$ref":"#/definitions/FuseOptionsV1"}',
    );
    // the onlyLoadAppFromAsar fuse needs the app in an asar
    expect(config.asar).toBe(true);
    // the engine's utilityProcess bootstrap ships (no RunAsNode needed to start it)
    expect(packaged('electron/dist/engine.js')).toBe(true);
  });

  it('targets AppImage + deb, NSIS and dmg', () => {
    expect(config.appId).toMatch(/^[a-z]+(\.[a-z0-9-]+)+$/);
    expect(config.linux.target).toEqual(expect.arrayContaining(['AppImage', 'deb']));
    expect(config.win.target).toContain('nsis');
    expect(config.mac.target).toContain('dmg');
  });

  it('every package the app imports at run time is a production dependency (dev ones are left out of the app)', () => {
    const sources = tracked.filter(
      (f) =>
        (/^(core\/src|workers\/src)\/.*\.ts$/.test(f) || /^electron\/[^/]+\.ts$/.test(f)) &&
        f !== 'electron/bundle.ts', // build-time only (esbuild)
    );
    const used = new Set<string>(['tsx']); // electron/dist/main.js registers tsx before anything else
    for (const f of sources) {
      const text = readFileSync(join(REPO, f), 'utf8');
      for (const m of text.matchAll(/(?:from|import\()\s*'([^'.][^']*)'/g)) {
        const spec = m[1];
        if (spec.startsWith('node:')) continue;
        used.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
      }
    }
    used.delete('electron'); // provided by the packaged runtime itself
    const missing = [...used].filter((p) => !(p in pkg.dependencies));
    expect(missing).toEqual([]);
  });
});
