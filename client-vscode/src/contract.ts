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

/** Where a search is: SearchProgress.phase. */
export const Phase = {
  queued: 'queued',
  loading: 'loading model',
  starting: 'starting',
  baseline: 'baseline',
  generate: 'generate',
  execute: 'execute',
  critique: 'critique',
  measure: 'measure',
  done: 'done',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

export const PROGRESS_NOTIFICATION = 'orps/progress';
export const PROBLEM_NOTIFICATION = 'orps/problem';
/** The prefix of the label of each workspace/applyEdit that carries a search's result. */
export const EDIT_LABEL_PREFIX = 'ORPS: ';
/** The failureReason of an edit the user discarded in the editor's own review. */
export const DISCARDED_IN_REVIEW = 'discarded in the review';

/** What a message the user can act on is about (orps/problem). */
export const Problem = {
  settings: 'settings',
  model: 'model',
  tests: 'tests',
} as const;
export type Problem = (typeof Problem)[keyof typeof Problem];

/** What a search report's warning is about: its `code` (the JSON report's warnings). */
export const WarningCode = {
  noTests: 'no-tests',
  originalFails: 'original-fails',
  testsSkip: 'tests-skip',
  weakTests: 'weak-tests',
  originalError: 'original-error',
  scaling: 'scaling',
  undocumentedRaise: 'undocumented-raise',
} as const;
export type WarningCode = (typeof WarningCode)[keyof typeof WarningCode];

/** The params of orps/problem: a message (window/showMessage's `type`) with the code of its fix. */
export interface ProblemMessage {
  problem: Problem;
  message: string;
  type: number;
}

/** The params of orps/progress: a search's state as data, beside the $/progress of the same token. */
export interface SearchProgress {
  token: string;
  function: string;
  mode: string;
  phase: Phase;
  round: number;
  rounds: number;
  candidate: number;
  candidates: number;
  bestPassed: number | null;
  bestTotal: number | null;
  bestSpeedup: number | null;
  fraction: number | null;
}
