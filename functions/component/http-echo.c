// A wasi:http/incoming-handler@0.2.0 component written in plain C, without wit-bindgen: the
// functions below are the canonical ABI of the imports and the export, spelled out by hand
// (wit/http.wit is the interface). No libc: all memory comes from a bump allocator, and every call
// runs in a fresh instance, so nothing is ever freed.
//
// It answers every request with:
//   status   200, or NNN for a path /status/NNN (100..599)
//   headers  content-type (the request's when its body is echoed, else text/plain), x-method,
//            x-path (path with query), x-header-count, and every x-echo-* request header
//   body     the request body when there is one, else "hello from a wasi:http component: GET /path\n"
// and for a path /secret/NAME: the secret NAME, read through wasi:filesystem from the preopened
// directory /var/openfaas/secrets (200), or 404 when the deployment does not mount it.
#include <stdint.h>

typedef uint32_t handle;

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define HTTP "wasi:http/types@0.2.0"
#define STREAMS "wasi:io/streams@0.2.0"
#define FS "wasi:filesystem/types@0.2.0"

// wasi:http/types
IMPORT(HTTP, "[method]incoming-request.method") void req_method(handle, void *ret);
IMPORT(HTTP, "[method]incoming-request.path-with-query") void req_path(handle, void *ret);
IMPORT(HTTP, "[method]incoming-request.headers") handle req_headers(handle);
IMPORT(HTTP, "[method]incoming-request.consume") void req_consume(handle, void *ret);
IMPORT(HTTP, "[resource-drop]incoming-request") void drop_request(handle);
IMPORT(HTTP, "[method]incoming-body.stream") void body_stream(handle, void *ret);
IMPORT(HTTP, "[resource-drop]incoming-body") void drop_incoming_body(handle);
IMPORT(HTTP, "[constructor]fields") handle fields_new(void);
IMPORT(HTTP, "[method]fields.append") void fields_append(handle, const char *, uint32_t, const uint8_t *, uint32_t, void *ret);
IMPORT(HTTP, "[method]fields.entries") void fields_entries(handle, void *ret);
IMPORT(HTTP, "[resource-drop]fields") void drop_fields(handle);
IMPORT(HTTP, "[constructor]outgoing-response") handle response_new(handle headers);
IMPORT(HTTP, "[method]outgoing-response.set-status-code") int32_t response_set_status(handle, int32_t);
IMPORT(HTTP, "[method]outgoing-response.body") void response_body(handle, void *ret);
IMPORT(HTTP, "[method]outgoing-body.write") void body_write(handle, void *ret);
IMPORT(HTTP, "[static]outgoing-body.finish") void body_finish(handle, int32_t has_trailers, handle trailers, void *ret);
// result<outgoing-response, error-code> flattens to 8 values (the error-code variant joins an i64)
IMPORT(HTTP, "[static]response-outparam.set")
void outparam_set(handle, int32_t is_err, int32_t a, int32_t b, int64_t c, int32_t d, int32_t e, int32_t f, int32_t g);

// wasi:io/streams
IMPORT(STREAMS, "[method]input-stream.blocking-read") void stream_read(handle, uint64_t len, void *ret);
IMPORT(STREAMS, "[resource-drop]input-stream") void drop_input(handle);
IMPORT(STREAMS, "[method]output-stream.blocking-write-and-flush") void stream_write(handle, const uint8_t *, uint32_t, void *ret);
IMPORT(STREAMS, "[resource-drop]output-stream") void drop_output(handle);
IMPORT("wasi:io/error@0.2.0", "[resource-drop]error") void drop_error(handle);

// wasi:filesystem
IMPORT("wasi:filesystem/preopens@0.2.0", "get-directories") void get_directories(void *ret);
IMPORT(FS, "[method]descriptor.open-at")
void open_at(handle dir, int32_t path_flags, const char *, uint32_t, int32_t open_flags, int32_t flags, void *ret);
IMPORT(FS, "[method]descriptor.read") void descriptor_read(handle, uint64_t len, uint64_t offset, void *ret);
IMPORT(FS, "[resource-drop]descriptor") void drop_descriptor(handle);

// ---- memory ----

extern unsigned char __heap_base;
static uintptr_t heap_top = (uintptr_t)&__heap_base;
static uintptr_t heap_end;

static void *alloc(uint32_t size, uint32_t align) {
  uintptr_t at = (heap_top + align - 1) & ~(uintptr_t)(align - 1);
  if (!heap_end) heap_end = __builtin_wasm_memory_size(0) * 65536;
  if (at + size > heap_end) {
    uintptr_t pages = (at + size - heap_end + 65535) / 65536;
    if (__builtin_wasm_memory_grow(0, pages) == (uintptr_t)-1) __builtin_trap();
    heap_end += pages * 65536;
  }
  heap_top = at + size;
  return (void *)at;
}

