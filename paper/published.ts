// The published figures the report compares with, copied from
// shared/reference/cold-start-literature.md with their provenance: READ-primary (the authors' own
// text), READ-secondary (a third-party text quoting the paper) or RECALLED (from memory of the
// paper, not found in an openable source: marked in every table). Data only; no prose here.

export type Provenance = 'READ-primary' | 'READ-secondary' | 'RECALLED'

export interface PublishedFigure {
  id: string
  /** Faasm (ATC'20), SAND (ATC'18), SOCK (ATC'18), ... */
  source: string
  what: string
  /** the value in `unit`, or undefined for a qualitative figure */
  value?: number
  unit: 'us' | 'ms' | 's' | 'KB' | 'MB' | 'cycles' | 'count' | 'ratio' | 'req/s' | 'percent' | 'text'
  /** as the source prints it */
  text: string
  provenance: Provenance
  /** where in the source */
  where: string
}

const F = (id: string, source: string, what: string, value: number | undefined, unit: PublishedFigure['unit'], text: string, provenance: Provenance, where: string): PublishedFigure => ({ id, source, what, value, unit, text, provenance, where })

export const PUBLISHED: readonly PublishedFigure[] = [
  // Faasm, USENIX ATC'20, Table 3 (no-op function; cells recalled, ratios read in a translation of §6.5)
  F('faasm.init.docker', 'Faasm', 'Docker container, no-op, initialisation time', 2800, 'ms', '2.8 s', 'RECALLED', 'Table 3'),
  F('faasm.init.faaslet', 'Faasm', 'Faaslet, no-op, initialisation time', 5.2, 'ms', '5.2 ms', 'RECALLED', 'Table 3'),
  F('faasm.init.proto', 'Faasm', 'Proto-Faaslet (restored from a snapshot), initialisation time', 0.5, 'ms', '0.5 ms', 'RECALLED', 'Table 3'),
  F('faasm.init.proto-vs-docker', 'Faasm', 'initialisation time, Docker / Proto-Faaslet', 5600, 'ratio', '5,600x', 'READ-secondary', '§6.5 (third-party summary)'),
  F('faasm.cpu.docker', 'Faasm', 'Docker, CPU cycles per no-op start', 251e6, 'cycles', '251M', 'RECALLED', 'Table 3'),
  F('faasm.cpu.faaslet', 'Faasm', 'Faaslet, CPU cycles per no-op start', 1.4e3, 'cycles', '1.4K', 'RECALLED', 'Table 3'),
  F('faasm.cpu.proto', 'Faasm', 'Proto-Faaslet, CPU cycles per no-op start', 650, 'cycles', '650', 'RECALLED', 'Table 3'),
  F('faasm.cpu.proto-vs-docker', 'Faasm', 'CPU cycles, Docker / Proto-Faaslet', 386e3, 'ratio', '386K x', 'RECALLED', 'Table 3'),
  F('faasm.pss.docker', 'Faasm', 'Docker, PSS per instance', 1.3, 'MB', '1.3 MB', 'RECALLED', 'Table 3'),
  F('faasm.pss.faaslet', 'Faasm', 'Faaslet, PSS per instance', 200, 'KB', '200 KB', 'RECALLED', 'Table 3'),
  F('faasm.pss.proto', 'Faasm', 'Proto-Faaslet, PSS per instance', 90, 'KB', '90 KB', 'RECALLED', 'Table 3'),
  F('faasm.rss.docker', 'Faasm', 'Docker, RSS per instance', 5.0, 'MB', '5.0 MB', 'RECALLED', 'Table 3'),
  F('faasm.pss.faaslet-ratio', 'Faasm', 'PSS per instance, container / Faaslet', 7, 'ratio', '~7x', 'READ-secondary', '§6.5'),
  F('faasm.pss.proto-ratio', 'Faasm', 'PSS per instance, container / Proto-Faaslet', 15, 'ratio', '15x', 'READ-secondary', '§6.5'),
  F('faasm.rss.proto-ratio', 'Faasm', 'RSS per instance, container / Proto-Faaslet', 57, 'ratio', '57x', 'RECALLED', 'Table 3'),
  F('faasm.cap.docker', 'Faasm', 'Docker containers on one 32 GB host', 8000, 'count', '~8K', 'RECALLED', 'Table 3'),
  F('faasm.cap.faaslet', 'Faasm', 'Faaslets on one 32 GB host', 70000, 'count', '~70K', 'RECALLED', 'Table 3'),
  F('faasm.cap.proto', 'Faasm', 'Proto-Faaslets on one 32 GB host', 100000, 'count', '>100K', 'RECALLED', 'Table 3'),
  F('faasm.cap.faaslet-ratio', 'Faasm', 'capacity, Faaslets / containers', 10, 'ratio', 'up to 10x', 'READ-secondary', '§6.5'),
  F('faasm.cap.proto-ratio', 'Faasm', 'capacity, Proto-Faaslets / containers', 12, 'ratio', '12x', 'READ-secondary', '§6.5'),
  F('faasm.python.container', 'Faasm', 'Python no-op, container (python:3.7-alpine) initialisation', 3200, 'ms', '3.2 s', 'READ-secondary', '§6.5'),
  F('faasm.python.proto', 'Faasm', 'Python no-op, Proto-Faaslet with a pre-initialised CPython', 0.9, 'ms', '0.9 ms', 'READ-secondary', '§6.5'),
  F('faasm.faaslet.init-bound', 'Faasm', 'a Faaslet initialises in', 10, 'ms', 'under 10 ms', 'READ-secondary', '§5.2'),
  F('faasm.proto.restore', 'Faasm', 'restore from a Proto-Faaslet', undefined, 'text', 'hundreds of µs', 'READ-secondary', '§5.2'),
  // Faasm Fig. 9 (compute overhead)
  F('faasm.polybench', 'Faasm', 'Polybench/C, wasm against native', undefined, 'text', 'all kernels but two close to native (some faster); the two at 40-55% overhead', 'READ-secondary', '§6.4, Fig. 9'),
  // Faasm Fig. 10 (churn)
  F('faasm.churn.docker.latency', 'Faasm', 'Docker initialisation latency at low load', 2000, 'ms', '~2 s', 'READ-secondary', 'Fig. 10'),
  F('faasm.churn.docker.knee', 'Faasm', 'Docker: highest rate before latency grows', 3, 'req/s', '~3 exec/s', 'READ-secondary', 'Fig. 10'),
  F('faasm.churn.faaslet.latency', 'Faasm', 'Faaslet initialisation latency at low load', 5, 'ms', '~5 ms', 'READ-secondary', 'Fig. 10'),
  F('faasm.churn.faaslet.knee', 'Faasm', 'Faaslets: highest sustained rate', 600, 'req/s', '~600 exec/s', 'READ-secondary', 'Fig. 10'),
  F('faasm.churn.proto.latency', 'Faasm', 'Proto-Faaslet latency at low load', 0.5, 'ms', '~0.5 ms', 'READ-secondary', 'Fig. 10'),
  F('faasm.churn.proto.knee', 'Faasm', 'Proto-Faaslets: highest sustained rate', 4000, 'req/s', '~4000 exec/s', 'READ-secondary', 'Fig. 10'),
  // SAND, USENIX ATC'18
  F('sand.app.speedup', 'SAND', 'image-processing application, SAND vs Apache OpenWhisk', 43, 'percent', '43% faster', 'READ-primary', 'abstract'),
  F('sand.interaction.warm.openwhisk', 'SAND', 'function interaction latency, warm, OpenWhisk / SAND', 8.32, 'ratio', '8.32x', 'READ-secondary', '§6'),
  F('sand.interaction.warm.greengrass', 'SAND', 'function interaction latency, warm, AWS Greengrass / SAND', 3.64, 'ratio', '3.64x', 'READ-secondary', '§6'),
  F('sand.interaction.cold.openwhisk', 'SAND', 'function interaction latency, cold, OpenWhisk / SAND', 562, 'ratio', '562x', 'READ-secondary', '§6'),
  F('sand.interaction.cold.greengrass', 'SAND', 'function interaction latency, cold, AWS Greengrass / SAND', 358, 'ratio', '358x', 'READ-secondary', '§6'),
  F('sand.pipeline.overhead', 'SAND', 'image pipeline platform overhead (TT - TC), OpenWhisk / SAND', 22.0, 'ratio', '22.0x', 'READ-secondary', '§6'),
  F('sand.ladder.docker-run', 'SAND', 'start a new container (docker run)', undefined, 'text', 'hundreds of ms to ~1 s', 'RECALLED', '§3 figure (order of magnitude)'),
  F('sand.ladder.docker-exec', 'SAND', 'start a process in a running container (docker exec)', undefined, 'text', 'tens of ms', 'RECALLED', '§3 figure (order of magnitude)'),
  F('sand.ladder.fork', 'SAND', 'fork inside a running container', undefined, 'text', '~1 ms to low ms', 'RECALLED', '§3 figure (order of magnitude)'),
  // SOCK, USENIX ATC'18
  F('sock.lean.speedup', 'SOCK', 'lean containers vs Docker', 18, 'ratio', '18x', 'READ-primary', 'abstract'),
  F('sock.zygote.speedup', 'SOCK', 'generalized Zygote provisioning, additional speedup', 3, 'ratio', '3x', 'READ-primary', 'abstract'),
  F('sock.cache.speedup', 'SOCK', 'three-tier Zygote caching vs SOCK without Zygotes', 45, 'ratio', '45x', 'READ-primary', 'abstract'),
  F('sock.pipeline.lambda', 'SOCK', 'image-processing platform overhead, AWS Lambda / OpenLambda+SOCK', 2.8, 'ratio', '2.8x', 'READ-primary', 'abstract'),
  F('sock.pipeline.openwhisk', 'SOCK', 'image-processing platform overhead, OpenWhisk / OpenLambda+SOCK', 5.3, 'ratio', '5.3x', 'READ-primary', 'abstract'),
  F('sock.cgroup.reuse', 'SOCK', 'reusing a cgroup against creating one', 2, 'ratio', '~2x', 'READ-secondary', '§3'),
  F('sock.rootfs.bind', 'SOCK', 'bind mounts + chroot against union file systems', undefined, 'text', 'bind + chroot faster', 'READ-secondary', '§3'),
  F('sock.netns', 'SOCK', 'network namespaces', undefined, 'text', 'the main scalability bottleneck', 'READ-secondary', '§3'),
  F('sock.imports', 'SOCK', 'importing popular Python libraries adds to start-up', 100, 'ms', '~100 ms', 'READ-primary', 'abstract'),
  // instantiation anchors
  F('wasmtime.empty', 'wasmtime PR #2900', 'instantiate an empty module (default / pooling)', 3.0, 'us', '3.0 / 3.2 µs', 'READ-primary', 'criterion benchmark'),
  F('wasmtime.small-memory', 'wasmtime PR #2900', 'instantiate, small memory (default / pooling)', 9.9, 'us', '9.9 / 5.3 µs', 'READ-primary', 'criterion benchmark'),
  F('wasmtime.data-segments', 'wasmtime PR #2900', 'instantiate, data segments (default / pooling)', 21.0, 'us', '21.0 / 14.3 µs', 'READ-primary', 'criterion benchmark'),
  F('wasmtime.wasi-hello', 'wasmtime PR #2900', 'instantiate a WASI hello world (default / pooling)', 30.3, 'us', '30.3 / 26.9 µs', 'READ-primary', 'criterion benchmark'),
  F('wasmtime.cow', 'wasmtime PR #3691', 'instantiate + call, pooling + memfd copy-on-write / instance reuse', 8, 'us', '8 µs / 4 µs', 'READ-primary', 'PR comment'),
  F('lucet.instantiate', 'Fastly Lucet', 'instantiate a module', 50, 'us', '< 50 µs', 'READ-primary', 'announcement blog'),
  F('gvisor.start', 'gVisor (third-party measurement)', 'runsc create + start', undefined, 'text', '81-280 ms', 'READ-primary', 'apoxy.dev'),
]

const BY_ID = new Map(PUBLISHED.map((f) => [f.id, f]))

export function published(id: string): PublishedFigure {
  const f = BY_ID.get(id)
  if (!f) throw new Error(`no published figure ${id}`)
  return f
}

/** The mark a recalled figure carries in every table. */
export const RECALLED_MARK = '†'

/** The figure as a table cell: its text, marked when recalled. */
export function cite(f: PublishedFigure): string {
  return f.provenance === 'RECALLED' ? `${f.text} ${RECALLED_MARK}` : f.text
}
