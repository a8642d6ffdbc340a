use super::*;

const HEADER: &str = r#"{"format":"kafka-sim-history","version":1,"topics":[{"name":"t","partitions":2}],"clients":[{"name":"p","kind":"producer"},{"name":"c","kind":"consumer","group":"g"}]}"#;

fn with(lines: &[&str]) -> String {
    let mut s = String::from(HEADER);
    for l in lines {
        s.push('\n');
        s.push_str(l);
    }
    s
}

#[test]
fn a_minimal_history_reads() {
    let run = parse(&with(&[
        r#"{"t_ms":1.5,"client":"p","event":"produce","topic":"t","partition":1,"offset":0,"key":"k","value":"v","record":"p0-0"}"#,
        r#"{"t_ms":2,"client":"c","event":"consume","group":"g","generation":1,"topic":"t","partition":1,"offset":0,"key":"k","value":null,"record":"p0-0"}"#,
    ]))
    .unwrap();
    assert_eq!(run.trace.len(), 2);
    assert_eq!(run.trace.names(), ["p", "c"]);
    assert_eq!(run.clients[1].group.as_deref(), Some("g"));
    assert_eq!(run.trace.entries()[0].time, Time::us(1500));
    match &run.trace.entries()[1].record {
        Event::Consumed { id, payload, .. } => {
            assert_eq!((id.producer, id.seq), (0, 0));
            assert_eq!(payload.value(), None);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn errors_name_the_line() {
    let cases = [
        (with(&["{"]), 2, "not JSON"),
        (
            with(&[r#"{"t_ms":1,"client":"c","event":"teleport"}"#]),
            2,
            "unknown event kind \"teleport\"",
        ),
        (
            with(&["", r#"{"t_ms":1,"client":"c","event":"consume"}"#]),
            3,
            "consume: no \"group\"",
        ),
        (
            with(&[
                r#"{"t_ms":1,"client":"p","event":"append","topic":"t","partition":2,"offset":0,"record":"p0-0"}"#,
            ]),
            2,
            "no partition 2",
        ),
        (
            with(&[
                r#"{"t_ms":1,"client":"p","event":"append","topic":"u","partition":0,"offset":0,"record":"p0-0"}"#,
            ]),
            2,
            "not in the header's topics",
        ),
        (
            with(&[
                r#"{"t_ms":1,"client":"p","event":"append","topic":"t","partition":0,"offset":0,"record":"r7"}"#,
            ]),
            2,
            "p<producer>-<sequence>",
        ),
        (
            with(&[
                r#"{"t_ms":5,"client":"p","event":"connected"}"#,
                r#"{"t_ms":4,"client":"p","event":"close"}"#,
            ]),
            3,
            "time order",
        ),
        (HEADER.replace("\"version\":1", "\"version\":2"), 1, "version 2"),
        (
            r#"{"t_ms":1,"client":"p","event":"connected"}"#.to_string(),
            1,
            "not the header",
        ),
        (String::new(), 0, "empty"),
    ];
    for (text, line, what) in cases {
        let e = parse(&text).err().unwrap_or_else(|| panic!("accepted: {text}"));
        assert_eq!(e.line, line, "{e}");
        assert!(e.message.contains(what), "{e} lacks {what}");
    }
}
