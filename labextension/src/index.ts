/**
 * chris-jupyter-lab: the ChRIS panels in JupyterLab. This plugin adds the Library panel to the
 * left sidebar, the Plugins panel (catalog and run form) beside it, the Feeds and jobs tab and
 * the viewer as main-area tabs, their commands (palette) and launcher cards; the layout
 * restorer brings them back on reload.
 */

import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { PageConfig } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { LabIcon } from '@jupyterlab/ui-components';

import { ChrisApi, ChrisComputeApi, IConnection, IInstance, query } from './api';
import { FeedsPanel } from './feeds-panel';
import { valuesOf } from './form';
import { PacsPanel } from './pacs-panel';
import { LibraryPanel } from './panel';
import { PluginsPanel } from './plugins-panel';
import { ViewerWidget } from './viewer';

// The stylesheet comes through package.json's styleModule, which JupyterLab loads itself.

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
  '<g class="jp-icon3" fill="#616161"><path d="M3 5h7l2 2h9v12H3z" opacity=".35"/>' +
  '<circle cx="12" cy="13" r="4"/><path d="M12 3v3M12 20v1M4 13H2M22 13h-2" stroke="#616161" stroke-width="1.5"/></g></svg>';

export const chrisIcon = new LabIcon({ name: 'chris-jupyter-lab:chris', svgstr: ICON_SVG });

export namespace CommandIDs {
  export const openLibrary = 'chris:open-library';
  export const refreshLibrary = 'chris:refresh-library';
  export const share = 'chris:share';
  export const openViewer = 'chris:open-viewer';
  export const openPlugins = 'chris:open-plugins';
  export const openFeeds = 'chris:open-feeds';
  export const openPacs = 'chris:open-pacs';
}

function readCookie(name: string): string {
  const m = document.cookie.match(new RegExp(`(?:^|;\\s*)${name}=([^;]*)`));
  return m ? decodeURIComponent(m[1]) : '';
}

