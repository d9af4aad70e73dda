// Puts paper/report.md together: an introduction, the machine, the headline, then one section per
// experiment (what it asks, its tables and figures, its method, the command that reruns it), and
// where kindling disagrees with the papers.
import type { EnvironmentRecord } from '../../bench/lib/env.js'
import type { Experiment, ExperimentData, RenderContext, Section } from '../experiments/types.js'
import { RECALLED_MARK } from '../published.js'
import { mdTable } from './markdown.js'

export interface ReportInput {
  env: EnvironmentRecord
  quick: boolean
  seconds: number
  /** 1-minute load average before the run, its maximum during it, and after */
  load: { before: number; max: number; after: number }
  /** other benchmarks seen running during the run (undefined: not recorded) */
  others?: string[]
  experiments: { exp: Experiment; data: ExperimentData; section: Section }[]
  headline: string[]
  command: string
}

export function machineLine(env: EnvironmentRecord): string {
  return `${env.cpu.model} x${env.cpu.cores}, ${(env.memory.totalMiB / 1024).toFixed(0)} GiB, Linux ${env.kernel.release}, Node ${env.node.version}; kindling ${env.git.commit.slice(0, 10)}${env.git.dirtyFiles > 0 ? ` (+${env.git.dirtyFiles} uncommitted files)` : ''}; ${env.date.slice(0, 16).replace('T', ' ')} UTC`
}

export function renderContext(env: EnvironmentRecord, quick: boolean): RenderContext {
  return { env, quick, machine: machineLine(env), rerun: (id) => `npm run paper -- --only ${id}${quick ? ' --quick' : ''}` }
}

const STATUS_NOTE: Record<string, string> = { ok: '', partial: ' (partial)', skipped: ' (skipped)', failed: ' (FAILED)' }

