// The dashboard: a login form, then pages by the URL's hash (#/, #/fn/NAME, #/deploy, #/bench), each
// of which returns how to stop its polling and log streams when another page opens.
import './style.css'
import { currentSession, getJson, logout } from './api.js'
import { fill, h } from './dom.js'
import { onUnauthorized, type Page, type Stop } from './live.js'
import { benchPage } from './pages/bench.js'
import { deployPage } from './pages/deploy.js'
import { functionPage } from './pages/function.js'
import { functionsPage } from './pages/functions.js'
import { loginPage } from './pages/login.js'

const app = document.getElementById('app')!
let stop: Stop | void

function relogin(): void {
  logout()
  route()
}

async function namespaceSelect(): Promise<HTMLElement> {
  const s = currentSession()!
  const select = h('select', { 'aria-label': 'namespace', onchange: () => {
    s.namespace = select.value
    route()
  } })
  try {
    const names = await getJson<string[]>('/system/namespaces')
    for (const n of names) select.appendChild(h('option', { value: n }, n))
    if (!s.namespace && names[0]) s.namespace = names[0]
    select.value = s.namespace
  } catch {
    // the list is a convenience: the gateway's default applies
  }
  return select
}

const PAGES: [RegExp, Page][] = [
  [/^#\/fn\/([^/]+)$/, functionPage],
  [/^#\/deploy$/, deployPage],
  [/^#\/bench$/, benchPage],
  [/^(#\/?)?$/, functionsPage],
]

function route(): void {
  if (typeof stop === 'function') stop()
  stop = undefined
  const session = currentSession()
  if (!session) {
    fill(app, loginPage(() => route()))
    return
  }
  const hash = location.hash
  const found = PAGES.find(([re]) => re.test(hash))
  const main = h('main')
  const nav = h('nav', {},
    h('a', { href: '#/', class: 'brand' }, 'kindling'),
    h('a', { href: '#/' }, 'Functions'),
    h('a', { href: '#/deploy' }, 'Deploy'),
    h('a', { href: '#/bench' }, 'Benchmarks'),
    h('span', { class: 'spacer' }),
    h('span', { class: 'who' }, session.user),
    h('button', { type: 'button', class: 'link', onclick: relogin }, 'Log out'),
  )
  fill(app, h('header', {}, nav), main)
  void namespaceSelect().then((sel) => nav.insertBefore(sel, nav.querySelector('.who')))
  if (!found) {
    fill(main, h('p', {}, 'No such page. ', h('a', { href: '#/' }, 'Functions')))
    return
  }
  const arg = decodeURIComponent(found[0].exec(hash)?.[1] ?? '')
  stop = found[1](main, arg)
}

onUnauthorized(relogin)
window.addEventListener('hashchange', route)
route()
