// Generated from server/orps_lsp/settings_schema.py by `python -m orps_lsp.codegen`: do not edit.

/** The server's settings (camelCase), sent to it in initializationOptions and workspace/configuration. */
export const SERVER_KEYS = [
  'model',
  'gpuLayers',
  'contextSize',
  'threads',
  'endpoint',
  'apiKey',
  'remoteModel',
  'parallel',
  'beamWidth',
  'expansions',
  'depth',
  'alpha',
  'beta',
  'maxLlmCalls',
  'maxGeneratedTokens',
  'maxSeconds',
  'seed',
  'temperature',
  'useCritic',
  'instructionCounter',
  'benchmarkSeconds',
  'scaling',
  'testPaths',
  'pytestArgs',
  'testTimeout',
  'runTimeout',
  'memoryMb',
  'generatedInputs',
  'compareExceptionMessages',
  'crosshairSeconds',
  'logLevel',
] as const;

/** The extension's own settings: never sent to the server (it reports keys it does not know). */
export const CLIENT_KEYS = [
  'interpreter',
  'autoApply',
  'codeLens.enabled',
  'trace.server',
] as const;
