// Faasm's Table 3 CPU cells, read against the script that wrote them. Faasm's tasks/bench_time.py
// divides the `perf stat -a` cycle count by the iteration count N, then writes that value divided
// by N again in its ValuePerIteration column; elapsed time is divided once. If a published cell is
// that column, the cycles of one start are cell x N. This module does the arithmetic the report
// states, so that the paragraph and its numbers cannot drift apart.

/** The script lines, quoted verbatim (faasm/faasm tasks/bench_time.py, commit 1da8df0824ff). */
export const FAASM_SCRIPT = {
  repo: 'faasm/faasm',
  path: 'tasks/bench_time.py',
  commit: '1da8df0824ffab1ae3e6c7cc944b81abb3970846',
  iterations: '("faasm", join(BENCHMARK_BUILD, "bin", "bench_time"), 10000),\n("docker", "./bin/docker_noop_time.sh", 10),',
  cycles: 'if metric == "cycles":\n    # Amortize over iterations\n    value = Decimal(value) / iterations\n    csv_out.write("{},{},{},{},{}\\n".format(\n        runtime_name,\n        "cpu_cycles",\n        value,\n        iterations,\n        Decimal(value) / iterations,\n    ))',
  time: 'csv_out.write("{},{},{},{},{}\\n".format(\n    runtime_name,\n    "elapsed_seconds",\n    value,\n    iterations,\n    Decimal(value) / iterations,\n))',
  /** an earlier version of the same task (tasks/time_bench.py, commit d46a848a737b) ran fewer */
  earlier: { path: 'tasks/time_bench.py', commit: 'd46a848a737b5fa09b72389a985441f35fe718ba', faasm: 100, docker: 5 },
} as const

export interface CycleCell {
  name: string
  /** the published cell, cycles per start as printed */
  cycles: number
  /** the published wall time per start, seconds */
  wallS: number
  /** the iteration count the script ran this row with */
  n: number
}

export interface CorrectedCell extends CycleCell {
  /** cycles of one start if the cell was divided by N twice: cell x N */
  corrected: number
  /** cores kept busy during a start, as printed: cycles / (wall x clock) */
  coresAsPrinted: number
  /** the same, corrected */
  coresCorrected: number
}

/** Multiplies each cell back by its N and says how many cores each version keeps busy at `hz`. */
export function correctCycles(cells: readonly CycleCell[], hz: number): CorrectedCell[] {
  return cells.map((c) => {
    const corrected = c.cycles * c.n
    return { ...c, corrected, coresAsPrinted: c.cycles / (c.wallS * hz), coresCorrected: corrected / (c.wallS * hz) }
  })
}

/**
 * The Docker / Proto-Faaslet cycle ratio once both cells are multiplied back: the printed ratio
 * times N_docker / N_faasm (each cell is the true value / its own N).
 */
export function correctedRatio(printedRatio: number, nDocker: number, nFaasm: number): number {
  return (printedRatio * nDocker) / nFaasm
}

/** Faasm's testbed clock (one Xeon E5-2660, 2.6 GHz nominal). */
export const FAASM_HZ = 2.6e9
