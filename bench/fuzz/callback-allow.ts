// The setting that lets asynchronous-call callbacks reach 127.0.0.1, when the gateway has a callback
// policy that denies loopback by default (issue 18 item 4): found in CONFIG_TABLE by its env name
// (CALLBACK and ALLOW, HOSTS or CIDR), so the fuzz and the fault run keep working before and after
// that policy lands. Undefined when there is no such setting.
import { CONFIG_TABLE } from '../../runtime/index.js'

export interface CallbackAllow {
  key: string
  env: string
  /** the override for loadConfig (a list or a string, as the setting's kind says) */
  value: unknown
  /** the same as an environment variable's text */
  envValue: string
}

export function loopbackCallbackSetting(): CallbackAllow | undefined {
  for (const [key, e] of Object.entries(CONFIG_TABLE) as [string, { env: string; kind: string }][]) {
    if (!/CALLBACK/.test(e.env) || !/(ALLOW|HOSTS|CIDR)/.test(e.env)) continue
    if (e.kind === 'bool') return { key, env: e.env, value: true, envValue: 'true' }
    return { key, env: e.env, value: e.kind === 'list' ? ['127.0.0.1'] : '127.0.0.1', envValue: '127.0.0.1' }
  }
  return undefined
}
