// The status-bar item, fed by the server's orps/progress notifications.
//
// vscode-languageclient already turns the server's work-done progress ($/progress) into a
// cancellable notification with the server's text; the status bar shows the same progress
// from orps/progress, where it comes as data (contract.ts: SearchProgress), so it says where
// the search is ("ORPS: round 2/3, 9/9 tests") without reading any message.

import { Command, Phase, type SearchProgress } from './contract';

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

/** A search's state in a few words: "round 2/3, 9/9 tests", or its phase before the rounds. */
export function shortStatus(progress: SearchProgress): string {
  if (progress.round > 0 && progress.rounds > 0) {
    const tests = progress.bestTotal ? `, ${progress.bestPassed ?? 0}/${progress.bestTotal} tests` : '';
    return `round ${progress.round}/${progress.rounds}${tests}`;
  }
  return progress.phase === Phase.baseline ? 'running the original' : progress.phase;
}

export class StatusBar {
  private readonly searches = new Map<string | number, SearchProgress>();
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

  /** One orps/progress notification: a search's state, or its end (phase "done"). */
  observeSearch(progress: SearchProgress): void {
    if (progress.phase === Phase.done) this.searches.delete(progress.token);
    else this.searches.set(progress.token, progress);
    this.render();
  }

  /** One $/progress value: its end also ends the search of that token (should orps/progress's "done" be lost). */
  observe(token: string | number, value: ProgressValue): void {
    if (value.kind === 'end' && this.searches.delete(token)) this.render();
  }

  get searching(): boolean {
    return this.searches.size > 0;
  }

  private render(): void {
    const item = this.item;
    item.backgroundColor = undefined;
    const latest = [...this.searches.values()].pop();
    if (latest) {
      const others = this.searches.size > 1 ? ` (+${this.searches.size - 1})` : '';
      item.text = `$(loading~spin) ORPS: ${shortStatus(latest)}${others}`;
      const speed = latest.bestSpeedup ? `, best so far ${latest.bestSpeedup.toFixed(1)}x` : '';
      item.tooltip = `ORPS: ${latest.mode} ${latest.function} (${shortStatus(latest)}${speed})\nClick to cancel.`;
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
