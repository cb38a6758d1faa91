import { describe, expect, it } from 'vitest';
import type { ChainSpec, HookSpec, IpsetSpec, PolicyDataplaneState } from '../policy/types.js';
import { normMember, parseFilterSave, parseIpsetSave, planFilter, planSets, ruleHash, tempSetName, validateState } from './policy-plan.js';

const chains = (...c: ChainSpec[]): Map<string, ChainSpec> => new Map(c.map((x) => [x.name, x]));
const hooks: HookSpec[] = [{ builtin: 'FORWARD', rule: '-j cali-FORWARD' }];
const set = (name: string, members: string[], type: IpsetSpec['type'] = 'hash:net'): IpsetSpec => ({ name, type, family: 'inet', members });

/** What iptables-save prints after a plan's script ran on an empty table (inserts as appends). */
function saveAfter(script: string, others: string[] = []): string {
  const lines = script.split('\n').filter((l) => l.startsWith(':') || l.startsWith('-A ') || l.startsWith('-I '));
  const decl = lines.filter((l) => l.startsWith(':'));
  const rules = lines.filter((l) => !l.startsWith(':')).map((l) => l.replace(/^-I (\S+) \d+ /, '-A $1 '));
  return ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...decl, ...rules, ...others, 'COMMIT'].join('\n');
}

describe('parseFilterSave', () => {
  it('finds our chains, their hashes and the built-ins, ignoring other tables and chains', () => {
    const seen = parseFilterSave(
      [
        '*nat',
        ':cali-nat-outgoing - [0:0]',
        'COMMIT',
        '*filter',
        ':FORWARD ACCEPT [0:0]',
        ':cali-FORWARD - [0:0]',
        ':KUBE-FOO - [0:0]',
        '-A FORWARD -m comment --comment "cali:AAAAAAAAAAAAAAAA" -j cali-FORWARD',
        '-A FORWARD -j DROP',
        '-A cali-FORWARD -m comment --comment "cali:BBBBBBBBBBBBBBBB" -m comment --comment "some words" -j ACCEPT',
        '-A KUBE-FOO -j ACCEPT',
        'COMMIT',
      ].join('\n'),
    );
    expect([...seen.chains.keys()]).toEqual(['cali-FORWARD']);
    expect(seen.chains.get('cali-FORWARD')?.[0]?.hash).toBe('BBBBBBBBBBBBBBBB');
    expect(seen.builtins.get('FORWARD')?.map((r) => r.hash ?? r.body)).toEqual(['AAAAAAAAAAAAAAAA', '-j DROP']);
  });
});

