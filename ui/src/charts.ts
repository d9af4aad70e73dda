// Small SVG charts drawn with attributes and classes only (the CSP allows no inline style).
import { svg, text } from './dom.js'

/** A line over the last slots; null values are gaps. The title says the last value. */
export function sparkline(values: (number | null)[], opts: { cls: string; title: string; width?: number; height?: number }): SVGElement {
  const w = opts.width ?? 84
  const hgt = opts.height ?? 24
  const max = Math.max(0, ...values.map((v) => v ?? 0))
  const step = values.length > 1 ? w / (values.length - 1) : w
  const segments: string[] = []
  let current: string[] = []
  values.forEach((v, i) => {
    if (v === null) {
      if (current.length) segments.push(current.join(' '))
      current = []
      return
    }
    const y = max > 0 ? hgt - 1 - (v / max) * (hgt - 2) : hgt - 1
    current.push(`${(i * step).toFixed(1)},${y.toFixed(1)}`)
  })
  if (current.length) segments.push(current.join(' '))
  const el = svg('svg', { class: `spark ${opts.cls}`, width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': opts.title })
  el.appendChild(svg('title', {}, text(opts.title)))
  for (const s of segments) {
    // a lone point is drawn as a dot
    el.appendChild(s.includes(' ') ? svg('polyline', { points: s }) : svg('circle', { cx: s.split(',')[0]!, cy: s.split(',')[1]!, r: 1.5 }))
  }
  return el
}

export interface Bar {
  label: string
  value: number
  /** drawn as a second, thinner bar under the first (the floor the row is compared with) */
  floor?: number
  floorLabel?: string
  /** what the value line says after the number */
  note?: string
}

/**
 * Horizontal bars with the value written beside each, on a linear scale, or a log one when the
 * values span more than two decades (cold starts go from microseconds to a container's 100 ms).
 */
export function barChart(bars: Bar[], unit: string): SVGElement {
  const labelW = 300
  const barW = 360
  const rowH = 30
  const w = labelW + barW + 110
  const values = bars.flatMap((b) => (b.floor === undefined ? [b.value] : [b.value, b.floor])).filter((v) => v > 0)
  const max = Math.max(...values, 1e-9)
  const min = Math.min(...values, max)
  const log = max / min > 100
  const lo = Math.floor(Math.log10(min))
  const hi = Math.ceil(Math.log10(max))
  const hgt = bars.length * rowH + 6 + (log ? 14 : 0)
  const scale = (v: number) => (log ? (v > 0 ? (Math.log10(v) - lo + 0.15) / (hi - lo + 0.15) : 0) : v / max)
  const fmt = (v: number) => `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toPrecision(3)} ${unit}`
  const el = svg('svg', { class: 'bars', width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: 'img' })
  bars.forEach((b, i) => {
    const y = i * rowH + 4
    const len = (v: number) => Math.max(1, scale(v) * barW)
    el.appendChild(svg('text', { x: labelW - 8, y: y + 12, class: 'bar-label', 'text-anchor': 'end' }, text(b.label.length > 46 ? `${b.label.slice(0, 45)}…` : b.label)))
    el.appendChild(svg('rect', { x: labelW, y, width: len(b.value), height: 14, class: 'bar' }, svg('title', {}, text(`${b.label}: ${fmt(b.value)}`))))
    el.appendChild(svg('text', { x: labelW + len(b.value) + 6, y: y + 12, class: 'bar-value' }, text(fmt(b.value) + (b.note ? ` ${b.note}` : ''))))
    if (b.floor !== undefined) {
      el.appendChild(svg('rect', { x: labelW, y: y + 16, width: len(b.floor), height: 7, class: 'bar floor' }, svg('title', {}, text(`${b.floorLabel ?? 'floor'}: ${fmt(b.floor)}`))))
      el.appendChild(svg('text', { x: labelW + len(b.floor) + 6, y: y + 23, class: 'bar-floor-value' }, text(`floor ${fmt(b.floor)}`)))
    }
  })
  if (log) el.appendChild(svg('text', { x: labelW, y: hgt - 3, class: 'bar-floor-value' }, text(`log scale, ${fmt(10 ** lo)} to ${fmt(10 ** hi)}`)))
  return el
}
