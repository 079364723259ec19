import { describe, expect, it, vi } from 'vitest';
import { APPLY, DISCARD, DISCARDED, applyTextEdits, editsByDocument, review, staleDocument, type ReviewUi } from '../src/review';

const URI = 'file:///p/slowmath.py';
const SOURCE = 'import os\r\ndef f(xs):\r\n    return sorted(xs)[0]\r\n\r\ndef g():\r\n    pass';
const EDIT = { range: { start: { line: 2, character: 0 }, end: { line: 3, character: 0 } }, newText: '    return min(xs)\r\n' };

function ui(answer: string | undefined, autoApply = false) {
  const close = vi.fn(async () => undefined);
  const fake = {
    autoApply: () => autoApply,
    documentText: vi.fn((uri: string) => (uri === URI ? SOURCE : undefined)),
    showDiff: vi.fn(async () => close),
    ask: vi.fn(async () => answer),
  } satisfies ReviewUi;
  return { fake, close };
}

const params = (label = 'ORPS: f') => ({
  label,
  edit: { documentChanges: [{ textDocument: { uri: URI, version: 3 }, edits: [EDIT] }] },
});

describe('applying text edits', () => {
  it('replaces whole lines as the server sends them, CRLF kept', () => {
    expect(applyTextEdits(SOURCE, [EDIT])).toBe(SOURCE.replace('sorted(xs)[0]', 'min(xs)'));
  });

  it('applies several edits, last first, and clamps past the end', () => {
    const edits = [
      { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 9 } }, newText: 'import sys' },
      { range: { start: { line: 5, character: 4 }, end: { line: 99, character: 0 } }, newText: 'return 1\n' },
    ];
    expect(applyTextEdits('import os\na\nb\nc\nd\n    pass', edits)).toBe('import sys\na\nb\nc\nd\n    return 1\n');
  });

  it('collects edits from changes and documentChanges', () => {
    const edits = editsByDocument({ changes: { [URI]: [EDIT] }, documentChanges: [{ textDocument: { uri: URI }, edits: [EDIT] }, { kind: 'create', uri: 'x' }] });
    expect([...edits.keys()]).toEqual([URI]);
    expect(edits.get(URI)).toHaveLength(2);
  });

  it('finds a document that moved on since the search', () => {
    expect(staleDocument(params().edit, () => 3)).toBeUndefined();
    expect(staleDocument(params().edit, () => 4)).toBe(URI);
    expect(staleDocument(params().edit, () => undefined)).toBeUndefined(); // closed: the editor checks
  });
});

describe('review before apply', () => {
  it('shows the diff, then applies when the user says Apply', async () => {
    const { fake, close } = ui(APPLY);
    const apply = vi.fn(async () => ({ applied: true }));
    expect(await review(params(), fake, apply)).toEqual({ applied: true });
    expect(fake.showDiff).toHaveBeenCalledWith(URI, SOURCE.replace('sorted(xs)[0]', 'min(xs)'), 'ORPS: f: current ↔ proposed');
    expect(fake.ask).toHaveBeenCalledWith('ORPS: f: apply the proposed change shown in the diff?', APPLY, DISCARD);
    expect(close).toHaveBeenCalledOnce();
    expect(apply).toHaveBeenCalledOnce();
  });

  it.each([[DISCARD], [undefined]])('discards on %s and closes the diff', async (answer) => {
    const { fake, close } = ui(answer);
    const apply = vi.fn(async () => ({ applied: true }));
    expect(await review(params(), fake, apply)).toEqual({ applied: false, failureReason: DISCARDED });
    expect(apply).not.toHaveBeenCalled();
    expect(close).toHaveBeenCalledOnce();
  });

  it('applies at once with orps.autoApply', async () => {
    const { fake } = ui(undefined, true);
    const apply = vi.fn(async () => ({ applied: true }));
    expect(await review(params(), fake, apply)).toEqual({ applied: true });
    expect(fake.showDiff).not.toHaveBeenCalled();
    expect(fake.ask).not.toHaveBeenCalled();
  });

  it("lets other edits through untouched (a rename, another server's label)", async () => {
    const { fake } = ui(DISCARD);
    const apply = vi.fn(async () => ({ applied: true }));
    expect(await review(params('Rename symbol'), fake, apply)).toEqual({ applied: true });
    expect(fake.ask).not.toHaveBeenCalled();
  });

  it('still asks when the document is not open (no diff to show)', async () => {
    const { fake } = ui(APPLY);
    fake.documentText.mockReturnValue(undefined);
    await review(params(), fake, async () => ({ applied: true }));
    expect(fake.showDiff).not.toHaveBeenCalled();
    expect(fake.ask).toHaveBeenCalledWith('ORPS: f: apply the proposed change?', APPLY, DISCARD);
  });
});
