// The assignor oracle: answers each case (one JSON object per line on stdin) with the
// assignment Apache Kafka's own classes compute, one line per case on stdout:
//   [[[topic, partition], ...], ...]   partitions per member, members in the case's order
//   {"error": "..."}                   when the Kafka class throws
// A case: {"assignor": "range" | "roundrobin" | "sticky" | "cooperative-sticky" | "uniform"
//          | "server-range", "topics": [{"name", "msb", "lsb", "partitions"}],
//          "members": [{"id", "instance", "topics": [index], "owned": [[topic, partition]],
//          "generation"}]}.
// Members go into the group's HashMap in the case's order, as the leader (classic) or the
// coordinator (KIP-848) fills it; owned partitions into a member's map in their order.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.*;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.GroupSubscription;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Subscription;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.clients.consumer.StickyAssignor;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.coordinator.group.api.assignor.ConsumerGroupPartitionAssignor;
import org.apache.kafka.coordinator.group.api.assignor.GroupAssignment;
import org.apache.kafka.coordinator.group.api.assignor.MemberAssignment;
import org.apache.kafka.coordinator.group.api.assignor.SubscribedTopicDescriber;
import org.apache.kafka.coordinator.group.api.assignor.SubscriptionType;
import org.apache.kafka.coordinator.group.assignor.UniformAssignor;
import org.apache.kafka.coordinator.group.modern.Assignment;
import org.apache.kafka.coordinator.group.modern.GroupSpecImpl;
import org.apache.kafka.coordinator.group.modern.MemberSubscriptionAndAssignmentImpl;

