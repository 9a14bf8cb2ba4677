// report.html: one self-contained page (figures embedded as data URIs, inline CSS, no external
// requests) that says what was run, shows every measure, and explains how to read each.
import type { Results } from './schema.js';
import { escapeXml as esc } from './escape.js';
import { runWarnings } from './diagnostics.js';
import { claimSentence, NO_CLAIMS, percent, seenInputText, withInterval } from './format.js';
import { SEPARATION_LEVEL, SEPARATION_SHUFFLES } from '../analysis/replicates.js';
import { colourRows, colourSeedNote, finetuneRows, periodicRows, plantedRows, separationRows } from './measures.js';

function rowsTable(t: { header: string[]; rows: string[][] }): string {
  return `<table><tr>${t.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${t.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</table>`;
}

export interface EmbeddedFigure {
  id: string;
  caption: string;
  png: Buffer;
}

const pct = (x: number | null) => (x === null ? '&ndash;' : `${(100 * x).toFixed(2)}%`);
const pts = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`;

/** "yes, cuDNN 91900, TF32 on for convolutions and off for matrix products", or "no". */
function cudaDescription(e: Results['run']['engine']): string {
  if (!e.cuda) return 'no';
  const parts = ['yes'];
  if (e.cudnnVersion) parts.push(`cuDNN ${e.cudnnVersion}`);
  if (e.tf32) parts.push(`TF32 ${e.tf32.convolutions ? 'on' : 'off'} for convolutions and ${e.tf32.matmul ? 'on' : 'off'} for matrix products`);
  return parts.join(', ');
}

function img(figs: Map<string, EmbeddedFigure>, id: string): string {
  const f = figs.get(id);
  if (!f) return '';
  return `<figure><img alt="${esc(f.caption)}" src="data:image/png;base64,${f.png.toString('base64')}"><figcaption>${esc(f.caption)}</figcaption></figure>`;
}

function matrixTable(rows: string[], cols: string[], m: number[][], fmt: (v: number, i: number, j: number) => string, colour: (v: number) => string): string {
  const head = `<tr><th></th>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const body = rows.map((r, i) => `<tr><th>${esc(r)}</th>${m[i].map((v, j) => `<td style="background:${colour(v)}">${fmt(v, i, j)}</td>`).join('')}</tr>`).join('');
  return `<table class="matrix">${head}${body}</table>`;
}

const shade = (v: number) => `hsl(210, 60%, ${Math.round(97 - 45 * Math.max(0, Math.min(1, v)))}%)`;
const diverge = (v: number) => (v >= 0 ? `hsl(210, 60%, ${Math.round(97 - 200 * Math.min(0.2, v))}%)` : `hsl(0, 65%, ${Math.round(97 - 200 * Math.min(0.2, -v))}%)`);

