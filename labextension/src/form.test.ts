import { describe, expect, it } from 'vitest';

import { IParameter, IPlugin } from './api';
import {
  buildRequest,
  compareVersions,
  parameterFields,
  parseCpu,
  parseMemory,
  resourceFields,
  searchPlugins,
  valuesOf
} from './form';

function param(p: Partial<IParameter> & { name: string; type: string }): IParameter {
  return { flag: `--${p.name}`, optional: true, action: 'store', ui_exposed: true, ...p };
}

/** A descriptor like the reference plugins' (pl-dcm2png, pl-dcm2nifti) and a registration's. */
function plugin(over: Partial<IPlugin> = {}): IPlugin {
  return {
    id: 7,
    name: 'pl-demo',
    version: '1.2.0',
    type: 'fs',
    title: 'Demo',
    category: 'Utility',
    parameters: [
      param({ name: 'dir', type: 'path', optional: false, default: null, help: 'folder to read', short_flag: '-d' }),
      param({ name: 'every', type: 'int', default: 1, help: 'every N-th file' }),
      param({ name: 'scale', type: 'float', default: 0.5 }),
      param({ name: 'window', type: 'str', default: '' }),
      param({ name: 'fast', type: 'bool', action: 'store_true', default: false, flag: '--fast' }),
      param({ name: 'json', type: 'bool', action: 'store_false', default: true, flag: '--no-json' }),
      param({ name: 'hidden', type: 'str', default: 'x', ui_exposed: false })
    ],
    descriptor: {
      description: 'copies and converts things',
      min_cpu_limit: '100m',
      max_cpu_limit: '2000m',
      min_memory_limit: 32,
      max_memory_limit: '1Gi',
      min_gpu_limit: 0,
      max_gpu_limit: 0,
      min_number_of_workers: 1,
      max_number_of_workers: 1
    },
    ...over
  };
}

describe('parameterFields', () => {
  it('makes one field per exposed parameter with its kind, flag, default, help and whether it is required', () => {
    const fields = parameterFields(plugin());
    expect(fields.map(f => [f.name, f.kind, f.flag, f.required, f.initial])).toEqual([
      ['dir', 'path', '--dir', true, ''],
      ['every', 'int', '--every', false, '1'],
      ['scale', 'float', '--scale', false, '0.5'],
      ['window', 'text', '--window', false, ''],
      ['fast', 'bool', '--fast', false, false],
      ['json', 'bool', '--no-json', false, true]
    ]);
    expect(fields[0].help).toBe('folder to read');
  });

  it('starts a flag without a default from what giving it does', () => {
    const [f] = parameterFields({ parameters: [param({ name: 'quiet', type: 'bool', action: 'store_false' })] });
    expect(f.initial).toBe(true);
  });
});

describe('resourceFields', () => {
  it('offers the resources whose range is a choice, within the descriptor limits and units', () => {
    expect(resourceFields(plugin().descriptor)).toEqual([
      { key: 'cpu_limit', label: 'CPU', unit: 'millicores', min: 100, max: 2000 },
      { key: 'memory_limit', label: 'Memory', unit: 'MiB', min: 32, max: 1024 }
    ]);
  });

  it('reads the largest 32-bit integer as no upper limit', () => {
    const [cpu] = resourceFields({ min_cpu_limit: 250, max_cpu_limit: 2147483647 });
    expect(cpu).toMatchObject({ min: 250, max: null });
  });

  it('parses CPU and memory quantities', () => {
    expect([parseCpu('1500m'), parseCpu('2'), parseCpu(0.5), parseCpu('x')]).toEqual([1500, 2000, 0.5, null]);
    expect([parseMemory('2Gi'), parseMemory('512Mi'), parseMemory(64), parseMemory('lots')]).toEqual([
      2048,
      512,
      64,
      null
    ]);
  });
});

