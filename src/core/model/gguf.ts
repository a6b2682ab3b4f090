/**
 * GGUF files: the bounded header reader (gguf-reader.ts) and the metadata → config → spec mapping
 * (gguf-config.ts), under the one name the rest of the project imports.
 */
export * from './gguf-reader';
export * from './gguf-config';