static void copy(uint8_t *to, const uint8_t *from, uint32_t n) {
  while (n--) *to++ = *from++;
}

// The host calls this to place strings and lists it returns inside the guest's memory.
__attribute__((export_name("cabi_realloc")))
void *cabi_realloc(void *old, uint32_t old_size, uint32_t align, uint32_t new_size) {
  if (old && (uintptr_t)old + old_size == heap_top) {
    heap_top = (uintptr_t)old;  // the last block grows (or shrinks) in place
    return alloc(new_size, align);
  }
  void *p = alloc(new_size, align);
  if (old) copy(p, old, old_size < new_size ? old_size : new_size);
  return p;
}

// ---- small helpers ----

typedef struct { const char *ptr; uint32_t len; } str;
typedef struct { str name; str value; } entry;
// return areas: the canonical ABI layout of each result type
typedef struct { uint8_t tag; uint32_t value; } result_handle;      // result<own<T>>
typedef struct { uint8_t tag; str s; } option_str;                  // option<string>, method
typedef struct { uint8_t tag; uint8_t err; } result_header;         // result<_, header-error>
typedef struct { uint8_t tag; union { str ok; struct { uint8_t kind; handle error; } err; } u; } result_list;  // result<list<u8>, stream-error>
typedef struct { uint8_t tag; struct { uint8_t kind; handle error; } err; } result_stream;  // result<_, stream-error>
typedef struct { uint64_t words[5]; } result_error_code;            // result<_, error-code>: 40 bytes, align 8
typedef struct { uint8_t tag; union { struct { str data; uint8_t eof; } ok; uint8_t err; } u; } result_read;  // result<tuple<list<u8>, bool>, fs error-code>
typedef struct { handle dir; str path; } preopen;                   // tuple<descriptor, string>

static uint32_t length(const char *s) {
  uint32_t n = 0;
  while (s[n]) n++;
  return n;
}

static int starts_with(str s, const char *prefix) {
  uint32_t n = length(prefix);
  if (s.len < n) return 0;
  for (uint32_t i = 0; i < n; i++) {
    char c = s.ptr[i];
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
    if (c != prefix[i]) return 0;
  }
  return 1;
}

static int same_name(str a, const char *b) {
  return a.len == length(b) && starts_with(a, b);
}

static str digits(uint32_t v) {
  char *buf = alloc(10, 1);
  int n = 10;
  do buf[--n] = '0' + v % 10; while ((v /= 10) && n);
  return (str){buf + n, 10 - n};
}

static const char *const METHODS[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};

static void add_header(handle fields, const char *name, str value) {
  result_header r;
  fields_append(fields, name, length(name), (const uint8_t *)value.ptr, value.len, &r);
}

// blocking-write-and-flush takes at most 4096 bytes per call
static int write_all(handle out, const uint8_t *p, uint32_t n) {
  while (n) {
    uint32_t chunk = n < 4096 ? n : 4096;
    result_stream r;
    stream_write(out, p, chunk, &r);
    if (r.tag) {
      if (r.err.kind == 0) drop_error(r.err.error);
      return 0;
    }
    p += chunk;
    n -= chunk;
  }
  return 1;
}

// Reads up to 64 KiB; 0 means the stream ended.
static str read_chunk(handle in) {
  result_list r;
  stream_read(in, 65536, &r);
  if (r.tag) {
    if (r.u.err.kind == 0) drop_error(r.u.err.error);
    return (str){0, 0};
  }
  return r.u.ok;
}

static uint32_t status_of(str path) {
  if (!starts_with(path, "/status/") || path.len < 11) return 200;
  uint32_t v = 0;
  for (uint32_t i = 8; i < 11; i++) {
    char c = path.ptr[i];
    if (c < '0' || c > '9') return 200;
    v = v * 10 + (c - '0');
  }
  if (path.len > 11 && path.ptr[11] != '/' && path.ptr[11] != '?') return 200;
  return v >= 100 && v <= 599 ? v : 200;
}

#define SECRETS_DIR "/var/openfaas/secrets"
#define DESCRIPTOR_READ 1