describe('buildRequest', () => {
  it('sends typed values, leaves out empty optional fields and flags at their defaults', () => {
    const { request, errors } = buildRequest(plugin(), { dir: ' home/me/uploads/ct ', every: '3', fast: false });
    expect(errors).toEqual({});
    expect(request).toEqual({ plugin: 7, params: { dir: 'home/me/uploads/ct', every: 3, scale: 0.5 } });
  });

  it('sends a flag that differs from its default, either way', () => {
    const { request } = buildRequest(plugin(), { dir: 'd', fast: true, json: false });
    expect(request?.params).toMatchObject({ fast: true, json: false });
  });

  it('names every field the server would refuse, and makes no request', () => {
    const { request, errors } = buildRequest(plugin(), { dir: '', every: '2.5', scale: 'abc' }, { cpu_limit: '5000' });
    expect(request).toBeNull();
    expect(errors).toEqual({
      dir: '--dir is required',
      every: '--every must be a whole number, not "2.5"',
      scale: '--scale must be a number, not "abc"',
      'resources.cpu_limit': 'CPU must be 100 – 2000 millicores'
    });
  });

  it('sends resources within the limits, and the title', () => {
    const { request } = buildRequest(plugin(), { dir: 'd' }, { cpu_limit: '500', memory_limit: '' }, null, ' run 1 ');
    expect(request).toMatchObject({ resources: { cpu_limit: 500 }, title: 'run 1' });
    expect(request?.resources).not.toHaveProperty('memory_limit');
  });

  it('runs a ds plugin on a chosen instance, and asks for one when none is chosen', () => {
    const ds = plugin({ type: 'ds', parameters: [] });
    expect(buildRequest(ds, {}, {}, null).errors).toEqual({
      previous: 'a ds plugin runs on an instance of a feed: choose one'
    });
    expect(buildRequest(ds, {}, {}, 12).request).toEqual({ plugin: 7, params: {}, previous_id: 12 });
    // an fs plugin starts a feed: an instance chosen by accident is not sent
    expect(buildRequest(plugin(), { dir: 'd' }, {}, 12).request).not.toHaveProperty('previous_id');
  });
});

describe('valuesOf (re-run)', () => {
  it("fills the form with the instance's parameters over the defaults", () => {
    const v = valuesOf(plugin(), { params: { dir: 'home/me/x', every: 4, fast: true } });
    expect(v).toEqual({ dir: 'home/me/x', every: '4', scale: '0.5', window: '', fast: true, json: true });
    // and the same values make the same request again
    expect(buildRequest(plugin(), v).request?.params).toEqual({ dir: 'home/me/x', every: 4, scale: 0.5, fast: true });
  });
});

describe('searchPlugins', () => {
  const catalog = [
    plugin({ id: 1, name: 'pl-dircopy', version: '2.1.2', title: 'Copy into a new feed' }),
    plugin({
      id: 2,
      name: 'pl-dcm2png',
      version: '1.9.0',
      title: 'DICOM slices to PNG',
      descriptor: { description: 'exports slices' }
    }),
    plugin({
      id: 3,
      name: 'pl-dcm2png',
      version: '1.10.0',
      title: 'DICOM slices to PNG',
      descriptor: { description: 'exports slices' }
    })
  ];

  it('lists the newest version of each plugin, by name', () => {
    expect(searchPlugins(catalog, '').map(p => p.id)).toEqual([3, 1]);
  });

  it('finds by name, title and description words', () => {
    expect(searchPlugins(catalog, 'png').map(p => p.name)).toEqual(['pl-dcm2png']);
    expect(searchPlugins(catalog, 'COPY feed').map(p => p.name)).toEqual(['pl-dircopy']);
    expect(searchPlugins(catalog, 'exports').map(p => p.name)).toEqual(['pl-dcm2png']);
    expect(searchPlugins(catalog, 'nothing-like-it')).toEqual([]);
  });

  it('compares versions numerically', () => {
    expect(compareVersions('1.10.0', '1.9.0')).toBeGreaterThan(0);
    expect(compareVersions('2.0', '2.0.0')).toBe(0);
  });
});
