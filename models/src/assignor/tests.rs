use super::*;

fn member(id: &str, topics: &[u32]) -> MemberSubscription {
    MemberSubscription {
        member_id: id.into(),
        instance_id: None,
        topics: topics.to_vec(),
        owned: Vec::new(),
        generation: -1,
    }
}

fn owning(id: &str, topics: &[u32], owned: &[(u32, u32)], generation: i32) -> MemberSubscription {
    let mut m = member(id, topics);
    m.owned = owned.iter().map(|(t, p)| Tp::new(*t, *p)).collect();
    m.generation = generation;
    m
}

/// StickyAssignor javadoc: C0, C1, C2 on t0..t3 with 2 partitions each; C1 leaves.
/// Round robin would reshuffle; sticky keeps every partition C0 and C2 had.
#[test]
fn sticky_javadoc_example_keeps_surviving_owners() {
    let first = sticky(
        &[
            member("C0", &[0, 1, 2, 3]),
            member("C1", &[0, 1, 2, 3]),
            member("C2", &[0, 1, 2, 3]),
        ],
        &[2, 2, 2, 2],
    );
    assert!(first.values().all(|p| p.len() == 2 || p.len() == 3));
    let c0: Vec<(u32, u32)> = first[&MemberId::from("C0")]
        .iter()
        .map(|t| (t.topic, t.partition))
        .collect();
    let c2: Vec<(u32, u32)> = first[&MemberId::from("C2")]
        .iter()
        .map(|t| (t.topic, t.partition))
        .collect();
    let second = sticky(
        &[
            owning("C0", &[0, 1, 2, 3], &c0, 1),
            owning("C2", &[0, 1, 2, 3], &c2, 1),
        ],
        &[2, 2, 2, 2],
    );
    assert_eq!(second[&MemberId::from("C0")].len(), 4);
    assert_eq!(second[&MemberId::from("C2")].len(), 4);
    for tp in &first[&MemberId::from("C0")] {
        assert!(second[&MemberId::from("C0")].contains(tp), "C0 keeps {tp:?}");
    }
    for tp in &first[&MemberId::from("C2")] {
        assert!(second[&MemberId::from("C2")].contains(tp), "C2 keeps {tp:?}");
    }
}

#[test]
fn sticky_balances_a_new_member_and_moves_only_what_it_must() {
    let a = owning("a", &[0], &[(0, 0), (0, 1), (0, 2), (0, 3)], 1);
    let got = sticky(&[a.clone(), member("b", &[0])], &[4]);
    assert_eq!(got[&MemberId::from("a")].len(), 2);
    assert_eq!(got[&MemberId::from("b")].len(), 2);
    // cooperative: the two that move are withheld for a second round
    let got = cooperative_sticky(&[a, member("b", &[0])], &[4]);
    assert_eq!(got[&MemberId::from("a")].len(), 2);
    assert!(got[&MemberId::from("b")].is_empty());
}

/// The scale-out measured against Apache Kafka with librdkafka clients: 0–5 on one member,
/// a second joins (librdkafka keeps 3, 4, 5), a third joins (each gives up its lowest).
#[test]
fn librdkafka_keeps_the_highest_java_the_lowest() {
    let ids = |a: &Assignment, m: &str| {
        a[&MemberId::from(m)]
            .iter()
            .map(|t| t.partition)
            .collect::<Vec<_>>()
    };
    let all: Vec<(u32, u32)> = (0..6).map(|p| (0, p)).collect();
    let two = cooperative_sticky_keeping(
        &[owning("a", &[0], &all, 1), member("b", &[0])],
        &[6],
        StickyKeeps::Highest,
    );
    assert_eq!(ids(&two, "a"), vec![3, 4, 5]);
    let three = sticky_keeping(
        &[
            owning("a", &[0], &[(0, 3), (0, 4), (0, 5)], 2),
            owning("b", &[0], &[(0, 0), (0, 1), (0, 2)], 2),
            member("c", &[0]),
        ],
        &[6],
        StickyKeeps::Highest,
    );
    assert_eq!(
        (ids(&three, "a"), ids(&three, "b"), ids(&three, "c")),
        (vec![4, 5], vec![1, 2], vec![0, 3])
    );
    let java = cooperative_sticky(&[owning("a", &[0], &all, 1), member("b", &[0])], &[6]);
    assert_eq!(ids(&java, "a"), vec![0, 1, 2]);
}

#[test]
fn conflicting_claims_go_to_the_later_generation() {
    let a = owning("a", &[0], &[(0, 0)], 3);
    let b = owning("b", &[0], &[(0, 0)], 5);
    let got = sticky(&[a, b], &[2]);
    assert_eq!(got[&MemberId::from("b")], vec![Tp::new(0, 0)]);
    assert_eq!(got[&MemberId::from("a")], vec![Tp::new(0, 1)]);
}

