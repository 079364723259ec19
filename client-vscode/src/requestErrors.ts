// A rejected request to the server, as the user hears of it: once, in words, and
// not at all when they cancelled it themselves. The server rejects a command whose
// argument is malformed with JSON-RPC InvalidParams, its message saying what was
// wrong (docs/lsp.md): that message is the whole story. Anything else that rejects
// is a failure of the server or the connection, for which the output has more.
import type { Button, Messages } from './messages';

/** JSON-RPC InvalidParams: the server found the command's argument malformed. */
export const INVALID_PARAMS = -32602;
/** LSP RequestCancelled: the request was cancelled (by the user). */
export const REQUEST_CANCELLED = -32800;

export interface Failure {
  text: string;
  showOutput: boolean;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function errorCode(error: unknown): number | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

/** Cancelled: LSP RequestCancelled, or the CancellationError ('Canceled') the language client turns it into. */
export function isCancelled(error: unknown): boolean {
  return errorCode(error) === REQUEST_CANCELLED || (error instanceof Error && error.name === 'Canceled');
}

/** What to tell the user about `what` ("the optimize request") rejected with `error`; undefined: nothing. */
export function describeFailure(what: string, error: unknown): Failure | undefined {
  if (isCancelled(error)) return undefined;
  if (errorCode(error) === INVALID_PARAMS) return { text: `ORPS: the server refused ${what}: ${messageOf(error)}`, showOutput: false };
  return { text: `ORPS: ${what} failed: ${messageOf(error)}`, showOutput: true };
}

/** Show the one message for a rejected request (see describeFailure). */
export async function tellFailure(messages: Messages, what: string, error: unknown, showOutput: () => unknown): Promise<void> {
  const failure = describeFailure(what, error);
  if (!failure) return;
  const buttons: Button[] = failure.showOutput ? [{ title: 'Show Output', run: showOutput }] : [];
  await messages.show('error', failure.text, buttons);
}
