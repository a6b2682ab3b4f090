/**
 * safetensors files: the bounded header reader (safetensors-header.ts) and, for a lone file, the
 * spec inferred from its tensor names (safetensors-config.ts), under the one name the rest of the
 * project imports.
 */
export * from './safetensors-header';
export * from './safetensors-config';
