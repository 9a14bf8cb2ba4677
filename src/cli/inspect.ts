// Renders the reports of `s2snets inspect`, `s2snets reconstruct` and `s2snets export` as text.
import type { ModelFileReport, TensorEntry } from '../import/inspect.js';
import type { ReconstructSummary, TopClass } from '../commands/reconstruct.js';
import type { ExportSummary } from '../commands/export.js';

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

const classes = (top: TopClass[]) => top.map((c) => `${c.index} ${(c.probability * 100).toFixed(1)}%`).join(', ');

/**
 * What `reconstruct` wrote (and each image's top-5 when a classifier was given), and what it skipped.
 * @param s What reconstructImages returned.
 * @param outDir The output folder, named in the closing line.
 * @example formatReconstruction(await reconstructImages(ae, ['photos'], { outDir: 'out' }), 'out')
 */
export function formatReconstruction(s: ReconstructSummary, outDir: string): string {
  const lines: string[] = [];
  for (const w of s.written) {
    if (w.top5) lines.push(`${w.input}: top-5 original: ${classes(w.top5.original)} | reconstruction: ${classes(w.top5.reconstruction)}`);
  }
  for (const k of s.skipped) lines.push(`skipped ${k.file}: ${k.reason}`);
  lines.push(`${s.written.length} image${s.written.length === 1 ? '' : 's'} reconstructed into ${outDir}, ${s.skipped.length} skipped`);
  return lines.join('\n');
}

const list = (v: readonly number[]) => `(${v.map((x) => Number(x.toFixed(4))).join(', ')})`;

/**
 * What `export` wrote, and what the autoencoder takes as input.
 * @param s What exportAutoencoder returned.
 * @example formatExport(exportAutoencoder({ run: 'runs/mnist', ae: 'A_S', out: 'a_s.onnx' }))
 */
export function formatExport(s: ExportSummary): string {
  const what = s.format === 'onnx' ? `ONNX opset ${s.onnx!.opset}` : "safetensors, the authors' SegNet parameter names";
  const size = s.bytes >= 1e6 ? `${(s.bytes / 1e6).toFixed(1)} MB` : `${(s.bytes / 1e3).toFixed(1)} kB`;
  const lines = [`${s.output}: ${what}, ${size}`];
  lines.push(`autoencoder: ${s.autoencoder}${s.run ? ` of ${s.run}` : ''}; SegNet stages ${JSON.stringify(s.stages)}, ${s.inChannels} channel(s), ${s.parameters.toLocaleString('en-US')} parameters`);
  if (s.onnx) lines.push(`input '${s.onnx.input}' [${s.onnx.dims.join(', ')}] -> output '${s.onnx.output}' [${s.onnx.dims.join(', ')}] (float32; height and width multiples of ${s.sizeMultiple})`);
  else lines.push(`input: [batch, ${s.inChannels}, height, width], height and width multiples of ${s.sizeMultiple}`);
  const space = s.inputSpace;
  lines.push(space ? `images in [0, 1], normalized: (x - mean ${list(space.mean)}) / std ${list(space.std)}, trained at ${space.size}x${space.size}; the output is in the same space` : 'input normalization: as the weights were trained (not recorded in a weights file)');
  return lines.join('\n');
}
