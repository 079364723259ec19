// The fake of src/vscodeapi.ts: every wrapper a vi.fn, with settings, open
// documents and message answers that a test sets up.
import { vi } from 'vitest';

export const state = {
  config: {} as Record<string, unknown>,
  documents: new Map<string, { getText(): string; version: number }>(),
  answer: undefined as string | undefined, // what the user clicks on the next message
  activeEditor: undefined as unknown,
  extensions: {} as Record<string, unknown>,
};

export function reset() {
  state.config = {};
  state.documents.clear();
  state.answer = undefined;
  state.activeEditor = undefined;
  state.extensions = {};
}

export class FakeUri {
  constructor(readonly text: string) {}
  toString() {
    return this.text;
  }
  with({ scheme, query }: { scheme: string; query: string }) {
    return new FakeUri(`${scheme}:${this.text.replace(/^[a-z]+:/, '')}?${query}`);
  }
}
export const Uri = {
  file: (fsPath: string) => Object.assign(new FakeUri(`file://${fsPath}`), { fsPath }),
  parse: (text: string) => new FakeUri(text),
};
export const ConfigurationTarget = { Global: 1 };
export const ThemeColor = class {
  constructor(public id: string) {}
};
export const version = () => '1.85.0';
export const getConfiguration = vi.fn(() => ({
  get: (key: string) => state.config[key],
  update: vi.fn(async (key: string, value: unknown) => {
    state.config[key] = value;
  }),
}));
export const onDidChangeConfiguration = vi.fn(() => ({ dispose() {} }));
export const workspaceFolders = vi.fn(() => []);
export const openSettings = vi.fn(async () => undefined);
export const registerCommand = vi.fn(() => ({ dispose() {} }));
export const executeCommand = vi.fn(async () => undefined);
export const getExtension = vi.fn((id: string) => state.extensions[id]);
export const createOutputChannel = vi.fn(() => outputChannel());
export const createStatusBarItem = vi.fn(() => statusItem());
const answer = async () => state.answer;
export const showErrorMessage = vi.fn(answer);
export const showWarningMessage = vi.fn(answer);
export const showInformationMessage = vi.fn(answer);
export const activeTextEditor = vi.fn(() => state.activeEditor);
export const visibleTextEditors = vi.fn(() => []);
export const terminal = { show: vi.fn(), sendText: vi.fn() };
export const createTerminal = vi.fn(() => terminal);
export const createWebviewPanel = vi.fn();
export const findTextDocument = vi.fn((uri: string) => state.documents.get(uri));
export const showUntitled = vi.fn(async () => undefined);
export const registerTextDocumentContentProvider = vi.fn(() => ({ dispose() {} }));
export const showDiff = vi.fn(async () => undefined);
export const closeTabsOf = vi.fn(async () => undefined);
export const applyWorkspaceEdit = vi.fn(async () => true);

export function outputChannel() {
  return { info: vi.fn(), warn: vi.fn(), error: vi.fn(), show: vi.fn(), appendLine: vi.fn(), dispose: vi.fn() };
}

export function statusItem() {
  return { text: '', tooltip: undefined as unknown, command: undefined as unknown, backgroundColor: undefined as unknown, show: vi.fn() };
}
