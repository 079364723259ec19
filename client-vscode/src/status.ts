// The status-bar item, fed by the server's $/progress.
//
// vscode-languageclient already turns the server's work-done progress into a
// cancellable notification; the middleware in server.ts lets us watch the same
// begin/report/end values, so the status bar says where the search is
// ("ORPS: round 2/3, 9/9 tests") without a second channel from the server.

import { Command } from './contract';

/** The fields of an LSP WorkDoneProgressBegin | Report | End that we read. */
export interface ProgressValue {
  kind: 'begin' | 'report' | 'end';
  title?: string;
  message?: string;
}

/** What a status-bar item lets us set (a vscode.StatusBarItem, or a fake in tests). */
export interface StatusItem {
  text: string;
  tooltip: string | undefined | unknown;
  command: string | undefined | unknown;
  backgroundColor: unknown;
  show(): void;
}

export type ServerState = 'starting' | 'ready' | 'stopped' | 'failed';

/** "round 2/3 - candidate 4/9 - best: 9/9 tests, 2.1x faster - running tests" -> "round 2/3, 9/9 tests". */
export function shortStatus(message: string): string {
  const round = /round (\d+\/\d+)/.exec(message);
  if (round) {
    const tests = /best: (\d+\/\d+) tests/.exec(message);
    return `round ${round[1]}${tests ? `, ${tests[1]} tests` : ''}`;
  }
  const first = message.split(' - ')[0].split(':')[0].replace(/\s*\.{3}$/, '').trim();
  return first.length > 40 ? `${first.slice(0, 39)}…` : first;
}

export class StatusBar {
  private readonly searches = new Map<string | number, { title: string; message: string }>();
  private state: ServerState = 'stopped';
  private problem = '';

  constructor(private readonly item: StatusItem, private readonly errorColor: unknown) {
    this.render();
    item.show();
  }

  setServer(state: ServerState, problem = ''): void {
    this.state = state;
    this.problem = problem;
    if (state !== 'ready') this.searches.clear(); // a stopped server's searches are gone with it
    this.render();
  }

  /** One $/progress value. Only the server's searches (titled "ORPS: ...") show here. */
  observe(token: string | number, value: ProgressValue): void {
    if (value.kind === 'begin') {
      if (!value.title?.startsWith('ORPS')) return;
      this.searches.set(token, { title: value.title, message: value.message ?? '' });
    } else if (value.kind === 'report') {
      const search = this.searches.get(token);
      if (!search) return;
      if (value.message) search.message = value.message;
    } else {
      this.searches.delete(token);
    }
    this.render();
  }

  get searching(): boolean {
    return this.searches.size > 0;
  }

  private render(): void {
    const item = this.item;
    item.backgroundColor = undefined;
    const latest = [...this.searches.values()].pop();
    if (latest) {
      const what = latest.message ? shortStatus(latest.message) : latest.title.replace(/^ORPS:\s*/, '');
      const others = this.searches.size > 1 ? ` (+${this.searches.size - 1})` : '';
      item.text = `$(loading~spin) ORPS: ${what}${others}`;
      item.tooltip = `${latest.title}\n${latest.message}\nClick to cancel.`;
      item.command = Command.cancel; // the server's command, registered by the language client: cancels every search
      return;
    }
    switch (this.state) {
      case 'starting':
        item.text = '$(loading~spin) ORPS';
        item.tooltip = 'ORPS: starting the language server';
        item.command = 'orps.showOutput';
        break;
      case 'ready':
        item.text = '$(beaker) ORPS';
        item.tooltip = 'ORPS: ready. Click for the search report of the function at the cursor.';
        item.command = 'orps.showReport';
        break;
      case 'stopped':
        item.text = '$(circle-slash) ORPS';
        item.tooltip = 'ORPS: the language server is not running. Click to start it.';
        item.command = 'orps.restartServer';
        break;
      case 'failed':
        item.text = '$(error) ORPS';
        item.tooltip = `${this.problem}\nClick for what to do.`;
        item.command = 'orps.showProblem';
        item.backgroundColor = this.errorColor;
        break;
    }
  }
}
