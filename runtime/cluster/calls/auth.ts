// The token that lets one node pass a call to another: an HMAC, under a key derived from the cluster
// key, of the current 30-second window. Only nodes holding the cluster key can make one; a copied
// token stops working within a minute. It admits a call to the worker's limits, never past them.
import crypto from 'node:crypto'

const WINDOW_MS = 30_000

export class CallAuth {
  private readonly key: Buffer
  private cached: { w: number; token: string } | undefined

  constructor(clusterKey: Buffer) {
    // a key of its own: a token never helps against the sealed secrets
    this.key = crypto.createHmac('sha256', clusterKey).update('kindling cluster calls v1').digest()
  }

  private sign(w: number): string {
    return `${w}.${crypto.createHmac('sha256', this.key).update(`call ${w}`).digest('base64url')}`
  }

  token(now = Date.now()): string {
    const w = Math.floor(now / WINDOW_MS)
    if (this.cached?.w !== w) this.cached = { w, token: this.sign(w) }
    return this.cached.token
  }

  /** this window's token or the one before (a call sent at a window's edge) */
  verify(token: unknown, now = Date.now()): boolean {
    if (typeof token !== 'string' || token.length > 100) return false
    const w = Number(token.split('.', 1)[0])
    const cur = Math.floor(now / WINDOW_MS)
    if (!Number.isInteger(w) || (w !== cur && w !== cur - 1)) return false
    const want = Buffer.from(this.sign(w))
    const got = Buffer.from(token)
    return want.length === got.length && crypto.timingSafeEqual(want, got)
  }
}
