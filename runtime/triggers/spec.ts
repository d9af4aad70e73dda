// The triggers a deployment asks for, read from its annotations as the OpenFaaS connectors read
// them: `topic` is a comma-separated list of NATS subjects, and the topic `cron-function` with a
// `schedule` annotation asks the cron-connector for a schedule instead. Checked at deploy, so that a
// bad schedule or subject is a 400 with a code rather than a trigger that silently never fires.
import { KindlingError } from '../errors.js'
import { CronSchedule } from './cron.js'

export const CRON_TOPIC = 'cron-function'

export interface TriggerSpec {
  cron: CronSchedule | undefined
  /** NATS subjects (wildcards allowed after a literal first token) */
  subjects: string[]
}

/**
 * A subject whose first token is one of these would receive kindling's own traffic (the cluster's
 * call and async subjects carry other functions' requests) or NATS's: refused.
 */
function reservedSubject(first: string): boolean {
  return first === 'kindling' || first.startsWith('$') || first.startsWith('_INBOX') || first === '*' || first === '>'
}

export function checkSubject(subject: string): string {
  const tokens = subject.split('.')
  const ok = subject.length <= 256 && tokens.every((t, i) => /^[A-Za-z0-9_$-]+$/.test(t) || t === '*' || (t === '>' && i === tokens.length - 1))
  if (!ok) throw new KindlingError('KINDLING_ERR_INVALID_TOPIC', `topic ${JSON.stringify(subject)} is not a NATS subject (tokens of letters, digits, - and _, separated by dots; * and > as whole tokens, > last)`)
  if (reservedSubject(tokens[0]!)) throw new KindlingError('KINDLING_ERR_INVALID_TOPIC', `topic ${JSON.stringify(subject)} is reserved: subjects starting with kindling., $, _INBOX or a wildcard carry kindling's and NATS's own messages`)
  return subject
}

/** What the annotations ask for; throws KINDLING_ERR_INVALID_SCHEDULE or KINDLING_ERR_INVALID_TOPIC. */
export function triggersOf(annotations: Record<string, string> | undefined): TriggerSpec {
  const topics = (annotations?.topic ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  const wantsCron = topics.includes(CRON_TOPIC)
  const schedule = annotations?.schedule
  if (wantsCron && (schedule === undefined || schedule.trim() === '')) throw new KindlingError('KINDLING_ERR_INVALID_SCHEDULE', `topic ${CRON_TOPIC} needs a schedule annotation (for example "*/5 * * * *")`)
  const subjects = [...new Set(topics.filter((t) => t !== CRON_TOPIC))].map(checkSubject)
  if (subjects.length > 16) throw new KindlingError('KINDLING_ERR_INVALID_TOPIC', `${subjects.length} topics; at most 16`)
  return { cron: wantsCron ? CronSchedule.parse(schedule!) : undefined, subjects }
}
