// The real `latchkey serve` binary for the Node-based suites (browser, Nango compatibility):
// a temp data dir, a free port on 127.0.0.1, the keys read from the data dir, and a stop()
// that kills the process and removes the data. One place, so the suites start the stack alike.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGTERM');
});

export async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

export async function waitFor(url, ms = 20000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch (e) {
      if (Date.now() > until) throw new Error(`${url} did not come up: ${e.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Starts `latchkey serve` (`LATCHKEY_BIN`, else `target/debug/latchkey`). `env` adds variables
 * (e.g. `LATCHKEY_CONNECT_SESSION_TTL_SECS`). Resolves once it answers, with `{host, keys,
 * firstStart (its stdout so far), stop()}`.
 */
export async function startLatchkey({ env = {}, label = 'latchkey' } = {}) {
  const binary = process.env.LATCHKEY_BIN ?? join(ROOT, 'target/debug/latchkey');
  const dataDir = mkdtempSync(join(tmpdir(), `${label}-`));
  const port = await freePort();
  const host = `http://127.0.0.1:${port}`;
  const child = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dataDir, 'env')], {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise((_, reject) => child.on('exit', (code) => reject(new Error(`latchkey exited: ${code}`))));
  exited.catch(() => {});
  await Promise.race([waitFor(`${host}/demo`), exited]);
  const keys = JSON.parse(readFileSync(join(dataDir, 'env', 'environment-keys.json'), 'utf8'));
  return {
    host,
    keys,
    get firstStart() {
      return stdout;
    },
    stop() {
      child.kill('SIGTERM');
      running.delete(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