/** The connection to this Jupyter server, as JupyterLab's own services see it. */
export function labConnection(settings: ServerConnection.ISettings): IConnection {
  return {
    baseUrl: settings.baseUrl,
    token: settings.token,
    cookie: readCookie,
    // called unbound: the settings' fetch is usually the window's, which refuses another `this`
    fetch: (input, init) => {
      const f = settings.fetch;
      return f(input as RequestInfo, init);
    },
    xhr: () => new XMLHttpRequest()
  };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'chris-jupyter-lab:plugin',
  description: 'ChRIS panels: the library, the plugins and their run form, feeds and jobs, the viewer.',
  autoStart: true,
  requires: [],
  optional: [ICommandPalette, ILauncher, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    restorer: ILayoutRestorer | null
  ) => {
    const settings = ServerConnection.makeSettings();
    const api = new ChrisApi(labConnection(settings));
    const viewers = new WidgetTracker<MainAreaWidget<ViewerWidget>>({ namespace: 'chris-viewer' });

    app.commands.addCommand(CommandIDs.openViewer, {
      label: args => (args.label ? `Open ${args.label} in the ChRIS viewer` : 'Open in the ChRIS viewer'),
      caption: 'Show a DICOM series or a NIfTI volume of the library in the ChRIS viewer',
      execute: args => {
        const volumeId = String(args.volumeId || '');
        if (!volumeId) {
          return;
        }
        const open = viewers.find(w => w.content.volumeId === volumeId);
        if (open) {
          app.shell.activateById(open.id);
          return open;
        }
        const content = new ViewerWidget(api, volumeId, String(args.label || volumeId));
        const widget = new MainAreaWidget({ content });
        widget.id = content.id;
        widget.title.label = content.title.label;
        widget.title.caption = content.title.caption;
        widget.title.icon = chrisIcon;
        widget.title.closable = true;
        void viewers.add(widget);
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
        return widget;
      }
    });

    const events = (types: string[]) => {
      const url = api.eventsUrl(types);
      return typeof EventSource === 'undefined' ? null : new EventSource(url, { withCredentials: true });
    };
    const openViewer = (volumeId: string, label: string) =>
      void app.commands.execute(CommandIDs.openViewer, { volumeId, label });
    const panel = new LibraryPanel({ api, openViewer, events });
    panel.title.icon = chrisIcon;
    app.shell.add(panel, 'left', { rank: 150 });
    void panel.start();

    app.commands.addCommand(CommandIDs.openLibrary, {
      label: 'ChRIS library',
      caption: 'Open the ChRIS library panel',
      icon: args => (args.isPalette ? undefined : chrisIcon),
      // after the layout restore, which would otherwise put back the sidebar it saved
      execute: async () => {
        await app.restored;
        app.shell.activateById(panel.id);
      }
    });
    app.commands.addCommand(CommandIDs.refreshLibrary, {
      label: 'Refresh the ChRIS library',
      execute: () => panel.refresh()
    });
    app.commands.addCommand(CommandIDs.share, {
      label: 'Share…',
      caption: 'Share the selected library file or folder with a user, a group, everyone or a private link',
      isEnabled: () => panel.selectedPath !== null,
      execute: () => panel.share()
    });
    app.contextMenu.addItem({ command: CommandIDs.share, selector: '.chris-lab-library .chris-lab-row', rank: 1 });

    // -- plugins (sidebar) and feeds (main area) ------------------------------------------------
    const compute = new ChrisComputeApi(api);
    const feedsTracker = new WidgetTracker<MainAreaWidget<FeedsPanel>>({ namespace: 'chris-feeds' });
    const plugins = new PluginsPanel({
      compute,
      librarySelection: () => panel.selectedPath,
      onRun: (inst: IInstance) =>
        void app.commands.execute(CommandIDs.openFeeds, { feedId: inst.feed_id ?? undefined, instanceId: inst.id })
    });
    plugins.title.icon = chrisIcon;
    app.shell.add(plugins, 'left', { rank: 151 });
    void plugins.refresh();

    /** Re-run: the plugin's form, filled in with the instance's parameters, on the same input. */
    const rerun = async (inst: IInstance) => {
      await app.commands.execute(CommandIDs.openPlugins, {});
      const plugin = inst.plugin ? await plugins.find(inst.plugin) : undefined;
      if (!plugin) {
        plugins.showError(`cannot re-run instance ${inst.id}: its plugin ${inst.plugin ?? ''} is not registered`);
        return;
      }
      // events carry no parameters: read the instance itself when they are missing
      const full = inst.params ? inst : await compute.instance(inst.id).catch(() => inst);
      await plugins.openForm(plugin.name, {
        values: valuesOf(plugin, full),
        previousId: inst.previous_id,
        title: inst.title
      });
    };

    app.commands.addCommand(CommandIDs.openPlugins, {
      label: 'Run a plugin',
      caption: 'Open the ChRIS plugin catalog and its run form',
      icon: args => (args.isPalette ? undefined : chrisIcon),
      execute: async args => {
        await app.restored;
        app.shell.activateById(plugins.id);
        if (args.plugin) {
          await plugins.openForm(String(args.plugin));
        }
      }
    });
    app.commands.addCommand(CommandIDs.openFeeds, {
      label: 'ChRIS feeds and jobs',
      caption: 'Open the ChRIS feeds, their graphs of jobs, logs and outputs',
      icon: args => (args.isPalette ? undefined : chrisIcon),
      execute: async args => {
        let widget = feedsTracker.currentWidget ?? feedsTracker.find(() => true);
        if (!widget || widget.isDisposed) {
          const content = new FeedsPanel({ api, compute, openViewer, rerun: i => void rerun(i), events });
          widget = new MainAreaWidget({ content });
          widget.id = content.id;
          widget.title.label = content.title.label;
          widget.title.caption = content.title.caption;
          widget.title.icon = chrisIcon;
          widget.title.closable = true;
          void feedsTracker.add(widget);
          app.shell.add(widget, 'main');
          await content.start();
        }
        app.shell.activateById(widget.id);
        if (args.feedId !== undefined && args.feedId !== null) {
          const iid = args.instanceId !== undefined ? Number(args.instanceId) : null;
          await widget.content.showFeed(Number(args.feedId), iid);
        }
        return widget;
      }
    });

    // -- PACS (sidebar): asks the server once it is first shown
    const pacs = new PacsPanel({ api, openViewer, events });
    pacs.title.icon = chrisIcon;
    app.shell.add(pacs, 'left', { rank: 152 });
    app.commands.addCommand(CommandIDs.openPacs, {
      label: 'Query PACS',
      caption: 'Query a configured PACS and retrieve studies or series into the library',
      icon: args => (args.isPalette ? undefined : chrisIcon),
      execute: async () => {
        await app.restored;
        app.shell.activateById(pacs.id);
      }
    });

    if (palette) {
      for (const command of [
        CommandIDs.openLibrary,
        CommandIDs.refreshLibrary,
        CommandIDs.share,
        CommandIDs.openPlugins,
        CommandIDs.openFeeds,
        CommandIDs.openPacs
      ]) {
        palette.addItem({ command, category: 'ChRIS' });
      }
    }
    if (launcher) {
      launcher.add({ command: CommandIDs.openLibrary, category: 'ChRIS', rank: 1 });
      launcher.add({ command: CommandIDs.openPlugins, category: 'ChRIS', rank: 2 });
      launcher.add({ command: CommandIDs.openFeeds, category: 'ChRIS', rank: 3 });
      launcher.add({ command: CommandIDs.openPacs, category: 'ChRIS', rank: 4 });
    }
    if (restorer) {
      restorer.add(panel, 'chris-library');
      restorer.add(plugins, 'chris-plugins');
      restorer.add(pacs, 'chris-pacs');
      void restorer.restore(feedsTracker, { command: CommandIDs.openFeeds, name: () => 'feeds' });
      void restorer.restore(viewers, {
        command: CommandIDs.openViewer,
        args: w => ({ volumeId: w.content.volumeId, label: w.content.title.label }),
        name: w => w.content.volumeId
      });
    }
    // for scripts and tests, when JupyterLab exposes its own app object (expose_app_in_browser)
    if (PageConfig.getOption('exposeAppInBrowser') === 'true') {
      (window as unknown as Record<string, unknown>).chrisLab = { panel, plugins, pacs, api, compute, query };
    }
  }
};

export default plugin;
