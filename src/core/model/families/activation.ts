/**
 * The MLP's activation, parsed once from the name the config gives it (`hidden_act`,
 * `activation_function`, T5's `dense_act_fn`, a family's default) so that the graph's cost and
 * the depth rules switch on a type instead of matching the name.
 */
import type { Activation } from '../spec';

/**
 * The activation a name stands for, case and surrounding spaces aside. Only plain `relu` is
 * positively homogeneous as the depth rules model it; other ReLU forms (`relu2`, `relu6`,
 * `leaky_relu`) cost as one; every GELU form (`gelu_new`, `gelu_pytorch_tanh`, `quick_gelu`) is
 * costed as the tanh form; a name none of these match is 'other' and costed as SiLU.
 */
export function parseActivation(name: string): Activation {
  const a = name.trim().toLowerCase();
  if (a === 'relu') return 'relu';
  if (a.includes('relu')) return 'relu-like';
  if (a.includes('gelu')) return 'gelu';
  if (a === 'silu' || a === 'swish') return 'silu';
  return 'other';
}
