// R10 (SOCK ATC'18 §3): what each Linux container primitive costs on its own, as root: each
// namespace kind created with unshare(2), mounts (tmpfs, bind, overlayfs), pivot_root and chroot,
// and a cgroup created, removed, or reused (a process moved into one made ahead).
// functions/primitives/primitives.c does the work, one new child process per sample.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { runCommand } from '../../bench/lib/floors.js'
import { summarize } from '../../bench/lib/stats.js'
import { cgroupLayout } from '../../isolation/index.js'
import { which } from '../../isolation/index.js'
import { cite, published } from '../published.js'
import { find, mdTable, measured, ratio, ratioOf, time, us } from '../report/markdown.js'
import { emptyData, type Experiment, type Measured } from './types.js'

/** One line of primitives.c: an operation and its samples, or the error that stopped it. */
export function parsePrimitiveLine(line: string): { op: string; us: number[]; error?: string } {
  const m = /^(.*?) (us=([\d.,]+)|error=(.*))$/.exec(line.trim())
  if (!m) throw new Error(`not a primitive result: ${line.slice(0, 200)}`)
  return m[3] !== undefined ? { op: m[1]!, us: m[3].split(',').map(Number) } : { op: m[1]!, us: [], error: m[4] }
}

export const keyOf = (op: string) => `prim:${op.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '').toLowerCase()}`

export const r10: Experiment = {
  id: 'R10',
  title: 'The cost of each container primitive',
  origin: 'SOCK (ATC\'18), §3: Linux container primitives one by one',
  suiteRepeat: false,
  async run(ctx) {
    const data = emptyData('R10')
    const cc = which('clang') ?? which('cc')
    if (process.getuid?.() !== 0) {
      data.status = 'skipped'
      data.reason = 'needs root (namespaces, mounts, cgroups)'
      return data
    }
    if (!cc) {
      data.status = 'skipped'
      data.reason = 'no C compiler (clang) to build functions/primitives/primitives.c'
      return data
    }
    const bin = path.join(ctx.workDir, 'primitives')
    execFileSync(cc, ['-O2', '-o', bin, path.join(ctx.repoRoot, 'functions', 'primitives', 'primitives.c')], { stdio: ['ignore', 'ignore', 'pipe'] })
    const work = path.join(ctx.workDir, 'prim')
    for (const d of ['lower', 'm', 't']) fs.mkdirSync(path.join(work, d), { recursive: true })
    fs.writeFileSync(path.join(work, 'lower', 'file'), 'x')
    const l = cgroupLayout()
    const cgroot = l.v1.get('memory') ?? l.unified
    const samples = ctx.quick ? 5 : 100
    const rounds = ctx.quick ? 1 : 3
    const all = new Map<string, { us: number[]; blocks: number[][]; error?: string }>()
    ctx.progress.step(`container primitives: ${rounds} round(s) x ${samples} samples each`)
    for (let r = 0; r < rounds && !ctx.shouldStop(); r++) {
      const out = await runCommand(bin, [String(samples), work, ...(cgroot ? [cgroot] : [])])
      if (out.code !== 0) throw new Error(`primitives exited ${out.code}: ${out.stderr.slice(0, 300)}`)
      for (const line of out.stdout.toString().split('\n').filter(Boolean)) {
        const p = parsePrimitiveLine(line)
        const a = all.get(p.op) ?? { us: [], blocks: [] }
        all.set(p.op, a)
        if (p.error) a.error = p.error
        else {
          a.us.push(...p.us)
          a.blocks.push(p.us)
        }
      }
    }
    for (const [op, a] of all) {
      if (!a.us.length) {
        data.notes.push(`${op}: failed: ${a.error}`)
        continue
      }
      const s = summarize(a.us, a.blocks)
      data.rows.push({ key: keyOf(op), label: op, system: 'primitive', unit: 'us', n: s.n, p50: s.p50, p99: s.p99, mean: s.mean, ci95: s.ci95, rounds: a.blocks.length })
    }
    data.method.push(
      `functions/primitives/primitives.c, built by the run with clang, run as root: for every operation ${samples} samples, each in a new child process that sets up what the operation needs untimed (a private mount namespace for the mounts, a tmpfs for overlayfs's upper and work dirs, a cgroup made ahead for the join) and times the operation alone with the monotonic clock; ${rounds} run(s) of the whole set; median, p99, mean and a 95% CI over runs`,
      `cgroups: the ${l.v1.get('memory') ? 'cgroup v1 memory' : 'cgroup v2'} hierarchy at ${cgroot ?? '(none found)'}; "join" writes the child's pid into cgroup.procs of a cgroup made once ahead (SOCK's reuse)`,
      'a namespace\'s teardown is not in its row: the kernel frees a network namespace asynchronously after its last process exits',
    )
    if (!data.rows.length) data.status = 'failed'
    return data
  },
  render(d) {
    const row = (op: string) => find(d.rows, keyOf(op))
    const lines = d.rows.map((m) => [m.label, measured(m), m.mean !== undefined ? time(us(m, m.mean)) : '–'])
    const create = row('cgroup mkdir (create)')
    const join = row('cgroup join (reuse one made ahead)')
    const overlay = row('overlayfs mount')
    const bind = row('bind mount')
    const chroot = row('chroot')
    const net = row('unshare(NEWNET)')
    const others = ['unshare(NEWNS)', 'unshare(NEWPID)', 'unshare(NEWUTS)', 'unshare(NEWIPC)', 'unshare(NEWCGROUP)'].map(row).filter((x): x is Measured => !!x)
    const slowestOther = others.sort((a, b) => us(b) - us(a))[0]
    const bindChroot = bind && chroot ? { ...bind, p50: us(bind) + us(chroot), unit: 'us' as const } : undefined
    const md = [
      'SOCK took a container apart and timed its pieces: it found network namespaces the main scalability bottleneck, bind mounts with chroot faster than union file systems, and reusing a cgroup about twice as fast as creating one, and built its lean containers from those findings. Here each primitive is timed alone on this kernel, as root.',
      '',
      mdTable(['primitive', 'here: median [95% CI], p99', 'mean'], lines, ['l', 'r', 'r']),
      '',
      mdTable(['comparison', 'SOCK (published)', 'here'], [
        ['cgroup: create / reuse (join one made ahead)', cite(published('sock.cgroup.reuse')), ratio(ratioOf(create, join))],
        ['root file system: overlayfs mount / bind mount + chroot', cite(published('sock.rootfs.bind')), ratio(ratioOf(overlay, bindChroot))],
        ['network namespace / the slowest other namespace', cite(published('sock.netns')), slowestOther ? `${ratio(ratioOf(net, slowestOther))} (${slowestOther.label})` : '–'],
      ], ['l', 'r', 'r']),
    ]
    return { markdown: md.join('\n'), figures: [] }
  },
  disagreements(d) {
    const create = find(d.rows, keyOf('cgroup mkdir (create)'))
    const join = find(d.rows, keyOf('cgroup join (reuse one made ahead)'))
    const r = ratioOf(create, join)
    return r !== undefined && (r < 1 || r > 6) ? [`cgroups: creating one costs ${ratio(r)} joining one made ahead here (R10's table: ${measured(create)} against ${measured(join)}), against SOCK's ~2x.`] : []
  },
}
