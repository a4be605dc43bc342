//! `ilp-inspect` as a user runs it: arguments, stdin, stdout, exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &str) -> Output {
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
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
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

#[test]
fn batch_decode_answers_every_line() {
    let input = format!("{PREPARE}\nzz\n0f00\n{PREPARE}\n");
    let out = run(&["decode"], &input);
    assert!(out.status.success());
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], PREPARE_JSON);
    assert!(
        lines[1].starts_with(r#"{"error":"Invalid character"#),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], r#"{"error":"unknown packet type 15"}"#);
    assert_eq!(lines[3], PREPARE_JSON);
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

#[test]
fn encode_reports_bad_lines_and_goes_on() {
    let input = "{\"type\":\"reject\",\"code\":\"F02\",\"triggeredBy\":\"g.x\",\"message\":\"\",\"data\":\"\"}\n{\"type\":\"nope\"}\n";
    let out = run(&["encode"], input);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "0e0946303203672e780000");
    assert!(
        lines[1].starts_with(r#"{"error":"unknown variant `nope`"#),
        "{}",
        lines[1]
    );
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
