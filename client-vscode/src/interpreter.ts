// Which Python starts the server: the `orps.interpreter` setting, else the
// interpreter selected in the Python extension (ms-python.python), else python3.
import * as os from 'node:os';
import * as path from 'node:path';
import * as api from './vscodeapi';

/** The part of the Python extension's API that we use (its `environments` API, 2023+). */
export interface PythonEnvironments {
  getActiveEnvironmentPath(resource?: unknown): { path: string };
  resolveEnvironment(environment: { path: string } | string): Promise<{ executable: { uri?: { fsPath: string } } } | undefined>;
  onDidChangeActiveEnvironmentPath(listener: () => unknown): { dispose(): unknown };
}

export interface Interpreter {
  command: string;
  source: 'setting' | 'Python extension' | 'default';
}

export const DEFAULT_PYTHON = process.platform === 'win32' ? 'python' : 'python3';

/** `${workspaceFolder}`, `${userHome}` and a leading `~` in the setting, as VS Code users write them. */
export function expand(value: string, workspaceFolder: string | undefined): string {
  let result = value.replace(/\$\{userHome\}/g, os.homedir());
  if (workspaceFolder) result = result.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  if (result === '~' || result.startsWith('~/')) result = path.join(os.homedir(), result.slice(1));
  return result;
}

export async function resolveInterpreter(
  configured: string,
  python: PythonEnvironments | undefined,
  workspaceFolder: string | undefined,
): Promise<Interpreter> {
  if (configured) return { command: expand(configured, workspaceFolder), source: 'setting' };
  if (python) {
    try {
      const active = python.getActiveEnvironmentPath(workspaceFolder ? api.Uri.file(workspaceFolder) : undefined);
      const resolved = await python.resolveEnvironment(active);
      const executable = resolved?.executable.uri?.fsPath;
      if (executable) return { command: executable, source: 'Python extension' };
    } catch {
      // A Python extension that fails to answer must not keep our server from starting.
    }
  }
  return { command: DEFAULT_PYTHON, source: 'default' };
}

/** The Python extension's environments API, activating the extension if it is installed. */
export async function pythonEnvironments(): Promise<PythonEnvironments | undefined> {
  const extension = api.getExtension<{ environments?: PythonEnvironments }>('ms-python.python');
  if (!extension) return undefined;
  try {
    const exports = extension.isActive ? extension.exports : await extension.activate();
    return exports?.environments;
  } catch {
    return undefined;
  }
}
