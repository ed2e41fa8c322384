// The SDK's budget: dist/index.js under 5 KB gzipped (what a browser downloads, no bundler
// minification assumed). Prints raw and gzip sizes; exits 1 over budget.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const LIMIT = 5 * 1024;
const file = new URL('../dist/index.js', import.meta.url);
const raw = readFileSync(file);
const gz = gzipSync(raw, { level: 9 }).length;
console.log(`dist/index.js: ${raw.length} bytes raw, ${gz} bytes gzipped (limit ${LIMIT})`);
if (gz >= LIMIT) {
  console.error('over the 5 KB gzip budget');
  process.exit(1);
}
