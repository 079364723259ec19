import { beforeEach, describe, expect, it, vi } from 'vitest';
import { cursorTarget, search, showReport, toggleCodeLens, type CommandDeps } from '../src/commands';
import { Messages } from '../src/messages';
import * as api from './mocks/vscodeapi';


const URI = 'file:///p/slowmath.py';

function editor(languageId = 'python', isUntitled = false) {
  return {
    document: { languageId, isUntitled, version: 7, uri: { toString: () => URI } },
    selection: { active: { line: 12, character: 4 } },
  };
}

function deps(running = true, answer: unknown = { status: 'applied' }) {
  const controller = {
    running,
    execute: vi.fn(async () => answer),
    showProblem: vi.fn(),
  };
  const reports = { show: vi.fn() };
  return { controller, reports, messages: new Messages(), showOutput: vi.fn(), extensionVersion: '0.1.0' } as unknown as CommandDeps & {
    controller: typeof controller;
    reports: typeof reports;
  };
}

describe('commands', () => {
  beforeEach(() => {
    api.reset();
    vi.clearAllMocks();
  });

  it('targets the function at the cursor of a saved Python file', () => {
    expect(cursorTarget(editor() as never)).toEqual({ uri: URI, position: { line: 12, character: 4 }, version: 7 });
    expect(cursorTarget(undefined)).toMatch(/open a Python file/);
    expect(cursorTarget(editor('javascript') as never)).toMatch(/open a Python file/);
    expect(cursorTarget(editor('python', true) as never)).toMatch(/save the file first/);
  });

  it('runs orps.optimize on the server for the cursor', async () => {
    api.state.activeEditor = editor();
    const d = deps();
    expect(await search('optimize', d)).toEqual({ status: 'applied' });
    expect(d.controller.execute).toHaveBeenCalledWith('orps.optimize', [{ uri: URI, position: { line: 12, character: 4 }, version: 7 }]);
  });

  it('shows why the server is down instead of searching', async () => {
    api.state.activeEditor = editor();
    const d = deps(false);
    await search('solve', d);
    expect(d.controller.showProblem).toHaveBeenCalledOnce();
    expect(d.controller.execute).not.toHaveBeenCalled();
  });

  it('says nothing when the user cancelled, and offers the output when the request failed', async () => {
    api.state.activeEditor = editor();
    const d = deps();
    d.controller.execute.mockRejectedValueOnce(Object.assign(new Error('cancelled'), { code: -32800 }));
    await search('optimize', d);
    expect(api.showErrorMessage).not.toHaveBeenCalled();
    d.controller.execute.mockRejectedValueOnce(new Error('boom'));
    await search('optimize', d);
    expect(api.showErrorMessage).toHaveBeenCalledWith('ORPS: the optimize request failed: boom', 'Show Output');
  });

  it("shows the server's InvalidParams message once, without a rejection", async () => {
    api.state.activeEditor = editor();
    const d = deps();
    const invalid = Object.assign(new Error("orps.optimize: no document file:///p/slowmath.py: it is neither open in the editor nor a file on disk"), { code: -32602 });
    d.controller.execute.mockRejectedValueOnce(invalid);
    await expect(search('optimize', d)).resolves.toBeUndefined();
    expect(api.showErrorMessage).toHaveBeenCalledOnce();
    expect(api.showErrorMessage).toHaveBeenCalledWith(
      'ORPS: the server refused the optimize request: orps.optimize: no document file:///p/slowmath.py: it is neither open in the editor nor a file on disk',
    );
  });

  it('tells a malformed report request from a server too old for reports', async () => {
    const d = deps();
    d.controller.execute.mockRejectedValueOnce(Object.assign(new Error('orps.getReport: position must be a position, got 3'), { code: -32602 }));
    await showReport({ uri: URI, function: 'f' }, d);
    expect(api.showErrorMessage).toHaveBeenLastCalledWith('ORPS: the server refused the report request: orps.getReport: position must be a position, got 3');
    d.controller.execute.mockRejectedValueOnce(
      Object.assign(new Error("Invalid Params: Command name 'orps.getReport' is not defined"), { code: -32602 }),
    );
    await showReport({ uri: URI, function: 'f' }, d);
    expect(api.showErrorMessage).toHaveBeenLastCalledWith('ORPS: this orps-lsp cannot send search reports; update it (pip install --upgrade orps-lsp).');
  });

  it("opens the report of a code lens's function in the webview", async () => {
    const html = '<html><head><title>ORPS optimize: f</title></head><body><script>1</script></body></html>';
    const d = deps(true, { html });
    await showReport({ uri: URI, function: 'f' }, d);
    expect(d.controller.execute).toHaveBeenCalledWith('orps.getReport', [{ uri: URI, function: 'f' }]);
    expect(d.reports.show).toHaveBeenCalledWith('ORPS optimize: f', html);
  });

  it('says when the function at the cursor has no report yet', async () => {
    api.state.activeEditor = editor();
    const d = deps(true, null);
    await showReport(undefined, d);
    expect(d.controller.execute).toHaveBeenCalledWith('orps.getReport', [{ uri: URI, position: { line: 12, character: 4 } }]);
    expect(api.showInformationMessage).toHaveBeenCalledWith(expect.stringMatching(/has no search report yet/));
    expect(d.reports.show).not.toHaveBeenCalled();
  });

  it('adds nothing to a failure the server has shown itself', async () => {
    const d = deps(true, { status: 'error', message: 'getReport: cannot read file:///p/slowmath.py: permission denied' });
    await showReport({ uri: URI, function: 'f' }, d);
    expect(api.showInformationMessage).not.toHaveBeenCalled();
    expect(api.showErrorMessage).not.toHaveBeenCalled();
    expect(d.reports.show).not.toHaveBeenCalled();
  });

  it('asks for a newer server when it does not know orps.getReport', async () => {
    const d = deps();
    d.controller.execute.mockRejectedValueOnce(new Error("Command 'orps.getReport' not found"));
    await showReport({ uri: URI }, d);
    expect(api.showErrorMessage).toHaveBeenCalledWith(expect.stringMatching(/update it/));
  });

  it('toggles the code lens setting', async () => {
    await toggleCodeLens();
    expect(api.state.config['codeLens.enabled']).toBe(false);
    await toggleCodeLens();
    expect(api.state.config['codeLens.enabled']).toBe(true);
  });
});
