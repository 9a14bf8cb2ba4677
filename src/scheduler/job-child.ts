// Entry point of a job process (see job-process.ts): receives a request, runs that job into its
// artifact and sends the outcome; then exits, or with keepAlive waits for the next request (a
// pool's process). SIGINT/SIGTERM make the running job checkpoint and stop (the process exits
// after reporting it) and end an idle process; if the parent dies the process removes its
// staging directories and exits at once, silently (every other write it makes is atomic, so
// nothing is torn; a message to the dead parent fails with EPIPE, which is expected then).
import { rmSync } from 'node:fs';
import { ArtifactError, type Manifest } from '../runs/artifacts.js';
import { directoryStore, type ArtifactStore } from '../runs/artifact-store.js';
import { executeJob, firstLine } from './execute.js';
import { jobKey } from './job-graph.js';
import { currentEngine } from './current-engine.js';
import type { GraphModule, GraphSource, JobProcessCommand, JobProcessMessage, JobProcessRequest } from './job-process.js';
import { S2SNetsError } from '../common/errors.js';

let running: AbortController | null = null;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => (running ? running.abort() : process.exit(0)));

/** Staging directories of the running job: an exit without the job's own cleanup removes them. */
const staged = new Set<string>();
process.on('disconnect', () => {
  for (const dir of staged) rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});

/** The store, remembering the staging directories it hands out. */
function trackingStaging(store: ArtifactStore): ArtifactStore {
  return {
    ...store,
    stagingDir(key) {
      const dir = store.stagingDir(key);
      staged.add(dir);
      return dir;
    },
  };
}

// Without a callback a failed send (the parent is gone: EPIPE) would be thrown as an uncaught
// error with its stack; the 'disconnect' handler ends the process instead.
const send = (m: JobProcessMessage, then: (error: Error | null) => void = () => {}) => process.send!(m, undefined, {}, then);

/** The module that rebuilds a graph, loaded once per process. */
const graphModules = new Map<string, Promise<GraphModule>>();
function findJob(graph: GraphSource, key: string) {
  if (!graphModules.has(graph.module)) graphModules.set(graph.module, import(graph.module) as Promise<GraphModule>);
  return graphModules.get(graph.module)!.then((m) => m.findJob(graph.payload, key));
}

async function run(request: JobProcessRequest, controller: AbortController): Promise<JobProcessMessage> {
  try {
    const store = trackingStaging(directoryStore(request.runDir));
    const job = await findJob(request.graph, request.key);
    const deps = new Map<string, Manifest>();
    for (const dep of job.deps) {
      const v = store.verify(jobKey(dep));
      if (!v.ok) throw new ArtifactError(`the artifact of dependency '${dep.name}' in ${request.runDir} is unusable: ${v.reason}`);
      deps.set(jobKey(dep), v.manifest);
    }
    const execution = await executeJob(store, job, deps, controller.signal, {
      progress: (fraction, message, metrics) => send({ type: 'progress', fraction, message, metrics }),
      log: (message) => send({ type: 'log', message }),
      warning: (message) => send({ type: 'warning', message }),
      metrics: (metrics) => send({ type: 'metrics', metrics }),
    }, { identity: currentEngine(), accept: request.acceptEngineChange });
    return { type: 'done', execution };
  } catch (e) {
    return controller.signal.aborted ? { type: 'interrupted' } : { type: 'failed', error: firstLine(e), code: e instanceof S2SNetsError ? e.code : undefined };
  }
}

process.on('message', async (m: JobProcessCommand) => {
  running = new AbortController();
  const outcome = await run(m.request, running);
  running = null;
  staged.clear();
  // Only a process whose job finished stays up: after a failure or an interruption it starts afresh.
  const stay = m.keepAlive && outcome.type === 'done';
  send(outcome, (error) => {
    if (error || !stay) process.exit(error ? 1 : 0);
  });
});
