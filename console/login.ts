/**
 * The sign-in page: a form that takes a bearer token (the output of `kubectl create token
 * <service-account>`, or an OIDC ID token the API server accepts) and stores it in an HttpOnly,
 * SameSite=Strict cookie, so a browser can use the console without a header-injecting proxy.
 * The console keeps no session of its own: the cookie is the token, checked with a TokenReview
 * on every request (cached briefly, `access-review.ts`).
 */
import { type Html, html } from './html.js';

/** The body of the sign-in page; `problem` says why the last attempt failed. */
export function loginBody(options: { problem?: string; next?: string }): Html {
  return html`
    ${options.problem ? html`<p class="error" role="alert">${options.problem}</p>` : ''}
    <p>The console shows what your Kubernetes identity may <code>get</code>, nothing more. Sign in with a bearer token:</p>
    <pre>kubectl create token &lt;service-account&gt; -n &lt;namespace&gt;</pre>
    <form method="post" action="/login">
      <input type="hidden" name="next" value="${options.next ?? '/'}">
      <p><label for="token">Token</label></p>
      <p><textarea id="token" name="token" rows="6" required autocomplete="off" spellcheck="false"></textarea></p>
      <p><button type="submit">Sign in</button></p>
    </form>
    <p class="muted">The token is kept in an HttpOnly cookie of this site and sent to the API server for review only. Programs may send it as <code>Authorization: Bearer &lt;token&gt;</code> instead.</p>`;
}

/** A local path to return to after signing in (anything else becomes `/`). */
export function safeNext(next: string | null | undefined): string {
  return next && /^\/(?![/\\])/.test(next) ? next : '/';
}
