// Applies one calculated DesiredState to every driver, in dependency order: devices before the
// routes that point at them, sets before the rules that match on them.
import type { DesiredState } from '../calc/types.js';
import { applyNat } from './nat.js';
import { RouteDriver, type RouteApplyResult } from './routes.js';
import { applySysctls } from './sysctl.js';
import { ensureIpip, ensureVxlan } from './tunnels.js';

export interface ApplyReport {
  routes: RouteApplyResult;
  errors: string[];
}

export async function applyState(state: DesiredState, routes: RouteDriver, keepExtraRoutes = false): Promise<ApplyReport> {
  const errors: string[] = [];
  const step = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      errors.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  await step('sysctl', async () => errors.push(...(await applySysctls(state.workloadIfaces, state.allPools.some((c) => c.includes(':'))))));
  await step('vxlan', () => ensureVxlan(state.vxlanTunnel, state.remoteVteps));
  await step('vxlan-v6', () => ensureVxlan(state.vxlanTunnelV6, state.remoteVtepsV6 ?? [], 6));
  await step('ipip', () => ensureIpip(state.ipipTunnel));
  const r = await routes.apply(state.routes, keepExtraRoutes);
  errors.push(...r.errors);
  await step('nat', () => applyNat(state.allPools, state.natOutgoingPools));
  return { routes: r, errors };
}
