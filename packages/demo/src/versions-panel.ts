import { clock, el } from './dom.js';
import { listVersions, recordVersion, restoreVersion, type VersionInfo } from './versions-api.js';

export interface VersionsPanelNodes { list: HTMLElement; form: HTMLFormElement; label: HTMLInputElement; status: HTMLElement }

/**
 * Record a version of the shared document, list versions, restore one. A restore changes the
 * document on the server; every open editor receives the change live through `/yjs/:doc`.
 */
export class VersionsPanel {
  constructor(private readonly nodes: VersionsPanelNodes, private readonly doc: string, private readonly token: () => Promise<string>) {
    nodes.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.record();
    });
  }

  async refresh(): Promise<void> {
    try {
      const versions = await listVersions(this.doc, await this.token());
      this.render(versions);
    } catch (err) {
      this.say(`Could not list versions: ${(err as Error).message}`);
    }
  }

  private async record(): Promise<void> {
    const label = this.nodes.label.value.trim() || null;
    try {
      const v = await recordVersion(this.doc, await this.token(), label);
      this.nodes.label.value = '';
      this.say(`Recorded ${v.label ?? 'a version'} at ${clock(v.time)}.`);
      await this.refresh();
    } catch (err) {
      this.say(`Could not record: ${(err as Error).message}`);
    }
  }

  private async restore(v: VersionInfo, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await restoreVersion(this.doc, await this.token(), v.id);
      this.say(`Restored ${v.label ?? clock(v.time)}.`);
      await this.refresh();
    } catch (err) {
      this.say(`Could not restore: ${(err as Error).message}`);
    } finally {
      button.disabled = false;
    }
  }

  private render(versions: VersionInfo[]): void {
    const latest = [...versions].sort((a, b) => b.time - a.time).slice(0, 20);
    if (latest.length === 0) {
      this.nodes.list.replaceChildren(el('li', { class: 'empty' }, 'No versions yet.'));
      return;
    }
    this.nodes.list.replaceChildren(...latest.map((v) => {
      const name = v.label ?? 'untitled';
      const button = el('button', { type: 'button', class: 'restore', 'aria-label': `Restore version ${name} from ${clock(v.time)}` }, 'Restore');
      button.addEventListener('click', () => void this.restore(v, button));
      return el('li', { 'data-version': v.id }, el('span', { class: 'version-label' }, name), ' ', el('span', { class: 'meta' }, `${clock(v.time)} · ${v.author}`), ' ', button);
    }));
  }

  private say(text: string): void {
    this.nodes.status.textContent = text;
  }
}
