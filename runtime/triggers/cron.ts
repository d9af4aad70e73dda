// Cron expressions as the OpenFaaS cron-connector reads them (robfig/cron's standard parser): five
// fields (minute hour day-of-month month day-of-week), or six with seconds first, with lists (1,5),
// ranges (1-5), steps (*/5, 1-30/2, 10/5), month and day names (JAN, mon), `?` for `*` in the day
// fields, 7 for Sunday, and the macros @yearly @monthly @weekly @daily @hourly. Evaluated in UTC, so
// there is no daylight-saving jump to fire twice or skip. When both day fields are restricted, a
// day matches either one (as in Vixie cron).
import { KindlingError } from '../errors.js'

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

interface FieldSpec {
  name: string
  min: number
  max: number
  names?: string[]
  /** the first name's number (1 for months, 0 for days) */
  namesFrom?: number
}

const FIELDS: FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, namesFrom: 1 },
  // 7 is Sunday too; folded onto 0 below
  { name: 'day of week', min: 0, max: 7, names: DAYS, namesFrom: 0 },
]

/** Searching further than this for the next tick means the schedule never fires (30 February). */
const HORIZON_YEARS = 30

function bad(text: string, why: string): never {
  throw new KindlingError('KINDLING_ERR_INVALID_SCHEDULE', `schedule ${JSON.stringify(text)}: ${why}`)
}

function value(tok: string, f: FieldSpec, text: string): number {
  if (/^\d{1,2}$/.test(tok)) {
    const n = Number(tok)
    if (n < f.min || n > f.max) bad(text, `${f.name} ${n} is outside ${f.min}-${f.max}`)
    return n
  }
  const i = f.names?.indexOf(tok.toUpperCase()) ?? -1
  if (i < 0) bad(text, `${JSON.stringify(tok)} is not a ${f.name}`)
  return i + f.namesFrom!
}

/** One field as the set of values it matches, and whether it is unrestricted (starts with * or ?). */
function parseField(field: string, f: FieldSpec, text: string): { set: boolean[]; star: boolean } {
  const set = new Array<boolean>(f.max + 1).fill(false)
  for (const item of field.split(',')) {
    const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(item)
    if (!m) bad(text, `${JSON.stringify(item)} is not a ${f.name} item`)
    const [, base, stepText] = m
    const step = stepText === undefined ? 1 : Number(stepText)
    if (step < 1) bad(text, `the step in ${JSON.stringify(item)} must be at least 1`)
    let lo: number
    let hi: number
    if (base === '*' || base === '?') {
      lo = f.min
      hi = f.max === 7 ? 6 : f.max
    } else if (base!.includes('-')) {
      const [a, b, ...rest] = base!.split('-')
      if (rest.length || a === '' || b === '') bad(text, `${JSON.stringify(item)} is not a range`)
      lo = value(a!, f, text)
      hi = value(b!, f, text)
      if (lo > hi) bad(text, `the range ${JSON.stringify(base)} runs backwards`)
    } else {
      lo = value(base!, f, text)
      // "10/5": from 10 to the end in steps of 5
      hi = stepText === undefined ? lo : f.max
    }
    for (let v = lo; v <= hi; v += step) set[v] = true
  }
  if (f.max === 7 && set[7]) set[0] = true
  return { set, star: field.startsWith('*') || field.startsWith('?') }
}

export class CronSchedule {
  private constructor(
    readonly text: string,
    /** six fields: the first is seconds */
    readonly hasSeconds: boolean,
    private readonly sec: boolean[],
    private readonly min: boolean[],
    private readonly hour: boolean[],
    private readonly dom: boolean[],
    private readonly month: boolean[],
    private readonly dow: boolean[],
    private readonly domStar: boolean,
    private readonly dowStar: boolean,
  ) {}

  /** Parses an expression, or throws KINDLING_ERR_INVALID_SCHEDULE saying what is wrong. */
  static parse(text: string): CronSchedule {
    if (typeof text !== 'string' || text.length > 200) bad(String(text).slice(0, 200), 'must be a cron expression of at most 200 characters')
    const trimmed = text.trim()
    const expanded = trimmed.startsWith('@') ? MACROS[trimmed.toLowerCase()] : trimmed
    if (expanded === undefined) bad(text, `unknown macro (one of ${Object.keys(MACROS).join(' ')})`)
    const parts = expanded.split(/\s+/).filter(Boolean)
    if (parts.length !== 5 && parts.length !== 6) bad(text, `has ${parts.length} fields; a schedule has 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`)
    const hasSeconds = parts.length === 6
    const fields = hasSeconds ? parts : ['0', ...parts]
    const p = fields.map((f, i) => parseField(f, FIELDS[i]!, text))
    const s = new CronSchedule(text, hasSeconds, p[0]!.set, p[1]!.set, p[2]!.set, p[3]!.set, p[4]!.set, p[5]!.set, p[3]!.star, p[5]!.star)
    if (s.next(Date.now()) === undefined) bad(text, `never fires (no matching day in the next ${HORIZON_YEARS} years)`)
    return s
  }

  private dayMatches(d: Date): boolean {
    const dom = this.dom[d.getUTCDate()]!
    const dow = this.dow[d.getUTCDay()]!
    return this.domStar || this.dowStar ? dom && dow : dom || dow
  }

  /** Whether the instant (ms since the epoch, UTC) is a tick of this schedule. */
  matches(ms: number): boolean {
    if (ms % 1000 !== 0) return false
    const d = new Date(ms)
    return this.sec[d.getUTCSeconds()]! && this.min[d.getUTCMinutes()]! && this.hour[d.getUTCHours()]! && this.month[d.getUTCMonth() + 1]! && this.dayMatches(d)
  }

  /** The first tick strictly after `afterMs`, or undefined when there is none within the horizon. */
  next(afterMs: number): number | undefined {
    const unit = this.hasSeconds ? 1000 : 60_000
    let t = Math.floor(afterMs / unit) * unit + unit
    const endYear = new Date(afterMs).getUTCFullYear() + HORIZON_YEARS
    for (;;) {
      const d = new Date(t)
      const y = d.getUTCFullYear()
      if (y > endYear) return undefined
      const mo = d.getUTCMonth()
      if (!this.month[mo + 1]) {
        t = Date.UTC(y, mo + 1, 1)
        continue
      }
      const day = d.getUTCDate()
      if (!this.dayMatches(d)) {
        t = Date.UTC(y, mo, day + 1)
        continue
      }
      const h = d.getUTCHours()
      if (!this.hour[h]) {
        t = Date.UTC(y, mo, day, h + 1)
        continue
      }
      const mi = d.getUTCMinutes()
      if (!this.min[mi]) {
        t = Date.UTC(y, mo, day, h, mi + 1)
        continue
      }
      if (!this.sec[d.getUTCSeconds()]) {
        t += 1000
        continue
      }
      return t
    }
  }
}
