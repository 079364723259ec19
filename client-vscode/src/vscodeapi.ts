// The one module that touches the `vscode` API at run time. Everything else
// imports from here (types may come from 'vscode' directly: they vanish at
// build time), so unit tests replace this file with a mock and run in plain
// Node. Keep each wrapper a one-liner: logic belongs in the modules that call it.
import * as vscode from 'vscode';

export type Disposable = vscode.Disposable;

export const Uri = vscode.Uri;
export const ConfigurationTarget = vscode.ConfigurationTarget;
export const StatusBarAlignment = vscode.StatusBarAlignment;
export const ViewColumn = vscode.ViewColumn;
export const ThemeColor = vscode.ThemeColor;
export const version = (): string => vscode.version;

// ---------------------------------------------------------------- settings
export const getConfiguration = (section: string, scope?: vscode.ConfigurationScope): vscode.WorkspaceConfiguration =>
  vscode.workspace.getConfiguration(section, scope);
export const onDidChangeConfiguration = (listener: (e: vscode.ConfigurationChangeEvent) => unknown): Disposable =>
  vscode.workspace.onDidChangeConfiguration(listener);
export const workspaceFolders = (): readonly vscode.WorkspaceFolder[] => vscode.workspace.workspaceFolders ?? [];
export const openSettings = (query: string): Thenable<unknown> =>
  vscode.commands.executeCommand('workbench.action.openSettings', query);

// ---------------------------------------------------------------- commands
// biome-ignore lint/suspicious/noExplicitAny: VS Code hands a command whatever its caller passed
export const registerCommand = (id: string, run: (...args: any[]) => unknown): Disposable =>
  vscode.commands.registerCommand(id, run);
export const executeCommand = <T>(id: string, ...args: unknown[]): Thenable<T> => vscode.commands.executeCommand<T>(id, ...args);
export const getExtension = <T>(id: string): vscode.Extension<T> | undefined => vscode.extensions.getExtension<T>(id);

// ----------------------------------------------------------------- windows
export const createOutputChannel = (name: string): vscode.LogOutputChannel =>
  vscode.window.createOutputChannel(name, { log: true });
export const createStatusBarItem = (id: string, priority: number): vscode.StatusBarItem =>
  vscode.window.createStatusBarItem(id, vscode.StatusBarAlignment.Left, priority);
export const showErrorMessage = (text: string, ...items: string[]): Thenable<string | undefined> =>
  vscode.window.showErrorMessage(text, ...items);
export const showWarningMessage = (text: string, ...items: string[]): Thenable<string | undefined> =>
  vscode.window.showWarningMessage(text, ...items);
export const showInformationMessage = (text: string, ...items: string[]): Thenable<string | undefined> =>
  vscode.window.showInformationMessage(text, ...items);
export const activeTextEditor = (): vscode.TextEditor | undefined => vscode.window.activeTextEditor;
export const visibleTextEditors = (): readonly vscode.TextEditor[] => vscode.window.visibleTextEditors;
export const createTerminal = (name: string): vscode.Terminal => vscode.window.createTerminal({ name });
export const createWebviewPanel = (viewType: string, title: string): vscode.WebviewPanel =>
  vscode.window.createWebviewPanel(viewType, title, vscode.ViewColumn.Beside, {
    enableScripts: true, // only the report's own nonce-stamped script; see report.ts
    localResourceRoots: [], // the page is self-contained: nothing to load
    retainContextWhenHidden: true,
  });

// --------------------------------------------------------------- documents
export const findTextDocument = (uri: string): vscode.TextDocument | undefined =>
  vscode.workspace.textDocuments.find((document) => document.uri.toString() === uri);
export const showUntitled = async (content: string, language: string): Promise<void> => {
  const document = await vscode.workspace.openTextDocument({ content, language });
  await vscode.window.showTextDocument(document, { preview: true });
};
export const registerTextDocumentContentProvider = (
  scheme: string,
  provide: (uri: vscode.Uri) => string,
): Disposable => vscode.workspace.registerTextDocumentContentProvider(scheme, { provideTextDocumentContent: provide });
export const showDiff = (left: vscode.Uri, right: vscode.Uri, title: string): Thenable<unknown> =>
  vscode.commands.executeCommand('vscode.diff', left, right, title, { preview: true });
/** Close the editor tabs showing `uri` (the diff of a reviewed proposal). */
export const closeTabsOf = async (uri: vscode.Uri): Promise<void> => {
  const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) => {
    const input = tab.input;
    return input instanceof vscode.TabInputTextDiff && input.modified.toString() === uri.toString();
  });
  if (tabs.length) await vscode.window.tabGroups.close(tabs);
};
export const applyWorkspaceEdit = (edit: vscode.WorkspaceEdit): Thenable<boolean> => vscode.workspace.applyEdit(edit);
