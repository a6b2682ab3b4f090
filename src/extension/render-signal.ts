/**
 * What a webview page last reported drawing (its `rendered` message), and a promise for the next
 * report: the report panel and the model viewer both keep one, and the extension-host tests wait on it.
 */
export class RenderSignal {
  last: string | undefined;
  private readonly waiting = new Set<(text: string) => void>();

  fire(text: string): void {
    this.last = text;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const resolve of waiting) resolve(text);
  }

  next(): Promise<string> {
    return new Promise((resolve) => this.waiting.add(resolve));
  }
}