describe('planFilter', () => {
  const want = chains({ name: 'cali-FORWARD', rules: ['-j cali-from-wl-dispatch'] }, { name: 'cali-from-wl-dispatch', rules: ['-i cali123 -j DROP', '-j RETURN'] });

  it('writes every chain and the hook on an empty table, in one transaction', () => {
    const p = planFilter(want, hooks, parseFilterSave(saveAfter('')));
    expect(p.written).toEqual(['cali-FORWARD', 'cali-from-wl-dispatch']);
    expect(p.hooksFixed).toEqual(['FORWARD']);
    const lines = p.script.split('\n');
    expect(lines[0]).toBe('*filter');
    expect(lines).toContain(':cali-FORWARD - [0:0]');
    expect(lines.filter((l) => l.startsWith('-I FORWARD 1 '))).toHaveLength(1);
    expect(lines.at(-2)).toBe('COMMIT');
    // Every rule is stamped with its hash.
    expect(lines.filter((l) => l.startsWith('-A ')).every((l) => /--comment "cali:[\w-]{16}"/.test(l))).toBe(true);
  });

  it('plans nothing when the kernel already matches, however iptables-save spells the rules', () => {
    const first = planFilter(want, hooks, parseFilterSave(saveAfter('')));
    // iptables-save rewrites rule text (quotes, module order): only the hash comment counts.
    const saved = saveAfter(first.script, ['-A FORWARD -j DROP']).replace(/-i cali123 -j DROP/, '-i cali123 -m comment --comment x -j DROP');
    const p = planFilter(want, hooks, parseFilterSave(saved));
    expect(p.script).toBe('');
    expect(p.written).toEqual([]);
  });

  it('rewrites only the changed chain and deletes dropped ones after their references', () => {
    const first = planFilter(want, hooks, parseFilterSave(saveAfter('')));
    const seen = parseFilterSave(saveAfter(first.script).replace('COMMIT', ':cali-tw-old - [0:0]\n-A cali-tw-old -j DROP\nCOMMIT'));
    const next = chains({ name: 'cali-FORWARD', rules: ['-j cali-from-wl-dispatch'] }, { name: 'cali-from-wl-dispatch', rules: ['-i cali456 -j DROP', '-j RETURN'] });
    const p = planFilter(next, hooks, seen);
    expect(p.written).toEqual(['cali-from-wl-dispatch']);
    expect(p.deleted).toEqual(['cali-tw-old']);
    expect(p.hooksFixed).toEqual([]);
    const lines = p.script.split('\n');
    expect(lines.indexOf(':cali-tw-old - [0:0]')).toBeLessThan(lines.indexOf('-X cali-tw-old'));
    expect(lines.some((l) => l.startsWith('-A cali-FORWARD'))).toBe(false);
  });

  it('moves our hook back to the top when another rule was inserted above it, once', () => {
    const first = planFilter(want, hooks, parseFilterSave(saveAfter('')));
    const saved = saveAfter(first.script).replace(/(-A FORWARD .*)/, '-A FORWARD -j KUBE-FORWARD\n$1\n-A FORWARD -j cali-FORWARD');
    const p = planFilter(want, hooks, parseFilterSave(saved));
    expect(p.hooksFixed).toEqual(['FORWARD']);
    expect(p.written).toEqual([]);
    const lines = p.script.split('\n');
    expect(lines.filter((l) => l.startsWith('-D FORWARD'))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('-I FORWARD 1 '))).toHaveLength(1);
    expect(lines.some((l) => l.includes('KUBE-FORWARD'))).toBe(false);
  });

  it('removes hooks and chains entirely when nothing is wanted', () => {
    const first = planFilter(want, hooks, parseFilterSave(saveAfter('')));
    const p = planFilter(new Map(), [], parseFilterSave(saveAfter(first.script)));
    expect(p.deleted).toEqual(['cali-FORWARD', 'cali-from-wl-dispatch']);
    const lines = p.script.split('\n');
    expect(lines.findIndex((l) => l.startsWith('-D FORWARD'))).toBeLessThan(lines.indexOf('-X cali-FORWARD'));
  });

  it('skips comparing chains the driver recorded as applied from the same object', () => {
    const fwd = { name: 'cali-FORWARD', rules: ['-j cali-from-wl-dispatch'] };
    const disp = { name: 'cali-from-wl-dispatch', rules: ['-i cali123 -j DROP'] };
    const seen = parseFilterSave(saveAfter(planFilter(chains(fwd, disp), hooks, parseFilterSave('*filter\nCOMMIT')).script));
    seen.applied = chains(fwd, disp);
    const next = { name: 'cali-from-wl-dispatch', rules: ['-i cali456 -j DROP'] };
    expect(planFilter(chains(fwd, next), hooks, seen).written).toEqual(['cali-from-wl-dispatch']);
    expect(planFilter(chains(fwd, disp), hooks, seen).script).toBe('');
  });

  it('hashes depend on chain, position and text', () => {
    expect(ruleHash('a', 0, '-j X')).not.toBe(ruleHash('b', 0, '-j X'));
    expect(ruleHash('a', 0, '-j X')).not.toBe(ruleHash('a', 1, '-j X'));
    expect(ruleHash('a', 0, '-j X')).toMatch(/^[\w-]{16}$/);
  });
});

