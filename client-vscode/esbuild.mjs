// Bundles the extension and vscode-languageclient into one file, dist/extension.js,
// so the .vsix carries no node_modules (`vsce package --no-dependencies`).
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const context = await esbuild.context({
  entryPoints: ['src/extension.ts'],
  bundle: true,
  outfile: 'dist/extension.js',
  format: 'cjs',
  platform: 'node',
  target: 'node18', // the Node of VS Code 1.85's extension host
  external: ['vscode'], // provided by the extension host
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'info',
});
if (watch) {
  await context.watch();
} else {
  await context.rebuild();
  await context.dispose();
}
