// A consumer-group member written with the Java client, for interop tests: subscribes to one
// topic in a group and prints what it is assigned and what it reads, until its stdin closes.
//
// Usage: GroupConsumer BOOTSTRAP TOPIC GROUP ASSIGNOR_CLASS GROUP_PROTOCOL
// Output lines: `assigned P,P,...`, `revoked P,...`, `lost P,...`, `record P OFFSET VALUE`,
// and `closed` at the end. Offsets are committed after every poll.
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.serialization.StringDeserializer;

public final class GroupConsumer {
    private static String parts(Collection<TopicPartition> ps) {
        return ps.stream().map(tp -> Integer.toString(tp.partition())).sorted().collect(Collectors.joining(","));
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, args[2]);
        props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, args[4]);
        if (args[4].equals("classic")) {
            props.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, args[3]);
            props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000");
            props.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
        }
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        AtomicBoolean stop = new AtomicBoolean(false);
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) { }
            } catch (Exception e) {
                // closed
            }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(args[1]), new ConsumerRebalanceListener() {
                public void onPartitionsRevoked(Collection<TopicPartition> ps) {
                    consumer.commitSync();
                    System.out.println("revoked " + parts(ps));
                    System.out.flush();
                }
                public void onPartitionsAssigned(Collection<TopicPartition> ps) {
                    System.out.println("assigned " + parts(ps));
                    System.out.flush();
                }
                public void onPartitionsLost(Collection<TopicPartition> ps) {
                    System.out.println("lost " + parts(ps));
                    System.out.flush();
                }
            });
            while (!stop.get()) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                    System.out.println("record " + r.partition() + " " + r.offset() + " " + r.value());
                }
                System.out.flush();
                try {
                    consumer.commitSync();
                } catch (RebalanceInProgressException | CommitFailedException e) {
                    // A rebalance started since this poll: the next poll joins it, and the
                    // records of a partition this member loses are read again by their new owner.
                }
            }
        }
        System.out.println("closed");
        System.out.flush();
    }
}
