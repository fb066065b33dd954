// Asks Clerk's own verifier (verifyWebhook from @clerk/backend/webhooks,
// pinned in package.json) what it makes of each delivery. Input on stdin:
//   { cases: [{ id, nowMs, secret, headers: [[name, latin1 value]], body: base64 }] }
// Output on stdout: one JSON line per case
//   { id, ok, type, dataId, message }
// Date.now is the case's clock, so both verifiers judge the same instant.
import { verifyWebhook } from '@clerk/backend/webhooks';

const write = process.stdout.write.bind(process.stdout);
console.log = console.info = console.warn = console.debug = console.error = (...args) => process.stderr.write(args.join(' ') + '\n');

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

for (const c of input.cases) {
  Date.now = () => c.nowMs;
  const headers = new Headers();
  for (const [name, value] of c.headers) headers.append(name, value);
  const request = new Request('http://localhost/webhooks/clerk', {
    method: 'POST',
    headers,
    body: Buffer.from(c.body, 'base64'),
  });
  let verdict;
  try {
    const event = await verifyWebhook(request, { signingSecret: c.secret });
    // Lone surrogates made well-formed, so the line is JSON serde reads.
    const safe = (value) => (typeof value === 'string' ? value.toWellFormed() : value ?? null);
    verdict = { id: c.id, ok: true, type: safe(event.type), dataId: safe(event.data?.id), message: null };
  } catch (error) {
    verdict = { id: c.id, ok: false, type: null, dataId: null, message: String(error?.message ?? error) };
  }
  write(JSON.stringify(verdict) + '\n');
}
