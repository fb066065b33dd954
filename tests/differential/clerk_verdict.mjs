// Asks Clerk's own backend SDK (@clerk/backend, pinned in package.json) for
// its verdict on each case. Input on stdin: one JSON object
//   { apiUrl, secretKey, publishableKey, cases: [{ id, token, authorizedParties, issuer, acceptsToken, has: [...] }] }
// Output on stdout: one JSON line per case
//   { id, signedIn, reason, principal, has: [true|false, ...] }
// The JWKS comes from `${apiUrl}/v1/jwks`, and opaque machine tokens are
// looked up at `${apiUrl}/v1/...`: both served by the Rust test on loopback.
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
    // An empty scheme: the bare token, as some clients send it.
    headers: { authorization: c.scheme === '' ? c.token : `${c.scheme ?? 'Bearer'} ${c.token}` },
  });
  const options = {};
  if (c.authorizedParties) options.authorizedParties = c.authorizedParties;
  if (c.issuer) options.issuer = c.issuer;
  if (c.acceptsToken) options.acceptsToken = c.acceptsToken;
  let verdict;
  try {
    const state = await clerk.authenticateRequest(request, options);
    const auth = state.toAuth();
    // With acceptsToken: authenticated as any accepted kind, and as whom.
    const signedIn = c.acceptsToken
      ? state.isAuthenticated === true && !!auth
      : state.isSignedIn === true && !!auth && !!auth.userId;
    const principal = c.acceptsToken && signedIn
      ? `${state.tokenType}:${auth.subject ?? auth.userId}`
      : '';
    const has = (c.has || []).map((check) => {
      if (!signedIn) return false;
      try {
        return auth.has(check) === true;
      } catch {
        return false;
      }
    });
    const reason = state.message ? `${state.reason}: ${state.message}` : state.reason ?? null;
    verdict = { id: c.id, signedIn, reason, principal, has };
  } catch (error) {
    verdict = { id: c.id, signedIn: false, reason: `exception: ${error?.message ?? error}`, principal: '', has: (c.has || []).map(() => false) };
  }
  write(JSON.stringify(verdict) + '\n');
}
