import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { torchProblem } from '../../bench/python.ts';

/** `npm run bench` on a machine without python3-torch: the paper-model rows are skipped with a message. */
describe('bench: the paper-model rows need PyTorch', () => {
  it('says what is missing and how to install it, no stack trace', () => {
    expect(torchProblem('/nonexistent/python3')).toMatch(/^skipped: \/nonexistent\/python3 is not installed/);
    let hasTorch = true;
    try {
      execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
    } catch {
      hasTorch = false;
    }
    const problem = torchProblem();
    if (hasTorch) expect(problem).toBeUndefined();
    else {
      expect(problem).toMatch(/^skipped: PyTorch is not installed; install python3-torch/);
      expect(problem).not.toMatch(/\n|Traceback/);
    }
  });
});
