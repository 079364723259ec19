import { describe, expect, it } from 'vitest';
import { advice, installCommand, probe, type Runner } from '../src/problems';

const answers = (code: number | string, stdout = '', stderr = ''): Runner => async () => ({ code, stdout, stderr });

describe('why the server cannot start', () => {
  it('finds the server version when orps-lsp is installed', async () => {
    expect(await probe('python3', answers(0, '0.1.0\n'))).toEqual({ version: '0.1.0' });
  });

  it('tells a missing interpreter (a real spawn of a program that is not there)', async () => {
    const problem = await probe('/nonexistent/bin/python');
    expect(problem).toMatchObject({ kind: 'no-interpreter', interpreter: '/nonexistent/bin/python' });
  });

  it('tells orps-lsp missing from the interpreter', async () => {
    const stderr = 'Traceback (most recent call last):\n  File "<string>", line 1\nModuleNotFoundError: No module named \'orps_lsp\'\n';
    expect(await probe('/venv/bin/python', answers(1, '', stderr))).toEqual({
      kind: 'not-installed',
      interpreter: '/venv/bin/python',
      detail: "ModuleNotFoundError: No module named 'orps_lsp'",
    });
  });

  it('tells a broken install by its last line (a dependency missing)', async () => {
    const stderr = "Traceback...\nModuleNotFoundError: No module named 'pygls'\n";
    expect(await probe('py', answers(1, '', stderr))).toMatchObject({ kind: 'broken-install', detail: "ModuleNotFoundError: No module named 'pygls'" });
  });

  it('gives one message with the buttons that fix each problem', () => {
    const missing = advice({ kind: 'not-installed', interpreter: '/venv/bin/python', detail: '' }, true);
    expect(missing.text).toBe(
      'ORPS: the language server is not installed in the Python interpreter /venv/bin/python. Install it (pip install orps-lsp) or choose another interpreter.',
    );
    expect(missing.actions).toEqual(['Install orps-lsp', 'Open Settings']);
    expect(advice({ kind: 'no-interpreter', interpreter: 'python3', detail: '' }, true).actions).toEqual(['Select Interpreter', 'Open Settings']);
    expect(advice({ kind: 'no-interpreter', interpreter: 'python3', detail: '' }, false).actions).toEqual(['Open Settings']);
    expect(advice({ kind: 'crashed', interpreter: 'python3', detail: 'exit 1' }, false).actions).toEqual(['Show Output', 'Restart Server']);
  });

  it('quotes the interpreter in the install command when it needs it', () => {
    expect(installCommand('/venv/bin/python')).toBe('/venv/bin/python -m pip install --upgrade orps-lsp');
    expect(installCommand('/My Envs/py "3"/python')).toBe('"/My Envs/py \\"3\\"/python" -m pip install --upgrade orps-lsp');
  });
});
