// Every message the user sees from ORPS goes through here, so that a
// repeated problem shows once (not a stack of identical popups) and a message
// about something the user can fix comes with the button that opens the fix.
import * as api from './vscodeapi';

export type Level = 'error' | 'warning' | 'info';

export interface Button {
  title: string;
  run: () => unknown;
}

export type OpenSettings = (query: string) => unknown;

/** Buttons for a message the server sent (window/showMessage), found by what it is about. */
export function serverMessageButtons(text: string, openSettings: OpenSettings): Button[] {
  if (/^ORPS settings:/.test(text)) return [{ title: 'Open Settings', run: () => openSettings('orps') }];
  if (/\bmodel\b|\.gguf\b/i.test(text)) return [{ title: 'Model Settings', run: () => openSettings('orps.model') }];
  if (/\bno tests?\b|tests? (were )?found/i.test(text)) return [{ title: 'Test Settings', run: () => openSettings('orps.testPaths') }];
  return [];
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
