import { homedir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from './mocks/vscodeapi';
import { DEFAULT_PYTHON, expand, pythonEnvironments, resolveInterpreter, type PythonEnvironments } from '../src/interpreter';


function pythonExtension(executable: string | undefined, fail = false): PythonEnvironments {
  return {
    getActiveEnvironmentPath: vi.fn(() => ({ path: '/envs/project' })),
    resolveEnvironment: vi.fn(async () => {
      if (fail) throw new Error('not ready');
      return { executable: { uri: executable ? { fsPath: executable } : undefined } };
    }),
    onDidChangeActiveEnvironmentPath: vi.fn(() => ({ dispose() {} })),
  };
}

describe('interpreter resolution', () => {
  beforeEach(() => api.reset());

  it('uses the setting first, expanded', async () => {
    const python = pythonExtension('/envs/project/bin/python');
    expect(await resolveInterpreter('${workspaceFolder}/.venv/bin/python', python, '/work/p')).toEqual({
      command: '/work/p/.venv/bin/python',
      source: 'setting',
    });
    expect(python.resolveEnvironment).not.toHaveBeenCalled();
    expect(expand('~/py/bin/python', undefined)).toBe(join(homedir(), 'py/bin/python'));
  });

  it("else the Python extension's selected interpreter", async () => {
    expect(await resolveInterpreter('', pythonExtension('/envs/project/bin/python'), '/work/p')).toEqual({
      command: '/envs/project/bin/python',
      source: 'Python extension',
    });
  });

  it('else python3, also when the Python extension fails or has no executable', async () => {
    const fallback = { command: DEFAULT_PYTHON, source: 'default' };
    expect(await resolveInterpreter('', undefined, undefined)).toEqual(fallback);
    expect(await resolveInterpreter('', pythonExtension(undefined), undefined)).toEqual(fallback);
    expect(await resolveInterpreter('', pythonExtension('/x', true), undefined)).toEqual(fallback);
    expect(DEFAULT_PYTHON).toBe(process.platform === 'win32' ? 'python' : 'python3');
  });

  it('finds the Python extension API only when the extension is installed', async () => {
    expect(await pythonEnvironments()).toBeUndefined();
    const environments = pythonExtension('/p');
    api.state.extensions['ms-python.python'] = { isActive: false, activate: vi.fn(async () => ({ environments })) };
    expect(await pythonEnvironments()).toBe(environments);
  });
});
