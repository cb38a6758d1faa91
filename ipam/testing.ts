// Helpers for tests and the bench: write pools, nodes and IPAM config the way tortiectl would.
import type { Store } from '../datastore/store.js';

export interface PoolInit {
  cidr: string;
  blockSize?: number;
  disabled?: boolean;
  nodeSelector?: string;
  allowedUses?: ('Workload' | 'Tunnel')[];
  assignmentMode?: 'Automatic' | 'Manual';
}

export async function putPool(store: Store, name: string, spec: PoolInit): Promise<void> {
  await store.create({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec });
}

export async function putNode(store: Store, name: string, labels: Record<string, string> = {}): Promise<void> {
  await store.create({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name, labels }, spec: {} });
}

export async function putReservation(store: Store, name: string, reservedCIDRs: string[]): Promise<void> {
  await store.create({ apiVersion: 'projectcalico.org/v3', kind: 'IPReservation', metadata: { name }, spec: { reservedCIDRs } });
}
