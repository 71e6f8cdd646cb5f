// A real OpenID Connect provider for the tests: panva's oidc-provider (npm), on 127.0.0.1.
//
// Configured from the environment by tests/oidc/provider.py:
//   OIDC_CLIENTS   JSON list of clients (client_id, client_secret, redirect_uris, ...)
//   OIDC_ACCOUNTS  JSON object: login name -> claims (name, email, groups, ...)
// It prints {"issuer": "http://127.0.0.1:PORT"} on stdout once it listens, and exits when
// its stdin closes (the test process ended). Sign-in uses oidc-provider's own development
// login form (devInteractions: any login name, no password check); consent is granted for
// the test clients, as a force grants it for its own applications.
import { createRequire } from 'node:module';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';

const cache = process.env.CP_NODE_CACHE;
const require = createRequire(path.join(cache, 'package.json'));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `test-${randomBytes(6).toString('hex')}`, use: 'sig', alg: 'RS256' };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub', 'groups'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  // Entra ID puts the claims in the ID token itself; so does this provider.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const claims = accounts[id] || {};
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, ...claims };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});

server.on('request', provider.callback());
process.stdout.write(JSON.stringify({ issuer }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => { server.close(); process.exit(0); });
