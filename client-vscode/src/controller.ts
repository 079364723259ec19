// The server's life: find the interpreter, check that orps-lsp is there, start
// the language client, hook the review of edits and the server's messages,
// restart on request, and say once, with a fix, why it cannot run.
import type { CancellationToken, LogOutputChannel } from 'vscode';
import {
  ApplyWorkspaceEditRequest,
  CodeLensRequest,
  ExecuteCommandRequest,
  LanguageClient,
  ShowMessageNotification,
  State,
  type ApplyWorkspaceEditParams,
} from 'vscode-languageclient/node';
import { CLIENT_ID, CLIENT_NAME, RestartPolicy, clientOptions, serverOptions } from './client';
import { PROBLEM_NOTIFICATION, PROGRESS_NOTIFICATION, type ProblemMessage, type SearchProgress } from './contract';
import { resolveInterpreter, type Interpreter, type PythonEnvironments } from './interpreter';
import { type Messages, problemButtons, type Button, type Level } from './messages';
import { advice, installCommand, probe, type Action, type Problem } from './problems';
import { tellFailure } from './requestErrors';
import { review, staleDocument, type ApplyResult, type ReviewUi } from './review';
import type { ClientSettings } from './settings';
import type { StatusBar } from './status';
import * as api from './vscodeapi';

export interface ControllerDeps {
  output: LogOutputChannel;
  status: StatusBar;
  messages: Messages;
  reviewUi: ReviewUi;
  python: () => Promise<PythonEnvironments | undefined>;
  settings: () => { client: ClientSettings; server: Record<string, unknown> };
  workspaceFolder: () => string | undefined;
  probe?: typeof probe;
}

export class NotRunning extends Error {}

const LEVELS: Record<number, Level> = { 1: 'error', 2: 'warning', 3: 'info' };

export class ServerController {
  client: LanguageClient | undefined;
  interpreter: Interpreter | undefined;
  problem: Problem | undefined;
  serverVersion: string | undefined;
  private stopping = false;

