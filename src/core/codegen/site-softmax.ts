/**
 * Before/after pseudo-code of a Softmax → ·V site: the usual schedule's max, exponentials, gathers
 * and division over every key, and the deferred form's division after ·V at each offset.
 */
import { epilogueEngine, header, MATRIX, VECTOR, type SiteCodeInput, type SoftmaxShape } from './site-input';
import { code, comment, count, type Line } from './text';

/** The offset c and the exponentials of a Softmax, before the sum is gathered. */
function softmaxScores(s: SoftmaxShape | null): Line {
  const shape = s ? `: [rows, ${s.qkDim}] @ [${s.qkDim}, ${count(s.keys)}]` : '';
  return code('s = (q @ k.transpose(-2, -1)) * scale', `${MATRIX}${shape}`);
}

const LOCAL_ROW = 'each row is held by one unit: its max and Σ are local, no collective';

export function softmaxBefore(input: SiteCodeInput): Line[] {
  const s = input.softmax;
  const units = input.units;
  const keys = s ? count(s.keys) : 'L';
  return [
    ...header(input),
    comment(`before: the usual schedule; p @ V waits for ${units !== null ? 'both gathers and ' : ''}a division over every key`),
    softmaxScores(s),
    code('c = s.amax(dim=-1, keepdim=True)', `${VECTOR}: the max over ${units !== null ? "this unit's" : 'the'} keys`),
    units !== null ? code('c = all_gather_max(c)', `collective: gather the max over ${units} units`) : comment(LOCAL_ROW),
    code('e = exp(s - c); l = e.sum(dim=-1, keepdim=True)', `${VECTOR}: ${keys} exps per row`),
    ...(units !== null ? [code('l = all_gather_sum(l)', `collective: gather Σ exp(s − c) over ${units} units`)] : []),
    code('p = e / l', `${VECTOR}: p = exp(s − c) / sum(exp(s − c)), ${keys} values per row`),
    code('o = p @ v', `${MATRIX}${s ? `: [rows, ${keys}] @ [${keys}, ${s.vDim}]` : ''}`),
  ];
}

export function softmaxAfter(input: SiteCodeInput): Line[] {
  const s = input.softmax;
  const offset = s?.offset ?? 'exact';
  const units = input.units;
  const keys = s ? count(s.keys) : 'L';
  const vDim = s ? String(s.vDim) : 'head_dim';
  const pv = `${MATRIX}: starts at once on the unnormalized exponentials${s ? `, [rows, ${keys}] @ [${keys}, ${vDim}]` : ''}`;
  const engine = epilogueEngine(input.epilogue);
  const exps = code('e = exp(s - c); l = e.sum(dim=-1, keepdim=True)', `${VECTOR}: ${keys} exps per row`);
  const divide = code('o = o_raw / l', `${engine}: o = (exp(s − c) @ V) / Σ, ${vDim} values per row`);
  const sum = code('l = all_gather_sum(l)', `collective: gather Σ exp(s − c) over ${units ?? 0} units, side by side with e @ v`);
  const lines: Line[] = [comment(`after (offset: ${offset}): p @ V runs on exp(s − c); the division acts on ${vDim} values per row instead of ${keys}`), softmaxScores(s)];
  if (offset === 'bound') {
    lines.push(code('c = score_bound', 'a known upper bound of s: no max, no wait (exp overflows if a score exceeds it)'), exps, code('o_raw = e @ v', pv));
    if (units !== null) lines.push(sum);
    lines.push(divide);
  } else if (units === null) {
    lines.push(comment(LOCAL_ROW), code('c = s.amax(dim=-1, keepdim=True)', `${VECTOR}: the max over the row, local`), exps, code('o_raw = e @ v', pv), divide);
  } else if (offset === 'exact') {
    lines.push(
      code('c = s.amax(dim=-1, keepdim=True)', `${VECTOR}: the max over this unit's keys`),
      code('c = all_gather_max(c)', `collective: gather the max over ${units} units first: still on the critical path`),
      exps,
      code('o_raw = e @ v', pv),
      sum,
      divide,
    );
  } else {
    lines.push(
      code('m_unit = s.amax(dim=-1, keepdim=True)', `${VECTOR}: running max over this unit's keys, no wait`),
      code('e = exp(s - m_unit); l_unit = e.sum(dim=-1, keepdim=True)', `${VECTOR}: ${keys} exps per row`),
      code('o_raw = e @ v', pv),
      code('m, l = all_gather_max_sum(m_unit, l_unit)', `collective: one gather over ${units} units carries each unit's max and Σ: m = max m_unit, l = Σ l_unit·exp(m_unit − m)`),
      code('o = o_raw * exp(m_unit - m) / l', `${engine}: FlashAttention-style rescale by exp(m_unit − m), then divide: ${vDim} values per row`),
    );
  }
  return lines;
}
