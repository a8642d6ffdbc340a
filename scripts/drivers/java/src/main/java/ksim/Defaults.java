package ksim;

import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;

/**
 * Prints the settings kafka-clients resolves for a consumer of group {@code g} and for a
 * producer given nothing but a bootstrap address and serializers: one {@code consumer KEY
 * VALUE} or {@code producer KEY VALUE} line per setting, sorted. tests/profile_defaults.rs
 * compares them with the java profile's defaults. Nothing connects anywhere.
 */
public final class Defaults {
    private Defaults() {}

    public static void main(String[] args) {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:9");
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "g");
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.StringDeserializer");
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.StringDeserializer");
        print("consumer", new ConsumerConfig(c).values());
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:9");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.StringSerializer");
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.StringSerializer");
        print("producer", new ProducerConfig(p).values());
    }

    private static void print(String who, Map<String, ?> values) {
        for (Map.Entry<String, ?> e : new TreeMap<String, Object>(values).entrySet()) {
            Object v = e.getValue();
            String s;
            if (v instanceof java.util.List) {
                StringBuilder b = new StringBuilder();
                for (Object o : (java.util.List<?>) v) {
                    if (b.length() > 0) b.append(',');
                    b.append(o instanceof Class ? ((Class<?>) o).getName() : String.valueOf(o));
                }
                s = b.toString();
            } else if (v instanceof Class) {
                s = ((Class<?>) v).getName();
            } else {
                s = String.valueOf(v);
            }
            System.out.println(who + " " + e.getKey() + " " + s.replace('\n', ' '));
        }
    }
}
