/** GoBGP's own default API address (gobgpd --api-hosts, the `gobgp` CLI's default target). */
export const DEFAULT_GOBGP_API_HOSTS = '127.0.0.1:50051';