describe('planSets', () => {
  const seenText = [
    'create cali40s:aaa hash:net family inet hashsize 1024 maxelem 65536',
    'add cali40s:aaa 10.65.0.3',
    'add cali40s:aaa 10.66.0.0/16',
    'create cali40s:old hash:net family inet hashsize 1024 maxelem 65536',
    'create cali40all-ipam-pools hash:net family inet hashsize 1024 maxelem 65536',
    'create other hash:net family inet hashsize 1024 maxelem 65536',
    'create cali4ts:zzz hash:net family inet hashsize 1024 maxelem 65536',
  ].join('\n');

  it('owns only policy sets of its family and leftovers of its own temp sets', () => {
    expect([...parseIpsetSave(seenText, 4).keys()]).toEqual(['cali40s:aaa', 'cali40s:old', 'cali4ts:zzz']);
    expect([...parseIpsetSave(seenText, 6).keys()]).toEqual([]);
  });

  it('leaves an unchanged set alone, swaps a changed one, creates a new one, destroys an unused one last', () => {
    const seen = parseIpsetSave(seenText, 4);
    const same = planSets(new Map([['cali40s:aaa', set('cali40s:aaa', ['10.66.0.0/16', '10.65.0.3/32'])]]), seen, 4);
    expect(same.swapped).toEqual([]);
    expect(same.before).toBe('destroy cali4ts:zzz\n');
    expect(same.destroyed).toEqual(['cali40s:old']);
    expect(same.after).toBe('destroy cali40s:old\n');

    const p = planSets(new Map([['cali40s:aaa', set('cali40s:aaa', ['10.65.0.4/32'])], ['cali40s:new', set('cali40s:new', ['10.65.0.9'])]]), seen, 4);
    expect(p.swapped).toEqual(['cali40s:aaa']);
    expect(p.created).toEqual(['cali40s:new']);
    const lines = p.before.trim().split('\n');
    const tmp = tempSetName('cali40s:aaa');
    expect(tmp).toBe('cali4ts:aaa');
    expect(lines).toEqual(expect.arrayContaining([`add ${tmp} 10.65.0.4`, `swap ${tmp} cali40s:aaa`, `destroy ${tmp}`, 'add cali40s:new 10.65.0.9']));
    expect(lines.indexOf(`swap ${tmp} cali40s:aaa`)).toBeGreaterThan(lines.indexOf(`add ${tmp} 10.65.0.4`));
  });

  it('edits a set in place when a few members come or go, apart from the creates and swaps', () => {
    const many = Array.from({ length: 10 }, (_, i) => `10.65.0.${i + 1}`);
    const seen = parseIpsetSave(['create cali40s:big hash:net family inet hashsize 1024 maxelem 1048576', ...many.map((m) => `add cali40s:big ${m}`)].join('\n'), 4);
    const p = planSets(new Map([['cali40s:big', set('cali40s:big', [...many.slice(1), '10.65.0.99/32'])]]), seen, 4);
    expect(p).toMatchObject({ before: '', edited: ['cali40s:big'], swapped: [], created: [] });
    expect(p.edits).toBe('add cali40s:big 10.65.0.99\ndel cali40s:big 10.65.0.1\n');
    // Most members replaced: built aside and swapped in instead.
    const q = planSets(new Map([['cali40s:big', set('cali40s:big', ['10.65.1.1', '10.65.1.2'])]]), seen, 4);
    expect(q).toMatchObject({ edits: '', edited: [], swapped: ['cali40s:big'] });
  });

  it('normalises members the way ipset prints them', () => {
    expect(normMember('10.65.0.3/32')).toBe('10.65.0.3');
    expect(normMember('10.65.0.0/26')).toBe('10.65.0.0/26');
    expect(normMember('fd00:0:0::1/128')).toBe('fd00::1');
    expect(normMember('10.65.0.3,tcp:6379')).toBe('10.65.0.3,tcp:6379');
  });
});

describe('validateState', () => {
  const st = (c: ChainSpec[], s: IpsetSpec[] = []): PolicyDataplaneState => ({ family: 4, chains: chains(...c), ipsets: new Map(s.map((x) => [x.name, x])), hooks: [] });
  it('accepts a consistent state', () => {
    expect(validateState(st([{ name: 'cali-a', rules: ['-m set --match-set cali40s:x src -j cali-b'] }, { name: 'cali-b', rules: [] }], [set('cali40s:x', [])]))).toEqual([]);
  });
  it('given a state that passed, re-checks only new chain objects, and everything once a name it used is gone', () => {
    const b = { name: 'cali-b', rules: [] };
    const a = { name: 'cali-a', rules: ['-j cali-b'] };
    const ok = st([a, b]);
    expect(validateState(ok)).toEqual([]);
    // A new chain jumping nowhere is caught; the unchanged ones are not re-scanned.
    expect(validateState(st([a, b, { name: 'cali-c', rules: ['-j cali-nowhere'] }]), ok).join()).toMatch(/cali-nowhere/);
    // cali-b gone: cali-a (unchanged object) now dangles and is caught.
    expect(validateState(st([a]), ok).join()).toMatch(/"cali-a": jumps to cali-b/);
  });
  it('names every problem', () => {
    const errs = validateState(st([{ name: 'cali-a', rules: ['-m set --match-set cali40s:x src -j cali-missing'] }, { name: 'KUBE-x', rules: [] }, { name: 'cali-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', rules: [] }], [set('cali40all-ipam-pools', [])]));
    expect(errs.join('\n')).toMatch(/cali-missing/);
    expect(errs.join('\n')).toMatch(/ipset cali40s:x/);
    expect(errs.join('\n')).toMatch(/"KUBE-x": must start with cali-/);
    expect(errs.join('\n')).toMatch(/longer than 28/);
    expect(errs.join('\n')).toMatch(/"cali40all-ipam-pools": must look like/);
  });
});
