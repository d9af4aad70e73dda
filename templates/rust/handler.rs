// {{NAME}}: a kindling function in Rust (a WASI command, one file, std only: no crates). The request
// body arrives on stdin; what the program writes to stdout is the response body.
use std::io::{self, Read, Write};

fn main() {
    let mut body = Vec::new();
    io::stdin().read_to_end(&mut body).expect("read the request body");
    let mut out = io::stdout().lock();
    out.write_all(b"Hello from {{NAME}} (Rust)! You sent: ").unwrap();
    out.write_all(&body).unwrap();
    out.write_all(b"\n").unwrap();
}
