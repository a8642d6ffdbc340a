"""The kafka-python driver: one scenario client as one process of real kafka-python.

`client.py producer` / `client.py consumer` read their part of the scenario as one JSON line
on standard input, run it the way the seed demos' programs do (KafkaProducer.send for each
record, then close(); a KafkaConsumer iterated record by record) and print the demos' lines
on standard error. Standard output carries one JSON object per event in the history format
(`t_us`: wall-clock microseconds since the epoch). A consumer stops at a `close` line.

`client.py admin create|delete BOOTSTRAP TIMEOUT_S TOPIC[:PARTITIONS]...` manages the run's
topics; exit 3: the broker cannot be reached, 4: something the driver cannot do.
"""

import json
import sys
import threading
import time

import kafka
from kafka import OffsetAndMetadata, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

ID_HEADER = "ksim-id"
_out = threading.Lock()


def now_us():
    return time.time_ns() // 1000


def emit(event, t_us=None, **fields):
    line = {"t_us": now_us() if t_us is None else t_us, "event": event}
    line.update(fields)
    with _out:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def say(*args):
    """What the demo program prints."""
    print(*args, file=sys.stderr, flush=True)


class Unsupported(Exception):
    pass


ASSIGNORS = {
    "range": RangePartitionAssignor,
    "roundrobin": RoundRobinPartitionAssignor,
    "sticky": StickyPartitionAssignor,
    "cooperative-sticky": CooperativeStickyAssignor,
}

CONSUMER_KEYS = {
    "client.id", "group.instance.id", "auto.offset.reset", "enable.auto.commit",
    "auto.commit.interval.ms", "session.timeout.ms", "heartbeat.interval.ms",
    "max.poll.interval.ms", "fetch.max.wait.ms", "max.poll.records", "request.timeout.ms",
}
PRODUCER_KEYS = {
    "client.id", "acks", "enable.idempotence", "retries", "request.timeout.ms",
    "retry.backoff.ms", "retry.backoff.max.ms", "delivery.timeout.ms", "batch.size",
    "max.in.flight.requests.per.connection", "linger.ms",
}


def kwargs(config, keys):
    """The scenario's settings (Kafka's names) as kafka-python's keyword arguments."""
    out = {}
    for key, value in config.items():
        if key == "partition.assignment.strategy":
            names = [n.strip() for n in str(value).split(",")]
            if any(n not in ASSIGNORS for n in names):
                raise Unsupported("partition.assignment.strategy %r" % value)
            out["partition_assignment_strategy"] = [ASSIGNORS[n] for n in names]
        elif key == "group.protocol" and value == "classic":
            pass
        elif key == "partitioner" and value == "murmur2_random":
            pass  # kafka-python's own: murmur2 for keys, random for null keys
        elif key == "acks":
            out["acks"] = "all" if value in ("all", -1, "-1") else int(value)
        elif key in keys:
            out[key.replace(".", "_")] = value
        else:
            raise Unsupported("kafka-python driver: setting %s = %r" % (key, value))
    return out


def await_start(spec):
    """A timed run starts the process ahead of its time with `wait_start`: it waits for a
    `start` line."""
    if not spec.get("wait_start"):
        return
    while True:
        line = sys.stdin.readline()
        if not line or line.strip() == "start":
            return


def produce(spec):
    producer = kafka.KafkaProducer(bootstrap_servers=spec["bootstrap"].split(","),
                                   **kwargs(spec["config"], PRODUCER_KEYS))
    if spec.get("wait_start"):
        producer.partitions_for(spec["real_topic"])  # bootstrapped before its time
        await_start(spec)
    emit("connected")
    say("link kafka ok.")
    topic = spec["topic"]
    interval = spec["interval_ms"] / 1000.0

    def acknowledged(sent_at, record, key, value):
        def cb(md):
            fields = {"topic": topic, "partition": md.partition, "key": key,
                      "value": value, "record": record}
            emit("send", t_us=sent_at, **fields)
            emit("produce", offset=md.offset, **fields)
        return cb

    def failed(record, key, partition):
        def cb(exc):
            say("error: record %s (key %s) not delivered: %s" % (record, key, exc))
            # the partition the record was for (the partitioner's choice is not told on failure)
            emit("produce_failed", topic=topic, partition=partition or 0, record=record,
                 error=getattr(exc, "message", "UNKNOWN_SERVER_ERROR"))
        return cb

    for r in spec["records"]:
        key, value = r["key"], r["value"]
        sent_at = now_us()
        future = producer.send(
            spec["real_topic"],
            key=None if key is None else key.encode("utf-8"),
            value=None if value is None else value.encode("utf-8"),
            partition=r["partition"],
            headers=[(ID_HEADER, r["record"].encode("ascii"))])
        say("produce: key={}, val={}".format(key, value))
        future.add_callback(acknowledged(sent_at, r["record"], key, value))
        future.add_errback(failed(r["record"], key, r["partition"]))
        if interval > 0:
            time.sleep(interval)
    producer.close()
    say("produce over.")
    emit("producer_done", records=len(spec["records"]))
    emit("close")


