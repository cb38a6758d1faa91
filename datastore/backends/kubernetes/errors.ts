// Kubernetes API answers and socket failures as the datastore's errors. Pure.
import { DatastoreError } from '../../errors.js';

/** The fields of a metav1.Status the mapping needs. */
export interface KubeStatus {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
  details?: { name?: string; kind?: string; group?: string };
}

export function isKubeStatus(x: unknown): x is KubeStatus {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'Status';
}

const INSTALL_HINT = 'is Calico\'s CRD installed? (kubectl apply -f manifests/crds/)';

/**
 * An HTTP error answer as a DatastoreError. `what` names the object or collection for the message.
 * A 404 without `details.name` is the collection itself missing (a CRD not installed), which no
 * retry fixes: Unavailable with the hint, not NotFound.
 */
export function statusToError(server: string, httpCode: number, status: KubeStatus | undefined, what: string): DatastoreError {
  const reason = status?.reason ?? '';
  const msg = status?.message ?? `HTTP ${httpCode}`;
  const where = `kubernetes at ${server}`;
  switch (httpCode) {
    case 404:
      if (status?.details?.name === undefined && /could not find the requested resource|404 page not found/.test(msg)) {
        return new DatastoreError('Unavailable', `${where}: no such resource for ${what}: ${INSTALL_HINT}`, what);
      }
      if (status?.details?.kind === 'namespaces') return new DatastoreError('NotFound', `${what}: namespace ${status.details.name} does not exist`, what);
      return new DatastoreError('NotFound', `${what} not found`, what);
    case 409:
      return reason === 'AlreadyExists'
        ? new DatastoreError('AlreadyExists', `${what} already exists`, what)
        : new DatastoreError('Conflict', `${what} was changed by someone else (update conflict): ${msg}`, what);
    case 410:
      return new DatastoreError('Compacted', `${where}: ${what}: resource version too old (${msg}); re-list`, what);
    case 400:
    case 422:
      return new DatastoreError('Invalid', `${where} rejected ${what}: ${msg}`, what);
    case 401:
      return new DatastoreError('Unavailable', `${where} refused the credentials in the kubeconfig (401 Unauthorized): check KUBECONFIG`, what);
    case 403:
      return new DatastoreError('Unavailable', `${where}: forbidden: ${msg} (check the RBAC rules of the kubeconfig's user)`, what);
    default:
      return new DatastoreError('Unavailable', `${where}: ${what}: HTTP ${httpCode} ${reason} ${msg}`.trim(), what);
  }
}

/** A socket-level failure (no HTTP answer) as Unavailable, naming the server and why in plain words. */
export function socketToError(server: string, err: NodeJS.ErrnoException, timeoutMs: number): DatastoreError {
  const code = err.code ?? '';
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused (is kube-apiserver running?)'
      : code === 'ETIMEDOUT' || code === 'ABORT_ERR' || err.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'unknown host'
          : code === 'ECONNRESET' || code === 'EPIPE'
            ? 'connection lost'
            : code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT'
              ? "the server's certificate is not signed by the kubeconfig's certificate-authority"
              : code === 'ERR_TLS_CERT_ALTNAME_INVALID'
                ? "the server's certificate does not name this address"
                : /certificate|alert|handshake|SSL/i.test(err.message)
                  ? `TLS handshake failed: ${err.message}`
                  : err.message || code || 'unknown error';
  return new DatastoreError('Unavailable', `cannot reach kubernetes at ${server}: ${why} (check KUBECONFIG)`);
}
