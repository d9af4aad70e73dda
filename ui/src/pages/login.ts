// The login form: the gateway's basic auth user and password (<data dir>/secrets/basic-auth-*).
import { login } from '../api.js'
import { fill, h } from '../dom.js'
import { describeError } from '../live.js'

export function loginPage(done: () => void): HTMLElement {
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, value: 'admin', id: 'login-user' })
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, id: 'login-password' })
  const status = h('p', { class: 'status', role: 'status' })
  const submit = h('button', { type: 'submit' }, 'Log in')
  const form = h('form', { class: 'login', onsubmit: async (ev: Event) => {
    ev.preventDefault()
    submit.disabled = true
    fill(status, 'Checking…')
    try {
      await login(user.value, password.value)
      done()
    } catch (e) {
      fill(status, h('span', { class: 'error' }, describeError(e)))
      submit.disabled = false
    }
  } },
    h('h1', {}, 'kindling'),
    h('p', { class: 'muted' }, 'Log in with the gateway\'s basic auth credentials (the user and password files under <data dir>/secrets/).'),
    h('label', { for: 'login-user' }, 'User'), user,
    h('label', { for: 'login-password' }, 'Password'), password,
    submit,
    status,
  )
  queueMicrotask(() => password.focus())
  return h('div', { class: 'login-wrap' }, form)
}
