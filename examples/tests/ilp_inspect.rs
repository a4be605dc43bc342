//! `ilp-inspect` as a user runs it: arguments, stdin, stdout, exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: impl AsRef<[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ilp-inspect"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ilp-inspect starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_ref())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// The ilp-packet test data Prepare (amount 107, example.alice).
const PREPARE: &str = "0c68000000000000006b323031373132323330313231343035343974e1136dc71c9e5f283bec83461cbf1261c4014f72d48f8dd65453a0b84e7de10d6578616d706c652e616c696365205db343fdc41898f6df4202329139dc242dd0f558a811b46b28918fdab37c6cb0";
const PREPARE_JSON: &str = r#"{"type":"prepare","amount":"107","expiresAt":"2017-12-23T01:21:40.549Z","executionCondition":"74e1136dc71c9e5f283bec83461cbf1261c4014f72d48f8dd65453a0b84e7de1","destination":"example.alice","data":"5db343fdc41898f6df4202329139dc242dd0f558a811b46b28918fdab37c6cb0"}"#;
const ILDCP_RESPONSE: &str = "0d350000000000000000000000000000000000000000000000000000000000000000140e6578616d706c652e636c69656e740903585250";
const CCP_CONTROL: &str = "0c6c0000000000000000323031353036313630303031303030303066687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f292512706565722e726f7574652e636f6e74726f6c1f0170d1a134a0df4f47964f6e19e2ab379000000020010203666f6f03626172";

#[test]
fn decode_prints_the_design_json() {
    let out = run(&["decode", PREPARE], "");
    assert!(out.status.success());
    assert_eq!(stdout(&out), format!("{PREPARE_JSON}\n"));
}

#[test]
fn decode_of_invalid_input_exits_1_with_one_line() {
    // A Reject cut off after its code.
    let out = run(&["decode", "0e1f463032"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err, "error: input ended inside content\n");
}

/// Issue 17: a line that fails keeps its JSON line on stdout (the line count stays), is said
/// on stderr with its line number, and the exit code is 1.
#[test]
fn batch_decode_answers_every_line_and_fails_when_one_did() {
    let input = format!("{PREPARE}\nzz\n0f00\n{PREPARE}\n");
    let out = run(&["decode"], &input);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], PREPARE_JSON);
    assert_eq!(
        lines[1],
        r#"{"error":"hex has 'z' at character 0, which is not a hex digit"}"#
    );
    assert_eq!(
        lines[2],
        r#"{"error":"unknown packet type 15 (expected 12 Prepare, 13 Fulfill or 14 Reject)"}"#
    );
    assert_eq!(lines[3], PREPARE_JSON);
    assert_eq!(
        stderr(&out),
        "error: line 2: hex has 'z' at character 0, which is not a hex digit\n\
         error: line 3: unknown packet type 15 (expected 12 Prepare, 13 Fulfill or 14 Reject)\n"
    );
    // With every line good: exit 0 and nothing on stderr.
    let out = run(&["decode"], format!("{PREPARE}\n{PREPARE}\n"));
    assert!(out.status.success());
    assert_eq!(stdout(&out), format!("{PREPARE_JSON}\n{PREPARE_JSON}\n"));
    assert!(out.stderr.is_empty());
}

