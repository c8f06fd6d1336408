import { describe, expect, it } from 'vitest';
import { QuorumError } from '../../core/src/errors.ts';

describe('QuorumError', () => {
  it('names the file in its message and keeps a machine-readable code', () => {
    const e = new QuorumError('truncated', 'file ends at byte 12 of 348', '/data/a.nii');
    expect(e.message).toBe('/data/a.nii: file ends at byte 12 of 348');
    expect(e.code).toBe('truncated');
    expect(e).toBeInstanceOf(Error);
  });
});
