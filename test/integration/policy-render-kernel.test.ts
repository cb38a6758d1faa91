// The renderer's output is what the kernel takes: a state using every match and action felix/policy
// emits, and random policy models (bounded count), both families, loaded into a fresh network
// namespace with `ipset restore` and `iptables-restore --noflush` (comments stamped as the driver
// stamps them), and read back intact.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { computePolicyState } from '../../felix/policy/index.js';
import { everyRuleKind } from '../../felix/policy/testing/fixtures.js';
import { randomModel } from '../../felix/policy/testing/generators.js';
import type { PolicyDataplaneState } from '../../felix/policy/types.js';
import { NetnsSet } from '../harness/netns.js';

const netns = new NetnsSet('prk');

afterAll(async () => {
  await netns.cleanup();
});

function ipsetScript(s: PolicyDataplaneState): string {
  return [...s.ipsets.values()].flatMap((x) => [`create ${x.name} ${x.type} family ${x.family}`, ...x.members.map((m) => `add ${x.name} ${m}`)]).join('\n') + '\n';
}

function restoreScript(s: PolicyDataplaneState): string {
  const chains = [...s.chains.values()];
  return [
    '*filter',
    ...chains.map((c) => `:${c.name} - [0:0]`),
    ...chains.flatMap((c) => c.rules.map((r, i) => `-A ${c.name} -m comment --comment "cali:${c.name.length}-${i}" ${r}`)),
    ...s.hooks.map((h) => `-I ${h.builtin} 1 ${h.rule}`),
    'COMMIT',
    '',
  ].join('\n');
}

describe('rendered policy state in the kernel', () => {
  const state = computePolicyState(everyRuleKind());
  for (const st of [state.v4, state.v6]) {
    it(`IPv${st.family}: ipset restore and iptables-restore accept it; iptables-save shows every chain and rule`, async () => {
      const ns = await netns.add(`v${st.family}`);
      await netns.exec(ns, ['ipset', 'restore'], ipsetScript(st));
      const ipt = st.family === 4 ? 'iptables' : 'ip6tables';
      await netns.exec(ns, [`${ipt}-restore`, '--noflush'], restoreScript(st));
      const saved = (await netns.exec(ns, [`${ipt}-save`, '-t', 'filter'])).stdout;
      for (const c of st.chains.values()) {
        const lines = saved.split('\n').filter((l) => l.startsWith(`-A ${c.name} `));
        expect(lines, c.name).toHaveLength(c.rules.length);
      }
      expect(saved).toMatch(/^-A FORWARD -j cali-FORWARD$/m);
      const sets = (await netns.exec(ns, ['ipset', 'list', '-n'])).stdout.split('\n').filter(Boolean).sort();
      expect(sets).toEqual([...st.ipsets.keys()].sort());
      expect(st.ipsets.size).toBeGreaterThan(2);
    });
  }
});

describe('random policy models in the kernel', () => {
  it('every rendered state restores (both families), then is flushed for the next', async () => {
    const ns = await netns.add('rnd');
    const runs = Number(process.env.TORTIE_PROPERTY_RUNS ?? 40);
    const models = fc.sample(randomModel, { numRuns: runs, seed: Number(process.env.TORTIE_SEED ?? 7) });
    for (const [i, m] of models.entries()) {
      const s = computePolicyState({ hostname: 'h', localEndpoints: m.endpoints, allEndpoints: m.endpoints, policies: m.policies, profiles: m.profiles });
      for (const st of [s.v4, s.v6]) {
        const ipt = st.family === 4 ? 'iptables' : 'ip6tables';
        try {
          await netns.exec(ns, ['ipset', 'restore'], ipsetScript(st));
          await netns.exec(ns, [`${ipt}-restore`, '--noflush'], restoreScript(st));
        } catch (e) {
          throw new Error(`model ${i} (IPv${st.family}) refused: ${(e as Error).message}\n${JSON.stringify(m.policies)}`);
        }
        // Back to empty: our chains, then the sets nothing references any more.
        await netns.exec(ns, [`${ipt}-restore`], '*filter\nCOMMIT\n');
        await netns.exec(ns, ['ipset', 'destroy']);
      }
    }
    expect(models).toHaveLength(runs);
  });
});
