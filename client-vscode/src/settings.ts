// The `orps` settings: which belong to the server, which to this extension.
//
// The server reads its keys from initializationOptions and workspace/configuration
// and reports any key it does not know, so the client-only keys (interpreter,
// autoApply, codeLens, trace) are filtered out before they reach it.

export const SECTION = 'orps';

// Both lists are generated from server/orps_lsp/settings_schema.py (`python -m orps_lsp.codegen`),
// with package.json's contributions.
export { CLIENT_KEYS, SERVER_KEYS } from './settingsKeys';
import { SERVER_KEYS } from './settingsKeys';

export interface ClientSettings {
  interpreter: string;
  autoApply: boolean;
  codeLensEnabled: boolean;
}

/** What reads one setting: a WorkspaceConfiguration's `get`, or a fake in tests. */
export type Reader = (key: string) => unknown;

export function clientSettings(get: Reader): ClientSettings {
  return {
    interpreter: typeof get('interpreter') === 'string' ? (get('interpreter') as string).trim() : '',
    autoApply: get('autoApply') === true,
    codeLensEnabled: get('codeLens.enabled') !== false,
  };
}

/** The server's keys only, from a reader or from the section's object. Unset values are left out. */
export function serverSettings(source: Reader | Record<string, unknown> | null | undefined): Record<string, unknown> {
  if (source === null || source === undefined) return {};
  const get: Reader = typeof source === 'function' ? source : (key) => source[key];
  const settings: Record<string, unknown> = {};
  for (const key of SERVER_KEYS) {
    const value = get(key);
    if (value !== undefined) settings[key] = value;
  }
  return settings;
}

/** Does a settings change mean the server process must start again (not just re-read its settings)? */
export const needsRestart = (affects: (section: string) => boolean): boolean => affects(`${SECTION}.interpreter`);
