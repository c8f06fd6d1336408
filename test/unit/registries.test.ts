import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createSampler,
  DdimSampler,
  DdpmSampler,
  SAMPLER_REGISTRY,
} from '../../core/src/diffusion/samplers.ts';
import { Schedule } from '../../core/src/diffusion/schedule.ts';
import { QuorumError } from '../../core/src/errors.ts';
import { EXECUTION_PROVIDERS, EXPORT_FORMATS, SAMPLERS } from '../../core/src/lists.ts';
import { FALLBACK_SAMPLING, resolveSampling } from '../../core/src/sampling.ts';
import { autoProviders, PROVIDERS } from '../../workers/src/engine/providers.ts';
import { readManifest } from '../../workers/src/engine/session.ts';
import { EXPORT_WRITERS, exportFormatInfo } from '../../workers/src/exports/index.ts';
import { REPO } from '../helpers/paths.ts';

const manifest = readManifest(join(REPO, 'models', 'quorum-wt-v2'));
const schedule = Schedule.fromSpec(manifest.schedule);

function refusal(f: () => unknown): QuorumError {
  try {
    f();
  } catch (e) {
    return e as QuorumError;
  }
  throw new Error('not refused');
}

describe('registries', () => {
  it('hold exactly the names of their const lists, in order', () => {
    expect(SAMPLER_REGISTRY.names).toEqual(SAMPLERS);
    expect(PROVIDERS.names).toEqual(EXECUTION_PROVIDERS);
    expect(EXPORT_WRITERS.names).toEqual(EXPORT_FORMATS);
    expect(exportFormatInfo().map((f) => f.format)).toEqual(EXPORT_FORMATS);
    for (const f of EXPORT_FORMATS) expect(EXPORT_WRITERS.get(f).format).toBe(f);
  });

  it('refuse unknown names with a clear message naming the allowed values', () => {
    const cases: [() => unknown, string][] = [
      [() => SAMPLER_REGISTRY.get('ddmi'), "unknown sampler 'ddmi' (allowed: ddim, ddpm)"],
      [() => PROVIDERS.get('gpu'), "unknown device 'gpu' (allowed: cpu, webgpu, cuda, dml, coreml)"],
      [
        () => EXPORT_WRITERS.get('nifti'),
        "unknown export format 'nifti' (allowed: nifti-mask, nifti-uncertainty, nifti-probability, nifti-members, dicom-seg, slicer-seg, report-json, report-csv)",
      ],
      // a name inherited from Object.prototype is not an entry
      [() => EXPORT_WRITERS.get('toString'), "unknown export format 'toString'"],
      [
        () => resolveSampling(manifest, { sampler: 'euler' as never }),
        "unknown sampler 'euler' (allowed: ddim, ddpm)",
      ],
    ];
    for (const [f, message] of cases) {
      const e = refusal(f);
      expect(e).toBeInstanceOf(QuorumError);
      expect(e.code).toBe('bad-argument');
      expect(e.message).toContain(message);
    }
  });

  it('samplers by name are the sampler classes, with the same timesteps', () => {
    const ddim = createSampler('ddim', schedule, manifest.prediction, { eta: 1, steps: 10 });
    expect(ddim).toBeInstanceOf(DdimSampler);
    expect(ddim.timesteps).toEqual(new DdimSampler(schedule, manifest.prediction, 1, 10).timesteps);
    const ddpm = createSampler('ddpm', schedule, manifest.prediction, { eta: 1, steps: 10 });
    expect(ddpm).toBeInstanceOf(DdpmSampler);
    expect(ddpm.timesteps.length).toBe(schedule.T);
  });

  it('auto tries the platform accelerators and ends with the CPU', () => {
    expect(autoProviders('linux')).toEqual(['cuda', 'cpu']);
    expect(autoProviders('win32')).toEqual(['cuda', 'dml', 'cpu']);
    expect(autoProviders('darwin')).toEqual(['coreml', 'cpu']);
    expect(autoProviders('freebsd')).toEqual(['cpu']);
    expect(PROVIDERS.get('cuda').sessionOptions(2)).toMatchObject({ executionProviders: ['cuda'] });
  });
});

describe('sampling settings, resolved once from the manifest', () => {
  it('what is asked for, else the manifest, else the fallback', () => {
    // the sampling settings of `recommended` (flipMembers is the engine's, not a per-request setting)
    const { sampler, steps, members, eta } = manifest.recommended;
    const rec = { sampler, steps, members, eta };
    expect(resolveSampling(manifest)).toEqual(rec);
    expect(resolveSampling(manifest, { members: 2, steps: undefined })).toEqual({ ...rec, members: 2 });
    expect(resolveSampling(undefined)).toEqual(FALLBACK_SAMPLING);
  });

  it('DDPM runs every step of the schedule whatever was asked', () => {
    expect(resolveSampling(manifest, { sampler: 'ddpm', steps: 10 }).steps).toBe(manifest.schedule.timesteps);
  });

  it('refuses members and steps out of range', () => {
    expect(() => resolveSampling(manifest, { members: 0 })).toThrow(/members must be 1..64, got 0/);
    expect(() => resolveSampling(manifest, { steps: 0 })).toThrow(/steps must be >= 1, got 0/);
  });
});
