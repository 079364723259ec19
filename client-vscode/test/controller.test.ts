import { beforeEach, describe, expect, it, vi } from 'vitest';
import { LanguageClient } from 'vscode-languageclient/node';
import { ServerController, NotRunning } from '../src/controller';
import { Messages } from '../src/messages';
import { EditorReview } from '../src/review';
import { PROBLEM_NOTIFICATION, PROGRESS_NOTIFICATION, Phase, Problem as ProblemCode } from '../src/contract';
import { StatusBar } from '../src/status';
import type { Problem } from '../src/problems';
import * as api from './mocks/vscodeapi';


const FakeClient = LanguageClient as unknown as typeof import('./mocks/languageclient').LanguageClient;
const URI = 'file:///p/slowmath.py';

function setup(probeResult: { version: string } | Problem = { version: '0.1.0' }, config: Record<string, unknown> = {}) {
  api.state.config = { interpreter: '/venv/bin/python', ...config };
  const item = api.statusItem();
  const output = api.outputChannel();
  const get = (key: string) => api.state.config[key];
  const controller = new ServerController({
    output: output as never,
    status: new StatusBar(item, 'red'),
    messages: new Messages(),
    reviewUi: new EditorReview(() => get('autoApply') === true),
    python: async () => undefined,
    settings: () => ({
      client: { interpreter: String(get('interpreter') ?? ''), autoApply: get('autoApply') === true, codeLensEnabled: true },
      server: { beamWidth: 2 },
    }),
    workspaceFolder: () => '/p',
    probe: vi.fn(async () => probeResult),
  });
  return { controller, item, output };
}

