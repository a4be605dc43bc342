//! `ilp-inspect`: turn ILP packets, IL-DCP and CCP messages from hex into JSON, and back.
//!
//! ```text
//! cargo run -p ilp-examples --bin ilp-inspect -- decode 0d21000000000000000000000000000000000000000000000000000000000000000000
//! cargo run -p ilp-examples --bin ilp-inspect -- decode --as ildcp < hex-lines.txt
//! echo '{"type":"reject","code":"F02","triggeredBy":"g.x","message":"","data":""}' \
//!   | cargo run -p ilp-examples --bin ilp-inspect -- encode
//! ```
//! With a HEX argument, `decode` prints one JSON object, or a one-line error and exit code 1.
//! Without one it reads one hex value per line from stdin and prints one JSON line per input
//! line (`{"error":"..."}` for a line that does not decode). `encode` reads one JSON object per
//! line and prints one hex line each (or an error line). Besides `prepare`, `fulfill` and
//! `reject`, the JSON `type` can be `ildcp-request`, `ildcp-response`, `ccp-control` or
//! `ccp-update`; a BTP frame (`decode --as btp`) is a `response`, `error`, `message` or
//! `transfer` with a `requestId`.
use std::error::Error;
use std::io::{self, BufRead, Write};

use ilp_btp::Frame;
use ilp_packet::{Message, MessageKind};

type Res<T> = Result<T, Box<dyn Error>>;

const USAGE: &str = "usage: ilp-inspect decode [--as ilp|btp|ildcp|ccp-control|ccp-update] [HEX]
       ilp-inspect encode    (reads JSON objects, one per line, from stdin)";

/// An ILP message kind, or `None` for a BTP frame.
fn decode(kind: Option<MessageKind>, hex: &str) -> Res<String> {
    let bytes = hex::decode(hex.trim())?.into();
    Ok(match kind {
        Some(kind) => serde_json::to_string(&Message::decode_as(kind, bytes)?)?,
        None => serde_json::to_string(&Frame::decode(bytes)?)?,
    })
}

fn encode(json: &str) -> Res<String> {
    let value: serde_json::Value = serde_json::from_str(json)?;
    if value.get("requestId").is_some() {
        return Ok(hex::encode(
            serde_json::from_value::<Frame>(value)?.as_bytes(),
        ));
    }
    let message: Message = serde_json::from_value(value)?;
    Ok(hex::encode(message.to_bytes()?))
}

/// One output line per input line: the result, or `{"error":"..."}`.
fn batch(convert: impl Fn(&str) -> Res<String>) -> Res<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    for line in io::stdin().lock().lines() {
        match convert(&line?) {
            Ok(text) => writeln!(out, "{text}")?,
            Err(e) => writeln!(out, "{}", serde_json::json!({ "error": e.to_string() }))?,
        }
    }
    Ok(out.flush()?)
}

fn fail(message: &str, code: i32) -> ! {
    eprintln!("{message}");
    std::process::exit(code)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, rest) = match args.get(1..).unwrap_or_default() {
        [flag, kind, rest @ ..] if flag == "--as" && kind == "btp" => (None, rest),
        [flag, kind, rest @ ..] if flag == "--as" => (
            Some(
                kind.parse()
                    .unwrap_or_else(|e| fail(&format!("error: {e}"), 2)),
            ),
            rest,
        ),
        rest => (Some(MessageKind::Ilp), rest),
    };
    match (args.first().map(String::as_str), rest) {
        (Some("decode"), [hex]) => match decode(kind, hex) {
            Ok(json) => println!("{json}"),
            Err(e) => fail(&format!("error: {e}"), 1),
        },
        (Some("decode"), []) => batch(|line| decode(kind, line))?,
        (Some("encode"), []) => batch(encode)?,
        (Some("--help" | "-h"), _) => println!("{USAGE}"),
        _ => fail(USAGE, 2),
    }
    Ok(())
}
