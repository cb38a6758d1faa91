// etcd endpoint lists as calicoctl reads ETCD_ENDPOINTS. Its own module, free of yaml, because the CNI
// plugins need it on every start and nothing else from the config file parser.

/**
 * "https://a:2379, b" → ["https://a:2379", "https://b:2379"]: a missing scheme is http (https when TLS
 * files are given), a missing port is etcd's 2379. Placeholders pasted from tutorials are called out.
 */
export function parseEndpoints(text: string, tls: boolean, fail: (msg: string) => never, warn?: (msg: string) => void): string[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) fail('no endpoints given');
  return parts.map((p) => {
    const placeholder = /\{[^}]*\}|<[^>]*>|\$\{?\w+\}?/.exec(p);
    if (placeholder) fail(`"${p}" still contains the placeholder ${placeholder[0]}: put your etcd address there`);
    // "htp:/foo" is a mistyped scheme, not host "htp" with a path; "host:2379" is a host and port.
    const scheme = /^([a-z][a-z0-9+.-]*):(?!\d+(\/|$))/i.exec(p);
    if (scheme && !p.startsWith(`${scheme[1]}://`)) fail(`"${p}" is not a URL like http://HOST:2379 (scheme "${scheme[1]}:" without "//")`);
    const withScheme = scheme ? p : `${tls ? 'https' : 'http'}://${p}`;
    if (!scheme) warn?.(`"${p}" has no scheme: read as ${withScheme}`);
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      return fail(`"${p}" is not a URL like http://HOST:2379`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`"${p}": scheme must be http or https`);
    if (!url.hostname) fail(`"${p}": no host`);
    if ((url.pathname && url.pathname !== '/') || url.search || url.hash) fail(`"${p}": an endpoint has no path`);
    return `${url.protocol}//${url.hostname}:${url.port || '2379'}`;
  });
}
