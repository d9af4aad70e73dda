// Figures as vega-lite specs (data inlined), rendered to SVG headless by vega's View.toSVG()
// (no canvas needed: text widths are estimated).
import * as vega from 'vega'
import * as vl from 'vega-lite'

export type Spec = Record<string, unknown>

const BASE = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', background: 'white', config: { font: 'sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11, labelLimit: 0 } } }

export interface Bar {
  label: string
  /** median, microseconds */
  us: number
  lo?: number
  hi?: number
  /** colour group: kindling in-process, kindling over HTTP, container, primitive, host, published */
  kind: string
  /** 99th percentile, microseconds (drawn as a tick) */
  p99?: number
}

/** A dot per mechanism on a log axis with its 95% CI as a rule (a dot plot: bars need a zero a log axis lacks). */
export function logBars(title: string, bars: Bar[], axisTitle = 'median (µs, log scale)'): Spec {
  const values = bars.map((b) => ({ ...b, lo: b.lo ?? b.us, hi: b.hi ?? b.us }))
  // an explicit order (slowest first): a sort by field conflicts between the layers
  const order = [...values].sort((a, b) => b.us - a.us).map((b) => b.label)
  // labelLimit 0: no truncated labels (the figure grows to fit them)
  const y = { field: 'label', type: 'nominal', sort: order, title: null, axis: { labelLimit: 0 } }
  return {
    ...BASE,
    title,
    width: 420,
    height: { step: 18 },
    data: { values },
    encoding: { y },
    layer: [
      // a dot per median (bars have no base on a log axis), the CI as a rule through it
      { mark: { type: 'rule', color: 'black' }, encoding: { x: { field: 'lo', type: 'quantitative', scale: { type: 'log' }, title: axisTitle }, x2: { field: 'hi' } } },
      { mark: { type: 'point', filled: true, size: 70, opacity: 1 }, encoding: { x: { field: 'us', type: 'quantitative' }, color: { field: 'kind', type: 'nominal', title: null } } },
      // p99 as a tick, in the row's colour
      { transform: [{ filter: 'isValid(datum.p99)' }], mark: { type: 'tick', thickness: 2, size: 12 }, encoding: { x: { field: 'p99', type: 'quantitative' }, color: { field: 'kind', type: 'nominal', title: null } } },
    ],
  }
}

export interface Point {
  series: string
  x: number
  y: number
  /** spread of y over repeats (drawn as a vertical rule) */
  lo?: number
  hi?: number
  /** 99th percentile of y (drawn as a tick) */
  p99?: number
}

/** Lines over log-log axes, one per series, with points; `marks` are drawn as large crosses (published figures). */
export function logLines(title: string, points: Point[], xTitle: string, yTitle: string, marks: Point[] = []): Spec {
  const layers: Spec[] = [
    {
      data: { values: points },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: { type: 'log' }, title: xTitle },
        y: { field: 'y', type: 'quantitative', scale: { type: 'log' }, title: yTitle },
        color: { field: 'series', type: 'nominal', title: null },
      },
    },
  ]
  if (points.some((p) => p.lo !== undefined && p.hi !== undefined)) {
    layers.push({
      data: { values: points.filter((p) => p.lo !== undefined && p.hi !== undefined && p.lo > 0) },
      mark: { type: 'rule' },
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { field: 'series', type: 'nominal' } },
    })
  }
  if (points.some((p) => p.p99 !== undefined)) {
    layers.push({
      data: { values: points.filter((p) => p.p99 !== undefined && p.p99 > 0) },
      mark: { type: 'point', shape: 'triangle-up', size: 30 },
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'p99', type: 'quantitative' }, color: { field: 'series', type: 'nominal' } },
    })
  }
  if (marks.length) {
    layers.push({
      data: { values: marks },
      mark: { type: 'point', shape: 'cross', size: 120, filled: true },
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, color: { field: 'series', type: 'nominal' } },
    })
  }
  return { ...BASE, title, width: 480, height: 300, layer: layers }
}

export async function toSvg(spec: Spec): Promise<string> {
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  return svg
}

/** A measured row's colour group: kindling in-process and over HTTP apart, then the row's system. */
export function kindOf(key: string, system: string): string {
  if (key.startsWith('http:')) return 'kindling, over HTTP'
  if (system === 'kindling') return 'kindling, in-process (tier API)'
  return system
}
