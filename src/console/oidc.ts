import * as client from 'openid-client'
import type { PendingLogin } from './sessions.ts'

// The console's side of OpenID Connect: authorization code with PKCE, state
// and nonce, against one identity provider, with openid-client.

export class IdentityProviderUnavailableError extends Error {
  constructor (cause: unknown) {
    super(`the identity provider cannot be reached: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'IdentityProviderUnavailableError'
  }
}

export class SignInFailedError extends Error {
  constructor (message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'SignInFailedError'
  }
}

export interface ConsoleOidcOptions {
  issuer: string
  clientId: string
  clientSecret: string
  // Where the provider's endpoints are reached (the in-process development
  // provider is reached without the network).
  fetch?: client.CustomFetch
  // Plain http, for a provider on this machine only.
  allowHttp: boolean
  // The scopes asked for; the role claims come with them.
  scope: string
  roleClaim: string
}

export interface ConsoleOidc {
  readonly issuer: string
  begin(redirectUri: string, returnTo: string): Promise<{ url: URL, pending: PendingLogin }>
  // The signed-in account's claims, from the ID token and, when the role
  // claim is not in it, from the userinfo endpoint.
  finish(currentUrl: URL, pending: PendingLogin): Promise<Record<string, unknown>>
  // Where to send the browser to end the provider's session too, if it says.
  endSessionUrl(postLogoutRedirectUri: string): Promise<URL | null>
}

export function createConsoleOidc (options: ConsoleOidcOptions): ConsoleOidc {
  let configuration: Promise<client.Configuration> | null = null

  function discover (): Promise<client.Configuration> {
    configuration ??= client.discovery(new URL(options.issuer), options.clientId, options.clientSecret, client.ClientSecretBasic(options.clientSecret), {
      ...(options.fetch === undefined ? {} : { [client.customFetch]: options.fetch }),
      ...(options.allowHttp ? { execute: [client.allowInsecureRequests] } : {}),
    }).catch((err: unknown) => {
      // Tried again at the next sign-in rather than remembered as broken.
      configuration = null
      throw new IdentityProviderUnavailableError(err)
    })
    return configuration
  }

  return {
    issuer: options.issuer,

    async begin (redirectUri, returnTo) {
      const config = await discover()
      const verifier = client.randomPKCECodeVerifier()
      const pending: PendingLogin = { state: client.randomState(), nonce: client.randomNonce(), verifier, returnTo, redirectUri }
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: options.scope,
        response_type: 'code',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: pending.state,
        nonce: pending.nonce,
      })
      return { url, pending }
    },

    async finish (currentUrl, pending) {
      const config = await discover()
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>
      try {
        tokens = await client.authorizationCodeGrant(config, currentUrl, {
          pkceCodeVerifier: pending.verifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        }, { redirect_uri: pending.redirectUri })
      } catch (err) {
        if (err instanceof client.ClientError || (err as { name?: string }).name === 'AuthorizationResponseError' || (err as { name?: string }).name === 'ResponseBodyError') {
          throw new SignInFailedError(`the identity provider did not sign you in: ${(err as Error).message}`, err)
        }
        throw new IdentityProviderUnavailableError(err)
      }
      const claims: Record<string, unknown> = { ...tokens.claims() }
      if (claims[options.roleClaim] === undefined && config.serverMetadata().userinfo_endpoint !== undefined && typeof claims.sub === 'string') {
        const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub).catch((err: unknown) => { throw new IdentityProviderUnavailableError(err) })
        for (const [k, v] of Object.entries(info)) if (claims[k] === undefined) claims[k] = v
      }
      return claims
    },

    async endSessionUrl (postLogoutRedirectUri) {
      const config = await discover().catch(() => null)
      if (config?.serverMetadata().end_session_endpoint === undefined) return null
      return client.buildEndSessionUrl(config, { client_id: options.clientId, post_logout_redirect_uri: postLogoutRedirectUri })
    },
  }
}
