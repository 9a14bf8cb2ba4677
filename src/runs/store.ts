// The run store: one SQLite database per run directory (run.db) recording every job's state,
// timings, metrics and errors, an event log, and the run's metadata. WAL mode with
// synchronous=FULL makes each status change durable when its transaction commits.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { toolVersion } from '../common/version.js';
import { runLayout } from './artifacts.js';
import type { Json } from '../common/json.js';
import { S2SNetsError } from '../common/errors.js';

export class StoreError extends S2SNetsError {
  override name = 'StoreError';
  static override readonly codes: readonly string[] = ['S2SNETS_RUN_STORE'];
}

export type RunDbErrorCode = (typeof RunDbError.codes)[number];

/** run.db cannot be used: damaged (S2SNETS_RUN_DB_DAMAGED) or its disk is full (S2SNETS_RUN_DB_FULL); the message says what to do. */
export class RunDbError extends StoreError {
  override name = 'RunDbError';
  static override readonly codes = ['S2SNETS_RUN_DB_DAMAGED', 'S2SNETS_RUN_DB_FULL'] as const;
  static override readonly legacyCodes = { S2S_RUN_DB_DAMAGED: 'S2SNETS_RUN_DB_DAMAGED', S2S_RUN_DB_FULL: 'S2SNETS_RUN_DB_FULL' };
  declare readonly code: RunDbErrorCode;
  constructor(code: RunDbErrorCode, message: string) {
    super(message, code);
  }
}

/**
 * The remedy for a damaged run.db. The store is only the record: the artifacts are the truth, and
 * a run started without run.db adopts every artifact that verifies (scheduler/runner.ts reuse), so nothing
 * finished is recomputed (test/pipeline/run-db.test.ts checks it).
 */
const recovery = (path: string) =>
  `move it away (mv ${path} ${path}.damaged) and rerun the command that made the run: it adopts every finished job whose artifact verifies, recomputing nothing finished`;

/**
 * What is wrong with a damaged run.db and what to do, in one line.
 * @param path run.db
 * @param why what SQLite or the schema check found
 * @example damagedRunDbMessage('runs/mnist/run.db', 'database disk image is malformed')
 */
export function damagedRunDbMessage(path: string, why: string): string {
  return `${path} is damaged (${why}); ${recovery(path)}`;
}

const DAMAGE_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_IOERR_SHORT_READ']);

/**
 * A SQLite error of run.db as a RunDbError saying what is wrong and what to do; other errors as they are.
 * @param e what SQLite threw
 * @param path run.db
 * @param doing what the store was doing, e.g. "recording job 'evaluate' done"
 */
function runDbError(e: unknown, path: string, doing: string): unknown {
  const { code = '', message = '' } = e as { code?: string; message?: string };
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') && /ENOSPC|disk is full/i.test(message) || code === 'ENOSPC') {
    return new RunDbError('S2SNETS_RUN_DB_FULL', `${path}: the disk is full (${doing}); free space on it and rerun the command: finished jobs are kept and the interrupted one resumes`);
  }
  if (DAMAGE_CODES.has(code) || /^no such (table|column)/.test(message)) return new RunDbError('S2SNETS_RUN_DB_DAMAGED', damagedRunDbMessage(path, message));
  return e;
}

export type JobStatus = 'pending' | 'running' | 'done' | 'failed';

export interface JobRow {
  key: string;
  name: string;
  status: JobStatus;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationS: number | null;
  artifactSha: string | null;
  metrics: Record<string, Json>;
  error: string | null;
}

export interface EventRow {
  id: number;
  time: string;
  jobKey: string | null;
  kind: string;
  message: string;
}