export function renderReport(x: ReportInput): string {
  const { env } = x
  const out: string[] = []
  out.push('# Reproducing Faasm, SAND and SOCK on kindling')
  out.push('')
  if (x.quick) out.push('> **Quick run** (`--quick`): small samples that only check that the pipeline runs end to end. The numbers are not for quoting; the committed report comes from a full run.\n')
  out.push(
    'Three systems papers from USENIX ATC argue that serverless functions can start much faster than containers if they give up some isolation: **Faasm** (2020) runs functions as WebAssembly sandboxes ("Faaslets") inside a shared process and restores them from snapshots; **SAND** (2018) puts a whole application in one container and forks a process per call; **SOCK** (2018) makes containers leaner and starts Python from pre-imported "Zygote" processes. kindling runs functions under five isolation tiers, from a WebAssembly instance inside the gateway (`inline`) to an OCI container per call (`container`), so it can measure each step of that trade on one machine.',
    '',
    'This report reruns the experiments of those papers that fit on one small machine (the list, R1 to R14, is in shared/reference/cold-start-literature.md), each on every kindling tier it applies to and on the container runtimes installed here. Absolute times depend on the machine and cannot be compared with the papers\'; the **ratios** between mechanisms measured in the same run can, and the tables give both.',
    '',
    `How to read the tables: "median [95% CI], p99" — the median of all samples, a 95% confidence interval of that median from a bootstrap that resamples whole repeated rounds (so drift between rounds widens it), and the 99th percentile by nearest rank; where a run repeated the whole suite, "runs a–b" is the range of the repetitions' medians. Means are given beside medians where the papers report means (Faasm divides total elapsed time by N). Published figures carry their provenance from the literature notes: figures marked **${RECALLED_MARK}** are **recalled** from the paper, not read in an openable source; check them against the PDF before quoting. Unmarked published figures were read in the authors' text or in a third party's quotation of it.`,
    '',
    `Rerun everything: \`npm run paper\` (this report; tens of minutes, on a quiet machine). Check the pipeline: \`npm run paper -- --quick\` (a few minutes; writes paper/quick/). One experiment: \`npm run paper -- --only R4\`. Re-render this file from paper/results.json without measuring: \`npm run paper -- --render\`.`,
    '',
  )
  out.push('## The machine')
  out.push('')
  out.push(
    mdTable(
      ['', ''],
      [
        ['CPU', `${env.cpu.model}, ${env.cpu.cores} cores${env.cpu.flags ? ` (${env.cpu.flags})` : ''}`],
        ['memory', `${(env.memory.totalMiB / 1024).toFixed(1)} GiB`],
        ['OS, kernel', `${env.os}, Linux ${env.kernel.release}`],
        ['Node', `${env.node.version} (V8 ${env.node.v8})`],
        ['kindling', `${env.git.commit} (${env.git.branch})${env.git.dirtyFiles > 0 ? `, ${env.git.dirtyFiles} uncommitted files` : ''}`],
        ['container runtimes', Object.entries(env.tools).filter(([k, v]) => v && k !== 'wrk').map(([, v]) => v).join('; ') || 'none'],
        ['run', `${x.command}, ${env.date.slice(0, 16).replace('T', ' ')} UTC, ${(x.seconds / 60).toFixed(1)} min`],
        ['load average (1 min)', `${x.load.before.toFixed(2)} before, at most ${x.load.max.toFixed(2)} during, ${x.load.after.toFixed(2)} after (2 cores: the run itself loads them)`],
      ],
    ),
  )
  out.push('')
  if (x.others?.length) out.push(`**This run shared the machine with another benchmark** (seen during the run: ${[...new Set(x.others.map((o) => o.replace(/\{.*$/, '').trim()))].slice(0, 4).map((o) => `\`${o}\``).join(', ')}). Ratios within one experiment are measured interleaved and hold up better than absolute times; CPU times from the whole machine are unreliable in such a run.`, '')
  else if (x.others) out.push('No other benchmark was seen running on the machine during the run (checked every 5 s).', '')
  out.push('The paper testbeds had 8 to 20 cores (Faasm\'s micro-benchmarks: one Xeon E5-2660 at 2.6 GHz, 32 GB). This machine has 2, so the load generator and the system under test share them; only R4 pins cores (its generator on one, the gateway and its sandboxes on the other).')
  out.push('')
  out.push('## Headline')
  out.push('')
  out.push(...x.headline)
  out.push('')
  out.push('## Contents')
  out.push('')
  for (const { exp, data } of x.experiments) out.push(`- [${exp.id}: ${exp.title}](#${anchor(`${exp.id}: ${exp.title}${STATUS_NOTE[data.status]}`)})${STATUS_NOTE[data.status]}`)
  out.push(`- [Where kindling disagrees with the papers](#where-kindling-disagrees-with-the-papers)`)
  out.push(`- [Not reproduced here](#not-reproduced-here)`)
  out.push('')
  const rc = renderContext(env, x.quick)
  for (const { exp, data, section } of x.experiments) {
    out.push(`## ${exp.id}: ${exp.title}${STATUS_NOTE[data.status]}`)
    out.push('')
    out.push(`*Reproduces:* ${exp.origin}. *Rerun:* \`${rc.rerun(exp.id)}\`.`)
    out.push('')
    if (data.status === 'skipped' || data.status === 'failed') out.push(`**${data.status}**: ${data.reason ?? ''}\n`)
    if (section.markdown) out.push(section.markdown, '')
    for (const f of section.figures) out.push(`![${f.caption}](figures/${f.file})`, '')
    out.push(`*Machine:* ${data.machine ?? rc.machine}.${data.loadAverage ? ` Load average ${data.loadAverage.before} before, ${data.loadAverage.after} after; ${data.seconds?.toFixed(0)} s.` : ''}`)
    out.push('')
    if (data.method.length) out.push('*Method:*', '', ...data.method.map((m) => `- ${m}`), '')
    const notes = [...data.notes, ...data.skipped.map((s) => `not measured: ${s}`)]
    if (notes.length) out.push('*Notes:*', '', ...notes.map((n) => `- ${n}`), '')
  }
  out.push('## Where kindling disagrees with the papers')
  out.push('')
  out.push('Each item states the disagreement, then the evidence for it: the measurement here (the experiment\'s table named) and what the paper measured differently.')
  out.push('')
  const dis = x.experiments.flatMap(({ exp, data }) => (exp.disagreements && data.status !== 'failed' && data.status !== 'skipped' ? exp.disagreements(data).map((d) => `- **${exp.id}**: ${d}`) : []))
  out.push(...(dis.length ? dis : ['- none found in this run']))
  out.push('')
  out.push('## Not reproduced here')
  out.push('')
  out.push(
    '- R13 (Faasm §6.3, ML inference with a cold-start ratio) and R14 as its own experiment (gVisor appears in R1 and R7 as `runsc run`) are in the literature notes but not in this report.',
    '- Not measured the way the papers did, and said so in their sections: R9\'s warm containers run native C stage servers on Unix sockets, not OpenWhisk\'s Python actions behind a bridge; R1N rebuilds Docker\'s default networking for crun without NAT where neither iptables nor nft is installed.',
    '- Faasm\'s cluster experiments (SGD, matrix multiplication on 20 hosts), Firecracker (needs /dev/kvm that works: KVM is nested here and gVisor\'s KVM platform hangs), Catalyzer (a modified gVisor) and Nightcore (several EC2 hosts) need hardware this machine does not have.',
  )
  out.push('')
  return out.join('\n')
}

/** GitHub's heading anchor. */
export function anchor(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N} -]/gu, '').replace(/ /g, '-')
}
