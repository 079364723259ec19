import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runServerPython } from './python';
import { CLIENT_KEYS, SERVER_KEYS, clientSettings, needsRestart, serverSettings } from '../src/settings';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
const properties: Record<string, { default: unknown }> = manifest.contributes.configuration.properties;

function serverDefaults(): Record<string, unknown> | string {
  const run = runServerPython('import json; from orps_lsp.lsp.settings import Settings; print(json.dumps(Settings().to_editor_dict()))');
  return typeof run === 'string' ? run : JSON.parse(run.stdout);
}

describe('settings', () => {
  it('reads the client settings with their defaults', () => {
    expect(clientSettings(() => undefined)).toEqual({ interpreter: '', autoApply: false, codeLensEnabled: true });
    const values: Record<string, unknown> = { interpreter: ' /opt/py/bin/python ', autoApply: true, 'codeLens.enabled': false };
    expect(clientSettings((key) => values[key])).toEqual({ interpreter: '/opt/py/bin/python', autoApply: true, codeLensEnabled: false });
  });

  it('gives the server its own keys only', () => {
    const section = { beamWidth: 4, interpreter: 'x', autoApply: true, codeLens: { enabled: true }, trace: { server: 'off' }, model: null };
    expect(serverSettings(section)).toEqual({ beamWidth: 4, model: null });
    expect(serverSettings((key) => (key === 'depth' ? 5 : undefined))).toEqual({ depth: 5 });
    expect(serverSettings(null)).toEqual({});
  });

  it('restarts the server only when the interpreter changes', () => {
    expect(needsRestart((s) => s === 'orps.interpreter')).toBe(true);
    expect(needsRestart((s) => s === 'orps.beamWidth')).toBe(false);
  });

  it('contributes every server and client setting, and nothing else', () => {
    const expected = [...SERVER_KEYS, ...CLIENT_KEYS].map((key) => `orps.${key}`).sort();
    expect(Object.keys(properties).sort()).toEqual(expected);
    for (const [key, property] of Object.entries(properties)) {
      expect((property as { markdownDescription?: string }).markdownDescription, key).toBeTruthy();
    }
  });

  it("has the server's defaults (server/orps_lsp/lsp/settings.py)", (context) => {
    const defaults = serverDefaults();
    if (typeof defaults === 'string') {
      console.warn(defaults);
      return context.skip();
    }
    expect(Object.keys(defaults).sort()).toEqual([...SERVER_KEYS].sort());
    for (const key of SERVER_KEYS) expect(properties[`orps.${key}`].default, key).toEqual(defaults[key]);
  });
});
