import type { ToolMode } from './engine.ts';
import type { Session } from './session.ts';
import type { SessionCore } from './session-core.ts';
import { EDIT_TOOLS } from './ui-state.ts';

/** The journal cannot be written: no edits until it can (ui.notSaved says why), then the tool back. */
export class EditingPause {
  private toolBeforePause?: ToolMode;

  constructor(
    private readonly s: Session,
    private readonly set: SessionCore['set'],
  ) {}

  pause(why: string): void {
    const { ui } = this.s;
    if (!ui.notSaved && EDIT_TOOLS.includes(ui.tool)) this.toolBeforePause = ui.tool;
    if (EDIT_TOOLS.includes(ui.tool)) this.s.viewer.setTool('windowlevel');
    this.set({ notSaved: why, tool: EDIT_TOOLS.includes(ui.tool) ? 'windowlevel' : ui.tool });
  }

  resume(): void {
    this.set({ notSaved: undefined, notice: 'Saved: every pending edit is in the journal again' });
    if (this.toolBeforePause) this.s.setTool(this.toolBeforePause);
    this.toolBeforePause = undefined;
  }

  /** True (and says so) while edits are paused because the journal cannot be written. */
  check(): boolean {
    if (this.s.ui.notSaved)
      this.set({ notice: 'Editing is paused until your edits can be saved (see "Not saved")' });
    return !!this.s.ui.notSaved;
  }
}
