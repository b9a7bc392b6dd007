//! The outbox's two lanes: urgent hand-offs' messages first, each lane in
//! order, a message backing off holding back its own lane only.

use chrono::TimeDelta;
use schemas::Urgency;

use super::*;

async fn submit(store: &SqliteStore, id: &str, urgency: Urgency) -> String {
    let mut ticket = sample_ticket();
    ticket.urgency = urgency;
    created(
        store
            .submit(new_handoff(&ticket, id, "hb-a"))
            .await
            .unwrap(),
    )
    .handoff_id
}

async fn due_ids(store: &SqliteStore, at: Timestamp, max: usize) -> Vec<String> {
    store
        .due_deliveries("hb-a", at, max, Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.handoff_id)
        .collect()
}

async fn back_off(store: &SqliteStore, handoff: &str, t: Timestamp, until: Timestamp) {
    let item = store.outbox(handoff).await.unwrap().remove(0);
    store
        .record_delivery(
            item.id,
            DeliveryResult::Failed {
                sent_sha256: None,
                error: "HTTP 503".into(),
                next_attempt_at: until,
                at: t,
            },
            None,
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgent_messages_go_first_and_each_lane_keeps_its_order() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let n1 = submit(&store, "N1", Urgency::Normal).await;
    let n2 = submit(&store, "N2", Urgency::High).await;
    let u1 = submit(&store, "U1", Urgency::Urgent).await;
    let n3 = submit(&store, "N3", Urgency::Normal).await;
    let u2 = submit(&store, "U2", Urgency::Urgent).await;
    let t = now();

    let due = store
        .due_deliveries("hb-a", t, 10, Default::default())
        .await
        .unwrap();
    let order: Vec<_> = due.iter().map(|o| o.handoff_id.clone()).collect();
    assert_eq!(
        order,
        [u1.clone(), u2.clone(), n1.clone(), n2.clone(), n3.clone()]
    );
    assert_eq!(due[0].urgency, Urgency::Urgent);
    assert_eq!(due[2].urgency, Urgency::Normal);
    assert_eq!(due[3].urgency, Urgency::High, "high is not the urgent lane");
    assert_eq!(
        due_ids(&store, t, 3).await,
        [u1.clone(), u2.clone(), n1.clone()]
    );
    assert_eq!(due_ids(&store, t, 1).await, [u1.as_str()]);

    // The oldest normal message backs off: the normal lane waits for it,
    // the urgent lane does not.
    let retry = t + TimeDelta::hours(1);
    back_off(&store, &n1, t, retry).await;
    assert_eq!(due_ids(&store, t, 10).await, [u1.clone(), u2.clone()]);

    // The oldest urgent message backs off for longer: nothing is due, and
    // the worker should look again at the earlier retry.
    let later = t + TimeDelta::hours(2);
    back_off(&store, &u1, t, later).await;
    assert!(due_ids(&store, t, 10).await.is_empty());
    let next = store.next_due("hb-a").await.unwrap().unwrap();
    assert_eq!(next.timestamp_millis(), retry.timestamp_millis());

    // An hour on, the normal lane flows again, in order, while the urgent
    // one still waits for its first message.
    assert_eq!(
        due_ids(&store, retry, 10).await,
        [n1.clone(), n2.clone(), n3.clone()]
    );
    assert_eq!(
        due_ids(&store, later, 10).await,
        [u1.clone(), u2.clone(), n1.clone(), n2.clone(), n3.clone()]
    );
    assert!(store.next_due("hb-b").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backed_off_urgent_message_does_not_hold_back_normal_ones() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let u1 = submit(&store, "U1", Urgency::Urgent).await;
    let n1 = submit(&store, "N1", Urgency::Normal).await;
    let t = now();
    let retry = t + TimeDelta::minutes(5);
    back_off(&store, &u1, t, retry).await;
    assert_eq!(due_ids(&store, t, 10).await, [n1.as_str()]);
    let next = store.next_due("hb-a").await.unwrap().unwrap();
    assert!(
        next <= t + TimeDelta::seconds(1),
        "the normal lane is due now"
    );
    assert_eq!(due_ids(&store, retry, 10).await, [u1.clone(), n1.clone()]);
}

/// The messages in flight are left out; the lane goes on behind them, and
/// still stops at a message backing off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_in_flight_are_left_out_without_stopping_their_lane() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let n1 = submit(&store, "N1", Urgency::Normal).await;
    let n2 = submit(&store, "N2", Urgency::Normal).await;
    let n3 = submit(&store, "N3", Urgency::Normal).await;
    let n4 = submit(&store, "N4", Urgency::Normal).await;
    let u1 = submit(&store, "U1", Urgency::Urgent).await;
    let t = now();
    let id = |items: &[OutboxItem], h: &str| items.iter().find(|o| o.handoff_id == h).unwrap().id;
    let all = store
        .due_deliveries("hb-a", t, 10, Default::default())
        .await
        .unwrap();
    let flying = Taken {
        in_flight: [id(&all, &n1), id(&all, &n3), id(&all, &u1)].into(),
        ..Taken::default()
    };
    let due = store
        .due_deliveries("hb-a", t, 10, flying.clone())
        .await
        .unwrap();
    let order: Vec<_> = due.iter().map(|o| o.handoff_id.as_str()).collect();
    assert_eq!(order, [n2.as_str(), n4.as_str()]);

    back_off(&store, &n2, t, t + TimeDelta::hours(1)).await;
    let due = store.due_deliveries("hb-a", t, 10, flying).await.unwrap();
    assert!(due.is_empty(), "{due:?}");
}

/// A read after the messages a worker has taken gives only what was
/// queued since, lane by lane; a message backing off still stops its lane
/// when it lies after the starting point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_after_what_was_taken_gives_only_what_came_since() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let n1 = submit(&store, "N1", Urgency::Normal).await;
    let u1 = submit(&store, "U1", Urgency::Urgent).await;
    let t = now();
    let mut after = LaneStarts::default();
    for item in store
        .due_deliveries("hb-a", t, 10, Taken::default())
        .await
        .unwrap()
    {
        after.take(item.id, item.urgency == Urgency::Urgent);
    }
    let taken = Taken {
        after,
        ..Taken::default()
    };
    let read = |taken: Taken| {
        let store = &store;
        async move {
            store
                .due_deliveries("hb-a", now(), 10, taken)
                .await
                .unwrap()
                .into_iter()
                .map(|o| o.handoff_id)
                .collect::<Vec<_>>()
        }
    };
    assert!(read(taken.clone()).await.is_empty());

    let n2 = submit(&store, "N2", Urgency::Normal).await;
    let u2 = submit(&store, "U2", Urgency::Urgent).await;
    let n3 = submit(&store, "N3", Urgency::Normal).await;
    assert_eq!(
        read(taken.clone()).await,
        [u2.as_str(), n2.as_str(), n3.as_str()]
    );

    // Only the urgent lane was taken further: the other is read again
    // from where it was.
    let u2_id = store.outbox(&u2).await.unwrap()[0].id;
    let urgent_only = Taken {
        after: LaneStarts {
            urgent: u2_id,
            ..after
        },
        ..Taken::default()
    };
    assert_eq!(read(urgent_only).await, [n2.as_str(), n3.as_str()]);

    back_off(&store, &n2, t, t + TimeDelta::hours(1)).await;
    assert_eq!(read(taken.clone()).await, [u2.as_str()]);
    // From the start (nothing in flight), every due message again, up to
    // the one backing off.
    assert_eq!(
        read(Taken::default()).await,
        [u1.as_str(), u2.as_str(), n1.as_str()]
    );
}
