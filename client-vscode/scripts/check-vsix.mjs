#!/usr/bin/env node
// Opens the packaged .vsix and checks what VS Code will read from it: the
// commands, the settings, the activation events and the bundled entry point.
// Usage: node scripts/check-vsix.mjs [path/to.vsix]   (default: ./orps-lsp-<version>.vsix)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { name, version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const vsix = process.argv[2] ?? join(root, `${name}-${version}.vsix`);

const COMMANDS = [
  'orps.optimizeAtCursor', 'orps.solveAtCursor', 'orps.showReport', 'orps.restartServer', 'orps.showDebugInfo',
  'orps.toggleCodeLens', 'orps.showOutput',
];
// Every setting package.json contributes (generated from server/orps_lsp/settings_schema.py,
// drift-tested in tests/test_settings_schema.py): the packaged manifest must carry them all.
const SETTINGS = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).contributes.configuration.properties);
if (SETTINGS.length < 30) throw new Error(`package.json contributes only ${SETTINGS.length} settings`);

/** name -> contents of every file in the zip. */
function readZip(path) {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      const files = new Map();
      zip.on('entry', (entry) => {
        zip.openReadStream(entry, (err, stream) => {
          if (err) return reject(err);
          const chunks = [];
          stream.on('data', (chunk) => chunks.push(chunk));
          stream.on('end', () => {
            files.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(files));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

const problems = [];
const expect = (ok, text) => ok || problems.push(text);

const files = await readZip(vsix);
const manifest = JSON.parse(files.get('extension/package.json')?.toString('utf8') ?? '{}');
const contributes = manifest.contributes ?? {};
const commands = (contributes.commands ?? []).map((c) => c.command);
const settings = Object.keys(contributes.configuration?.properties ?? {});
const events = manifest.activationEvents ?? [];

expect(manifest.name === 'orps-lsp' && manifest.publisher === 'orps', `name/publisher: ${manifest.name}/${manifest.publisher}`);
expect(/^\^1\.(8[5-9]|9\d)/.test(manifest.engines?.vscode ?? ''), `engines.vscode: ${manifest.engines?.vscode}`);
for (const command of COMMANDS) expect(commands.includes(command), `command ${command} not contributed`);
for (const setting of SETTINGS) expect(settings.includes(setting), `setting ${setting} not contributed`);
for (const setting of settings) expect(SETTINGS.includes(setting), `unexpected setting ${setting}`);
expect(events.includes('onLanguage:python'), 'activation event onLanguage:python missing');
for (const command of COMMANDS) expect(events.includes(`onCommand:${command}`), `activation event onCommand:${command} missing`);
expect(manifest.main === './dist/extension.js', `main is ${manifest.main}`);
const entry = files.get('extension/dist/extension.js');
expect(entry && entry.length > 50_000, 'dist/extension.js missing or too small to hold the bundled language client');
expect(entry && !/require\(["']vscode-languageclient/.test(entry.toString('utf8')), 'vscode-languageclient is not bundled');
expect(entry?.toString('utf8').includes('orps.getReport') === true, 'dist/extension.js is not this extension');
const stray = [...files.keys()].filter((f) => /^extension\/(node_modules|src|test)\//.test(f));
expect(stray.length === 0, `files that should not ship: ${stray.slice(0, 5).join(', ')}`);

if (problems.length) {
  console.error(`${vsix}: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`${vsix}: ok (${commands.length} commands, ${settings.length} settings, ${events.length} activation events, ` +
  `dist/extension.js ${(entry.length / 1024).toFixed(0)} KiB, ${files.size} files)`);
