import { type Case, inventoryLines, requireSequences } from '../../../core/src/node/case.ts';
import { readManifest } from '../../../core/src/node/model-manifest.ts';
import type { SequenceName } from '../../../core/src/volume.ts';
import { DEFAULT_MODEL_DIR } from '../client.ts';

/**
 * The sequences the model needs, read from its manifest without loading onnxruntime, so that a
 * case can be refused before the engine starts. Undefined when the manifest cannot be read: the
 * engine then reports the model problem itself.
 */
export function modelChannels(modelDir = DEFAULT_MODEL_DIR): SequenceName[] | undefined {
  try {
    const m = readManifest(modelDir);
    return Array.isArray(m.channels) ? m.channels : undefined;
  } catch {
    return undefined;
  }
}

/** Refuses a case missing a model channel (the error lists what was found and why). */
export function checkCase(kase: Case, modelDir?: string): void {
  const channels = modelChannels(modelDir);
  if (channels) requireSequences(kase, channels);
}

/** What was taken from the case and why, then its warnings (those not already said); one line each. */
export function caseLines(kase: Case): string[] {
  const said = (w: string) => kase.inventory.some((i) => w.includes(i.reason));
  return [...inventoryLines(kase), ...kase.warnings.filter((w) => !said(w)).map((w) => `warning: ${w}`)];
}
