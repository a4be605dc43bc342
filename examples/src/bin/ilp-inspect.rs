//! `ilp-inspect`: ILP packets, IL-DCP, CCP and BTP from hex to JSON and back, byte for byte.
//!
//! ```text
//! cargo run -p ilp-examples --bin ilp-inspect -- decode [--as ilp|btp|ildcp|ccp-control|ccp-update] [HEX]
//! cargo run -p ilp-examples --bin ilp-inspect -- encode < json-lines.txt
//! ```
//! `decode HEX` prints one JSON object, or a one-line error and exits 1. Without HEX, and for
//! `encode`, stdin is converted line by line, one output line each (`{"error":"..."}` for a line
//! that fails, also said on stderr; exit code 1 then). Usage errors exit 2.
use std::io::{self, BufRead, Read, Write};
use std::process::ExitCode;

use ilp_btp::Frame;
use ilp_packet::{hex, Message, MessageKind};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: ilp-inspect decode [--as ilp|btp|ildcp|ccp-control|ccp-update] [HEX]
       ilp-inspect encode    (reads JSON objects, one per line, from stdin)";
const KINDS: &str = "ilp, btp, ildcp, ccp-control or ccp-update";
/// The longest stdin line read (a packet's hex or JSON is far shorter): longer ones are an error.
const MAX_LINE: u64 = 1 << 20;

/// An ILP message kind, or `None` for a BTP frame.
fn decode(kind: Option<MessageKind>, text: &str) -> Res<String> {
    let bytes = hex::decode(text.trim())?.into();
    Ok(match kind {
        Some(kind) => serde_json::to_string(&Message::decode_as(kind, bytes)?)?,
        None => serde_json::to_string(&Frame::decode(bytes)?)?,
    })
}

fn encode(json: &str) -> Res<String> {
    let value: serde_json::Value = serde_json::from_str(json)?;
    Ok(hex::encode(&match value.get("requestId") {
        Some(_) => serde_json::from_value::<Frame>(value)?.to_bytes(),
        None => serde_json::from_value::<Message>(value)?.to_bytes()?,
    }))
}

/// One output line per input line (`{"error":"..."}` for a failure, also on stderr); exit 1 then.
fn batch(convert: impl Fn(&str) -> Res<String>) -> Res<ExitCode> {
    let (mut input, mut out) = (io::stdin().lock(), io::BufWriter::new(io::stdout().lock()));
    let (mut line, mut failed) = (Vec::new(), false);
    for number in 1.. {
        line.clear();
        if (&mut input).take(MAX_LINE).read_until(b'\n', &mut line)? == 0 {
            break;
        } else if line.len() as u64 == MAX_LINE && line.last() != Some(&b'\n') {
            return Err(format!("line {number} is longer than {MAX_LINE} bytes").into());
        }
        match std::str::from_utf8(&line)
            .map_err(Into::into)
            .and_then(&convert)
        {
            Ok(text) => writeln!(out, "{text}")?,
            Err(e) => {
                failed = true;
                writeln!(out, "{}", serde_json::json!({ "error": e.to_string() }))?;
                eprintln!("error: line {number}: {e}");
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::from(u8::from(failed)))
}

fn usage_error(message: &str) -> Res<ExitCode> {
    eprintln!("error: {message} (see ilp-inspect --help)");
    Ok(ExitCode::from(2))
}

fn run() -> Res<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, rest) = match args.get(1..).unwrap_or_default() {
        [flag] if flag == "--as" => return usage_error(&format!("--as needs a kind: {KINDS}")),
        [flag, k, rest @ ..] if flag == "--as" && k.eq_ignore_ascii_case("btp") => (None, rest),
        [flag, k, rest @ ..] if flag == "--as" => match k.parse() {
            Ok(kind) => (Some(kind), rest),
            Err(_) => return usage_error(&format!("unknown kind {k:?} (expected {KINDS})")),
        },
        rest => (Some(MessageKind::Ilp), rest),
    };
    match (args.first().map(String::as_str), rest) {
        (Some("decode"), [hex]) => println!("{}", decode(kind, hex)?),
        (Some("decode"), []) => return batch(|line| decode(kind, line)),
        (Some("encode"), []) => return batch(encode),
        (Some("--help" | "-h"), _) => println!("{USAGE}"),
        _ => return usage_error("expected `decode [--as KIND] [HEX]` or `encode`"),
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    run().unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}
