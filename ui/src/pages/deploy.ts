// Deploy: drop or choose a .wasm (uploaded by POST /system/artifacts, then deployed by its digest)
// or name an image, with a tier and labels. An existing name is updated (PUT) instead.
import { currentSession, type FunctionStatus, getJson, sendJson, upload } from '../api.js'
import { fill, h } from '../dom.js'
import { describeError } from '../live.js'

interface Info {
  tiers: { name: string; available: boolean; reason?: string }[]
}

/** "key=value" lines into labels */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (!line) continue
    const eq = line.indexOf('=')
    if (eq <= 0) throw new Error(`label line ${i + 1} is not key=value`)
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim()
  }
  return out
}

export function deployPage(root: HTMLElement): void {
  const ns = currentSession()?.namespace ?? ''
  let file: File | undefined
  const name = h('input', { id: 'deploy-name', required: true, pattern: '[a-z0-9]([a-z0-9\\-]*[a-z0-9])?', maxlength: 63, placeholder: 'my-function' })
  const fileInput = h('input', { id: 'deploy-file', type: 'file', accept: '.wasm,application/wasm' })
  const fileLabel = h('span', { class: 'muted' }, 'Drop a .wasm here, or choose one.')
  const image = h('input', { id: 'deploy-image', placeholder: 'or an image: docker.io/library/busybox:latest, wasm:sha256:…' })
  const tier = h('select', { id: 'deploy-tier' }, h('option', { value: '' }, 'default for the artifact'))
  const labels = h('textarea', { id: 'deploy-labels', rows: 4, placeholder: 'com.openfaas.scale.min=1\ncom.kindling.app=shop' })
  const status = h('div', { class: 'status', role: 'status', id: 'deploy-status' })
  const submit = h('button', { type: 'submit', id: 'deploy-submit' }, 'Deploy')

  const choose = (f: File | undefined) => {
    file = f
    fill(fileLabel, f ? `${f.name} (${f.size} bytes)` : 'Drop a .wasm here, or choose one.')
    if (f && !name.value) name.value = f.name.replace(/\.wasm$/i, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '')
  }
  fileInput.addEventListener('change', () => choose(fileInput.files?.[0]))
  const drop = h('div', { class: 'drop', id: 'deploy-drop' }, fileInput, fileLabel)
  drop.addEventListener('dragover', (e) => {
    e.preventDefault()
    drop.classList.add('over')
  })
  drop.addEventListener('dragleave', () => drop.classList.remove('over'))
  drop.addEventListener('drop', (e) => {
    e.preventDefault()
    drop.classList.remove('over')
    choose(e.dataTransfer?.files[0])
  })

  void getJson<Info>('/system/info').then((info) => {
    for (const t of info.tiers) tier.appendChild(h('option', { value: t.name, disabled: !t.available, title: t.reason }, t.available ? t.name : `${t.name} (unavailable)`))
  }).catch((e) => fill(status, h('span', { class: 'error' }, describeError(e))))

  const form = h('form', { class: 'deploy', onsubmit: async (ev: Event) => {
    ev.preventDefault()
    submit.disabled = true
    try {
      const l = parseLabels(labels.value)
      if (tier.value) l['com.kindling.isolation'] = tier.value
      let ref = image.value.trim()
      if (file) {
        fill(status, 'uploading…')
        const a = await upload(await file.arrayBuffer())
        ref = a.image
        fill(status, `uploaded ${a.format}, ${a.size} bytes; deploying…`)
      }
      if (!ref) throw new Error('choose a .wasm file or name an image')
      const existing = await getJson<FunctionStatus[]>(`/system/functions${ns ? `?namespace=${encodeURIComponent(ns)}` : ''}`)
      const method = existing.some((f) => f.name === name.value) ? 'PUT' : 'POST'
      await sendJson(method, '/system/functions', { service: name.value, image: ref, namespace: ns || undefined, labels: l })
      location.hash = `#/fn/${encodeURIComponent(name.value)}`
    } catch (e) {
      fill(status, h('span', { class: 'error' }, describeError(e)))
    } finally {
      submit.disabled = false
    }
  } },
    h('label', { for: 'deploy-name' }, 'Name'), name,
    h('label', { for: 'deploy-file' }, 'Module'), drop,
    h('label', { for: 'deploy-image' }, 'Image'), image,
    h('label', { for: 'deploy-tier' }, 'Tier'), tier,
    h('label', { for: 'deploy-labels' }, 'Labels (key=value per line)'), labels,
    h('div', { class: 'row' }, submit, status),
  )
  fill(root, h('h1', {}, 'Deploy a function'), form)
}
