// Real OpenID providers (the certified `oidc-provider` package) on loopback for rollcall's
// OIDC tests (tests/api/sso/oidc.rs). One process serves the whole test binary: it is
// started once (tests/api/peers.rs) and each test asks it for a provider of its own, on a
// port of its own, with its own client and accounts.
//
// Protocol: one JSON object per line. On start it prints `{"ready": true}`. Then, for each
// request line on stdin
//
//   {"id": 7, "provider": {"client_id": "...", "client_secret": "...",
//                          "redirect_uri": "http://127.0.0.1:PORT/sso/oidc/callback",
//                          "accounts": {"alice": {"sub": "...", "email": "..."}},
//                          "claims_in_id_token": true, "id_token_alg": "RS256"}}
//   {"id": 8, "close": "http://127.0.0.1:PORT"}
//
// it answers `{"id": 7, "issuer": "http://127.0.0.1:PORT"}` (or `{"id": 7, "error": "..."}`),
// `{"id": 8, "closed": true}`. Every other line it prints is a log line (a request served,
// an error). It exits when stdin closes, so it never outlives the tests.
//
// There is no login form: an interaction logs in the account named by the authorization
// request's `login_hint` and grants what the client asked for; an unknown or missing hint
// ends the request with `access_denied`, as a real IdP does when a person cancels.
//
// `claims_in_id_token: false` keeps the provider's default (OIDC Core §5.4: with the code
// flow, the claims of `email`/`profile` scopes are served by userinfo only, not in the ID
// token), which is how a test proves that rollcall called userinfo. `id_token_alg: "HS256"`
// signs ID tokens with the client secret instead of the provider's RSA key.
// `id_token_claims: {"exp": null, ...}` rewrites the ID token of every token response
// (null removes a claim, anything else sets it) and signs it again with the provider's key,
// as an IdP with a bug or a hostile one would send it: the signature holds, the claims do
// not follow OIDC Core §2.

import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

import Provider from 'oidc-provider';

// One signing key for every provider of this process: RSA key generation is the slow part
// of starting one. The key comes out as a JWK from the generation itself: on Node 20,
// `privateKey.export({format: 'jwk'})` right after `generateKeyPairSync` can deadlock for
// good (the export holds the key's mutex, allocates, the garbage collector runs the
// finished key-generation job's destructor, which takes the same mutex). That hang, one
// start in a few hundred, is what made the per-test providers miss their 30 s start-up.
const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { format: 'jwk' },
  publicKeyEncoding: { format: 'jwk' },
});
const signingKey = { ...privateKey, kid: 'peer-rs256', alg: 'RS256', use: 'sig' };
const signingKeyObject = createPrivateKey({ key: privateKey, format: 'jwk' });

// The ID token with `changes` applied to its claims, signed again (RS256) with our key.
function rewriteIdToken(idToken, changes) {
  const [header, payload] = idToken.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) delete claims[name];
    else claims[name] = value;
  }
  const signed = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = sign('sha256', Buffer.from(signed), signingKeyObject);
  return `${signed}.${signature.toString('base64url')}`;
}

// Makes `res` send token responses whose ID token carries `changes`. The provider (koa)
// sets its headers and then calls `end` once with the whole JSON body.
function rewriteTokenResponse(res, changes) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    let body;
    try {
      body = JSON.parse(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
    } catch {
      return end(chunk, ...rest);
    }
    if (typeof body.id_token !== 'string') return end(chunk, ...rest);
    body.id_token = rewriteIdToken(body.id_token, changes);
    const text = JSON.stringify(body);
    if (!res.headersSent) res.setHeader('content-length', Buffer.byteLength(text));
    return end(text, ...rest);
  };
}

const servers = new Map();

function reply(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function startProvider(config) {
  for (const key of ['client_id', 'client_secret', 'redirect_uri', 'accounts']) {
    if (config[key] === undefined) {
      return Promise.reject(new Error(`missing "${key}" in the provider's settings`));
    }
  }
  const accounts = config.accounts;
  const findAccountBySub = (sub) => Object.values(accounts).find((a) => a.sub === sub);
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      const issuer = `http://127.0.0.1:${port}`;
      const provider = new Provider(issuer, {
        clients: [{
          client_id: config.client_id,
          client_secret: config.client_secret,
          redirect_uris: [config.redirect_uri],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
          id_token_signed_response_alg: config.id_token_alg ?? 'RS256',
        }],
        // HS256 (signed with the client secret) only so a test can show rollcall refuses it.
        enabledJWA: { idTokenSigningAlgValues: ['RS256', 'HS256'] },
        jwks: { keys: [signingKey] },
        cookies: { keys: ['rollcall-oidc-peer-cookie-key'] },
        claims: {
          openid: ['sub'],
          email: ['email', 'email_verified'],
          profile: ['name', 'given_name', 'family_name', 'preferred_username'],
        },
        conformIdTokenClaims: config.claims_in_id_token === false,
        pkce: { required: () => true },
        features: {
          devInteractions: { enabled: false },
          userinfo: { enabled: true },
        },
        interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
        async findAccount(ctx, sub) {
          const account = findAccountBySub(sub);
          if (!account) return undefined;
          return { accountId: sub, async claims() { return { ...account }; } };
        },
      });
      provider.proxy = false;
      const providerCallback = provider.callback();

      // Logs in the account named by `login_hint` and grants the requested scopes at once.
      async function interaction(req, res) {
        const details = await provider.interactionDetails(req, res);
        const { params, prompt } = details;
        const account = accounts[params.login_hint];
        if (prompt.name === 'login' && !account) {
          await provider.interactionFinished(req, res, {
            error: 'access_denied',
            error_description: `no account ${JSON.stringify(params.login_hint ?? null)} at this provider`,
          }, { mergeWithLastSubmission: false });
          return;
        }
        const accountId = account ? account.sub : details.session.accountId;
        const grant = details.grantId
          ? await provider.Grant.find(details.grantId)
          : new provider.Grant({ accountId, clientId: params.client_id });
        grant.addOIDCScope(params.scope);
        if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
        const grantId = await grant.save();
        const result = prompt.name === 'login'
          ? { login: { accountId }, consent: { grantId } }
          : { consent: { grantId } };
        await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
      }

      server.on('request', (req, res) => {
        reply({ issuer, request: `${req.method} ${req.url.split('?')[0]}` });
        if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
          interaction(req, res).catch((err) => {
            reply({ issuer, interaction_error: String(err) });
            res.statusCode = 500;
            res.end(String(err));
          });
          return;
        }
        if (config.id_token_claims && req.method === 'POST' && req.url.startsWith('/token')) {
          rewriteTokenResponse(res, config.id_token_claims);
        }
        providerCallback(req, res);
      });
      provider.on('server_error', (ctx, err) => reply({ issuer, server_error: String(err) }));
      servers.set(issuer, server);
      resolve(issuer);
    });
  });
}

function handle(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (err) {
    reply({ protocol_error: `not JSON: ${line}` });
    return;
  }
  const { id } = request;
  if (request.provider !== undefined) {
    startProvider(request.provider)
      .then((issuer) => reply({ id, issuer }))
      .catch((err) => reply({ id, error: String(err) }));
  } else if (request.close !== undefined) {
    const server = servers.get(request.close);
    servers.delete(request.close);
    if (server) server.close();
    reply({ id, closed: server !== undefined });
  } else {
    reply({ id, error: `unknown request: ${line}` });
  }
}

// The tests hold our stdin; when it ends (the test binary exited or crashed), so do we.
const input = createInterface({ input: process.stdin });
input.on('line', handle);
input.on('close', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));

reply({ ready: true });
