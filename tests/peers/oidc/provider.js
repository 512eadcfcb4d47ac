// A real OpenID provider (the certified `oidc-provider` package) on loopback, started by
// rollcall's OIDC tests (tests/api/sso/oidc.rs), one per test.
//
//   node provider.js '{"client_id": "...", "client_secret": "...",
//                      "redirect_uri": "http://127.0.0.1:PORT/sso/oidc/callback",
//                      "accounts": {"alice": {"sub": "...", "email": "..."}},
//                      "claims_in_id_token": true, "id_token_alg": "RS256"}'
//
// It listens on a port chosen by the system and prints one JSON line
// `{"listening": PORT, "issuer": "http://127.0.0.1:PORT"}` on stdout, then a line per request
// (so the test must keep reading stdout). It exits when its stdin closes, so it never
// outlives the test that started it.
//
// There is no login form: an interaction logs in the account named by the authorization
// request's `login_hint` and grants what the client asked for; an unknown or missing hint
// ends the request with `access_denied`, as a real IdP does when a person cancels.
//
// `claims_in_id_token: false` keeps the provider's default (OIDC Core §5.4: with the code
// flow, the claims of `email`/`profile` scopes are served by userinfo only, not in the ID
// token), which is how a test proves that rollcall called userinfo. `id_token_alg: "HS256"`
// signs ID tokens with the client secret instead of the provider's RSA key.

import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] ?? '{}');
for (const key of ['client_id', 'client_secret', 'redirect_uri', 'accounts']) {
  if (config[key] === undefined) {
    console.error(`provider.js: missing "${key}" in the JSON argument`);
    process.exit(2);
  }
}
const accounts = config.accounts;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'peer-rs256', alg: 'RS256', use: 'sig' };

function findAccountBySub(sub) {
  return Object.values(accounts).find((a) => a.sub === sub);
}

const server = createServer();
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
    console.log(JSON.stringify({ request: `${req.method} ${req.url.split('?')[0]}` }));
    if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
      interaction(req, res).catch((err) => {
        console.log(JSON.stringify({ interaction_error: String(err) }));
        res.statusCode = 500;
        res.end(String(err));
      });
      return;
    }
    providerCallback(req, res);
  });
  provider.on('server_error', (ctx, err) => console.log(JSON.stringify({ server_error: String(err) })));

  console.log(JSON.stringify({ listening: port, issuer }));
});

// The test holds our stdin; when it ends (test over, or crashed), so do we.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
