// Review before apply: the server offers a search's winner as workspace/applyEdit
// labelled "ORPS: <function>". Unless orps.autoApply is on, the client shows
// the change in a diff editor and applies it only when the user says Apply,
// after checking that the document has not moved on since the search.
import type { Disposable, Uri } from 'vscode';
import { DISCARDED_IN_REVIEW, EDIT_LABEL_PREFIX } from './contract';
import * as api from './vscodeapi';

export interface Position {
  line: number;
  character: number;
}
export interface TextEdit {
  range: { start: Position; end: Position };
  newText: string;
}
/** The fields of an LSP WorkspaceEdit that carry text edits. */
export interface WorkspaceEdit {
  changes?: Record<string, TextEdit[]>;
  documentChanges?: Array<{ textDocument?: { uri: string }; edits?: TextEdit[] } | object>;
}
export interface ApplyParams {
  label?: string;
  edit: WorkspaceEdit;
}
export interface ApplyResult {
  applied: boolean;
  failureReason?: string;
}

export const APPLY = 'Apply';
export const DISCARD = 'Discard';
export const DISCARDED = DISCARDED_IN_REVIEW;

export interface ReviewUi {
  autoApply(): boolean;
  /** The open document's text; undefined when it is not open. */
  documentText(uri: string): string | undefined;
  /** Show current vs. proposed; returns what closes the diff again. */
  showDiff(uri: string, proposed: string, title: string): Promise<() => Promise<void>>;
  ask(text: string, ...choices: string[]): Promise<string | undefined>;
}

/** Is this edit a search result the user should review? */
export const isOrpsEdit = (params: ApplyParams): boolean => (params.label ?? '').startsWith(EDIT_LABEL_PREFIX);

/** The text edits of a workspace edit, by document URI (file creations and renames carry none). */
export function editsByDocument(edit: WorkspaceEdit): Map<string, TextEdit[]> {
  const result = new Map<string, TextEdit[]>();
  const add = (uri: string, edits: TextEdit[]) => result.set(uri, [...(result.get(uri) ?? []), ...edits]);
  for (const [uri, edits] of Object.entries(edit.changes ?? {})) add(uri, edits);
  for (const change of edit.documentChanges ?? []) {
    if ('textDocument' in change && change.textDocument && 'edits' in change && Array.isArray(change.edits)) {
      add(change.textDocument.uri, change.edits);
    }
  }
  return result;
}

/** The first document the edit expects at a version other than the one open now (the text moved on). */
export function staleDocument(edit: WorkspaceEdit, openVersion: (uri: string) => number | undefined): string | undefined {
  for (const change of edit.documentChanges ?? []) {
    const document = 'textDocument' in change ? (change.textDocument as { uri: string; version?: number | null }) : undefined;
    if (!document || typeof document.version !== 'number') continue;
    const open = openVersion(document.uri);
    if (open !== undefined && open !== document.version) return document.uri;
  }
  return undefined;
}

/** Start offsets of the lines, split where LSP splits them (\n, \r\n, \r). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\r' && text[i + 1] === '\n') i++;
    if (text[i] === '\n' || text[i] === '\r') starts.push(i + 1);
  }
  return starts;
}

/** Apply non-overlapping LSP text edits (positions in UTF-16 units, as JS strings count). */
export function applyTextEdits(text: string, edits: TextEdit[]): string {
  const starts = lineStarts(text);
  const offset = ({ line, character }: Position): number => {
    if (line >= starts.length) return text.length;
    const lineEnd = line + 1 < starts.length ? starts[line + 1] : text.length;
    return Math.min(starts[line] + character, lineEnd);
  };
  const sorted = [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start));
  let result = text;
  for (const edit of sorted) {
    result = result.slice(0, offset(edit.range.start)) + edit.newText + result.slice(offset(edit.range.end));
  }
  return result;
}

/** The review flow; `apply` is the language client's own applyEdit handling. */
export async function review(params: ApplyParams, ui: ReviewUi, apply: () => Promise<ApplyResult>): Promise<ApplyResult> {
  if (!isOrpsEdit(params) || ui.autoApply()) return apply();
  const label = params.label ?? 'ORPS';
  const closers: Array<() => Promise<void>> = [];
  try {
    for (const [uri, edits] of editsByDocument(params.edit)) {
      const current = ui.documentText(uri);
      if (current === undefined) continue; // not open: the question alone has to do
      closers.push(await ui.showDiff(uri, applyTextEdits(current, edits), `${label}: current ↔ proposed`));
    }
    const answer = await ui.ask(`${label}: apply the proposed change${closers.length ? ' shown in the diff' : ''}?`, APPLY, DISCARD);
    if (answer !== APPLY) return { applied: false, failureReason: DISCARDED };
  } finally {
    await Promise.all(closers.map((close) => close().catch(() => undefined)));
  }
  return apply();
}

/** The review in VS Code: a diff editor against a virtual document, and a non-modal question. */
export class EditorReview implements ReviewUi {
  static readonly scheme = 'orps-proposal';
  private readonly proposals = new Map<string, string>(); // orps-proposal: URI -> proposed text

  constructor(readonly autoApply: () => boolean) {}

  /** Serves the proposed texts to the diff editor. */
  register(): Disposable {
    return api.registerTextDocumentContentProvider(EditorReview.scheme, (uri: Uri) => this.proposals.get(uri.toString()) ?? '');
  }

  documentText(uri: string): string | undefined {
    return api.findTextDocument(uri)?.getText();
  }

  async showDiff(uri: string, proposed: string, title: string): Promise<() => Promise<void>> {
    const current = api.Uri.parse(uri);
    // The file's own path keeps its language (Python) in the diff; the query makes each proposal a new document.
    const right = current.with({ scheme: EditorReview.scheme, query: String(Date.now()) });
    this.proposals.set(right.toString(), proposed);
    await api.showDiff(current, right, title);
    return async () => {
      await api.closeTabsOf(right);
      this.proposals.delete(right.toString());
    };
  }

  /** Non-modal, so the diff stays readable and scrollable while the question waits. */
  ask(text: string, ...choices: string[]): Promise<string | undefined> {
    return Promise.resolve(api.showInformationMessage(text, ...choices));
  }
}