export interface RunMeta {
  created: string;
  toolVersion: string;
  config: Json;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  started_at TEXT,
  finished_at TEXT,
  duration_s REAL,
  artifact_sha TEXT,
  metrics TEXT NOT NULL DEFAULT '{}',
  error TEXT,
  -- The graph of the latest invocation: its number and this job's place in topological order.
  invocation INTEGER NOT NULL DEFAULT 0,
  position INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  job_key TEXT,
  kind TEXT NOT NULL,
  message TEXT NOT NULL
);
`;

const now = () => new Date().toISOString();

let cachedColumns: Map<string, string[]> | undefined;
/** Each table of SCHEMA and its columns, read from SCHEMA itself (built once in memory). */
function schemaColumns(): Map<string, string[]> {
  if (!cachedColumns) {
    const db = new Database(':memory:');
    try {
      db.exec(SCHEMA);
      const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as { name: string }[]).map((t) => t.name);
      cachedColumns = new Map(tables.map((t) => [t, (db.pragma(`table_info(${t})`) as { name: string }[]).map((c) => c.name)]));
    } finally {
      db.close();
    }
  }
  return cachedColumns;
}

interface RawJobRow {
  key: string;
  name: string;
  status: JobStatus;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
  artifact_sha: string | null;
  metrics: string;
  error: string | null;
}

const toJobRow = (r: RawJobRow): JobRow => ({
  key: r.key,
  name: r.name,
  status: r.status,
  attempts: r.attempts,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  durationS: r.duration_s,
  artifactSha: r.artifact_sha,
  metrics: JSON.parse(r.metrics),
  error: r.error,
});

export class RunStore {
  private readonly db: Database.Database;
  /** run.db of the run directory. */
  readonly path: string;
  /** Each statement prepared once, on first use (a read-only store may lack tables it never reads). */
  private readonly statements = new Map<string, Database.Statement>();
  /** Jobs that were 'running' when the store was opened: their process died. */
  readonly interrupted: JobRow[];

  private constructor(readonly runDir: string, readOnly: boolean) {
    this.path = runLayout(runDir).db;
    try {
      if (!readOnly) mkdirSync(runDir, { recursive: true });
      this.db = new Database(this.path, { readonly: readOnly, fileMustExist: readOnly, timeout: 10_000 });
    } catch (e) {
      throw new StoreError(`${this.path}: cannot open the run database (${(e as Error).message})`);
    }
    try {
      this.guard('opening it', () => {
        if (!readOnly) {
          this.db.pragma('journal_mode = WAL');
          this.db.pragma('synchronous = FULL');
          this.db.exec(SCHEMA);
        }
        this.checkSound();
      });
      this.interrupted = readOnly ? [] : this.guard('marking the jobs its last process was running as interrupted', () => this.recoverInterrupted());
    } catch (e) {
      this.db.close();
      throw e;
    }
  }

  /** Runs fn, turning SQLite's damage and disk-full errors into a RunDbError that names run.db, what was being done and the remedy. */
  private guard<T>(doing: string | (() => string), fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw runDbError(e, this.path, typeof doing === 'string' ? doing : doing());
    }
  }

  /** "job 'evaluate'" for messages; the key's start when even that cannot be read. */
  private jobLabel(key: string | null): string {
    if (key === null) return 'the run';
    try {
      const row = this.sql(`SELECT name FROM jobs WHERE key = ?`).get(key) as { name: string } | undefined;
      return row ? `job '${row.name}'` : `job ${key.slice(0, 12)}`;
    } catch {
      return `job ${key.slice(0, 12)}`;
    }
  }

  /**
   * SQLite's quick check (every page readable and well formed; milliseconds for a run's store) and
   * every table with the columns SCHEMA gives it: a damaged, empty or half-made run.db is refused
   * on opening, not by a bare SQLite message at some later statement.
   * @throws RunDbError S2SNETS_RUN_DB_DAMAGED
   */
  private checkSound(): void {
    const damaged = (why: string) => new RunDbError('S2SNETS_RUN_DB_DAMAGED', damagedRunDbMessage(this.path, why));
    const check = (this.db.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check).join('; ');
    if (check !== 'ok') throw damaged(`SQLite's check: ${check.slice(0, 200)}`);
    for (const [table, columns] of schemaColumns()) {
      const have = new Set((this.db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
      if (have.size === 0) throw damaged(`it has no ${table} table: an empty or half-made run database`);
      const lacking = columns.filter((c) => !have.has(c));
      if (lacking.length) throw damaged(`its ${table} table lacks column(s) ${lacking.join(', ')}: a half-made run database`);
    }
  }

  /** The prepared statement of `text`, prepared on its first use. */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) this.statements.set(text, (statement = this.db.prepare(text)));
    return statement;
  }

  /** Opens (creating if needed) the store of a run directory; interrupted jobs become pending. */
  static open(runDir: string): RunStore {
    return new RunStore(runDir, false);
  }

  /** Opens an existing run read-only (for status); fails if runDir holds no run. */
  static openReadOnly(runDir: string): RunStore {
    return new RunStore(runDir, true);
  }

  private recoverInterrupted(): JobRow[] {
    return this.db.transaction(() => {
      const rows = (this.sql(`SELECT * FROM jobs WHERE status = 'running' ORDER BY invocation, position`).all() as RawJobRow[]).map(toJobRow);
      for (const r of rows) {
        this.sql(`UPDATE jobs SET status = 'pending' WHERE key = ?`).run(r.key);
        this.addEvent(r.key, 'interrupted', `job '${r.name}' was running when its process ended; it resumes from its checkpoint`);
      }
      return rows;
    })();
  }

  close(): void {
    this.db.close();
  }

  /** Records the run's configuration; creation time and tool version are set once. */
  setMeta(config: Json): void {
    this.guard("recording the run's configuration", () => this.db.transaction(() => {
      const ins = this.sql(`INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)`);
      ins.run('created', now());
      this.sql(`INSERT OR REPLACE INTO meta (name, value) VALUES ('tool_version', ?)`).run(toolVersion());
      this.sql(`INSERT OR REPLACE INTO meta (name, value) VALUES ('config', ?)`).run(JSON.stringify(config));
    })());
  }

  meta(): RunMeta | null {
    const rows = this.guard("reading the run's configuration", () => this.sql(`SELECT name, value FROM meta`).all() as { name: string; value: string }[]);
    const m = new Map(rows.map((r) => [r.name, r.value]));
    if (!m.has('created')) return null;
    return { created: m.get('created')!, toolVersion: m.get('tool_version') ?? 'unknown', config: JSON.parse(m.get('config') ?? 'null') };
  }

  /** Starts a new invocation: registers the graph's jobs (new ones as pending) in order. */
  beginInvocation(jobs: { key: string; name: string }[]): number {
    return this.guard("registering the command's jobs", () => this.db.transaction(() => {
      const { n } = this.sql(`SELECT COALESCE(MAX(invocation), 0) + 1 AS n FROM jobs`).get() as { n: number };
      const upsert = this.sql(
        `INSERT INTO jobs (key, name, status, invocation, position) VALUES (?, ?, 'pending', ?, ?)
         ON CONFLICT (key) DO UPDATE SET name = excluded.name, invocation = excluded.invocation, position = excluded.position`,
      );
      jobs.forEach((j, i) => upsert.run(j.key, j.name, n, i));
      this.addEvent(null, 'invocation', `run ${n} of ${jobs.length} jobs`);
      return n;
    })());
  }

  job(key: string): JobRow | null {
    const r = this.guard(`reading job ${key.slice(0, 12)}`, () => this.sql(`SELECT * FROM jobs WHERE key = ?`).get(key) as RawJobRow | undefined);
    return r ? toJobRow(r) : null;
  }

  /** Every job ever registered in the store, in registration order. */
  allJobs(): JobRow[] {
    return this.guard('reading the jobs', () => (this.sql(`SELECT * FROM jobs ORDER BY rowid`).all() as RawJobRow[]).map(toJobRow));
  }

  /**
   * The run's whole job graph, as every command run in this directory registered it: per job name
   * the key its latest command used (a changed setting supersedes the old key), in the order names
   * were first registered. Each command registers its graph in topological order and can only add
   * jobs downstream of known ones, so this order is topological too.
   */
  graphJobs(): JobRow[] {
    const rows = this.guard('reading the jobs', () =>
      this.sql(
        `SELECT j.* FROM jobs j
         WHERE j.invocation = (SELECT MAX(invocation) FROM jobs WHERE name = j.name)
         ORDER BY (SELECT MIN(rowid) FROM jobs WHERE name = j.name), j.rowid`,
      ).all() as RawJobRow[],
    );
    // Two keys of one name in the same command cannot happen through the pipeline; keep the first.
    const seen = new Set<string>();
    return rows.map(toJobRow).filter((r) => !seen.has(r.name) && seen.add(r.name));
  }

  markRunning(key: string): JobRow {
    return this.transition(key, ['pending', 'failed', 'done'], 'running', () => {
      this.sql(`UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ?, finished_at = NULL, duration_s = NULL, error = NULL WHERE key = ?`)
        .run(now(), key);
      this.addEvent(key, 'start', 'started');
    });
  }

  markDone(key: string, done: { durationS: number | null; artifactSha: string; metrics: Record<string, Json> }, how = 'finished'): JobRow {
    return this.transition(key, ['running', 'pending', 'failed', 'done'], 'done', () => {
      this.sql(`UPDATE jobs SET status = 'done', finished_at = ?, duration_s = COALESCE(?, duration_s), artifact_sha = ?, metrics = ?, error = NULL WHERE key = ?`)
        .run(now(), done.durationS, done.artifactSha, JSON.stringify(done.metrics), key);
      this.addEvent(key, 'done', how);
    });
  }

  markFailed(key: string, error: string): JobRow {
    return this.transition(key, ['running'], 'failed', () => {
      const row = this.job(key)!;
      const duration = row.startedAt ? (Date.now() - Date.parse(row.startedAt)) / 1000 : null;
      this.sql(`UPDATE jobs SET status = 'failed', finished_at = ?, duration_s = ?, error = ? WHERE key = ?`).run(now(), duration, error, key);
      this.addEvent(key, 'failed', error);
    });
  }

  /** Back to pending after a signal: the next run resumes it from its checkpoint. */
  markInterrupted(key: string, why: string): JobRow {
    return this.transition(key, ['running'], 'pending', () => {
      this.sql(`UPDATE jobs SET status = 'pending' WHERE key = ?`).run(key);
      this.addEvent(key, 'interrupted', why);
    });
  }

  /** A done job whose artifact turned out missing or corrupt. */
  markInvalid(key: string, reason: string): JobRow {
    return this.transition(key, ['done', 'pending', 'failed'], 'pending', () => {
      this.sql(`UPDATE jobs SET status = 'pending', artifact_sha = NULL WHERE key = ?`).run(key);
      this.addEvent(key, 'corrupt', reason);
    });
  }

  setMetrics(key: string, metrics: Record<string, Json>): void {
    this.guard(() => `recording the metrics of ${this.jobLabel(key)}`, () => this.sql(`UPDATE jobs SET metrics = ? WHERE key = ?`).run(JSON.stringify(metrics), key));
  }

  addEvent(jobKey: string | null, kind: string, message: string): void {
    this.guard(() => `recording a ${kind} event of ${this.jobLabel(jobKey)}`, () => this.sql(`INSERT INTO events (time, job_key, kind, message) VALUES (?, ?, ?, ?)`).run(now(), jobKey, kind, message));
  }

  events(jobKey?: string): EventRow[] {
    const sql = `SELECT id, time, job_key AS jobKey, kind, message FROM events ${jobKey ? 'WHERE job_key = ?' : ''} ORDER BY id`;
    return this.guard('reading the event log', () => this.sql(sql).all(...(jobKey ? [jobKey] : [])) as EventRow[]);
  }

  /** SQLite's own consistency check; 'ok' when the database is sound. */
  integrityCheck(): string {
    return this.guard('checking its integrity', () => (this.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; '));
  }

  private transition(key: string, from: JobStatus[], to: JobStatus, apply: () => void): JobRow {
    return this.guard(() => `recording ${this.jobLabel(key)} ${to}`, () => this.transact(key, from, to, apply));
  }

  private transact(key: string, from: JobStatus[], to: JobStatus, apply: () => void): JobRow {
    return this.db.transaction(() => {
      const row = this.job(key);
      if (!row) throw new StoreError(`job ${key.slice(0, 12)} is not registered in ${runLayout(this.runDir).db}`);
      if (!from.includes(row.status)) throw new StoreError(`job '${row.name}' cannot go from ${row.status} to ${to}`);
      apply();
      return this.job(key)!;
    })();
  }
}
