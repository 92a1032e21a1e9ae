/**
 * The Plugins panel (left sidebar): the plugin catalog with search and descriptions, and a run
 * form generated from the chosen plugin's descriptor (form.ts): its parameters, the resources
 * within its limits, and its input — library paths for an fs plugin (typed, or the Library
 * panel's selection), an instance of a feed for a ds/ts plugin. Refusals of the server are
 * shown in the panel with their message.
 */

import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { ChrisComputeApi, IInstance, IPlugin } from './api';
import { IField, Values, buildRequest, parameterFields, rangeText, resourceFields, searchPlugins } from './form';
import { ErrorBox } from './error-box';
import { button, el } from './panel';

export interface IPluginsPanelOptions {
  compute: ChrisComputeApi;
  /** The Library panel's selected path (null: nothing selected). */
  librarySelection(): string | null;
  /** Called with the new instance once a run is accepted (the app shows its feed). */
  onRun(instance: IInstance): void;
}

/** What the form opens with (a re-run of an instance). */
export interface IFormPreset {
  values?: Values;
  previousId?: number | null;
  title?: string;
}

export class PluginsPanel extends Widget {
  private plugins: IPlugin[] = [];
  private search = el('input', 'chris-lab-search');
  private list = el('div', 'chris-lab-plugin-list');
  private formBox = el('div', 'chris-lab-form');
  private errorBox = new ErrorBox();
  /** The plugin whose form is open, or null (the catalog shows). */
  current: IPlugin | null = null;

  constructor(private options: IPluginsPanelOptions) {
    super();
    this.id = 'chris-lab-plugins';
    this.addClass('chris-lab-plugins');
    this.title.caption = 'ChRIS plugins';
    const bar = el('div', 'chris-lab-toolbar');
    bar.append(
      el('span', 'chris-lab-heading', 'ChRIS plugins'),
      button(refreshIcon, 'Reload the catalog', 'chris-lab-refresh', () => void this.refresh())
    );
    this.search.type = 'search';
    this.search.placeholder = 'Search plugins (name, title, description)';
    this.search.setAttribute('aria-label', 'Search plugins');
    this.search.addEventListener('input', () => this.drawList());
    this.formBox.hidden = true;
    this.node.append(bar, this.errorBox.node, this.search, this.list, this.formBox);
  }

  async refresh(): Promise<void> {
    this.hideError();
    try {
      this.plugins = (await this.options.compute.plugins()).items;
    } catch (e) {
      this.showError(`cannot list the plugins: ${(e as Error).message}`);
    }
    this.drawList();
  }

  showError(message: string): void {
    this.errorBox.show(message);
  }

  hideError(): void {
    this.errorBox.hide();
  }

