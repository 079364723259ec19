// The search report in a webview. The page itself comes from the server
// (orps_lsp/report_html.py, the same page `orps-lsp optimize --report` writes),
// so the picture is drawn by one piece of code for the CLI and the editor.
import { randomBytes } from 'node:crypto';
import type { WebviewPanel } from 'vscode';
import { Command } from './contract';
import * as api from './vscodeapi';

export const GET_REPORT = Command.getReport;

/** What orps.getReport is asked for: a document and a function (by name, or the one at a position). */
export interface ReportTarget {
  uri: string;
  position?: { line: number; character: number };
  function?: string;
}

/** The page with a strict CSP: nothing from the network, only its one script, stamped with our nonce. */
export function webviewHtml(html: string, nonce: string, cspSource: string): string {
  const csp = [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    "style-src 'unsafe-inline'",
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return html
    .replace(/<head>/i, `<head>\n<meta http-equiv="Content-Security-Policy" content="${csp}">`)
    .replace('<script>', `<script nonce="${nonce}">`); // the page has exactly one, attribute-less
}

export const newNonce = (): string => randomBytes(18).toString('base64');

/** The answer of orps.getReport: `{html}`, or null when that function has no report yet. */
export function reportHtml(answer: unknown): string | undefined {
  if (answer && typeof answer === 'object' && typeof (answer as { html?: unknown }).html === 'string') {
    return (answer as { html: string }).html;
  }
  return undefined;
}

/** One report panel, reused: a second report replaces the first instead of piling up tabs. */
export class ReportView {
  private panel: WebviewPanel | undefined;

  show(title: string, html: string): void {
    if (!this.panel) {
      this.panel = api.createWebviewPanel('orps.report', title);
      this.panel.onDidDispose(() => {
        this.panel = undefined;
      });
    } else {
      this.panel.reveal(undefined, true);
    }
    this.panel.title = title;
    this.panel.webview.html = webviewHtml(html, newNonce(), this.panel.webview.cspSource);
  }

  dispose(): void {
    this.panel?.dispose();
  }
}
