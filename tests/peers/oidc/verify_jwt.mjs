// Verifies a JWT with `jose` (an implementation independent of Latchkey's signer), as the
// provider would: one JSON object on stdin — {jwt, alg, key, hmac, now, audience?, issuer?} —
// where `key` is the PEM private key the end user gave (its public half verifies) or, with
// `hmac` ("hex" | "utf8"), the shared secret; `now` is the test clock's unix time. Prints
// {"header", "payload"} when the signature and the claims check out, else {"error"}.
import { createPublicKey } from 'node:crypto';
import { jwtVerify, decodeProtectedHeader } from 'jose';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { jwt, alg, key, hmac, now, audience, issuer } = JSON.parse(input);
try {
  const verifyKey = hmac
    ? new Uint8Array(Buffer.from(key, hmac === 'hex' ? 'hex' : 'utf8'))
    : createPublicKey(key.replace(/\\n/g, '\n'));
  const { payload } = await jwtVerify(jwt, verifyKey, {
    algorithms: [alg],
    currentDate: new Date(now * 1000),
    requiredClaims: ['iat', 'exp'],
    ...(audience ? { audience } : {}),
    ...(issuer ? { issuer } : {}),
  });
  console.log(JSON.stringify({ header: decodeProtectedHeader(jwt), payload }));
} catch (e) {
  console.log(JSON.stringify({ error: `${e.code || e.name}: ${e.message}` }));
}
