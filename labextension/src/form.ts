/**
 * The run form's logic, without DOM: which fields a plugin's descriptor asks for (parameters
 * with their types, defaults, help and flags; resources within the descriptor's limits), and
 * the run request the filled-in values make, with a message per field the server would refuse.
 */

import { IInstance, IParameter, IPlugin, IRunRequest } from './api';

export type FieldKind = 'text' | 'int' | 'float' | 'bool' | 'path';

/** One input of the form. */
export interface IField {
  name: string;
  kind: FieldKind;
  /** The command-line flag (what users of the plugin know it by). */
  flag: string;
  required: boolean;
  help: string;
  /** The value the form starts with ('' for none; booleans for a bool). */
  initial: string | boolean;
  /** For a flag parameter: what the flag does (store_true: given means true). */
  action: string;
}

/** One resource of a run, in the descriptor's unit. */
export interface IResourceField {
  key: 'cpu_limit' | 'memory_limit' | 'gpu_limit' | 'number_of_workers';
  label: string;
  unit: string;
  min: number;
  /** null: the descriptor sets no upper limit. */
  max: number | null;
}

/** Descriptors write "no limit" as the largest 32-bit integer. */
export const NO_LIMIT = 2147483647;

const KINDS: Record<string, FieldKind> = {
  str: 'text',
  int: 'int',
  float: 'float',
  bool: 'bool',
  path: 'path',
  unextpath: 'path'
};

/** The form's inputs for a plugin's parameters (those the descriptor exposes to a UI). */
export function parameterFields(plugin: Pick<IPlugin, 'parameters'>): IField[] {
  return plugin.parameters.filter(p => p.ui_exposed !== false).map(fieldOf);
}

export function fieldOf(p: IParameter): IField {
  const kind = KINDS[p.type] ?? 'text';
  let initial: string | boolean;
  if (kind === 'bool') {
    initial = typeof p.default === 'boolean' ? p.default : p.action === 'store_false';
  } else {
    initial = p.default === null || p.default === undefined ? '' : String(p.default);
  }
  return {
    name: p.name,
    kind,
    flag: p.flag || `--${p.name}`,
    required: !p.optional,
    help: p.help || '',
    initial,
    action: p.action || 'store'
  };
}

