// The only platform APIs the pure core uses beyond ES2022: both exist in Node (≥ 17), in browsers and in
// VS Code's web workers. Declared here for tsconfig.core.json alone, which has neither DOM nor Node types.
declare function structuredClone<T>(value: T): T;
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array): string;
}
