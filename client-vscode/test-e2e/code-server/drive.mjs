#!/usr/bin/env node
// End to end in a real VS Code (code-server) driven by headless Chromium:
// open the example project, optimize has_duplicates from the command palette,
// watch the status bar, review the diff, apply it, and open the search report.
// Started by run.sh, which installs code-server and the .vsix and starts both.
//
//   node drive.mjs URL WORKSPACE_FILE SCREENSHOT_DIR
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, file, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const step = (text) => console.log(`[e2e] ${text}`);
const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`) });
const failures = [];

async function palette(command) {
  await page.keyboard.press('F1');
  await page.keyboard.type(command);
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${command}"]`, { timeout: 20_000 });
  await page.keyboard.press('Enter');
}

/** Click a button of a notification whose text matches, if one shows up in time. */
async function clickNotificationButton(text, button, timeout) {
  const toast = page.locator('.notification-toast', { hasText: text });
  try {
    await toast.first().waitFor({ timeout });
  } catch {
    return false;
  }
  await toast.first().getByRole('button', { name: button, exact: true }).click();
  return true;
}

try {
  step(`opening ${url}`);
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  await page.waitForTimeout(3000);

  step('opening slowmath.py at has_duplicates');
  await page.keyboard.press('Control+P');
  await page.keyboard.type('slowmath.py');
  await page.waitForTimeout(1000);
  await page.keyboard.press('Enter');
  await page.waitForSelector('.monaco-editor .view-lines', { timeout: 30_000 });
  const line = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.startsWith('def has_duplicates')) + 2;
  await page.keyboard.press('Control+G');
  await page.keyboard.type(String(line));
  await page.keyboard.press('Enter');

  step('waiting for the server (status bar "ORPS")');
  const status = page.locator('.statusbar-item', { hasText: 'ORPS' });
  await status.first().waitFor({ timeout: 60_000 });
  await page.waitForFunction(() => [...document.querySelectorAll('.statusbar-item')].some((e) => e.textContent?.trim() === 'ORPS'), null, { timeout: 60_000 });
  await shot('1-ready');

  step('ORPS: Optimize Function at Cursor');
  await palette('ORPS: Optimize Function at Cursor');
  // Until the review starts: record what the status bar says, and answer an older
  // server's own "Apply it?" (Apply / Show diff / Discard) that comes before the diff.
  const seen = new Set();
  let diffShown = false;
  for (const deadline = Date.now() + 240_000; Date.now() < deadline && !diffShown; ) {
    for (const text of await page.locator('.statusbar-item').allInnerTexts()) if (text.includes('ORPS:')) seen.add(text.trim());
    if (seen.size === 1) await shot('2-searching');
    const serverQuestion = page.locator('.notification-toast', { hasText: 'Apply it?' });
    if (await serverQuestion.count()) await serverQuestion.first().getByRole('button', { name: 'Apply', exact: true }).click();
    diffShown = (await page.locator('.monaco-diff-editor').count()) > 0;
    await page.waitForTimeout(250);
  }
  step(`status bar during the search: ${JSON.stringify([...seen])}`);
  if (![...seen].some((t) => /ORPS: round \d+\/\d+, \d+\/\d+ tests/.test(t))) failures.push('the status bar never showed "round i/n, p/t tests"');

  step('reviewing the result');
  await page.waitForTimeout(1500);
  await shot('3-diff');
  if (!diffShown) failures.push('no diff editor for the review');
  if (!(await clickNotificationButton('apply the proposed change', 'Apply', 30_000))) failures.push('no Apply/Discard question');
  await page.waitForTimeout(2000);
  const text = await page.locator('.monaco-editor .view-lines').first().innerText();
  if (!/set\(items\)/.test(text)) failures.push('the applied change is not in the editor');
  await shot('4-applied');

  step('ORPS: Show Search Report');
  await palette('ORPS: Show Search Report');
  await page.waitForTimeout(4000);
  const frames = page.frames().filter((f) => f.url().includes('webview'));
  let nodes = 0;
  for (const frame of frames) nodes = Math.max(nodes, await frame.locator('svg g.node').count().catch(() => 0));
  step(`report webview: ${nodes} node boxes`);
  if (!nodes) {
    const messages = await page.locator('.notification-toast').allInnerTexts();
    step(`no report drawn; notifications: ${JSON.stringify(messages)}`);
    failures.push('the report webview shows no search tree');
  }
  await shot('5-report');
} catch (error) {
  failures.push(String(error));
  await shot('error').catch(() => undefined);
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(`[e2e] FAILED:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('[e2e] passed');
