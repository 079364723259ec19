import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Unit tests run in plain Node: `vscode` does not exist there. src/vscodeapi.ts is
// mocked for every test (test/setup.ts), and the language client, which imports
// `vscode` itself, is replaced by a small fake.
export default defineConfig({
  resolve: {
    alias: {
      vscode: fileURLToPath(new URL('./test/mocks/vscode.ts', import.meta.url)),
      'vscode-languageclient/node': fileURLToPath(new URL('./test/mocks/languageclient.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    restoreMocks: true,
    setupFiles: ['test/setup.ts'],
  },
});
