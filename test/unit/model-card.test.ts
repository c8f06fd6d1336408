/**
 * The model card (About the model): models/train/model_card.py writes it into the manifest from the
 * model folder's measurements, and the host hands it to the renderer through getModelInfo. The
 * shipped manifest's card must be the one its measurements give today (so a new measurement cannot
 * leave the app telling readers an old figure), a changed measurement must be caught, and a card of
 * the wrong shape is not shown rather than breaking the model's info.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ModelManifest, modelCard } from '../../core/src/manifest.ts';
import { ModelEngine } from '../../workers/src/host/model-engine.ts';
import { PYTHON, REPO } from '../helpers/paths.ts';

const SHIPPED = join(REPO, 'models', 'quorum-wt-v2');
const V1 = join(REPO, 'models', 'quorum-wt-2ch');
const SCRIPT = join(REPO, 'models', 'train', 'model_card.py');
const manifest = JSON.parse(readFileSync(join(SHIPPED, 'manifest.json'), 'utf8')) as ModelManifest;
// the robustness rows are the shipped release's own (robustness-v10.0.json for 10.0.x), as model_card.py reads them
const RELEASE = manifest.version.split('.').slice(0, 2).join('.');
const MEASUREMENTS = [
  'manifest.json',
  'unseen-prediction.json',
  `robustness-v${RELEASE}.json`,
  `robustness-healthy-v${RELEASE}.json`,
];
const check = (dir: string) => spawnSync(PYTHON, [SCRIPT, '--model', dir, '--check'], { encoding: 'utf8' });

describe('model card', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'quorum-card-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("the shipped manifest's card is the one its measurements give", () => {
    const r = check(SHIPPED);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // and it quotes them: the site folds' mean and the share of small-lesion failures
    const p = JSON.parse(readFileSync(join(SHIPPED, 'unseen-prediction.json'), 'utf8'));
    expect(manifest.card?.expected[0]).toContain(`Dice ${p.patient.mean.toFixed(2)} on average`);
    const small = Object.keys(p.by_lesion_size).find((k) => k.startsWith('under')) as string;
    expect(manifest.card?.limitations[0]).toContain(p.by_lesion_size[small].below_0_5.count);
  });

  it('a changed measurement leaves the card out of date, and --check says so naming the manifest', () => {
    for (const f of MEASUREMENTS) copyFileSync(join(SHIPPED, f), join(tmp, f));
    const p = JSON.parse(readFileSync(join(tmp, 'unseen-prediction.json'), 'utf8'));
    p.patient.mean = Math.round((p.patient.mean - 0.05) * 1000) / 1000;
    writeFileSync(join(tmp, 'unseen-prediction.json'), JSON.stringify(p));
    const r = check(tmp);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(join(tmp, 'manifest.json'));
    expect(r.stderr).toContain('model_card.py --write');
  });

  it('the host gives the renderer the card, the flag threshold and the licences; a model without a card gets none', () => {
    const info = new ModelEngine({ modelDir: SHIPPED }).info();
    expect(info.card).toEqual(manifest.card);
    expect(info.lowConfidenceBelow).toBe(manifest.caseConfidence?.lowBelow);
    expect(info.licence).toBe(manifest.training.licence);
    const v1 = new ModelEngine({ modelDir: V1 }).info();
    expect(v1.available).toBe(true);
    expect(v1.card).toBeUndefined();
  });

  it('a manifest the engine would refuse makes the model unavailable at start, naming the file and the value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorum-host-manifest-'));
    try {
      writeFileSync(
        join(dir, 'manifest.json'),
        JSON.stringify({ ...manifest, recommended: { ...manifest.recommended, crop: 'brain' } }),
      );
      const info = new ModelEngine({ modelDir: dir }).info();
      expect(info.available).toBe(false);
      expect(info.message).toContain(join(dir, 'manifest.json'));
      expect(info.message).toMatch(/recommended\.crop is 'brain'/);
      rmSync(join(dir, 'manifest.json'));
      expect(new ModelEngine({ modelDir: dir }).info().message).toMatch(
        /manifest\.json: cannot read the model manifest/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a card of the wrong shape is not shown', () => {
    const card = manifest.card as NonNullable<ModelManifest['card']>;
    expect(modelCard(card)).toEqual(card);
    expect(modelCard(undefined)).toBeUndefined();
    expect(modelCard('a card')).toBeUndefined();
    expect(modelCard({ ...card, intendedUse: ' ' })).toBeUndefined();
    expect(modelCard({ ...card, expected: 'one line' })).toBeUndefined();
    expect(modelCard({ ...card, limitations: [...card.limitations, 3] })).toBeUndefined();
    const { trainedOn: _, ...noTraining } = card;
    expect(modelCard(noTraining)).toBeUndefined();
  });
});
