// Where the GoBGP API listens, from TORTIE_GOBGP_API_HOSTS in gobgpd's `--api-hosts` form:
// comma-separated "host:port" and "unix:///path" entries; "off" serves no API. Pure.
import { isIP } from 'node:net';
import { DEFAULT_GOBGP_API_HOSTS } from './constants.js';

export const GOBGP_API_HOSTS_ENV = 'TORTIE_GOBGP_API_HOSTS';

/** The hosts to listen on ([] = off), or an error naming the variable. */
export function parseApiHosts(value: string | undefined): { hosts: string[] } | { error: string } {
  const v = value?.trim();
  if (v === undefined || v === '') return { hosts: [DEFAULT_GOBGP_API_HOSTS] };
  if (['off', 'none', 'false'].includes(v.toLowerCase())) return { hosts: [] };
  const hosts = v.split(',').map((h) => h.trim());
  for (const h of hosts) {
    if (h.startsWith('unix://')) {
      if (!h.slice(7).startsWith('/')) return { error: `${GOBGP_API_HOSTS_ENV}: "${h}" must be unix:///absolute/path` };
      continue;
    }
    const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(h);
    const host = m?.[1] ?? m?.[2] ?? '';
    const port = Number(m?.[3]);
    if (!m || !(host === '' || isIP(host) || host === 'localhost') || !(port >= 1 && port <= 65535))
      return { error: `${GOBGP_API_HOSTS_ENV}: "${h}" is not host:port (e.g. 127.0.0.1:50051), [::1]:50051, unix:///run/tortie/gobgp.sock or off` };
  }
  return { hosts };
}
