// A tiny iptables interpreter for the rules felix/policy renders — only the matches and targets
// it emits (anything else throws, so a new kind of rule cannot slip past the tests unmodelled).
// Used by the tests to check that the rendered chains and the trace evaluator agree.
import ipaddr from 'ipaddr.js';
import { parseCIDR, parseIP } from '../../../datastore/model/net.js';
import type { PolicyDataplaneState } from '../types.js';

export interface SimPacket {
  src: string;
  dst: string;
  protocol: number;
  sport?: number;
  dport?: number;
  icmp?: { type: number; code: number };
  /** Interfaces the packet came in on / goes out of ("eth0" for the fabric). */
  in: string;
  out: string;
  ctstate?: 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID';
}

export type SimVerdict = 'ACCEPT' | 'DROP' | 'NONE';

const PROTOS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, 'ipv6-icmp': 58, sctp: 132, udplite: 136 };
const protoNum = (p: string): number => PROTOS[p] ?? Number(p);

function inNet(ip: string, cidr: string): boolean {
  const c = parseCIDR(cidr.includes('/') ? cidr : `${cidr}/${cidr.includes(':') ? 128 : 32}`);
  const a = parseIP(ip);
  if (!c || !a || c.family !== a.family) return false;
  return (a.addr as ipaddr.IPv4).match(ipaddr.parseCIDR(c.network) as [ipaddr.IPv4, number]);
}

const ifaceMatch = (pattern: string, name: string): boolean => (pattern.endsWith('+') ? name.startsWith(pattern.slice(0, -1)) : name === pattern);

interface Ctx {
  pkt: SimPacket;
  mark: number;
  state: PolicyDataplaneState;
  logs: number;
}

function parseMark(v: string): [number, number] {
  const [a, b] = v.split('/');
  return [Number(a), b === undefined ? 0xffffffff : Number(b)];
}

function inSet(ctx: Ctx, name: string, dirs: string): boolean {
  const set = ctx.state.ipsets.get(name);
  if (!set) throw new Error(`rule references missing ipset ${name}`);
  const [d1, d2] = dirs.split(',');
  const ip = d1 === 'src' ? ctx.pkt.src : ctx.pkt.dst;
  if (set.type === 'hash:net') return set.members.some((m) => inNet(ip, m));
  if (d2 === undefined) throw new Error(`hash:ip,port set ${name} matched with one direction`);
  const port = d2 === 'src' ? ctx.pkt.sport : ctx.pkt.dport;
  const protoName = Object.entries(PROTOS).find(([, n]) => n === ctx.pkt.protocol)?.[0] ?? String(ctx.pkt.protocol);
  if (port === undefined) return false;
  return set.members.includes(`${parseIP(ip)?.text},${protoName}:${port}`);
}

