package ksim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The java driver: one scenario client as one process of Apache Kafka's Java client.
 *
 * <p>{@code Client producer} / {@code Client consumer} read their part of the scenario as one
 * JSON line on standard input and write one JSON object per event on standard output, in the
 * history format ({@code t_us}: wall-clock microseconds since the epoch); the seed demos' lines
 * go to standard error. A consumer stops at a {@code close} line. {@code Client admin
 * create|delete BOOTSTRAP TIMEOUT_S TOPIC[:PARTITIONS]...} manages the run's topics; exit 3: the
 * broker cannot be reached, 4: something the driver cannot do.
 */
public final class Client {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ID_HEADER = "ksim-id";

  private Client() {}

  static final class Unsupported extends Exception {
    Unsupported(String m) {
      super(m);
    }
  }

  static long nowUs() {
    Instant i = Instant.now();
    return i.getEpochSecond() * 1_000_000L + i.getNano() / 1_000;
  }

  static synchronized void emit(String event, Long tUs, Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("t_us", tUs == null ? nowUs() : tUs);
    m.put("event", event);
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    try {
      System.out.println(JSON.writeValueAsString(m));
      System.out.flush();
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  static void say(String line) {
    System.err.println(line);
    System.err.flush();
  }

  static String text(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  static final Map<String, String> ASSIGNORS =
      Map.of(
          "range", "org.apache.kafka.clients.consumer.RangeAssignor",
          "roundrobin", "org.apache.kafka.clients.consumer.RoundRobinAssignor",
          "sticky", "org.apache.kafka.clients.consumer.StickyAssignor",
          "cooperative-sticky", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");

  static final Set<String> CONSUMER_KEYS =
      Set.of(
          "client.id", "group.instance.id", "auto.offset.reset", "enable.auto.commit",
          "auto.commit.interval.ms", "session.timeout.ms", "heartbeat.interval.ms",
          "max.poll.interval.ms", "fetch.max.wait.ms", "max.poll.records", "request.timeout.ms",
          "group.protocol", "group.remote.assignor");
  static final Set<String> PRODUCER_KEYS =
      Set.of(
          "client.id", "acks", "enable.idempotence", "retries", "request.timeout.ms",
          "retry.backoff.ms", "retry.backoff.max.ms", "delivery.timeout.ms", "batch.size",
          "max.in.flight.requests.per.connection", "linger.ms");

  /** The scenario's settings: Kafka's names are the Java client's; assignors by class. */
  static void settings(JsonNode config, Set<String> keys, Properties p) throws Unsupported {
    Iterator<Map.Entry<String, JsonNode>> it = config.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String k = e.getKey();
      String v = e.getValue().asText();
      if (k.equals("partition.assignment.strategy")) {
        List<String> classes = new ArrayList<>();
        for (String n : v.split(",")) {
          String c = ASSIGNORS.get(n.trim());
          if (c == null) throw new Unsupported("partition.assignment.strategy " + v);
          classes.add(c);
        }
        p.put(k, String.join(",", classes));
      } else if (k.equals("partitioner") && v.equals("murmur2_random")) {
        // Java's own for keyed records (murmur2); null keys: KIP-794's uniform sticky
      } else if (keys.contains(k)) {
        p.put(k, v);
      } else {
        throw new Unsupported("java driver: setting " + k + " = " + v);
      }
    }
  }

  static BufferedReader stdinLines;

  /**
   * A timed run starts the process ahead of its time (the JVM's start-up is seconds) with
   * {@code wait_start}: it waits for a {@code start} line.
   */
  static void awaitStart(JsonNode spec) throws java.io.IOException {
    if (!spec.has("wait_start") || !spec.get("wait_start").asBoolean()) return;
    String line;
    while ((line = stdinLines.readLine()) != null && !line.trim().equals("start")) {}
  }

  static void produce(JsonNode spec) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, spec.get("bootstrap").asText());
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    settings(spec.get("config"), PRODUCER_KEYS, p);
    String topic = spec.get("topic").asText();
    String real = spec.get("real_topic").asText();
    double interval = spec.get("interval_ms").asDouble();
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      producer.partitionsFor(real); // the first Metadata answer: bootstrapped
      awaitStart(spec);
      emit("connected", null);
      say("link kafka ok.");
      for (JsonNode r : spec.get("records")) {
        String key = r.get("key").isNull() ? null : r.get("key").asText();
        String value = r.get("value").isNull() ? null : r.get("value").asText();
        Integer partition = r.get("partition").isNull() ? null : r.get("partition").asInt();
        String record = r.get("record").asText();
        ProducerRecord<byte[], byte[]> pr =
            new ProducerRecord<>(
                real,
                partition,
                key == null ? null : key.getBytes(StandardCharsets.UTF_8),
                value == null ? null : value.getBytes(StandardCharsets.UTF_8));
        pr.headers().add(ID_HEADER, record.getBytes(StandardCharsets.US_ASCII));
        long sentAt = nowUs();
        producer.send(
            pr,
            (md, exc) -> {
              if (exc != null) {
                say("error: record " + record + " not delivered: " + exc);
                int q = md != null && md.partition() >= 0 ? md.partition() : (partition == null ? 0 : partition);
                emit("produce_failed", null, "topic", topic, "partition", q, "record", record,
                    "error", org.apache.kafka.common.protocol.Errors.forException(exc).name());
                return;
              }
              Object[] f = {
                "topic", topic, "partition", md.partition(), "key", key, "value", value, "record", record
              };
              emit("send", sentAt, f);
              Object[] g = new Object[f.length + 2];
              System.arraycopy(f, 0, g, 0, 4);
              g[4] = "offset";
              g[5] = md.offset();
              System.arraycopy(f, 4, g, 6, f.length - 4);
              emit("produce", null, g);
            });
        say("produce: key=" + key + ", val=" + value);
        if (interval > 0) {
          TimeUnit.MICROSECONDS.sleep((long) (interval * 1000));
        }
      }
      producer.flush();
    }
    say("produce over.");
    emit("producer_done", null, "records", spec.get("records").size());
    emit("close", null);
  }

