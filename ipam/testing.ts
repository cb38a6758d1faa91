// Helpers for tests and the bench: write pools, nodes and IPAM config the way tortiectl would.
import type { Backend } from '../datastore/backend.js';
import { resourceKey } from '../datastore/keys.js';

export interface PoolInit {
  cidr: string;
  blockSize?: number;
  disabled?: boolean;
  nodeSelector?: string;
  allowedUses?: ('Workload' | 'Tunnel')[];
}

export async function putPool(be: Backend, name: string, spec: PoolInit): Promise<void> {
  await be.create(resourceKey('ippools', name), JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec }));
}

export async function putNode(be: Backend, name: string, labels: Record<string, string> = {}): Promise<void> {
  await be.create(resourceKey('nodes', name), JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name, labels }, spec: {} }));
}
