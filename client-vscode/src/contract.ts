// Generated from server/orps_lsp/contract.py by `python -m orps_lsp.codegen`: do not edit.

/** The commands the server registers (workspace/executeCommand). */
export const Command = {
  optimize: 'orps.optimize',
  solve: 'orps.solve',
  cancel: 'orps.cancel',
  debugInfo: 'orps.debugInfo',
  getReport: 'orps.getReport',
} as const;
export type Command = (typeof Command)[keyof typeof Command];

/** What became of a search command: its result's `status`. */
export const Status = {
  applied: 'applied',
  nothingBetter: 'nothing better',
  stale: 'stale',
  discarded: 'discarded',
  notApplied: 'not applied',
  cancelled: 'cancelled',
  alreadyRunning: 'already running',
  noFunction: 'no function',
  error: 'error',
} as const;
export type Status = (typeof Status)[keyof typeof Status];