/** Millicores of a CPU quantity: 500, "500m", "2" (cores), 1.5. */
export function parseCpu(v: unknown): number | null {
  if (typeof v === 'number') {
    return Number.isFinite(v) ? v : null;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(m?)\s*$/.exec(String(v));
  if (!m) {
    return null;
  }
  return m[2] ? Number(m[1]) : Math.round(Number(m[1]) * 1000);
}

/** MiB of a memory quantity: 256, "256Mi", "2Gi", "512M". */
export function parseMemory(v: unknown): number | null {
  if (typeof v === 'number') {
    return Number.isFinite(v) ? v : null;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(Mi|M|Gi|G|Ki|K)?\s*$/.exec(String(v));
  if (!m) {
    return null;
  }
  const n = Number(m[1]);
  const scale: Record<string, number> = { Mi: 1, M: 1, Gi: 1024, G: 1024, Ki: 1 / 1024, K: 1 / 1024 };
  return Math.round(n * (m[2] ? scale[m[2]] : 1));
}

function count(v: unknown): number | null {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isInteger(n) ? n : null;
}

const RESOURCES: [IResourceField['key'], string, string, (v: unknown) => number | null][] = [
  ['cpu_limit', 'CPU', 'millicores', parseCpu],
  ['memory_limit', 'Memory', 'MiB', parseMemory],
  ['gpu_limit', 'GPUs', '', count],
  ['number_of_workers', 'Workers', '', count]
];

/**
 * The resource inputs within the descriptor's limits. A resource whose range is a single
 * value (no GPU: 0..0, one worker: 1..1) is not a choice, and is left out.
 */
export function resourceFields(descriptor: Record<string, unknown>): IResourceField[] {
  const out: IResourceField[] = [];
  for (const [key, label, unit, parse] of RESOURCES) {
    const lo = parse(descriptor[`min_${key}`]) ?? 0;
    const hiRaw = parse(descriptor[`max_${key}`]);
    const hi = hiRaw === null || hiRaw >= NO_LIMIT ? null : hiRaw;
    if (hi !== null && hi <= lo) {
      continue;
    }
    out.push({ key, label, unit, min: lo, max: hi });
  }
  return out;
}

/** "100 – 4000 millicores", "at least 32 MiB". */
export function rangeText(r: IResourceField): string {
  const unit = r.unit ? ` ${r.unit}` : '';
  return r.max === null ? `at least ${r.min}${unit}` : `${r.min} – ${r.max}${unit}`;
}

export type Values = Record<string, string | boolean>;

export interface IFormResult {
  /** The run request, when no field has an error. */
  request: IRunRequest | null;
  /** Field name (or `resources.<key>`, `previous`) -> what is wrong with it. */
  errors: Record<string, string>;
}

/**
 * The run request of a filled-in form. Empty optional fields are left out (the plugin's
 * default applies); a flag is sent only when it differs from its default.
 */
export function buildRequest(
  plugin: Pick<IPlugin, 'id' | 'type' | 'parameters' | 'descriptor'>,
  values: Values,
  resources: Record<string, string> = {},
  previousId: number | null = null,
  title = ''
): IFormResult {
  const errors: Record<string, string> = {};
  const params: Record<string, unknown> = {};
  for (const f of parameterFields(plugin)) {
    const raw = values[f.name] ?? f.initial;
    if (f.kind === 'bool') {
      const on = raw === true || raw === 'true';
      if (on !== f.initial) {
        params[f.name] = on;
      }
      continue;
    }
    const text = String(raw).trim();
    if (!text) {
      if (f.required) {
        errors[f.name] = `${f.flag} is required`;
      }
      continue;
    }
    if (f.kind === 'int') {
      if (!/^[-+]?\d+$/.test(text)) {
        errors[f.name] = `${f.flag} must be a whole number, not "${text}"`;
        continue;
      }
      params[f.name] = Number(text);
    } else if (f.kind === 'float') {
      const n = Number(text);
      if (!Number.isFinite(n)) {
        errors[f.name] = `${f.flag} must be a number, not "${text}"`;
        continue;
      }
      params[f.name] = n;
    } else {
      params[f.name] = text;
    }
  }
  const res: Record<string, number> = {};
  for (const r of resourceFields(plugin.descriptor)) {
    const text = (resources[r.key] ?? '').trim();
    if (!text) {
      continue;
    }
    const n = Number(text);
    if (!Number.isInteger(n)) {
      errors[`resources.${r.key}`] = `${r.label} must be a whole number${r.unit ? ` of ${r.unit}` : ''}`;
    } else if (n < r.min || (r.max !== null && n > r.max)) {
      errors[`resources.${r.key}`] = `${r.label} must be ${rangeText(r)}`;
    } else {
      res[r.key] = n;
    }
  }
  if (plugin.type !== 'fs' && previousId === null) {
    errors['previous'] = `a ${plugin.type} plugin runs on an instance of a feed: choose one`;
  }
  if (Object.keys(errors).length) {
    return { request: null, errors };
  }
  const request: IRunRequest = { plugin: plugin.id, params };
  if (plugin.type !== 'fs' && previousId !== null) {
    request.previous_id = previousId;
  }
  if (Object.keys(res).length) {
    request.resources = res;
  }
  if (title.trim()) {
    request.title = title.trim();
  }
  return { request, errors };
}

/** The form's values for a re-run of an instance: its parameters over the plugin's defaults. */
export function valuesOf(plugin: Pick<IPlugin, 'parameters'>, instance: Pick<IInstance, 'params'>): Values {
  const out: Values = {};
  const given = instance.params || {};
  for (const f of parameterFields(plugin)) {
    const v = given[f.name];
    if (v === undefined || v === null) {
      out[f.name] = f.initial;
    } else if (f.kind === 'bool') {
      out[f.name] = v === true;
    } else {
      out[f.name] = String(v);
    }
  }
  return out;
}

/** Plugins matching a search (name, title, category, description), newest version of each. */
export function searchPlugins(plugins: IPlugin[], text: string): IPlugin[] {
  const newest = new Map<string, IPlugin>();
  for (const p of plugins) {
    const seen = newest.get(p.name);
    if (!seen || compareVersions(p.version, seen.version) > 0) {
      newest.set(p.name, p);
    }
  }
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  return [...newest.values()]
    .filter(p => {
      const hay = [p.name, p.title, p.category, String(p.descriptor?.description ?? '')].join(' ').toLowerCase();
      return words.every(w => hay.includes(w));
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Compare dotted versions numerically where they are numbers ("1.10" > "1.9"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny;
    if (c !== 0) {
      return c;
    }
  }
  return 0;
}
