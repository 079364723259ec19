// A stand-in for vscode-languageclient/node: the enums and request types the
// extension uses, and a LanguageClient that records what it was given.
import { vi } from 'vitest';

export enum State { Stopped = 1, Starting = 3, Running = 2 }
export enum ErrorAction { Continue = 1, Shutdown = 2 }
export enum CloseAction { DoNotRestart = 1, Restart = 2 }
export enum RevealOutputChannelOn { Debug = 0, Info = 1, Warn = 2, Error = 3, Never = 4 }
export const ApplyWorkspaceEditRequest = { type: { method: 'workspace/applyEdit' } };
export const ExecuteCommandRequest = { type: { method: 'workspace/executeCommand' } };
export const ShowMessageNotification = { type: { method: 'window/showMessage' } };
export const CodeLensRequest = { method: 'textDocument/codeLens' };

export class LanguageClient {
  static instances: LanguageClient[] = [];
  static startError: Error | undefined;
  state = State.Stopped;
  requestHandlers = new Map<string, (params: any) => unknown>();
  notificationHandlers = new Map<string, (params: any) => unknown>();
  stateListeners: Array<(e: { oldState: State; newState: State }) => void> = [];
  sendRequest = vi.fn(async (_type: unknown, _params: unknown, _token?: unknown): Promise<unknown> => null);
  protocol2CodeConverter = {
    asUri: (uri: string) => ({ toString: () => uri }),
    asWorkspaceEdit: async (edit: unknown) => ({ converted: edit }),
  };

  constructor(public id: string, public name: string, public serverOptions: any, public clientOptions: any) {
    LanguageClient.instances.push(this);
  }
  onRequest(type: { method: string }, handler: (params: any) => unknown) {
    this.requestHandlers.set(type.method, handler);
    return { dispose() {} };
  }
  onNotification(type: string | { method: string }, handler: (params: any) => unknown) {
    this.notificationHandlers.set(typeof type === 'string' ? type : type.method, handler);
    return { dispose() {} };
  }
  onDidChangeState(listener: (e: { oldState: State; newState: State }) => void) {
    this.stateListeners.push(listener);
    return { dispose() {} };
  }
  private setState(newState: State) {
    const oldState = this.state;
    this.state = newState;
    this.stateListeners.forEach((listener) => listener({ oldState, newState }));
  }
  async start() {
    this.setState(State.Starting);
    if (LanguageClient.startError) {
      this.setState(State.Stopped);
      throw LanguageClient.startError;
    }
    this.setState(State.Running);
  }
  async dispose() {
    this.setState(State.Stopped);
  }
  getFeature() {
    return { getProvider: () => undefined };
  }
}
