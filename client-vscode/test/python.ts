// A Python with orps_lsp for the tests that check the client against the server's
// own code: $ORPS_TEST_PYTHON, the repository's .venv (scripts/setup.sh), or python3.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const candidates = [process.env.ORPS_TEST_PYTHON, join(__dirname, '..', '..', '.venv', 'bin', 'python'), 'python3'].filter(
  (python): python is string => !!python && (!python.includes('/') || existsSync(python)),
);

/** stdout of `python -c code` in the first candidate that has orps_lsp; a string starting "skip:" otherwise. */
export function runServerPython(code: string, input?: string): { stdout: string } | string {
  for (const python of candidates) {
    const run = spawnSync(python, ['-c', code], { encoding: 'utf8', input });
    if (run.status === 0) return { stdout: run.stdout };
    if (!/No module named '?orps_lsp/.test(run.stderr)) return `skip: ${python} failed: ${run.stderr.trim().split('\n').pop()}`;
  }
  return `skip: no Python with orps_lsp among ${candidates.join(', ')} (set ORPS_TEST_PYTHON)`;
}
