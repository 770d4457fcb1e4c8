import { defaultKeymap, indentWithTab } from '@codemirror/commands';
import { EditorState } from '@codemirror/state';
import { EditorView, drawSelection, highlightActiveLine, keymap, lineNumbers, placeholder } from '@codemirror/view';
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next';
import { persistDoc } from '@aqueduct/client/yjs-offline';
import type { IndexeddbPersistence } from 'y-indexeddb';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

export type DocStatus = 'connecting' | 'connected' | 'disconnected';

export interface EditorPanelOptions {
  parent: HTMLElement;
  /** The document name (`/yjs/<doc>`). */
  doc: string;
  token: () => Promise<string>;
  user: { name: string; color: string };
  onStatus(status: DocStatus, synced: boolean): void;
}

/** Lighter variant of a colour for selection backgrounds (y-codemirror's `colorLight`). */
function light(color: string): string {
  return `${color}33`;
}

/**
 * The shared editor: CodeMirror 6 bound to a Y.Text with `y-codemirror.next`, synced through the
 * server's `/yjs/:doc` endpoint by the stock `y-websocket` provider. Remote carets and selections
 * come from awareness (`user: { name, color }`). The Y.Doc is also kept in IndexedDB
 * (`y-indexeddb`): edits made offline survive a reload and merge when the provider connects.
 */
export class EditorPanel {
  readonly ydoc = new Y.Doc();
  readonly text = this.ydoc.getText('codemirror');
  readonly provider: WebsocketProvider;
  readonly view: EditorView;
  /** The IndexedDB copy of the document. */
  readonly persistence: IndexeddbPersistence;
  /** Resolves once the IndexedDB copy is loaded into the Y.Doc. */
  readonly loaded: Promise<void>;
  private status: DocStatus = 'connecting';

  constructor(private readonly opts: EditorPanelOptions) {
    const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/yjs`;
    // connect: false: the token must be in params before the first connect.
    this.provider = new WebsocketProvider(wsBase, opts.doc, this.ydoc, { connect: false, disableBc: true, maxBackoffTime: 5000 });
    this.provider.awareness.setLocalStateField('user', { name: opts.user.name, color: opts.user.color, colorLight: light(opts.user.color) });
    this.provider.on('status', ({ status }: { status: DocStatus }) => {
      this.status = status;
      opts.onStatus(status, this.provider.synced);
    });
    this.provider.on('sync', (synced: boolean) => opts.onStatus(this.status, synced));
    const undoManager = new Y.UndoManager(this.text);
    this.view = new EditorView({
      parent: opts.parent,
      state: EditorState.create({
        doc: this.text.toString(),
        extensions: [
          lineNumbers(),
          drawSelection(),
          highlightActiveLine(),
          EditorView.lineWrapping,
          placeholder('Type here; everyone in the room sees it live…'),
          keymap.of([...yUndoManagerKeymap, indentWithTab, ...defaultKeymap]),
          yCollab(this.text, this.provider.awareness, { undoManager }),
          EditorView.contentAttributes.of({ 'aria-label': 'Shared document', 'aria-multiline': 'true' }),
        ],
      }),
    });
    this.persistence = persistDoc(opts.doc, this.ydoc);
    this.loaded = this.persistence.whenSynced.then(() => undefined);
    // Offline (a reload without network): work on the stored copy; `online` connects.
    if (navigator.onLine) void this.connect();
    else opts.onStatus('disconnected', false);
  }

  /** (Re)connects with a fresh token (tokens are short-lived; the provider reuses `params`). */
  async connect(): Promise<void> {
    await this.loaded;
    this.provider.params = { token: await this.opts.token() };
    if (navigator.onLine) this.provider.connect();
  }

  /** Updates the token used by the provider's next reconnect. */
  setToken(token: string): void {
    this.provider.params = { token };
  }

  setUser(user: { name: string; color: string }): void {
    this.provider.awareness.setLocalStateField('user', { name: user.name, color: user.color, colorLight: light(user.color) });
  }
}