fn show(a: &Assignment) -> Vec<(String, Vec<(u32, u32)>)> {
    a.iter()
        .map(|(m, tps)| {
            (
                m.to_string(),
                tps.iter().map(|t| (t.topic, t.partition)).collect(),
            )
        })
        .collect()
}

/// Kafka's RangeAssignor javadoc: C0, C1; t0, t1 with 3 partitions each.
#[test]
fn range_javadoc_example() {
    let a = range(&[member("C1", &[0, 1]), member("C0", &[0, 1])], &[3, 3]);
    assert_eq!(
        show(&a),
        vec![
            ("C0".into(), vec![(0, 0), (0, 1), (1, 0), (1, 1)]),
            ("C1".into(), vec![(0, 2), (1, 2)]),
        ]
    );
}

/// Kafka's RoundRobinAssignor javadoc, equal subscriptions.
#[test]
fn roundrobin_javadoc_example() {
    let a = roundrobin(&[member("C0", &[0, 1]), member("C1", &[0, 1])], &[3, 3]);
    assert_eq!(
        show(&a),
        vec![
            ("C0".into(), vec![(0, 0), (0, 2), (1, 1)]),
            ("C1".into(), vec![(0, 1), (1, 0), (1, 2)]),
        ]
    );
}

/// Kafka's RoundRobinAssignor javadoc, unequal subscriptions: t0, t1, t2 with 1, 2, 3
/// partitions; C0 on t0, C1 on t0 and t1, C2 on all three.
#[test]
fn roundrobin_javadoc_unequal_subscriptions() {
    let a = roundrobin(
        &[
            member("C2", &[0, 1, 2]),
            member("C0", &[0]),
            member("C1", &[0, 1]),
        ],
        &[1, 2, 3],
    );
    assert_eq!(
        show(&a),
        vec![
            ("C0".into(), vec![(0, 0)]),
            ("C1".into(), vec![(1, 0)]),
            ("C2".into(), vec![(1, 1), (2, 0), (2, 1), (2, 2)]),
        ]
    );
}

/// Demo 3's group 1: 4 partitions over 2 members → 0–1 to the smaller member id.
#[test]
fn range_demo3_shape() {
    let a = range(
        &[member("kafka-python-b", &[0]), member("kafka-python-a", &[0])],
        &[4],
    );
    assert_eq!(
        show(&a),
        vec![
            ("kafka-python-a".into(), vec![(0, 0), (0, 1)]),
            ("kafka-python-b".into(), vec![(0, 2), (0, 3)]),
        ]
    );
}

#[test]
fn range_uneven_and_more_members_than_partitions() {
    let ms = [member("a", &[0]), member("b", &[0]), member("c", &[0])];
    let a = range(&ms, &[7]);
    assert_eq!(show(&a)[0].1, vec![(0, 0), (0, 1), (0, 2)]);
    assert_eq!(show(&a)[1].1, vec![(0, 3), (0, 4)]);
    assert_eq!(show(&a)[2].1, vec![(0, 5), (0, 6)]);
    let a = range(&ms, &[2]);
    assert_eq!(a.values().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 0]);
}

#[test]
fn static_members_sort_first() {
    let mut s = member("zzz", &[0]);
    s.instance_id = Some("instance-1".into());
    let a = range(&[member("aaa", &[0]), s], &[2]);
    assert_eq!(a[&MemberId::from("zzz")], vec![Tp::new(0, 0)]);
    assert_eq!(a[&MemberId::from("aaa")], vec![Tp::new(0, 1)]);
}

#[test]
fn every_partition_assigned_once() {
    for kind in [
        AssignorKind::Range,
        AssignorKind::Roundrobin,
        AssignorKind::Sticky,
        AssignorKind::CooperativeSticky,
    ] {
        for n_members in 1..6 {
            let ms: Vec<_> = (0..n_members)
                .map(|i| member(&format!("m{i}"), &[0, 1]))
                .collect();
            let a = kind.assign(&ms, &[5, 3]);
            let mut all: Vec<Tp> = a.values().flatten().copied().collect();
            all.sort();
            let want: Vec<Tp> = (0..5)
                .map(|p| Tp::new(0, p))
                .chain((0..3).map(|p| Tp::new(1, p)))
                .collect();
            assert_eq!(all, want, "{kind:?} with {n_members} members");
        }
    }
}

#[test]
fn parse_names() {
    assert_eq!(AssignorKind::parse("range"), Some(AssignorKind::Range));
    assert_eq!(
        AssignorKind::parse("org.apache.kafka.clients.consumer.RoundRobinAssignor"),
        Some(AssignorKind::Roundrobin)
    );
    assert_eq!(AssignorKind::parse("sticky"), Some(AssignorKind::Sticky));
    assert_eq!(
        AssignorKind::parse("cooperative-sticky"),
        Some(AssignorKind::CooperativeSticky)
    );
    assert_eq!(AssignorKind::parse("uniform"), None);
}

