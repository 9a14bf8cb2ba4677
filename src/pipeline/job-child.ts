// Entry point of a job process (see job-process.ts): receives a request, runs that job into its
// artifact and sends the outcome; then exits, or with keepAlive waits for the next request (a
// pool's process). SIGINT/SIGTERM make the running job checkpoint and stop (the process exits
// after reporting it) and end an idle process; if the parent dies the process exits at once
// (every write it makes is atomic, so nothing is torn).
import { ArtifactError, type Manifest } from './artifacts.js';
import { directoryStore } from './artifact-store.js';
import { executeJob, firstLine } from './execute.js';
import { findJob } from './graph.js';
import { jobKey } from './jobs.js';
import { currentEngine } from './provenance.js';
import type { JobProcessCommand, JobProcessMessage, JobProcessRequest } from './job-process.js';

let running: AbortController | null = null;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => (running ? running.abort() : process.exit(0)));
process.on('disconnect', () => process.exit(1));

const send = (m: JobProcessMessage) => process.send!(m);

async function run(request: JobProcessRequest, controller: AbortController): Promise<JobProcessMessage> {
  try {
    const store = directoryStore(request.runDir);
    const job = findJob(request.plan, request.key);
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
    return controller.signal.aborted ? { type: 'interrupted' } : { type: 'failed', error: firstLine(e) };
  }
}

process.on('message', async (m: JobProcessCommand) => {
  running = new AbortController();
  const outcome = await run(m.request, running);
  running = null;
  // Only a process whose job finished stays up: after a failure or an interruption it starts afresh.
  const stay = m.keepAlive && outcome.type === 'done';
  process.send!(outcome, () => {
    if (!stay) process.exit(0);
  });
});