/// Issue 9: `decode | encode` gives real traffic back byte for byte, the Reject with an empty
/// `triggeredBy` (what the JS stack and interledger-rs send when a plugin or a sender rejects)
/// included.
#[test]
fn decode_then_encode_gives_every_packet_back() {
    let packets = [
        PREPARE,
        // F00, empty triggeredBy, empty message and data.
        "0e06463030000000",
        // T04 "busy" with data 01ff, empty triggeredBy.
        "0e0c5430340004627573790201ff",
        "0e0946303203672e780000",
        "0d21000000000000000000000000000000000000000000000000000000000000000000",
    ];
    let input: String = packets.iter().map(|hex| format!("{hex}\n")).collect();
    let json = run(&["decode"], &input);
    assert!(json.status.success(), "{}", stderr(&json));
    assert!(stdout(&json)
        .lines()
        .nth(1)
        .is_some_and(|l| l.contains(r#""triggeredBy":"""#)));
    let out = run(&["encode"], stdout(&json));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), input);
    // One at a time, as a user pastes it.
    let json = stdout(&run(&["decode", "0e06463030000000"], ""));
    assert_eq!(
        json,
        "{\"type\":\"reject\",\"code\":\"F00\",\"triggeredBy\":\"\",\"message\":\"\",\"data\":\"\"}\n"
    );
    assert_eq!(stdout(&run(&["encode"], &json)), "0e06463030000000\n");
}

#[test]
fn encode_inverts_decode_for_every_kind() {
    for (kind, hex) in [
        ("ilp", PREPARE),
        ("ildcp", ILDCP_RESPONSE),
        ("ccp-control", CCP_CONTROL),
    ] {
        let json = stdout(&run(&["decode", "--as", kind, hex], ""));
        let out = run(&["encode"], &json);
        assert!(out.status.success());
        assert_eq!(stdout(&out), format!("{hex}\n"), "{kind}: {json}");
    }
}

#[test]
fn decode_as_peer_protocols_shows_their_fields() {
    let json = stdout(&run(&["decode", "--as", "ildcp", ILDCP_RESPONSE], ""));
    assert_eq!(
        json,
        "{\"type\":\"ildcp-response\",\"clientAddress\":\"example.client\",\"assetScale\":9,\"assetCode\":\"XRP\"}\n"
    );
    let json = stdout(&run(&["decode", "--as", "ccp-control", CCP_CONTROL], ""));
    assert!(json.contains(
        r#""mode":"sync","lastKnownRoutingTableId":"70d1a134-a0df-4f47-964f-6e19e2ab3790""#
    ));
    // A plain Prepare is not a CCP message.
    let out = run(&["decode", "--as", "ccp-update", PREPARE], "");
    assert_eq!(out.status.code(), Some(1));
}

/// Issue 17: `encode` keeps one line per input line, says each failure on stderr (naming the
/// JSON field) and exits 1.
#[test]
fn encode_reports_bad_lines_goes_on_and_fails() {
    let input = "{\"type\":\"reject\",\"code\":\"F02\",\"triggeredBy\":\"g.x\",\"message\":\"\",\"data\":\"\"}\n\
        {\"type\":\"nope\"}\n\
        {\"type\":\"reject\",\"code\":\"F02\",\"triggeredBy\":\"g.x\",\"message\":\"\",\"data\":\"0\"}\n\
        {\"type\":\"reject\",\"code\":\"F2\",\"triggeredBy\":\"g.x\",\"message\":\"\",\"data\":\"\"}\n";
    let out = run(&["encode"], input);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], "0e0946303203672e780000");
    assert!(
        lines[1].starts_with(r#"{"error":"unknown variant `nope`"#),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        r#"{"error":"data has an odd number of hex digits (1)"}"#
    );
    assert_eq!(
        lines[3],
        r#"{"error":"code: error code is 2 bytes long; it must be exactly 3 ASCII characters, such as F02"}"#
    );
    let errors = stderr(&out);
    let errors: Vec<&str> = errors.lines().collect();
    assert_eq!(errors.len(), 3);
    assert!(errors[0].starts_with("error: line 2: unknown variant `nope`"));
    assert_eq!(
        errors[1],
        "error: line 3: data has an odd number of hex digits (1)"
    );
    assert!(errors[2].starts_with("error: line 4: code: error code is 2 bytes long"));
}