// The cases below are answers of Apache Kafka 4.4.0's own classes, obtained through
// scripts/assignor-oracle.

fn topics(spec: &[(&str, u32)]) -> Vec<Topic> {
    spec.iter()
        .enumerate()
        .map(|(i, (name, partitions))| Topic {
            name: (*name).into(),
            id: java::Uuid {
                msb: 2 * i as i64 + 1,
                lsb: 2 * i as i64 + 2,
            },
            partitions: *partitions,
        })
        .collect()
}

fn parts(a: &Assignment, m: &str) -> Vec<(u32, u32)> {
    a[&MemberId::from(m)]
        .iter()
        .map(|t| (t.topic, t.partition))
        .collect()
}

/// Topics `a`:1 and `b`:1; M1 subscribes to both and owns b-0, M2 only to `b` and claims
/// a-0: Java's `GeneralAssignmentBuilder` gives one each.
#[test]
fn sticky_unequal_subscriptions_balance() {
    let t = topics(&[("a", 1), ("b", 1)]);
    let got = sticky::assign(
        &[
            owning("M1", &[0, 1], &[(1, 0)], 1),
            owning("M2", &[1], &[(0, 0)], 1),
        ],
        &t,
        false,
    );
    assert_eq!(parts(&got, "M1"), vec![(0, 0)]);
    assert_eq!(parts(&got, "M2"), vec![(1, 0)]);
}

/// Two members of one generation claim t-0: both claims are void, and the cooperative
/// assignor gives t-0 to nobody this round.
#[test]
fn same_generation_claims_are_voided() {
    let t = topics(&[("t", 2)]);
    let ms = [owning("A", &[0], &[(0, 0)], 3), owning("B", &[0], &[(0, 0)], 3)];
    let got = sticky::assign(&ms, &t, true);
    assert_eq!(parts(&got, "A"), vec![]);
    assert_eq!(parts(&got, "B"), vec![(0, 1)]);
}

/// U+1F600 (UTF-16 D83D DE00) sorts before U+FF01 in Java, after it in UTF-8.
#[test]
fn member_ids_compare_as_utf16() {
    let t = topics(&[("t", 2)]);
    let got = range::assign(&[member("\u{FF01}", &[0]), member("\u{1F600}", &[0])], &t);
    assert_eq!(parts(&got, "\u{1F600}"), vec![(0, 0)]);
    assert_eq!(parts(&got, "\u{FF01}"), vec![(0, 1)]);
}

/// KIP-848's server range assignor puts static members first.
#[test]
fn server_range_sorts_static_members_first() {
    let t = topics(&[("t", 2)]);
    let mut z = member("z", &[0]);
    z.instance_id = Some("i".into());
    let got = ServerAssignor::Range.assign(&[member("a", &[0]), z], &t);
    assert_eq!(parts(&got, "z"), vec![(0, 0)]);
    assert_eq!(parts(&got, "a"), vec![(0, 1)]);
}

/// Kafka's quirk, reproduced: P owned t0-0 in an older generation and now subscribes only
/// to t1; `performReassignments` hands t0-0 back to it anyway.
#[test]
fn sticky_hands_back_to_an_older_owner_not_subscribed() {
    let t = topics(&[("t0", 3), ("t1", 2)]);
    let ms = [
        owning("A", &[0], &[(0, 0), (0, 1), (0, 2)], 2),
        owning("B", &[0, 1], &[], 2),
        owning("P", &[1], &[(0, 0)], 1),
    ];
    let got = sticky::assign(&ms, &t, false);
    assert_eq!(parts(&got, "A"), vec![(0, 1), (0, 2)]);
    assert_eq!(parts(&got, "B"), vec![(1, 0)]);
    assert_eq!(parts(&got, "P"), vec![(0, 0), (1, 1)]);
}

/// Uniform, equal subscriptions, 5 partitions over a, b, c (in that `HashMap` order): `a`
/// owns nothing and passes its extra slot on, so b keeps two of its three and c both.
#[test]
fn uniform_homogeneous_passes_unfilled_extra_slots_on() {
    let t = topics(&[("t", 5)]);
    let ms = [
        owning("a", &[0], &[], 0),
        owning("b", &[0], &[(0, 0), (0, 1), (0, 2)], 0),
        owning("c", &[0], &[(0, 3), (0, 4)], 0),
    ];
    let got = ServerAssignor::Uniform.assign(&ms, &t);
    assert_eq!(parts(&got, "a"), vec![(0, 2)]);
    assert_eq!(parts(&got, "b"), vec![(0, 0), (0, 1)]);
    assert_eq!(parts(&got, "c"), vec![(0, 3), (0, 4)]);
}