/** Evaluates one rule's matches; returns the target tokens when all match. */
function matchRule(ctx: Ctx, rule: string): string[] | undefined {
  const t = rule.match(/"[^"]*"|\S+/g) ?? [];
  let i = 0;
  let ok = true;
  let neg = false;
  let module = '';
  const fam = ctx.state.family;
  while (i < t.length) {
    const tok = t[i++];
    if (tok === '!') {
      neg = true;
      continue;
    }
    const check = (v: boolean) => {
      if (neg ? v : !v) ok = false;
      neg = false;
    };
    switch (tok) {
      case '-s':
        check(inNet(ctx.pkt.src, t[i++]));
        break;
      case '-d':
        check(inNet(ctx.pkt.dst, t[i++]));
        break;
      case '-i':
        check(ifaceMatch(t[i++], ctx.pkt.in));
        break;
      case '-o':
        check(ifaceMatch(t[i++], ctx.pkt.out));
        break;
      case '-p':
        check(ctx.pkt.protocol === protoNum(t[i++]));
        break;
      case '-m':
        module = t[i++];
        if (!['conntrack', 'mark', 'set', 'multiport', 'icmp', 'icmp6'].includes(module)) throw new Error(`unmodelled match module ${module} in: ${rule}`);
        break;
      case '--ctstate':
        check(t[i++].split(',').includes(ctx.pkt.ctstate ?? 'NEW'));
        break;
      case '--mark': {
        const [v, m] = parseMark(t[i++]);
        check((ctx.mark & m) === v);
        break;
      }
      case '--match-set': {
        const name = t[i++];
        check(inSet(ctx, name, t[i++]));
        break;
      }
      case '--sports':
      case '--dports': {
        const port = tok === '--sports' ? ctx.pkt.sport : ctx.pkt.dport;
        // iptables refuses multiport unless the rule itself names a port protocol.
        if (!/(^| )-p (tcp|udp|sctp|udplite) /.test(rule)) throw new Error(`multiport without a port protocol: ${rule}`);
        const list = t[i++];
        const hit = port !== undefined && list.split(',').some((r) => {
          const [a, b] = r.split(':').map(Number);
          return port >= a && port <= (b ?? a);
        });
        check(hit);
        break;
      }
      case '--icmp-type':
      case '--icmpv6-type': {
        if ((tok === '--icmp-type') !== (fam === 4) || module !== (fam === 4 ? 'icmp' : 'icmp6')) throw new Error(`icmp match of the wrong family: ${rule}`);
        const [ty, code] = t[i++].split('/').map(Number);
        const isIcmp = ctx.pkt.protocol === (fam === 4 ? 1 : 58) && ctx.pkt.icmp !== undefined;
        // The icmp match itself only sees ICMP packets; "!" negates the type test, not that.
        if (!isIcmp) {
          ok = false;
          neg = false;
        } else check(ctx.pkt.icmp?.type === ty && (code === undefined || ctx.pkt.icmp?.code === code));
        break;
      }
      case '-j':
      case '-g':
        return ok ? t.slice(i - 1) : undefined;
      default:
        throw new Error(`unmodelled token ${tok} in: ${rule}`);
    }
  }
  throw new Error(`rule without target: ${rule}`);
}

type Outcome = 'ACCEPT' | 'DROP' | 'RETURN';

function runChain(ctx: Ctx, name: string, depth: number): Outcome {
  if (depth > 50) throw new Error('chain loop');
  const chain = ctx.state.chains.get(name);
  if (!chain) throw new Error(`jump to missing chain ${name}`);
  for (const rule of chain.rules) {
    if (/--comment/.test(rule)) throw new Error(`renderer must not write comments (the driver stamps them): ${rule}`);
    const target = matchRule(ctx, rule);
    if (!target) continue;
    const [kind, tgt, ...rest] = target;
    if (kind === '-g') {
      const r = runChain(ctx, tgt, depth + 1);
      return r === 'RETURN' ? 'RETURN' : r;
    }
    switch (tgt) {
      case 'ACCEPT':
      case 'DROP':
      case 'RETURN':
        return tgt;
      case 'LOG':
        ctx.logs++;
        break;
      case 'MARK': {
        if (rest[0] !== '--set-xmark') throw new Error(`unmodelled MARK: ${rule}`);
        const [v, m] = parseMark(rest[1]);
        ctx.mark = (ctx.mark & ~m) ^ v;
        break;
      }
      default: {
        const r = runChain(ctx, tgt, depth + 1);
        if (r !== 'RETURN') return r;
      }
    }
  }
  return 'RETURN';
}

/** Runs the FORWARD hooks of a rendered state; NONE when our chains leave the packet alone. */
export function simulateForward(state: PolicyDataplaneState, pkt: SimPacket): { verdict: SimVerdict; logs: number } {
  const ctx: Ctx = { pkt, mark: 0, state, logs: 0 };
  for (const h of state.hooks.filter((x) => x.builtin === 'FORWARD')) {
    const target = matchRule(ctx, h.rule);
    if (!target) continue;
    const r = target[0] === '-g' || !['ACCEPT', 'DROP', 'RETURN'].includes(target[1]) ? runChain(ctx, target[1], 0) : (target[1] as Outcome);
    if (r === 'ACCEPT' || r === 'DROP') return { verdict: r, logs: ctx.logs };
  }
  return { verdict: 'NONE', logs: ctx.logs };
}
