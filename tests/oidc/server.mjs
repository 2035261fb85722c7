// A real OAuth2 / OpenID Connect server for the traymail tests (oidc-provider,
// an OpenID-certified implementation). Started by tests/oauthbed.py:
//
//   node server.mjs '{"accessTokenTTL": 300, "users": {"alice": "pw"}, ...}'
//
// It listens on 127.0.0.1 on a port the kernel picks, then prints one JSON
// line {"issuer": ...} on stdout. Loopback only; everything in memory.
//
// - client "traymail-test": public native client, PKCE (S256), any loopback
//   redirect port (RFC 8252 §7.3), authorization code, refresh, device grant
// - client "dovecot": confidential, only for token introspection (RFC 7662)
// - access tokens: opaque, for the resource "urn:traymail:test-pop3" with
//   scope "pop3", lifetime accessTokenTTL (changeable: POST /_test/ttl)
// - a tiny login + consent interaction that checks the test user's password
// - GET /_test/stats: how often each endpoint / grant type was hit
// - POST /_test/token-faults?errors=slow_down,expired_token: the next token
//   requests get these RFC 8628 §3.5 errors instead (fault injection)
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const conf = JSON.parse(process.argv[2] || '{}');
const users = conf.users || { alice: 'alice-password' };
let accessTokenTTL = conf.accessTokenTTL || 300;
let tokenFaults = [];
const RESOURCE = 'urn:traymail:test-pop3';
const stats = { requests: {}, grants: {}, grantErrors: {}, introspections: 0, revocations: 0 };
const bump = (obj, key) => { obj[key] = (obj[key] || 0) + 1; };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'traymail-test',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/'],
      grant_types: ['authorization_code', 'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
    },
    {
      client_id: 'dovecot',
      client_secret: conf.dovecotSecret || 'dovecot-introspection-secret',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ],
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  scopes: ['openid', 'offline_access'],
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator) => {
        if (indicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
        return { scope: 'pop3', accessTokenFormat: 'opaque', accessTokenTTL };
      },
    },
  },
  // like Microsoft and Google for native apps: a refresh token with the grant
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: () => accessTokenTTL,
    DeviceCode: 120,
    Grant: 3600,
    Interaction: 600,
    RefreshToken: 3600,
    Session: 3600,
  },
});

provider.on('grant.success', (ctx) => bump(stats.grants, ctx.oidc.params.grant_type));
provider.on('grant.error', (ctx) => bump(stats.grantErrors, ctx.oidc.params?.grant_type || '?'));
provider.on('introspection.error', () => {});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;

async function readForm(req) {
  let data = '';
  for await (const chunk of req) {
    data += chunk;
    if (data.length > 10000) throw new Error('form too large');
  }
  return new URLSearchParams(data);
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Error', 'wrong interaction'));
  const { prompt, params, session, grantId } = details;
  if (req.method === 'GET') {
    if (prompt.name === 'login') {
      return send(res, 200, page('Sign in', `<form method="post" action="/interaction/${esc(uid)}">
<input type="hidden" name="prompt" value="login">
<label>User <input name="login" id="login" value="${esc(params.login_hint || '')}"></label>
<label>Password <input type="password" name="password" id="password"></label>
<button type="submit" id="submit">Sign in</button></form>
<a id="cancel" href="/interaction/${esc(uid)}/abort">Cancel</a>`));
    }
    return send(res, 200, page('Authorize', `<p>${esc(params.client_id)} asks for: ${esc(params.scope || '')}</p>
<form method="post" action="/interaction/${esc(uid)}"><input type="hidden" name="prompt" value="consent">
<button type="submit" id="submit">Allow</button></form>`));
  }
  const form = await readForm(req);
  if (form.get('prompt') === 'login' && prompt.name === 'login') {
    const login = form.get('login') || '';
    if (!Object.hasOwn(users, login) || users[login] !== form.get('password')) {
      return send(res, 200, page('Sign in', '<p id="error">Wrong user or password</p>'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } },
      { mergeWithLastSubmission: false });
  }
  if (form.get('prompt') === 'consent' && prompt.name === 'consent') {
    const grant = grantId ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } },
      { mergeWithLastSubmission: true });
  }
  return send(res, 400, page('Error', 'unexpected form'));
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  const url = new URL(req.url, issuer);
  bump(stats.requests, url.pathname.startsWith('/interaction/') ? '/interaction' : url.pathname);
  try {
    if (url.pathname === '/_test/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(stats));
    }
    if (url.pathname === '/_test/ttl' && req.method === 'POST') {
      accessTokenTTL = Number(url.searchParams.get('seconds'));
      res.writeHead(204);
      return res.end();
    }
    if (url.pathname === '/_test/token-faults' && req.method === 'POST') {
      tokenFaults = (url.searchParams.get('errors') || '').split(',').filter(Boolean);
      res.writeHead(204);
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST' && tokenFaults.length) {
      const error = tokenFaults.shift();
      bump(stats.grantErrors, `fault:${error}`);
      res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return res.end(JSON.stringify({ error, error_description: `injected ${error}` }));
    }
    const abort = url.pathname.match(/^\/interaction\/([A-Za-z0-9_-]+)\/abort$/);
    if (abort) {
      return await provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
    }
    const m = url.pathname.match(/^\/interaction\/([A-Za-z0-9_-]+)$/);
    if (m) return await interaction(req, res, m[1]);
    return callback(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) send(res, 500, page('Error', esc(err.message)));
    else res.end();
  }
});

const shutdown = () => server.close(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
