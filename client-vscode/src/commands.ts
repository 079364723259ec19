// What the contributed commands do. Each takes its collaborators as
// arguments, so tests can run them against fakes.
import type { TextEditor } from 'vscode';
import type { ServerController } from './controller';
import { Command, Status } from './contract';
import type { Messages } from './messages';
import { GET_REPORT, reportHtml, type ReportTarget, type ReportView } from './report';
import { INVALID_PARAMS, errorCode, messageOf, tellFailure } from './requestErrors';
import { SECTION } from './settings';
import * as api from './vscodeapi';

export interface CommandDeps {
  controller: ServerController;
  messages: Messages;
  reports: ReportView;
  showOutput: () => void;
  extensionVersion: string;
}

export type Mode = 'optimize' | 'solve';

/** The function at the cursor, as orps.optimize/orps.solve take it; a string says why there is none. */
export function cursorTarget(editor: TextEditor | undefined): { uri: string; position: { line: number; character: number }; version: number } | string {
  if (!editor || editor.document.languageId !== 'python') return 'open a Python file and put the cursor inside a function';
  if (editor.document.isUntitled) return 'save the file first: ORPS runs your tests on files on disk';
  const { line, character } = editor.selection.active;
  return { uri: editor.document.uri.toString(), position: { line, character }, version: editor.document.version };
}

function serverDown(deps: CommandDeps): boolean {
  if (deps.controller.running) return false;
  deps.controller.showProblem();
  return true;
}

/** Run a search; the server shows progress (cancellable), the review and the outcome itself. */
export async function search(mode: Mode, deps: CommandDeps): Promise<unknown> {
  const target = cursorTarget(api.activeTextEditor());
  if (typeof target === 'string') return void deps.messages.show('info', `ORPS: ${target}.`);
  if (serverDown(deps)) return undefined;
  try {
    return await deps.controller.execute(`orps.${mode}`, [target]);
  } catch (error) {
    // One message (none when cancelled); the rejection stops here.
    void tellFailure(deps.messages, `the ${mode} request`, error, deps.showOutput);
    return undefined;
  }
}

/** The report of the function in `args` (a code lens) or at the cursor, in the webview. */
export async function showReport(args: ReportTarget | undefined, deps: CommandDeps): Promise<void> {
  let target = args;
  if (!target?.uri) {
    const cursor = cursorTarget(api.activeTextEditor());
    if (typeof cursor === 'string') return deps.messages.show('info', `ORPS: ${cursor}.`);
    target = { uri: cursor.uri, position: cursor.position };
  }
  if (serverDown(deps)) return;
  let answer: unknown;
  try {
    answer = await deps.controller.execute(GET_REPORT, [target]);
  } catch (error) {
    const text = messageOf(error);
    // The server's own InvalidParams name the command first; a server older than orps.getReport
    // rejects it as an unknown command instead (pygls: InvalidParams "Command name ... is not defined").
    if (errorCode(error) === INVALID_PARAMS && text.startsWith(`${GET_REPORT}: `)) {
      return tellFailure(deps.messages, 'the report request', error, deps.showOutput);
    }
    if (/not found|not defined|unknown|unsupported/i.test(text)) {
      return deps.messages.show('error', 'ORPS: this orps-lsp cannot send search reports; update it (pip install --upgrade orps-lsp).');
    }
    return deps.messages.show('error', `ORPS: could not get the search report: ${text}`);
  }
  if (isServerError(answer)) return; // the server has already shown why, as an error message
  const html = reportHtml(answer);
  if (!html) {
    const what = target.function ? `${target.function} has` : 'this function has';
    return deps.messages.show('info', `ORPS: ${what} no search report yet. Run "ORPS: Optimize Function at Cursor" first.`);
  }
  const title = /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? 'ORPS search report';
  deps.reports.show(title, html);
}

/** The server's own debug info and the client's, as one JSON document. */
export async function showDebugInfo(deps: CommandDeps): Promise<void> {
  const { controller } = deps;
  let server: unknown = controller.problem ?? 'not running';
  if (controller.running) {
    try {
      server = await controller.execute(Command.debugInfo, []);
    } catch (error) {
      server = { error: messageOf(error) };
    }
  }
  const info = {
    client: {
      extension: deps.extensionVersion,
      vscode: api.version(),
      interpreter: controller.interpreter,
      serverVersion: controller.serverVersion,
      running: controller.running,
      command: controller.interpreter ? [controller.interpreter.command, '-m', 'orps_lsp.cli', '--stdio'] : undefined,
    },
    server,
  };
  await api.showUntitled(JSON.stringify(info, null, 2), 'json');
}

export async function toggleCodeLens(): Promise<void> {
  const config = api.getConfiguration(SECTION);
  await config.update('codeLens.enabled', config.get('codeLens.enabled') === false, api.ConfigurationTarget.Global);
}

/** A command's `{status: "error", message}` answer: the server showed the message itself. */
function isServerError(answer: unknown): boolean {
  return typeof answer === 'object' && answer !== null && (answer as { status?: unknown }).status === Status.error;
}
