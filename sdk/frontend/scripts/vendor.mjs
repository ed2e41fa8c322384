// Copies the built SDK next to the demo page of the server (shared/assets/demo/latchkey.js),
// which embeds it with include_str!: the Lambda and the local stack serve the same file.
// `node scripts/vendor.mjs --check` fails when the committed copy is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const vendored = fileURLToPath(new URL('../../../shared/assets/demo/latchkey.js', import.meta.url));
const banner = '// Generated from sdk/frontend by `npm run build`; do not edit.\n';
const wanted = banner + readFileSync(built, 'utf8');
if (process.argv.includes('--check')) {
  if (readFileSync(vendored, 'utf8') !== wanted) {
    console.error(`${vendored} is stale: run \`npm run build\` in sdk/frontend and commit it.`);
    process.exit(1);
  }
  console.log('vendored SDK copy is current');
} else {
  writeFileSync(vendored, wanted);
}
