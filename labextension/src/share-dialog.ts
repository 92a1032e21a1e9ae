/**
 * The Share dialog of the Library panel (a file or folder) and of the Feeds panel (a feed): share
 * with a user, a group or everyone (read or write; everyone: read), or make a private link that
 * expires (its URL is shown once, with a copy button). It lists the subject's shares and live
 * links, each with a remove button.
 * Every refusal of the server is shown in the dialog with its message.
 */

import { Clipboard, Dialog, showDialog } from '@jupyterlab/apputils';
import { deleteIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { ChrisShareApi, ILink, IShare } from './api';
import { ErrorBox } from './error-box';
import { button, el } from './panel';
import {
  EXPIRY_CHOICES,
  ShareKind,
  ShareSubject,
  absoluteLink,
  linksOf,
  shareRequest,
  shareTarget,
  sharesOf,
  subjectFields,
  subjectName
} from './share';

function select(cls: string, label: string, options: [string, string][]): HTMLSelectElement {
  const s = el('select', cls);
  s.setAttribute('aria-label', label);
  for (const [value, text] of options) {
    const o = el('option', '', text);
    o.value = value;
    s.append(o);
  }
  return s;
}

function labelled(text: string, control: HTMLElement): HTMLLabelElement {
  const l = el('label', 'chris-lab-share-field');
  l.append(el('span', 'chris-lab-share-label', text), control);
  return l;
}

/** The dialog's body: the form, the new link (when one was made) and the path's shares. */
export class ShareBody extends Widget {
  readonly errorBox = new ErrorBox();
  private kind = select('chris-lab-share-kind', 'Share with', [
    ['user', 'a user'],
    ['group', 'a group'],
    ['public', 'everyone (read only)'],
    ['link', 'a private link']
  ]);
  private who = el('input', 'chris-lab-share-who');
  private permission = select('chris-lab-share-permission', 'Permission', [
    ['read', 'read'],
    ['write', 'read and write']
  ]);
  private expiry = select(
    'chris-lab-share-expiry',
    'Link expires after',
    EXPIRY_CHOICES.map(([text, seconds]) => [String(seconds), text])
  );
  private whoField = labelled('Name', this.who);
  private permissionField = labelled('Permission', this.permission);
  private expiryField = labelled('Expires after', this.expiry);
  private linkBox = el('div', 'chris-lab-share-link');
  private list = el('ul', 'chris-lab-share-list');

  constructor(
    private shares: ChrisShareApi,
    readonly subject: ShareSubject
  ) {
    super();
    this.addClass('chris-lab-share-body');
    this.who.type = 'text';
    this.who.setAttribute('aria-label', 'User or group name');
    this.expiry.value = String(7 * 86400);
    this.kind.addEventListener('change', () => this.showFields());
    const go = button(
      'Share',
      'Share with the chosen user, group or everyone',
      'chris-lab-share-go',
      () => void this.go()
    );
    const form = el('div', 'chris-lab-share-form');
    form.append(labelled('Share with', this.kind), this.whoField, this.permissionField, this.expiryField, go);
    this.linkBox.hidden = true;
    this.node.append(
      this.errorBox.node,
      form,
      this.linkBox,
      el('div', 'chris-lab-subheading', 'Shared so far'),
      this.list
    );
    this.showFields();
  }

  /** The subject in words: the path, or the feed's name and number. */
  get name(): string {
    return subjectName(this.subject);
  }

  get choice(): ShareKind {
    return this.kind.value as ShareKind;
  }

  /** Show only the fields the chosen kind uses. */
  private showFields(): void {
    const k = this.choice;
    this.whoField.hidden = k === 'public' || k === 'link';
    this.permissionField.hidden = k === 'link';
    this.expiryField.hidden = k !== 'link';
    this.who.placeholder = k === 'group' ? 'group name' : 'user name';
    if (k === 'public') {
      this.permission.value = 'read';
    }
    (this.permission.querySelector('option[value=write]') as HTMLOptionElement).disabled = k === 'public';
    const go = this.node.querySelector('.chris-lab-share-go') as HTMLButtonElement | null;
    if (go) {
      go.textContent = k === 'link' ? 'Make link' : 'Share';
    }
  }

  /** Load the path's shares and live links and draw them. */
  async load(): Promise<void> {
    let shares: IShare[];
    let links: ILink[];
    try {
      [shares, links] = await Promise.all([
        this.shares.shares().then(r => sharesOf(r.items, this.subject)),
        this.shares.links().then(r => linksOf(r.items, this.subject))
      ]);
    } catch (e) {
      this.errorBox.show(`cannot list the shares of ${this.name}: ${(e as Error).message}`);
      return;
    }
    const items: HTMLElement[] = [];
    for (const s of shares) {
      const li = el('li', 'chris-lab-share-item');
      li.dataset.shareId = String(s.id);
      const text = `${shareTarget(s)} — ${s.permission}${s.created_by ? ` (by ${s.created_by})` : ''}`;
      li.append(
        el('span', 'chris-lab-share-text', text),
        button(
          deleteIcon,
          `Stop sharing with ${shareTarget(s)}`,
          'chris-lab-share-remove',
          () => void this.remove(() => this.shares.unshare(s.id), `cannot stop sharing with ${shareTarget(s)}`)
        )
      );
      items.push(li);
    }
    for (const l of links) {
      const li = el('li', 'chris-lab-share-item chris-lab-link-item');
      li.dataset.linkId = String(l.id);
      li.append(
        el(
          'span',
          'chris-lab-share-text',
          `private link #${l.id} — read, until ${l.expires_at.slice(0, 16).replace('T', ' ')}`
        ),
        button(
          deleteIcon,
          `Revoke private link #${l.id}`,
          'chris-lab-share-remove',
          () => void this.remove(() => this.shares.revokeLink(l.id), `cannot revoke link #${l.id}`)
        )
      );
      items.push(li);
    }
    if (!items.length) {
      items.push(el('li', 'chris-lab-empty', 'not shared with anyone'));
    }
    this.list.replaceChildren(...items);
  }

  private async remove(call: () => Promise<unknown>, what: string): Promise<void> {
    try {
      await call();
      this.errorBox.hide();
    } catch (e) {
      this.errorBox.show(`${what}: ${(e as Error).message}`);
    }
    await this.load();
  }

  /** Send the form: a share, or a new link (then shown with a copy button). */
  async go(): Promise<void> {
    const k = this.choice;
    try {
      if (k === 'link') {
        const link = await this.shares.link(subjectFields(this.subject), Number(this.expiry.value));
        this.showLink(link);
      } else {
        const req = shareRequest(this.subject, k, this.who.value, this.permission.value as 'read' | 'write');
        if (typeof req === 'string') {
          this.errorBox.show(req);
          return;
        }
        await this.shares.share(req);
        this.who.value = '';
      }
      this.errorBox.hide();
    } catch (e) {
      this.errorBox.show(`cannot share ${this.name}: ${(e as Error).message}`);
      return;
    }
    await this.load();
  }

  private showLink(link: ILink): void {
    const url = el('input', 'chris-lab-share-url');
    url.readOnly = true;
    url.value = link.url ? absoluteLink(link.url, this.shares.api.conn.baseUrl) : '';
    url.setAttribute('aria-label', 'Private link');
    const status = el('span', 'chris-lab-share-copied');
    status.setAttribute('aria-live', 'polite');
    const copy = button('Copy', 'Copy the link to the clipboard', 'chris-lab-share-copy', () => {
      Clipboard.copyToSystem(url.value);
      status.textContent = 'copied';
    });
    this.linkBox.replaceChildren(
      el(
        'div',
        'chris-lab-share-note',
        `Anyone with this link can read ${this.name} until ${link.expires_at.slice(0, 16).replace('T', ' ')}. It is shown only now.`
      ),
      url,
      copy,
      status
    );
    this.linkBox.hidden = false;
  }
}

/** Open the Share dialog for a library path or a feed; resolves when it is closed. */
export async function openShareDialog(shares: ChrisShareApi, subject: ShareSubject): Promise<void> {
  const body = new ShareBody(shares, subject);
  void body.load();
  await showDialog({
    title: `Share ${subjectName(subject)}`,
    body,
    buttons: [Dialog.okButton({ label: 'Close' })],
    focusNodeSelector: '.chris-lab-share-kind'
  });
}
