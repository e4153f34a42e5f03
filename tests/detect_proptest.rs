//! The detection engine never panics, whatever the events: extreme and
//! backwards times, missing fields, odd addresses, every shipped rule.

use std::borrow::Cow;

use breachd::classify::Inventory;
use breachd::detect::{rules, Engine};
use breachd::parse::{Event, EventTime, Outcome};
use proptest::prelude::*;

const INV: &str = "resources:\n  - pattern: /login\n    methods: [POST]\n    kind: login\n  - pattern: \"/c/{id}\"\n    categories: [identity]\n    sensitivity: high\n    subject_param: id\n  - pattern: /export\n    categories: [identity]\n    sensitivity: high\n    kind: bulk\nsubjects:\n  total: 100\n";

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Success),
        Just(Outcome::Failure),
        Just(Outcome::Denied),
        Just(Outcome::Error),
        Just(Outcome::Unknown)
    ]
}

#[derive(Debug, Clone)]
struct Ev {
    time: i64,
    ip: Option<[u8; 4]>,
    user: Option<String>,
    target: String,
    outcome: Outcome,
    bytes: Option<u64>,
    role: Option<String>,
}

fn ev() -> impl Strategy<Value = Ev> {
    (
        prop_oneof![
            -62_000_000_000i64..253_000_000_000,
            1_700_000_000i64..1_700_100_000
        ],
        proptest::option::of(any::<[u8; 4]>()),
        proptest::option::of("[a-c]{0,2}"),
        prop_oneof![
            Just("/login".to_string()),
            "/c/[0-9]{1,3}",
            Just("/export".to_string()),
            "/[ -~]{0,12}"
        ],
        outcome(),
        proptest::option::of(any::<u64>()),
        proptest::option::of(prop_oneof![
            Just("customer".to_string()),
            Just("support".to_string())
        ]),
    )
        .prop_map(|(time, ip, user, target, outcome, bytes, role)| Ev {
            time,
            ip,
            user,
            target,
            outcome,
            bytes,
            role,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn the_engine_never_panics(events in proptest::collection::vec(ev(), 1..300)) {
        let inv = Inventory::from_str(INV, "inv").unwrap();
        let rules = rules::compile(rules::DEFAULT_RULES, "default").unwrap();
        let mut e = Engine::new(rules, 50).with_subjects_total(inv.subjects_total).with_opened_queue();
        for x in &events {
            let event = Event {
                time: EventTime::from_unix_secs(x.time, 0),
                ip: x.ip.map(std::net::IpAddr::from),
                user: x.user.as_deref().map(Cow::Borrowed),
                role: x.role.as_deref().map(Cow::Borrowed),
                action: Some(Cow::Borrowed(if x.target == "/login" { "POST" } else { "GET" })),
                resource: Some(Cow::Borrowed(x.target.as_str())),
                outcome: x.outcome,
                bytes_out: x.bytes,
                ..Event::default()
            };
            let c = inv.classify(&event);
            e.observe(&event, &c);
            e.advance_to(x.time.saturating_mul(1_000_000));
        }
        for a in e.finish() {
            prop_assert!(a.start <= a.end, "{:?}", a);
            prop_assert!(a.subjects <= 100, "{:?}", a);
        }
        let _ = e.take_opened();
    }
}