describe('server controller', () => {
  beforeEach(() => {
    api.reset();
    vi.clearAllMocks();
    FakeClient.instances = [];
    FakeClient.startError = undefined;
  });

  it('starts the client with the interpreter from the settings', async () => {
    const { controller, item } = setup();
    expect(await controller.start()).toBe(true);
    expect(FakeClient.instances).toHaveLength(1);
    const client = FakeClient.instances[0];
    expect(client.serverOptions).toMatchObject({ command: '/venv/bin/python', args: ['-m', 'orps_lsp.cli', '--stdio'], options: { cwd: '/p' } });
    expect(client.clientOptions.initializationOptions).toEqual({ orps: { beamWidth: 2 }, reviewEdits: true, searchProgress: true, problemCodes: true });
    expect([...client.requestHandlers.keys()]).toEqual(['workspace/applyEdit']);
    expect(controller.running).toBe(true);
    expect(controller.serverVersion).toBe('0.1.0');
    expect(item.text).toBe('$(beaker) ORPS');
  });

  it('does not start a server that is not installed, and says so once, with the fix', async () => {
    const problem: Problem = { kind: 'not-installed', interpreter: '/venv/bin/python', detail: "No module named 'orps_lsp'" };
    const { controller, item } = setup(problem);
    api.state.answer = 'Install orps-lsp';
    expect(await controller.start()).toBe(false);
    await vi.waitFor(() => expect(api.terminal.sendText).toHaveBeenCalled());
    expect(FakeClient.instances).toHaveLength(0);
    expect(api.showErrorMessage).toHaveBeenCalledOnce();
    expect(api.showErrorMessage).toHaveBeenCalledWith(expect.stringContaining('not installed in the Python interpreter /venv/bin/python'), 'Install orps-lsp', 'Open Settings');
    expect(api.terminal.sendText).toHaveBeenCalledWith('/venv/bin/python -m pip install --upgrade orps-lsp');
    expect(item.text).toBe('$(error) ORPS');
    await expect(controller.execute('orps.optimize', [])).rejects.toBeInstanceOf(NotRunning);
  });

  it('shows the same problem once while its message is still open', async () => {
    const problem: Problem = { kind: 'no-interpreter', interpreter: 'python3', detail: 'ENOENT' };
    const { controller } = setup(problem);
    api.showErrorMessage.mockImplementation(() => new Promise(() => undefined)); // never dismissed
    await controller.start();
    await controller.start();
    controller.showProblem();
    await vi.waitFor(() => expect(api.showErrorMessage).toHaveBeenCalled());
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(api.showErrorMessage).toHaveBeenCalledOnce();
  });

  it('turns a failed start into one message instead of the client popups', async () => {
    FakeClient.startError = new Error('Launching server failed\nstack...');
    const { controller, item } = setup();
    expect(await controller.start()).toBe(false);
    await vi.waitFor(() => expect(api.showErrorMessage).toHaveBeenCalledOnce());
    expect(api.showErrorMessage).toHaveBeenCalledWith(expect.stringContaining('stopped: Launching server failed.'), 'Show Output', 'Restart Server');
    expect(FakeClient.instances[0].clientOptions.revealOutputChannelOn).toBe(4);
    expect(item.text).toBe('$(error) ORPS');
  });

  it('gives up after repeated crashes with one message', async () => {
    const { controller } = setup();
    await controller.start();
    const policy = FakeClient.instances[0].clientOptions.errorHandler;
    for (let i = 0; i < 4; i++) policy.closed();
    await vi.waitFor(() => expect(api.showErrorMessage).toHaveBeenCalledOnce());
    expect(controller.problem?.kind).toBe('crashed');
  });

  it('reviews a search result in a diff, then applies it', async () => {
    const { controller } = setup();
    await controller.start();
    api.state.documents.set(URI, { getText: () => 'def f():\n    return 1\n', version: 3 });
    api.state.answer = 'Apply';
    const edit = { documentChanges: [{ textDocument: { uri: URI, version: 3 }, edits: [{ range: { start: { line: 1, character: 0 }, end: { line: 2, character: 0 } }, newText: '    return 2\n' }] }] };
    const applyEdit = FakeClient.instances[0].requestHandlers.get('workspace/applyEdit')!;
    expect(await applyEdit({ label: 'ORPS: f', edit })).toEqual({ applied: true });
    expect(api.showDiff).toHaveBeenCalledOnce();
    const [left, right, title] = api.showDiff.mock.calls[0] as unknown as [unknown, { toString(): string }, string];
    expect(String(left)).toBe(URI);
    expect(String(right)).toMatch(/^orps-proposal:\/\/\/p\/slowmath.py\?\d+$/);
    expect(title).toBe('ORPS: f: current ↔ proposed');
    expect(api.closeTabsOf).toHaveBeenCalledWith(right);
    expect(api.applyWorkspaceEdit).toHaveBeenCalledWith({ converted: edit });
  });

  it('refuses an edit whose document changed during the review', async () => {
    const { controller } = setup({ version: '0.1.0' }, { autoApply: true });
    await controller.start();
    api.state.documents.set(URI, { getText: () => 'x', version: 4 });
    const applyEdit = FakeClient.instances[0].requestHandlers.get('workspace/applyEdit')!;
    const edit = { documentChanges: [{ textDocument: { uri: URI, version: 3 }, edits: [] }] };
    expect(await applyEdit({ label: 'ORPS: f', edit })).toEqual({ applied: false, failureReason: 'the document changed during the review' });
    expect(api.showDiff).not.toHaveBeenCalled(); // autoApply: no review
    expect(api.applyWorkspaceEdit).not.toHaveBeenCalled();
  });

  it("adds the fix to the server's problems by their code, never by their wording", async () => {
    const { controller } = setup();
    await controller.start();
    api.state.answer = 'Model Settings';
    const problem = FakeClient.instances[0].notificationHandlers.get(PROBLEM_NOTIFICATION)!;
    problem({ problem: ProblemCode.model, message: 'ORPS: the server at http://h/v1 does not answer', type: 1 });
    await vi.waitFor(() => expect(api.openSettings).toHaveBeenCalledWith('orps.model'));
    const show = FakeClient.instances[0].notificationHandlers.get('window/showMessage')!;
    show({ type: 3, message: 'ORPS: applied to f' });
    expect(api.showInformationMessage).toHaveBeenCalledWith('ORPS: applied to f');
    show({ type: 1, message: 'ORPS: cannot load the model /m/x.gguf' }); // words about a model, no code: no button
    expect(api.showErrorMessage).toHaveBeenLastCalledWith('ORPS: cannot load the model /m/x.gguf');
  });

  it('shows a rejected command of a code action or lens as one message; a cancelled one as none', async () => {
    const { controller, output } = setup();
    await controller.start();
    const executeCommand = FakeClient.instances[0].clientOptions.middleware.executeCommand;
    const invalid = Object.assign(new Error("orps.solve: no function 'nowhere' in file:///p/slowmath.py"), { code: -32602 });
    await expect(executeCommand('orps.solve', [{ uri: URI, function: 'nowhere' }], async () => Promise.reject(invalid))).resolves.toBeUndefined();
    await vi.waitFor(() => expect(api.showErrorMessage).toHaveBeenCalledOnce());
    expect(api.showErrorMessage).toHaveBeenCalledWith(
      "ORPS: the server refused the orps.solve command: orps.solve: no function 'nowhere' in file:///p/slowmath.py",
    );
    const cancelled = Object.assign(new Error('Canceled'), { name: 'Canceled' }); // vscode.CancellationError
    await executeCommand('orps.optimize', [], async () => Promise.reject(cancelled));
    api.state.answer = 'Show Output';
    await executeCommand('orps.cancel', [], async () => Promise.reject(new Error('connection closed')));
    await vi.waitFor(() => expect(output.show).toHaveBeenCalled());
    expect(api.showErrorMessage).toHaveBeenCalledTimes(2);
    expect(api.showErrorMessage).toHaveBeenLastCalledWith('ORPS: the orps.cancel command failed: connection closed', 'Show Output');
  });

  it("shows the server's orps/progress in the status bar", async () => {
    const { controller, item } = setup();
    await controller.start();
    const notify = FakeClient.instances[0].notificationHandlers.get(PROGRESS_NOTIFICATION)!;
    notify({ token: 't', function: 'f', mode: 'optimize', phase: Phase.execute, round: 1, rounds: 3, candidate: 2, candidates: 3,
      bestPassed: 5, bestTotal: 6, bestSpeedup: null, fraction: 0.2 });
    expect(item.text).toBe('$(loading~spin) ORPS: round 1/3, 5/6 tests');
    notify({ token: 't', function: 'f', mode: 'optimize', phase: Phase.done, round: 0, rounds: 0, candidate: 0, candidates: 0,
      bestPassed: null, bestTotal: null, bestSpeedup: null, fraction: null });
    expect(item.text).toBe('$(beaker) ORPS');
  });

  it('restarts: stops the old client, starts a new one', async () => {
    const { controller } = setup();
    await controller.start();
    await controller.restart();
    expect(FakeClient.instances).toHaveLength(2);
    expect(FakeClient.instances[0].state).toBe(1); // stopped
    expect(controller.running).toBe(true);
  });
});
