import { execFileSync } from 'node:child_process';

/**
 * Why the paper-model rows cannot run here, or undefined when they can: they need python3 with
 * PyTorch (models/train/paper_unet.py exports the paper's UNet to ONNX). A fresh machine without
 * python3-torch gets this message and the rows are skipped, not a stack trace.
 */
export function torchProblem(python = '/usr/bin/python3'): string | undefined {
  try {
    execFileSync(python, ['-c', 'import torch'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT')
      return `skipped: ${python} is not installed (the paper's UNet is built with PyTorch)`;
    const why = /No module named '?torch'?/.test(String(err.stderr ?? ''))
      ? 'PyTorch is not installed'
      : `python3 cannot import torch (${String(err.stderr ?? err.message)
          .trim()
          .split('\n')
          .pop()})`;
    return `skipped: ${why}; install python3-torch (apt-get install python3-torch, or pip install torch) to compare with the paper's UNet`;
  }
}
