import { describe, expect, it } from 'vitest';

import { IInstance } from './api';
import { isFinal, layoutDag, mergeInstance, nodeLabel, stateGroup } from './dag';

function inst(id: number, previous: number | null, state = 'created', over: Partial<IInstance> = {}): IInstance {
  return {
    id,
    owner: 'me',
    feed_id: 1,
    previous_id: previous,
    plugin: `pl-${id}`,
    plugin_version: '1.0',
    title: '',
    state,
    exit_code: null,
    error: '',
    output_path: `home/me/feeds/feed_1/pl-${id}_${id}/data`,
    output_count: 0,
    ...over
  };
}

describe('layoutDag', () => {
  it('puts each instance below the one it ran on, siblings side by side, a parent over its children', () => {
    //        1     (centred over 2 and 3: (0.5 + 2) / 2)
    //      /   \
    //     2     3
    //    / \
    //   4   5
    const layout = layoutDag([inst(5, 2), inst(1, null), inst(3, 1), inst(2, 1), inst(4, 2)]);
    const at = Object.fromEntries(layout.nodes.map(n => [n.instance.id, [n.depth, n.column]]));
    expect(at).toEqual({ 1: [0, 1.25], 2: [1, 0.5], 3: [1, 2], 4: [2, 0], 5: [2, 1] });
    expect(layout.edges).toEqual([
      [1, 2],
      [2, 4],
      [2, 5],
      [1, 3]
    ]);
    expect([layout.columns, layout.depth]).toEqual([3, 3]);
  });

  it('makes an instance whose previous one is not in the feed a root of its own', () => {
    const layout = layoutDag([inst(8, 99), inst(9, 8)]);
    expect(layout.nodes.map(n => [n.instance.id, n.depth, n.column])).toEqual([
      [8, 0, 0],
      [9, 1, 0]
    ]);
  });

  it('shows every instance even if previous ids made a cycle, and an empty feed as nothing', () => {
    expect(
      layoutDag([inst(1, 2), inst(2, 1)])
        .nodes.map(n => n.instance.id)
        .sort()
    ).toEqual([1, 2]);
    expect(layoutDag([])).toEqual({ nodes: [], edges: [], columns: 0, depth: 0 });
  });
});

describe('states', () => {
  it('groups the server states into the colours of the graph', () => {
    expect(
      [
        'created',
        'waiting',
        'scheduled',
        'copying',
        'started',
        'uploading',
        'registeringFiles',
        'finishedSuccessfully',
        'finishedWithError',
        'cancelled',
        'odd'
      ].map(stateGroup)
    ).toEqual([
      'pending',
      'pending',
      'pending',
      'running',
      'running',
      'running',
      'running',
      'success',
      'error',
      'cancelled',
      'unknown'
    ]);
    expect(isFinal('finishedSuccessfully') && isFinal('cancelled') && !isFinal('started')).toBe(true);
  });

  it('labels a node by plugin and id, with its title', () => {
    expect(nodeLabel(inst(3, null))).toBe('pl-3 #3');
    expect(nodeLabel(inst(3, null, 'created', { title: 'convert' }))).toBe('convert (pl-3 #3)');
  });
});

describe('mergeInstance', () => {
  it('applies a state event and keeps what the event does not carry (the parameters)', () => {
    const known = new Map<number, IInstance>();
    mergeInstance(known, inst(1, null, 'scheduled', { params: { dir: 'x' } }));
    const event = inst(1, null, 'started');
    expect(mergeInstance(known, event)).toBe(true);
    expect(known.get(1)).toMatchObject({ state: 'started', params: { dir: 'x' } });
    expect(mergeInstance(known, event)).toBe(false); // the same news twice changes nothing
  });

  it('never moves a state back: a listing older than the event keeps the event state', () => {
    const known = new Map<number, IInstance>();
    mergeInstance(known, inst(1, null, 'finishedSuccessfully', { output_count: 3 }));
    mergeInstance(known, inst(1, null, 'started', { params: { dir: 'x' }, output_count: 0 }));
    expect(known.get(1)).toMatchObject({ state: 'finishedSuccessfully', output_count: 3, params: { dir: 'x' } });
  });

  it('adds an instance it did not know', () => {
    const known = new Map<number, IInstance>();
    expect(mergeInstance(known, inst(4, 1))).toBe(true);
    expect([...known.keys()]).toEqual([4]);
  });
});
