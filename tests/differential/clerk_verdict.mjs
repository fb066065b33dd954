// Asks Clerk's own backend SDK (@clerk/backend, pinned in package.json) for
// its verdict on each case. Input on stdin: one JSON object
//   { apiUrl, secretKey, publishableKey, cases: [{ id, token, authorizedParties, issuer, has: [...] }] }
// Output on stdout: one JSON line per case
//   { id, signedIn, reason, has: [true|false, ...] }
// The JWKS comes from `${apiUrl}/v1/jwks`, served by the Rust test on loopback.
import { createClerkClient } from '@clerk/backend';

// Clerk's own warnings go to stderr: stdout carries only the verdicts.
const write = process.stdout.write.bind(process.stdout);
console.log = console.info = console.warn = console.debug = (...args) => console.error(...args);

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const clerk = createClerkClient({
  secretKey: input.secretKey,
  publishableKey: input.publishableKey,
  apiUrl: input.apiUrl,
});

for (const c of input.cases) {
  const request = new Request('http://localhost:3000/api', {
    headers: { authorization: `${c.scheme ?? 'Bearer'} ${c.token}` },
  });
  const options = {};
  if (c.authorizedParties) options.authorizedParties = c.authorizedParties;
  if (c.issuer) options.issuer = c.issuer;
  let verdict;
  try {
    const state = await clerk.authenticateRequest(request, options);
    const auth = state.toAuth();
    const signedIn = state.isSignedIn === true && !!auth && !!auth.userId;
    const has = (c.has || []).map((check) => {
      if (!signedIn) return false;
      try {
        return auth.has(check) === true;
      } catch {
        return false;
      }
    });
    verdict = { id: c.id, signedIn, reason: state.reason ?? null, has };
  } catch (error) {
    verdict = { id: c.id, signedIn: false, reason: `exception: ${error?.message ?? error}`, has: (c.has || []).map(() => false) };
  }
  write(JSON.stringify(verdict) + '\n');
}
