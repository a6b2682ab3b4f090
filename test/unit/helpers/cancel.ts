import type { CancelToken } from '../../../src/extension/editor/analysis-client';

/** A cancellation token canceled by hand, as VS Code's CancellationTokenSource is (the tests and the bench). */
export function cancelSource(): { token: CancelToken; cancel(): void } {
  let canceled = false;
  const listeners: (() => void)[] = [];
  return {
    token: {
      get isCancellationRequested() {
        return canceled;
      },
      onCancellationRequested: (l) => (listeners.push(l), { dispose: () => listeners.splice(listeners.indexOf(l), 1) }),
    },
    cancel: () => ((canceled = true), listeners.forEach((l) => l())),
  };
}
