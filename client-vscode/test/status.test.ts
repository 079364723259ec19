import { describe, expect, it } from 'vitest';
import { StatusBar, shortStatus } from '../src/status';
import { statusItem } from './mocks/vscodeapi';

describe('status bar', () => {
  it('shortens the progress message to the round and the best tests', () => {
    expect(shortStatus('round 2/3 - candidate 4/9 - best: 9/9 tests, 2.1x faster - running tests')).toBe('round 2/3, 9/9 tests');
    expect(shortStatus('round 1/3 - candidate 1/3 - running the original')).toBe('round 1/3');
    expect(shortStatus('queued: waiting for 1 search to finish (fib)')).toBe('queued');
    expect(shortStatus('loading model ...')).toBe('loading model');
  });

  it("follows a search's progress and goes back to ready at its end", () => {
    const item = statusItem();
    const bar = new StatusBar(item, 'red');
    bar.setServer('ready');
    expect(item.text).toBe('$(beaker) ORPS');
    expect(item.command).toBe('orps.showReport');

    bar.observe('orps-1', { kind: 'begin', title: 'ORPS: optimize has_duplicates' });
    expect(item.text).toBe('$(loading~spin) ORPS: optimize has_duplicates');
    bar.observe('orps-1', { kind: 'report', message: 'round 2/3 - candidate 4/9 - best: 9/9 tests, 2.1x faster - running tests' });
    expect(item.text).toBe('$(loading~spin) ORPS: round 2/3, 9/9 tests');
    expect(item.command).toBe('orps.cancel');
    expect(bar.searching).toBe(true);

    bar.observe('orps-1', { kind: 'end', message: 'improved' });
    expect(item.text).toBe('$(beaker) ORPS');
    expect(bar.searching).toBe(false);
    expect(item.show).toHaveBeenCalled();
  });

  it("ignores other progress, and counts searches running side by side", () => {
    const item = statusItem();
    const bar = new StatusBar(item, 'red');
    bar.setServer('ready');
    bar.observe(7, { kind: 'begin', title: 'Indexing' });
    bar.observe(7, { kind: 'report', message: 'round 9/9' });
    expect(item.text).toBe('$(beaker) ORPS');
    bar.observe('a', { kind: 'begin', title: 'ORPS: optimize f' });
    bar.observe('b', { kind: 'begin', title: 'ORPS: solve g' });
    expect(item.text).toBe('$(loading~spin) ORPS: solve g (+1)');
  });

  it('shows a failed server in the error colour, with the way to the fix', () => {
    const item = statusItem();
    const bar = new StatusBar(item, 'red');
    bar.setServer('failed', 'ORPS: the language server is not installed');
    expect(item.text).toBe('$(error) ORPS');
    expect(item.backgroundColor).toBe('red');
    expect(item.command).toBe('orps.showProblem');
    expect(String(item.tooltip)).toContain('not installed');
    bar.setServer('starting');
    expect(item.backgroundColor).toBeUndefined();
  });
});
