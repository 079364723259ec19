// Entry point: builds the pieces and wires them to VS Code. No logic here.
import type { ExtensionContext } from 'vscode';
import * as commands from './commands';
import { ServerController } from './controller';
import { pythonEnvironments } from './interpreter';
import { Messages } from './messages';
import { ReportView, type ReportTarget } from './report';
import { EditorReview } from './review';
import { SECTION, clientSettings, needsRestart, serverSettings } from './settings';
import { StatusBar } from './status';
import * as api from './vscodeapi';

let controller: ServerController | undefined;

export async function activate(context: ExtensionContext): Promise<ServerController> {
  const output = api.createOutputChannel('ORPS');
  const status = new StatusBar(api.createStatusBarItem('orps.status', 50), new api.ThemeColor('statusBarItem.errorBackground'));
  const messages = new Messages();
  const reports = new ReportView();
  const config = () => api.getConfiguration(SECTION);
  const get = (key: string) => config().get(key);

  const review = new EditorReview(() => clientSettings(get).autoApply);

  controller = new ServerController({
    output,
    status,
    messages,
    reviewUi: review,
    python: pythonEnvironments,
    settings: () => ({ client: clientSettings(get), server: serverSettings(get) }),
    workspaceFolder: () => api.workspaceFolders()[0]?.uri.fsPath,
  });
  const server = controller;
  const deps: commands.CommandDeps = {
    controller: server,
    messages,
    reports,
    showOutput: () => output.show(),
    extensionVersion: String(context.extension.packageJSON.version),
  };

  context.subscriptions.push(
    output,
    reports,
    review.register(),
    api.registerCommand('orps.optimizeAtCursor', () => commands.search('optimize', deps)),
    api.registerCommand('orps.solveAtCursor', () => commands.search('solve', deps)),
    api.registerCommand('orps.showReport', (args?: ReportTarget) => commands.showReport(args, deps)),
    api.registerCommand('orps.restartServer', () => server.restart()),
    api.registerCommand('orps.showDebugInfo', () => commands.showDebugInfo(deps)),
    api.registerCommand('orps.toggleCodeLens', () => commands.toggleCodeLens()),
    api.registerCommand('orps.showOutput', () => output.show()),
    api.registerCommand('orps.showProblem', () => server.showProblem()),
    api.onDidChangeConfiguration((event) => {
      if (needsRestart((section) => event.affectsConfiguration(section))) void server.restart();
      else if (event.affectsConfiguration(`${SECTION}.codeLens`)) server.refreshCodeLenses();
    }),
  );
  // A new interpreter picked in the Python extension: follow it, unless orps.interpreter names one.
  const python = await pythonEnvironments();
  if (python) {
    context.subscriptions.push(
      python.onDidChangeActiveEnvironmentPath(() => {
        if (!clientSettings(get).interpreter) void server.restart();
      }),
    );
  }
  await server.start();
  return server; // the e2e tests drive the extension through this
}

export async function deactivate(): Promise<void> {
  await controller?.stop();
  controller = undefined;
}