/// Issue 17: the hex error names what is wrong, a space included.
#[test]
fn decode_of_spaced_hex_names_the_space() {
    let out = run(&["decode", "0d 21"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        stderr(&out),
        "error: hex has ' ' at character 2, which is not a hex digit\n"
    );
    let out = run(&["decode", "0d2"], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: hex has an odd number of hex digits (3)\n"
    );
}

/// Issue 17: `--as` alone is a usage error, the unknown-kind message lists `btp`, and kinds
/// ignore case.
#[test]
fn decode_as_kinds_are_checked_and_ignore_case() {
    let out = run(&["decode", "--as"], "");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: --as needs a kind: ilp, btp, ildcp, ccp-control or ccp-update (see ilp-inspect --help)\n"
    );
    let out = run(&["decode", "--as", "nope", PREPARE], "");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: unknown kind \"nope\" (expected ilp, btp, ildcp, ccp-control or ccp-update) (see ilp-inspect --help)\n"
    );
    for kind in ["ILP", "Ilp"] {
        let out = run(&["decode", "--as", kind, PREPARE], "");
        assert!(out.status.success(), "{kind}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("{PREPARE_JSON}\n"));
    }
    let out = run(&["decode", "--as", "ILDCP", ILDCP_RESPONSE], "");
    assert!(stdout(&out).starts_with(r#"{"type":"ildcp-response""#));
    let out = run(&["decode", "--as", "BTP", BTP_MESSAGE], "");
    assert!(stdout(&out).starts_with(r#"{"type":"message""#));
}

/// Issue 9: a failure is one readable `error: ...` line and a non-zero exit, never a `Debug`
/// struct, also for input the tool cannot read at all.
#[test]
fn failures_are_one_readable_line() {
    // Not UTF-8: that line fails, the others go on.
    let out = run(&["decode"], b"\xff\n0e06463030000000\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out).lines().count(), 2);
    assert_eq!(
        stderr(&out),
        "error: line 1: invalid utf-8 sequence of 1 bytes from index 0\n"
    );
    // A line over 1 MiB stops the run with one line.
    let out = run(&["decode"], "0".repeat((1 << 20) + 1));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "error: line 1 is longer than 1048576 bytes\n");
    for args in [&["frobnicate"][..], &[], &["decode", PREPARE, PREPARE]] {
        let out = run(args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&out),
            "error: expected `decode [--as KIND] [HEX]` or `encode` (see ilp-inspect --help)\n"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&[], "").status.code(), Some(2));
    assert_eq!(
        run(&["decode", "--as", "nope", PREPARE], "").status.code(),
        Some(2)
    );
    assert_eq!(run(&["frobnicate"], "").status.code(), Some(2));
    let help = run(&["--help"], "");
    assert!(help.status.success() && stdout(&help).starts_with("usage: ilp-inspect"));
}

/// The Prepare in a BTP Message (WIRE.md vectors: "ILP Prepare carried in Message").
const BTP_MESSAGE: &str = "06000000074a010103696c7000420c40000000000000000a323032303031303130303030303030303066687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f292505672e626f6200";
/// The F00 Error an ilp-plugin-btp server sends on a bad auth_token.
const BTP_ERROR: &str = "02123456783d463030104e6f7441636365707465644572726f721332303138303833313032353332342e3839395a12696e76616c696420617574685f746f6b656e0100";

#[test]
fn decode_as_btp_shows_the_frame_and_its_ilp_packet() {
    let out = run(&["decode", "--as", "btp", BTP_MESSAGE], "");
    assert!(out.status.success());
    let json = stdout(&out);
    assert!(
        json.starts_with(r#"{"type":"message","requestId":7,"protocolData":[{"name":"ilp","contentType":0,"data":"0c40"#),
        "{json}"
    );
    assert!(
        json.contains(r#""packet":{"type":"prepare","amount":"10","#),
        "{json}"
    );
    let json = stdout(&run(&["decode", "--as", "btp", BTP_ERROR], ""));
    assert_eq!(
        json,
        "{\"type\":\"error\",\"requestId\":305419896,\"code\":\"F00\",\"name\":\"NotAcceptedError\",\"triggeredAt\":\"2018-08-31T02:53:24.899Z\",\"data\":\"696e76616c696420617574685f746f6b656e\",\"protocolData\":[]}\n"
    );
    // encode accepts the printed JSON back (the `packet` field is output only).
    for hex in [BTP_MESSAGE, BTP_ERROR] {
        let json = stdout(&run(&["decode", "--as", "btp", hex], ""));
        assert_eq!(stdout(&run(&["encode"], &json)), format!("{hex}\n"));
    }
    let out = run(&["decode", "--as", "btp", "0300000007020100"], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: BTP 1.0 frame type 3 is not used in BTP 2.0\n"
    );
}