  static void consume(JsonNode spec) throws Exception {
    awaitStart(spec);
    Map<String, String> toScenario = new LinkedHashMap<>();
    for (JsonNode t : spec.get("topics")) {
      toScenario.put(t.get(1).asText(), t.get(0).asText());
    }
    String group = spec.get("group").asText();
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, spec.get("bootstrap").asText());
    // no group in the scenario (kafka-python's group_id=None): Java cannot subscribe without
    // a group.id, so the consumer does by hand what kafka-python does, assign() of every
    // partition of its topics, with no group.id and no commits
    boolean grouped = !group.isEmpty();
    if (grouped) {
      p.put(ConsumerConfig.GROUP_ID_CONFIG, spec.get("real_group").asText());
    }
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.INTERCEPTOR_CLASSES_CONFIG, CommitRecorder.class.getName());
    settings(spec.get("config"), CONSUMER_KEYS, p);
    if (!grouped) {
      p.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
      p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    }
    String policy = spec.has("commit") ? spec.get("commit").asText() : "auto";
    if (!policy.equals("auto")) {
      p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    }
    double processingMs = spec.has("processing_ms") ? spec.get("processing_ms").asDouble() : 0;
    java.util.concurrent.atomic.AtomicLong stallUntil = new java.util.concurrent.atomic.AtomicLong();
    String reset = p.getProperty(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
    CommitRecorder.group = group;
    CommitRecorder.toScenario = toScenario;
    AtomicBoolean closing = new AtomicBoolean(false);
    Thread stdin =
        new Thread(
            () -> {
              try {
                // the reader the spec came from: a line (stall, close) counts when it arrives
                BufferedReader in = stdinLines;
                String line;
                while ((line = in.readLine()) != null && !line.trim().equals("close")) {
                  String[] w = line.trim().split(" ");
                  if (w.length == 2 && w[0].equals("stall")) {
                    stallUntil.set(System.currentTimeMillis() + Long.parseLong(w[1]));
                  }
                }
              } catch (Exception e) {
                // the end of the input closes too
              }
              closing.set(true);
            });
    stdin.setDaemon(true);
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      ConsumerRebalanceListener listener =
          new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
              if (!revoked.isEmpty()) {
                emit("revoke", null, "group", group, "generation", CommitRecorder.generation,
                    "partitions", tps(revoked, toScenario));
              }
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> lost) {
              if (!lost.isEmpty()) {
                emit("lost", null, "group", group, "generation", CommitRecorder.generation,
                    "partitions", tps(lost, toScenario), "reason", "unknown member");
              }
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
              int g = consumer.groupMetadata().generationId();
              CommitRecorder.generation = g > 0 ? g : CommitRecorder.generation + 1;
              long t = nowUs();
              emit("assign", t, "group", group, "generation", CommitRecorder.generation,
                  "partitions", tps(assigned, toScenario));
              if (assigned.isEmpty()) return;
              Map<TopicPartition, OffsetAndMetadata> committed =
                  consumer.committed(new HashSet<>(assigned));
              for (TopicPartition tp : sorted(assigned)) {
                long position = consumer.position(tp);
                OffsetAndMetadata c = committed.get(tp);
                emit("position", t, "group", group, "topic", toScenario.get(tp.topic()),
                    "partition", tp.partition(), "offset", position,
                    "from", c != null ? "committed" : reset);
              }
            }
          };
      if (grouped) {
        consumer.subscribe(new ArrayList<>(toScenario.keySet()), listener);
      }
      List<TopicPartition> all = new ArrayList<>();
      for (String real : toScenario.keySet()) {
        // the first Metadata answer: bootstrapped
        for (org.apache.kafka.common.PartitionInfo info : consumer.partitionsFor(real)) {
          all.add(new TopicPartition(real, info.partition()));
        }
      }
      if (!grouped) {
        consumer.assign(all);
        long t = nowUs();
        emit("assign", t, "group", group, "generation", -1, "partitions", tps(all, toScenario));
        for (TopicPartition tp : sorted(all)) {
          emit("position", t, "group", group, "topic", toScenario.get(tp.topic()),
              "partition", tp.partition(), "offset", consumer.position(tp), "from", reset);
        }
      }
      emit("connected", null);
      say("link kafka ok.");
      stdin.start();
      while (!closing.get()) {
        stall(stallUntil);
        List<ConsumerRecord<byte[], byte[]>> batch = new ArrayList<>();
        consumer.poll(Duration.ofMillis(100)).forEach(batch::add);
        if (policy.equals("before-processing")) commit(consumer, batch, group, toScenario);
        for (ConsumerRecord<byte[], byte[]> r : batch) {
          stall(stallUntil);
          Header id = r.headers().lastHeader(ID_HEADER);
          String topic = toScenario.getOrDefault(r.topic(), r.topic());
          say(text(r.key()) + " " + text(r.value()) + " topic: " + topic + ", partition: "
              + r.partition() + ", offset: " + r.offset());
          if (id != null) {
            emit("consume", null, "group", group, "generation", CommitRecorder.generation,
                "topic", topic, "partition", r.partition(), "offset", r.offset(),
                "key", text(r.key()), "value", text(r.value()),
                "record", new String(id.value(), StandardCharsets.US_ASCII));
          }
          if (processingMs > 0) TimeUnit.MICROSECONDS.sleep((long) (processingMs * 1000));
          if (policy.equals("after-record")) commit(consumer, List.of(r), group, toScenario);
        }
        if (policy.equals("after-batch")) commit(consumer, batch, group, toScenario);
      }
    }
    emit("close", null);
  }

  /** The application stalls (a {@code stall MS} line): no poll until it is over. */
  static void stall(java.util.concurrent.atomic.AtomicLong until) throws InterruptedException {
    long wait = until.get() - System.currentTimeMillis();
    if (wait > 0) Thread.sleep(wait);
  }

  /** A synchronous commit of the offsets after {@code batch} (the application's own). */
  static void commit(KafkaConsumer<byte[], byte[]> consumer, List<ConsumerRecord<byte[], byte[]>> batch,
      String group, Map<String, String> toScenario) {
    Map<TopicPartition, OffsetAndMetadata> offsets = new LinkedHashMap<>();
    for (ConsumerRecord<byte[], byte[]> r : batch) {
      offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
    }
    if (offsets.isEmpty()) return;
    try {
      consumer.commitSync(offsets);
    } catch (org.apache.kafka.common.KafkaException e) {
      String name = org.apache.kafka.common.protocol.Errors.forException(e).name();
      emit("commit_failed", null, "group", group, "error", name);
    }
  }

  static List<TopicPartition> sorted(Collection<TopicPartition> tps) {
    List<TopicPartition> l = new ArrayList<>(tps);
    l.sort((a, b) -> a.topic().equals(b.topic())
        ? Integer.compare(a.partition(), b.partition()) : a.topic().compareTo(b.topic()));
    return l;
  }

  static List<List<Object>> tps(Collection<TopicPartition> tps, Map<String, String> toScenario) {
    List<List<Object>> out = new ArrayList<>();
    for (TopicPartition tp : sorted(tps)) {
      if (toScenario.containsKey(tp.topic())) {
        out.add(List.of(toScenario.get(tp.topic()), tp.partition()));
      }
    }
    return out;
  }

  /** Records the consumer's commits (auto-commit has no callback of its own). */
  public static final class CommitRecorder
      implements org.apache.kafka.clients.consumer.ConsumerInterceptor<byte[], byte[]> {
    static volatile String group;
    static volatile Map<String, String> toScenario = Map.of();
    static volatile int generation = 0;

    @Override
    public org.apache.kafka.clients.consumer.ConsumerRecords<byte[], byte[]> onConsume(
        org.apache.kafka.clients.consumer.ConsumerRecords<byte[], byte[]> records) {
      return records;
    }

    @Override
    public void onCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {
      List<List<Object>> listed = new ArrayList<>();
      for (TopicPartition tp : sorted(offsets.keySet())) {
        if (toScenario.containsKey(tp.topic())) {
          listed.add(List.of(toScenario.get(tp.topic()), tp.partition(), offsets.get(tp).offset()));
        }
      }
      if (!listed.isEmpty()) {
        emit("commit", null, "group", group, "generation", generation, "offsets", listed);
      }
    }

    @Override
    public void close() {}

    @Override
    public void configure(Map<String, ?> configs) {}
  }

  /**
   * Every record of each TOPIC:PARTITIONS from the start of its log to its end, one JSON line
   * each on standard output: topic, partition, offset, record (its ksim-id).
   */
  static void readBack(String bootstrap, int timeoutS, String[] topics) throws Exception {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      List<TopicPartition> all = new ArrayList<>();
      for (String t : topics) {
        int colon = t.lastIndexOf(':');
        for (int q = 0; q < Integer.parseInt(t.substring(colon + 1)); q++) {
          all.add(new TopicPartition(t.substring(0, colon), q));
        }
      }
      consumer.assign(all);
      consumer.seekToBeginning(all);
      Map<TopicPartition, Long> ends = consumer.endOffsets(all);
      long deadline = System.currentTimeMillis() + timeoutS * 3000L;
      while (System.currentTimeMillis() < deadline) {
        boolean done = true;
        for (TopicPartition tp : all) done &= consumer.position(tp) >= ends.get(tp);
        if (done) break;
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          Header id = r.headers().lastHeader(ID_HEADER);
          if (id == null) continue;
          Map<String, Object> line = new LinkedHashMap<>();
          line.put("topic", r.topic());
          line.put("partition", r.partition());
          line.put("offset", r.offset());
          line.put("record", new String(id.value(), StandardCharsets.US_ASCII));
          synchronized (Client.class) {
            System.out.println(JSON.writeValueAsString(line));
          }
        }
      }
    }
    System.out.flush();
  }

  static int admin(String[] args) throws Exception {
    String action = args[0];
    String bootstrap = args[1];
    int timeoutS = Integer.parseInt(args[2]);
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("request.timeout.ms", Integer.toString(timeoutS * 1000));
    p.put("default.api.timeout.ms", Integer.toString(timeoutS * 1000));
    try (Admin admin = Admin.create(p)) {
      List<String> names = new ArrayList<>();
      if (action.equals("create")) {
        List<NewTopic> topics = new ArrayList<>();
        for (int i = 3; i < args.length; i++) {
          // NAME:PARTITIONS, or NAME:PARTITIONS:REPLICAS:CONFIGS (replicas 1,2,3/2,3,1 per
          // partition; configs k=v;k=v) for a cluster
          String[] parts = args[i].split(":");
          names.add(parts[0]);
          if (parts.length == 4) {
            Map<Integer, List<Integer>> assignment = new LinkedHashMap<>();
            String[] perPartition = parts[2].split("/");
            for (int q = 0; q < perPartition.length; q++) {
              List<Integer> replicas = new ArrayList<>();
              for (String b : perPartition[q].split(",")) replicas.add(Integer.parseInt(b));
              assignment.put(q, replicas);
            }
            Map<String, String> configs = new LinkedHashMap<>();
            for (String kv : parts[3].split(";")) {
              if (!kv.isEmpty()) configs.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
            }
            topics.add(new NewTopic(parts[0], assignment).configs(configs));
          } else {
            topics.add(new NewTopic(parts[0], Integer.parseInt(parts[1]), (short) 1));
          }
        }
        try {
          admin.createTopics(topics).all().get(timeoutS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
          say("no broker answered within " + timeoutS + " s");
          return 3;
        } catch (ExecutionException e) {
          if (e.getCause() instanceof org.apache.kafka.common.errors.TimeoutException) {
            say("no broker answered within " + timeoutS + " s: " + e.getCause().getMessage());
            return 3;
          }
          throw e;
        }
        long deadline = System.currentTimeMillis() + timeoutS * 1000L;
        while (true) {
          boolean ready = true;
          try {
            for (TopicDescription d : admin.describeTopics(names).allTopicNames().get().values()) {
              for (TopicPartitionInfo pi : d.partitions()) {
                ready &= pi.leader() != null && !pi.leader().isEmpty();
              }
            }
          } catch (ExecutionException e) {
            ready = false;
          }
          if (ready) break;
          if (System.currentTimeMillis() > deadline) {
            say("the new topics got no leaders in time");
            return 1;
          }
          Thread.sleep(50);
        }
      } else if (action.equals("readback")) {
        readBack(bootstrap, timeoutS, java.util.Arrays.copyOfRange(args, 3, args.length));
      } else if (action.equals("delete")) {
        for (int i = 3; i < args.length; i++) names.add(args[i]);
        admin.deleteTopics(names).all().get(timeoutS, TimeUnit.SECONDS);
      } else {
        say("unknown admin action " + action);
        return 4;
      }
    }
    return 0;
  }

  public static void main(String[] args) throws Exception {
    String role = args.length > 0 ? args[0] : "";
    int code = 0;
    try {
      if (role.equals("admin")) {
        String[] rest = new String[args.length - 1];
        System.arraycopy(args, 1, rest, 0, rest.length);
        code = admin(rest);
      } else {
        BufferedReader in =
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        JsonNode spec = JSON.readTree(in.readLine());
        stdinLines = in;
        if (role.equals("producer")) {
          produce(spec);
        } else if (role.equals("consumer")) {
          // the rest of standard input is read by the consumer's watcher
          System.setIn(new java.io.InputStream() {
            @Override
            public int read() throws java.io.IOException {
              return in.read();
            }
          });
          consume(spec);
        } else {
          say("usage: Client producer|consumer|admin ...");
          code = 4;
        }
      }
    } catch (Unsupported e) {
      say(e.getMessage());
      code = 4;
    }
    System.exit(code);
  }
}
