import { describe, expect, it } from 'vitest';
import { Phase, type SearchProgress } from '../src/contract';
import { StatusBar, shortStatus } from '../src/status';
import { statusItem } from './mocks/vscodeapi';

describe('status bar', () => {
  const progress = (over: Partial<SearchProgress>): SearchProgress => ({
    token: 'orps-1', function: 'has_duplicates', mode: 'optimize', phase: Phase.execute, round: 0, rounds: 0,
    candidate: 0, candidates: 0, bestPassed: null, bestTotal: null, bestSpeedup: null, fraction: null, ...over,
  });

  it('says the round and the best tests from the fields, the phase before the rounds', () => {
    expect(shortStatus(progress({ round: 2, rounds: 3, bestPassed: 9, bestTotal: 9, bestSpeedup: 2.1 }))).toBe('round 2/3, 9/9 tests');
    expect(shortStatus(progress({ round: 1, rounds: 3 }))).toBe('round 1/3');
    expect(shortStatus(progress({ phase: Phase.queued }))).toBe('queued');
    expect(shortStatus(progress({ phase: Phase.loading }))).toBe('loading model');
    expect(shortStatus(progress({ phase: Phase.baseline }))).toBe('running the original');
  });

  it("follows a search's orps/progress and goes back to ready at its end", () => {
    const item = statusItem();
    const bar = new StatusBar(item, 'red');
    bar.setServer('ready');
    expect(item.text).toBe('$(beaker) ORPS');
    expect(item.command).toBe('orps.showReport');

    bar.observeSearch(progress({ phase: Phase.starting }));
    expect(item.text).toBe('$(loading~spin) ORPS: starting');
    bar.observeSearch(progress({ round: 2, rounds: 3, candidate: 4, candidates: 9, bestPassed: 9, bestTotal: 9, bestSpeedup: 2.1 }));
    expect(item.text).toBe('$(loading~spin) ORPS: round 2/3, 9/9 tests');
    expect(String(item.tooltip)).toContain('optimize has_duplicates (round 2/3, 9/9 tests, best so far 2.1x)');
    expect(item.command).toBe('orps.cancel');
    expect(bar.searching).toBe(true);

    bar.observeSearch(progress({ phase: Phase.done }));
    expect(item.text).toBe('$(beaker) ORPS');
    expect(bar.searching).toBe(false);
    expect(item.show).toHaveBeenCalled();
  });

  it("counts searches running side by side, and a $/progress end ends its token's search", () => {
    const item = statusItem();
    const bar = new StatusBar(item, 'red');
    bar.setServer('ready');
    bar.observe(7, { kind: 'end', message: 'indexed' }); // someone else's progress: nothing to end
    expect(item.text).toBe('$(beaker) ORPS');
    bar.observeSearch(progress({ token: 'a', phase: Phase.generate }));
    bar.observeSearch(progress({ token: 'b', function: 'g', mode: 'solve', phase: Phase.queued }));
    expect(item.text).toBe('$(loading~spin) ORPS: queued (+1)');
    bar.observe('b', { kind: 'end', message: 'cancelled' });
    expect(item.text).toBe('$(loading~spin) ORPS: generate');
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