/** Nested configuration as [dotted key, value] pairs, so that it reads as a two-column table. */
export function flattenConfig(value: unknown, prefix = ''): [string, string][] {
  if (value !== null && typeof value === 'object' && !(Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object'))) {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    if (entries.length > 0) return entries.flatMap(([k, v]) => flattenConfig(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix || '(value)', JSON.stringify(value) ?? 'undefined']];
}

export function reportHtml(r: Results, figs: Map<string, EmbeddedFigure>): string {
  const run = r.run;
  const cx = r.crossEvaluation;
  const order = r.order;
  const totalSeconds = Object.values(run.durations).reduce((sum, s) => sum + s, 0);
  const durations = [...Object.entries(run.durations), ['total', totalSeconds] as const]
    .map(([job, s]) => `<tr><td>${esc(job)}</td><td>${s.toFixed(1)} s</td></tr>`)
    .join('');
  const config = flattenConfig(run.plan)
    .map(([k, v]) => `<tr><td><code>${esc(k)}</code></td><td class="text">${esc(v)}</td></tr>`)
    .join('');
  type Acc = Results['classifiers'][number]['accuracy']['original'];
  const top1 = (a: Acc) => withInterval(a.top1, a.ci95.top1, 100);
  const top5 = (a: Acc) => (a.top5 === null ? '&ndash;' : withInterval(a.top5, a.ci95.top5, 100));
  const accuracyRows = r.classifiers
    .map(
      (c) =>
        `<tr><td>${esc(c.name)}</td><td>${esc(c.family)}</td><td>${c.parameters.toLocaleString('en')}</td><td class="text">${esc(seenInputText(c.input, run.imageSize))}</td><td>${top1(c.accuracy.original)}</td><td>${top1(c.accuracy.generic)}</td><td>${top1(c.accuracy.own)}</td><td>${top5(c.accuracy.original)}</td><td>${top5(c.accuracy.own)}</td></tr>`,
    )
    .join('');
  const aeRows = r.autoencoders
    .map((a) => `<tr><td>${esc(a.name)}</td><td>${withInterval(a.psnr, a.ci95.psnr, 1, 2)} dB</td><td>${withInterval(a.intraNmi, a.ci95.intraNmi, 1, 3)}</td><td>${withInterval(a.interNmi, a.ci95.interNmi, 1, 3)}</td><td>${a.gridEnergy.toFixed(3)}</td></tr>`)
    .join('');
  const warnings = runWarnings(r);
  const warningBlock = warnings.length ? `<div class="warn">${warnings.map((w) => `<p><b>Warning.</b> ${esc(w.message)}</p>`).join('')}</div>` : '';
  const colour = colourRows(r);
  const planted = plantedRows(r);
  const violations = order.violations.length ? `<ul>${order.violations.map((v) => `<li>${esc(v.description)}</li>`).join('')}</ul>` : '';
  const relation = (p: Results['order']['pairs'][number]) =>
    p.established === 'a' ? `${esc(p.a)} &gt; ${esc(p.b)}` : p.established === 'b' ? `${esc(p.b)} &gt; ${esc(p.a)}` : p.established === 'tie' ? 'tied' : '<b>uncertain</b>';
  const pairRows = order.pairs.map((p) => `<tr><td>${esc(p.a)} vs ${esc(p.b)}</td><td>${percent(p.aAbove)}</td><td>${percent(p.bAbove)}</td><td>${percent(p.tie)}</td><td class="text">${relation(p)}</td></tr>`).join('');
  const noise = r.noise;
  const noiseRows = noise
    ? noise.classifiers
        .map((c) => `<tr><td>${esc(c.name)}</td>${noise.sigmas.map((_, k) => `<td>${withInterval(c.noisy[k], c.ci95.noisy[k], 100)}</td><td>${withInterval(c.own[k], c.ci95.own[k], 100)}</td><td>${withInterval(c.gain[k], c.ci95.gain[k], 100)}</td>`).join('')}</tr>`)
        .join('')
    : '';
  const noiseSection = noise
    ? `<h2>Noise robustness</h2>
<p>Top-1 accuracy (%) of each classifier on ${noise.samples} of the evaluation originals (a seeded, stratified subset) with Gaussian pixel noise of standard deviation sigma added (values clipped to [0, 1], seeded), and on its own S2SNet's reconstructions of the same noisy images; the change is own minus noisy, with a paired interval (the same resampled images for both).</p>
<table><tr><th rowspan="2">classifier</th>${noise.sigmas.map((s) => `<th colspan="3">sigma ${s}</th>`).join('')}</tr><tr>${noise.sigmas.map(() => '<th>noisy</th><th>own S2SNet</th><th>change (pts)</th>').join('')}</tr>${noiseRows}</table>
${img(figs, 'noise')}
<div class="how"><b>How to read it.</b> The paper reports that S2SNets help under noise: the AE, trained to keep what its classifier needs, can also remove noise the classifier is sensitive to. A change whose interval lies above 0 supports that for this classifier and noise level; one that straddles 0 does not decide it.</div>`
    : '';
  const replicates = r.replicates;
  const separations = separationRows(r);
  const replicateSection = replicates
    ? `<h2>Replicate seeds</h2>
<p>Seeds ${replicates.seeds.join(', ')}: the ${replicates.repeatAll ? 'classifiers, A_S and fine-tunes were' : 'fine-tunes were'} retrained with each seed (the data split and evaluation set stay fixed). Kendall's W of the rankings across seeds: ${replicates.kendallW === null ? 'undefined' : replicates.kendallW.toFixed(3)} (1: every seed gives the same ranking).</p>
<table><tr><th>ranking</th><th>seeds</th><th>of which total</th></tr>${replicates.rankings.map((x) => `<tr><td>${x.ranking.map(esc).join(' &gt; ')}</td><td>${x.seeds} of ${replicates.seeds.length}</td><td>${x.total}</td></tr>`).join('')}</table>
<table><tr><th>pair</th><th>a above b</th><th>b above a</th><th>neither established</th></tr>${replicates.relations.map((x) => `<tr><td>${esc(x.a)} vs ${esc(x.b)}</td><td>${x.aAbove}</td><td>${x.bAbove}</td><td>${x.neither}</td></tr>`).join('')}</table>
${separations ? `<p>Do the subjects of each measure (the autoencoders, the classifiers) differ by more than the seeds move each of them? A one-way analysis of variance over the seeds, its p-value from ${SEPARATION_SHUFFLES.toLocaleString('en')} seeded shuffles of the values among the subjects; below ${SEPARATION_LEVEL} their differences are beyond seed noise:</p>${rowsTable(separations)}` : ''}
<details><summary>Every figure across seeds (mean, standard deviation)</summary><table><tr><th>measure</th><th>of</th><th>mean</th><th>sd</th><th>per seed</th></tr>${replicates.figures.map((f) => `<tr><td class="text">${esc(f.measure)}</td><td class="text">${esc(f.subject)}</td><td>${f.mean.toFixed(4)}</td><td>${f.sd.toFixed(4)}</td><td class="text">${f.values.map((v) => v.toFixed(4)).join(', ')}</td></tr>`).join('')}</table></details>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>s2snets report: ${esc(run.dataset)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child,td.text{text-align:left}.matrix td{min-width:4.5em}
figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#555}
.warn{background:#fff4e5;border-left:4px solid #e69500;padding:.3em 1em;margin:1em 0}.how{background:#f7f9fc;border-left:4px solid #7aa7d9;padding:.5em 1em;margin:1em 0}.order{font-size:1.2em;font-weight:600}
code{background:#f2f2f2;padding:0 .25em}
</style></head><body>
<h1>What do these classifiers like to see?</h1>
${warningBlock}
<p>S2SNets analysis of ${r.classifiers.length} classifier(s) on <b>${esc(run.dataset)}</b> (${run.channels} channel(s), ${run.imageSize}&times;${run.imageSize} px, ${run.classes.length} classes), made by s2snets ${esc(r.tool.version)} on ${esc(r.createdAt)}.
A generic autoencoder (A_S) was pretrained to reconstruct images; then, for every classifier, a copy of it had its decoder fine-tuned with that frozen classifier's loss. What each fine-tuned AE keeps is what its classifier uses: its input signal.</p>

<p>To browse all ${run.evalSamples} evaluation images, compare reconstructions up to 16&times; and open the images behind each cell of the cross matrix, <a href="#viewer">open the run in the viewer</a>.</p>

<h2>What was run</h2>
<table><tr><th>evaluation set</th><td>${run.evalSamples} test images (seeded, stratified)</td></tr>
<tr><th>seed</th><td>${run.seed}</td></tr>
<tr><th>intervals</th><td>95% percentile bootstrap over the evaluation images (inter-NMI: over its pairs), ${r.bootstrap.resamples} resamples, seed ${r.bootstrap.seed}; changes are paired. Grid energy is pooled over the set and has none.</td></tr><tr><th>device</th><td>${esc(run.device)}</td></tr>
<tr><th>engine</th><td>libtorch ${esc(run.engine.torchVersion)}, ${esc(run.engine.blas)}, oneDNN ${run.engine.onednn ? 'on' : 'off'}${run.engine.winograd ? ' with Winograd 3x3 convolutions' : ''}, CPU kernels ${esc(run.engine.cpuCapability)}, ${run.engine.threads} CPU thread(s), CUDA ${cudaDescription(run.engine)}${run.mixedEngines.length ? ` (${run.mixedEngines.length} job(s) made by another engine: ${esc(run.mixedEngines.map((m) => m.job).join(', '))})` : ''}</td></tr>
<tr><th>inputs skipped as unreadable</th><td>${run.skippedInputs}</td></tr></table>
<details open><summary>Time per job (${totalSeconds.toFixed(0)} s in all)</summary><table>${durations}</table></details>
<details><summary>Configuration</summary><table>${config}</table></details>

<h2>Accuracy</h2>
<table><tr><th>classifier</th><th>family</th><th>parameters</th><th>input</th><th>top-1 original</th><th>top-1 on A_S</th><th>top-1 on own S2SNet</th><th>top-5 original</th><th>top-5 own</th></tr>${accuracyRows}</table>
${img(figs, 'accuracy')}
<div class="how"><b>How to read it.</b> A classifier that does as well on its own S2SNet's reconstructions as on the originals is fully served by what its AE keeps. The paper found the combined S2SNet matches or slightly improves accuracy. A drop on the A_S reconstructions shows how sensitive the classifier is to the small losses of a generic AE.</div>

<h2>Cross-evaluation</h2>
<p>Row <i>i</i>: reconstructions of AE <i>i</i> (A_S, then one S2SNet per classifier). Column <i>j</i>: the classifier evaluated on them. Top-1 accuracy:</p>
${matrixTable(cx.rows, cx.columns, cx.top1, (v, i, j) => withInterval(v, cx.ci95.top1[i][j], 100), shade)}
<p>Change against each classifier on the originals (percentage points; originals: ${cx.columns.map((c, j) => `${esc(c)} ${pct(cx.original[j])}`).join(', ')}):</p>
${matrixTable(cx.rows, cx.columns, cx.delta, (v, i, j) => `${pts(v)} [${pts(cx.ci95.delta[i][j][0])}, ${pts(cx.ci95.delta[i][j][1])}]`, diverge)}
${img(figs, 'cross')}${img(figs, 'delta')}
<div class="how"><b>How to read it.</b> The diagonal of the S2SNet rows is each classifier on its own signal. Off the diagonal, a classifier that keeps its accuracy on another classifier's reconstructions finds everything it needs in that other signal; a large loss means the other AE dropped or distorted what this classifier relies on.</div>

<h2>Order of the classifiers</h2>
<p class="order">${order.ranking.map(esc).join(' &gt; ')}</p>
<p>${order.isTotal ? 'The relation is a <b>strict total order</b>: every pair is decided and it is transitive.' : `The relation is <b>not</b> a strict total order; ${order.violations.length} violation(s):`}</p>${violations}
<p>How often each relation held across ${order.resamples} bootstrap resamples of the evaluation images (established at ${percent(order.level)} or more):</p>
<table><tr><th>pair (a vs b)</th><th>a above b</th><th>b above a</th><th>tied</th><th>established</th></tr>${pairRows}</table>
<div class="how"><b>Rule.</b> ${esc(order.rule)} (epsilon ${(100 * order.epsilon).toFixed(1)} pts; a configuration's <code>eval.orderEpsilon</code> sets it). The paper found such a total order among ImageNet classifiers, not correlated with accuracy or size: it depends on each classifier's input signal.</div>

<h2>The paper's claims, tested</h2>
<p>Kendall's tau between each classifier's position in the order and its accuracy on the originals, and its parameter count, with a two-sided permutation p-value. A total order is one ranking with one tau; otherwise tau is computed over every ranking consistent with the established relations, so that no conclusion rests on how an undecided pair was broken:</p>
${r.claims ? `<ul><li>Accuracy: ${esc(claimSentence('accuracy', r.claims.orderVsAccuracy, r.claims))}.</li><li>Size: ${esc(claimSentence('parameter count', r.claims.orderVsSize, r.claims))}.</li></ul>` : `<p>${esc(NO_CLAIMS)}</p>`}

${noiseSection}

${
  colour
    ? `<h2>Colour shift</h2>
${rowsTable(colour)}
<p>${esc(colourSeedNote(r))}</p>
${img(figs, 'colour-shift')}
<div class="how"><b>How to read it.</b> Every pixel of a reconstruction is compared with the same pixel of its original in CIELAB. The cast is the mean (&Delta;a*, &Delta;b*): a colour painted over everything (the paper: AlexNet); its angle is counter-clockwise from +a* (0&deg; red, 90&deg; yellow, 180&deg; green, 270&deg; blue). Chroma ratio is the reconstructions' total chroma over the originals': below 1 the colours are washed out (the paper: ResNet-50). Hue rotation is the chroma-weighted circular mean of each pixel's hue change: colours turned around the hue circle (the paper: Inception v3, blue to violet, yellow to green).</div>`
    : ''
}

<h2>Periodic artifacts</h2>
${rowsTable(periodicRows(r))}
<div class="how"><b>How to read it.</b> For each period p (2, 4, 8 pixels), the power of the reconstructions at the frequencies of that period (k/p cycles per pixel, horizontal, vertical and diagonal; images Hann-windowed) over the originals' power there, averaged over images: 0 dB adds nothing, above 0 a grid or stripes of that period are painted in (the paper: AlexNet, ResNet-50's strided sampling), below 0 the AE removes fine detail (blur, as a generic AE does). The added RMS is the amplitude (0&ndash;1 pixel scale) of the pattern added at that period.</div>

${planted ? `<h2>Planted signal</h2><p>The class is carried by <b>${esc(r.planted!.carrier)}</b>; the other property is a nuisance. What each autoencoder's reconstructions keep of the planted colour (share of shapes whose mean colour is still nearest, in RGB direction, to the planted palette colour; and how far it drifted, &Delta;E) and shape (share of shapes cut out of the reconstruction that are still best matched by the planted shape; and the cut-out's IoU with the planted mask), with 95 % intervals, and how many points more or less of the carrier each keeps than A_S, paired over the same images:</p>${rowsTable(planted)}` : ''}

<h2>Fine-tunes</h2>
${rowsTable(finetuneRows(r))}
<div class="how"><b>How to read it.</b> Each fine-tune runs until its classifier's accuracy on the AE's reconstructions of a set-aside check set reaches its accuracy on the originals, or the check-set loss stops falling, within its step budget. One that used the whole budget without either has not converged: its S2SNet may not show all its classifier uses.</div>

<h2>Normalized mutual information and grid energy</h2>
<table><tr><th>autoencoder</th><th>PSNR</th><th>intra-NMI</th><th>inter-NMI</th><th>grid energy</th></tr>${aeRows}</table>
${img(figs, 'nmi')}
<div class="how"><b>How to read it.</b> Intra-NMI compares each original with its reconstruction: high means the classifier lets much of the signal in (the paper: VGG highest, close to A_S). Inter-NMI compares reconstructions of different inputs: high means the AE paints the same pattern on every input (the paper: AlexNet). Estimator: pixel values quantised to ${r.nmi.bins} bins per channel, NMI = 2&nbsp;I(X;Y)/(H(X)+H(Y)), averaged over channels and images (inter: ${r.nmi.interPairs} seeded random pairs).
Grid energy is the share of the reconstruction error at the period-2 (Nyquist) frequencies: about 0.75 for white noise, near 1 for a checkerboard. Being a share of the error, it falls when other errors (a colour cast, blur) grow; the periodic-artifact table above does not, and is the one to read for grids.</div>

<h2>Histograms</h2>
${img(figs, 'histograms')}
<div class="how"><b>How to read it.</b> For colour images the channels are CIELAB: L* lightness, a* green&ndash;red, b* blue&ndash;yellow. A shifted a*/b* histogram is a colour cast or hue rotation (the paper: Inception v3 rotates hues, AlexNet casts colour); a narrowed one is desaturation (ResNet-50). Grayscale images show intensity.</div>

<h2>Reconstructions</h2>
${img(figs, 'grid')}
${img(figs, 'differences')}
<div class="how"><b>How to read it.</b> Each row shows the same test images as reconstructed by one autoencoder. The difference maps (amplified) make faint, regular patterns visible: a grid that is the same on every input is the classifier's blind spot being filled with whatever the decoder likes.</div>

${replicateSection}

${figs.has('curves') ? `<h2>Training</h2>${img(figs, 'curves')}` : ''}

<h2 id="viewer">Open in the viewer</h2>
<p>This page shows a few fixed images. The viewer shows them all: from the project folder run</p>
<pre><code>npx s2snets serve RUN_DIR</code></pre>
<p>where <code>RUN_DIR</code> is the folder that holds this report&rsquo;s <code>report/</code> folder (the demo&rsquo;s is <code>runs/mnist</code>), and open the address it prints. Its pages: a <b>gallery</b> of every evaluation image (original, A_S and each S2SNet side by side, filtered by class or by the images a classifier gets wrong on an AE&rsquo;s reconstructions), <b>compare</b> (two sources of one image up to 16&times;, a swipe slider, a signed difference map with adjustable gain), the <b>cross matrix</b> (each cell opens the images behind it) and the <b>charts</b> of this page with tooltips and zoom. It only reads the run and listens on this machine only.</p>

<h2>Reference</h2>
<p>S. Palacio, J. Folz, J. Hees, F. Raue, D. Borth, A. Dengel. <i>What do Deep Networks Like to See?</i> CVPR 2018, pp. 3108&ndash;3117 , arXiv 1803.08337 (https://arxiv.org/abs/1803.08337). BibTeX key <code>palaciofolz2018s2snets</code>.</p>
</body></html>
`;
}