  constructor(private readonly deps: ControllerDeps) {}

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  /** Start the server; false (after telling the user why, once) when it cannot start. */
  async start(): Promise<boolean> {
    const { output, status } = this.deps;
    this.problem = undefined;
    status.setServer('starting');
    const settings = this.deps.settings();
    const folder = this.deps.workspaceFolder();
    this.interpreter = await resolveInterpreter(settings.client.interpreter, await this.deps.python(), folder);
    output.info(`Python for the server: ${this.interpreter.command} (from ${this.interpreter.source})`);
    const checked = await (this.deps.probe ?? probe)(this.interpreter.command);
    if ('kind' in checked) return this.fail(checked);
    this.serverVersion = checked.version;
    output.info(`orps-lsp ${checked.version} found; starting ${this.interpreter.command} -m orps_lsp.cli --stdio`);

    const policy = new RestartPolicy(() =>
      this.fail({ kind: 'crashed', interpreter: this.interpreter?.command ?? '', detail: 'it exited 4 times in 3 minutes' }),
    );
    const hooks = {
      codeLensEnabled: () => this.deps.settings().client.codeLensEnabled,
      onProgress: status.observe.bind(status),
      onCommandError: (command: string, error: unknown) =>
        void tellFailure(this.deps.messages, `the ${command} command`, error, () => output.show()),
    };
    const client = new LanguageClient(
      CLIENT_ID,
      CLIENT_NAME,
      serverOptions(this.interpreter.command, folder),
      clientOptions(settings.server, hooks, policy, output),
    );
    // Registered before start, these replace the language client's own handlers.
    client.onRequest(ApplyWorkspaceEditRequest.type, (params) => review(params, this.deps.reviewUi, () => this.apply(client, params)));
    client.onNotification(PROGRESS_NOTIFICATION, (progress: SearchProgress) => status.observeSearch(progress));
    client.onNotification(PROBLEM_NOTIFICATION, ({ problem, message, type }: ProblemMessage) => {
      void this.deps.messages.show(LEVELS[type] ?? 'info', message, problemButtons(problem, api.openSettings));
    });
    client.onNotification(ShowMessageNotification.type, ({ type, message }) => {
      void this.deps.messages.show(LEVELS[type] ?? 'info', message);
    });
    client.onDidChangeState(({ newState }) => {
      if (newState === State.Running) status.setServer('ready');
      else if (newState === State.Starting) status.setServer('starting');
      else if (!this.stopping && !this.problem) status.setServer('stopped');
    });
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      return this.fail({ kind: 'crashed', interpreter: this.interpreter.command, detail: firstLine(error) });
    }
    return true;
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    this.stopping = true;
    try {
      await client.dispose();
    } catch (error) {
      this.deps.output.warn(`stopping the server: ${firstLine(error)}`);
    } finally {
      this.stopping = false;
      this.deps.status.setServer('stopped');
    }
  }

  async restart(): Promise<boolean> {
    await this.stop();
    return this.start();
  }

  /** A workspace/executeCommand request to the server (orps.optimize, orps.getReport, ...). */
  async execute<T>(command: string, args: unknown[], token?: CancellationToken): Promise<T> {
    if (!this.client || !this.running) throw new NotRunning('the ORPS server is not running');
    return this.client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }, token) as Promise<T>;
  }

  /** Ask VS Code for the lenses again (after orps.codeLens.enabled changed). */
  refreshCodeLenses(): void {
    if (!this.client || !this.running) return;
    const feature = this.client.getFeature(CodeLensRequest.method);
    for (const editor of api.visibleTextEditors()) feature.getProvider(editor.document)?.onDidChangeCodeLensEmitter.fire();
  }

  /** The message for the current problem again (status-bar click, a command run while the server is down). */
  showProblem(): void {
    if (this.problem) void this.tell(this.problem);
    else void this.deps.messages.show('warning', 'ORPS: the language server is not running.', [
      { title: 'Restart Server', run: () => this.restart() },
    ]);
  }

  private fail(problem: Problem): false {
    this.problem = problem;
    this.deps.output.error(`${problem.kind}: ${problem.detail}`);
    this.deps.status.setServer('failed', advice(problem, false).text);
    void this.tell(problem);
    return false;
  }

  private async tell(problem: Problem): Promise<void> {
    const hasPython = (await this.deps.python()) !== undefined;
    const { text, actions } = advice(problem, hasPython);
    await this.deps.messages.show('error', text, actions.map((action) => this.button(action, problem)));
  }

  private button(action: Action, problem: Problem): Button {
    const run: Record<Action, () => unknown> = {
      'Install orps-lsp': () => {
        const terminal = api.createTerminal('ORPS: install');
        terminal.show();
        terminal.sendText(installCommand(problem.interpreter));
        void this.deps.messages.show('info', 'ORPS: when the install has finished, restart the server.', [
          { title: 'Restart Server', run: () => this.restart() },
        ]);
      },
      'Select Interpreter': () => api.executeCommand('python.setInterpreter'),
      'Open Settings': () => api.openSettings('orps.interpreter'),
      'Show Output': () => this.deps.output.show(),
      'Restart Server': () => this.restart(),
    };
    return { title: action, run: run[action] };
  }

  /** What the language client would do with the edit: refuse it if the document moved on, else apply it. */
  private async apply(client: LanguageClient, params: ApplyWorkspaceEditParams): Promise<ApplyResult> {
    const converter = client.protocol2CodeConverter;
    const stale = staleDocument(params.edit, (uri) => api.findTextDocument(converter.asUri(uri).toString())?.version);
    if (stale) return { applied: false, failureReason: 'the document changed during the review' };
    return { applied: await api.applyWorkspaceEdit(await converter.asWorkspaceEdit(params.edit)) };
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0];
}