def consume(spec):
    await_start(spec)
    to_scenario = {real: name for name, real in spec["topics"]}
    group = spec["group"]
    closing = threading.Event()

    state = {"generation": 0, "fresh": [], "stall_until": 0.0}

    def watch_stdin():
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["close"]:
                break
            if words[:1] == ["stall"] and len(words) == 2:
                state["stall_until"] = time.time() + int(words[1]) / 1000.0
        closing.set()

    def generation(consumer):
        try:
            return consumer._coordinator._generation.generation_id
        except AttributeError:
            return state["generation"]

    def tps(partitions):
        return sorted([to_scenario[tp.topic], tp.partition] for tp in partitions
                      if tp.topic in to_scenario)

    def committed(offsets, res):
        if isinstance(res, Exception):
            emit("commit_failed", group=group, error=getattr(res, "message", "UNKNOWN_SERVER_ERROR"))
        else:
            listed = sorted([to_scenario[tp.topic], tp.partition, om.offset]
                            for tp, om in offsets.items() if tp.topic in to_scenario)
            if listed:
                emit("commit", group=group, generation=state["generation"], offsets=listed)

    # no group in the scenario: group_id=None, as demo1_consume.py runs (kafka-python then
    # assigns itself every partition of its topics, with no rebalance listener, no commits)
    policy = spec.get("commit", "auto")
    settings = kwargs(spec["config"], CONSUMER_KEYS)
    if policy != "auto":
        settings["enable_auto_commit"] = False
    consumer = kafka.KafkaConsumer(bootstrap_servers=spec["bootstrap"].split(","),
                                   group_id=spec["real_group"] if group else None,
                                   consumer_timeout_ms=100,
                                   default_offset_commit_callback=committed,
                                   **settings)

    class Listener(kafka.ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            if not revoked:
                return  # kafka-python calls it with nothing before its first join
            emit("revoke", group=group, generation=state["generation"], partitions=tps(revoked))

        def on_partitions_assigned(self, assigned):
            state["generation"] = generation(consumer) if generation(consumer) > 0 else state["generation"] + 1
            t = now_us()
            state["fresh"].extend((t, tp) for tp in assigned)
            emit("assign", t_us=t, group=group, generation=state["generation"], partitions=tps(assigned))

    if group:
        consumer.subscribe(topics=[real for _, real in spec["topics"]], listener=Listener())
    else:
        consumer.subscribe(topics=[real for _, real in spec["topics"]])

    def self_assigned():
        """Without a group: the self-assignment, once the first metadata has made it."""
        if group or state.get("self_assigned") or not consumer.assignment():
            return
        state["self_assigned"] = True
        t = now_us()
        assigned = consumer.assignment()
        state["fresh"].extend((t, tp) for tp in assigned)
        emit("assign", t_us=t, group=group, generation=-1, partitions=tps(assigned))
    emit("connected")
    say("link kafka ok.")
    reset = spec["config"].get("auto.offset.reset", "latest")
    threading.Thread(target=watch_stdin, daemon=True).start()

    def positions():
        """Where each newly assigned partition starts: its committed offset, or the reset."""
        while state["fresh"]:
            t, tp = state["fresh"][0]
            try:
                c = consumer.committed(tp) if group else None
                if c is not None:
                    offset, source = c, "committed"
                elif reset == "earliest":
                    offset, source = consumer.beginning_offsets([tp])[tp], "earliest"
                else:
                    offset, source = consumer.end_offsets([tp])[tp], "latest"
            except (kafka.errors.KafkaError, OSError):
                # the coordinator or the leader is unreachable (a broker down): the client
                # looks it up again; ask again after retry_backoff_ms unless closing
                if closing.is_set():
                    return
                time.sleep(0.1)
                continue
            state["fresh"].pop(0)
            emit("position", t_us=t, group=group, topic=to_scenario[tp.topic],
                 partition=tp.partition, offset=offset, **{"from": source})

    processing = spec.get("processing_ms", 0) / 1000.0

    def stalled():
        """The application stalls (a `stall MS` line): no poll until it is over."""
        wait = state["stall_until"] - time.time()
        if wait > 0:
            time.sleep(wait)

    def handle(msg):
        ids = [v for k, v in (msg.headers or []) if k == ID_HEADER]
        this_key = None if msg.key is None else str(msg.key, encoding="utf-8")
        this_val = None if msg.value is None else str(msg.value, encoding="utf-8")
        topic = to_scenario.get(msg.topic, msg.topic)
        say(this_key, this_val, "topic: {}, partition: {}, offset: {}".format(
            topic, msg.partition, msg.offset))
        if ids:
            emit("consume", group=group, generation=state["generation"], topic=topic,
                 partition=msg.partition, offset=msg.offset, key=this_key,
                 value=this_val, record=ids[0].decode("ascii"))
        if processing > 0:
            time.sleep(processing)

    def commit(msgs):
        """A synchronous commit of the offsets after `msgs` (the application's own)."""
        offsets = {}
        for m in msgs:
            offsets[TopicPartition(m.topic, m.partition)] = OffsetAndMetadata(m.offset + 1, "", -1)
        if not offsets:
            return
        try:
            consumer.commit(offsets=offsets)
        except Exception as e:  # a rebalance or a dead coordinator: the commit is refused
            emit("commit_failed", group=group, error=getattr(e, "message", "UNKNOWN_SERVER_ERROR"))
            return
        committed(offsets, None)

    def unreachable(_e):
        """A connection error out of the iterator or poll() while a broker is down
        (kafka/net/inet.py's sock_connect): the application carries on polling after
        retry_backoff_ms, as a consumer's loop that catches it does; the client reconnects
        or moves on to another broker. Not an event of the history (no client reports it)."""
        time.sleep(0.1)

    if policy == "auto":
        while not closing.is_set():
            stalled()
            try:
                for msg in consumer:
                    self_assigned()
                    positions()
                    handle(msg)
                    if closing.is_set() or state["stall_until"] > time.time():
                        break
            except (kafka.errors.KafkaConnectionError, OSError) as e:
                unreachable(e)
                continue
            self_assigned()
            positions()
    else:
        # the application commits itself: poll() batches of max.poll.records
        while not closing.is_set():
            stalled()
            try:
                batch = consumer.poll(timeout_ms=100)
            except (kafka.errors.KafkaConnectionError, OSError) as e:
                unreachable(e)
                continue
            self_assigned()
            positions()
            msgs = [m for tp in sorted(batch, key=lambda t: (t.topic, t.partition)) for m in batch[tp]]
            if policy == "before-processing":
                commit(msgs)
            for m in msgs:
                stalled()
                handle(m)
                if policy == "after-record":
                    commit([m])
            if policy == "after-batch":
                commit(msgs)
    consumer.close()
    emit("close")


def read_back(bootstrap, timeout_s, topics):
    """Every record of each TOPIC:PARTITIONS from the start of its log to its end, one JSON
    line each: topic, partition, offset, record (its ksim-id)."""
    consumer = kafka.KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None,
                                   enable_auto_commit=False, request_timeout_ms=timeout_s * 1000)
    tps = []
    for t in topics:
        name, partitions = t.rsplit(":", 1)
        tps.extend(TopicPartition(name, p) for p in range(int(partitions)))
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    deadline = time.time() + timeout_s * 3
    while any(consumer.position(tp) < ends[tp] for tp in tps) and time.time() < deadline:
        for tp, msgs in consumer.poll(timeout_ms=200).items():
            for m in msgs:
                ids = [v for k, v in (m.headers or []) if k == ID_HEADER]
                if ids:
                    print(json.dumps({"topic": m.topic, "partition": m.partition, "offset": m.offset,
                                      "record": ids[0].decode("ascii")}), flush=True)
    consumer.close()


