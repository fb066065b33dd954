// Asks Clerk's own backend SDK (@clerk/backend, pinned in package.json) what
// a browser's request comes to: signed in, signed out or a handshake, with
// the headers it answers with. Input on stdin: one JSON object
//   { apiUrl, secretKey, cases: [{ id, url, method, headers, publishableKey, proxyUrl }] }
// Output on stdout: one JSON line per case
//   { id, status, reason, subject, location, setCookie: [...] }
import { createClerkClient } from '@clerk/backend';

const write = process.stdout.write.bind(process.stdout);
console.log = console.info = console.warn = console.debug = console.error = (...args) => process.stderr.write(args.join(' ') + '\n');

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

for (const c of input.cases) {
  const clerk = createClerkClient({
    secretKey: input.secretKey,
    publishableKey: c.publishableKey,
    apiUrl: input.apiUrl,
  });
  const request = new Request(c.url, { method: c.method, headers: c.headers });
  let verdict;
  try {
    const state = await clerk.authenticateRequest(request, {
      publishableKey: c.publishableKey,
      proxyUrl: c.proxyUrl,
    });
    const auth = state.isSignedIn ? state.toAuth() : null;
    verdict = {
      id: c.id,
      status: state.status,
      reason: state.reason ?? null,
      subject: auth?.userId ?? null,
      location: state.headers.get('location'),
      setCookie: state.headers.getSetCookie(),
    };
  } catch (error) {
    verdict = { id: c.id, status: 'exception', reason: String(error?.message ?? error), subject: null, location: null, setCookie: [] };
  }
  write(JSON.stringify(verdict) + '\n');
}