  private drawList(): void {
    const found = searchPlugins(this.plugins, this.search.value);
    this.list.replaceChildren();
    if (!found.length) {
      this.list.append(el('div', 'chris-lab-empty', this.plugins.length ? 'No plugin matches' : 'No plugins'));
    }
    for (const p of found) {
      const item = el('div', 'chris-lab-plugin');
      item.tabIndex = 0;
      item.dataset.name = p.name;
      item.setAttribute('role', 'button');
      const head = el('div', 'chris-lab-plugin-head');
      head.append(
        el('span', 'chris-lab-plugin-name', p.name),
        el('span', 'chris-lab-plugin-version', `v${p.version}`),
        el('span', `chris-lab-badge chris-lab-type-${p.type}`, p.type)
      );
      item.append(head, el('div', 'chris-lab-plugin-title', p.title || p.name));
      const description = String(p.descriptor?.description ?? '');
      if (description) {
        item.append(el('div', 'chris-lab-plugin-description', description));
      }
      const open = () => void this.openForm(p.name);
      item.addEventListener('click', open);
      item.addEventListener('keydown', ev => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          open();
        }
      });
      this.list.append(item);
    }
  }

  /** The newest version of a plugin, by name (undefined: none is registered). */
  async find(name: string): Promise<IPlugin | undefined> {
    if (!this.plugins.some(p => p.name === name)) {
      await this.refresh();
    }
    return searchPlugins(
      this.plugins.filter(p => p.name === name),
      ''
    )[0];
  }

  /** Show the run form of a plugin (by name: its newest version), optionally filled in. */
  async openForm(name: string, preset: IFormPreset = {}): Promise<void> {
    const plugin = await this.find(name);
    if (!plugin) {
      this.showError(`no plugin called ${name}`);
      return;
    }
    this.current = plugin;
    this.hideError();
    this.search.hidden = true;
    this.list.hidden = true;
    this.formBox.hidden = false;
    await this.drawForm(plugin, preset);
  }

  closeForm(): void {
    this.current = null;
    this.formBox.hidden = true;
    this.formBox.replaceChildren();
    this.search.hidden = false;
    this.list.hidden = false;
  }

  private async drawForm(plugin: IPlugin, preset: IFormPreset): Promise<void> {
    const box = this.formBox;
    box.replaceChildren();
    box.dataset.plugin = plugin.name;
    const head = el('div', 'chris-lab-form-head');
    head.append(
      button('← Plugins', 'Back to the catalog', 'chris-lab-back', () => this.closeForm()),
      el('span', 'chris-lab-plugin-name', `${plugin.name} v${plugin.version}`),
      el('span', `chris-lab-badge chris-lab-type-${plugin.type}`, plugin.type)
    );
    box.append(head);
    const description = String(plugin.descriptor?.description ?? '');
    if (description) {
      box.append(el('div', 'chris-lab-plugin-description', description));
    }
    const form = el('form', 'chris-lab-run-form');
    form.noValidate = true;
    box.append(form);
    const inputs = new Map<string, HTMLInputElement>();
    const errorOf = new Map<string, HTMLElement>();
    const row = (key: string, label: string, help: string, control: HTMLElement, required = false) => {
      const wrap = el('div', 'chris-lab-field');
      wrap.dataset.field = key;
      const lab = el('label', 'chris-lab-label', label);
      if (required) {
        lab.append(el('span', 'chris-lab-required', ' *'));
      }
      const id = `chris-lab-f-${plugin.id}-${key.replace(/\W/g, '_')}`;
      lab.htmlFor = id;
      control.id = id;
      wrap.append(lab, control);
      if (help) {
        wrap.append(el('div', 'chris-lab-help', help));
      }
      const err = el('div', 'chris-lab-field-error');
      err.hidden = true;
      err.setAttribute('role', 'alert');
      errorOf.set(key, err);
      wrap.append(err);
      form.append(wrap);
      return wrap;
    };

    // -- input: previous instance for ds/ts ------------------------------------------------------
    let previous: HTMLSelectElement | null = null;
    if (plugin.type !== 'fs') {
      previous = el('select', 'chris-lab-previous');
      previous.append(new Option('choose an instance…', ''));
      try {
        const items = (await this.options.compute.instances()).items.sort((a, b) => b.id - a.id);
        for (const i of items) {
          const o = new Option(`feed ${i.feed_id} · ${i.plugin} #${i.id} (${i.state})`, String(i.id));
          previous.append(o);
        }
      } catch (e) {
        this.showError(`cannot list the instances to run on: ${(e as Error).message}`);
      }
      if (preset.previousId) {
        previous.value = String(preset.previousId);
      }
      row('previous', 'Run on', "the instance whose output is this plugin's input", previous, true);
    }

    // -- parameters ------------------------------------------------------------------------------
    const fields = parameterFields(plugin);
    for (const f of fields) {
      const input = this.inputFor(f, preset.values?.[f.name]);
      inputs.set(f.name, input);
      let control: HTMLElement = input;
      if (f.kind === 'path') {
        control = el('div', 'chris-lab-path-input');
        control.append(
          input,
          button(
            'Use library selection',
            'Put the path selected in the ChRIS library here',
            'chris-lab-use-selection',
            () => {
              const sel = this.options.librarySelection();
              if (sel) {
                input.value = sel;
              } else {
                this.showError('select a file or folder in the ChRIS library panel first');
              }
            }
          )
        );
      }
      const label = f.kind === 'bool' ? `${f.flag} (${f.name})` : `${f.name} (${f.flag})`;
      row(f.name, label, f.help, control, f.required);
      if (f.kind === 'path') {
        input.id = control.id;
        control.removeAttribute('id');
      }
    }

    // -- title and resources -----------------------------------------------------------------------
    const title = el('input', 'chris-lab-title-input');
    title.type = 'text';
    title.value = preset.title ?? '';
    title.placeholder = 'optional';
    row('title', 'Title', '', title);
    const resInputs = new Map<string, HTMLInputElement>();
    const res = resourceFields(plugin.descriptor);
    if (res.length) {
      form.append(el('div', 'chris-lab-subheading', 'Resources'));
    }
    for (const r of res) {
      const input = el('input', 'chris-lab-resource');
      input.type = 'number';
      input.min = String(r.min);
      if (r.max !== null) {
        input.max = String(r.max);
      }
      input.step = '1';
      input.placeholder = 'server default';
      input.dataset.resource = r.key;
      resInputs.set(r.key, input);
      row(`resources.${r.key}`, `${r.label}${r.unit ? ` (${r.unit})` : ''}`, rangeText(r), input);
    }

    // a field's message goes once the field is changed (it is checked again on Run)
    form.addEventListener('input', ev => {
      const key = (ev.target as HTMLElement).closest<HTMLElement>('.chris-lab-field')?.dataset.field;
      const err = key ? errorOf.get(key) : undefined;
      if (err) {
        err.hidden = true;
        err.textContent = '';
      }
    });
    const run = el('button', 'chris-lab-run jp-mod-styled jp-mod-accept', 'Run');
    run.type = 'submit';
    form.append(run);
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      const values: Values = {};
      for (const f of fields) {
        const input = inputs.get(f.name)!;
        values[f.name] = f.kind === 'bool' ? input.checked : input.value;
      }
      const resources: Record<string, string> = {};
      for (const [k, input] of resInputs) {
        resources[k] = input.value;
      }
      const prev = previous && previous.value ? Number(previous.value) : null;
      const { request, errors } = buildRequest(plugin, values, resources, prev, title.value);
      for (const [k, e] of errorOf) {
        e.hidden = !errors[k];
        e.textContent = errors[k] ?? '';
      }
      if (!request) {
        return;
      }
      run.disabled = true;
      this.hideError();
      this.options.compute
        .run(request)
        .then(inst => {
          this.options.onRun(inst);
        })
        .catch(e => this.showError(`cannot run ${plugin.name}: ${(e as Error).message}`))
        .finally(() => {
          run.disabled = false;
        });
    });
  }

  private inputFor(f: IField, preset: string | boolean | undefined): HTMLInputElement {
    const input = el('input', `chris-lab-param chris-lab-kind-${f.kind}`);
    input.name = f.name;
    input.dataset.param = f.name;
    const value = preset ?? f.initial;
    if (f.kind === 'bool') {
      input.type = 'checkbox';
      input.checked = value === true;
    } else {
      input.type = f.kind === 'int' || f.kind === 'float' ? 'number' : 'text';
      if (f.kind === 'int') {
        input.step = '1';
      } else if (f.kind === 'float') {
        input.step = 'any';
      }
      input.value = String(value);
      if (f.kind === 'path') {
        input.placeholder = 'library path, e.g. home/you/uploads/…';
      }
      input.required = f.required;
    }
    return input;
  }
}
