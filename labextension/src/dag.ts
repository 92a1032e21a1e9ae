/**
 * A feed's graph of plugin instances, without DOM: the layout (each instance below the one it
 * ran on, siblings side by side, a parent centred over its children), the state groups that
 * colour the nodes, and merging live state events into what was listed.
 *
 * The state names are the server's (chris_jupyter/states.py); a job only moves forward through
 * them, so of two reports about one instance the one further along is the newer.
 */

import { IInstance } from './api';

export const STATES = [
  'created',
  'waiting',
  'scheduled',
  'copying',
  'started',
  'uploading',
  'registeringFiles',
  'finishedSuccessfully',
  'finishedWithError',
  'cancelled'
] as const;

export const FINAL_STATES = new Set(['finishedSuccessfully', 'finishedWithError', 'cancelled']);

export type StateGroup = 'pending' | 'running' | 'success' | 'error' | 'cancelled' | 'unknown';

/** The colour group of a state. */
export function stateGroup(state: string): StateGroup {
  switch (state) {
    case 'created':
    case 'waiting':
    case 'scheduled':
      return 'pending';
    case 'copying': // the inputs travel to a remote compute resource
    case 'started':
    case 'uploading': // the outputs travel back
    case 'registeringFiles':
      return 'running';
    case 'finishedSuccessfully':
      return 'success';
    case 'finishedWithError':
      return 'error';
    case 'cancelled':
      return 'cancelled';
    default:
      return 'unknown';
  }
}

export function isFinal(state: string): boolean {
  return FINAL_STATES.has(state);
}

/** How far along a state is (final states are all last). */
export function stateRank(state: string): number {
  const i = STATES.indexOf(state as (typeof STATES)[number]);
  if (i < 0) {
    return -1;
  }
  return isFinal(state) ? STATES.length : i;
}

/**
 * Merge a report about an instance (an event, or a listing) into the known ones. Fields the
 * report lacks (events carry no parameters) are kept; a report behind the known state (a
 * listing fetched before an event arrived) does not move the state back. Returns whether
 * anything changed.
 */
export function mergeInstance(known: Map<number, IInstance>, report: IInstance): boolean {
  const old = known.get(report.id);
  if (!old) {
    known.set(report.id, { ...report });
    return true;
  }
  if (stateRank(report.state) < stateRank(old.state)) {
    // stale: keep the newer state, take only what the old one lacks
    const merged = {
      ...report,
      ...old,
      params: old.params ?? report.params,
      resources: old.resources ?? report.resources
    };
    const changed = JSON.stringify(merged) !== JSON.stringify(old);
    known.set(report.id, merged);
    return changed;
  }
  const merged: IInstance = { ...old };
  for (const [k, v] of Object.entries(report)) {
    if (v !== undefined) {
      (merged as unknown as Record<string, unknown>)[k] = v;
    }
  }
  const changed = JSON.stringify(merged) !== JSON.stringify(old);
  known.set(report.id, merged);
  return changed;
}

export interface IDagNode {
  instance: IInstance;
  depth: number;
  /** Horizontal position in columns (a parent may sit between two: 0.5). */
  column: number;
}

export interface IDagLayout {
  nodes: IDagNode[];
  /** [parent id, child id] */
  edges: [number, number][];
  columns: number;
  depth: number;
}

/**
 * Lay out a feed's instances as a tree (each has at most one previous instance; one whose
 * previous is not in the feed is a root). Children are ordered by id (the order they ran in).
 */
export function layoutDag(instances: Iterable<IInstance>): IDagLayout {
  const all = [...instances].sort((a, b) => a.id - b.id);
  const byId = new Map(all.map(i => [i.id, i]));
  const children = new Map<number, IInstance[]>();
  const roots: IInstance[] = [];
  for (const i of all) {
    if (i.previous_id !== null && byId.has(i.previous_id) && i.previous_id !== i.id) {
      const list = children.get(i.previous_id) ?? [];
      list.push(i);
      children.set(i.previous_id, list);
    } else {
      roots.push(i);
    }
  }
  const nodes: IDagNode[] = [];
  const edges: [number, number][] = [];
  let next = 0;
  let maxDepth = 0;
  const placed = new Set<number>();
  const place = (inst: IInstance, depth: number): number => {
    placed.add(inst.id);
    maxDepth = Math.max(maxDepth, depth);
    const kids = (children.get(inst.id) ?? []).filter(k => !placed.has(k.id));
    const node: IDagNode = { instance: inst, depth, column: 0 };
    nodes.push(node);
    if (!kids.length) {
      node.column = next++;
      return node.column;
    }
    const cols = kids.map(k => {
      edges.push([inst.id, k.id]);
      return place(k, depth + 1);
    });
    node.column = (cols[0] + cols[cols.length - 1]) / 2;
    return node.column;
  };
  for (const r of roots) {
    place(r, 0);
  }
  for (const i of all) {
    if (!placed.has(i.id)) {
      place(i, 0); // a cycle of previous ids (never made by the server): still shown
    }
  }
  return { nodes, edges, columns: next, depth: all.length ? maxDepth + 1 : 0 };
}

/** A node's label: the plugin and instance id, and its title when it has one. */
export function nodeLabel(i: IInstance): string {
  const name = `${i.plugin ?? 'plugin'} #${i.id}`;
  return i.title ? `${i.title} (${name})` : name;
}
