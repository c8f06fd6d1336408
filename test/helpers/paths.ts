import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Real data lives beside the checkout (CI puts it there too). */
export const DATA = resolve(REPO, '..', 'shared', 'data');
export const BRATS = resolve(DATA, 'brats2015-deepmedic');
export const PAT3 = resolve(BRATS, 'validation', 'brats_2013_pat0003_1');
export const PYTHON = '/usr/bin/python3';

if (!existsSync(DATA))
  throw new Error(`test data not found at ${DATA}: tests need ../shared/data beside the checkout`);
export const PAT4 = resolve(BRATS, 'validation', 'brats_2013_pat0004_1');
