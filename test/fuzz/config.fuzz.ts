// Fuzz target for experiment config parsing: any JSON value or text, and valid configs with one
// field mutated, must either load into a config that passes the schema again unchanged, or fail with
// a one-line ConfigError that names a field. Nothing else may escape (no TypeError, no crash).
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, ExperimentConfig, loadConfig, parseConfigJson } from '../../src/experiment/config.js';

const validConfig = fc.record(
  {
    dataset: fc.oneof(fc.constantFrom('mnist', 'fashion-mnist'), fc.record({ imageFolder: fc.string({ minLength: 1 }) })),
    classifiers: fc.array(fc.oneof(fc.constantFrom('lenet', 'vgg', 'resnet'), fc.record({ onnx: fc.string({ minLength: 1 }) })), { minLength: 1, maxLength: 4 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    device: fc.constantFrom('auto', 'cpu', 'cuda', 'cuda:1'),
    quick: fc.boolean(),
    ae: fc.record({ stages: fc.constantFrom('small', 'vgg16'), weights: fc.string({ minLength: 1 }), pretrain: fc.record({ epochs: fc.integer({ min: 0, max: 50 }), lr: fc.double({ min: 1e-6, max: 1, noNaN: true }) }, { requiredKeys: [] }) }, { requiredKeys: [] }),
    finetune: fc.record({ steps: fc.integer({ min: 1, max: 1e6 }), lr: fc.double({ min: 1e-7, max: 1, noNaN: true }), optimizer: fc.constantFrom('adam', 'adamw', 'sgd'), targets: fc.constantFrom('labels', 'predictions'), trainWholeAe: fc.boolean() }, { requiredKeys: [] }),
    eval: fc.record({ samples: fc.integer({ min: 1, max: 10000 }), nmiBins: fc.integer({ min: 2, max: 256 }) }, { requiredKeys: [] }),
    runDir: fc.string({ minLength: 1 }),
  },
  { requiredKeys: ['classifiers'] },
);

/** A valid config with one field (at any depth) replaced by an arbitrary JSON value. */
const mutatedConfig = fc.tuple(validConfig, fc.nat(), fc.jsonValue()).map(([config, pick, value]) => {
  const paths: string[][] = [];
  const walk = (v: unknown, p: string[]) => {
    paths.push(p);
    if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...p, k]);
  };
  walk(config, []);
  const path = paths[1 + (pick % (paths.length - 1))];
  let node = config as Record<string, unknown>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string, unknown>;
  node[path[path.length - 1]] = value;
  return config;
});

/** Config objects, and file texts (their JSON, possibly cut short, or any string). */
const input = fc.oneof(
  // A string given to loadConfig is a file path, so top-level strings go through the text arm.
  fc.oneof(validConfig, mutatedConfig, fc.jsonValue().filter((v) => typeof v !== 'string')).map((value) => ({ value })),
  fc.oneof(validConfig, mutatedConfig).chain((v) => {
    const text = JSON.stringify(v);
    return fc.nat({ max: text.length }).map((cut) => ({ text: text.slice(0, cut) }));
  }),
  fc.string({ unit: 'binary' }).map((text) => ({ text })),
);

export function fuzzConfig(numRuns: number): void {
  fc.assert(
    fc.property(input, (i) => {
      const source = 'text' in i ? 'exp.json' : 'config';
      let config;
      try {
        config = 'text' in i ? parseConfigJson(i.text, source, '/base') : loadConfig(i.value);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        if (e.message.includes('\n') || !e.message.startsWith(`${source}: `)) throw new Error(`bad error message: ${JSON.stringify(e.message)}`);
        return;
      }
      // A loaded config is complete and stable: parsing it again changes nothing.
      const again = ExperimentConfig.parse(JSON.parse(JSON.stringify(config)));
      if (!isDeepStrictEqual(again, config)) throw new Error(`a loaded config does not round-trip: ${JSON.stringify(config)}`);
    }),
    { numRuns },
  );
}
