// Client of the management endpoint (used by `tortiectl node status` and the tests).
import { request } from 'node:http';

export class ApiUnavailableError extends Error {
  constructor(
    readonly socketPath: string,
    cause: string,
  ) {
    super(`cannot reach the BGP process at ${socketPath}: ${cause}`);
    this.name = 'ApiUnavailableError';
  }
}

/** GETs `path` from the API on `socketPath` and parses the JSON body. */
export function apiGet<T>(socketPath: string, path: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${path}: HTTP ${res.statusCode}: ${body.trim()}`));
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(new Error(`${path}: bad JSON: ${String(err)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(new ApiUnavailableError(socketPath, err.code ?? err.message)));
    req.end();
  });
}