public final class AssignorOracle {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            JsonNode c = JSON.readTree(line);
            String answer;
            try {
                answer = JSON.writeValueAsString(answer(c));
            } catch (Exception e) {
                StackTraceElement at = e.getStackTrace().length > 0 ? e.getStackTrace()[0] : null;
                String where = at == null ? "" : " at " + at.getClassName() + "." + at.getMethodName();
                answer = JSON.writeValueAsString(Map.of("error", e.getClass().getSimpleName() + where));
            }
            out.println(answer);
        }
        out.flush();
    }

    private static List<List<int[]>> answer(JsonNode c) {
        String kind = c.get("assignor").asText();
        List<String> names = new ArrayList<>();
        List<Uuid> ids = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        for (JsonNode t : c.get("topics")) {
            names.add(t.get("name").asText());
            ids.add(new Uuid(t.get("msb").asLong(), t.get("lsb").asLong()));
            counts.add(t.get("partitions").asInt());
        }
        List<JsonNode> members = new ArrayList<>();
        c.get("members").forEach(members::add);
        Map<String, Map<Integer, Set<Integer>>> result;
        if (kind.equals("uniform") || kind.equals("server-range")) {
            result = server(kind, ids, counts, members);
        } else {
            result = classic(kind, names, counts, members);
        }
        List<List<int[]>> answer = new ArrayList<>();
        for (JsonNode m : members) {
            List<int[]> parts = new ArrayList<>();
            Map<Integer, Set<Integer>> mine = result.getOrDefault(m.get("id").asText(), Map.of());
            for (Map.Entry<Integer, Set<Integer>> e : new TreeMap<>(mine).entrySet())
                for (int p : new TreeSet<>(e.getValue())) parts.add(new int[] {e.getKey(), p});
            answer.add(parts);
        }
        return answer;
    }

    private static Map<String, Map<Integer, Set<Integer>>> classic(
            String kind, List<String> names, List<Integer> counts, List<JsonNode> members) {
        ConsumerPartitionAssignor assignor;
        switch (kind) {
            case "range": assignor = new RangeAssignor(); break;
            case "roundrobin": assignor = new RoundRobinAssignor(); break;
            case "sticky": assignor = new StickyAssignor(); break;
            case "cooperative-sticky": assignor = new CooperativeStickyAssignor(); break;
            default: throw new IllegalArgumentException(kind);
        }
        Node node = new Node(0, "localhost", 9092);
        List<PartitionInfo> partitions = new ArrayList<>();
        for (int t = 0; t < names.size(); t++)
            for (int p = 0; p < counts.get(t); p++)
                partitions.add(new PartitionInfo(names.get(t), p, node, new Node[] {node}, new Node[] {node}));
        Cluster cluster = new Cluster("cluster", List.of(node), partitions, Set.of(), Set.of());
        Map<String, Subscription> subscriptions = new HashMap<>();
        for (JsonNode m : members) {
            String id = m.get("id").asText();
            List<String> topics = new ArrayList<>();
            for (JsonNode t : m.get("topics")) topics.add(names.get(t.asInt()));
            List<TopicPartition> owned = new ArrayList<>();
            for (JsonNode tp : m.get("owned")) owned.add(new TopicPartition(names.get(tp.get(0).asInt()), tp.get(1).asInt()));
            int generation = m.get("generation").asInt();
            Optional<String> instance = m.get("instance").isNull() ? Optional.empty() : Optional.of(m.get("instance").asText());
            Subscription s;
            if (kind.equals("sticky")) {
                // eager: the previous assignment travels in the assignor's user data
                ByteBuffer userData = null;
                if (generation >= 0) {
                    StickyAssignor previous = new StickyAssignor();
                    previous.onAssignment(new ConsumerPartitionAssignor.Assignment(owned),
                            new ConsumerGroupMetadata("group", generation, id, instance));
                    userData = previous.subscriptionUserData(new HashSet<>(topics));
                }
                s = new Subscription(topics, userData, List.of(), generation, Optional.empty());
            } else {
                s = new Subscription(topics, null, owned, generation, Optional.empty());
            }
            s.setGroupInstanceId(instance);
            subscriptions.put(id, s);
        }
        Map<String, ConsumerPartitionAssignor.Assignment> got =
                assignor.assign(cluster, new GroupSubscription(subscriptions)).groupAssignment();
        Map<String, Map<Integer, Set<Integer>>> result = new HashMap<>();
        for (Map.Entry<String, ConsumerPartitionAssignor.Assignment> e : got.entrySet()) {
            Map<Integer, Set<Integer>> mine = new HashMap<>();
            for (TopicPartition tp : e.getValue().partitions()) {
                int t = names.indexOf(tp.topic());
                if (!mine.computeIfAbsent(t, k -> new HashSet<>()).add(tp.partition()))
                    throw new IllegalStateException("partition assigned twice to one member: " + tp);
            }
            result.put(e.getKey(), mine);
        }
        return result;
    }

    private static Map<String, Map<Integer, Set<Integer>>> server(
            String kind, List<Uuid> ids, List<Integer> counts, List<JsonNode> members) {
        ConsumerGroupPartitionAssignor assignor = kind.equals("uniform")
                ? new UniformAssignor()
                : new org.apache.kafka.coordinator.group.assignor.RangeAssignor();
        Map<String, MemberSubscriptionAndAssignmentImpl> specs = new HashMap<>();
        Map<Uuid, Map<Integer, String>> inverted = new HashMap<>();
        Set<Set<Uuid>> distinct = new HashSet<>();
        for (JsonNode m : members) {
            String id = m.get("id").asText();
            Set<Uuid> topics = new HashSet<>();
            for (JsonNode t : m.get("topics")) topics.add(ids.get(t.asInt()));
            distinct.add(topics);
            Map<Uuid, Set<Integer>> owned = new HashMap<>();
            for (JsonNode tp : m.get("owned")) {
                Uuid topic = ids.get(tp.get(0).asInt());
                owned.computeIfAbsent(topic, k -> new HashSet<>()).add(tp.get(1).asInt());
                inverted.computeIfAbsent(topic, k -> new HashMap<>()).put(tp.get(1).asInt(), id);
            }
            Optional<String> instance = m.get("instance").isNull() ? Optional.empty() : Optional.of(m.get("instance").asText());
            specs.put(id, new MemberSubscriptionAndAssignmentImpl(Optional.empty(), instance, topics,
                    new Assignment(Collections.unmodifiableMap(owned))));
        }
        SubscriptionType type = distinct.size() <= 1 ? SubscriptionType.HOMOGENEOUS : SubscriptionType.HETEROGENEOUS;
        SubscribedTopicDescriber describer = new SubscribedTopicDescriber() {
            @Override
            public int numPartitions(Uuid topicId) {
                int i = ids.indexOf(topicId);
                return i < 0 ? -1 : counts.get(i);
            }

            @Override
            public Set<String> racksForPartition(Uuid topicId, int partition) {
                return Set.of();
            }
        };
        GroupAssignment got = assignor.assign(new GroupSpecImpl(specs, type, inverted), describer);
        Map<String, Map<Integer, Set<Integer>>> result = new HashMap<>();
        for (Map.Entry<String, MemberAssignment> e : got.members().entrySet()) {
            Map<Integer, Set<Integer>> mine = new HashMap<>();
            for (Map.Entry<Uuid, Set<Integer>> t : e.getValue().partitions().entrySet())
                mine.put(ids.indexOf(t.getKey()), new HashSet<>(t.getValue()));
            result.put(e.getKey(), mine);
        }
        return result;
    }
}
