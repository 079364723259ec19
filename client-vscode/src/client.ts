// How the language client is set up: the server's command line, the
// initialization options, and the middleware that adapts the server's
// features to this editor (settings filtering, code-lens toggle, progress).
import type { CancellationToken, CodeLens, TextDocument } from 'vscode';
import {
  CloseAction,
  ErrorAction,
  RevealOutputChannelOn,
  type CloseHandlerResult,
  type ErrorHandler,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type Middleware,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { Command } from './contract';
import { SECTION, serverSettings } from './settings';
import type { ProgressValue } from './status';

export const CLIENT_ID = 'orps'; // also where vscode-languageclient reads orps.trace.server
export const CLIENT_NAME = 'ORPS';
const SEARCH_COMMANDS = new Set<string>([Command.optimize, Command.solve]);

/** `python -m orps_lsp.cli --stdio`, in the workspace folder so relative test paths resolve there. */
export function serverOptions(python: string, cwd: string | undefined, env: NodeJS.ProcessEnv = process.env): ServerOptions {
  return {
    command: python,
    args: ['-m', 'orps_lsp.cli', '--stdio'],
    options: { cwd, env: { ...env, PYTHONUNBUFFERED: '1' } },
  };
}

/**
 * The settings under "orps" (the server ignores the rest), `reviewEdits`:
 * this client shows the diff and asks Apply/Discard itself when the edit
 * arrives, so the server should send it without asking first; and
 * `searchProgress`: this client shows orps/progress in its status bar; and
 * `problemCodes`: it offers the fix of a problem by the code orps/problem carries.
 */
export function initializationOptions(settings: Record<string, unknown>): Record<string, unknown> {
  return { [SECTION]: serverSettings(settings), reviewEdits: true, searchProgress: true, problemCodes: true };
}

export interface MiddlewareHooks {
  codeLensEnabled(): boolean;
  onProgress(token: string | number, value: ProgressValue): void;
  /** A server command run by VS Code (a code action, a lens) was rejected: tell the user once. */
  onCommandError(command: string, error: unknown): void;
}

export function middleware(hooks: MiddlewareHooks): Middleware {
  return {
    workspace: {
      // The server warns about keys it does not know: give it its own keys only.
      configuration: async (params, token, next) => {
        const values = await next(params, token);
        if (!Array.isArray(values)) return values;
        return values.map((value, i) => (params.items[i]?.section === SECTION ? serverSettings(value) : value));
      },
    },
    provideCodeLenses: async (document: TextDocument, token: CancellationToken, next) => {
      if (!hooks.codeLensEnabled()) return [];
      return showReportLenses((await next(document, token)) ?? []);
    },
    handleWorkDoneProgress: (token, params, next) => {
      hooks.onProgress(token, params as ProgressValue);
      next(token, params);
    },
    // Without this, a rejected orps.optimize from a code action would surface as VS Code's
    // generic "command failed" (and a rejection nobody handles); here it is one ORPS message.
    executeCommand: async (command, args, next) => {
      try {
        return await next(command, args);
      } catch (error) {
        hooks.onCommandError(command, error);
        return undefined;
      }
    },
  };
}

/**
 * A finished search's lens re-runs the search on the server; here a click opens
 * the search report instead (re-running stays one code action away). The
 * "searching... (click to cancel)" lens is left as it is.
 */
export function showReportLenses(lenses: CodeLens[]): CodeLens[] {
  for (const lens of lenses) {
    const command = lens.command;
    if (command && SEARCH_COMMANDS.has(command.command)) {
      lens.command = { ...command, command: 'orps.showReport', tooltip: 'Show the search report' };
    }
  }
  return lenses;
}

/**
 * Restart a crashed server a few times, quietly; then stop and say so once
 * (through `giveUp`) instead of the language client's own popups.
 */
export class RestartPolicy implements ErrorHandler {
  private closes: number[] = [];

  constructor(
    private readonly giveUp: () => void,
    private readonly maxRestarts = 3,
    private readonly windowMs = 3 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  error(_error: Error, _message: unknown, count: number | undefined): ErrorHandlerResult {
    return { action: count !== undefined && count > 3 ? ErrorAction.Shutdown : ErrorAction.Continue, handled: true };
  }

  closed(): CloseHandlerResult {
    const now = this.now();
    this.closes = [...this.closes.filter((t) => now - t < this.windowMs), now];
    if (this.closes.length <= this.maxRestarts) return { action: CloseAction.Restart, handled: true };
    this.giveUp();
    return { action: CloseAction.DoNotRestart, handled: true };
  }
}

export function clientOptions(
  settings: Record<string, unknown>,
  hooks: MiddlewareHooks,
  errorHandler: ErrorHandler,
  outputChannel: LanguageClientOptions['outputChannel'],
): LanguageClientOptions {
  return {
    documentSelector: [{ scheme: 'file', language: 'python' }], // the tests run on files on disk
    synchronize: { configurationSection: SECTION }, // a settings change reaches the server, which then pulls
    initializationOptions: initializationOptions(settings),
    outputChannel,
    revealOutputChannelOn: RevealOutputChannelOn.Never, // problems come as one message with a button
    errorHandler,
    initializationFailedHandler: () => false, // the output has the reason; no retry loop
    middleware: middleware(hooks),
  };
}