def admin(args):
    action, bootstrap, timeout_s, topics = args[0], args[1], int(args[2]), args[3:]
    try:
        client = KafkaAdminClient(bootstrap_servers=bootstrap.split(","),
                                  request_timeout_ms=timeout_s * 1000)
    except (KafkaConnectionError, KafkaTimeoutError) as e:
        print("no broker answered: %s" % e, file=sys.stderr)
        return 3
    if action == "create":
        new = {}
        for t in topics:
            # NAME:PARTITIONS, or NAME:PARTITIONS:REPLICAS:CONFIGS (replicas 1,2,3/2,3,1 per
            # partition; configs k=v;k=v) for a cluster
            parts = t.split(":")
            name, partitions = parts[0], int(parts[1])
            if len(parts) == 4:
                assignments = {p: [int(b) for b in r.split(",")] for p, r in enumerate(parts[2].split("/"))}
                configs = dict(kv.split("=", 1) for kv in parts[3].split(";") if kv)
                new[name] = {"assignments": assignments, "configs": configs}
            else:
                new[name] = {"num_partitions": partitions, "replication_factor": 1}
        client.create_topics(new, timeout_ms=timeout_s * 1000)
        client.wait_for_topics(list(new), timeout_ms=timeout_s * 1000)
    elif action == "delete":
        client.delete_topics(topics, timeout_ms=timeout_s * 1000)
    elif action == "readback":
        client.close()
        read_back(bootstrap, timeout_s, topics)
        return 0
    else:
        print("unknown admin action %s" % action, file=sys.stderr)
        return 4
    client.close()
    return 0


def main():
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        if role == "admin":
            return admin(sys.argv[2:])
        spec = json.loads(sys.stdin.readline())
        if role == "producer":
            produce(spec)
        elif role == "consumer":
            consume(spec)
        else:
            print("usage: client.py producer|consumer|admin ...", file=sys.stderr)
            return 4
    except Unsupported as e:
        print(str(e), file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