// The secret `name` (its first 64 KiB), read from the preopened secrets directory; found = 0 when
// there is no such directory or file.
static str read_secret(str name, int *found) {
  struct { preopen *ptr; uint32_t len; } dirs;
  get_directories(&dirs);
  str out = {0, 0};
  *found = 0;
  for (uint32_t i = 0; i < dirs.len; i++) {
    if (!*found && same_name(dirs.ptr[i].path, SECRETS_DIR)) {
      result_handle f;
      open_at(dirs.ptr[i].dir, 0, name.ptr, name.len, 0, DESCRIPTOR_READ, &f);
      if (!f.tag) {
        result_read r;
        descriptor_read(f.value, 65536, 0, &r);
        if (!r.tag) {
          out = r.u.ok.data;
          *found = 1;
        }
        drop_descriptor(f.value);
      }
    }
    drop_descriptor(dirs.ptr[i].dir);
  }
  return out;
}

// NAME of a path /secret/NAME[?query], or an empty str
static str secret_name(str path) {
  if (!starts_with(path, "/secret/")) return (str){0, 0};
  uint32_t end = 8;
  while (end < path.len && path.ptr[end] != '?') end++;
  return (str){path.ptr + 8, end - 8};
}

static void fail(handle outparam) {
  // error-code internal-error(none): case 38, no string
  outparam_set(outparam, 1, 38, 0, 0, 0, 0, 0, 0);
}

__attribute__((export_name("wasi:http/incoming-handler@0.2.0#handle")))
void handle_request(handle request, handle outparam) {
  option_str m;
  req_method(request, &m);
  str method = m.tag < 9 ? (str){METHODS[m.tag], length(METHODS[m.tag])} : m.s;
  option_str p;
  req_path(request, &p);
  str path = p.tag ? p.s : (str){"/", 1};

  // the request's headers: echo x-echo-*, remember content-type
  handle in_headers = req_headers(request);
  struct { entry *ptr; uint32_t len; } list;
  fields_entries(in_headers, &list);
  drop_fields(in_headers);

  result_handle body_r;
  req_consume(request, &body_r);
  if (body_r.tag) return fail(outparam);
  handle in_body = body_r.value;
  result_handle stream_r;
  body_stream(in_body, &stream_r);
  if (stream_r.tag) return fail(outparam);
  handle in = stream_r.value;
  str first = read_chunk(in);

  handle headers = fields_new();
  str content_type = {"text/plain; charset=utf-8", 25};
  for (uint32_t i = 0; i < list.len; i++) {
    entry e = list.ptr[i];
    if (first.len && same_name(e.name, "content-type")) content_type = e.value;
    if (starts_with(e.name, "x-echo-")) {
      result_header r;
      fields_append(headers, e.name.ptr, e.name.len, (const uint8_t *)e.value.ptr, e.value.len, &r);
    }
  }
  add_header(headers, "content-type", content_type);
  add_header(headers, "x-method", method);
  add_header(headers, "x-path", path);
  add_header(headers, "x-header-count", digits(list.len));

  str secret = secret_name(path);
  int found = 0;
  str secret_value = secret.len ? read_secret(secret, &found) : (str){0, 0};

  handle response = response_new(headers);
  response_set_status(response, secret.len ? (found ? 200 : 404) : status_of(path));
  result_handle out_body_r;
  response_body(response, &out_body_r);
  if (out_body_r.tag) return fail(outparam);
  handle out_body = out_body_r.value;
  result_handle out_r;
  body_write(out_body, &out_r);
  if (out_r.tag) return fail(outparam);
  handle out = out_r.value;
  // the response (status and headers) goes out before the body is streamed
  outparam_set(outparam, 0, (int32_t)response, 0, 0, 0, 0, 0, 0);

  if (secret.len) {
    static const char missing[] = "no secret ";
    if (found) {
      write_all(out, (const uint8_t *)secret_value.ptr, secret_value.len);
    } else {
      write_all(out, (const uint8_t *)missing, sizeof missing - 1);
      write_all(out, (const uint8_t *)secret.ptr, secret.len);
      write_all(out, (const uint8_t *)"\n", 1);
    }
  } else if (!first.len) {
    static const char hello[] = "hello from a wasi:http component: ";
    write_all(out, (const uint8_t *)hello, sizeof hello - 1);
    write_all(out, (const uint8_t *)method.ptr, method.len);
    write_all(out, (const uint8_t *)" ", 1);
    write_all(out, (const uint8_t *)path.ptr, path.len);
    write_all(out, (const uint8_t *)"\n", 1);
  } else if (write_all(out, (const uint8_t *)first.ptr, first.len)) {
    for (;;) {
      uintptr_t mark = heap_top;
      str chunk = read_chunk(in);
      if (!chunk.len || !write_all(out, (const uint8_t *)chunk.ptr, chunk.len)) break;
      heap_top = mark;  // the chunk is written: its memory holds the next one
    }
  }
  drop_input(in);
  drop_incoming_body(in_body);
  drop_request(request);
  drop_output(out);
  result_error_code done;
  body_finish(out_body, 0, 0, &done);
}
