import type { MenuCommand } from '../../../core/src/api.ts';
import { FALLBACK_SAMPLING } from '../../../core/src/sampling.ts';
import type { ViewportName } from './engine.ts';
import type { Session } from './session.ts';

export interface KeyContext {
  setLayout(l: '1x3' | '1x1'): void;
  active(): ViewportName;
}

/** Menu commands (Electron) and their keyboard shortcuts (both modes). */
export function runCommand(cmd: MenuCommand, s: Session, ctx: KeyContext): void {
  const { members, steps } = s.model?.recommended ?? FALLBACK_SAMPLING;
  const run = { members, steps };
  switch (cmd) {
    case 'undo':
      s.undo();
      return;
    case 'redo':
      s.redo();
      return;
    case 'toggle-proposal':
      s.setLabelmapVisible(!s.ui.labelmapVisible);
      return;
    case 'toggle-uncertainty':
      s.setUncertainty({ visible: !s.ui.uncertainty.visible });
      return;
    case 'toggle-members':
      s.setMembersVisible(!s.ui.membersVisible);
      return;
    case 'layout-1x1':
      ctx.setLayout('1x1');
      return;
    case 'layout-1x3':
      ctx.setLayout('1x3');
      return;
    case 'next-uncertain':
      s.nextUncertain();
      return;
    case 'propose-slice':
      void s.propose('current', run);
      return;
    case 'propose-all':
      void s.propose('all', run);
      return;
    case 'cancel-proposal':
      void s.cancel();
      return;
    default:
      return;
  }
}

const KEYS: Record<string, MenuCommand> = {
  l: 'toggle-proposal',
  u: 'toggle-uncertainty',
  m: 'toggle-members',
  '1': 'layout-1x1',
  '3': 'layout-1x3',
  n: 'next-uncertain',
  p: 'propose-slice',
  Escape: 'cancel-proposal',
};

const TOOL_KEYS = {
  w: 'windowlevel',
  c: 'crosshairs',
  b: 'brush',
  e: 'eraser',
  t: 'threshold',
  f: 'fill',
  i: 'lesion',
  // R is taken (reject): K for clicK
  k: 'refine',
} as const;

/** Returns true when the key was handled. */
export function handleKey(e: KeyboardEvent | MenuCommand, s: Session, ctx: KeyContext): boolean {
  if (typeof e === 'string') {
    runCommand(e, s, ctx);
    return true;
  }
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (mod && key === 'z') {
    if (e.shiftKey) s.redo();
    else s.undo();
    return true;
  }
  if (mod && key === 'y') {
    s.redo();
    return true;
  }
  if (mod || e.altKey) return false;
  const step = e.shiftKey ? 10 : 1;
  if (key === 'ArrowUp' || key === 'ArrowRight' || key === 'PageUp') {
    s.viewer.scroll(ctx.active(), key === 'PageUp' ? 10 : step);
    return true;
  }
  if (key === 'ArrowDown' || key === 'ArrowLeft' || key === 'PageDown') {
    s.viewer.scroll(ctx.active(), key === 'PageDown' ? -10 : -step);
    return true;
  }
  if (key === 'a') {
    s.review('accept', e.shiftKey ? 'all' : 'slice');
    return true;
  }
  if (key === 'r') {
    s.review('reject', e.shiftKey ? 'all' : 'slice');
    return true;
  }
  if (key === 'i' && e.shiftKey) {
    // Shift+I: interpolate between drawn slices, along the axis of the viewport in use.
    void s.interpolate(ctx.active());
    return true;
  }
  if (key in TOOL_KEYS) {
    s.setTool(TOOL_KEYS[key as keyof typeof TOOL_KEYS]);
    return true;
  }
  const cmd = KEYS[key];
  if (cmd) {
    runCommand(cmd, s, ctx);
    return true;
  }
  return false;
}
