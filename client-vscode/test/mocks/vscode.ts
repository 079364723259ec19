// Reached only if a test forgets to mock src/vscodeapi.ts: fail loudly.
throw new Error('the vscode module is not available in unit tests: mock ../src/vscodeapi');
