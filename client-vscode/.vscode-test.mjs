// @vscode/test-cli: the extension in a real VS Code (downloaded on first run), on a
// copy of examples/slowmath, with a scripted model so a search takes seconds.
//   ORPS_TEST_PYTHON=/path/to/python-with-orps-lsp npm run test-e2e --workspace client-vscode
// Not part of CI: CI machines reach package registries only, not VS Code's downloads
// (test-e2e/code-server/run.sh is the variant that runs there).
import { defineConfig } from '@vscode/test-cli';
import { cpSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const python = process.env.ORPS_TEST_PYTHON ?? 'python3';
const work = mkdtempSync(join(tmpdir(), 'orps-vscode-test-'));
const project = join(work, 'slowmath');
cpSync(new URL('../examples/slowmath', import.meta.url), project, { recursive: true });
mkdirSync(join(project, '.vscode'));
writeFileSync(join(project, '.vscode', 'settings.json'), JSON.stringify({ 'orps.interpreter': python, 'orps.depth': 1, 'orps.expansions': 1 }));
const answers = join(work, 'answers.json');
writeFileSync(answers, JSON.stringify(['    return len(set(items)) != len(items)\n```']));

export default defineConfig({
  files: 'out-e2e/suite/**/*.test.js',
  version: process.env.VSCODE_VERSION ?? 'stable',
  workspaceFolder: project,
  env: { ORPS_SCRIPTED_MODEL: answers },
  launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
  mocha: { ui: 'bdd', timeout: 180_000 },
});
