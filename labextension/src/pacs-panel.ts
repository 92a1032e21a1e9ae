/**
 * The PACS panel (left sidebar): pick a configured PACS, query studies by patient id or name,
 * dates, modality and accession, list a study's series, retrieve a study or a series with live
 * progress (the server's `pacs.progress` events), and jump to the retrieved data in the viewer.
 */

import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { ChrisApi } from './api';
import { IPacsStatus, IRetrieval, retrievalPercent, retrievalText, showDate, showName, studyQuery } from './pacs';
import { ErrorBox } from './error-box';
import { button, el } from './panel';

export const PACS_EVENTS = ['pacs.progress'];

export interface IPacsPanelOptions {
  api: ChrisApi;
  openViewer(volumeId: string, label: string): void;
  events?(types: string[]): EventSource | null;
}

type Row = Record<string, unknown>;

export class PacsPanel extends Widget {
  private node_ = el('select', 'chris-lab-pacs-node');
  private inputs: Record<string, HTMLInputElement> = {};
  private results = el('div', 'chris-lab-pacs-results');
  private errorBox = new ErrorBox();
  private retrievals = new Map<number, HTMLElement>();
  private source: EventSource | null = null;

  constructor(private options: IPacsPanelOptions) {
    super();
    this.id = 'chris-lab-pacs';
    this.addClass('chris-lab-pacs');
    this.title.caption = 'Query PACS';
    const bar = el('div', 'chris-lab-toolbar');
    bar.append(
      el('span', 'chris-lab-heading', 'PACS'),
      button(refreshIcon, 'Reload the PACS list', 'chris-lab-refresh', () => void this.start())
    );
    const form = el('form', 'chris-lab-run-form chris-lab-pacs-form');
    form.noValidate = true;
    const field = (key: string, label: string, type = 'text', placeholder = '') => {
      const wrap = el('div', 'chris-lab-field');
      const lab = el('label', 'chris-lab-label', label);
      const input = el('input', `chris-lab-pacs-${key}`);
      input.type = type;
      input.placeholder = placeholder;
      input.id = `chris-lab-pacs-${key}`;
      lab.htmlFor = input.id;
      this.inputs[key] = input;
      wrap.append(lab, input);
      form.append(wrap);
    };
    const pick = el('div', 'chris-lab-field');
    const pickLabel = el('label', 'chris-lab-label', 'PACS');
    this.node_.id = 'chris-lab-pacs-node';
    pickLabel.htmlFor = this.node_.id;
    pick.append(pickLabel, this.node_);
    form.append(pick);
    field('patientId', 'Patient ID');
    field('patientName', 'Patient name', 'text', 'DOE or DOE^J*');
    field('from', 'Study date from', 'date');
    field('to', 'Study date to', 'date');
    field('modality', 'Modality', 'text', 'CT, MR, …');
    field('accession', 'Accession number');
    const go = el('button', 'chris-lab-run chris-lab-pacs-query jp-mod-styled jp-mod-accept', 'Query');
    go.type = 'submit';
    form.append(go);
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      void this.query();
    });
    this.node.append(bar, this.errorBox.node, form, this.results);
  }

  private started = false;

  /** The first time the panel is shown, it lists the PACS (not at every page load). */
  protected onAfterShow(): void {
    if (!this.started) {
      this.started = true;
      void this.start();
    }
  }

  async start(): Promise<void> {
    this.hideError();
    if (!this.source) {
      this.listen();
    }
    try {
      const status = await this.options.api.request<IPacsStatus>('GET', 'pacs');
      this.node_.replaceChildren(
        ...status.nodes.map(n => new Option(`${n.name} (${n.ae_title}@${n.host}:${n.port})`, n.name))
      );
      if (!status.nodes.length) {
        this.showError('no PACS is configured on this server (ChrisApp.pacs_nodes)');
      }
    } catch (e) {
      this.showError(`cannot list the PACS: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    this.source?.close();
    super.dispose();
  }

  showError(message: string): void {
    this.errorBox.show(message);
  }

  hideError(): void {
    this.errorBox.hide();
  }

  private listen(): void {
    this.source = this.options.events ? this.options.events(PACS_EVENTS) : null;
    this.source?.addEventListener('pacs.progress', ((ev: MessageEvent) => {
      try {
        this.showRetrieval(JSON.parse(ev.data).data as IRetrieval);
      } catch {
        // a malformed event: the next one shows the truth
      }
    }) as EventListener);
  }

  private find(level: string, query: Record<string, string>): Promise<{ items: Row[] }> {
    return this.options.api.request('POST', `pacs/${encodeURIComponent(this.node_.value)}/find`, {}, { level, query });
  }

  async query(): Promise<void> {
    this.hideError();
    const values = Object.fromEntries(Object.entries(this.inputs).map(([k, i]) => [k, i.value]));
    const { query, error } = studyQuery(values);
    if (!query) {
      this.showError(error!);
      return;
    }
    if (!this.node_.value) {
      this.showError('choose a PACS first');
      return;
    }
    this.results.replaceChildren(el('div', 'chris-lab-empty', 'querying…'));
    let studies: Row[];
    try {
      studies = (await this.find('STUDY', query)).items;
    } catch (e) {
      this.results.replaceChildren();
      this.showError(`the PACS query failed: ${(e as Error).message}`);
      return;
    }
    this.results.replaceChildren();
    if (!studies.length) {
      this.results.append(el('div', 'chris-lab-empty', 'No study matches'));
    }
    for (const s of studies) {
      this.results.append(this.studyRow(s));
    }
  }

  private studyRow(s: Row): HTMLElement {
    const uid = String(s.StudyInstanceUID ?? '');
    const box = el('div', 'chris-lab-study');
    box.dataset.study = uid;
    const head = el('div', 'chris-lab-plugin-head');
    head.append(
      el('span', 'chris-lab-plugin-name', showName(s.PatientName) || String(s.PatientID ?? '')),
      el('span', 'chris-lab-plugin-version', `${s.PatientID ?? ''} · ${showDate(s.StudyDate)}`),
      el('span', 'chris-lab-badge', String(s.ModalitiesInStudy ?? '').replace(/\\/g, ' '))
    );
    const series = el('div', 'chris-lab-series-list');
    const more = button(
      'Series…',
      'List the series of this study',
      'chris-lab-series-toggle',
      () => void this.showSeries(uid, series)
    );
    const all = button(
      'Retrieve study',
      'Retrieve the whole study into the library',
      'chris-lab-retrieve-study',
      () => void this.retrieve(uid, null, box)
    );
    box.append(
      head,
      el(
        'div',
        'chris-lab-plugin-description',
        `${s.StudyDescription ?? ''} · ${s.NumberOfStudyRelatedInstances ?? '?'} images`
      ),
      more,
      all,
      series
    );
    return box;
  }

  private async showSeries(study: string, box: HTMLElement): Promise<void> {
    let items: Row[];
    try {
      items = (await this.find('SERIES', { StudyInstanceUID: study })).items;
    } catch (e) {
      this.showError(`cannot list the series: ${(e as Error).message}`);
      return;
    }
    box.replaceChildren();
    for (const r of items.sort((a, b) => Number(a.SeriesNumber ?? 0) - Number(b.SeriesNumber ?? 0))) {
      const uid = String(r.SeriesInstanceUID ?? '');
      const row = el('div', 'chris-lab-series');
      row.dataset.series = uid;
      row.append(
        el(
          'span',
          'chris-lab-output-name',
          `${r.SeriesNumber ?? ''} ${r.Modality ?? ''} ${r.SeriesDescription ?? ''} (${r.NumberOfSeriesRelatedInstances ?? '?'})`
        ),
        button(
          'Retrieve',
          'Retrieve this series into the library',
          'chris-lab-retrieve',
          () => void this.retrieve(study, uid, row)
        )
      );
      box.append(row);
    }
  }

  private async retrieve(study: string, series: string | null, where: HTMLElement): Promise<void> {
    this.hideError();
    let job: IRetrieval;
    try {
      job = await this.options.api.request(
        'POST',
        `pacs/${encodeURIComponent(this.node_.value)}/retrieve`,
        {},
        {
          study_uid: study,
          series_uid: series ?? undefined
        }
      );
    } catch (e) {
      this.showError(`cannot retrieve: ${(e as Error).message}`);
      return;
    }
    const box = el('div', 'chris-lab-retrieval');
    box.dataset.retrieval = String(job.id);
    where.append(box);
    this.retrievals.set(job.id, box);
    this.showRetrieval(job);
  }

  /** Draw a retrieval's progress (from the answer, then from each progress event). */
  showRetrieval(job: IRetrieval): void {
    const box = this.retrievals.get(job.id);
    if (!box) {
      return;
    }
    box.dataset.state = job.state;
    const bar = el('progress', 'chris-lab-progress');
    bar.max = 100;
    const pct = retrievalPercent(job);
    if (pct !== null) {
      bar.value = pct;
    }
    const parts: HTMLElement[] = [bar, el('span', 'chris-lab-retrieval-text', retrievalText(job))];
    if (job.state === 'done' && job.folder) {
      const folder = job.folder;
      parts.push(
        button('Open in viewer', 'Open the retrieved series in the ChRIS viewer', 'chris-lab-view', () =>
          this.options.openViewer(`path:${folder}`, folder.split('/').pop() || folder)
        )
      );
    }
    if (job.state === 'failed') {
      this.showError(`the retrieval failed: ${job.message}`);
    }
    box.replaceChildren(...parts);
  }
}
