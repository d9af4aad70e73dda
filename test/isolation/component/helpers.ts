// Builds small test components from WebAssembly text with the wasm-tools that jco-transpile ships:
// a core module in WAT, the WIT of the example (functions/component/wit/http.wit) or another world,
// then `component new`.
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { transpilerDir } from '../../../isolation/component/toolchain/package.js'
import { REPO_ROOT } from '../../../runtime/version.js'

interface Tools {
  parse(wat: string): Uint8Array
  componentEmbed(opts: { binary: Uint8Array; witSource: string; world: string; stringEncoding: 'utf8' }): Uint8Array
  componentNew(binary: Uint8Array, adapters: undefined): Uint8Array
}

let tools: Tools | undefined

async function wasmTools(): Promise<Tools> {
  if (!tools) {
    const m = (await import(pathToFileURL(path.join(transpilerDir()!, 'vendor', 'wasm-tools.js')).href)) as { $init: Promise<void>; tools: Tools }
    await m.$init
    tools = m.tools
  }
  return tools
}

export const EXAMPLE_COMPONENT = path.join(REPO_ROOT, 'functions', 'component', 'http-echo.wasm')
export const HTTP_WIT = fs.readFileSync(path.join(REPO_ROOT, 'functions', 'component', 'wit', 'http.wit'), 'utf8')

/** A component from a core module in WAT and a world of `wit` (default: the wasi:http handler). */
export async function componentFromWat(coreWat: string, wit = HTTP_WIT, world = 'kindling:example/http-echo'): Promise<Uint8Array> {
  const t = await wasmTools()
  return t.componentNew(t.componentEmbed({ binary: t.parse(coreWat), witSource: wit, world, stringEncoding: 'utf8' }), undefined)
}

const HANDLE = '(func (export "wasi:http/incoming-handler@0.2.0#handle") (param $req i32) (param $out i32)'
const TYPES = '"wasi:http/types@0.2.0"'

/** Handles every request by looping forever. */
export const loopingHandler = `(module ${HANDLE} (loop $l (br $l))))`

/**
 * Answers with status 200 + n, where n counts the calls this instance has seen: 201 on every call
 * when each call gets a fresh instance.
 */
export const countingHandler = `(module
  (import ${TYPES} "[constructor]fields" (func $fields (result i32)))
  (import ${TYPES} "[constructor]outgoing-response" (func $response (param i32) (result i32)))
  (import ${TYPES} "[method]outgoing-response.set-status-code" (func $status (param i32 i32) (result i32)))
  (import ${TYPES} "[resource-drop]incoming-request" (func $drop (param i32)))
  (import ${TYPES} "[static]response-outparam.set" (func $set (param i32 i32 i32 i32 i64 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $n (mut i32) (i32.const 0))
  ${HANDLE} (local $r i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (local.set $r (call $response (call $fields)))
    (drop (call $status (local.get $r) (i32.add (i32.const 200) (global.get $n))))
    (call $drop (local.get $req))
    (call $set (local.get $out) (i32.const 0) (local.get $r) (i32.const 0) (i64.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))`

/** Grows its memory a page at a time until memory.grow fails, then traps. */
export const growingHandler = `(module (memory 1) ${HANDLE}
  (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
  unreachable))`

/** A component that exports a plain function instead of an HTTP handler. */
export function notHttpComponent(): Promise<Uint8Array> {
  return componentFromWat('(module (func (export "run")))', 'package test:other;\nworld other {\n  export run: func();\n}\n', 'test:other/other')
}
