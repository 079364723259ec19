// Runs inside VS Code (see .vscode-test.mjs). Drives the real extension and the
// real server; only the model is scripted.
import * as assert from 'node:assert';
import * as vscode from 'vscode';

const EXTENSION = 'orps.orps-lsp';

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, seconds = 120): Promise<T> {
  for (let i = 0; i < seconds * 4; i++) {
    const value = await probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function openAt(name: string, functionName: string): Promise<vscode.TextEditor> {
  const [file] = await vscode.workspace.findFiles(name);
  const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(file));
  const line = editor.document.getText().split('\n').findIndex((l) => l.startsWith(`def ${functionName}`)) + 1;
  editor.selection = new vscode.Selection(line, 4, line, 4);
  return editor;
}

describe('ORPS in VS Code', () => {
  let api: { running: boolean; problem?: unknown };

  before(async () => {
    const extension = vscode.extensions.getExtension(EXTENSION);
    assert.ok(extension, `${EXTENSION} is not installed`);
    api = await extension.activate();
    await until('the server', () => api.running || api.problem);
    assert.strictEqual(api.problem, undefined, `the server did not start: ${JSON.stringify(api.problem)}`);
  });

  it('contributes its commands', async () => {
    const commands = await vscode.commands.getCommands(true);
    for (const id of ['orps.optimizeAtCursor', 'orps.solveAtCursor', 'orps.showReport', 'orps.restartServer', 'orps.showDebugInfo']) {
      assert.ok(commands.includes(id), id);
    }
    // Registered by the language client from the server's capabilities.
    assert.ok(commands.includes('orps.optimize') && commands.includes('orps.cancel'));
  });

  it('offers the code action on a function', async () => {
    const editor = await openAt('slowmath.py', 'has_duplicates');
    const actions = await until('code actions', async () => {
      const found = await vscode.commands.executeCommand<vscode.CodeAction[]>(
        'vscode.executeCodeActionProvider', editor.document.uri, editor.selection, vscode.CodeActionKind.RefactorRewrite.value);
      return found?.some((a) => a.title.startsWith('Optimize with ORPS')) ? found : undefined;
    }, 30);
    assert.ok(actions.length > 0);
  });

  it('optimizes the function at the cursor and applies it (orps.autoApply)', async () => {
    await vscode.workspace.getConfiguration('orps').update('autoApply', true, vscode.ConfigurationTarget.Workspace);
    const editor = await openAt('slowmath.py', 'has_duplicates');
    const result = await vscode.commands.executeCommand<{ status: string }>('orps.optimizeAtCursor');
    assert.ok(result, 'no answer from orps.optimize');
    await until('the applied change', () => editor.document.getText().includes('set(items)'), 30);
  });

  it('shows the search report in a webview', async () => {
    await openAt('slowmath.py', 'has_duplicates');
    await vscode.commands.executeCommand('orps.showReport');
    const tab = await until('the report tab', () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview), 20);
    assert.match(tab.label, /ORPS/);
  });

  it('restarts the server', async () => {
    await vscode.commands.executeCommand('orps.restartServer');
    await until('the server again', () => api.running);
  });
});
