import { closeIcon } from '@jupyterlab/ui-components';

import { button, el } from './panel';

/**
 * A panel's error line: the message (an API error's own text) and a dismiss button; hidden when
 * there is nothing to say. One for the Plugins, Feeds and PACS panels.
 */
export class ErrorBox {
  readonly node = el('div', 'chris-lab-error');

  constructor() {
    this.node.hidden = true;
    this.node.setAttribute('role', 'alert');
  }

  show(message: string): void {
    this.node.replaceChildren(
      el('span', 'chris-lab-error-text', message),
      button(closeIcon, 'Dismiss', 'chris-lab-dismiss', () => this.hide())
    );
    this.node.hidden = false;
  }

  hide(): void {
    this.node.hidden = true;
    this.node.replaceChildren();
  }
}
