// Every message the user sees from ORPS goes through here, so that a
// repeated problem shows once (not a stack of identical popups) and a message
// about something the user can fix comes with the button that opens the fix.
import { type Problem, Problem as ProblemCode } from './contract';
import * as api from './vscodeapi';

export type Level = 'error' | 'warning' | 'info';

export interface Button {
  title: string;
  run: () => unknown;
}

export type OpenSettings = (query: string) => unknown;

/** The button that opens the fix of a problem the server named (orps/problem's code, never its wording). */
export function problemButtons(problem: Problem, openSettings: OpenSettings): Button[] {
  switch (problem) {
    case ProblemCode.settings:
      return [{ title: 'Open Settings', run: () => openSettings('orps') }];
    case ProblemCode.model:
      return [{ title: 'Model Settings', run: () => openSettings('orps.model') }];
    case ProblemCode.tests:
      return [{ title: 'Test Settings', run: () => openSettings('orps.testPaths') }];
    default:
      return [];
  }
}

export class Messages {
  private readonly open = new Set<string>();

  /** Show a message unless the same one is still on screen; runs the button picked. */
  async show(level: Level, text: string, buttons: Button[] = []): Promise<void> {
    if (this.open.has(text)) return;
    this.open.add(text);
    try {
      const titles = buttons.map((b) => b.title);
      const show = level === 'error' ? api.showErrorMessage : level === 'warning' ? api.showWarningMessage : api.showInformationMessage;
      const picked = await show(text, ...titles);
      await buttons.find((b) => b.title === picked)?.run();
    } finally {
      this.open.delete(text);
    }
  }
}
