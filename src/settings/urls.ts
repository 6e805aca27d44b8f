/** URLs from inputs and the environment: shown without their credentials, checked before any request. */

const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i;

/** `scheme://user:pass@host…` as it may be shown (`scheme://***@host…`), whether or not it parses. */
export function redactUrl(raw: string): string {
  return raw.replace(USERINFO, '$1***@');
}

/** What of a URL's userinfo must be masked: the whole of it, and its password as given and decoded. */
export function userinfoSecrets(raw: string): string[] {
  const userinfo = USERINFO.exec(raw)?.[2];
  if (!userinfo) return [];
  const password = userinfo.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1) : '';
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // Not percent-encoded as a URL would be: the raw form is masked.
  }
  return [...new Set([userinfo, password, decoded].filter(Boolean))];
}

/** The URL without its userinfo (Keystone v3 takes credentials in the body, never in the URL). */
export function withoutUserinfo(raw: string): string {
  return raw.replace(USERINFO, '$1');
}

/** A host on this machine: plain HTTP to it crosses no network. */
export function isLoopback(url: URL): boolean {
  return url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
}

/** The proxy variables Node reads (as the runner does), upper and lower case. */
export const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'] as const;

/** A problem for each proxy variable that is not a URL, naming it and shown without its password. */
export function proxyProblems(env: NodeJS.ProcessEnv): string[] {
  return PROXY_VARIABLES.flatMap((name) => {
    const value = env[name];
    if (!value) return [];
    try {
      const url = new URL(value);
      if (url.protocol === 'http:' || url.protocol === 'https:') return [];
    } catch {
      // Reported below.
    }
    return [`${name}: "${redactUrl(value)}" is not a valid proxy URL; e.g. http://proxy.example:3128 (or http://user:password@proxy.example:3128)`];
  });
}
