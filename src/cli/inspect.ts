// Renders `s2snets inspect` reports as text.
import type { ModelFileReport, TensorEntry } from '../import/inspect.js';

const FORMAT_NAMES = { onnx: 'ONNX', torchscript: 'TorchScript', pth: 'PyTorch checkpoint (torch.save)', safetensors: 'safetensors' } as const;
/** Parameters listed unless every one is asked for. */
const LISTED = 20;

const entry = (t: TensorEntry) => `${t.name} ${t.dtype} [${t.shape?.join(', ') ?? '?'}]`;

/**
 * The report as lines of text.
 * @param r What inspectModelFile returned.
 * @param all List every parameter instead of the first 20.
 * @example formatInspection(inspectModelFile('m.onnx'), false)
 */
export function formatInspection(r: ModelFileReport, all: boolean): string {
  const head = [FORMAT_NAMES[r.format], r.opset !== null ? `opset ${r.opset}` : null, r.producer ? `from ${r.producer}` : null].filter(Boolean).join(', ');
  const lines = [`${r.file}: ${head}`];
  if (r.format === 'onnx') {
    lines.push(`inputs:  ${r.inputs.map(entry).join('; ') || 'none'}`, `outputs: ${r.outputs.map(entry).join('; ') || 'none'}`);
    const nodes = r.operators.reduce((s, o) => s + o.nodes, 0);
    const missing = r.operators.filter((o) => !o.supported);
    lines.push(`operators: ${r.operators.length} kinds, ${nodes} nodes: ${r.operators.map((o) => `${o.op} ${o.nodes}${o.supported ? '' : ' (unsupported)'}`).join(', ')}`);
    lines.push(r.unsupported ? `loads: no (${r.unsupported.replace(`${r.file}: `, '').replace(/; supported: .*/, '')})` : `loads: yes${missing.length ? '' : ' (every operator supported)'}`);
  }
  lines.push(`parameters: ${r.parameters.length} tensors, ${r.parameterCount.toLocaleString('en-US')} floating-point values`);
  for (const p of all ? r.parameters : r.parameters.slice(0, LISTED)) lines.push(`  ${entry(p)}`);
  if (!all && r.parameters.length > LISTED) lines.push(`  ... ${r.parameters.length - LISTED} more (--all lists them)`);
  if (r.skipped.length) lines.push(`skipped (kept as inert placeholders, never run): ${r.skipped.map((s) => `${s.path || '(top level)'} (${s.type}${s.tensors ? `, ${s.tensors} tensors` : ''})`).join(', ')}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
