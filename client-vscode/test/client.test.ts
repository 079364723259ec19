import { describe, expect, it, vi } from 'vitest';
import { CloseAction, ErrorAction, RevealOutputChannelOn } from 'vscode-languageclient/node';
import { RestartPolicy, clientOptions, initializationOptions, middleware, serverOptions, showReportLenses } from '../src/client';

const hooks = (codeLens = true) => ({ codeLensEnabled: () => codeLens, onProgress: vi.fn(), onCommandError: vi.fn() });

describe('language client setup', () => {
  it('starts `python -m orps_lsp.cli --stdio` in the workspace folder', () => {
    expect(serverOptions('/venv/bin/python', '/work/p', { PATH: '/bin' })).toEqual({
      command: '/venv/bin/python',
      args: ['-m', 'orps_lsp.cli', '--stdio'],
      options: { cwd: '/work/p', env: { PATH: '/bin', PYTHONUNBUFFERED: '1' } },
    });
  });

  it("sends the server's settings only, and says that the client reviews edits", () => {
    const settings = { beamWidth: 3, depth: 2, interpreter: '/x', autoApply: true };
    expect(initializationOptions(settings)).toEqual({ orps: { beamWidth: 3, depth: 2 }, reviewEdits: true, searchProgress: true, problemCodes: true });
    const options = clientOptions(settings, hooks(), new RestartPolicy(() => undefined), undefined);
    expect(options.documentSelector).toEqual([{ scheme: 'file', language: 'python' }]);
    expect(options.synchronize).toEqual({ configurationSection: 'orps' });
    expect(options.revealOutputChannelOn).toBe(RevealOutputChannelOn.Never);
    expect(options.initializationFailedHandler?.(new Error('x'))).toBe(false);
  });

  it('filters workspace/configuration answers for the orps section', async () => {
    const configuration = middleware(hooks()).workspace!.configuration!;
    const params = { items: [{ section: 'orps' }, { section: 'python' }] };
    const next = vi.fn(async () => [{ depth: 4, interpreter: '/x', codeLens: { enabled: false } }, { interpreter: '/y' }]);
    expect(await configuration(params, {} as never, next as never)).toEqual([{ depth: 4 }, { interpreter: '/y' }]);
  });

  it('hides code lenses when orps.codeLens.enabled is off', async () => {
    const next = vi.fn(async () => [{ command: { title: 't', command: 'orps.optimize', arguments: [] } }]);
    expect(await middleware(hooks(false)).provideCodeLenses!({} as never, {} as never, next as never)).toEqual([]);
    expect(next).not.toHaveBeenCalled();
  });

  it("makes a finished search's lens open the report; the running one still cancels", () => {
    const args = [{ uri: 'file:///p/m.py', function: 'f' }];
    const lenses = showReportLenses([
      { command: { title: 'ORPS: 6/6 tests - 3.0x faster', command: 'orps.optimize', arguments: args } },
      { command: { title: 'ORPS: searching... (click to cancel)', command: 'orps.cancel', arguments: args } },
    ] as never);
    expect(lenses.map((lens) => lens.command!.command)).toEqual(['orps.showReport', 'orps.cancel']);
    expect(lenses[0].command!.arguments).toBe(args);
    expect(lenses[0].command!.title).toBe('ORPS: 6/6 tests - 3.0x faster');
  });

  it('lets progress through to the notification and shows it in the status bar', () => {
    const h = hooks();
    const next = vi.fn();
    const value = { kind: 'report', message: 'round 1/3' } as const;
    middleware(h).handleWorkDoneProgress!('orps-1', value, next);
    expect(h.onProgress).toHaveBeenCalledWith('orps-1', value);
    expect(next).toHaveBeenCalledWith('orps-1', value);
  });

  it("turns a rejected server command (a code action's, a lens's) into one hook call, not a rejection", async () => {
    const h = hooks();
    const executeCommand = middleware(h).executeCommand!;
    const ok = vi.fn(async () => ({ status: 'applied' }));
    expect(await executeCommand('orps.optimize', [{ uri: 'file:///p/m.py' }], ok as never)).toEqual({ status: 'applied' });
    expect(h.onCommandError).not.toHaveBeenCalled();
    const invalid = Object.assign(new Error('orps.optimize: position must be a position {line, character}'), { code: -32602 });
    const rejected = vi.fn(async () => Promise.reject(invalid));
    await expect(executeCommand('orps.optimize', [{ uri: 7 }], rejected as never)).resolves.toBeUndefined();
    expect(h.onCommandError).toHaveBeenCalledExactlyOnceWith('orps.optimize', invalid);
  });

  it('restarts a crashed server three times in three minutes, then gives up once', () => {
    let now = 0;
    const giveUp = vi.fn();
    const policy = new RestartPolicy(giveUp, 3, 180_000, () => now);
    for (let i = 0; i < 3; i++) expect(policy.closed()).toEqual({ action: CloseAction.Restart, handled: true });
    expect(policy.closed()).toEqual({ action: CloseAction.DoNotRestart, handled: true });
    expect(giveUp).toHaveBeenCalledOnce();
    now = 10 * 60_000; // old crashes are forgiven
    expect(policy.closed().action).toBe(CloseAction.Restart);
    expect(policy.error(new Error('x'), undefined, 1)).toEqual({ action: ErrorAction.Continue, handled: true });
    expect(policy.error(new Error('x'), undefined, 5).action).toBe(ErrorAction.Shutdown);
  });
});
