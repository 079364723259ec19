import { describe, expect, it } from 'vitest';
import { newNonce, reportHtml, webviewHtml } from '../src/report';
import { runServerPython } from './python';


// The shape render_html() gives (server/orps_lsp/report_html.py): one attribute-less script.
const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ORPS optimize: f</title>
<style>.node{}</style>
</head>
<body><svg id="tree"><g class="node" data-node="0"></g></svg>
<script>window.ORPS_REPORT = {"code": "\\u003cscript\\u003e"};
(function () {})();</script>
</body>
</html>`;

describe('report webview', () => {
  it('puts a strict CSP in the head and stamps the one script with its nonce', () => {
    const html = webviewHtml(PAGE, 'abc123', 'vscode-webview://x');
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    expect(csp).toBe("default-src 'none'; img-src vscode-webview://x data:; style-src 'unsafe-inline'; script-src 'nonce-abc123'");
    expect(html.indexOf('Content-Security-Policy')).toBeLessThan(html.indexOf('<title>'));
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script nonce="abc123">']);
  });

  it('makes a fresh nonce each time', () => {
    expect(newNonce()).not.toBe(newNonce());
    expect(newNonce()).toMatch(/^[A-Za-z0-9+/=]{24}$/);
  });

  it('reads the answer of orps.getReport', () => {
    expect(reportHtml({ html: PAGE })).toBe(PAGE);
    expect(reportHtml(null)).toBeUndefined();
    expect(reportHtml({ html: 3 })).toBeUndefined();
  });

  it("stamps the server's real page (report_html.render_html) the same way", (context) => {
    const code = [
      'from orps_lsp.report import ExecutionReport, Node, SearchReport',
      'from orps_lsp.report_html import render_html',
      'nodes = [Node(id=0, parent=None, depth=0, code="def f(): return 1", valid=True, execution=ExecutionReport(passed=1, total=1))]',
      'print(render_html(SearchReport(mode="optimize", file="m.py", function="f", model="m", original_code="def f(): ...", original=ExecutionReport(), nodes=nodes, best_id=0)))',
    ].join('\n');
    const run = runServerPython(code);
    if (typeof run === 'string') {
      console.warn(run);
      return context.skip();
    }
    const html = webviewHtml(run.stdout, 'n0nce', 'vscode-webview://x');
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script nonce="n0nce">']);
    expect(html).toContain("script-src 'nonce-n0nce'");
    expect(html).toContain('window.ORPS_REPORT = ');
    expect(html).not.toMatch(/\son[a-z]+="/); // inline handlers would be blocked by the CSP
  });
});
