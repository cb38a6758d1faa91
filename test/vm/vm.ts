// Runs a command inside Debian's own kernel under qemu (TCG): this host's kernel has no ipip
// module, the VM's does. The initramfs carries busybox plus the virtio-pci/9p modules; the host
// root is shared read-only over virtio-9p and switched into (so the kernel's modprobe finds every
// other module there), with tmpfs on /tmp and /run and the repository shared read-write.
// Pass/fail comes back as a marker line with the exit code on the serial console.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const VM_PACKAGES = ['qemu-system-x86', 'linux-image-amd64', 'busybox-static'];
const EARLY_MODULES = ['virtio_pci', '9pnet_virtio', '9p'];
const MARK = 'TORTIE-VM-EXIT=';

export interface VmOptions {
  /** Shell command run as root inside the VM, in `cwd`. */
  command: string;
  cwd?: string;
  /** Host directory shared read-write at the same path (the repository). */
  shareRw?: string;
  memoryMb?: number;
  timeoutMs?: number;
  onOutput?: (chunk: string) => void;
}

export interface VmResult {
  exitCode: number;
  output: string;
}

/** Newest installed Debian kernel (vmlinuz + its module tree), or why there is none. */
export function findKernel(): { version: string; vmlinuz: string } | string {
  if (!existsSync('/boot')) return 'no /boot';
  const ks = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(`/lib/modules/${v}/modules.dep`))
    .sort();
  const v = ks.at(-1);
  if (!v) return `no kernel with modules in /boot (install ${VM_PACKAGES.join(' ')})`;
  return { version: v, vmlinuz: `/boot/vmlinuz-${v}` };
}

export function vmUnavailable(): string | undefined {
  const k = findKernel();
  if (typeof k === 'string') return k;
  for (const bin of ['qemu-system-x86_64', 'busybox', 'cpio']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      return `${bin} not installed (packages: ${VM_PACKAGES.join(' ')})`;
    }
  }
  return undefined;
}

/** Module files for `names` and all their dependencies, dependencies first (`modinfo -F depends`). */
function moduleClosure(version: string, names: string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (m: string): void => {
    if (seen.has(m)) return;
    seen.add(m);
    const deps = execFileSync('modinfo', ['-k', version, '-F', 'depends', m], { encoding: 'utf8' }).trim();
    for (const d of deps.split(',').filter(Boolean)) visit(d);
    const file = execFileSync('modinfo', ['-k', version, '-F', 'filename', m], { encoding: 'utf8' }).trim();
    if (file.startsWith('/')) order.push(file); // "(builtin)" needs no file
  };
  for (const n of names) visit(n);
  return order;
}

function initScript(mods: string[], o: VmOptions): string {
  const cwd = o.cwd ?? '/';
  const inner = [
    'mount -t proc proc /proc',
    'mount -t sysfs sys /sys',
    'mount -t devtmpfs dev /dev 2>/dev/null; mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm',
    'mkdir -p /run/netns /run/lock',
    'ip link set lo up',
    `cd ${JSON.stringify(cwd)}`,
    `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp TORTIE_IN_VM=1`,
    `( ${o.command} ) </dev/null 2>&1`,
    `echo "${MARK}$?"`,
    'sync',
    'echo o > /proc/sysrq-trigger',
    'sleep 5',
  ].join('\n');
  return [
    '#!/bin/busybox sh',
    '/bin/busybox --install -s /bin',
    'mount -t proc proc /proc',
    'mount -t sysfs sys /sys',
    'mount -t devtmpfs dev /dev',
    ...mods.map((m) => `insmod /modules/${m.split('/').pop() ?? ''} || echo "insmod ${m} failed"`),
    'mkdir -p /newroot',
    'mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /newroot || { echo "9p root mount failed"; echo o > /proc/sysrq-trigger; }',
    'mount -t tmpfs tmpfs /newroot/tmp',
    'mount -t tmpfs tmpfs /newroot/run',
    // A repo under /tmp or /run (a clean CI clone) sits on the VM's fresh tmpfs: make the mount point first.
    ...(o.shareRw
      ? [
          `mkdir -p ${JSON.stringify(join('/newroot', o.shareRw))} 2>/dev/null`,
          // cache=loose: every node process loads hundreds of module files, and an uncached 9p lookup
          // costs each one a round trip to the host; with it the second process reads them from the
          // VM's page cache. Nothing on the host changes them while the VM runs.
          `mount -t 9p -o trans=virtio,version=9p2000.L,cache=loose,msize=262144 repo ${JSON.stringify(join('/newroot', o.shareRw))}`,
        ]
      : []),
    'umount /proc /sys /dev 2>/dev/null',
    `exec switch_root /newroot /bin/sh -c ${shellQuote(inner)}`,
    '',
  ].join('\n');
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function runInVm(o: VmOptions): Promise<VmResult> {
  const why = vmUnavailable();
  if (why) throw new Error(`cannot run the VM: ${why}`);
  const k = findKernel() as { version: string; vmlinuz: string };
  const dir = mkdtempSync(join(tmpdir(), 'tortie-vm-'));
  try {
    const root = join(dir, 'root');
    for (const d of ['bin', 'proc', 'sys', 'dev', 'modules', 'newroot']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim(), join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    const mods = moduleClosure(k.version, EARLY_MODULES);
    for (const m of mods) copyFileSync(m, join(root, 'modules', m.split('/').pop() ?? 'x.ko'));
    writeFileSync(join(root, 'init'), initScript(mods, o), { mode: 0o755 });
    const initrd = join(dir, 'initrd.gz');
    execFileSync('sh', ['-c', `cd ${shellQuote(root)} && find . | cpio -o -H newc --quiet | gzip -1 > ${shellQuote(initrd)}`]);
    const args = [
      '-accel', 'tcg',
      '-m', String(o.memoryMb ?? 2048),
      '-smp', '2',
      '-nographic', '-no-reboot',
      '-kernel', k.vmlinuz,
      '-initrd', initrd,
      '-append', 'console=ttyS0 panic=-1 quiet loglevel=3',
      '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
      ...(o.shareRw ? ['-virtfs', `local,path=${o.shareRw},mount_tag=repo,security_model=none,multidevs=remap`] : []),
    ];
    return await new Promise<VmResult>((resolve, reject) => {
      const q = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const timer = setTimeout(() => {
        q.kill('SIGKILL');
        reject(new Error(`VM timed out after ${(o.timeoutMs ?? 600_000) / 1000}s; output so far:\n${out.slice(-4000)}`));
      }, o.timeoutMs ?? 600_000);
      const onData = (d: Buffer): void => {
        const s = d.toString();
        out += s;
        o.onOutput?.(s);
      };
      q.stdout.on('data', onData);
      q.stderr.on('data', onData);
      q.on('exit', () => {
        clearTimeout(timer);
        const m = new RegExp(`${MARK}(\\d+)`).exec(out);
        if (!m) reject(new Error(`VM ended without an exit marker; output:\n${out.slice(-4000)}`));
        else resolve({ exitCode: Number(m[1]), output: out });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
