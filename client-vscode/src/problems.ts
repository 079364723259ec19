// Why the server cannot start, found before it is started, and told once with
// the button that fixes it: the user gets one message, not the language
// client's stack of "couldn't create connection" and "server crashed" popups.
import { execFile } from 'node:child_process';

export type ProblemKind = 'no-interpreter' | 'not-installed' | 'broken-install' | 'crashed';

export interface Problem {
  kind: ProblemKind;
  interpreter: string;
  detail: string;
}

export const INSTALL_HINT = 'pip install orps-lsp';

// Imports what `python -m orps_lsp.cli --stdio` needs (pygls included) without starting anything.
const PROBE = 'import orps_lsp, orps_lsp.lsp.server; print(orps_lsp.__version__)';

export type Runner = (command: string, args: string[]) => Promise<{ code: number | string | null; stdout: string; stderr: string }>;

export const runProcess: Runner = (command, args) =>
  new Promise((resolve) => {
    execFile(command, args, { timeout: 60_000, windowsHide: true }, (error, stdout, stderr) => {
      // ENOENT (no such program) arrives as a string code; a failed exit as a number.
      const code = error ? ((error as NodeJS.ErrnoException).code ?? 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });

/** The server's version in that interpreter, or the problem that keeps it from starting. */
export async function probe(interpreter: string, run: Runner = runProcess): Promise<{ version: string } | Problem> {
  const { code, stdout, stderr } = await run(interpreter, ['-c', PROBE]);
  if (code === 0) return { version: stdout.trim() };
  if (code === 'ENOENT' || code === 'EACCES') {
    return { kind: 'no-interpreter', interpreter, detail: `${interpreter} was not found (${code})` };
  }
  const lastLine = stderr.trim().split('\n').pop() ?? '';
  if (/No module named ['"]?orps_lsp['"]?$/.test(lastLine)) {
    return { kind: 'not-installed', interpreter, detail: lastLine };
  }
  return { kind: 'broken-install', interpreter, detail: lastLine || `exit code ${code}` };
}

export interface Advice {
  text: string;
  actions: Action[];
}

export type Action = 'Install orps-lsp' | 'Select Interpreter' | 'Open Settings' | 'Show Output' | 'Restart Server';

export function advice(problem: Problem, hasPythonExtension: boolean): Advice {
  const where = `the Python interpreter ${problem.interpreter}`;
  switch (problem.kind) {
    case 'no-interpreter':
      return {
        text: `ORPS: ${where} was not found. Choose one in the setting orps.interpreter${hasPythonExtension ? ' or select one in the Python extension' : ''}.`,
        actions: hasPythonExtension ? ['Select Interpreter', 'Open Settings'] : ['Open Settings'],
      };
    case 'not-installed':
      return {
        text: `ORPS: the language server is not installed in ${where}. Install it (${INSTALL_HINT}) or choose another interpreter.`,
        actions: ['Install orps-lsp', 'Open Settings'],
      };
    case 'broken-install':
      return {
        text: `ORPS: the language server in ${where} cannot start: ${problem.detail}. Reinstall it (${INSTALL_HINT}) or choose another interpreter.`,
        actions: ['Install orps-lsp', 'Open Settings', 'Show Output'],
      };
    case 'crashed':
      return {
        text: `ORPS: the language server stopped: ${problem.detail}. The ORPS output has its last words.`,
        actions: ['Show Output', 'Restart Server'],
      };
  }
}

/** The shell command the 'Install orps-lsp' button types into a terminal. */
export function installCommand(interpreter: string): string {
  const quoted = /[\s"'$`\\]/.test(interpreter) ? `"${interpreter.replace(/(["$`\\])/g, '\\$1')}"` : interpreter;
  return `${quoted} -m pip install --upgrade orps-lsp`;
}
